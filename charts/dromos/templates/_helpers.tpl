{{- define "dromos.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dromos.serviceAccountName" -}}
{{- default (include "dromos.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "dromos.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dromos.labels" -}}
{{ include "dromos.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
Namespaces of namespaced mode as a JSON list: the release namespace, then watchNamespaces.
*/}}
{{- define "dromos.watchNamespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range .Values.watchNamespaces }}{{- if not (has . $all) }}{{- $all = append $all . -}}{{- end }}{{- end -}}
{{- toJson $all -}}
{{- end -}}

{{/*
The controller's image.
*/}}
{{- define "dromos.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
Pod settings the controller's pods and the CRD hook's share: network, security context,
pull secrets, node selection and tolerations.
*/}}
{{- define "dromos.podCommon" -}}
{{- if .Values.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
securityContext:
  runAsNonRoot: true
  seccompProfile: {type: RuntimeDefault}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
An emptyDir source (flow style) with the size limit given, or none when empty.
*/}}
{{- define "dromos.emptyDir" -}}
{{- if . }}{sizeLimit: {{ . | quote }}}{{ else }}{}{{ end -}}
{{- end -}}

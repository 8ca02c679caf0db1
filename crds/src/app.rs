//! The App resource: a long-running service described with Marathon's app fields.

use crate::common::{DockerSpec, EnvValue, FetchUri, Labels, SecretSource};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A service, written with the fields of a Marathon app definition (or, with `containers`,
/// a Marathon pod). Field names, types and defaults are Marathon's; defaults are applied when
/// the App is rendered, so what is stored is what the user wrote.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "App",
    plural = "apps",
    shortname = "dapp",
    category = "dromos",
    namespaced,
    status = "AppStatus",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Instances","type":"integer","jsonPath":".spec.instances"}"#,
    printcolumn = r#"{"name":"Running","type":"integer","jsonPath":".status.running"}"#,
    printcolumn = r#"{"name":"Healthy","type":"integer","jsonPath":".status.healthy"}"#,
    printcolumn = r#"{"name":"Unhealthy","type":"integer","jsonPath":".status.unhealthy","priority":1}"#,
    printcolumn = r#"{"name":"Staged","type":"integer","jsonPath":".status.staged","priority":1}"#,
    printcolumn = r#"{"name":"CPUs","type":"number","jsonPath":".spec.cpus","priority":1}"#,
    printcolumn = r#"{"name":"Mem","type":"number","jsonPath":".spec.mem","priority":1}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"Deployment","type":"string","jsonPath":".status.deployment.progress","priority":1}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.cmd) && has(self.args))", "message": "cmd and args are mutually exclusive", "fieldPath": ".args", "reason": "FieldValueForbidden"},
    {"rule": "!has(self.args) || (has(self.container) && has(self.container.docker))", "message": "args needs a container image (container.docker.image) to pass them to", "fieldPath": ".args", "reason": "FieldValueInvalid"},
    {"rule": "has(self.cmd) || has(self.args) || (has(self.container) && has(self.container.docker)) || (has(self.containers) && size(self.containers) > 0)", "message": "an App needs cmd, args, a container image or containers", "reason": "FieldValueRequired"},
    {"rule": "!(has(self.containers) && size(self.containers) > 0) || !(has(self.cmd) || has(self.args) || has(self.container))", "message": "containers (the pod form) is mutually exclusive with cmd, args and container", "fieldPath": ".containers", "reason": "FieldValueForbidden"},
    {"rule": "!has(self.ports) || !has(self.portDefinitions)", "message": "ports is the deprecated form of portDefinitions: give one of them", "fieldPath": ".ports", "reason": "FieldValueForbidden"}
]))]
pub struct AppSpec {
    /// Marathon id, e.g. `/shop/web/frontend`. Optional; when given it must map to this
    /// object's namespace and name (first segment = namespace, the rest joined by `-` = name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Shell command, run with `/bin/sh -c`. Mutually exclusive with `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// Command arguments passed to the image entrypoint. Mutually exclusive with `cmd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// The container: image, port mappings and volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<AppContainer>,
    /// Marathon pod form: several containers sharing one network and lifecycle. Mutually
    /// exclusive with `cmd`, `args` and `container`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<PodContainer>,
    /// Pod-form volumes, mounted by containers through `volumeMounts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<PodVolume>,
    /// Number of instances. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub instances: Option<i32>,
    /// CPU shares per instance. Default 1, minimum 0.001.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cpus: Option<f64>,
    /// Memory per instance in MiB. Default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub mem: Option<f64>,
    /// Scratch disk per instance in MiB. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub disk: Option<f64>,
    /// GPUs per instance, whole numbers. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub gpus: Option<f64>,
    /// Limits above the requested resources: a number or "unlimited".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    /// Networks: `host` (default), `container` (named) or `container/bridge`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// Ports in host networking mode. When omitted Marathon adds one port named `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_definitions: Option<Vec<PortDefinition>>,
    /// Deprecated Marathon form of `portDefinitions`: a list of port numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<i32>>,
    /// Host ports must be exactly the ones given. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_ports: Option<bool>,
    /// Environment variables: a string, or `{secret: NAME}` naming an entry of `secrets`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Secrets by name; referenced from `env` and secret volumes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Health checks; a failing one kills the instance after `maxConsecutiveFailures`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    /// Readiness checks (at most one): gate deployment steps, not traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readiness_checks: Vec<ReadinessCheck>,
    /// How a new version replaces the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_strategy: Option<UpgradeStrategy>,
    /// Ids of Apps (absolute or relative to this App's group) that must be deployed and
    /// healthy before this one starts or upgrades.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Initial restart delay in seconds. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_seconds: Option<f64>,
    /// Factor applied to the delay after each failed start. Default 1.15, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_factor: Option<f64>,
    /// Upper bound of the restart delay in seconds. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_launch_delay_seconds: Option<f64>,
    /// Which instances are killed first on scale-down: YOUNGEST_FIRST (default) or OLDEST_FIRST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_selection: Option<KillSelection>,
    /// What happens to instances on unreachable nodes: "disabled" or
    /// `{inactiveAfterSeconds, expungeAfterSeconds}` (default 0/0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_strategy: Option<UnreachableStrategy>,
    /// URIs downloaded into the sandbox before start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetch: Vec<FetchUri>,
    /// Deprecated Marathon form of `fetch`: plain URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    /// Seconds between SIGTERM and SIGKILL. Default 30 (Kubernetes' default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<f64>,
    /// Free-form labels, copied to the generated objects when they are valid Kubernetes labels
    /// and always available in `MARATHON_APP_LABELS`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// The Mesos role the App's resources come from. Nodes reserved for a role carry the
    /// taint and label `dromos.io/role=<role>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Roles whose resources the App accepts, e.g. `["slave_public"]`; `*` is unreserved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_resource_roles: Vec<String>,
    /// Placement constraints `[field, OPERATOR, value?]`; OPERATOR is one of UNIQUE, CLUSTER,
    /// GROUP_BY, LIKE, UNLIKE, MAX_PER, IS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "constraints_schema")]
    pub constraints: Vec<Vec<String>>,
    /// User the task runs as (numeric uid; names are reported as warnings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Who places the instances: `exact` (default) the Dromos scheduler, which holds every
    /// Marathon constraint exactly against offers; `native` kube-scheduler with the constraints
    /// compiled to node affinity and topology spread (some approximated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_mode: Option<PlacementMode>,
}

/// `placementMode`: which scheduler places an App's instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlacementMode {
    /// The Dromos scheduler (`schedulerName: dromos`): exact Marathon constraints, offers,
    /// decline reasons in the App status.
    #[default]
    Exact,
    /// kube-scheduler with the constraints compiled to affinity and topology spread.
    Native,
}

/// The container of a single-container App.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppContainer {
    /// DOCKER (default) or MESOS. Both run the image with the container runtime.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ContainerType>,
    /// The image and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerSpec>,
    /// Ports of the container in container or bridge networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    /// Volumes: host paths, persistent volumes, external volumes and secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<AppVolume>,
}

/// Container runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContainerType {
    /// Docker containerizer.
    Docker,
    /// Mesos universal containerizer.
    Mesos,
}

/// A port of the container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// Port inside the container. 0 means the same as the host port. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// Port on the node; 0 picks a free one, absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    /// Service port (Marathon-LB). Kept for reference; Services use `containerPort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_port: Option<i32>,
    /// `tcp` (default), `udp` or `udp,tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port name, used by `PORT_<NAME>`, readiness checks and the generated Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Port labels; `VIP_n: name:port` exposes the port under that service address.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Networks this mapping applies to (container networks only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_names: Vec<String>,
}

/// A port in host networking mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortDefinition {
    /// Port number; 0 picks a free one. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Port name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `tcp` (default), `udp` or `udp,tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port labels; `VIP_n: name:port` exposes the port under that service address.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

/// A volume of a single-container App.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppVolume {
    /// Mount path in the container (relative paths are relative to the sandbox).
    pub container_path: String,
    /// Host path for host volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// RW (default) or RO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// A persistent volume: the App becomes a StatefulSet with a volume claim per instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<PersistentVolume>,
    /// An external volume (e.g. DVDI/REX-Ray); rendered as a volume claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalVolume>,
    /// Name of an entry in `secrets` mounted as a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Persistent local volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolume {
    /// Size in MiB.
    pub size: f64,
    /// root (default), path or mount. Informational.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Upper bound in MiB for mount disks. Informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<f64>,
    /// Storage class for the claim (Dromos extension). Default: the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// External volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalVolume {
    /// Volume name.
    pub name: String,
    /// Volume provider, e.g. `dvdi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Size in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<f64>,
    /// Provider options; `dvdi/driver` etc. Informational.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: Labels,
}

/// A container of a pod-form App (Marathon pods).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodContainer {
    /// Container name, unique in the App.
    pub name: String,
    /// Resources of this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<PodResources>,
    /// Resource limits of this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    /// The image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PodImage>,
    /// The command: `{command: {shell: "..."}}` or `{command: {argv: [...]}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<PodExec>,
    /// Named ports of this container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<PodEndpoint>,
    /// Environment of this container (merged over nothing; pods have no shared env here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, EnvValue>,
    /// Health check of this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<PodHealthCheck>,
    /// Mounts of pod volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<PodVolumeMount>,
    /// Artifacts fetched before start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<FetchUri>,
    /// Labels of the container. Informational.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

/// Resources of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodResources {
    /// CPU shares. Default 1 is not applied: pod containers must say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<f64>,
    /// Disk in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<f64>,
    /// Whole GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<f64>,
}

/// Image of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodImage {
    /// DOCKER (default) or APPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Image reference.
    pub id: String,
    /// Pull on every start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull: Option<bool>,
}

/// Command of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodExec {
    /// The command.
    pub command: PodCommand,
}

/// `shell` or `argv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodCommand {
    /// Run with `/bin/sh -c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Run these arguments directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
}

/// A named port of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodEndpoint {
    /// Endpoint name.
    pub name: String,
    /// Port inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// Port on the node; 0 picks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    /// Protocols, e.g. `["tcp"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocol: Vec<String>,
    /// Endpoint labels (`VIP_n`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

/// Health check of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodHealthCheck {
    /// HTTP check against an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<PodHttpCheck>,
    /// TCP check against an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<PodTcpCheck>,
    /// Command check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<PodExec>,
    /// Seconds before failures count. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Seconds between checks. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    /// Consecutive failures before the instance is killed. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<i32>,
    /// Check timeout in seconds. Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Seconds before the first check. Default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i32>,
}

/// HTTP check of a pod endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodHttpCheck {
    /// Endpoint name.
    pub endpoint: String,
    /// Path. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP or HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

/// TCP check of a pod endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTcpCheck {
    /// Endpoint name.
    pub endpoint: String,
}

/// A pod-level volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodVolume {
    /// Volume name, referenced by `volumeMounts`.
    pub name: String,
    /// Host path; absent means an ephemeral volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Persistent volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<PersistentVolume>,
    /// Secret (name in `secrets`) mounted as files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Where a container mounts a pod volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeMount {
    /// Name of a pod volume.
    pub name: String,
    /// Mount path.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A resource limit: a number or "unlimited".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResourceLimit {
    /// An upper bound.
    Value(f64),
    /// The literal string "unlimited" (any other string is rejected by validation).
    Word(String),
}

impl JsonSchema for ResourceLimit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ResourceLimit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number, or \"unlimited\".",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

/// `resourceLimits`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLimits {
    /// CPU limit, at least `cpus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<ResourceLimit>,
    /// Memory limit in MiB, at least `mem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<ResourceLimit>,
}

/// A network the App joins.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// `host`, `container` or `container/bridge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Network name (container mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Network labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

/// A Marathon health check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// HTTP (default), HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS or MESOS_TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<HealthProtocol>,
    /// HTTP path. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Index into the App's ports. Default 0. Mutually exclusive with `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_index: Option<i32>,
    /// A fixed port number. Mutually exclusive with `portIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Command for COMMAND checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
    /// Seconds after start during which failures are ignored. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Seconds between checks. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    /// Seconds before a check counts as failed. Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Failures in a row before the instance is killed; 0 never kills. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<i32>,
    /// Seconds before the first check (MESOS_* checks). Default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i32>,
    /// Treat 1xx responses as passing. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_http1xx: Option<bool>,
    /// IPv4 (default) or IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<String>,
}

/// Health check protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum HealthProtocol {
    /// HTTP, passing on 200-399.
    HTTP,
    /// HTTPS, passing on 200-399.
    HTTPS,
    /// TCP connect.
    TCP,
    /// A command exiting 0.
    COMMAND,
    /// HTTP checked on the node.
    #[serde(rename = "MESOS_HTTP")]
    MesosHttp,
    /// HTTPS checked on the node.
    #[serde(rename = "MESOS_HTTPS")]
    MesosHttps,
    /// TCP checked on the node.
    #[serde(rename = "MESOS_TCP")]
    MesosTcp,
}

/// Command of a COMMAND health check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandCheck {
    /// Shell command; exit code 0 means healthy.
    pub value: String,
}

/// A Marathon readiness check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    /// Check name. Default `readinessCheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP (default) or HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Path. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Name of the port to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    /// Seconds between checks. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    /// Seconds before a check fails; must be below the interval. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Status codes meaning ready. Default [200].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status_codes_for_ready: Option<Vec<i32>>,
    /// Keep the last response in status. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_last_response: Option<bool>,
}

/// How a new version replaces the old one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    /// Fraction of instances that must stay healthy during an upgrade, in [0,1]. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub minimum_health_capacity: Option<f64>,
    /// Fraction of extra instances allowed during an upgrade, in [0,1]. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub maximum_over_capacity: Option<f64>,
}

/// Scale-down order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSelection {
    /// Kill the newest instances first (default).
    YoungestFirst,
    /// Kill the oldest instances first.
    OldestFirst,
}

/// `unreachableStrategy`: "disabled" or the two timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UnreachableStrategy {
    /// The literal "disabled": instances on unreachable nodes are never replaced.
    Word(String),
    /// Timeouts.
    Timeouts(UnreachableTimeouts),
}

/// Timeouts of `unreachableStrategy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnreachableTimeouts {
    /// Seconds before an unreachable instance is replaced. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_after_seconds: Option<i64>,
    /// Seconds before an unreachable instance is forgotten. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expunge_after_seconds: Option<i64>,
}

impl JsonSchema for UnreachableStrategy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UnreachableStrategy".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "\"disabled\", or {inactiveAfterSeconds, expungeAfterSeconds}.",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

fn constraints_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Placement constraints [field, OPERATOR, value?].",
        "type": "array",
        "maxItems": 64,
        "items": {
            "type": "array",
            "items": {"type": "string", "maxLength": 1024},
            "minItems": 2,
            "maxItems": 3,
            "x-kubernetes-validations": [
                {"rule": "self[1] in ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS']", "message": "the operator (second element) must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS"},
                {"rule": "!(self[1] in ['LIKE', 'UNLIKE', 'MAX_PER', 'IS']) || size(self) == 3", "message": "LIKE, UNLIKE, MAX_PER and IS need a value (third element)"},
                {"rule": "self[1] != 'UNIQUE' || size(self) == 2", "message": "UNIQUE takes no value"}
            ]
        }
    })
}

/// Observed state of an App, in Marathon's terms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// observedGeneration and conditions.
    #[serde(flatten)]
    pub common: crate::CommonStatus,
    /// Instances wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    /// Instances created but not yet running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<i32>,
    /// Instances running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<i32>,
    /// Instances passing their health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<i32>,
    /// Instances failing their health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy: Option<i32>,
    /// Version (hash of the spec) of the last completed deployment: what the instances run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// One word, as the Marathon UI showed it: Running, Deploying, Waiting, Delayed,
    /// Suspended, Stalled or Deleting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The deployment in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<AppDeployment>,
    /// The last deployment that finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment: Option<AppDeployment>,
    /// The last restart requested with `dromos app restart` that was rolled out (the value of
    /// the `dromos.io/restart` annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    /// Problems of the spec found by the operator (the API server cannot check them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What the App waits for, e.g. `waiting for shop/db: 1 of 3 healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Why pending instances cannot be placed (exact placement mode). Written by the Dromos
    /// scheduler only; the App operator carries it over and never writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<PlacementStatus>,
}

/// The Dromos scheduler's view of an App's pending instances, as Marathon's launch queue showed
/// it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStatus {
    /// Instances waiting for an offer that fits.
    pub waiting: i64,
    /// Summary, e.g. `2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Offers declined in the last placement attempt, per reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub declined: BTreeMap<String, i64>,
}

/// A deployment of an App: a change of version, a scale or a restart being rolled out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppDeployment {
    /// The version being deployed (hash of the spec).
    pub version: String,
    /// The restart being rolled out (`dromos.io/restart` annotation), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Create, Upgrade, Scale, Restart or Recovery (instances lost and replaced).
    pub reason: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339), for a completed deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Progress, e.g. `2 of 3 instances at the new version, 2 healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// What the deployment waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Succeeded or Superseded, for a completed deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

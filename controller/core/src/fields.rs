//! What Dromos does with every field a CRD schema accepts (pure data and its rendering).
//!
//! A field the API server and `dromos validate` accept must do something, be refused, or say
//! why it has no effect: [`FIELDS`] holds one decision per leaf field of every spec, and a test
//! walks the CRD schemas ([`dromos_crds::crds`]) so that a field added without a decision, or a
//! decision left for a field that is gone, fails the build's tests. Status fields and the
//! fields of [`WRITTEN_KINDS`] are written by Dromos itself. `dromos crds` renders the table
//! into `docs/reference/fields.md`.

use serde_json::Value;
use std::fmt::Write;

/// What Dromos does with a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    /// Becomes part of the native objects the kind renders to (`dromos render` shows it).
    Rendered,
    /// Read by a controller, which acts on it as said.
    Used(&'static str),
    /// Accepted by the schema and refused by validation (`unsupported-field`), with the reason
    /// in the diagnostic; kept in the schema so the error names the field instead of calling
    /// it unknown.
    Refused,
    /// Accepted and kept, without effect on Kubernetes, for the reason given.
    NoEffect(&'static str),
}

impl Handling {
    fn describe(self) -> String {
        match self {
            Handling::Rendered => "rendered".into(),
            Handling::Used(what) => format!("used: {what}"),
            Handling::Refused => "refused by validation (`unsupported-field`)".into(),
            Handling::NoEffect(why) => format!("no effect: {why}"),
        }
    }
}

/// Kinds whose spec Dromos writes (the scheduler publishes Offers); users do not.
pub const WRITTEN_KINDS: &[&str] = &["Offer"];

/// `(kind, leaf path, handling)`. A path names array items `[]` and map values `*`, as
/// [`schema_leaves`] does.
pub const FIELDS: &[(&str, &str, Handling)] = {
    use Handling::*;
    &[
        ("App", "spec.acceptedResourceRoles", Rendered),
        ("App", "spec.args", Rendered),
        ("App", "spec.backoffFactor", Refused),
        ("App", "spec.backoffSeconds", Refused),
        ("App", "spec.cmd", Rendered),
        ("App", "spec.constraints", Used("the Dromos scheduler (exact mode) or node affinity (native mode)")),
        ("App", "spec.container.docker.forcePullImage", Rendered),
        ("App", "spec.container.docker.image", Rendered),
        ("App", "spec.container.docker.parameters[].key", NoEffect("no Kubernetes equivalent; `dromos render` warns")),
        (
            "App",
            "spec.container.docker.parameters[].value",
            NoEffect("no Kubernetes equivalent; `dromos render` warns"),
        ),
        ("App", "spec.container.docker.privileged", Rendered),
        ("App", "spec.container.docker.pullConfig.secret", Rendered),
        ("App", "spec.container.portMappings[].containerPort", Rendered),
        ("App", "spec.container.portMappings[].hostPort", Rendered),
        ("App", "spec.container.portMappings[].labels", Rendered),
        ("App", "spec.container.portMappings[].name", Rendered),
        (
            "App",
            "spec.container.portMappings[].networkNames",
            NoEffect("a pod has one network and every port is on it"),
        ),
        ("App", "spec.container.portMappings[].protocol", Rendered),
        (
            "App",
            "spec.container.portMappings[].servicePort",
            NoEffect("Marathon-LB's port; Services use containerPort"),
        ),
        (
            "App",
            "spec.container.type",
            NoEffect("the node's container runtime runs every image; DOCKER and MESOS run alike"),
        ),
        ("App", "spec.container.volumes[].containerPath", Rendered),
        ("App", "spec.container.volumes[].external.name", Rendered),
        (
            "App",
            "spec.container.volumes[].external.options",
            NoEffect(
                "the claim `external.name` is mounted; provider, options and size belong to the volume behind that claim",
            ),
        ),
        (
            "App",
            "spec.container.volumes[].external.provider",
            NoEffect(
                "the claim `external.name` is mounted; provider, options and size belong to the volume behind that claim",
            ),
        ),
        (
            "App",
            "spec.container.volumes[].external.size",
            NoEffect(
                "the claim `external.name` is mounted; provider, options and size belong to the volume behind that claim",
            ),
        ),
        ("App", "spec.container.volumes[].hostPath", Rendered),
        ("App", "spec.container.volumes[].mode", Rendered),
        (
            "App",
            "spec.container.volumes[].persistent.maxSize",
            NoEffect("Mesos disk kinds; the claim's StorageClass chooses the disk"),
        ),
        ("App", "spec.container.volumes[].persistent.size", Rendered),
        ("App", "spec.container.volumes[].persistent.storageClass", Rendered),
        (
            "App",
            "spec.container.volumes[].persistent.type",
            NoEffect("Mesos disk kinds; the claim's StorageClass chooses the disk"),
        ),
        ("App", "spec.container.volumes[].secret", Rendered),
        (
            "App",
            "spec.containers[].artifacts[].cache",
            NoEffect("each pod downloads into its own sandbox; nothing is cached on the node"),
        ),
        ("App", "spec.containers[].artifacts[].destPath", Rendered),
        ("App", "spec.containers[].artifacts[].executable", Rendered),
        ("App", "spec.containers[].artifacts[].extract", Rendered),
        ("App", "spec.containers[].artifacts[].uri", Rendered),
        ("App", "spec.containers[].endpoints[].containerPort", Rendered),
        ("App", "spec.containers[].endpoints[].hostPort", Rendered),
        ("App", "spec.containers[].endpoints[].labels", Rendered),
        ("App", "spec.containers[].endpoints[].name", Rendered),
        ("App", "spec.containers[].endpoints[].protocol", Rendered),
        ("App", "spec.containers[].environment", Rendered),
        ("App", "spec.containers[].exec.command.argv", Rendered),
        ("App", "spec.containers[].exec.command.shell", Rendered),
        ("App", "spec.containers[].healthCheck.delaySeconds", Rendered),
        ("App", "spec.containers[].healthCheck.exec.command.argv", Rendered),
        ("App", "spec.containers[].healthCheck.exec.command.shell", Rendered),
        ("App", "spec.containers[].healthCheck.gracePeriodSeconds", Rendered),
        ("App", "spec.containers[].healthCheck.http.endpoint", Rendered),
        ("App", "spec.containers[].healthCheck.http.path", Rendered),
        ("App", "spec.containers[].healthCheck.http.scheme", Rendered),
        ("App", "spec.containers[].healthCheck.intervalSeconds", Rendered),
        ("App", "spec.containers[].healthCheck.maxConsecutiveFailures", Rendered),
        ("App", "spec.containers[].healthCheck.tcp.endpoint", Rendered),
        ("App", "spec.containers[].healthCheck.timeoutSeconds", Rendered),
        ("App", "spec.containers[].image.forcePull", Rendered),
        ("App", "spec.containers[].image.id", Rendered),
        (
            "App",
            "spec.containers[].image.kind",
            NoEffect("the container runtime pulls OCI/Docker images whatever the kind"),
        ),
        (
            "App",
            "spec.containers[].labels",
            NoEffect("containers have no labels on Kubernetes; pod labels come from `labels`"),
        ),
        ("App", "spec.containers[].name", Rendered),
        ("App", "spec.containers[].resourceLimits.cpus", Rendered),
        ("App", "spec.containers[].resourceLimits.mem", Rendered),
        ("App", "spec.containers[].resources.cpus", Rendered),
        ("App", "spec.containers[].resources.disk", Rendered),
        ("App", "spec.containers[].resources.gpus", Rendered),
        ("App", "spec.containers[].resources.mem", Rendered),
        ("App", "spec.containers[].volumeMounts[].mountPath", Rendered),
        ("App", "spec.containers[].volumeMounts[].name", Rendered),
        ("App", "spec.containers[].volumeMounts[].readOnly", Rendered),
        ("App", "spec.cpus", Rendered),
        ("App", "spec.dependencies", Used("the App operator: start and upgrade wait for them")),
        ("App", "spec.disk", Rendered),
        ("App", "spec.env", Rendered),
        (
            "App",
            "spec.fetch[].cache",
            NoEffect("each pod downloads into its own sandbox; nothing is cached on the node"),
        ),
        ("App", "spec.fetch[].destPath", Rendered),
        ("App", "spec.fetch[].executable", Rendered),
        ("App", "spec.fetch[].extract", Rendered),
        ("App", "spec.fetch[].uri", Rendered),
        ("App", "spec.gpus", Rendered),
        ("App", "spec.healthChecks[].command.value", Rendered),
        ("App", "spec.healthChecks[].delaySeconds", Rendered),
        ("App", "spec.healthChecks[].gracePeriodSeconds", Rendered),
        ("App", "spec.healthChecks[].ignoreHttp1xx", NoEffect("the kubelet's HTTP probe never ends on a 1xx response")),
        ("App", "spec.healthChecks[].intervalSeconds", Rendered),
        ("App", "spec.healthChecks[].ipProtocol", NoEffect("the kubelet probes the pod's IP, of the cluster's family")),
        ("App", "spec.healthChecks[].maxConsecutiveFailures", Rendered),
        ("App", "spec.healthChecks[].path", Rendered),
        ("App", "spec.healthChecks[].port", Rendered),
        ("App", "spec.healthChecks[].portIndex", Rendered),
        ("App", "spec.healthChecks[].protocol", Rendered),
        ("App", "spec.healthChecks[].timeoutSeconds", Rendered),
        ("App", "spec.id", Used("validated against the namespace and name it must map to")),
        ("App", "spec.instances", Rendered),
        ("App", "spec.killSelection", Rendered),
        ("App", "spec.labels", Rendered),
        ("App", "spec.maxLaunchDelaySeconds", Refused),
        ("App", "spec.mem", Rendered),
        (
            "App",
            "spec.networks[].labels",
            NoEffect("a pod joins the cluster's pod network; named Mesos networks and their labels have no pod field"),
        ),
        ("App", "spec.networks[].mode", Rendered),
        (
            "App",
            "spec.networks[].name",
            NoEffect("a pod joins the cluster's pod network; named Mesos networks and their labels have no pod field"),
        ),
        ("App", "spec.placementMode", Rendered),
        ("App", "spec.portDefinitions[].labels", Rendered),
        ("App", "spec.portDefinitions[].name", Rendered),
        ("App", "spec.portDefinitions[].port", Rendered),
        ("App", "spec.portDefinitions[].protocol", Rendered),
        ("App", "spec.ports", Rendered),
        ("App", "spec.readinessChecks[].httpStatusCodesForReady", Rendered),
        ("App", "spec.readinessChecks[].intervalSeconds", Rendered),
        (
            "App",
            "spec.readinessChecks[].name",
            NoEffect("one readiness check per App; the name only labelled it in Marathon's API"),
        ),
        ("App", "spec.readinessChecks[].path", Rendered),
        ("App", "spec.readinessChecks[].portName", Rendered),
        (
            "App",
            "spec.readinessChecks[].preserveLastResponse",
            NoEffect("responses are not kept; the pod's Ready condition and Events show failures"),
        ),
        ("App", "spec.readinessChecks[].protocol", Rendered),
        ("App", "spec.readinessChecks[].timeoutSeconds", Rendered),
        ("App", "spec.requirePorts", Rendered),
        ("App", "spec.resourceLimits.cpus", Rendered),
        ("App", "spec.resourceLimits.mem", Rendered),
        ("App", "spec.role", Rendered),
        ("App", "spec.secrets.*.source", Rendered),
        ("App", "spec.taskKillGracePeriodSeconds", Rendered),
        ("App", "spec.unreachableStrategy", Rendered),
        ("App", "spec.upgradeStrategy.maximumOverCapacity", Rendered),
        ("App", "spec.upgradeStrategy.minimumHealthCapacity", Rendered),
        ("App", "spec.uris", Rendered),
        ("App", "spec.user", Rendered),
        ("App", "spec.volumes[].host", Rendered),
        ("App", "spec.volumes[].name", Rendered),
        (
            "App",
            "spec.volumes[].persistent.maxSize",
            NoEffect("Mesos disk kinds; the claim's StorageClass chooses the disk"),
        ),
        ("App", "spec.volumes[].persistent.size", Rendered),
        ("App", "spec.volumes[].persistent.storageClass", Rendered),
        (
            "App",
            "spec.volumes[].persistent.type",
            NoEffect("Mesos disk kinds; the claim's StorageClass chooses the disk"),
        ),
        ("App", "spec.volumes[].secret", Rendered),
        ("GitSource", "spec.allowMassDelete", Used("the GitSource controller")),
        ("GitSource", "spec.defaultNamespace", Used("the GitSource controller")),
        ("GitSource", "spec.force", Used("the GitSource controller")),
        ("GitSource", "spec.interval", Used("the GitSource controller")),
        ("GitSource", "spec.maxDeleteFraction", Used("the GitSource controller")),
        ("GitSource", "spec.path", Used("the GitSource controller")),
        ("GitSource", "spec.prune", Used("the GitSource controller")),
        ("GitSource", "spec.ref.branch", Used("the GitSource controller")),
        ("GitSource", "spec.ref.commit", Used("the GitSource controller")),
        ("GitSource", "spec.ref.tag", Used("the GitSource controller")),
        ("GitSource", "spec.secretRef.name", Used("the GitSource controller")),
        ("GitSource", "spec.selfHeal", Used("the GitSource controller")),
        ("GitSource", "spec.serviceAccountName", Used("the GitSource controller")),
        ("GitSource", "spec.suspend", Used("the GitSource controller")),
        ("GitSource", "spec.url", Used("the GitSource controller")),
        ("Job", "spec.concurrent", Used("the Job controller: when runs start")),
        ("Job", "spec.dependencies[].id", Used("the Job controller: when runs start")),
        ("Job", "spec.description", NoEffect("a note for people, kept in the object")),
        ("Job", "spec.disabled", Used("the Job controller: when runs start")),
        ("Job", "spec.id", Used("validated against the namespace and name; METRONOME_JOB_ID of the runs")),
        ("Job", "spec.labels", Rendered),
        ("Job", "spec.parents", Used("the Job controller: when runs start")),
        ("Job", "spec.retries", Used("the Job controller: when runs start")),
        ("Job", "spec.run.args", Rendered),
        (
            "Job",
            "spec.run.artifacts[].cache",
            NoEffect("each pod downloads into its own sandbox; nothing is cached on the node"),
        ),
        ("Job", "spec.run.artifacts[].destPath", Rendered),
        ("Job", "spec.run.artifacts[].executable", Rendered),
        ("Job", "spec.run.artifacts[].extract", Rendered),
        ("Job", "spec.run.artifacts[].uri", Rendered),
        ("Job", "spec.run.cmd", Rendered),
        ("Job", "spec.run.cpus", Rendered),
        ("Job", "spec.run.disk", Rendered),
        ("Job", "spec.run.docker.forcePullImage", Rendered),
        ("Job", "spec.run.docker.image", Rendered),
        ("Job", "spec.run.docker.parameters[].key", NoEffect("no Kubernetes equivalent; `dromos render` warns")),
        ("Job", "spec.run.docker.parameters[].value", NoEffect("no Kubernetes equivalent; `dromos render` warns")),
        ("Job", "spec.run.docker.privileged", Rendered),
        ("Job", "spec.run.docker.pullConfig.secret", Rendered),
        ("Job", "spec.run.env", Rendered),
        ("Job", "spec.run.gpus", Rendered),
        (
            "Job",
            "spec.run.maxLaunchDelay",
            Used("the Job controller fails an attempt whose pod has not started within it"),
        ),
        ("Job", "spec.run.mem", Rendered),
        ("Job", "spec.run.placement.constraints[].attribute", Rendered),
        ("Job", "spec.run.placement.constraints[].operator", Rendered),
        ("Job", "spec.run.placement.constraints[].value", Rendered),
        ("Job", "spec.run.restart.activeDeadlineSeconds", Used("the Job controller: retry window")),
        ("Job", "spec.run.restart.policy", Used("the Job controller: retries")),
        ("Job", "spec.run.secrets.*.source", Rendered),
        ("Job", "spec.run.taskKillGracePeriodSeconds", Rendered),
        ("Job", "spec.run.ucr.image.forcePull", Rendered),
        ("Job", "spec.run.ucr.image.id", Rendered),
        ("Job", "spec.run.ucr.image.kind", NoEffect("the container runtime pulls OCI/Docker images whatever the kind")),
        ("Job", "spec.run.ucr.privileged", Rendered),
        ("Job", "spec.run.user", Rendered),
        ("Job", "spec.run.volumes[].containerPath", Rendered),
        ("Job", "spec.run.volumes[].hostPath", Rendered),
        ("Job", "spec.run.volumes[].mode", Rendered),
        ("Job", "spec.run.volumes[].secret", Rendered),
        ("Job", "spec.schedule", Used("the Job controller: when runs start")),
        ("Job", "spec.scheduleTimeZone", Used("the Job controller: when runs start")),
        ("Job", "spec.schedules[].concurrencyPolicy", Used("the Job controller: when runs start")),
        ("Job", "spec.schedules[].cron", Used("the Job controller: when runs start")),
        ("Job", "spec.schedules[].enabled", Used("the Job controller: when runs start")),
        ("Job", "spec.schedules[].id", NoEffect("one schedule per Job; the id only named it in Metronome's API")),
        ("Job", "spec.schedules[].startingDeadlineSeconds", Used("the Job controller: when runs start")),
        ("Job", "spec.schedules[].timezone", Used("the Job controller: when runs start")),
        ("Job", "spec.softError", Used("the Job controller: when runs start")),
        ("Package", "spec.name", Used("the Package operator")),
        ("Package", "spec.options", Used("the Package operator")),
        ("Package", "spec.repository.builtin", Used("the Package operator")),
        ("Package", "spec.repository.gitSource", Used("the Package operator")),
        ("Package", "spec.repository.path", Used("the Package operator")),
        ("Package", "spec.serviceAccountName", Used("the Package operator")),
        ("Package", "spec.version", Used("the Package operator")),
        (
            "SourcePolicy",
            "spec.clusterScopedKinds",
            Used("the GitSource controller and the Package operator enforce it"),
        ),
        ("SourcePolicy", "spec.deniedKinds", Used("the GitSource controller and the Package operator enforce it")),
        (
            "SourcePolicy",
            "spec.packageRepositories",
            Used("the GitSource controller and the Package operator enforce it"),
        ),
        ("SourcePolicy", "spec.repositories", Used("the GitSource controller and the Package operator enforce it")),
        ("SourcePolicy", "spec.serviceAccounts", Used("the GitSource controller and the Package operator enforce it")),
        ("SourcePolicy", "spec.sourceNamespaces", Used("the GitSource controller and the Package operator enforce it")),
        ("SourcePolicy", "spec.targetNamespaces", Used("the GitSource controller and the Package operator enforce it")),
        ("Notifier", "spec.events", Used("the Notifier operator")),
        ("Notifier", "spec.rateLimitPerMinute", Used("the Notifier operator")),
        ("Notifier", "spec.serviceAccountName", Used("the Notifier operator")),
        ("Notifier", "spec.sources[].kind", Used("the Notifier operator")),
        ("Notifier", "spec.sources[].matchLabels", Used("the Notifier operator")),
        ("Notifier", "spec.sources[].name", Used("the Notifier operator")),
        ("Notifier", "spec.suspend", Used("the Notifier operator")),
        ("Notifier", "spec.target.address", Used("the Notifier operator")),
        ("Notifier", "spec.target.repository", Used("the Notifier operator")),
        ("Notifier", "spec.target.secretRef.name", Used("the Notifier operator")),
        ("Notifier", "spec.target.type", Used("the Notifier operator")),
    ]
};

/// The leaf fields under `spec` of a CRD's schema: fields with no properties of their own
/// (scalars, lists of scalars, free-form maps), as dotted paths from `spec`.
pub fn schema_leaves(crd_schema: &Value) -> Vec<String> {
    let mut out = vec![];
    walk(&crd_schema["properties"]["spec"], "spec", &mut out);
    out
}

fn has_children(s: &Value) -> bool {
    s["properties"].as_object().is_some_and(|p| !p.is_empty())
        || s["items"].is_object() && has_children(&s["items"])
        || s["additionalProperties"].is_object() && has_children(&s["additionalProperties"])
}

fn walk(s: &Value, path: &str, out: &mut Vec<String>) {
    if !has_children(s) {
        out.push(path.to_string());
        return;
    }
    for (k, v) in s["properties"].as_object().into_iter().flatten() {
        walk(v, &format!("{path}.{k}"), out);
    }
    if s["items"].is_object() {
        walk(&s["items"], &format!("{path}[]"), out);
    }
    if s["additionalProperties"].is_object() {
        walk(&s["additionalProperties"], &format!("{path}.*"), out);
    }
}

/// The decision for a field, if there is one.
pub fn handling(kind: &str, path: &str) -> Option<Handling> {
    FIELDS.iter().find(|(k, p, _)| *k == kind && *p == path).map(|(_, _, h)| *h)
}

/// `docs/reference/fields.md`: the decisions, one table per kind.
pub fn render_markdown(kinds: &[&str]) -> String {
    let mut out = String::from(
        "# What each field does\n\nEvery field a Dromos schema accepts is rendered into Kubernetes objects, used by a \
         controller, refused by validation, or has no effect for the reason given; a test fails when a field has no \
         entry here (`dromos_core::fields`). Status fields, and the spec of an Offer, are written by Dromos.\n",
    );
    for kind in kinds.iter().filter(|k| !WRITTEN_KINDS.contains(k)) {
        let _ = writeln!(out, "\n## {kind}\n\n| field | what Dromos does |\n|---|---|");
        for (_, path, h) in FIELDS.iter().filter(|(k, _, _)| k == kind) {
            let _ = writeln!(out, "| `{path}` | {} |", h.describe().replace('|', "\\|"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn schemas() -> Vec<(String, Value)> {
        dromos_crds::crds()
            .into_iter()
            .map(|c| {
                let v = c.spec.versions.into_iter().find(|v| v.storage).expect("a storage version");
                let s = serde_json::to_value(v.schema.and_then(|s| s.open_api_v3_schema)).expect("schema");
                (c.spec.names.kind, s)
            })
            .collect()
    }

    #[test]
    fn every_schema_field_has_a_decision_and_every_decision_a_field() {
        let mut missing = vec![];
        let mut known = BTreeSet::new();
        for (kind, schema) in schemas() {
            if WRITTEN_KINDS.contains(&kind.as_str()) {
                continue;
            }
            for path in schema_leaves(&schema) {
                if handling(&kind, &path).is_none() {
                    missing.push(format!("{kind} {path}"));
                }
                known.insert((kind.clone(), path));
            }
        }
        assert!(
            missing.is_empty(),
            "fields without a decision (add them to dromos_core::fields::FIELDS: rendered, used, refused or \
             no effect with the reason): {missing:#?}"
        );
        let stale: Vec<_> =
            FIELDS.iter().filter(|(k, p, _)| !known.contains(&(k.to_string(), p.to_string()))).collect();
        assert!(stale.is_empty(), "decisions for fields no schema has: {stale:?}");
        let mut seen = BTreeSet::new();
        let twice: Vec<_> = FIELDS.iter().filter(|(k, p, _)| !seen.insert((*k, *p))).collect();
        assert!(twice.is_empty(), "fields decided twice: {twice:?}");
    }

    #[test]
    fn the_walk_sees_nested_lists_and_maps() {
        let (_, app) = schemas().into_iter().find(|(k, _)| k == "App").unwrap();
        let leaves = schema_leaves(&app);
        for p in ["spec.cmd", "spec.containers[].healthCheck.http.path", "spec.secrets.*.source", "spec.constraints"] {
            assert!(leaves.iter().any(|l| l == p), "{p} not in {leaves:?}");
        }
        assert!(!leaves.iter().any(|l| l == "spec.container"), "objects with fields are not leaves");
    }

    /// A value of the schema's type at `path` (only plain fields: every refused field is one).
    fn sample(schema: &Value, path: &str) -> Value {
        let mut s = &schema["properties"]["spec"];
        for part in path.trim_start_matches("spec.").split('.') {
            s = &s["properties"][part];
        }
        match s["type"].as_str() {
            Some("number" | "integer") => Value::from(2),
            Some("boolean") => Value::Bool(true),
            Some("array") => Value::Array(vec![]),
            Some("object") => Value::Object(Default::default()),
            _ => Value::from("x"),
        }
    }

    #[test]
    fn refused_fields_are_refused_at_their_path_with_a_reason() {
        let bases =
            [("App", serde_json::json!({"cmd": "sleep 1"})), ("Job", serde_json::json!({"run": {"cmd": "true"}}))];
        let refused: Vec<_> = FIELDS.iter().filter(|(_, _, h)| *h == Handling::Refused).collect();
        assert!(!refused.is_empty());
        for (kind, path, _) in refused {
            let (_, base) =
                bases.iter().find(|(k, _)| k == kind).unwrap_or_else(|| panic!("no base {kind} for {path}"));
            let (_, schema) = schemas().into_iter().find(|(k, _)| k == kind).unwrap();
            let mut spec = base.clone();
            assert!(!path.contains('[') && !path.contains('*'), "{path}: only plain fields are sampled");
            let field = path.trim_start_matches("spec.");
            assert!(!field.contains('.'), "{path}: only top-level fields are sampled");
            spec[field] = sample(&schema, path);
            let obj = serde_json::json!({
                "apiVersion": "dromos.io/v1alpha1", "kind": kind,
                "metadata": {"name": "x", "namespace": "ns"}, "spec": spec
            });
            let tree = crate::check_live(&format!("{kind} ns/x"), &obj, &crate::LoadOptions::default());
            let d = tree
                .diagnostics
                .iter()
                .find(|d| d.field == *path)
                .unwrap_or_else(|| panic!("{kind} {path} is accepted: {:?}", tree.diagnostics));
            assert!(d.is_error() && d.code == "unsupported-field", "{kind} {path}: {d:?}");
            assert!(d.message.contains("not supported") && d.hint.is_some(), "{kind} {path}: {d:?}");
            spec = base.clone();
            let obj = serde_json::json!({
                "apiVersion": "dromos.io/v1alpha1", "kind": kind,
                "metadata": {"name": "x", "namespace": "ns"}, "spec": spec
            });
            assert!(crate::check_live("base", &obj, &crate::LoadOptions::default()).is_valid(), "{kind} base");
        }
    }

    /// A valid value for each plain rendered field, different from its default.
    const SAMPLES: &[(&str, &str, &str)] = &[
        ("App", "spec.acceptedResourceRoles", r#"["slave_public"]"#),
        ("App", "spec.args", r#"["--verbose"]"#),
        ("App", "spec.cmd", r#""serve""#),
        ("App", "spec.container.docker.forcePullImage", "true"),
        ("App", "spec.container.docker.image", r#""img:2""#),
        ("App", "spec.container.docker.privileged", "true"),
        ("App", "spec.container.docker.pullConfig.secret", r#""registry""#),
        ("App", "spec.cpus", "2"),
        ("App", "spec.disk", "100"),
        ("App", "spec.env", r#"{"A": "b"}"#),
        ("App", "spec.gpus", "1"),
        ("App", "spec.instances", "3"),
        ("App", "spec.killSelection", r#""OLDEST_FIRST""#),
        ("App", "spec.labels", r#"{"team": "a"}"#),
        ("App", "spec.mem", "256"),
        ("App", "spec.placementMode", r#""native""#),
        ("App", "spec.ports", "[8080]"),
        ("App", "spec.requirePorts", "true"),
        ("App", "spec.resourceLimits.cpus", "4"),
        ("App", "spec.resourceLimits.mem", "1024"),
        ("App", "spec.role", r#""web""#),
        ("App", "spec.taskKillGracePeriodSeconds", "60"),
        ("App", "spec.unreachableStrategy", r#""disabled""#),
        ("App", "spec.upgradeStrategy.maximumOverCapacity", "0.5"),
        ("App", "spec.upgradeStrategy.minimumHealthCapacity", "0.5"),
        ("App", "spec.uris", r#"["https://example.com/a.tgz"]"#),
        ("App", "spec.user", r#""1000""#),
        ("Job", "spec.labels", r#"{"team": "a"}"#),
        ("Job", "spec.run.args", r#"["--verbose"]"#),
        ("Job", "spec.run.cmd", r#""run-it""#),
        ("Job", "spec.run.cpus", "2"),
        ("Job", "spec.run.disk", "100"),
        ("Job", "spec.run.docker.forcePullImage", "true"),
        ("Job", "spec.run.docker.image", r#""img:2""#),
        ("Job", "spec.run.docker.privileged", "true"),
        ("Job", "spec.run.docker.pullConfig.secret", r#""registry""#),
        ("Job", "spec.run.env", r#"{"A": "b"}"#),
        ("Job", "spec.run.gpus", "1"),
        ("Job", "spec.run.mem", "256"),
        ("Job", "spec.run.taskKillGracePeriodSeconds", "60"),
        ("Job", "spec.run.ucr.image.forcePull", "true"),
        ("Job", "spec.run.ucr.image.id", r#""img:2""#),
        ("Job", "spec.run.ucr.privileged", "true"),
        ("Job", "spec.run.user", r#""1000""#),
    ];

    fn render(kind: &str, spec: &Value) -> Vec<Value> {
        let obj = serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": kind, "metadata": {"name": "x", "namespace": "ns"}, "spec": spec
        });
        let tree = crate::check_live(&format!("{kind} ns/x"), &obj, &crate::LoadOptions::default());
        assert!(tree.is_valid(), "{spec}: {:?}", tree.diagnostics);
        let m = &tree.manifests[0];
        let opts = crate::RenderOptions::default();
        let objects = match &m.typed {
            crate::Typed::App(a) => crate::translate::render_app(m, a, &opts).objects,
            crate::Typed::Job(j) => crate::translate::render_job(m, j, &opts).objects,
            _ => panic!("{kind} is not rendered"),
        };
        // Any spec change changes an App's version hash: compare what the field itself does.
        let version = crate::translate::app_version(&m.value["spec"]);
        let text = serde_json::to_string(&objects).unwrap().replace(&version, "VERSION");
        vec![serde_json::from_str(&text).unwrap()]
    }

    /// Every plain field said to be rendered changes the rendered objects when set.
    #[test]
    fn rendered_fields_change_the_render() {
        for (kind, path, h) in FIELDS {
            if *h != Handling::Rendered || path.contains('[') || path.contains('*') {
                continue;
            }
            let (_, _, sample) = SAMPLES
                .iter()
                .find(|(k, p, _)| k == kind && p == path)
                .unwrap_or_else(|| panic!("{kind} {path} is rendered: add a sample value to SAMPLES"));
            let ucr = path.contains(".ucr.");
            let mut base = match (*kind, ucr) {
                ("App", _) => serde_json::json!({"container": {"docker": {"image": "img:1"}}, "instances": 4}),
                (_, false) => serde_json::json!({"run": {"docker": {"image": "img:1"}}}),
                (_, true) => serde_json::json!({"run": {"ucr": {"image": {"id": "img:1"}}}}),
            };
            if *kind == "Job" && !path.ends_with(".args") {
                base["run"]["cmd"] = "true".into();
            }
            let mut changed = base.clone();
            let mut at = &mut changed;
            let parts: Vec<&str> = path.trim_start_matches("spec.").split('.').collect();
            for part in &parts[..parts.len() - 1] {
                at = at.as_object_mut().unwrap().entry(*part).or_insert_with(|| serde_json::json!({}));
            }
            at[parts[parts.len() - 1]] = serde_json::from_str(sample).unwrap();
            assert_ne!(render(kind, &base), render(kind, &changed), "{kind} {path} = {sample} changes nothing");
        }
    }

    #[test]
    fn the_markdown_names_every_decided_field() {
        let md = render_markdown(&dromos_crds::KINDS);
        for (kind, path, _) in FIELDS {
            assert!(md.contains(&format!("| `{path}` |")), "{kind} {path}");
        }
        assert!(md.contains("| `spec.backoffSeconds` | refused by validation"));
        assert!(!md.contains("## Offer"));
    }
}

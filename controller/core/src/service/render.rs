//! A service's pod types as Kubernetes objects (pure): per pod type a StatefulSet whose pods the
//! plans create and replace one step at a time (`podManagementPolicy: Parallel`,
//! `updateStrategy: OnDelete`, replicas chosen by the plan), and a headless Service for stable
//! names (`<instance>-<pod>-<index>.<instance>-<pod>`, what `endpoints` lists).
//!
//! RUNNING tasks are the pod's containers; FINISHED tasks are init containers run at every
//! start; ONCE tasks are init containers that leave a marker on the first volume and are
//! skipped while it is there (a replaced instance gets new volumes and runs them again).
//! Readiness checks become readiness probes, so "ready" is "its checks passed". Placement
//! constraints are rendered as native affinity for kube-scheduler.

use super::spec::{Goal, PodSpec, ServiceSpec, TaskSpec, phase_tasks};
use crate::constraints::{parse_constraints, render_native};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Label: the service pod type of a pod.
pub const LABEL_POD: &str = "dromos.io/service-pod";
/// Annotation: the revision of the pod type a pod was created from.
pub const ANN_REVISION: &str = "dromos.io/service-revision";
/// The ordinal label the StatefulSet controller sets on its pods.
pub const LABEL_INDEX: &str = "apps.kubernetes.io/pod-index";

/// Who the objects are rendered for.
#[derive(Clone, Debug)]
pub struct Owner<'a> {
    /// Namespace of the Package.
    pub namespace: &'a str,
    /// Name of the Package (prefix of every object).
    pub instance: &'a str,
    /// Labels every object carries (the Package operator's ownership labels).
    pub labels: BTreeMap<String, String>,
}

/// Name of a pod type's StatefulSet and Service.
pub fn set_name(instance: &str, pod: &str) -> String {
    format!("{instance}-{pod}")
}

/// Name of one instance's claim of `volume`.
pub fn claim_name(volume: &str, instance: &str, pod: &str, index: u32) -> String {
    format!("{volume}-{instance}-{pod}-{index}")
}

/// The revision of every pod type: a hash of what its pods are made from (template and
/// volumes), not of its replicas.
pub fn revisions(spec: &ServiceSpec, owner: &Owner) -> BTreeMap<String, String> {
    spec.pods.keys().map(|p| (p.clone(), revision(&template(spec, p, owner), &claims(&spec.pods[p], owner)))).collect()
}

fn revision(template: &Value, claims: &Value) -> String {
    let mut h = Sha256::new();
    h.update(template.to_string().as_bytes());
    h.update(claims.to_string().as_bytes());
    h.finalize().iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// The StatefulSet and headless Service of pod type `pod` with `replicas` instances.
pub fn objects(spec: &ServiceSpec, pod: &str, replicas: u32, owner: &Owner) -> Vec<Value> {
    let p = &spec.pods[pod];
    let name = set_name(owner.instance, pod);
    let mut template = template(spec, pod, owner);
    let claims = claims(p, owner);
    let rev = revision(&template, &claims);
    template["metadata"]["annotations"][ANN_REVISION] = json!(rev);
    let selector = selector(owner, pod);
    let mut labels = owner.labels.clone();
    labels.insert(LABEL_POD.into(), pod.into());
    let ports: Vec<Value> = running(p)
        .flat_map(|(_, t)| t.ports.iter())
        .map(|(n, port)| json!({"name": n, "port": port, "targetPort": port}))
        .collect();
    let set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": owner.namespace, "labels": labels,
                     "annotations": {ANN_REVISION: rev}},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "OnDelete"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "selector": {"matchLabels": selector},
            "template": template,
            "volumeClaimTemplates": claims,
        }
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": owner.namespace, "labels": labels},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": true, "selector": selector,
                 "ports": if ports.is_empty() { json!([{"name": "none", "port": 1}]) } else { json!(ports) }}
    });
    vec![service, set]
}

fn selector(owner: &Owner, pod: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (crate::package::LABEL_INSTANCE.to_string(), owner.instance.to_string()),
        (LABEL_POD.to_string(), pod.to_string()),
    ])
}

fn running(p: &PodSpec) -> impl Iterator<Item = (&String, &TaskSpec)> {
    p.tasks.iter().filter(|(_, t)| t.goal == Goal::Running)
}

fn claims(p: &PodSpec, owner: &Owner) -> Value {
    let claims: Vec<Value> = p
        .volumes
        .iter()
        .map(|v| {
            json!({"metadata": {"name": v.name, "labels": owner.labels},
                   "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": v.size}}}})
        })
        .collect();
    json!(claims)
}

/// The order tasks run in: the deploy plan's phase for this pod type, else by goal.
fn task_order(spec: &ServiceSpec, pod: &str) -> Vec<String> {
    let phase = spec.plans.get("deploy").and_then(|p| p.phases.iter().find(|ph| ph.pod == pod));
    let mut order = match phase {
        Some(ph) => phase_tasks(spec, ph),
        None => vec![],
    };
    for t in spec.pods[pod].tasks.keys() {
        if !order.contains(t) {
            order.push(t.clone());
        }
    }
    order
}

fn template(spec: &ServiceSpec, pod: &str, owner: &Owner) -> Value {
    let p = &spec.pods[pod];
    let mut labels = owner.labels.clone();
    labels.extend(selector(owner, pod));
    let mounts: Vec<Value> = p.volumes.iter().map(|v| json!({"name": v.name, "mountPath": v.path})).collect();
    let marker_dir = p.volumes.first().map(|v| v.path.clone());
    let mut init = vec![];
    let mut containers = vec![];
    for name in task_order(spec, pod) {
        let Some(t) = p.tasks.get(&name) else { continue };
        let image = t.image.clone().or_else(|| p.image.clone()).unwrap_or_default();
        let cmd = match (t.goal, &marker_dir) {
            (Goal::Once, Some(dir)) => {
                let marker = format!("{dir}/.dromos-once-{name}");
                format!("if [ -e {marker} ]; then exit 0; fi\n{}\ntouch {marker}", t.cmd)
            }
            _ => t.cmd.clone(),
        };
        let mem = format!("{}Mi", t.memory.ceil() as u64);
        let mut c = json!({
            "name": name,
            "image": image,
            "command": ["sh", "-c", cmd],
            "resources": {"requests": {"cpu": t.cpus.to_string(), "memory": mem},
                          "limits": {"memory": mem}},
            "env": t.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "volumeMounts": mounts,
        });
        if !t.ports.is_empty() {
            c["ports"] =
                json!(t.ports.iter().map(|(n, port)| json!({"name": n, "containerPort": port})).collect::<Vec<_>>());
        }
        if let Some(check) = &t.readiness {
            let mut probe = match (&check.cmd, &check.http) {
                (Some(cmd), _) => json!({"exec": {"command": ["sh", "-c", cmd]}}),
                (None, Some(h)) => json!({"httpGet": {"port": h.port, "path": h.path}}),
                (None, None) => json!({}),
            };
            probe["periodSeconds"] = json!(check.interval_seconds.max(1));
            probe["timeoutSeconds"] = json!(check.timeout_seconds.max(1));
            probe["initialDelaySeconds"] = json!(check.delay_seconds);
            c["readinessProbe"] = probe;
        }
        match t.goal {
            Goal::Running => containers.push(c),
            Goal::Once | Goal::Finished => init.push(c),
        }
    }
    let mut pod_spec = json!({"containers": containers});
    if !init.is_empty() {
        pod_spec["initContainers"] = json!(init);
    }
    let parsed = parse_constraints(&p.placement);
    let list: Vec<_> = parsed.ok.into_iter().map(|(_, c)| c).collect();
    if let Some(affinity) = render_native(&list, &selector(owner, pod)).affinity() {
        pod_spec["affinity"] = serde_json::to_value(affinity).unwrap_or(Value::Null);
    }
    json!({"metadata": {"labels": labels, "annotations": {}}, "spec": pod_spec})
}

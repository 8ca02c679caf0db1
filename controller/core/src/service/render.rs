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

/// The template carries the name of its ConfigMap, which is named by a hash of the files: a
/// changed file is a new revision.
fn revision(template: &Value, claims: &Value) -> String {
    hash(&[template.to_string().as_bytes(), claims.to_string().as_bytes()])
}

fn hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    h.finalize().iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// The configuration files of a pod type as ConfigMap data (`<task>.<config>` keys), and the
/// ConfigMap's name (by a hash of the files, so each revision reads its own), if it has any.
fn config_data(p: &PodSpec, owner: &Owner, pod: &str) -> Option<(String, BTreeMap<String, String>)> {
    let data: BTreeMap<String, String> = p
        .tasks
        .iter()
        .flat_map(|(t, task)| task.configs.iter().map(move |(c, f)| (config_key(t, c), f.content.clone())))
        .collect();
    if data.is_empty() {
        return None;
    }
    let flat: Vec<u8> = serde_json::to_vec(&data).unwrap_or_default();
    Some((format!("{}-config-{}", set_name(owner.instance, pod), hash(&[&flat])), data))
}

fn config_key(task: &str, config: &str) -> String {
    format!("{task}.{config}")
}

/// Name of the volume holding the configuration files.
const CONFIG_VOLUME: &str = "dromos-config";

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
    let config_map = config_data(p, owner, pod).map(|(cm, data)| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": cm, "namespace": owner.namespace, "labels": labels},
               "data": data})
    });
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
    config_map.into_iter().chain([service, set]).collect()
}

/// What every task is told about where it runs (the DC/OS SDK's names): `POD_NAME`,
/// `POD_NAMESPACE`, `POD_IP`, `POD_INSTANCE_INDEX`, `POD_TYPE`, `TASK_NAME`, `SERVICE_NAME` (the
/// Package), `POD_HOST` (this instance's stable DNS name) and `SERVICE_DOMAIN` (the suffix of
/// every instance's name: `<set>-<index>.<set>.` + it).
fn standard_env(owner: &Owner, pod: &str, task: &str) -> Vec<Value> {
    let set = set_name(owner.instance, pod);
    let field = |path: &str| json!({"fieldRef": {"fieldPath": path}});
    vec![
        json!({"name": "POD_NAME", "valueFrom": field("metadata.name")}),
        json!({"name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace")}),
        json!({"name": "POD_INSTANCE_INDEX", "valueFrom": field(&format!("metadata.labels['{LABEL_INDEX}']"))}),
        json!({"name": "POD_IP", "valueFrom": field("status.podIP")}),
        json!({"name": "POD_TYPE", "value": pod}),
        json!({"name": "TASK_NAME", "value": task}),
        json!({"name": "SERVICE_NAME", "value": owner.instance}),
        json!({"name": "SERVICE_DOMAIN", "value": format!("{}.svc", owner.namespace)}),
        json!({"name": "POD_HOST", "value": format!("$(POD_NAME).{set}.{}.svc", owner.namespace)}),
    ]
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
        .filter(|v| !v.ephemeral)
        .map(|v| {
            let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": v.size}}});
            if let Some(class) = &v.storage_class {
                spec["storageClassName"] = json!(class);
            }
            json!({"metadata": {"name": v.name, "labels": owner.labels}, "spec": spec})
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
    let config = config_data(p, owner, pod);
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
        let mut task_mounts = mounts.clone();
        if config.is_some() {
            for (c, f) in &t.configs {
                task_mounts.push(json!({"name": CONFIG_VOLUME, "mountPath": f.path,
                                        "subPath": config_key(&name, c), "readOnly": true}));
            }
        }
        let mut env = standard_env(owner, pod, &name);
        env.extend(t.env.iter().map(|(k, v)| json!({"name": k, "value": v})));
        let mut c = json!({
            "name": name,
            "image": image,
            "command": ["sh", "-c", cmd],
            "resources": {"requests": {"cpu": t.cpus.to_string(), "memory": mem},
                          "limits": {"memory": mem}},
            "env": env,
            "volumeMounts": task_mounts,
        });
        if !t.ports.is_empty() {
            c["ports"] =
                json!(t.ports.iter().map(|(n, port)| json!({"name": n, "containerPort": port})).collect::<Vec<_>>());
        }
        if let Some(check) = &t.readiness {
            let mut probe = match (&check.cmd, &check.http) {
                (Some(cmd), _) => json!({"exec": {"command": ["sh", "-c", cmd]}}),
                (None, Some(h)) => json!({"httpGet": {"port": h.port, "path": h.path}}),
                (None, None) => match &check.tcp {
                    Some(t) => json!({"tcpSocket": {"port": t.port}}),
                    None => json!({}),
                },
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
    let mut volumes: Vec<Value> = p
        .volumes
        .iter()
        .filter(|v| v.ephemeral)
        .map(|v| json!({"name": v.name, "emptyDir": {"sizeLimit": v.size}}))
        .collect();
    if let Some((cm, _)) = &config {
        volumes.push(json!({"name": CONFIG_VOLUME, "configMap": {"name": cm}}));
    }
    if !volumes.is_empty() {
        pod_spec["volumes"] = json!(volumes);
    }
    let mut node_selector = p.node_selector.clone();
    if let Some(role) = &p.role {
        node_selector.insert(crate::translate::ROLE_KEY.to_string(), role.clone());
        pod_spec["tolerations"] = json!([crate::translate::role_toleration(role)]);
    }
    if !node_selector.is_empty() {
        pod_spec["nodeSelector"] = json!(node_selector);
    }
    if let Some(g) = p.fs_group {
        pod_spec["securityContext"] = json!({"fsGroup": g});
    }
    // Time for a decommission command or a clean stop.
    pod_spec["terminationGracePeriodSeconds"] = json!(60);
    let parsed = parse_constraints(&p.placement);
    let list: Vec<_> = parsed.ok.into_iter().map(|(_, c)| c).collect();
    let native = render_native(&list, &selector(owner, pod));
    if let Some(affinity) = native.affinity() {
        pod_spec["affinity"] = serde_json::to_value(affinity).unwrap_or(Value::Null);
    }
    if !native.spread.is_empty() {
        pod_spec["topologySpreadConstraints"] = serde_json::to_value(&native.spread).unwrap_or(Value::Null);
    }
    json!({"metadata": {"labels": labels, "annotations": {}}, "spec": pod_spec})
}

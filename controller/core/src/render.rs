//! Rendering a whole tree into the objects Dromos applies, in apply order (pure).

use crate::diag::Diagnostic;
use crate::load::{Manifest, Typed};
use crate::translate::{Expansion, RenderOptions, render_app, render_job};
use serde_json::Value;

/// Everything a valid tree expands to.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Objects in apply order: the manifests themselves, then their expansions.
    pub objects: Vec<Value>,
    /// Approximations and other warnings, with positions in the source manifests.
    pub warnings: Vec<Diagnostic>,
}

/// Apply order rank of a kind: namespaces and CRDs first, workloads last.
pub fn kind_rank(api_version: &str, kind: &str) -> u8 {
    match (api_version, kind) {
        (_, "Namespace") => 0,
        (_, "CustomResourceDefinition") => 1,
        (_, "PriorityClass" | "StorageClass" | "IngressClass" | "RuntimeClass") => 2,
        (_, "ClusterRole" | "ClusterRoleBinding") => 3,
        (_, "ServiceAccount" | "ResourceQuota" | "LimitRange" | "NetworkPolicy") => 4,
        (_, "Role" | "RoleBinding") => 5,
        (_, "Secret" | "ConfigMap") => 6,
        (_, "PersistentVolume" | "PersistentVolumeClaim") => 7,
        (_, "Service") => 8,
        ("dromos.io/v1alpha1", "GitSource") => 9,
        ("dromos.io/v1alpha1", "Package") => 10,
        ("dromos.io/v1alpha1", "App") => 11,
        ("dromos.io/v1alpha1", "Job") => 12,
        (_, "PodTemplate") => 13,
        (_, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => 14,
        (_, "Job" | "CronJob") => 15,
        (_, "PodDisruptionBudget" | "HorizontalPodAutoscaler") => 16,
        (_, "Ingress") => 17,
        _ => 12,
    }
}

fn sort_key(v: &Value) -> (u8, String, String, String) {
    let av = v["apiVersion"].as_str().unwrap_or("");
    let kind = v["kind"].as_str().unwrap_or("");
    (
        kind_rank(av, kind),
        kind.to_string(),
        v["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
        v["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

/// Expands one manifest. Non-Dromos objects expand to nothing.
pub fn expand(m: &Manifest, opts: &RenderOptions) -> Expansion {
    match &m.typed {
        Typed::App(app) => render_app(m, app, opts),
        Typed::Job(job) => render_job(m, job, opts),
        _ => Expansion::default(),
    }
}

/// Renders every manifest and its expansion, sorted in apply order.
pub fn render_manifests(manifests: &[Manifest], opts: &RenderOptions) -> Rendered {
    let mut out = Rendered::default();
    for m in manifests {
        out.objects.push(m.value.clone());
        let exp = expand(m, opts);
        for (path, msg) in exp.warnings {
            out.warnings.push(m.warning("approximation", &path, msg));
        }
        out.objects.extend(exp.objects);
    }
    out.objects.sort_by_cached_key(sort_key);
    out
}

/// Serialises objects as a multi-document YAML stream.
pub fn to_yaml_stream(objects: &[Value]) -> String {
    let mut s = String::new();
    for o in objects {
        s.push_str("---\n");
        s.push_str(&serde_saphyr::to_string(o).expect("JSON values serialise to YAML"));
    }
    s
}

/// Serialises objects as a Kubernetes `List`.
pub fn to_json_list(objects: &[Value]) -> String {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
    serde_json::to_string_pretty(&list).expect("JSON values serialise") + "\n"
}

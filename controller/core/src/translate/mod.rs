//! Translation of Apps and Jobs into native Kubernetes objects (pure).
//!
//! One function renders an App ([`render_app`], in [`app`]) and one a Job ([`render_job`], in
//! [`job`]), whether for `dromos render`, `dromos plan` or the operators. Defaults are
//! Marathon's and Metronome's; every mapping is listed in ARCHITECTURE.md ("Translation").
//! This module holds the labels, options and quantities both share; [`pod`] the pod pieces
//! (environment, resources, fetch, sandbox).

mod app;
mod job;
mod pod;

pub use app::{DYNAMIC_PORT_BASE, render_app};
pub use job::{job_pod_template, render_job, render_run};
pub use pod::pull_secret_name;

use crate::constraints;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Label every generated object carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "dromos");
/// Selector label of an App's pods.
pub const APP_LABEL: &str = "dromos.io/app";
/// Label naming the Job that owns a run template or run.
pub const JOB_LABEL: &str = "dromos.io/job";
/// Labels naming the kind of the owning Dromos object.
pub const OWNER_KIND_LABEL: &str = "dromos.io/owner-kind";
/// Annotation holding the Marathon id.
pub const ID_ANNOTATION: &str = "dromos.io/id";
/// Annotation holding the rendered spec's version hash.
pub const VERSION_ANNOTATION: &str = "dromos.io/version";
/// Annotation on an App asking for its instances to be replaced (`dromos app restart`), copied
/// to the pod template so a change of value rolls the instances like a spec change.
pub const RESTART_ANNOTATION: &str = "dromos.io/restart";
/// Label/taint key marking nodes reserved for a Mesos role.
pub const ROLE_KEY: &str = "dromos.io/role";

/// The toleration that lets a pod onto nodes reserved for `role` (they carry the role's
/// `NoSchedule` taint).
pub(crate) fn role_toleration(role: &str) -> k8s_openapi::api::core::v1::Toleration {
    k8s_openapi::api::core::v1::Toleration {
        key: Some(ROLE_KEY.into()),
        operator: Some("Equal".into()),
        value: Some(role.to_string()),
        effect: Some("NoSchedule".into()),
        toleration_seconds: None,
    }
}
/// `spec.schedulerName` of pods placed by the Dromos scheduler (Apps in exact placement mode).
pub const SCHEDULER_NAME: &str = "dromos";
/// Where Marathon tasks find their sandbox.
pub const SANDBOX: &str = "/mnt/mesos/sandbox";

/// Default of [`RenderOptions::default_image`].
pub const DEFAULT_IMAGE: &str = "docker.io/library/debian:bookworm-slim";
/// Default of [`RenderOptions::fetch_image`].
pub const DEFAULT_FETCH_IMAGE: &str = "docker.io/curlimages/curl:8.11.1";

/// Settings of the translation that are not in the manifests.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Image for Apps and Jobs that give only `cmd` (Marathon ran those on the agent host).
    pub default_image: String,
    /// Image of the init container that downloads `fetch` URIs (needs sh, curl, tar, unzip).
    pub fetch_image: String,
    /// Package repositories that Package objects are expanded from.
    pub packages: crate::package::Repositories,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            default_image: DEFAULT_IMAGE.into(),
            fetch_image: DEFAULT_FETCH_IMAGE.into(),
            packages: Default::default(),
        }
    }
}

/// Objects rendered from one Dromos object, and what could not be expressed exactly.
#[derive(Clone, Debug, Default)]
pub struct Expansion {
    /// Native objects as JSON with apiVersion and kind.
    pub objects: Vec<Value>,
    /// (field path, message) for approximations.
    pub warnings: Vec<(String, String)>,
}

/// The JSON of a k8s-openapi object.
pub(crate) fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("k8s-openapi types serialize")
}

/// Formats CPUs as a Kubernetes quantity: `0.25` -> `250m`, `2` -> `2`.
pub fn cpu_quantity(cpus: f64) -> Quantity {
    let milli = (cpus * 1000.0).round() as i64;
    if milli % 1000 == 0 { Quantity(format!("{}", milli / 1000)) } else { Quantity(format!("{milli}m")) }
}

/// Formats MiB as a Kubernetes quantity: `128` -> `128Mi`, `0.5` -> `512Ki`.
pub fn mib_quantity(mib: f64) -> Quantity {
    if mib.fract() == 0.0 {
        Quantity(format!("{}Mi", mib as i64))
    } else {
        Quantity(format!("{}Ki", (mib * 1024.0).round() as i64))
    }
}

/// The version of an App spec: a hash of everything but `instances`, so scaling keeps the
/// version (as Marathon's `lastConfigChangeAt` did) and does not replace running instances.
pub fn app_version(spec: &Value) -> String {
    let mut spec = spec.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("instances");
    }
    version_of(&spec)
}

/// A short content hash of a spec: changes whenever the spec changes.
pub fn version_of(spec: &Value) -> String {
    let digest = Sha256::digest(serde_json::to_vec(spec).unwrap_or_default());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Labels of every object generated for a Dromos object of kind `owner_kind`.
pub(crate) fn base_labels(owner_kind: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
        (OWNER_KIND_LABEL.to_string(), owner_kind.to_string()),
    ])
}

/// A key a user label may have (not one of the reserved prefixes).
fn is_label_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(|p| crate::ids::check_dns_subdomain(p).is_ok())
        && !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !k.starts_with("kubernetes.io/")
        && !k.starts_with("dromos.io/")
        && !k.starts_with("app.kubernetes.io/")
}

/// User labels that are valid Kubernetes labels (others stay in `MARATHON_APP_LABELS`).
pub(crate) fn user_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, v)| is_label_key(k) && constraints::label_value_ok(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(0.25).0, "250m");
        assert_eq!(cpu_quantity(2.0).0, "2");
        assert_eq!(cpu_quantity(0.001).0, "1m");
        assert_eq!(mib_quantity(128.0).0, "128Mi");
        assert_eq!(mib_quantity(0.5).0, "512Ki");
    }
}

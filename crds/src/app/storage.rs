//! Volumes of an App: container volumes, persistent and external volumes, pod volumes and their
//! mounts (pure data, no I/O).

use crate::common::Labels;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

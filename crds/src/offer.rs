//! The Offer resource: a node's resources in Mesos terms.

use crate::common::{CommonStatus, Labels};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The free and total resources of one schedulable node, in Mesos terms, with its attributes
/// and reserved roles. Cluster-scoped, named after the node. Written by Dromos.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "Offer",
    plural = "offers",
    shortname = "of",
    category = "dromos",
    status = "OfferStatus",
    printcolumn = r#"{"name":"Node","type":"string","jsonPath":".spec.nodeName"}"#,
    printcolumn = r#"{"name":"CPUs","type":"number","jsonPath":".spec.free.cpus"}"#,
    printcolumn = r#"{"name":"Mem","type":"number","jsonPath":".spec.free.mem"}"#,
    printcolumn = r#"{"name":"Disk","type":"number","jsonPath":".spec.free.disk"}"#,
    printcolumn = r#"{"name":"GPUs","type":"integer","jsonPath":".spec.free.gpus"}"#,
    printcolumn = r#"{"name":"Roles","type":"string","jsonPath":".spec.roles"}"#,
    printcolumn = r#"{"name":"Zone","type":"string","jsonPath":".spec.zone","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OfferSpec {
    /// The node this offer describes.
    pub node_name: String,
    /// Allocatable resources of the node.
    pub total: OfferResources,
    /// Resources not requested by pods bound to the node.
    pub free: OfferResources,
    /// Agent attributes: node labels plus `hostname`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: Labels,
    /// Fault domain region (`topology.kubernetes.io/region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Fault domain zone (`topology.kubernetes.io/zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Roles the node is reserved for (taint/label `dromos.io/role`); `*` when unreserved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The node is cordoned: offered resources cannot be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
}

/// Mesos resources.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferResources {
    /// CPUs (3 decimals).
    pub cpus: f64,
    /// Memory in MiB.
    pub mem: f64,
    /// Disk (ephemeral storage) in MiB.
    pub disk: f64,
    /// Whole GPUs (`nvidia.com/gpu`).
    #[serde(default)]
    pub gpus: i64,
    /// Host port ranges, e.g. `[{begin: 1025, end: 32000}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortRange>,
}

/// An inclusive range of ports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortRange {
    /// First port.
    pub begin: i32,
    /// Last port.
    pub end: i32,
}

/// Observed state of an Offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferStatus {
    /// observedGeneration and conditions.
    #[serde(flatten)]
    pub common: CommonStatus,
}

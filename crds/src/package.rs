//! The Package resource: a Universe-style package with options.

use crate::common::CommonStatus;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An installed package: a name and version from a package repository plus options, validated
/// against the package's option schema and rendered into Apps, Jobs and plain objects.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "Package",
    plural = "packages",
    shortname = "pkg",
    category = "dromos",
    namespaced,
    status = "PackageStatus",
    printcolumn = r#"{"name":"Package","type":"string","jsonPath":".spec.name"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PackageSpec {
    /// Package name in the repository, e.g. `kafka`.
    pub name: String,
    /// Package version, e.g. `2.9.0-3.4.0`. Default: the newest in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Options, merged over the defaults of the package's option schema and validated by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::free_form_object")]
    pub options: Option<serde_json::Value>,
    /// Where the package comes from. Default: the built-in catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<PackageRepository>,
}

/// A package repository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageRepository {
    /// Name of a GitSource in this namespace holding the repository; absent means the same
    /// repository as this manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_source: Option<String>,
    /// Directory of the repository inside that tree, e.g. `packages/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `builtin` selects the catalog shipped with Dromos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<bool>,
}

/// Observed state of a Package.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageStatus {
    /// observedGeneration and conditions.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Version that is rendered and applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    /// Objects rendered from the package, as `kind/namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
}

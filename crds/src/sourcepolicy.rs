//! The SourcePolicy resource: what the GitSources and Packages of some namespaces may do.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tenancy rules a platform team writes for the sources (GitSources and Packages) of some
/// namespaces: where they may write, which cluster-scoped kinds, which kinds never, and which
/// repositories they may read. Every policy that selects a source applies (the rules add up:
/// a second policy can only narrow); a source no policy selects is limited by its identity
/// alone. A revision breaking a rule applies nothing, and its status names the file, line,
/// policy and rule.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "SourcePolicy",
    plural = "sourcepolicies",
    shortname = "sp",
    category = "dromos",
    printcolumn = r#"{"name":"Sources","type":"string","jsonPath":".spec.sourceNamespaces"}"#,
    printcolumn = r#"{"name":"Targets","type":"string","jsonPath":".spec.targetNamespaces"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SourcePolicySpec {
    /// Namespaces whose GitSources and Packages this policy governs: names, or patterns where
    /// `*` matches any run of characters (`team-*`, `*`).
    #[schemars(length(min = 1, max = 256))]
    pub source_namespaces: Vec<String>,
    /// Namespaces the governed sources may write into (patterns as above; `$self` is the
    /// source's own namespace). Default: `[$self]`, the source's own namespace only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub target_namespaces: Option<Vec<String>>,
    /// Cluster-scoped kinds the governed sources may write, as `Kind` (core group) or
    /// `group/Kind`; `*` as group or kind matches any. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub cluster_scoped_kinds: Option<Vec<String>>,
    /// Kinds the governed sources may never write, in any namespace, written as for
    /// `clusterScopedKinds` (e.g. `rbac.authorization.k8s.io/*`). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub denied_kinds: Option<Vec<String>>,
    /// Repository URLs the governed GitSources may fetch, patterns as above
    /// (`https://git.example.com/team-a/*`). Compared without credentials. Default: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub repositories: Option<Vec<String>>,
    /// Package repositories the governed Packages may install from: `builtin`, or
    /// `gitsource/NAME` (patterns as above). Default: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub package_repositories: Option<Vec<String>>,
    /// ServiceAccounts the governed sources may name in `serviceAccountName` (patterns).
    /// Default: any ServiceAccount of the source's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub service_accounts: Option<Vec<String>>,
}

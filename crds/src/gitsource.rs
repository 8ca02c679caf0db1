//! The GitSource resource: a Git repository whose manifests Dromos keeps applied.

use crate::common::CommonStatus;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Git repository (or a directory of it) that Dromos fetches, validates, plans and applies.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "GitSource",
    plural = "gitsources",
    shortname = "gs",
    category = "dromos",
    namespaced,
    status = "GitSourceStatus",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Revision","type":"string","jsonPath":".status.lastAppliedRevision"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitSourceSpec {
    /// Repository URL: `https://`, `ssh://` / `git@host:path`, or `file://` (only where the
    /// controller allows local repositories: `--allow-local-git`). Give credentials through
    /// `secretRef`: a URL is shown by `kubectl get gs`.
    pub url: String,
    /// Branch, tag or commit to follow. Default: branch `main`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<GitRef>,
    /// Directory inside the repository holding the manifests. Default: the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How often to fetch, e.g. `1m`, `30s`, `1h`: from `1s` to `24h`. Default `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"), length(max = 64))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "duration(self) >= duration('1s') && duration(self) <= duration('24h')", "message": "interval must be from 1s to 24h", "reason": "FieldValueInvalid"}
    ]))]
    pub interval: Option<String>,
    /// Secret with credentials: `username`/`password` or `bearerToken` for https,
    /// `identity` and `known_hosts` for ssh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Delete objects that were applied from this source and are no longer in it. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Stop syncing; the last applied state stays. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Take ownership of fields managed by others on conflict instead of reporting it.
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Largest share of the inventory one revision may delete, in [0,1]. Default 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delete_fraction: Option<f64>,
    /// Allow a revision to delete more than `maxDeleteFraction` of the inventory. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_mass_delete: Option<bool>,
    /// Revert changes made to applied objects outside Git (e.g. `kubectl edit`) within
    /// seconds. When false, drift is only reported (Event `DriftDetected`) until the next
    /// revision. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_heal: Option<bool>,
    /// Namespace for namespaced objects that name none. Default: the GitSource's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_namespace: Option<String>,
    /// ServiceAccount of this namespace whose identity every read, apply and prune of the
    /// source goes through (impersonation), and through which `secretRef` is read. Default:
    /// the controller's `--default-service-account`; without either, the controller's own
    /// identity, unless `--require-service-account` refuses the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
}

/// Which commit to follow. Exactly one field may be set; `commit` pins, `tag` and `branch` follow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRef {
    /// Branch name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Full commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// A reference to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Object name.
    pub name: String,
}

/// Observed state of a GitSource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitSourceStatus {
    /// observedGeneration and conditions.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Revision (`branch@sha1:...`) that is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// Revision of the last attempt, valid or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// Objects applied from this source, as `apiVersion|kind|namespace|name` (namespace empty
    /// for cluster-scoped objects); pruning only ever deletes these. Compact on purpose: 10,000
    /// entries take about 400 kB of the object's 1.5 MB etcd limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<String>,
    /// The inventory when listing it would take more than 256 KiB (about 6,000 entries): the
    /// same entries, sorted, one per line, gzip-compressed and base64-encoded; `inventory` is
    /// then empty. 100,000 entries take about 350 KB; a revision whose inventory would take
    /// more than 768 KiB packed is refused before anything is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_packed: Option<String>,
    /// Objects in the inventory (either form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_count: Option<i64>,
    /// Problems found in the last attempted revision (file, line, message); at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<StatusDiagnostic>,
    /// Files of the last applied revision that were not read as manifests, as `path: rule`
    /// (a default rule such as `Chart.yaml`, a `.dromosignore` line, or a file without
    /// `apiVersion`/`kind`); at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Counts of the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<SyncSummary>,
    /// The value of the `dromos.io/reconcile-requested-at` annotation that the last reconcile
    /// handled: set when a reconcile asked for with `dromos source reconcile` has run (its
    /// result is in the conditions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// What the last sync did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSummary {
    /// Objects created or updated.
    pub applied: i64,
    /// Objects already as desired (nothing written).
    pub unchanged: i64,
    /// Objects deleted because they left the source.
    pub pruned: i64,
    /// Objects that failed to apply or delete.
    pub failed: i64,
    /// Wall time of the sync in milliseconds.
    pub duration_ms: i64,
    /// When it finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// A diagnostic as stored in status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusDiagnostic {
    /// File relative to the source path.
    pub file: String,
    /// 1-based line.
    pub line: i64,
    /// Field path, e.g. `spec.instances`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

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
    printcolumn = r#"{"name":"Installed","type":"string","jsonPath":".status.installedVersion"}"#,
    printcolumn = r#"{"name":"Objects","type":"integer","jsonPath":".status.objectCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
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
    /// ServiceAccount of this namespace whose identity applies and prunes the rendered
    /// objects (impersonation). Default: the controller's `--default-service-account`; without
    /// either, the controller's own identity, unless `--require-service-account` refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
}

/// A package repository. Without one (or with `builtin: true`) the package comes from the
/// catalog built into Dromos.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageRepository {
    /// Name of a GitSource in this namespace whose repository holds the packages; absent with a
    /// `path` means the repository this Package manifest was synced from (its
    /// `dromos.io/source` label), or, for `dromos render DIR`, the directory DIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_source: Option<String>,
    /// Directory of the package repository relative to the repository root, e.g. `packages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `true` selects the catalog shipped with Dromos (the default when nothing else is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<bool>,
}

/// Observed state of a Package.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageStatus {
    /// observedGeneration and conditions (Ready: every rendered workload is ready; Stalled:
    /// options invalid, version change refused, package or repository missing).
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Version whose render is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    /// Repository the installed version came from (`builtin`, `gitsource/NAME:PATH`, `PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Hash of the applied render (version, options, templates); a change rolls out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_hash: Option<String>,
    /// Number of objects in `objects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_count: Option<i64>,
    /// Objects rendered from the package and applied (owned by this Package), with health.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<PackageObject>,
    /// Options the package's schema refused, one entry per problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub option_errors: Vec<OptionProblem>,
    /// Plans of a package with a service specification (`deploy`, `update`, `recovery`,
    /// `decommission` and its own), each phases of steps with their state: where the rollout
    /// is, kept here so it survives controller restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<PlanStatus>,
    /// The id of the last plan command applied (annotation `dromos.io/plan-command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_plan_command: Option<String>,
}

/// State of a plan, a phase or a step, as the DC/OS SDK named them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElementStatus {
    /// Not started.
    #[default]
    Pending,
    /// Started: its pods are being created or replaced and are not ready yet.
    Starting,
    /// Its pods run the target version and passed their readiness checks.
    Complete,
    /// Held: paused, or a canary step waiting for `proceed`.
    Waiting,
    /// Some of its children are complete, some not.
    InProgress,
    /// Failed; the plan stops until the step is restarted or forced complete.
    Error,
}

/// One plan's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    /// Plan name (`deploy`, `update`, `recovery`, `decommission`, or one the package defines).
    pub name: String,
    /// Aggregate state of its phases.
    pub status: ElementStatus,
    /// Paused with `dromos service plan pause`: no step starts until resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Why it stopped, for a plan in ERROR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Phases, in order.
    #[serde(default)]
    pub phases: Vec<PhaseStatus>,
}

/// One phase's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseStatus {
    /// Phase name.
    pub name: String,
    /// Aggregate state of its steps.
    pub status: ElementStatus,
    /// Step strategy: serial, parallel, serial-canary or parallel-canary.
    pub strategy: String,
    /// Paused on its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// `proceed` requests received (a canary phase starts its first step at the first and the
    /// rest at the second).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub proceeds: u32,
    /// Steps, in order.
    #[serde(default)]
    pub steps: Vec<StepStatus>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One step: one pod instance brought to the plan's target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// Step name, `<pod>-<index>:[tasks]` as the DC/OS SDK showed it.
    pub name: String,
    /// Pod type.
    pub pod: String,
    /// Instance index.
    pub index: u32,
    /// State.
    pub status: ElementStatus,
    /// What the step does to its instance: `launch`, `restart`, `replace` or `remove`.
    pub action: String,
    /// The pod type's revision the step brings the instance to (empty for `remove`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// The uid of the pod this step deleted: the step completes with another pod only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    /// Why it failed, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One rendered object and its health.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageObject {
    /// apiVersion.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (absent for cluster-scoped objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `Ready`, `Progressing` (a workload or App not ready yet), `Missing` or `Exists` (objects
    /// without a readiness notion).
    pub health: String,
    /// Why it is not ready, e.g. `2/3 replicas ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An option the schema refuses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionProblem {
    /// Dotted option path, e.g. `brokers.count`.
    pub path: String,
    /// Schema keyword that failed, e.g. `maximum`.
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

//! The Notifier resource: which Dromos events of a namespace go where (a webhook, Slack,
//! Microsoft Teams, or a commit status on GitHub or GitLab).

use crate::common::CommonStatus;
use crate::gitsource::LocalObjectReference;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Sends selected events of the Dromos objects of its namespace (a sync failed or recovered,
/// a deployment finished or failed, a job run failed or was late, a plan step failed) to one
/// target, with retries, a rate limit, and credentials read from a Secret through
/// `serviceAccountName`.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "Notifier",
    plural = "notifiers",
    shortname = "nf",
    category = "dromos",
    namespaced,
    status = "NotifierStatus",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.target.type"}"#,
    printcolumn = r#"{"name":"Sent","type":"integer","jsonPath":".status.sent"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.failed"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct NotifierSpec {
    /// The events sent: `SyncFailed`, `SyncRecovered`, `SyncSucceeded` (a GitSource applied a
    /// new revision; for commit statuses), `DeploymentFinished`, `DeploymentFailed`,
    /// `JobFailed`, `JobLate`, `PlanStepFailed` (a Package's install or upgrade failed).
    #[schemars(length(min = 1, max = 16))]
    pub events: Vec<NotificationEvent>,
    /// Which objects of this namespace the events may come from. Default: every Dromos object
    /// of the namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub sources: Vec<NotifierSource>,
    /// Where the events go.
    pub target: NotifierTarget,
    /// Most notifications sent per minute (a token bucket: bursts up to this many). What
    /// exceeds it is dropped and counted in `status.rateLimited`. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 6000))]
    pub rate_limit_per_minute: Option<u32>,
    /// ServiceAccount of this namespace through which `target.secretRef` is read
    /// (impersonation; it needs `get` on that Secret). Default: the controller's
    /// `--default-service-account`; without either, the controller's own identity, unless
    /// `--require-service-account` refuses the Notifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
    /// Send nothing; events meanwhile are not sent later. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// An event a Notifier can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum NotificationEvent {
    /// A GitSource failed to fetch, validate or apply a revision.
    SyncFailed,
    /// A GitSource applied a revision after a failure.
    SyncRecovered,
    /// A GitSource applied a new revision.
    SyncSucceeded,
    /// An App's deployment finished.
    DeploymentFinished,
    /// An App's deployment failed.
    DeploymentFailed,
    /// A Job run failed (attempts exhausted, killed, or it did not start in time).
    JobFailed,
    /// A scheduled Job run was missed (due longer ago than its starting deadline).
    JobLate,
    /// A Package's install or upgrade failed (a step of its plan).
    PlanStepFailed,
}

impl NotificationEvent {
    /// The name as written in `spec.events`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncFailed => "SyncFailed",
            Self::SyncRecovered => "SyncRecovered",
            Self::SyncSucceeded => "SyncSucceeded",
            Self::DeploymentFinished => "DeploymentFinished",
            Self::DeploymentFailed => "DeploymentFailed",
            Self::JobFailed => "JobFailed",
            Self::JobLate => "JobLate",
            Self::PlanStepFailed => "PlanStepFailed",
        }
    }

    /// A failure (a commit status `failure`, a red message), else good news.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::SyncFailed | Self::DeploymentFailed | Self::JobFailed | Self::JobLate | Self::PlanStepFailed
        )
    }
}

/// Objects of the Notifier's namespace whose events are sent: of `kind`, named `name`, labelled
/// with `matchLabels` (each optional but the kind).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifierSource {
    /// Kind: `GitSource`, `App`, `Job` or `Package`.
    pub kind: SourceKind,
    /// Object name; `*` or absent: every object of the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Labels the object must carry, every one with this value. Default: any labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<std::collections::BTreeMap<String, String>>,
}

/// A kind whose events a Notifier can send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SourceKind {
    /// dromos.io GitSource.
    #[default]
    GitSource,
    /// dromos.io App.
    App,
    /// dromos.io Job.
    Job,
    /// dromos.io Package.
    Package,
}

impl SourceKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitSource => "GitSource",
            Self::App => "App",
            Self::Job => "Job",
            Self::Package => "Package",
        }
    }
}

/// Where a Notifier sends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.type in ['github', 'gitlab'] || has(self.address) || has(self.secretRef)", "message": "a webhook, slack or teams target needs address, or secretRef with an `address` key", "reason": "FieldValueRequired"},
    {"rule": "!(self.type in ['github', 'gitlab']) || has(self.secretRef)", "message": "a github or gitlab target needs secretRef with a `token` key", "reason": "FieldValueRequired"}
]))]
pub struct NotifierTarget {
    /// `webhook` (JSON, signed when the Secret has `hmacKey`), `slack` (incoming webhook),
    /// `teams` (incoming webhook or workflow), `github` or `gitlab` (commit status on the
    /// revision a GitSource applied or failed to apply).
    #[serde(rename = "type")]
    pub type_: TargetType,
    /// URL posted to (webhook, slack, teams; an `address` key of the Secret wins: such URLs
    /// are credentials), or the API base URL (github: default `https://api.github.com`;
    /// gitlab: default `https://gitlab.com`). http or https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://"))]
    pub address: Option<String>,
    /// Secret of this namespace, read through `serviceAccountName`: `address` (the URL),
    /// `hmacKey` (webhook: the body is signed, header `X-Dromos-Signature: sha256=<hex>`),
    /// `token` (github, gitlab: an API token allowed to write commit statuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// github, gitlab: the repository as `owner/name` (GitLab: the full project path).
    /// Default: derived from the URL of the GitSource the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 512))]
    pub repository: Option<String>,
}

/// The kind of target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// A generic JSON webhook.
    #[default]
    Webhook,
    /// A Slack incoming webhook (or anything Slack-compatible: Mattermost, Rocket.Chat).
    Slack,
    /// A Microsoft Teams incoming webhook (MessageCard).
    Teams,
    /// GitHub commit statuses.
    Github,
    /// GitLab commit statuses.
    Gitlab,
}

impl TargetType {
    /// The type as written in `spec.target.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
        }
    }
}

/// Observed state of a Notifier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifierStatus {
    /// observedGeneration and conditions (Ready: the target and its Secret are usable).
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Notifications delivered.
    #[serde(default)]
    pub sent: i64,
    /// Notifications given up after their last attempt.
    #[serde(default)]
    pub failed: i64,
    /// Notifications dropped by the rate limit or a full queue.
    #[serde(default)]
    pub rate_limited: i64,
    /// When the last notification was delivered (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent_time: Option<String>,
    /// Time of the newest event handled (RFC 3339, microseconds): older events are never sent
    /// again, across controller restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<String>,
    /// Why the last failed notification failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

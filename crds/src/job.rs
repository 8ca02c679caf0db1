//! The Job resource: a batch job with Metronome's fields and Chronos' schedules and parents.

use crate::common::{CommonStatus, DockerSpec, EnvValue, FetchUri, Labels, SecretSource};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A batch job. `run`, `schedules` and `dependencies` are Metronome's; `schedule`,
/// `scheduleTimeZone`, `parents`, `retries` and `softError` are Chronos'. A job has at most
/// one way to be triggered: a cron schedule, an ISO 8601 schedule, or dependencies/parents
/// (or none: manual runs only).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "Job",
    plural = "jobs",
    shortname = "djob",
    category = "dromos",
    namespaced,
    status = "JobStatus",
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".status.trigger"}"#,
    printcolumn = r#"{"name":"Last","type":"string","jsonPath":".status.lastResult"}"#,
    printcolumn = r#"{"name":"Next","type":"date","jsonPath":".status.nextRunTime"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// Metronome/Chronos id, e.g. `ops.backup` or `/ops/backup`; optional, must agree with
    /// the object's namespace and name when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the job does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// What one run executes.
    pub run: JobRun,
    /// Metronome schedules (at most one): cron with `L`, `W` and `#`, an IANA time zone,
    /// a starting deadline and a concurrency policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<CronSchedule>,
    /// Metronome dependencies: this job runs after every listed job has succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<JobDependency>,
    /// Chronos schedule: ISO 8601 repeating interval `R[n]/<start>/<period>`, e.g.
    /// `R/2026-01-01T02:00:00Z/PT1H`. Bare `R` repeats forever; an empty start means now.
    /// The period is at least one second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "!self.matches('/P(0+Y)?(0+M)?(0+W)?(0+D)?(T(0+H)?(0+M)?(0*([.,][0-9]*)?S)?)?$')", "message": "the period of schedule must be at least one second (e.g. PT1S)", "reason": "FieldValueInvalid"}
    ]))]
    pub schedule: Option<String>,
    /// IANA time zone for `schedule` when its start has no offset. Default UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_time_zone: Option<String>,
    /// Chronos parents: names (or ids) of jobs in this namespace that must all succeed again
    /// since this job's last run before it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// Chronos retries after a failed run. Default 2 for Chronos-style jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub retries: Option<i32>,
    /// A failure of this job still triggers its children. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_error: Option<bool>,
    /// Chronos `disabled`: no scheduled runs; manual runs still work. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Chronos `concurrent`: allow overlapping runs. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<bool>,
}

/// One run of a job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    /// Shell command (`/bin/sh -c`). Mutually exclusive with `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// Arguments for the image entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// CPU shares. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory in MiB. Default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<f64>,
    /// Disk in MiB. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<f64>,
    /// Whole GPUs. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<f64>,
    /// Docker image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerSpec>,
    /// Universal containerizer image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ucr: Option<UcrSpec>,
    /// Environment: strings or `{secret: NAME}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Secrets by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Volumes: host paths and secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<JobVolume>,
    /// Files fetched before the task starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<FetchUri>,
    /// User the task runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Placement constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<JobPlacement>,
    /// Seconds an attempt may wait for its pod to start (Metronome's meaning, whatever
    /// triggered the run); after that the run fails (`MaxLaunchDelayExceeded`) and its batch
    /// Job is deleted. Default 3600, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_launch_delay: Option<i64>,
    /// Restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartSpec>,
    /// Seconds between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<f64>,
}

/// UCR image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UcrSpec {
    /// The image.
    pub image: UcrImage,
    /// Run privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
}

/// UCR image reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UcrImage {
    /// Image reference.
    pub id: String,
    /// `docker` (default) or `appc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Pull on every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull: Option<bool>,
}

/// A volume of a job run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobVolume {
    /// Mount path.
    pub container_path: String,
    /// Host path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// RW or RO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Secret (name in `secrets`) mounted as a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Metronome placement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPlacement {
    /// Constraints on node attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<JobConstraint>,
}

/// A Metronome constraint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobConstraint {
    /// Attribute name (`hostname`, `@zone`, `@region` or a node label).
    pub attribute: String,
    /// IS, EQ (same as IS), LIKE or UNLIKE.
    pub operator: String,
    /// Value or regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Restart behaviour of a failed run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestartSpec {
    /// NEVER (default) or ON_FAILURE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RestartPolicy>,
    /// Seconds after the run started during which failed attempts are restarted. A running
    /// attempt is never killed because of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
}

/// Restart policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestartPolicy {
    /// A failed attempt fails the run.
    Never,
    /// Failed attempts are retried.
    OnFailure,
}

/// A Metronome schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronSchedule {
    /// Schedule id. Default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Cron expression with 5 fields; `L`, `W` and `#` are allowed.
    pub cron: String,
    /// IANA time zone. Default UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Seconds from run creation to task start after which the run fails (Metronome's
    /// meaning). Default 900, at least 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// ALLOW (default) or FORBID overlapping runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// Whether the schedule fires. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Concurrency policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConcurrencyPolicy {
    /// Runs may overlap.
    Allow,
    /// A run is skipped while another is active.
    Forbid,
}

/// A Metronome dependency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobDependency {
    /// Id or name of the job this one depends on.
    pub id: String,
}

/// Observed state of a Job and its recent runs, written by the Dromos job controller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// observedGeneration and conditions.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// How the job is triggered, e.g. `cron 0 2 * * * Europe/Paris` or `after ops/backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Result of the last finished run: Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
    /// Next scheduled run (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_time: Option<String>,
    /// Runs that succeeded.
    #[serde(default)]
    pub success_count: i64,
    /// Runs that failed.
    #[serde(default)]
    pub failure_count: i64,
    /// The most recent runs, newest first: every active run and the last finished ones (10
    /// runs in all unless more are active).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<JobRunRecord>,
    /// The latest scheduled fire time the controller handled (ran, skipped or missed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<String>,
    /// Where an ISO 8601 schedule with an empty start (`R3//PT10S`) begins: when the controller
    /// first saw that schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_anchor: Option<ScheduleAnchor>,
    /// When the last successful run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<String>,
    /// When the last failed run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<String>,
    /// Completion time of each parent (or dependency) that the last dependency-triggered run
    /// consumed; a new run needs every parent to complete again after these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consumed_parents: BTreeMap<String, String>,
    /// The last manual run request handled (value of the `dromos.io/run-requested`
    /// annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_manual_request: Option<String>,
    /// The last kill request handled (value of the `dromos.io/kill-requested` annotation set
    /// by `dromos job kill`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_kill_request: Option<String>,
}

/// The start an empty-start ISO 8601 schedule was given, and the schedule it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleAnchor {
    /// The schedule text (a changed schedule gets a new anchor).
    pub schedule: String,
    /// Its start (RFC 3339).
    pub start: String,
}

/// One run in a Job's history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRunRecord {
    /// Run id: the name of its first batch/v1 Job; retries are `<id>-<attempt>`.
    pub id: String,
    /// What started it: schedule, manual or dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// When the run was due (RFC 3339); absent for manual and dependency-triggered runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    /// When the run was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When the first attempt's pod started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
    /// Active, Succeeded, Failed or Skipped.
    pub result: String,
    /// Attempts made.
    #[serde(default)]
    pub attempts: i32,
    /// When the next attempt of a failed attempt starts (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_time: Option<String>,
    /// Why the run failed or was skipped, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

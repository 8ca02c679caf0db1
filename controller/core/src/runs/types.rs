//! The values [`super::plan_runs`] reads and returns (pure data): what the cluster shows of a
//! Job's attempts and parents, and the decision with its Events.

use crate::time::Instant;
use dromos_crds::job::{JobSpec, JobStatus};

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunTrigger {
    /// A cron or ISO 8601 fire.
    Schedule,
    /// `dromos job run`.
    Manual,
    /// Parents or dependencies completed.
    Dependencies,
}

impl RunTrigger {
    /// The word used in status and annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Schedule => "schedule",
            RunTrigger::Manual => "manual",
            RunTrigger::Dependencies => "dependencies",
        }
    }

    /// Parses [`RunTrigger::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "schedule" => Some(RunTrigger::Schedule),
            "manual" => Some(RunTrigger::Manual),
            "dependencies" => Some(RunTrigger::Dependencies),
            _ => None,
        }
    }
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    /// When.
    pub at: Instant,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// The reason Kubernetes gives (e.g. `BackoffLimitExceeded: ...`).
    pub reason: String,
}

/// What the cluster shows of one attempt (a batch/v1 Job and its pod).
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptState {
    /// The batch/v1 Job name.
    pub name: String,
    /// Its run id (label `dromos.io/run`).
    pub run: String,
    /// Its attempt number (1-based).
    pub attempt: u32,
    /// What triggered the run.
    pub trigger: Option<RunTrigger>,
    /// The fire time of a scheduled run.
    pub scheduled: Option<Instant>,
    /// When the batch/v1 Job was created.
    pub created: Instant,
    /// When its pod started (the kubelet accepted it), if it did.
    pub started: Option<Instant>,
    /// How it ended, if it did.
    pub finished: Option<Finished>,
    /// Why the pod has not started (e.g. the scheduler's message), if known.
    pub waiting: Option<String>,
}

/// A parent (Chronos) or dependency (Metronome) of a Job.
#[derive(Clone, Debug, PartialEq)]
pub struct ParentState {
    /// `namespace/name`, the key in `consumedParents`.
    pub key: String,
    /// Whether the parent Job exists.
    pub found: bool,
    /// Its latest completion that counts for children: the last success, or the last failure
    /// when the parent has `softError`.
    pub completed: Option<Instant>,
}

/// Everything [`super::plan_runs`] decides from.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The Job's name (run ids start with it).
    pub name: &'a str,
    /// The Job's spec.
    pub spec: &'a JobSpec,
    /// Its recorded status.
    pub status: &'a JobStatus,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// When the Job was created: schedules and parents count from there.
    pub created: Instant,
    /// Value of the run request annotation.
    pub run_request: Option<&'a str>,
    /// Value of the kill request annotation.
    pub kill_request: Option<&'a str>,
    /// Every attempt found in the cluster.
    pub attempts: &'a [AttemptState],
    /// Attempts the status expects but the API server confirmed absent.
    pub gone: &'a [String],
    /// Parents and dependencies, resolved.
    pub parents: &'a [ParentState],
    /// The time.
    pub now: Instant,
}

/// An attempt to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAttempt {
    /// The batch/v1 Job name.
    pub name: String,
    /// Its run id.
    pub run: String,
    /// Attempt number.
    pub attempt: u32,
    /// What triggered the run.
    pub trigger: RunTrigger,
    /// Fire time of a scheduled run.
    pub scheduled: Option<Instant>,
}

/// An Event about a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEvent {
    /// Warning (else Normal).
    pub warning: bool,
    /// Reason, e.g. `RunStarted`.
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Attempts to create (before writing the status).
    pub create: Vec<NewAttempt>,
    /// batch/v1 Jobs to delete (after writing the status).
    pub delete: Vec<String>,
    /// The new status.
    pub status: JobStatus,
    /// Events to publish once the status is written.
    pub events: Vec<RunEvent>,
    /// When to reconcile again at the latest (`None`: only on a change).
    pub wake_at: Option<Instant>,
}

impl Decision {
    /// Nothing to do yet; `status` is the status being worked on.
    pub(super) fn starting_from(status: JobStatus) -> Self {
        Decision { create: vec![], delete: vec![], status, events: vec![], wake_at: None }
    }

    /// Look again at `t` at the latest.
    pub(super) fn wake_by(&mut self, t: Instant) {
        self.wake_at = Some(self.wake_at.map_or(t, |a| a.min(t)));
    }

    /// Publishes a Normal (`warning` false) or Warning Event.
    pub(super) fn event(&mut self, warning: bool, reason: &'static str, message: String) {
        self.events.push(RunEvent { warning, reason, message });
    }
}

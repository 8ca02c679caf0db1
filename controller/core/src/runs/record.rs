//! Run records in a Job's status (pure): starting a run, failing one, and which are active.

use super::types::{Decision, NewAttempt, RunTrigger};
use crate::time::{Instant, fmt_time};
use dromos_crds::job::{JobRunRecord, JobStatus};

/// Whether the status records a run with this id.
pub(super) fn has_run(status: &JobStatus, id: &str) -> bool {
    status.runs.iter().any(|r| r.id == id)
}

/// The ids of the active runs, newest first once the history is sorted.
pub(super) fn active_ids(status: &JobStatus) -> Vec<&str> {
    status.runs.iter().filter(|r| r.result == "Active").map(|r| r.id.as_str()).collect()
}

/// Starts run `id` at `now`: its first attempt, its record and a `RunStarted` Event.
pub(super) fn start_run(
    d: &mut Decision,
    now: Instant,
    id: String,
    trigger: RunTrigger,
    scheduled: Option<Instant>,
    message: Option<String>,
) {
    d.create.push(NewAttempt { name: id.clone(), run: id.clone(), attempt: 1, trigger, scheduled });
    d.status.runs.push(JobRunRecord {
        id: id.clone(),
        trigger: Some(trigger.as_str().into()),
        scheduled_time: scheduled.map(fmt_time),
        created_time: Some(fmt_time(now)),
        result: "Active".into(),
        attempts: 1,
        message,
        ..Default::default()
    });
    d.event(false, "RunStarted", format!("run {id} started ({})", trigger.as_str()));
}

/// Ends run `r` as failed at `at`, counts the failure and publishes a Warning `reason`.
/// `r` is a record taken out of `d.status` while the runs are advanced.
pub(super) fn fail_run(r: &mut JobRunRecord, d: &mut Decision, at: Instant, reason: &'static str, message: String) {
    r.result = "Failed".into();
    r.finish_time = Some(fmt_time(at));
    d.event(true, reason, format!("run {}: {message}", r.id));
    r.message = Some(message);
    d.status.failure_count += 1;
    d.status.last_failure_time = Some(fmt_time(at));
}

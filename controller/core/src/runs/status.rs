//! Conditions of a Job (pure): Ready says the last run did not fail, Reconciling that a run is
//! active, Stalled that the schedule cannot be read.

use super::policy::{describe_trigger, enabled};
use super::record::active_ids;
use super::types::Inputs;
use crate::conditions::{self, Standard, condition};
use dromos_crds::condition::{READY, RECONCILING, STALLED};
use dromos_crds::job::JobStatus;

/// The status of a Job whose schedule does not parse: no next run, Stalled.
pub(super) fn invalid_schedule(inp: &Inputs, status: &mut JobStatus, error: &str) {
    // The API server accepts what the CRD schema allows; schedule syntax is checked here.
    status.next_run_time = None;
    let message = format!("invalid schedule: {error}");
    let s = Standard { ready: false, reconciling: false, stalled: true, reason: "InvalidSchedule", message: &message };
    status.common.conditions = conditions::standard(s, inp.generation, &inp.status.common.conditions, inp.now);
}

/// Sets Ready, Reconciling and Stalled from the planned status. `scheduled`: the Job has a
/// time-based trigger; `waiting_for`: parents it waits for.
pub(super) fn set_conditions(inp: &Inputs, scheduled: bool, waiting_for: &[String], status: &mut JobStatus) {
    let (ready, reason, msg) = match status.last_result.as_deref() {
        Some("Failed") => {
            let m =
                status.runs.iter().find(|r| r.result == "Failed").and_then(|r| r.message.clone()).unwrap_or_default();
            (false, "LastRunFailed", m)
        }
        _ if !waiting_for.is_empty() => (true, "WaitingForParents", format!("waiting for {}", waiting_for.join(", "))),
        _ => match &status.next_run_time {
            Some(t) => (true, "Scheduled", format!("next run at {t}")),
            None if scheduled && enabled(inp.spec) => (true, "ScheduleComplete", "no more fires".to_string()),
            None => (true, "Idle", describe_trigger(inp.spec)),
        },
    };
    let running = active_ids(status);
    let (old, generation, now) = (&inp.status.common.conditions, inp.generation, inp.now);
    let (active_reason, active_msg) = if running.is_empty() {
        ("Idle", String::new())
    } else {
        ("RunActive", format!("active: {}", running.join(", ")))
    };
    let conditions = vec![
        condition(READY, ready, reason, &msg, generation, old, now),
        condition(RECONCILING, !running.is_empty(), active_reason, &active_msg, generation, old, now),
        condition(STALLED, false, reason, "", generation, old, now),
    ];
    status.common.conditions = conditions;
}

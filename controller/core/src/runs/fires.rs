//! Scheduled fires (pure): the latest due fire of a cron or ISO 8601 schedule runs, is skipped
//! (FORBID while a run is active) or is recorded as missed (older than the starting deadline);
//! the next fire is recorded and woken for.

use super::policy::{concurrency, enabled, starting_deadline};
use super::record::{active_ids, has_run, start_run};
use super::types::{Decision, Inputs, RunTrigger};
use crate::schedule::Trigger;
use crate::time::{Instant, fmt_time, parse_time};
use dromos_crds::job::{ConcurrencyPolicy, JobRunRecord, JobStatus, ScheduleAnchor};

/// Whether a Job has a scheduled fire that is due and not handled yet: its recorded next run
/// time lies in `(now - window, now]`. The shell uses it to let run creation go before
/// bookkeeping while many Jobs fire at once; `window` keeps a Job whose runs cannot be created
/// (its reconcile keeps failing) from holding the others' bookkeeping back for long.
pub fn fire_pending(status: &JobStatus, now: Instant, window: chrono::Duration) -> bool {
    status.next_run_time.as_deref().and_then(parse_time).is_some_and(|t| t <= now && now - t < window)
}

/// Handles the latest due fire not handled yet, and records the next one.
pub(super) fn plan_fires(
    inp: &Inputs,
    base: &str,
    trigger: Option<&(Trigger, Option<ScheduleAnchor>)>,
    d: &mut Decision,
) {
    d.status.next_run_time = None;
    d.status.schedule_anchor = None;
    let Some((trigger, anchor)) = trigger else { return };
    d.status.schedule_anchor = anchor.clone();
    if !enabled(inp.spec) {
        return;
    }
    // Fires from before the Job existed are not due.
    let baseline = inp.created - chrono::Duration::seconds(1);
    let handled = d.status.last_schedule_time.as_deref().and_then(parse_time).map_or(baseline, |h| h.max(baseline));
    if let Some(latest) = trigger.latest_at_or_before(inp.now).filter(|l| *l > handled) {
        fire(inp, base, trigger, handled, latest, d);
    }
    if let Some(next) = trigger.next_after(inp.now) {
        d.status.next_run_time = Some(fmt_time(next));
        d.wake_by(next);
    }
}

/// Fire `latest` is due and later than `handled`: run it, or record why it does not run.
fn fire(inp: &Inputs, base: &str, trigger: &Trigger, handled: Instant, latest: Instant, d: &mut Decision) {
    let now = inp.now;
    d.status.last_schedule_time = Some(fmt_time(latest));
    let missed_before = trigger.next_after(handled).is_some_and(|first| first < latest);
    let id = format!("{base}-{}", latest.timestamp());
    let deadline = starting_deadline(inp.spec);
    if now - latest > deadline {
        let msg = format!(
            "missed: due at {}, more than {} s ago (the controller was not running)",
            fmt_time(latest),
            deadline.num_seconds()
        );
        skip(d, id, latest, now, "RunMissed", msg);
    } else if concurrency(inp.spec) == ConcurrencyPolicy::Forbid && !active_ids(&d.status).is_empty() {
        let msg = format!("skipped: concurrencyPolicy FORBID and run {} is active", active_ids(&d.status).join(", "));
        skip(d, id, latest, now, "RunSkipped", msg);
    } else if active_ids(&d.status).len() >= super::MAX_ACTIVE_RUNS {
        skip(d, id, latest, now, "RunSkipped", too_many_active(&d.status));
    } else if !has_run(&d.status, &id) {
        let msg = missed_before
            .then(|| format!("catch-up run: fires between {} and {} were missed", fmt_time(handled), fmt_time(latest)));
        start_run(d, now, id, RunTrigger::Schedule, Some(latest), msg);
    }
}

/// Why a run does not start while [`super::MAX_ACTIVE_RUNS`] are active.
pub(super) fn too_many_active(status: &JobStatus) -> String {
    format!(
        "skipped: {} runs are active, the most a Job may have; runs whose pods never start end \
         after run.maxLaunchDelay, runs that hang need concurrencyPolicy FORBID",
        active_ids(status).len()
    )
}

/// Records fire `due` as skipped (once) and publishes a Warning `reason`.
fn skip(d: &mut Decision, id: String, due: Instant, now: Instant, reason: &'static str, msg: String) {
    d.event(true, reason, format!("{id}: {msg}"));
    if has_run(&d.status, &id) {
        return;
    }
    d.status.runs.push(JobRunRecord {
        id,
        trigger: Some("schedule".into()),
        scheduled_time: Some(fmt_time(due)),
        created_time: Some(fmt_time(now)),
        finish_time: Some(fmt_time(now)),
        result: "Skipped".into(),
        attempts: 0,
        message: Some(msg),
        ..Default::default()
    });
}

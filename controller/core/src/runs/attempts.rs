//! Attempts and retries (pure): adopting attempts the status does not know, and advancing
//! every active run from what its current attempt shows (success, failure and retry, a pod
//! that did not start within the starting deadline, a Job deleted under a run).

use super::names::attempt_name;
use super::policy::{max_launch_delay, retry_at, starting_deadline};
use super::record::{fail_run, has_run};
use super::types::{AttemptState, Decision, Finished, Inputs, NewAttempt, RunTrigger};
use crate::time::{Instant, fmt_time, parse_time};
use dromos_crds::job::{JobRunRecord, JobStatus};

/// Attempts the status expects to exist: the current attempt of every active run that is not
/// waiting to retry. The shell confirms with the API server those its cache lacks.
pub fn expected_attempts(status: &JobStatus) -> Vec<String> {
    status
        .runs
        .iter()
        .filter(|r| r.result == "Active" && r.retry_time.is_none() && r.attempts > 0)
        .map(|r| attempt_name(&r.id, r.attempts as u32))
        .collect()
}

/// Adopts attempts the status does not know: created just before a crash. Older finished
/// attempts (runs already dropped from the history) are not adopted, only deleted.
pub(super) fn adopt(inp: &Inputs, d: &mut Decision) {
    let status = &mut d.status;
    let newest_known = status.runs.iter().filter_map(|r| r.created_time.as_deref().and_then(parse_time)).max();
    for a in inp.attempts {
        if has_run(status, &a.run) {
            continue;
        }
        let recent = newest_known.is_none_or(|t| a.created > t);
        if a.finished.is_some() && !recent {
            d.delete.push(a.name.clone());
            continue;
        }
        if let Some(s) = a.scheduled {
            let handled = status.last_schedule_time.as_deref().and_then(parse_time);
            if handled.is_none_or(|h| s > h) {
                status.last_schedule_time = Some(fmt_time(s));
            }
        }
        status.runs.push(JobRunRecord {
            id: a.run.clone(),
            trigger: a.trigger.map(|t| t.as_str().to_string()),
            scheduled_time: a.scheduled.map(fmt_time),
            created_time: Some(fmt_time(a.created)),
            result: "Active".into(),
            attempts: a.attempt as i32,
            ..Default::default()
        });
    }
}

/// Advances every active run from what its current attempt shows.
pub(super) fn advance(inp: &Inputs, d: &mut Decision) {
    // The records leave the status while they change, so that a run and the status counters
    // can be updated together; nothing below reads the list of runs.
    let mut runs = std::mem::take(&mut d.status.runs);
    for r in runs.iter_mut().filter(|r| r.result == "Active") {
        advance_run(inp, r, d);
    }
    d.status.runs = runs;
}

fn advance_run(inp: &Inputs, r: &mut JobRunRecord, d: &mut Decision) {
    if let Some(t) = r.retry_time.as_deref().and_then(parse_time) {
        if inp.now >= t {
            retry(r, d);
        } else {
            d.wake_by(t);
        }
        return;
    }
    let n = r.attempts.max(1) as u32;
    let name = attempt_name(&r.id, n);
    let Some(a) = inp.attempts.iter().find(|a| a.name == name) else {
        if inp.gone.contains(&name) {
            let msg = format!("the Job {name} of attempt {n} was deleted before it finished");
            fail_run(r, d, inp.now, "RunFailed", msg);
        }
        return;
    };
    if r.start_time.is_none()
        && let Some(s) = a.started
    {
        r.start_time = Some(fmt_time(s));
    }
    match &a.finished {
        Some(f) if f.succeeded => succeed(r, d, n, f.at),
        Some(f) => attempt_failed(inp, r, d, n, f),
        None if a.started.is_none() => check_launch_deadline(inp, r, d, n, a),
        None => {}
    }
}

/// Starts the next attempt of a run whose retry time has come.
fn retry(r: &mut JobRunRecord, d: &mut Decision) {
    let n = r.attempts.max(0) as u32 + 1;
    d.create.push(NewAttempt {
        name: attempt_name(&r.id, n),
        run: r.id.clone(),
        attempt: n,
        trigger: r.trigger.as_deref().and_then(RunTrigger::parse).unwrap_or(RunTrigger::Manual),
        scheduled: r.scheduled_time.as_deref().and_then(parse_time),
    });
    r.attempts = n as i32;
    r.retry_time = None;
    r.message = Some(format!("attempt {n} started"));
    d.event(false, "RunRetried", format!("run {}: attempt {n} started", r.id));
}

fn succeed(r: &mut JobRunRecord, d: &mut Decision, n: u32, at: Instant) {
    r.result = "Succeeded".into();
    r.finish_time = Some(fmt_time(at));
    r.message = None;
    d.status.success_count += 1;
    d.status.last_success_time = Some(fmt_time(at));
    d.event(false, "RunSucceeded", format!("run {} succeeded after {n} attempt(s)", r.id));
}

/// Attempt `n` failed: retry later if the spec allows, else the run failed.
fn attempt_failed(inp: &Inputs, r: &mut JobRunRecord, d: &mut Decision, n: u32, f: &Finished) {
    let run_created = r.created_time.as_deref().and_then(parse_time).unwrap_or(inp.now);
    let Some(t) = retry_at(inp.spec, run_created, n, f.at) else {
        fail_run(r, d, f.at, "RunFailed", format!("attempt {n} failed: {}", f.reason));
        return;
    };
    let msg = format!("attempt {n} failed ({}); attempt {} at {}", f.reason, n + 1, fmt_time(t));
    r.retry_time = Some(fmt_time(t));
    d.wake_by(t);
    d.event(true, "AttemptFailed", format!("run {}: {msg}", r.id));
    r.message = Some(msg);
}

/// An attempt whose pod has not started: fail the run once its launch limit has passed since
/// the attempt was created, and delete its Job. The limit is `run.maxLaunchDelay`, or a
/// Metronome schedule's starting deadline for a scheduled run when that is earlier.
fn check_launch_deadline(inp: &Inputs, r: &mut JobRunRecord, d: &mut Decision, n: u32, a: &AttemptState) {
    let mut limit = (max_launch_delay(inp.spec), "MaxLaunchDelayExceeded", "run.maxLaunchDelay");
    if r.trigger.as_deref() == Some("schedule") && !inp.spec.schedules.is_empty() {
        let deadline = starting_deadline(inp.spec);
        if deadline <= limit.0 {
            limit = (deadline, "StartingDeadlineExceeded", "startingDeadlineSeconds");
        }
    }
    let (deadline, reason, field) = limit;
    // The API server keeps creation times in whole seconds: count from the end of that
    // second, so the deadline never passes early.
    let at = a.created + chrono::Duration::seconds(1) + deadline;
    if inp.now < at {
        d.wake_by(at);
        return;
    }
    let msg = format!(
        "{reason}: attempt {n} did not start within {field} ({} s) of its creation{}",
        deadline.num_seconds(),
        a.waiting.as_ref().map(|w| format!("; its pod is pending: {w}")).unwrap_or_default()
    );
    fail_run(r, d, inp.now, reason, msg);
    d.delete.push(a.name.clone());
}

//! What a Job's spec says about its runs (pure): its time-based trigger, concurrency policy,
//! whether it is enabled, its starting deadline and when a failed attempt is retried.

use super::{
    CHRONOS_DEFAULT_RETRIES, DEFAULT_MAX_LAUNCH_DELAY_SECS, DEFAULT_STARTING_DEADLINE_SECS, RETRY_BACKOFF_MAX_SECS,
    RETRY_BACKOFF_SECS,
};
use crate::schedule::{self, CronTrigger, IntervalTrigger, Start, Trigger};
use crate::time::{Instant, fmt_time, parse_time};
use dromos_crds::job::{ConcurrencyPolicy, JobSpec, JobStatus, RestartPolicy, ScheduleAnchor};

/// The time-based trigger of a spec, with the anchor of an empty-start ISO schedule.
/// `Ok(None)`: no schedule.
pub(super) fn trigger_of(
    spec: &JobSpec,
    status: &JobStatus,
    now: Instant,
) -> Result<Option<(Trigger, Option<ScheduleAnchor>)>, String> {
    if let Some(s) = spec.schedules.first() {
        return Ok(Some((Trigger::Cron(Box::new(CronTrigger::new(&s.cron, s.timezone.as_deref())?)), None)));
    }
    let Some(text) = &spec.schedule else { return Ok(None) };
    let ri = schedule::parse_iso8601(text)?;
    let tz = schedule::parse_time_zone(spec.schedule_time_zone.as_deref().unwrap_or("UTC"))?;
    let mut anchor = None;
    let start = if ri.start == Start::Now {
        let a = status
            .schedule_anchor
            .as_ref()
            .filter(|a| &a.schedule == text)
            .and_then(|a| parse_time(&a.start))
            .unwrap_or(now);
        anchor = Some(ScheduleAnchor { schedule: text.clone(), start: fmt_time(a) });
        a
    } else {
        now
    };
    Ok(Some((Trigger::Interval(IntervalTrigger::new(&ri, tz, start)), anchor)))
}

/// The concurrency policy in force: Metronome's schedule field, else Chronos `concurrent`
/// (Chronos-style jobs default to no overlap), else ALLOW.
pub fn concurrency(spec: &JobSpec) -> ConcurrencyPolicy {
    if let Some(p) = spec.schedules.first().and_then(|s| s.concurrency_policy) {
        return p;
    }
    match spec.concurrent {
        Some(true) => ConcurrencyPolicy::Allow,
        Some(false) => ConcurrencyPolicy::Forbid,
        None if is_chronos(spec) => ConcurrencyPolicy::Forbid,
        None => ConcurrencyPolicy::Allow,
    }
}

fn is_chronos(spec: &JobSpec) -> bool {
    spec.schedule.is_some() || !spec.parents.is_empty()
}

/// The text of `status.trigger`.
pub fn describe_trigger(spec: &JobSpec) -> String {
    let mut t = if let Some(s) = spec.schedules.first() {
        format!("cron {} {}", s.cron, s.timezone.as_deref().unwrap_or("UTC"))
    } else if let Some(s) = &spec.schedule {
        match &spec.schedule_time_zone {
            Some(tz) => format!("{s} {tz}"),
            None => s.clone(),
        }
    } else {
        let parents: Vec<&str> =
            spec.parents.iter().map(String::as_str).chain(spec.dependencies.iter().map(|d| d.id.as_str())).collect();
        if parents.is_empty() { "manual".to_string() } else { format!("after {}", parents.join(", ")) }
    };
    if !enabled(spec) {
        t.push_str(" (disabled)");
    }
    t
}

pub(super) fn enabled(spec: &JobSpec) -> bool {
    !spec.disabled.unwrap_or(false) && spec.schedules.first().is_none_or(|s| s.enabled.unwrap_or(true))
}

/// Whether a run may start another attempt after attempt `n` failed at `failed_at`, and when.
pub(super) fn retry_at(spec: &JobSpec, run_created: Instant, n: u32, failed_at: Instant) -> Option<Instant> {
    let backoff = RETRY_BACKOFF_SECS.saturating_mul(1i64 << (n.saturating_sub(1)).min(20)).min(RETRY_BACKOFF_MAX_SECS);
    let at = failed_at + chrono::Duration::seconds(backoff);
    let restart = spec.run.restart.as_ref();
    if restart.and_then(|r| r.policy) == Some(RestartPolicy::OnFailure) {
        // The window bounds when attempts may start; it never stops a running one.
        return match restart.and_then(|r| r.active_deadline_seconds) {
            Some(d) if at > run_created + crate::time::seconds(d) => None,
            _ => Some(at),
        };
    }
    let retries = spec.retries.unwrap_or(if is_chronos(spec) { CHRONOS_DEFAULT_RETRIES } else { 0 });
    (i64::from(n) <= i64::from(retries)).then_some(at)
}

/// The starting deadline of scheduled runs, and the catch-up window of schedules.
pub(super) fn starting_deadline(spec: &JobSpec) -> chrono::Duration {
    crate::time::seconds(
        spec.schedules.first().and_then(|s| s.starting_deadline_seconds).unwrap_or(DEFAULT_STARTING_DEADLINE_SECS),
    )
}

/// How long any attempt may wait for its pod to start: Metronome's `run.maxLaunchDelay`.
pub(super) fn max_launch_delay(spec: &JobSpec) -> chrono::Duration {
    crate::time::seconds(spec.run.max_launch_delay.unwrap_or(DEFAULT_MAX_LAUNCH_DELAY_SECS))
}

/// Whether the Job's schedule fires (not `disabled`, its Metronome schedule not `enabled: false`).
pub fn schedule_enabled(spec: &JobSpec) -> bool {
    enabled(spec)
}

/// Seconds between the next two fires of the Job's schedule after `now` (`None`: no schedule,
/// one that does not parse, or one with fewer than two fires left). For the alert "no success
/// within the expected interval".
pub fn expected_interval(spec: &JobSpec, status: &JobStatus, now: Instant) -> Option<f64> {
    let (trigger, _) = trigger_of(spec, status, now).ok()??;
    let first = trigger.next_after(now)?;
    let second = trigger.next_after(first)?;
    Some((second - first).num_milliseconds() as f64 / 1000.0)
}

//! The run state machine of a Job (pure; `now` is an argument).
//!
//! [`plan_runs`] takes a Job's spec and recorded status, what the cluster shows of its runs
//! (one batch/v1 Job per attempt), its parents' completions and the time, and decides what to
//! do: create attempts, delete attempts, the new status, Events and when to look again. The
//! shell performs the effects; creating an attempt twice is harmless because names are
//! deterministic (a scheduled run is `<job>-<unix seconds of the fire>`).
//!
//! Rules (ARCHITECTURE.md, "Job controller"):
//! * **Schedules**: a fire is due when it is later than the last handled fire and not in the
//!   future. Only the latest due fire runs: after controller downtime, at most one catch-up run,
//!   and only if its fire is within the starting deadline (Metronome's `startingDeadlineSeconds`,
//!   900 s by default and for Chronos schedules); older fires are recorded as skipped.
//! * **Concurrency**: FORBID skips a scheduled fire while a run is active (recorded as
//!   Skipped); a dependency trigger waits until the active run ends; manual runs always start.
//! * **Starting deadline** (Metronome schedules only, as in Metronome): an attempt whose pod has
//!   not started within it after the attempt was created fails the run; its Job is deleted.
//! * **Retries**: `restart.policy: ON_FAILURE` starts a new attempt after each failure while the
//!   run is younger than `activeDeadlineSeconds` (forever without it); a running attempt is never
//!   killed for it. Otherwise `retries` (Chronos; default 2 for Chronos-style jobs, 0 for
//!   Metronome jobs) further attempts. Attempt n+1 starts `10 s * 2^(n-1)` (at most 300 s)
//!   after attempt n failed.
//! * **Parents/dependencies**: a run starts once every parent has completed after the
//!   completion consumed by the previous dependency-triggered run (or after this Job was
//!   created); a completion is a success, or a failure of a parent with `softError`.

use crate::schedule::{self, CronTrigger, IntervalTrigger, Start, Trigger};
use chrono::{DateTime, SecondsFormat, Utc};
use dromos_crds::job::{ConcurrencyPolicy, JobRunRecord, JobSpec, JobStatus, RestartPolicy, ScheduleAnchor};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use sha2::{Digest, Sha256};

/// Runs kept in the status besides active ones.
pub const HISTORY_LIMIT: usize = 10;
/// Metronome's default `startingDeadlineSeconds`; also the catch-up window of Chronos schedules.
pub const DEFAULT_STARTING_DEADLINE_SECS: i64 = 900;
/// Retries of Chronos-style jobs (an ISO 8601 schedule or parents) that give none.
pub const CHRONOS_DEFAULT_RETRIES: i32 = 2;
/// Delay before the second attempt; doubles per attempt.
pub const RETRY_BACKOFF_SECS: i64 = 10;
/// Longest delay between attempts.
pub const RETRY_BACKOFF_MAX_SECS: i64 = 300;
/// Label naming the run of a batch/v1 Job.
pub const RUN_LABEL: &str = "dromos.io/run";
/// Annotation with the attempt number of a batch/v1 Job.
pub const ATTEMPT_ANNOTATION: &str = "dromos.io/attempt";
/// Annotation with what triggered the run.
pub const TRIGGER_ANNOTATION: &str = "dromos.io/trigger";
/// Annotation with the fire time of a scheduled run.
pub const SCHEDULED_ANNOTATION: &str = "dromos.io/scheduled-time";
/// Annotation on a Job asking for a manual run; its value (an RFC 3339 time) identifies the
/// request.
pub const RUN_REQUEST_ANNOTATION: &str = "dromos.io/run-requested";

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
    pub at: DateTime<Utc>,
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
    pub scheduled: Option<DateTime<Utc>>,
    /// When the batch/v1 Job was created.
    pub created: DateTime<Utc>,
    /// When its pod started (the kubelet accepted it), if it did.
    pub started: Option<DateTime<Utc>>,
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
    pub completed: Option<DateTime<Utc>>,
}

/// Everything [`plan_runs`] decides from.
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
    pub created: DateTime<Utc>,
    /// Value of the run request annotation.
    pub run_request: Option<&'a str>,
    /// Every attempt found in the cluster.
    pub attempts: &'a [AttemptState],
    /// Attempts the status expects but the API server confirmed absent.
    pub gone: &'a [String],
    /// Parents and dependencies, resolved.
    pub parents: &'a [ParentState],
    /// The time.
    pub now: DateTime<Utc>,
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
    pub scheduled: Option<DateTime<Utc>>,
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
    pub wake_at: Option<DateTime<Utc>>,
}

/// RFC 3339 with a `Z`, whole seconds unless there is a fraction.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The prefix of run ids: the Job name, shortened with a hash when a run id could exceed the
/// 63 characters a batch/v1 Job name may have.
pub fn run_base(name: &str) -> String {
    if name.len() <= 40 {
        return name.to_string();
    }
    let hash = Sha256::digest(name.as_bytes());
    let cut: String = name.chars().take(35).collect();
    format!("{}-{:02x}{:02x}", cut.trim_end_matches('-'), hash[0], hash[1])
}

/// The batch/v1 Job name of attempt `n` of a run.
pub fn attempt_name(run: &str, n: u32) -> String {
    if n <= 1 { run.to_string() } else { format!("{run}-{n}") }
}

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

/// Whether a Job has a scheduled fire that is due and not handled yet: its recorded next run
/// time lies in `(now - window, now]`. The shell uses it to let run creation go before
/// bookkeeping while many Jobs fire at once; `window` keeps a Job whose runs cannot be created
/// (its reconcile keeps failing) from holding the others' bookkeeping back for long.
pub fn fire_pending(status: &JobStatus, now: DateTime<Utc>, window: chrono::Duration) -> bool {
    status.next_run_time.as_deref().and_then(parse_time).is_some_and(|t| t <= now && now - t < window)
}

/// The time-based trigger of a spec, with the anchor of an empty-start ISO schedule.
/// `Ok(None)`: no schedule.
fn trigger_of(
    spec: &JobSpec,
    status: &JobStatus,
    now: DateTime<Utc>,
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

fn enabled(spec: &JobSpec) -> bool {
    !spec.disabled.unwrap_or(false) && spec.schedules.first().is_none_or(|s| s.enabled.unwrap_or(true))
}

/// Whether a run may start another attempt after attempt `n` failed at `failed_at`, and when.
fn retry_at(spec: &JobSpec, run_created: DateTime<Utc>, n: u32, failed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let backoff = RETRY_BACKOFF_SECS.saturating_mul(1i64 << (n.saturating_sub(1)).min(20)).min(RETRY_BACKOFF_MAX_SECS);
    let at = failed_at + chrono::Duration::seconds(backoff);
    let restart = spec.run.restart.as_ref();
    if restart.and_then(|r| r.policy) == Some(RestartPolicy::OnFailure) {
        // The window bounds when attempts may start; it never stops a running one.
        return match restart.and_then(|r| r.active_deadline_seconds) {
            Some(d) if at > run_created + chrono::Duration::seconds(d) => None,
            _ => Some(at),
        };
    }
    let retries = spec.retries.unwrap_or(if is_chronos(spec) { CHRONOS_DEFAULT_RETRIES } else { 0 });
    (i64::from(n) <= i64::from(retries)).then_some(at)
}

/// The starting deadline of scheduled runs, and the catch-up window of schedules.
fn starting_deadline(spec: &JobSpec) -> chrono::Duration {
    chrono::Duration::seconds(
        spec.schedules.first().and_then(|s| s.starting_deadline_seconds).unwrap_or(DEFAULT_STARTING_DEADLINE_SECS),
    )
}

fn condition(type_: &str, status: bool, reason: &str, message: String, inp: &Inputs) -> Condition {
    let status = if status { "True" } else { "False" };
    let last = inp
        .status
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(k8s_openapi::jiff::Timestamp::from_second(inp.now.timestamp()).unwrap_or_default()));
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.chars().take(1000).collect(),
        observed_generation: inp.generation,
        last_transition_time: last,
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// Decides the next steps of a Job. See the module documentation for the rules.
pub fn plan_runs(inp: &Inputs) -> Decision {
    let spec = inp.spec;
    let now = inp.now;
    let mut status = inp.status.clone();
    status.common.observed_generation = inp.generation;
    status.trigger = Some(describe_trigger(spec));
    let mut d =
        Decision { create: vec![], delete: vec![], status: JobStatus::default(), events: vec![], wake_at: None };
    let base = run_base(inp.name);

    let trigger = match trigger_of(spec, inp.status, now) {
        Ok(t) => t,
        Err(e) => {
            // The API server accepts what the CRD schema allows; schedule syntax is checked here.
            status.next_run_time = None;
            let msg = format!("invalid schedule: {e}");
            status.common.conditions = vec![
                condition("Ready", false, "InvalidSchedule", msg.clone(), inp),
                condition("Reconciling", false, "InvalidSchedule", String::new(), inp),
                condition("Stalled", true, "InvalidSchedule", msg, inp),
            ];
            d.status = status;
            return d;
        }
    };

    // Adopt attempts the status does not know: created just before a crash. Older finished
    // attempts (runs already dropped from the history) are not adopted, only deleted.
    let newest_known = status.runs.iter().filter_map(|r| r.created_time.as_deref().and_then(parse_time)).max();
    for a in inp.attempts {
        if status.runs.iter().any(|r| r.id == a.run) {
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

    // Advance every active run from what its current attempt shows.
    let deadline = starting_deadline(spec);
    for r in status.runs.iter_mut().filter(|r| r.result == "Active") {
        let run_created = r.created_time.as_deref().and_then(parse_time).unwrap_or(now);
        if let Some(t) = r.retry_time.as_deref().and_then(parse_time) {
            if now >= t {
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
                d.events.push(RunEvent {
                    warning: false,
                    reason: "RunRetried",
                    message: format!("run {}: attempt {n} started", r.id),
                });
            } else {
                d.wake_at = earliest(d.wake_at, t);
            }
            continue;
        }
        let n = r.attempts.max(1) as u32;
        let name = attempt_name(&r.id, n);
        let Some(a) = inp.attempts.iter().find(|a| a.name == name) else {
            if inp.gone.contains(&name) {
                r.result = "Failed".into();
                r.finish_time = Some(fmt_time(now));
                r.message = Some(format!("the Job {name} of attempt {n} was deleted before it finished"));
                status.failure_count += 1;
                status.last_failure_time = Some(fmt_time(now));
                d.events.push(RunEvent {
                    warning: true,
                    reason: "RunFailed",
                    message: format!("run {}: {}", r.id, r.message.clone().unwrap_or_default()),
                });
            }
            continue;
        };
        if r.start_time.is_none()
            && let Some(s) = a.started
        {
            r.start_time = Some(fmt_time(s));
        }
        match &a.finished {
            Some(f) if f.succeeded => {
                r.result = "Succeeded".into();
                r.finish_time = Some(fmt_time(f.at));
                r.message = None;
                status.success_count += 1;
                status.last_success_time = Some(fmt_time(f.at));
                d.events.push(RunEvent {
                    warning: false,
                    reason: "RunSucceeded",
                    message: format!("run {} succeeded after {n} attempt(s)", r.id),
                });
            }
            Some(f) => match retry_at(spec, run_created, n, f.at) {
                Some(t) => {
                    r.retry_time = Some(fmt_time(t));
                    r.message =
                        Some(format!("attempt {n} failed ({}); attempt {} at {}", f.reason, n + 1, fmt_time(t)));
                    d.wake_at = earliest(d.wake_at, t);
                    d.events.push(RunEvent {
                        warning: true,
                        reason: "AttemptFailed",
                        message: format!("run {}: {}", r.id, r.message.clone().unwrap_or_default()),
                    });
                }
                None => {
                    r.result = "Failed".into();
                    r.finish_time = Some(fmt_time(f.at));
                    r.message = Some(format!("attempt {n} failed: {}", f.reason));
                    status.failure_count += 1;
                    status.last_failure_time = Some(fmt_time(f.at));
                    d.events.push(RunEvent {
                        warning: true,
                        reason: "RunFailed",
                        message: format!("run {}: {}", r.id, r.message.clone().unwrap_or_default()),
                    });
                }
            },
            None if a.started.is_none() && r.trigger.as_deref() == Some("schedule") && !spec.schedules.is_empty() => {
                // The API server keeps creation times in whole seconds: count from the end of
                // that second, so the deadline never passes early.
                let limit = a.created + chrono::Duration::seconds(1) + deadline;
                if now >= limit {
                    r.result = "Failed".into();
                    r.finish_time = Some(fmt_time(now));
                    r.message = Some(format!(
                        "StartingDeadlineExceeded: attempt {n} did not start within startingDeadlineSeconds ({} s) of its creation{}",
                        deadline.num_seconds(),
                        a.waiting.as_ref().map(|w| format!("; its pod is pending: {w}")).unwrap_or_default()
                    ));
                    status.failure_count += 1;
                    status.last_failure_time = Some(fmt_time(now));
                    d.delete.push(a.name.clone());
                    d.events.push(RunEvent {
                        warning: true,
                        reason: "StartingDeadlineExceeded",
                        message: format!("run {}: {}", r.id, r.message.clone().unwrap_or_default()),
                    });
                } else {
                    d.wake_at = earliest(d.wake_at, limit);
                }
            }
            None => {}
        }
    }

    let active = |status: &JobStatus| status.runs.iter().any(|r| r.result == "Active");
    let policy = concurrency(spec);
    let new_run = |status: &mut JobStatus, d: &mut Decision, id: String, trig: RunTrigger, scheduled, msg| {
        d.create.push(NewAttempt { name: id.clone(), run: id.clone(), attempt: 1, trigger: trig, scheduled });
        status.runs.push(JobRunRecord {
            id: id.clone(),
            trigger: Some(trig.as_str().into()),
            scheduled_time: scheduled.map(fmt_time),
            created_time: Some(fmt_time(now)),
            result: "Active".into(),
            attempts: 1,
            message: msg,
            ..Default::default()
        });
        d.events.push(RunEvent {
            warning: false,
            reason: "RunStarted",
            message: format!("run {id} started ({})", trig.as_str()),
        });
    };

    // Manual run requests.
    if let Some(req) = inp.run_request
        && status.last_manual_request.as_deref() != Some(req)
    {
        status.last_manual_request = Some(req.to_string());
        match parse_time(req) {
            Some(t) => {
                let id = format!("{base}-m{}", t.timestamp_millis());
                if !status.runs.iter().any(|r| r.id == id) {
                    new_run(&mut status, &mut d, id, RunTrigger::Manual, None, None);
                }
            }
            None => d.events.push(RunEvent {
                warning: true,
                reason: "InvalidRunRequest",
                message: format!("annotation {RUN_REQUEST_ANNOTATION}=`{req}` is not an RFC 3339 time; no run started"),
            }),
        }
    }

    // Time-based fires.
    status.next_run_time = None;
    status.schedule_anchor = None;
    if let Some((trigger, anchor)) = &trigger {
        status.schedule_anchor = anchor.clone();
        let baseline = inp.created - chrono::Duration::seconds(1);
        let handled = status.last_schedule_time.as_deref().and_then(parse_time).map_or(baseline, |h| h.max(baseline));
        if enabled(spec) {
            if let Some(latest) = trigger.latest_at_or_before(now).filter(|l| *l > handled) {
                status.last_schedule_time = Some(fmt_time(latest));
                let missed_before = trigger.next_after(handled).is_some_and(|first| first < latest);
                let id = format!("{base}-{}", latest.timestamp());
                if now - latest > deadline {
                    let msg = format!(
                        "missed: due at {}, more than {} s ago (the controller was not running)",
                        fmt_time(latest),
                        deadline.num_seconds()
                    );
                    skipped(&mut status, &mut d, id, latest, now, "RunMissed", msg);
                } else if policy == ConcurrencyPolicy::Forbid && active(&status) {
                    let running: Vec<&str> =
                        status.runs.iter().filter(|r| r.result == "Active").map(|r| r.id.as_str()).collect();
                    let msg = format!("skipped: concurrencyPolicy FORBID and run {} is active", running.join(", "));
                    skipped(&mut status, &mut d, id, latest, now, "RunSkipped", msg);
                } else if !status.runs.iter().any(|r| r.id == id) {
                    let msg = missed_before.then(|| {
                        format!(
                            "catch-up run: fires between {} and {} were missed",
                            fmt_time(handled),
                            fmt_time(latest)
                        )
                    });
                    new_run(&mut status, &mut d, id, RunTrigger::Schedule, Some(latest), msg);
                }
            }
            if let Some(next) = trigger.next_after(now) {
                status.next_run_time = Some(fmt_time(next));
                d.wake_at = earliest(d.wake_at, next);
            }
        }
    }

    // Parents and dependencies.
    let mut waiting_for: Vec<String> = vec![];
    if !inp.parents.is_empty() && enabled(spec) {
        let baseline = inp.created;
        for p in inp.parents {
            let consumed = status.consumed_parents.get(&p.key).and_then(|s| parse_time(s)).unwrap_or(baseline);
            let fresh = p.completed.is_some_and(|c| c > consumed);
            if !p.found {
                waiting_for.push(format!("{} (not found)", p.key));
            } else if !fresh {
                waiting_for.push(p.key.clone());
            }
        }
        if waiting_for.is_empty() {
            if policy == ConcurrencyPolicy::Forbid && active(&status) {
                waiting_for.push("the active run to finish".into());
            } else {
                let last = inp.parents.iter().filter_map(|p| p.completed).max().unwrap_or(now);
                let id = format!("{base}-d{}", last.timestamp());
                for p in inp.parents {
                    if let Some(c) = p.completed {
                        status.consumed_parents.insert(p.key.clone(), fmt_time(c));
                    }
                }
                if !status.runs.iter().any(|r| r.id == id) {
                    new_run(&mut status, &mut d, id, RunTrigger::Dependencies, None, None);
                }
            }
        }
    }
    if !inp.parents.is_empty() {
        let keys: Vec<&str> = inp.parents.iter().map(|p| p.key.as_str()).collect();
        status.consumed_parents.retain(|k, _| keys.contains(&k.as_str()));
    } else {
        status.consumed_parents.clear();
    }

    // History: every active run plus the newest finished ones, newest first.
    let key = |r: &JobRunRecord| {
        r.created_time.as_deref().or(r.scheduled_time.as_deref()).and_then(parse_time).unwrap_or(now)
    };
    status.runs.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| b.id.cmp(&a.id)));
    let mut kept = Vec::with_capacity(status.runs.len());
    let mut finished = 0usize;
    let mut dropped = vec![];
    for r in std::mem::take(&mut status.runs) {
        if r.result == "Active" {
            kept.push(r);
        } else if finished < HISTORY_LIMIT {
            finished += 1;
            kept.push(r);
        } else {
            dropped.push(r.id);
        }
    }
    while kept.len() > HISTORY_LIMIT {
        match kept.iter().rposition(|r| r.result != "Active") {
            Some(i) => dropped.push(kept.remove(i).id),
            None => break,
        }
    }
    status.runs = kept;
    for a in inp.attempts {
        if dropped.contains(&a.run) && !d.delete.contains(&a.name) {
            d.delete.push(a.name.clone());
        }
    }
    status.last_result = status
        .runs
        .iter()
        .find(|r| r.result == "Succeeded" || r.result == "Failed")
        .map(|r| r.result.clone())
        .or(inp.status.last_result.clone());

    // Conditions: Ready says the last run did not fail; Reconciling that a run is active.
    let running: Vec<&str> = status.runs.iter().filter(|r| r.result == "Active").map(|r| r.id.as_str()).collect();
    let (ready, reason, msg) = match status.last_result.as_deref() {
        Some("Failed") => {
            let m =
                status.runs.iter().find(|r| r.result == "Failed").and_then(|r| r.message.clone()).unwrap_or_default();
            (false, "LastRunFailed", m)
        }
        _ if !waiting_for.is_empty() => (true, "WaitingForParents", format!("waiting for {}", waiting_for.join(", "))),
        _ => match &status.next_run_time {
            Some(t) => (true, "Scheduled", format!("next run at {t}")),
            None if trigger.is_some() && enabled(spec) => (true, "ScheduleComplete", "no more fires".to_string()),
            None => (true, "Idle", describe_trigger(spec)),
        },
    };
    status.common.conditions = vec![
        condition("Ready", ready, reason, msg, inp),
        condition(
            "Reconciling",
            !running.is_empty(),
            if running.is_empty() { "Idle" } else { "RunActive" },
            if running.is_empty() { String::new() } else { format!("active: {}", running.join(", ")) },
            inp,
        ),
        condition("Stalled", false, reason, String::new(), inp),
    ];
    d.status = status;
    d
}

fn skipped(
    status: &mut JobStatus,
    d: &mut Decision,
    id: String,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    reason: &'static str,
    msg: String,
) {
    d.events.push(RunEvent { warning: true, reason, message: format!("{id}: {msg}") });
    if status.runs.iter().any(|r| r.id == id) {
        return;
    }
    status.runs.push(JobRunRecord {
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

/// The completion of a parent that counts for its children: its last success, or its last
/// failure when it has `softError`, whichever is later.
pub fn parent_completion(parent: &JobSpec, status: Option<&JobStatus>) -> Option<DateTime<Utc>> {
    let s = status?;
    let ok = s.last_success_time.as_deref().and_then(parse_time);
    let failed =
        parent.soft_error.unwrap_or(false).then(|| s.last_failure_time.as_deref().and_then(parse_time)).flatten();
    ok.into_iter().chain(failed).max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dromos_crds::job::{CronSchedule, JobDependency, JobRun, RestartSpec};

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap_or_else(|| panic!("bad time {s}"))
    }

    fn cron(expr: &str) -> JobSpec {
        JobSpec {
            run: JobRun { cmd: Some("true".into()), ..Default::default() },
            schedules: vec![CronSchedule { cron: expr.into(), ..Default::default() }],
            ..Default::default()
        }
    }

    /// A fake cluster: attempts the decisions created, finished by the test.
    struct Sim {
        spec: JobSpec,
        status: JobStatus,
        created: DateTime<Utc>,
        attempts: Vec<AttemptState>,
        parents: Vec<ParentState>,
        request: Option<String>,
        gone: Vec<String>,
    }

    impl Sim {
        fn new(spec: JobSpec, created: &str) -> Self {
            Self {
                spec,
                status: JobStatus::default(),
                created: t(created),
                attempts: vec![],
                parents: vec![],
                request: None,
                gone: vec![],
            }
        }

        fn step(&mut self, now: &str) -> Decision {
            let now = t(now);
            let d = plan_runs(&Inputs {
                name: "backup",
                spec: &self.spec,
                status: &self.status,
                generation: Some(1),
                created: self.created,
                run_request: self.request.as_deref(),
                attempts: &self.attempts,
                gone: &self.gone,
                parents: &self.parents,
                now,
            });
            for c in &d.create {
                if !self.attempts.iter().any(|a| a.name == c.name) {
                    self.attempts.push(AttemptState {
                        name: c.name.clone(),
                        run: c.run.clone(),
                        attempt: c.attempt,
                        trigger: Some(c.trigger),
                        scheduled: c.scheduled,
                        created: now,
                        started: None,
                        finished: None,
                        waiting: None,
                    });
                }
            }
            self.attempts.retain(|a| !d.delete.contains(&a.name));
            self.status = d.status.clone();
            d
        }

        fn start(&mut self, name: &str, at: &str) {
            self.attempts.iter_mut().find(|a| a.name == name).unwrap_or_else(|| panic!("no attempt {name}")).started =
                Some(t(at));
        }

        fn finish(&mut self, name: &str, at: &str, ok: bool) {
            let a = self.attempts.iter_mut().find(|a| a.name == name).unwrap_or_else(|| panic!("no attempt {name}"));
            a.started.get_or_insert(t(at));
            a.finished = Some(Finished { at: t(at), succeeded: ok, reason: if ok { "" } else { "exit 1" }.into() });
        }

        fn results(&self) -> Vec<(String, String)> {
            self.status.runs.iter().map(|r| (r.id.clone(), r.result.clone())).collect()
        }
    }

    fn names(d: &Decision) -> Vec<&str> {
        d.create.iter().map(|c| c.name.as_str()).collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn a_fire_is_pending_from_its_time_until_the_window_closes() {
        let at = |s: &str| parse_time(s).unwrap();
        let status = JobStatus { next_run_time: Some("2026-05-01T10:00:00Z".into()), ..Default::default() };
        let w = chrono::Duration::seconds(10);
        assert!(!fire_pending(&status, at("2026-05-01T09:59:59Z"), w), "not due yet");
        assert!(fire_pending(&status, at("2026-05-01T10:00:00Z"), w));
        assert!(fire_pending(&status, at("2026-05-01T10:00:09.900Z"), w));
        assert!(!fire_pending(&status, at("2026-05-01T10:00:10Z"), w), "window closed");
        assert!(!fire_pending(&JobStatus::default(), at("2026-05-01T10:00:00Z"), w), "no schedule");
    }

    #[test]
    fn a_cron_job_fires_once_per_fire_and_records_the_result() {
        let mut s = Sim::new(cron("*/10 * * * *"), "2026-05-01T10:03:00Z");
        let d = s.step("2026-05-01T10:04:00Z");
        assert!(d.create.is_empty());
        assert_eq!(d.wake_at, Some(t("2026-05-01T10:10:00Z")));
        assert_eq!(s.status.next_run_time.as_deref(), Some("2026-05-01T10:10:00Z"));
        let d = s.step("2026-05-01T10:10:00.300Z");
        assert_eq!(names(&d), vec!["backup-1777630200"]);
        assert_eq!(d.create[0].scheduled, Some(t("2026-05-01T10:10:00Z")));
        // A second look at the same moment (or with a stale cache) creates nothing new.
        assert!(s.step("2026-05-01T10:10:01Z").create.is_empty());
        s.finish("backup-1777630200", "2026-05-01T10:11:00Z", true);
        let d = s.step("2026-05-01T10:11:01Z");
        assert_eq!(d.events.iter().map(|e| e.reason).collect::<Vec<_>>(), vec!["RunSucceeded"]);
        assert_eq!(s.status.success_count, 1);
        assert_eq!(s.status.last_result.as_deref(), Some("Succeeded"));
        assert_eq!(s.status.runs[0].start_time.as_deref(), Some("2026-05-01T10:11:00Z"));
        assert_eq!(s.status.runs[0].finish_time.as_deref(), Some("2026-05-01T10:11:00Z"));
        // Another look changes nothing.
        let before = s.status.clone();
        let d = s.step("2026-05-01T10:12:00Z");
        assert!(d.create.is_empty() && d.events.is_empty());
        assert_eq!(s.status, before);
    }

    #[test]
    fn a_new_job_does_not_run_fires_from_before_it_existed() {
        let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T10:20:00Z");
        assert!(s.step("2026-05-01T10:20:01Z").create.is_empty());
        assert!(s.status.runs.is_empty());
    }

    #[test]
    fn forbid_skips_a_fire_while_a_run_is_active_and_allow_overlaps() {
        let mut spec = cron("* * * * *");
        spec.schedules[0].concurrency_policy = Some(ConcurrencyPolicy::Forbid);
        let mut s = Sim::new(spec.clone(), "2026-05-01T09:00:00Z");
        assert_eq!(names(&s.step("2026-05-01T10:00:00Z")), vec!["backup-1777629600"]);
        s.start("backup-1777629600", "2026-05-01T10:00:02Z");
        let d = s.step("2026-05-01T10:01:00Z");
        assert!(d.create.is_empty());
        assert_eq!(d.events[0].reason, "RunSkipped");
        assert_eq!(s.results(), pairs(&[("backup-1777629660", "Skipped"), ("backup-1777629600", "Active")]));
        assert!(s.status.runs[0].message.as_deref().unwrap().contains("FORBID"));

        let mut s = Sim::new(cron("* * * * *"), "2026-05-01T09:00:00Z");
        s.step("2026-05-01T10:00:00Z");
        assert_eq!(names(&s.step("2026-05-01T10:01:00Z")), vec!["backup-1777629660"]);
    }

    #[test]
    fn after_downtime_at_most_one_catch_up_run_within_the_starting_deadline() {
        // Every 5 minutes; down from 10:02 to 10:33. Fires 10:05..10:30 were missed; 10:30 is
        // within the 900 s deadline: one run for it, nothing for the others.
        let mut s = Sim::new(cron("*/5 * * * *"), "2026-05-01T09:00:00Z");
        s.step("2026-05-01T10:00:00Z");
        s.finish("backup-1777629600", "2026-05-01T10:01:00Z", true);
        s.step("2026-05-01T10:02:00Z");
        let d = s.step("2026-05-01T10:33:00Z");
        assert_eq!(names(&d), vec!["backup-1777631400"]);
        assert!(s.status.runs[0].message.as_deref().unwrap().starts_with("catch-up run"));
        // Hourly; down over the 11:00 fire for 16 minutes: more than 900 s late, not run.
        let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T10:30:00Z");
        s.step("2026-05-01T10:50:00Z");
        let d = s.step("2026-05-01T11:16:00Z");
        assert!(d.create.is_empty());
        assert_eq!(d.events[0].reason, "RunMissed");
        assert_eq!(s.results(), pairs(&[("backup-1777633200", "Skipped")]));
        assert_eq!(s.status.next_run_time.as_deref(), Some("2026-05-01T12:00:00Z"));
        // With a longer deadline the same outage gets its catch-up run.
        let mut spec = cron("0 * * * *");
        spec.schedules[0].starting_deadline_seconds = Some(3600);
        let mut s = Sim::new(spec, "2026-05-01T10:30:00Z");
        s.step("2026-05-01T10:50:00Z");
        assert_eq!(names(&s.step("2026-05-01T11:16:00Z")), vec!["backup-1777633200"]);
    }

    #[test]
    fn a_run_whose_pod_does_not_start_in_time_fails_with_the_reason() {
        let mut spec = cron("0 * * * *");
        spec.schedules[0].starting_deadline_seconds = Some(60);
        let mut s = Sim::new(spec, "2026-05-01T09:30:00Z");
        s.step("2026-05-01T10:00:00Z");
        s.attempts[0].waiting = Some("0/4 nodes are available: 4 node(s) didn't match node affinity".into());
        let d = s.step("2026-05-01T10:01:00Z");
        assert_eq!(d.wake_at, Some(t("2026-05-01T10:01:01Z")));
        assert!(d.delete.is_empty());
        let d = s.step("2026-05-01T10:01:01Z");
        assert_eq!(d.delete, vec!["backup-1777629600"]);
        assert_eq!(s.status.failure_count, 1);
        let msg = s.status.runs[0].message.clone().unwrap();
        assert!(
            msg.starts_with("StartingDeadlineExceeded: attempt 1 did not start within startingDeadlineSeconds (60 s)")
        );
        assert!(msg.contains("didn't match node affinity"), "{msg}");
        assert_eq!(d.events[0].reason, "StartingDeadlineExceeded");
        let ready = &s.status.common.conditions[0];
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "LastRunFailed"));
    }

    #[test]
    fn chronos_retries_back_off_then_fail() {
        let spec = JobSpec {
            run: JobRun { cmd: Some("false".into()), ..Default::default() },
            schedule: Some("R1/2026-05-01T10:00:00Z/PT1H".into()),
            ..Default::default()
        };
        let mut s = Sim::new(spec, "2026-05-01T09:00:00Z");
        assert_eq!(names(&s.step("2026-05-01T10:00:00Z")), vec!["backup-1777629600"]);
        s.finish("backup-1777629600", "2026-05-01T10:00:05Z", false);
        let d = s.step("2026-05-01T10:00:06Z");
        assert_eq!(d.wake_at, Some(t("2026-05-01T10:00:15Z")));
        assert_eq!(s.status.runs[0].retry_time.as_deref(), Some("2026-05-01T10:00:15Z"));
        assert!(s.step("2026-05-01T10:00:14Z").create.is_empty());
        assert_eq!(names(&s.step("2026-05-01T10:00:15Z")), vec!["backup-1777629600-2"]);
        s.finish("backup-1777629600-2", "2026-05-01T10:00:20Z", false);
        assert_eq!(s.step("2026-05-01T10:00:21Z").wake_at, Some(t("2026-05-01T10:00:40Z")));
        assert_eq!(names(&s.step("2026-05-01T10:00:40Z")), vec!["backup-1777629600-3"]);
        s.finish("backup-1777629600-3", "2026-05-01T10:00:45Z", false);
        s.step("2026-05-01T10:00:46Z");
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
        assert_eq!(s.status.runs[0].attempts, 3);
        assert_eq!((s.status.failure_count, s.status.success_count), (1, 0));
        assert!(s.status.runs[0].message.as_deref().unwrap().contains("attempt 3 failed: exit 1"));
    }

    #[test]
    fn on_failure_retries_inside_the_active_deadline_and_never_kills_a_running_attempt() {
        let mut spec = cron("0 * * * *");
        spec.run.restart =
            Some(RestartSpec { policy: Some(RestartPolicy::OnFailure), active_deadline_seconds: Some(30) });
        let mut s = Sim::new(spec, "2026-05-01T09:30:00Z");
        s.step("2026-05-01T10:00:00Z");
        s.finish("backup-1777629600", "2026-05-01T10:00:05Z", false);
        s.step("2026-05-01T10:00:05Z");
        assert_eq!(names(&s.step("2026-05-01T10:00:15Z")), vec!["backup-1777629600-2"]);
        // Attempt 2 still runs after the window closed: nothing kills it.
        s.start("backup-1777629600-2", "2026-05-01T10:00:16Z");
        let d = s.step("2026-05-01T10:00:50Z");
        assert!(d.delete.is_empty() && d.create.is_empty());
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Active")]));
        // It fails after the window: no attempt 3.
        s.finish("backup-1777629600-2", "2026-05-01T10:01:00Z", false);
        let d = s.step("2026-05-01T10:01:01Z");
        assert!(d.create.is_empty());
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
        // A Metronome NEVER job does not retry.
        let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T09:30:00Z");
        s.step("2026-05-01T10:00:00Z");
        s.finish("backup-1777629600", "2026-05-01T10:00:05Z", false);
        s.step("2026-05-01T10:00:06Z");
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
    }

    #[test]
    fn an_r3_interval_with_an_empty_start_runs_three_times_and_stops() {
        let spec = JobSpec {
            run: JobRun { cmd: Some("true".into()), ..Default::default() },
            schedule: Some("R3//PT10S".into()),
            ..Default::default()
        };
        let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
        let d = s.step("2026-05-01T10:00:01Z");
        assert_eq!(names(&d), vec!["backup-1777629601"]);
        assert_eq!(s.status.schedule_anchor.as_ref().map(|a| a.start.as_str()), Some("2026-05-01T10:00:01Z"));
        assert_eq!(d.wake_at, Some(t("2026-05-01T10:00:11Z")));
        s.finish("backup-1777629601", "2026-05-01T10:00:03Z", true);
        assert_eq!(names(&s.step("2026-05-01T10:00:11Z")), vec!["backup-1777629611"]);
        s.finish("backup-1777629611", "2026-05-01T10:00:13Z", true);
        let d = s.step("2026-05-01T10:00:21Z");
        assert_eq!(names(&d), vec!["backup-1777629621"]);
        assert_eq!(d.wake_at, None);
        s.finish("backup-1777629621", "2026-05-01T10:00:23Z", true);
        let d = s.step("2026-05-01T10:05:00Z");
        assert!(d.create.is_empty());
        assert_eq!(s.status.success_count, 3);
        assert_eq!(s.status.next_run_time, None);
        assert_eq!(s.status.common.conditions[0].reason, "ScheduleComplete");
    }

    #[test]
    fn children_run_once_every_parent_completed_again() {
        let spec = JobSpec {
            run: JobRun { cmd: Some("true".into()), ..Default::default() },
            parents: vec!["a".into()],
            dependencies: vec![JobDependency { id: "b".into() }],
            ..Default::default()
        };
        let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
        let parent = |key: &str, at: Option<&str>| ParentState { key: key.into(), found: true, completed: at.map(t) };
        // A completion from before the child existed does not count.
        s.parents = vec![parent("ops/a", Some("2026-05-01T09:00:00Z")), parent("ops/b", None)];
        let d = s.step("2026-05-01T10:01:00Z");
        assert!(d.create.is_empty());
        assert_eq!(s.status.common.conditions[0].message, "waiting for ops/a, ops/b");
        s.parents = vec![parent("ops/a", Some("2026-05-01T10:02:00Z")), parent("ops/b", None)];
        assert!(s.step("2026-05-01T10:02:01Z").create.is_empty());
        s.parents = vec![parent("ops/a", Some("2026-05-01T10:02:00Z")), parent("ops/b", Some("2026-05-01T10:03:00Z"))];
        assert_eq!(names(&s.step("2026-05-01T10:03:01Z")), vec!["backup-d1777629780"]);
        assert_eq!(s.status.consumed_parents.get("ops/a").map(String::as_str), Some("2026-05-01T10:02:00Z"));
        s.finish("backup-d1777629780", "2026-05-01T10:04:00Z", true);
        // Only one parent ran again: wait for the other.
        s.parents = vec![parent("ops/a", Some("2026-05-01T10:05:00Z")), parent("ops/b", Some("2026-05-01T10:03:00Z"))];
        assert!(s.step("2026-05-01T10:05:01Z").create.is_empty());
        s.parents = vec![parent("ops/a", Some("2026-05-01T10:05:00Z")), parent("ops/b", Some("2026-05-01T10:06:00Z"))];
        assert_eq!(names(&s.step("2026-05-01T10:06:01Z")), vec!["backup-d1777629960"]);
        // A missing parent is named.
        s.parents = vec![ParentState { key: "ops/a".into(), found: false, completed: None }];
        s.step("2026-05-01T10:07:00Z");
        assert!(s.status.common.conditions[0].message.contains("ops/a (not found)"));
    }

    #[test]
    fn soft_error_lets_a_failed_parent_count() {
        let status = JobStatus {
            last_success_time: Some("2026-05-01T10:00:00Z".into()),
            last_failure_time: Some("2026-05-01T11:00:00Z".into()),
            ..Default::default()
        };
        let mut parent = cron("0 * * * *");
        assert_eq!(parent_completion(&parent, Some(&status)), Some(t("2026-05-01T10:00:00Z")));
        parent.soft_error = Some(true);
        assert_eq!(parent_completion(&parent, Some(&status)), Some(t("2026-05-01T11:00:00Z")));
        assert_eq!(parent_completion(&parent, None), None);
    }

    #[test]
    fn manual_runs_start_once_per_request_even_under_forbid() {
        let mut spec = cron("0 0 1 1 *");
        spec.schedules[0].concurrency_policy = Some(ConcurrencyPolicy::Forbid);
        let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
        s.request = Some("2026-05-01T10:00:05.123Z".into());
        assert_eq!(names(&s.step("2026-05-01T10:00:06Z")), vec!["backup-m1777629605123"]);
        assert!(s.step("2026-05-01T10:00:07Z").create.is_empty());
        s.request = Some("2026-05-01T10:00:08Z".into());
        assert_eq!(names(&s.step("2026-05-01T10:00:09Z")), vec!["backup-m1777629608000"]);
        assert_eq!(s.status.runs.len(), 2);
        assert_eq!(s.status.runs[0].trigger.as_deref(), Some("manual"));
        s.request = Some("yesterday".into());
        assert_eq!(s.step("2026-05-01T10:00:10Z").events[0].reason, "InvalidRunRequest");
    }

    #[test]
    fn history_keeps_the_last_ten_finished_runs_and_deletes_older_jobs() {
        let mut s = Sim::new(cron("* * * * *"), "2026-05-01T09:00:00Z");
        let mut deleted = vec![];
        for m in 0..12 {
            let now = format!("2026-05-01T10:{m:02}:00Z");
            let d = s.step(&now);
            deleted.extend(d.delete);
            let name = d.create[0].name.clone();
            s.finish(&name, &format!("2026-05-01T10:{m:02}:30Z"), true);
        }
        deleted.extend(s.step("2026-05-01T10:11:45Z").delete);
        assert_eq!(s.status.runs.len(), 10);
        assert_eq!(s.status.runs[0].id, "backup-1777630260");
        assert_eq!(s.status.success_count, 12);
        assert_eq!(deleted, vec!["backup-1777629600", "backup-1777629660"]);
        // Deleted runs are not adopted back.
        s.attempts.push(AttemptState {
            name: "backup-1777629600".into(),
            run: "backup-1777629600".into(),
            attempt: 1,
            trigger: Some(RunTrigger::Schedule),
            scheduled: Some(t("2026-05-01T10:00:00Z")),
            created: t("2026-05-01T10:00:00Z"),
            started: None,
            finished: Some(Finished { at: t("2026-05-01T10:00:30Z"), succeeded: true, reason: String::new() }),
            waiting: None,
        });
        let d = s.step("2026-05-01T10:11:50Z");
        assert_eq!(d.delete, vec!["backup-1777629600"]);
        assert_eq!(s.status.success_count, 12);
    }

    #[test]
    fn attempts_created_before_a_crash_are_adopted_and_deleted_ones_fail_the_run() {
        let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T09:30:00Z");
        s.attempts.push(AttemptState {
            name: "backup-1777629600".into(),
            run: "backup-1777629600".into(),
            attempt: 1,
            trigger: Some(RunTrigger::Schedule),
            scheduled: Some(t("2026-05-01T10:00:00Z")),
            created: t("2026-05-01T10:00:00Z"),
            started: None,
            finished: None,
            waiting: None,
        });
        let d = s.step("2026-05-01T10:00:02Z");
        assert!(d.create.is_empty(), "{d:?}");
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Active")]));
        assert_eq!(expected_attempts(&s.status), vec!["backup-1777629600"]);
        s.attempts.clear();
        s.step("2026-05-01T10:00:03Z");
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Active")]), "a cache miss alone is not a loss");
        s.gone = vec!["backup-1777629600".into()];
        s.step("2026-05-01T10:00:04Z");
        assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
        assert!(s.status.runs[0].message.as_deref().unwrap().contains("was deleted"));
    }

    #[test]
    fn disabled_jobs_and_invalid_schedules_do_not_fire() {
        let mut spec = cron("* * * * *");
        spec.schedules[0].enabled = Some(false);
        let mut s = Sim::new(spec, "2026-05-01T09:00:00Z");
        assert!(s.step("2026-05-01T10:00:00Z").create.is_empty());
        assert_eq!(s.status.next_run_time, None);
        assert_eq!(s.status.trigger.as_deref(), Some("cron * * * * * UTC (disabled)"));
        let mut s = Sim::new(cron("61 * * * *"), "2026-05-01T09:00:00Z");
        let d = s.step("2026-05-01T10:00:00Z");
        assert!(d.create.is_empty());
        let stalled = &s.status.common.conditions[2];
        assert_eq!((stalled.type_.as_str(), stalled.status.as_str()), ("Stalled", "True"));
    }

    #[test]
    fn long_names_give_run_ids_that_fit_a_job_name() {
        let long = "a".repeat(63);
        let id = format!("{}-m{}", run_base(&long), 1_777_629_605_123u64);
        assert!(attempt_name(&id, 99).len() <= 63, "{id}");
        assert_ne!(run_base(&long), run_base(&"a".repeat(62)));
    }
}

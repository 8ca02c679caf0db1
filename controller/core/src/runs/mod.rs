//! The run state machine of a Job (pure; `now` is an argument).
//!
//! [`plan_runs`] takes a Job's spec and recorded status, what the cluster shows of its runs
//! (one batch/v1 Job per attempt), its parents' completions and the time, and decides what to
//! do: create attempts, delete attempts, the new status, Events and when to look again. The
//! shell performs the effects; creating an attempt twice is harmless because names are
//! deterministic (a scheduled run is `<job>-<unix seconds of the fire>`).
//!
//! Rules (docs/dcos/jobs.md):
//! * **Schedules**: a fire is due when it is later than the last handled fire and not in the
//!   future. Only the latest due fire runs: after controller downtime, at most one catch-up run,
//!   and only if its fire is within the starting deadline (Metronome's `startingDeadlineSeconds`,
//!   900 s by default and for Chronos schedules); older fires are recorded as skipped.
//! * **Concurrency**: FORBID skips a scheduled fire while a run is active (recorded as
//!   Skipped); a dependency trigger waits until the active run ends; manual runs always start.
//! * **Starting deadline** (Metronome schedules only, as in Metronome): an attempt whose pod has
//!   not started within it after the attempt was created fails the run; its Job is deleted.
//! * **Launch delay** (Metronome's `run.maxLaunchDelay`, default 3600 s, every trigger): the
//!   same for any attempt, whatever started its run; the earlier of the two limits applies.
//! * **Retries**: `restart.policy: ON_FAILURE` starts a new attempt after each failure while the
//!   run is younger than `activeDeadlineSeconds` (forever without it); a running attempt is never
//!   killed for it. Otherwise `retries` (Chronos; default 2 for Chronos-style jobs, 0 for
//!   Metronome jobs) further attempts. Attempt n+1 starts `10 s * 2^(n-1)` (at most 300 s)
//!   after attempt n failed.
//! * **Parents/dependencies**: a run starts once every parent has completed after the
//!   completion consumed by the previous dependency-triggered run (or after this Job was
//!   created); a completion is a success, or a failure of a parent with `softError`.
//!
//! Each rule has its module; [`plan_runs`] runs them in order on one [`Decision`].

mod attempts;
mod fires;
mod history;
mod kill;
mod manual;
mod names;
mod parents;
mod policy;
mod record;
mod status;
mod types;

pub use attempts::expected_attempts;
pub use fires::fire_pending;
pub use kill::{KillRequest, kill_request_value, parse_kill_request};
pub use names::{attempt_name, run_base};
pub use parents::parent_completion;
pub use policy::{concurrency, describe_trigger, expected_interval, schedule_enabled};
// Kept for callers that read and write run times through this module (the shell's jobs
// operator); `crate::time` is where they live.
pub use crate::time::{fmt_time, parse_time};
pub use types::{AttemptState, Decision, Finished, Inputs, NewAttempt, ParentState, RunEvent, RunTrigger};

/// Runs kept in the status besides active ones.
pub const HISTORY_LIMIT: usize = 10;
/// The most runs a Job may have active at once, whatever its concurrency policy: with ALLOW,
/// runs that hang would otherwise pile up (and the status that lists them grow toward etcd's
/// object limit). A run due while this many are active is skipped and says why.
pub const MAX_ACTIVE_RUNS: usize = 20;
/// Metronome's default `startingDeadlineSeconds`; also the catch-up window of Chronos schedules.
pub const DEFAULT_STARTING_DEADLINE_SECS: i64 = 900;
/// Metronome's default `run.maxLaunchDelay`: seconds an attempt may wait for its pod to start.
pub const DEFAULT_MAX_LAUNCH_DELAY_SECS: i64 = 3600;
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
/// Annotation on a Job asking to stop active runs (`dromos job kill`): `<RFC 3339 time>` stops
/// every active run, `<RFC 3339 time> <run id>` one; each new value is one request.
pub const KILL_REQUEST_ANNOTATION: &str = "dromos.io/kill-requested";

/// The next `n` scheduled fire times of a Job strictly after `now` (at most 100), in UTC;
/// empty when it has no time-based schedule, `Err` when its schedule does not parse. What the
/// web UI shows as the next runs; the job controller computes its own from the same trigger.
pub fn next_runs(
    spec: &dromos_crds::job::JobSpec,
    status: &dromos_crds::job::JobStatus,
    now: crate::time::Instant,
    n: usize,
) -> Result<Vec<crate::time::Instant>, String> {
    let Some((trigger, _)) = policy::trigger_of(spec, status, now)? else { return Ok(vec![]) };
    let mut out = vec![];
    let mut t = now;
    while out.len() < n.min(100) {
        match trigger.next_after(t) {
            Some(next) if next > t => {
                out.push(next);
                t = next;
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Decides the next steps of a Job. See the module documentation for the rules.
pub fn plan_runs(inp: &Inputs) -> Decision {
    let mut d = Decision::starting_from(inp.status.clone());
    d.status.common.observed_generation = inp.generation;
    d.status.trigger = Some(describe_trigger(inp.spec));
    let trigger = match policy::trigger_of(inp.spec, inp.status, inp.now) {
        Ok(t) => t,
        Err(e) => {
            status::invalid_schedule(inp, &mut d.status, &e);
            return d;
        }
    };
    let base = run_base(inp.name);
    attempts::adopt(inp, &mut d);
    attempts::advance(inp, &mut d);
    kill::plan_kill(inp, &mut d);
    manual::plan_manual(inp, &base, &mut d);
    fires::plan_fires(inp, &base, trigger.as_ref(), &mut d);
    let waiting_for = parents::plan_parents(inp, &base, &mut d);
    history::trim_history(inp, &mut d);
    status::set_conditions(inp, trigger.is_some(), &waiting_for, &mut d.status);
    d
}

#[cfg(test)]
mod tests;

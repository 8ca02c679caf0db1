//! Parents and dependencies (pure): a run starts once every parent has completed after the
//! completion the previous dependency-triggered run consumed (or after the Job was created).

use super::policy::{concurrency, enabled};
use super::record::{active_ids, has_run, start_run};
use super::types::{Decision, Inputs, RunTrigger};
use crate::time::{Instant, fmt_time, parse_time};
use dromos_crds::job::{ConcurrencyPolicy, JobSpec, JobStatus};

/// The completion of a parent that counts for its children: its last success, or its last
/// failure when it has `softError`, whichever is later.
pub fn parent_completion(parent: &JobSpec, status: Option<&JobStatus>) -> Option<Instant> {
    let s = status?;
    let ok = s.last_success_time.as_deref().and_then(parse_time);
    let failed =
        parent.soft_error.unwrap_or(false).then(|| s.last_failure_time.as_deref().and_then(parse_time)).flatten();
    ok.into_iter().chain(failed).max()
}

/// Starts a dependency-triggered run when every parent completed again; returns what the Job
/// still waits for (empty when it waits for nothing).
pub(super) fn plan_parents(inp: &Inputs, base: &str, d: &mut Decision) -> Vec<String> {
    let mut waiting_for = vec![];
    if !inp.parents.is_empty() && enabled(inp.spec) {
        waiting_for = unmet(inp, &d.status);
        if waiting_for.is_empty() {
            let active = active_ids(&d.status).len();
            if concurrency(inp.spec) == ConcurrencyPolicy::Forbid && active > 0 {
                waiting_for.push("the active run to finish".into());
            } else if active >= super::MAX_ACTIVE_RUNS {
                waiting_for.push(format!("fewer than {active} active runs"));
            } else {
                consume(inp, base, d);
            }
        }
    }
    if !inp.parents.is_empty() {
        let keys: Vec<&str> = inp.parents.iter().map(|p| p.key.as_str()).collect();
        d.status.consumed_parents.retain(|k, _| keys.contains(&k.as_str()));
    } else {
        d.status.consumed_parents.clear();
    }
    waiting_for
}

/// The parents without a completion newer than the one consumed, and those not found.
fn unmet(inp: &Inputs, status: &JobStatus) -> Vec<String> {
    let mut waiting_for = vec![];
    for p in inp.parents {
        let consumed = status.consumed_parents.get(&p.key).and_then(|s| parse_time(s)).unwrap_or(inp.created);
        let fresh = p.completed.is_some_and(|c| c > consumed);
        if !p.found {
            waiting_for.push(format!("{} (not found)", p.key));
        } else if !fresh {
            waiting_for.push(p.key.clone());
        }
    }
    waiting_for
}

/// Consumes every parent's completion and starts the run they trigger (once).
fn consume(inp: &Inputs, base: &str, d: &mut Decision) {
    let last = inp.parents.iter().filter_map(|p| p.completed).max().unwrap_or(inp.now);
    let id = format!("{base}-d{}", last.timestamp());
    for p in inp.parents {
        if let Some(c) = p.completed {
            d.status.consumed_parents.insert(p.key.clone(), fmt_time(c));
        }
    }
    if !has_run(&d.status, &id) {
        start_run(d, inp.now, id, RunTrigger::Dependencies, None, None);
    }
}

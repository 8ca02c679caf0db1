//! Run history (pure): every active run plus the newest finished ones, newest first; the
//! batch/v1 Jobs of runs dropped from it are deleted.

use super::HISTORY_LIMIT;
use super::types::{Decision, Inputs};
use crate::time::parse_time;
use dromos_crds::job::JobRunRecord;

/// Sorts and trims the history, deletes the attempts of dropped runs and records the result
/// of the newest finished run.
pub(super) fn trim_history(inp: &Inputs, d: &mut Decision) {
    let key = |r: &JobRunRecord| {
        r.created_time.as_deref().or(r.scheduled_time.as_deref()).and_then(parse_time).unwrap_or(inp.now)
    };
    let status = &mut d.status;
    status.runs.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| b.id.cmp(&a.id)));
    let (kept, dropped) = keep_newest(std::mem::take(&mut status.runs));
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
}

/// Splits runs sorted newest first into those kept and the ids of those dropped.
fn keep_newest(runs: Vec<JobRunRecord>) -> (Vec<JobRunRecord>, Vec<String>) {
    let mut kept = Vec::with_capacity(runs.len());
    let mut finished = 0usize;
    let mut dropped = vec![];
    for r in runs {
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
    (kept, dropped)
}

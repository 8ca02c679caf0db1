//! Kill requests (pure): `dromos job kill` sets the kill request annotation; each new value
//! stops the active runs it names (Metronome's "stop a run"): their current attempt's batch Job
//! is deleted, a pending retry is dropped, and the run is recorded as failed (`RunKilled`),
//! never retried.

use super::KILL_REQUEST_ANNOTATION;
use super::record::fail_run;
use super::types::{Decision, Inputs};
use crate::time::parse_time;

/// A kill request: when it was made and which run it stops (`None`: every active run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillRequest<'a> {
    /// The RFC 3339 time of the request (identifies it).
    pub at: &'a str,
    /// The run to stop, or every active run.
    pub run: Option<&'a str>,
}

/// Parses the annotation value: `<RFC 3339 time>` or `<RFC 3339 time> <run id>`.
pub fn parse_kill_request(value: &str) -> Option<KillRequest<'_>> {
    let (at, run) = match value.split_once(' ') {
        Some((at, run)) if !run.trim().is_empty() && !run.contains(' ') => (at, Some(run)),
        Some(_) => return None,
        None => (value, None),
    };
    parse_time(at).map(|_| KillRequest { at, run })
}

/// The annotation value of a request.
pub fn kill_request_value(at: &str, run: Option<&str>) -> String {
    match run {
        Some(r) => format!("{at} {r}"),
        None => at.to_string(),
    }
}

/// Stops the runs a new kill request names. Runs after the attempts advanced, so an attempt
/// that finished before the request is recorded as it ended, not as killed.
pub(super) fn plan_kill(inp: &Inputs, d: &mut Decision) {
    let Some(value) = inp.kill_request else { return };
    if d.status.last_kill_request.as_deref() == Some(value) {
        return;
    }
    d.status.last_kill_request = Some(value.to_string());
    let Some(req) = parse_kill_request(value) else {
        let why = format!(
            "annotation {KILL_REQUEST_ANNOTATION}=`{value}` is not `<RFC 3339 time>` or `<RFC 3339 time> <run id>`; nothing killed"
        );
        d.event(true, "InvalidKillRequest", why);
        return;
    };
    let mut runs = std::mem::take(&mut d.status.runs);
    let mut killed = 0;
    for r in runs.iter_mut().filter(|r| r.result == "Active" && req.run.is_none_or(|id| r.id == id)) {
        // The current attempt (and one this reconcile was about to start) goes.
        for a in inp.attempts.iter().filter(|a| a.run == r.id && a.finished.is_none()) {
            if !d.delete.contains(&a.name) {
                d.delete.push(a.name.clone());
            }
        }
        d.create.retain(|c| c.run != r.id);
        r.retry_time = None;
        fail_run(r, d, inp.now, "RunKilled", format!("killed by request at {}", req.at));
        killed += 1;
    }
    d.status.runs = runs;
    if killed == 0 {
        let what = req.run.map_or("no run is active".to_string(), |id| format!("run {id} is not active"));
        d.event(false, "KillRequestIgnored", format!("kill request at {}: {what}", req.at));
    }
}

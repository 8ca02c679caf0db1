//! Manual run requests (pure): the run request annotation starts one run per new value, under
//! any concurrency policy (within the cap on active runs).

use super::RUN_REQUEST_ANNOTATION;
use super::record::{has_run, start_run};
use super::types::{Decision, Inputs, RunTrigger};
use crate::time::parse_time;

/// Starts the run a new request asks for; an unreadable request is reported, not run.
pub(super) fn plan_manual(inp: &Inputs, base: &str, d: &mut Decision) {
    let Some(req) = inp.run_request else { return };
    if d.status.last_manual_request.as_deref() == Some(req) {
        return;
    }
    d.status.last_manual_request = Some(req.to_string());
    match parse_time(req) {
        Some(t) => {
            let id = format!("{base}-m{}", t.timestamp_millis());
            if has_run(&d.status, &id) {
                return;
            }
            if super::record::active_ids(&d.status).len() >= super::MAX_ACTIVE_RUNS {
                let why = super::fires::too_many_active(&d.status);
                d.event(true, "RunSkipped", format!("{id} (manual): {why}"));
                return;
            }
            start_run(d, inp.now, id, RunTrigger::Manual, None, None);
        }
        None => d.event(
            true,
            "InvalidRunRequest",
            format!("annotation {RUN_REQUEST_ANNOTATION}=`{req}` is not an RFC 3339 time; no run started"),
        ),
    }
}

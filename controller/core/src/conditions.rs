//! Status conditions (pure): the Ready / Reconciling / Stalled set every Dromos resource
//! reports, built so that an unchanged condition compares equal to the one already stored
//! (its `lastTransitionTime` is kept), which is what lets a no-op reconcile write nothing.

use crate::time::{self, Instant};
use dromos_crds::condition::{READY, RECONCILING, STALLED};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// Longest condition message kept (the rest is cut).
pub const MESSAGE_CHARS: usize = 1000;

/// One condition. `lastTransitionTime` is taken from `old` when a condition of this type
/// already had this status, else it is `now`.
pub fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    old: &[Condition],
    now: Instant,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| time::to_k8s(now));
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.chars().take(MESSAGE_CHARS).collect(),
        observed_generation: generation,
        last_transition_time: last,
    }
}

/// The state a resource is in, as its three standard conditions say it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standard<'a> {
    /// Ready is True.
    pub ready: bool,
    /// Reconciling is True (work under way).
    pub reconciling: bool,
    /// Stalled is True (cannot progress without a change).
    pub stalled: bool,
    /// Reason of all three.
    pub reason: &'a str,
    /// Message of Ready; also of Reconciling and Stalled while they are True.
    pub message: &'a str,
}

/// Ready, Reconciling and Stalled, in that order, keeping the transition times of unchanged
/// ones.
pub fn standard(s: Standard<'_>, generation: Option<i64>, old: &[Condition], now: Instant) -> Vec<Condition> {
    let msg = |on: bool| if on { s.message } else { "" };
    vec![
        condition(READY, s.ready, s.reason, s.message, generation, old, now),
        condition(RECONCILING, s.reconciling, s.reason, msg(s.reconciling), generation, old, now),
        condition(STALLED, s.stalled, s.reason, msg(s.stalled), generation, old, now),
    ]
}

/// True when `conds` holds a `type_` condition with status True.
pub fn is_true(conds: &[Condition], type_: &str) -> bool {
    conds.iter().any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_status_keeps_its_transition_time() {
        let t0 = time::parse_time("2026-11-24T10:00:00Z").unwrap();
        let t1 = time::parse_time("2026-11-24T11:00:00Z").unwrap();
        let s = Standard { ready: true, reason: "Synced", message: "ok", ..Default::default() };
        let first = standard(s, Some(1), &[], t0);
        let again = standard(s, Some(1), &first, t1);
        assert_eq!(first, again, "same status later: equal, so nothing is written");
        let failed = standard(Standard { ready: false, stalled: true, ..s }, Some(1), &first, t1);
        assert_eq!(failed[0].last_transition_time, time::to_k8s(t1), "Ready flipped: new time");
        assert_eq!(failed[1].last_transition_time, first[1].last_transition_time, "Reconciling still False");
        assert_eq!(failed[2].message, "ok");
        assert!(is_true(&failed, STALLED) && !is_true(&failed, READY));
        let long = "x".repeat(MESSAGE_CHARS + 5);
        assert_eq!(condition(READY, true, "r", &long, None, &[], t0).message.len(), MESSAGE_CHARS);
    }
}

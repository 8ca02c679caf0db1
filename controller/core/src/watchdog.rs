//! Liveness (pure): whether a loop of the controller is stuck. A reconcile that has run longer
//! than the limit, or a loop whose last heartbeat is older than it, makes `/healthz` fail, and
//! the kubelet's liveness probe restarts the process (a hung future cannot be cancelled from
//! outside; a fresh process re-lists and carries on).

use crate::time::Instant;

/// What the shell saw: reconciles in progress and the loops' heartbeats, each with an instant.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    /// Reconciles in progress: what (`App/ns/name`) and since when.
    pub running: Vec<(String, Instant)>,
    /// Loops that beat: name and last beat.
    pub beats: Vec<(String, Instant)>,
}

/// Why the process is stuck at `now` with `limit`: one line per reconcile or loop over it,
/// oldest first; empty when it is alive.
pub fn stuck(activity: &Activity, now: Instant, limit: chrono::Duration) -> Vec<String> {
    let mut over: Vec<(Instant, String)> = vec![];
    for (what, since) in &activity.running {
        if now - *since > limit {
            over.push((*since, format!("reconcile of {what} running for {} s", (now - *since).num_seconds())));
        }
    }
    for (name, last) in &activity.beats {
        if now - *last > limit {
            over.push((*last, format!("{name} has not cycled for {} s", (now - *last).num_seconds())));
        }
    }
    over.sort();
    over.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    #[test]
    fn long_reconciles_and_silent_loops_are_stuck_others_are_not() {
        let t = |s: &str| parse_time(&format!("2026-12-05T10:{s}Z")).unwrap();
        let activity = Activity {
            running: vec![("App/a/fast".into(), t("09:00")), ("GitSource/a/hung".into(), t("00:00"))],
            beats: vec![("scheduling loop".into(), t("09:58")), ("offer loop".into(), t("02:00"))],
        };
        let limit = chrono::Duration::seconds(300);
        assert_eq!(
            stuck(&activity, t("10:00"), limit),
            vec!["reconcile of GitSource/a/hung running for 600 s", "offer loop has not cycled for 480 s"]
        );
        assert!(stuck(&activity, t("04:00"), limit).is_empty(), "nothing is over the limit yet");
        assert!(stuck(&Activity::default(), t("10:00"), limit).is_empty());
    }
}

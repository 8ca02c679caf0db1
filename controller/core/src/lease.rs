//! Leader-election decisions (pure): whether a candidate renews, takes or waits for a Lease,
//! judged by time this process observed, never by comparing another host's clock with ours.
//!
//! A follower remembers the Lease record (its resourceVersion) and when it first saw it; the
//! holder is presumed gone once that record has stayed the same for the lease duration of
//! local, monotonic time. A leader steps down when it has not renewed within its renew
//! deadline, whatever the API server says meanwhile.

use std::time::{Duration, Instant};

/// The Lease record a follower saw, and when it first saw it (monotonic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The Lease's resourceVersion (changes with every renewal).
    pub record: String,
    /// When this process first saw that record.
    pub since: Instant,
}

/// What a candidate does with the Lease it just read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It holds the Lease: renew it.
    Renew,
    /// Nobody holds it, or the holder stopped renewing long enough ago: take it.
    Take,
    /// Someone else holds it.
    Wait,
}

/// Judges the Lease `record` held by `holder` (`None` or empty: released) with
/// `lease_duration`, updating what `observed` remembers. `now` is monotonic.
pub fn judge(
    identity: &str,
    holder: Option<&str>,
    record: &str,
    lease_duration: Duration,
    observed: &mut Option<Observed>,
    now: Instant,
) -> Verdict {
    match holder.filter(|h| !h.is_empty()) {
        Some(h) if h == identity => Verdict::Renew,
        None => Verdict::Take,
        Some(_) => match observed {
            Some(o) if o.record == record => {
                if now.saturating_duration_since(o.since) >= lease_duration {
                    Verdict::Take
                } else {
                    Verdict::Wait
                }
            }
            _ => {
                *observed = Some(Observed { record: record.to_string(), since: now });
                Verdict::Wait
            }
        },
    }
}

/// The renew deadline of a lease `duration`: a leader that has not renewed for this long
/// stops leading (two thirds of the duration, so it stops before a follower can take over).
pub fn renew_deadline(duration: Duration) -> Duration {
    duration * 2 / 3
}

/// Whether a leader whose last successful renewal was at `last_renew` still leads at `now`.
pub fn still_leading(last_renew: Option<Instant>, duration: Duration, now: Instant) -> bool {
    last_renew.is_some_and(|t| now.saturating_duration_since(t) < renew_deadline(duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_takes_over_only_after_the_record_stood_still_for_the_duration_of_its_own_time() {
        let t0 = Instant::now();
        let d = Duration::from_secs(15);
        let mut seen = None;
        assert_eq!(judge("b", Some("a"), "100", d, &mut seen, t0), Verdict::Wait);
        assert_eq!(judge("b", Some("a"), "100", d, &mut seen, t0 + Duration::from_secs(14)), Verdict::Wait);
        // a renewed: the clock starts again, whatever a's renewTime says.
        assert_eq!(judge("b", Some("a"), "101", d, &mut seen, t0 + Duration::from_secs(16)), Verdict::Wait);
        assert_eq!(judge("b", Some("a"), "101", d, &mut seen, t0 + Duration::from_secs(30)), Verdict::Wait);
        assert_eq!(judge("b", Some("a"), "101", d, &mut seen, t0 + Duration::from_secs(31)), Verdict::Take);
        // A fresh follower (no history) waits a full duration even for an old record.
        let mut fresh = None;
        assert_eq!(judge("c", Some("a"), "101", d, &mut fresh, t0 + Duration::from_secs(31)), Verdict::Wait);
    }

    #[test]
    fn holders_renew_and_released_leases_are_taken_at_once() {
        let t0 = Instant::now();
        let d = Duration::from_secs(15);
        assert_eq!(judge("a", Some("a"), "1", d, &mut None, t0), Verdict::Renew);
        assert_eq!(judge("b", None, "2", d, &mut None, t0), Verdict::Take);
        assert_eq!(judge("b", Some(""), "2", d, &mut None, t0), Verdict::Take);
    }

    #[test]
    fn a_leader_steps_down_at_its_renew_deadline() {
        let t0 = Instant::now();
        let d = Duration::from_secs(15);
        assert_eq!(renew_deadline(d), Duration::from_secs(10));
        assert!(still_leading(Some(t0), d, t0 + Duration::from_secs(9)));
        assert!(!still_leading(Some(t0), d, t0 + Duration::from_secs(10)));
        assert!(!still_leading(None, d, t0));
    }
}

//! Time (pure): the one instant type of Dromos, [`Instant`] (`chrono::DateTime<Utc>`), and
//! its conversions at the two edges where another representation is imposed: Kubernetes'
//! `meta/v1.Time` (a `jiff::Timestamp` inside k8s-openapi) and RFC 3339 strings in CRD status
//! fields. Every core function that depends on the clock takes an `Instant` named `now`.

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A point in time, UTC.
pub type Instant = DateTime<Utc>;

/// RFC 3339 with a `Z`, whole seconds unless there is a fraction.
pub fn fmt_time(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time (any offset, converted to UTC).
pub fn parse_time(s: &str) -> Option<Instant> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The instant without its fraction of a second.
pub fn whole_seconds(t: Instant) -> Instant {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or_default()
}

/// `n` seconds from a spec value, saturated to 100 years either way, so that adding it to an
/// instant of this era stays within chrono's range (where `Duration::seconds` and `+` panic).
pub fn seconds(n: i64) -> chrono::Duration {
    const MAX: i64 = 100 * 366 * 86_400;
    chrono::Duration::seconds(n.clamp(-MAX, MAX))
}

/// The Kubernetes `Time` of an instant, in whole seconds: `meta/v1.Time` has second precision
/// on the wire, and a finer local copy would never compare equal to what the server returns.
pub fn to_k8s(t: Instant) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(t.timestamp()).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH))
}

/// The instant of a Kubernetes `Time`.
pub fn from_k8s(t: &Time) -> Instant {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_seconds_saturate() {
        let now = parse_time("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(seconds(60), chrono::Duration::minutes(1));
        for n in [i64::MAX, i64::MIN, i64::MAX / 1000 + 1] {
            assert!(now.checked_add_signed(seconds(n)).is_some(), "{n}");
        }
    }

    #[test]
    fn conversions_round_trip() {
        let t = parse_time("2026-11-24T10:00:00.25+01:00").unwrap();
        assert_eq!(fmt_time(t), "2026-11-24T09:00:00.250Z");
        assert_eq!(fmt_time(from_k8s(&to_k8s(t))), "2026-11-24T09:00:00Z", "whole seconds");
        assert_eq!(fmt_time(parse_time("2026-11-24T10:00:00Z").unwrap()), "2026-11-24T10:00:00Z");
        assert_eq!(parse_time("yesterday"), None);
    }
}

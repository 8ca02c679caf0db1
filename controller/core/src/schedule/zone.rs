//! Time zones (pure): IANA names, and the daylight-saving rule that turns a local wall-clock
//! time into an instant.

use crate::time::Instant;
use chrono::{NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Parses an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>().map_err(|_| format!("`{name}` is not an IANA time zone (e.g. `Europe/Paris`, `UTC`)"))
}

/// The instant of a local time in `tz`: a time inside a daylight-saving gap resolves to the
/// first instant after the gap, a repeated time to its first occurrence.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Instant {
    use chrono::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps start and end on whole minutes in the time zone database; walk minutes from
            // the start of the minute until the wall clock exists again (the longest gaps, such
            // as Samoa skipping 2011-12-30, are one day).
            // (A local time at the end of chrono's range has no instant either: the walk stops
            // there instead of overflowing.)
            let mut t = local.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(local);
            for _ in 0..(2 * 24 * 60) {
                let Some(next) = t.checked_add_signed(chrono::Duration::minutes(1)) else { break };
                t = next;
                match tz.from_local_datetime(&t) {
                    LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => return x.with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            // Not reached with the time zone database but at the end of the range; fall back to
            // the UTC reading.
            Utc.from_utc_datetime(&local)
        }
    }
}

/// The wall clock time of `t` in `tz`. At the ends of chrono's range, where that time is not
/// representable (`DateTime::naive_local` panics there), the UTC reading.
pub fn local_of(tz: Tz, t: Instant) -> NaiveDateTime {
    let utc = t.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix()).unwrap_or(utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::utc;

    #[test]
    fn time_zones() {
        assert!(parse_time_zone("Europe/Paris").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn resolving_local_times() {
        let berlin = parse_time_zone("Europe/Berlin").unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        assert_eq!(resolve_local(berlin, at("2026-03-29T02:00:00")), utc("2026-03-29T01:00:00Z"));
        assert_eq!(resolve_local(berlin, at("2026-03-29T02:59:59")), utc("2026-03-29T01:00:00Z"));
        assert_eq!(resolve_local(berlin, at("2026-10-25T02:00:00")), utc("2026-10-25T00:00:00Z"));
        assert_eq!(resolve_local(berlin, at("2026-10-25T03:00:00")), utc("2026-10-25T02:00:00Z"));
    }

    /// Found by the fuzz suite (`repeating_intervals_in_any_zone`): local times at the ends of
    /// chrono's range panicked, both ways (an instant read in a zone east of UTC, a local time
    /// that no instant has).
    #[test]
    fn the_ends_of_the_range_do_not_panic() {
        let tokyo = parse_time_zone("Asia/Tokyo").unwrap();
        let ny = parse_time_zone("America/New_York").unwrap();
        assert_eq!(local_of(tokyo, Instant::MAX_UTC), Instant::MAX_UTC.naive_utc());
        assert_eq!(local_of(ny, Instant::MIN_UTC), Instant::MIN_UTC.naive_utc());
        assert_eq!(local_of(tokyo, utc("2026-01-01T00:00:00Z")).to_string(), "2026-01-01 09:00:00");
        assert_eq!(resolve_local(ny, NaiveDateTime::MAX), Utc.from_utc_datetime(&NaiveDateTime::MAX));
    }
}

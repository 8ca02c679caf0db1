//! Metronome cron (pure): 5-field expressions (with `L`, `W` and `#`) read by `croner`, fired
//! in a time zone.

use super::zone::parse_time_zone;
use crate::time::Instant;
use chrono::Utc;
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Parses a 5-field cron expression (`L`, `W`, `#` and names allowed).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if !expr.trim_start().starts_with('@') && fields != 5 {
        return Err(format!(
            "cron `{expr}` has {fields} fields; Metronome cron has 5 (minute hour day-of-month month day-of-week)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("cron `{expr}` is invalid: {e}"))
}

/// A cron schedule in a time zone.
#[derive(Clone, Debug)]
pub struct CronTrigger {
    /// The parsed expression.
    pub cron: Cron,
    /// Its time zone.
    pub tz: Tz,
}

impl CronTrigger {
    /// Parses an expression and a time zone name (default UTC).
    pub fn new(expr: &str, tz: Option<&str>) -> Result<Self, String> {
        Ok(Self { cron: parse_cron(expr)?, tz: parse_time_zone(tz.unwrap_or("UTC"))? })
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: Instant) -> Option<Instant> {
        let (first, last) = searched();
        if t > last {
            return None;
        }
        let t = t.max(first);
        self.cron.find_next_occurrence(&t.with_timezone(&self.tz), false).ok().map(|x| x.with_timezone(&Utc))
    }

    /// The last fire time at or before `t`.
    pub fn latest_at_or_before(&self, t: Instant) -> Option<Instant> {
        let (first, last) = searched();
        if t < first {
            return None;
        }
        let t = t.min(last);
        self.cron.find_previous_occurrence(&t.with_timezone(&self.tz), true).ok().map(|x| x.with_timezone(&Utc))
    }
}

/// The times croner searches for fires: its years `YEAR_LOWER_LIMIT` (1) to `YEAR_UPPER_LIMIT`
/// (5000), less a day at each end. A time outside is moved into this range (no fire lies beyond
/// it), which also keeps its local time in any zone inside chrono's range: croner panics on a
/// time whose local time is not representable (year -262144 read in a zone west of UTC).
fn searched() -> (Instant, Instant) {
    use chrono::TimeZone as _;
    let first = Utc.with_ymd_and_hms(croner::YEAR_LOWER_LIMIT, 1, 2, 0, 0, 0).single();
    let last = Utc.with_ymd_and_hms(croner::YEAR_UPPER_LIMIT, 12, 30, 0, 0, 0).single();
    (first.unwrap_or(Instant::MIN_UTC), last.unwrap_or(Instant::MAX_UTC))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::utc;

    #[test]
    fn cron_accepts_l_w_and_hash() {
        for e in ["0 2 * * *", "0 0 L * *", "0 9 15W * *", "0 9 * * 5#3", "*/15 * * * MON-FRI", "0 0 * * 5L"] {
            parse_cron(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
    }

    #[test]
    fn cron_rejects_wrong_field_counts_and_values() {
        assert!(parse_cron("0 0 2 * * *").unwrap_err().contains("6 fields"));
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("* * 32 * *").is_err());
    }

    /// (cron, zone, now, expected next fires after now, as UTC instants)
    const CRON_TABLE: &[(&str, &str, &str, &[&str])] = &[
        // Europe/Berlin springs forward on 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z).
        // A fixed 02:30 does not exist that night: it fires at the first instant after the gap.
        ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", &["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        // An hourly rhythm skips the hour that does not exist.
        ("30 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", &["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"]),
        // Berlin falls back on 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z). A fixed 02:30 fires
        // once, at its first occurrence (00:30Z), and next on the following day in CET.
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        // An hourly rhythm fires on both real occurrences of the repeated hour.
        (
            "30 * * * *",
            "Europe/Berlin",
            "2026-10-25T00:00:00Z",
            &["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"],
        ),
        // America/New_York springs forward on 2026-03-08: 02:00 EST -> 03:00 EDT (07:00Z).
        ("0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", &["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"]),
        ("15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", &["2026-03-08T07:00:00Z", "2026-03-09T06:15:00Z"]),
        // New York falls back on 2026-11-01: 02:00 EDT -> 01:00 EST (06:00Z); 01:30 fires once.
        ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        // L: the last day of the month, leap years included.
        ("0 0 L * *", "UTC", "2026-02-10T00:00:00Z", &["2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"]),
        ("0 0 L * *", "UTC", "2028-02-10T00:00:00Z", &["2028-02-29T00:00:00Z"]),
        ("0 0 L * *", "UTC", "2026-04-05T00:00:00Z", &["2026-04-30T00:00:00Z"]),
        // L in a time zone: the last day of the month in that zone.
        ("0 23 L * *", "America/New_York", "2026-01-15T00:00:00Z", &["2026-02-01T04:00:00Z"]),
        // 5L: the last Friday.
        ("0 9 * * 5L", "UTC", "2026-01-01T00:00:00Z", &["2026-01-30T09:00:00Z"]),
        // W: the weekday nearest to the day, never leaving the month. 2026-08-01 is a Saturday:
        // 1W is Monday the 3rd (not Friday July 31). 2026-05-31 is a Sunday: 31W is Friday 29th.
        ("0 9 1W * *", "UTC", "2026-07-15T00:00:00Z", &["2026-08-03T09:00:00Z"]),
        ("0 9 31W * *", "UTC", "2026-05-01T00:00:00Z", &["2026-05-29T09:00:00Z"]),
        ("0 9 15W * *", "UTC", "2026-02-01T00:00:00Z", &["2026-02-16T09:00:00Z"]),
        // #: the n-th weekday of the month. 2026-01-02 is the first Friday.
        ("0 9 * * 5#3", "UTC", "2026-01-01T00:00:00Z", &["2026-01-16T09:00:00Z", "2026-02-20T09:00:00Z"]),
        // A fifth Monday exists only in some months: April and May 2026 have none.
        ("0 9 * * 1#5", "UTC", "2026-04-01T00:00:00Z", &["2026-06-29T09:00:00Z", "2026-08-31T09:00:00Z"]),
        // Leap day only.
        ("0 12 29 2 *", "UTC", "2026-01-01T00:00:00Z", &["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]),
    ];

    #[test]
    fn cron_fire_times_against_a_fixed_clock() {
        for (expr, tz, now, want) in CRON_TABLE {
            let t = CronTrigger::new(expr, Some(tz)).unwrap();
            let mut at = utc(now);
            for w in *want {
                let next = t.next_after(at).unwrap_or_else(|| panic!("{expr} {tz}: no fire after {at}"));
                assert_eq!(next, utc(w), "{expr} in {tz} after {at}");
                at = next;
            }
        }
    }

    /// Found by the fuzz suite (`cron_expressions_in_any_zone`): croner panicked on the earliest
    /// time chrono represents, read in a zone west of UTC.
    #[test]
    fn times_at_the_ends_of_the_range_do_not_panic() {
        use chrono::Datelike as _;
        let t = CronTrigger::new("* * L * *", Some("America/Campo_Grande")).unwrap();
        assert!(t.next_after(Instant::MIN_UTC).is_some_and(|n| n.year() == 1 && n.month() == 1 && n.day() == 31));
        assert_eq!(t.latest_at_or_before(Instant::MIN_UTC), None);
        assert_eq!(t.next_after(Instant::MAX_UTC), None);
        let east = CronTrigger::new("0 0 * * *", Some("Pacific/Kiritimati")).unwrap();
        assert!(east.latest_at_or_before(Instant::MAX_UTC).is_some_and(|l| l.year() == 5000));
    }

    #[test]
    fn cron_latest_fire_at_or_before() {
        let t = CronTrigger::new("*/15 * * * *", None).unwrap();
        assert_eq!(t.latest_at_or_before(utc("2026-05-01T10:44:59Z")), Some(utc("2026-05-01T10:30:00Z")));
        assert_eq!(t.latest_at_or_before(utc("2026-05-01T10:45:00Z")), Some(utc("2026-05-01T10:45:00Z")));
        let t = CronTrigger::new("30 2 * * *", Some("Europe/Berlin")).unwrap();
        // The shifted fire of the spring-forward night is found backwards too.
        assert_eq!(t.latest_at_or_before(utc("2026-03-29T05:00:00Z")), Some(utc("2026-03-29T01:00:00Z")));
    }
}

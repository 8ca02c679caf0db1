//! Schedule math: Metronome cron and Chronos ISO 8601 repeating intervals (pure; time is an
//! argument).
//!
//! Cron parsing and matching use the `croner` crate (5 fields, with `L`, `W` and `#`); time
//! zones come from `chrono-tz`. ISO 8601 repeating intervals `R[n]/<start>/<period>` are parsed
//! and stepped here: no maintained crate reads the repeating form with calendar periods.
//!
//! **Daylight saving.** A local time that does not exist (the clock jumps forward over it)
//! fires at the first instant after the gap; a local time that happens twice (the clock goes
//! back) fires once, at its first occurrence. Cron expressions whose minute and hour are each
//! one fixed value follow exactly that rule. Cron expressions with a wildcard, step, range or
//! list in the minute or hour (`*/15 * * * *`, `30 * * * *`) describe a rhythm of real time
//! instead: times inside a gap are skipped (they never happen) and a repeated hour fires on
//! each real occurrence, so an hourly job runs every elapsed hour (croner's rule, after
//! Vixie cron). ISO 8601 starts given as local times follow the first rule.

use chrono::{DateTime, Days, FixedOffset, Months, NaiveDateTime, TimeZone, Timelike, Utc};
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

/// Parses an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>().map_err(|_| format!("`{name}` is not an IANA time zone (e.g. `Europe/Paris`, `UTC`)"))
}

/// An ISO 8601 duration with calendar parts kept apart (a month is not 30 days).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Period {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Weeks.
    pub weeks: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
    /// Minutes.
    pub minutes: u32,
    /// Seconds, possibly fractional.
    pub seconds: f64,
}

impl Period {
    /// True when every part is zero.
    pub fn is_zero(&self) -> bool {
        self.years == 0
            && self.months == 0
            && self.weeks == 0
            && self.days == 0
            && self.hours == 0
            && self.minutes == 0
            && self.seconds == 0.0
    }
}

/// Start of a repeating interval.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// Empty start: the schedule starts when it is first seen.
    Now,
    /// An instant with an explicit offset.
    At(DateTime<FixedOffset>),
    /// A local time, interpreted in `scheduleTimeZone`.
    Local(NaiveDateTime),
}

/// A Chronos schedule `R[n]/<start>/<period>`.
#[derive(Clone, Debug, PartialEq)]
pub struct RepeatingInterval {
    /// Repetitions; `None` repeats forever.
    pub repeat: Option<u64>,
    /// First run.
    pub start: Start,
    /// Time between runs.
    pub period: Period,
}

/// Parses `R[n]/<start>/<period>`.
pub fn parse_iso8601(text: &str) -> Result<RepeatingInterval, String> {
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() != 3 {
        return Err(format!(
            "schedule `{text}` must have three parts `R[n]/<start>/<period>`, e.g. `R/2026-01-01T02:00:00Z/P1D`"
        ));
    }
    let r = parts[0];
    let repeat = match r.strip_prefix('R') {
        Some("") => None,
        Some(n) => {
            Some(n.parse::<u64>().map_err(|_| format!("repeat `{r}` must be `R` or `R<n>` with n a whole number"))?)
        }
        None => return Err(format!("schedule `{text}` must start with `R` or `R<n>`")),
    };
    let start = parse_start(parts[1])?;
    let period = parse_period(parts[2])?;
    Ok(RepeatingInterval { repeat, start, period })
}

fn parse_start(s: &str) -> Result<Start, String> {
    if s.is_empty() {
        return Ok(Start::Now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Start::At(t));
    }
    for fmt in ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(Start::At(t));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Start::Local(t));
        }
    }
    Err(format!("start `{s}` is not an ISO 8601 date-time such as `2026-01-01T02:00:00Z`"))
}

/// Parses an ISO 8601 duration such as `PT90M`, `P1DT12H`, `P1M`, `PT0.5S`.
pub fn parse_period(s: &str) -> Result<Period, String> {
    let bad = || format!("period `{s}` is not an ISO 8601 duration such as `PT1H`, `P1D` or `P1DT12H`");
    let body = s.strip_prefix('P').ok_or_else(bad)?;
    if body.is_empty() || body.ends_with('T') {
        return Err(bad());
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut p = Period::default();
    let mut num = String::new();
    let mut seen = String::new();
    for c in date.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u32 = num.parse().map_err(|_| bad())?;
        num.clear();
        if !"YMWD".contains(c) || seen.contains(c) {
            return Err(bad());
        }
        seen.push(c);
        match c {
            'Y' => p.years = n,
            'M' => p.months = n,
            'W' => p.weeks = n,
            _ => p.days = n,
        }
    }
    if !num.is_empty() {
        return Err(bad());
    }
    if let Some(time) = time {
        let mut seen = String::new();
        for c in time.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                num.push(if c == ',' { '.' } else { c });
                continue;
            }
            if !"HMS".contains(c) || seen.contains(c) || num.is_empty() {
                return Err(bad());
            }
            seen.push(c);
            match c {
                'H' => p.hours = num.parse().map_err(|_| bad())?,
                'M' => p.minutes = num.parse().map_err(|_| bad())?,
                _ => p.seconds = num.parse().map_err(|_| bad())?,
            }
            num.clear();
        }
        if !num.is_empty() {
            return Err(bad());
        }
    }
    if p.is_zero() {
        return Err(format!("period `{s}` is zero; a repeating schedule needs a positive period"));
    }
    Ok(p)
}

/// The instant of a local time in `tz`: a time inside a daylight-saving gap resolves to the
/// first instant after the gap, a repeated time to its first occurrence.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    use chrono::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps start and end on whole minutes in the time zone database; walk minutes from
            // the start of the minute until the wall clock exists again (the longest gaps, such
            // as Samoa skipping 2011-12-30, are one day).
            let mut t = local.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(local);
            for _ in 0..(2 * 24 * 60) {
                t += chrono::Duration::minutes(1);
                match tz.from_local_datetime(&t) {
                    LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => return x.with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            // Not reached with the time zone database; fall back to the UTC reading.
            Utc.from_utc_datetime(&local)
        }
    }
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
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t.with_timezone(&self.tz), false).ok().map(|x| x.with_timezone(&Utc))
    }

    /// The last fire time at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&t.with_timezone(&self.tz), true).ok().map(|x| x.with_timezone(&Utc))
    }
}

/// A Chronos repeating interval with its start resolved to an instant.
#[derive(Clone, Debug)]
pub struct IntervalTrigger {
    /// Number of fires; `None` fires forever.
    pub repeat: Option<u64>,
    /// The first fire.
    pub start: DateTime<Utc>,
    /// The time between fires.
    pub period: Period,
    /// Time zone of calendar steps (years, months, weeks, days).
    pub tz: Tz,
    /// The wall clock time calendar steps start from: the local start as written (which may
    /// fall into a gap), or the start instant read in `tz`.
    pub start_local: NaiveDateTime,
}

impl IntervalTrigger {
    /// Resolves an interval: an empty start becomes `anchor` (when the schedule was first
    /// seen), a local start is read in `tz`.
    pub fn new(ri: &RepeatingInterval, tz: Tz, anchor: DateTime<Utc>) -> Self {
        let (start, start_local) = match &ri.start {
            Start::Now => (anchor, anchor.with_timezone(&tz).naive_local()),
            Start::At(t) => (t.with_timezone(&Utc), t.with_timezone(&tz).naive_local()),
            Start::Local(l) => (resolve_local(tz, *l), *l),
        };
        Self { repeat: ri.repeat, start, period: ri.period, tz, start_local }
    }

    fn exact_part(&self) -> chrono::Duration {
        let p = &self.period;
        chrono::Duration::milliseconds(
            (((p.hours as f64) * 3600.0 + (p.minutes as f64) * 60.0 + p.seconds) * 1000.0).round() as i64,
        )
    }

    /// Fire number `k` (0-based): the start plus `k` periods. Calendar parts step the local
    /// date in the time zone (a month after January 31 is the last day of February, two
    /// months after it March 31: each fire counts from the start, so month ends do not drift)
    /// and resolve by the daylight-saving rule; hours, minutes and seconds are elapsed time.
    /// `None` past the repeat count or the representable range.
    pub fn fire(&self, k: u64) -> Option<DateTime<Utc>> {
        if self.repeat.is_some_and(|n| k >= n) {
            return None;
        }
        if k == 0 {
            return Some(self.start);
        }
        let exact_ms = self.exact_part().num_milliseconds().checked_mul(i64::try_from(k).ok()?)?;
        let exact = chrono::Duration::try_milliseconds(exact_ms)?;
        let p = &self.period;
        let months = u64::from(p.years) * 12 + u64::from(p.months);
        let days = u64::from(p.weeks) * 7 + u64::from(p.days);
        let base = if months == 0 && days == 0 {
            self.start
        } else {
            let local =
                self.start_local.checked_add_months(Months::new(u32::try_from(months.checked_mul(k)?).ok()?))?;
            let local = local.checked_add_days(Days::new(days.checked_mul(k)?))?;
            resolve_local(self.tz, local)
        };
        base.checked_add_signed(exact)
    }

    /// The index of the last fire at or before `t`, if any.
    pub fn index_at_or_before(&self, t: DateTime<Utc>) -> Option<u64> {
        if t < self.start {
            return None;
        }
        let p = &self.period;
        let calendar = p.years != 0 || p.months != 0 || p.weeks != 0 || p.days != 0;
        let last = self.repeat.map(|n| n.saturating_sub(1)).unwrap_or(u64::MAX);
        if !calendar {
            let step = self.exact_part().num_milliseconds().max(1);
            let k = ((t - self.start).num_milliseconds() / step) as u64;
            return Some(k.min(last));
        }
        // Fires grow with k: find an upper bound by doubling, then bisect.
        let mut lo = 0u64;
        let mut hi = 1u64;
        loop {
            match self.fire(hi.min(last)) {
                Some(f) if f <= t => {
                    if hi >= last {
                        return Some(last);
                    }
                    lo = hi;
                    hi = hi.saturating_mul(2);
                }
                _ => break,
            }
        }
        let mut hi = hi.min(last);
        // Invariant: fire(lo) <= t, and fire(hi) > t or does not exist.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match self.fire(mid) {
                Some(f) if f <= t => lo = mid,
                _ => hi = mid,
            }
        }
        Some(lo)
    }

    /// The first fire strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.index_at_or_before(t) {
            None => self.fire(0),
            Some(k) => self.fire(k.checked_add(1)?),
        }
    }

    /// The last fire at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.fire(self.index_at_or_before(t)?)
    }
}

/// A time-based trigger of a Job.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// Metronome cron.
    Cron(Box<CronTrigger>),
    /// Chronos repeating interval.
    Interval(IntervalTrigger),
}

impl Trigger {
    /// The first fire strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Cron(c) => c.next_after(t),
            Trigger::Interval(i) => i.next_after(t),
        }
    }

    /// The last fire at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Cron(c) => c.latest_at_or_before(t),
            Trigger::Interval(i) => i.latest_at_or_before(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn time_zones() {
        assert!(parse_time_zone("Europe/Paris").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn repeating_intervals() {
        let r = parse_iso8601("R5/2026-01-01T02:00:00Z/P1DT12H").unwrap();
        assert_eq!(r.repeat, Some(5));
        assert_eq!(r.period, Period { days: 1, hours: 12, ..Default::default() });
        let r = parse_iso8601("R//PT0.5S").unwrap();
        assert_eq!((r.repeat, r.start), (None, Start::Now));
        assert_eq!(r.period.seconds, 0.5);
        let r = parse_iso8601("R/2026-03-29T02:30:00/P1M").unwrap();
        assert!(matches!(r.start, Start::Local(_)));
        assert_eq!(r.period.months, 1);
    }

    #[test]
    fn bad_intervals() {
        for bad in [
            "R/2026-01-01T00:00:00Z",
            "X/2026-01-01T00:00:00Z/P1D",
            "R/yesterday/P1D",
            "R//P",
            "R//PT",
            "R//P1H",
            "R//PT0S",
            "Rx//P1D",
        ] {
            assert!(parse_iso8601(bad).is_err(), "{bad} should fail");
        }
    }
}

#[cfg(test)]
mod fire_tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc)
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

    #[test]
    fn cron_latest_fire_at_or_before() {
        let t = CronTrigger::new("*/15 * * * *", None).unwrap();
        assert_eq!(t.latest_at_or_before(utc("2026-05-01T10:44:59Z")), Some(utc("2026-05-01T10:30:00Z")));
        assert_eq!(t.latest_at_or_before(utc("2026-05-01T10:45:00Z")), Some(utc("2026-05-01T10:45:00Z")));
        let t = CronTrigger::new("30 2 * * *", Some("Europe/Berlin")).unwrap();
        // The shifted fire of the spring-forward night is found backwards too.
        assert_eq!(t.latest_at_or_before(utc("2026-03-29T05:00:00Z")), Some(utc("2026-03-29T01:00:00Z")));
    }

    fn interval(text: &str, tz: &str, anchor: &str) -> IntervalTrigger {
        IntervalTrigger::new(&parse_iso8601(text).unwrap(), parse_time_zone(tz).unwrap(), utc(anchor))
    }

    #[test]
    fn repeat_counts_are_exhausted() {
        let i = interval("R3/2026-01-01T00:00:00Z/PT10S", "UTC", "2000-01-01T00:00:00Z");
        let fires: Vec<_> = (0..4).map(|k| i.fire(k)).collect();
        assert_eq!(
            fires,
            vec![
                Some(utc("2026-01-01T00:00:00Z")),
                Some(utc("2026-01-01T00:00:10Z")),
                Some(utc("2026-01-01T00:00:20Z")),
                None
            ]
        );
        assert_eq!(i.next_after(utc("2025-12-31T00:00:00Z")), Some(utc("2026-01-01T00:00:00Z")));
        assert_eq!(i.next_after(utc("2026-01-01T00:00:10Z")), Some(utc("2026-01-01T00:00:20Z")));
        assert_eq!(i.next_after(utc("2026-01-01T00:00:20Z")), None);
        assert_eq!(i.latest_at_or_before(utc("2030-01-01T00:00:00Z")), Some(utc("2026-01-01T00:00:20Z")));
        // R0 never fires; R1 once.
        assert_eq!(interval("R0/2026-01-01T00:00:00Z/PT1H", "UTC", "2026-01-01T00:00:00Z").fire(0), None);
        let once = interval("R1/2026-01-01T00:00:00Z/PT1H", "UTC", "2026-01-01T00:00:00Z");
        assert_eq!(once.next_after(utc("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn an_empty_start_counts_from_the_anchor() {
        let i = interval("R3//PT10S", "UTC", "2026-06-01T08:00:05Z");
        assert_eq!(i.fire(0), Some(utc("2026-06-01T08:00:05Z")));
        assert_eq!(i.fire(2), Some(utc("2026-06-01T08:00:25Z")));
        assert_eq!(i.fire(3), None);
    }

    #[test]
    fn calendar_periods_count_from_the_start() {
        // Month ends clamp but do not drift: Jan 31, Feb 28, Mar 31, ..., and Feb 29 in 2028.
        let i = interval("R/2026-01-31T10:00:00Z/P1M", "UTC", "2026-01-01T00:00:00Z");
        assert_eq!(i.fire(1), Some(utc("2026-02-28T10:00:00Z")));
        assert_eq!(i.fire(2), Some(utc("2026-03-31T10:00:00Z")));
        assert_eq!(i.fire(3), Some(utc("2026-04-30T10:00:00Z")));
        assert_eq!(i.fire(25), Some(utc("2028-02-29T10:00:00Z")));
        assert_eq!(i.next_after(utc("2026-02-28T10:00:00Z")), Some(utc("2026-03-31T10:00:00Z")));
        assert_eq!(i.latest_at_or_before(utc("2026-04-30T09:59:59Z")), Some(utc("2026-03-31T10:00:00Z")));
        // A leap day start steps to Feb 28 in common years and back to Feb 29 in leap years.
        let i = interval("R/2028-02-29T00:00:00Z/P1Y", "UTC", "2026-01-01T00:00:00Z");
        assert_eq!(i.fire(1), Some(utc("2029-02-28T00:00:00Z")));
        assert_eq!(i.fire(4), Some(utc("2032-02-29T00:00:00Z")));
        // P1DT12H: a calendar day in the zone, then 12 elapsed hours. Across Berlin's spring
        // forward the calendar day is 23 hours long.
        let i = interval("R/2026-03-28T12:00:00/P1DT12H", "Europe/Berlin", "2026-01-01T00:00:00Z");
        assert_eq!(i.fire(0), Some(utc("2026-03-28T11:00:00Z")));
        assert_eq!(i.fire(1), Some(utc("2026-03-29T22:00:00Z")));
        assert_eq!(i.fire(2), Some(utc("2026-03-31T10:00:00Z")));
    }

    #[test]
    fn daily_local_intervals_keep_the_wall_clock_across_dst() {
        // 02:30 local every day in Berlin: the start night is the spring-forward gap (first
        // instant after it, 03:00 CEST), then 02:30 CEST; at fall back the first 02:30.
        let i = interval("R/2026-03-29T02:30:00/P1D", "Europe/Berlin", "2026-01-01T00:00:00Z");
        assert_eq!(i.fire(0), Some(utc("2026-03-29T01:00:00Z")));
        assert_eq!(i.fire(1), Some(utc("2026-03-30T00:30:00Z")));
        let fall = interval("R/2026-10-24T02:30:00/P1D", "Europe/Berlin", "2026-01-01T00:00:00Z");
        assert_eq!(fall.fire(1), Some(utc("2026-10-25T00:30:00Z")));
        assert_eq!(fall.fire(2), Some(utc("2026-10-26T01:30:00Z")));
        // New York, 01:30 daily across fall back: once, first occurrence.
        let ny = interval("R/2026-10-31T01:30:00/P1D", "America/New_York", "2026-01-01T00:00:00Z");
        assert_eq!(ny.fire(1), Some(utc("2026-11-01T05:30:00Z")));
        assert_eq!(ny.fire(2), Some(utc("2026-11-02T06:30:00Z")));
        // An exact period is elapsed time regardless of the zone: PT1H across the gap.
        let h = interval("R/2026-03-29T00:30:00Z/PT1H", "Europe/Berlin", "2026-01-01T00:00:00Z");
        assert_eq!(h.fire(1), Some(utc("2026-03-29T01:30:00Z")));
    }

    #[test]
    fn long_running_schedules_find_their_index_without_walking() {
        let i = interval("R/2000-01-01T00:00:00Z/PT1S", "UTC", "2000-01-01T00:00:00Z");
        assert_eq!(i.next_after(utc("2090-06-01T00:00:00Z")), Some(utc("2090-06-01T00:00:01Z")));
        let d = interval("R/2000-01-01T00:00:00Z/P1D", "Europe/Berlin", "2000-01-01T00:00:00Z");
        assert_eq!(d.latest_at_or_before(utc("2090-06-01T12:00:00Z")), Some(utc("2090-05-31T23:00:00Z")));
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
}

#[cfg(test)]
mod properties {
    use super::*;

    /// A small deterministic generator (xorshift), so failures reproduce without a crate.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    const ZONES: [&str; 5] = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"];

    fn trigger(g: &mut Gen) -> Trigger {
        let tz = ZONES[g.next(ZONES.len() as u64) as usize];
        let (m, h, d) = (g.next(60), g.next(24), 1 + g.next(31));
        match g.next(8) {
            0 => Trigger::Cron(Box::new(CronTrigger::new(&format!("{m} {h} * * *"), Some(tz)).unwrap())),
            1 => Trigger::Cron(Box::new(CronTrigger::new(&format!("*/{} * * * *", 1 + g.next(59)), Some(tz)).unwrap())),
            2 => Trigger::Cron(Box::new(CronTrigger::new(&format!("{m} {h} L * *"), Some(tz)).unwrap())),
            3 => Trigger::Cron(Box::new(CronTrigger::new(&format!("{m} {h} {d}W * *"), Some(tz)).unwrap())),
            4 => Trigger::Cron(Box::new(
                CronTrigger::new(&format!("{m} {h} * * {}#{}", g.next(7), 1 + g.next(5)), Some(tz)).unwrap(),
            )),
            k => {
                let period = match k {
                    5 => format!("PT{}S", 1 + g.next(100_000)),
                    6 => format!("P{}DT{}H", g.next(3), 1 + g.next(30)),
                    _ => format!("P{}M", 1 + g.next(14)),
                };
                let repeat = if g.next(2) == 0 { String::new() } else { (1 + g.next(500)).to_string() };
                let text = format!("R{repeat}/2026-{:02}-{:02}T{h:02}:{m:02}:00/{period}", 1 + g.next(12), d.min(28));
                let ri = parse_iso8601(&text).unwrap();
                Trigger::Interval(IntervalTrigger::new(&ri, parse_time_zone(tz).unwrap(), Utc::now()))
            }
        }
    }

    /// For random schedules and times: the next fire is after `t`, the last fire is at or
    /// before it, and nothing fires strictly between them.
    #[test]
    fn last_and_next_fire_bracket_every_time() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let base = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        for case in 0..3000 {
            let tr = trigger(&mut g);
            let t = base + chrono::Duration::seconds(g.next(3 * 365 * 86_400) as i64);
            let next = tr.next_after(t);
            let last = tr.latest_at_or_before(t);
            if let Some(n) = next {
                assert!(n > t, "case {case}: {tr:?} next {n} not after {t}");
                assert_eq!(tr.latest_at_or_before(n), Some(n), "case {case}: {tr:?} next {n} is not a fire");
                let just_before = tr.latest_at_or_before(n - chrono::Duration::seconds(1));
                assert_eq!(just_before, last, "case {case}: {tr:?} a fire between {t} and {n}");
            }
            if let Some(l) = last {
                assert!(l <= t, "case {case}: {tr:?} last {l} after {t}");
                assert_eq!(tr.next_after(l - chrono::Duration::seconds(1)), Some(l), "case {case}: {tr:?}");
            }
        }
    }
}

//! Chronos ISO 8601 repeating intervals (pure): parsing `R[n]/<start>/<period>` and its
//! duration with calendar parts kept apart.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

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

/// Shortest period of a repeating schedule, in seconds: a shorter one would fire in a loop
/// (runs are planned to the millisecond and created once a second at most).
pub const MIN_PERIOD_SECS: f64 = 1.0;
/// Most seconds in the seconds part of a period (about 31 years).
const MAX_SECONDS: f64 = 1e9;

impl Period {
    /// Hours, minutes and seconds in seconds (the elapsed-time part of the period).
    pub fn exact_seconds(&self) -> f64 {
        f64::from(self.hours) * 3600.0 + f64::from(self.minutes) * 60.0 + self.seconds
    }

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
    if !p.seconds.is_finite() || p.seconds > MAX_SECONDS {
        return Err(format!("period `{s}` has more than {MAX_SECONDS} seconds; use minutes, hours or days"));
    }
    if p.years == 0 && p.months == 0 && p.weeks == 0 && p.days == 0 && p.exact_seconds() < MIN_PERIOD_SECS {
        return Err(format!("period `{s}` is shorter than the minimum of one second (`PT1S`)"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeating_intervals() {
        let r = parse_iso8601("R5/2026-01-01T02:00:00Z/P1DT12H").unwrap();
        assert_eq!(r.repeat, Some(5));
        assert_eq!(r.period, Period { days: 1, hours: 12, ..Default::default() });
        let r = parse_iso8601("R//PT1.5S").unwrap();
        assert_eq!((r.repeat, r.start), (None, Start::Now));
        assert_eq!(r.period.seconds, 1.5);
        assert_eq!(parse_iso8601("R//PT0H0M1S").unwrap().period.seconds, 1.0);
        assert_eq!(parse_iso8601("R//P1DT0.5S").unwrap().period.days, 1);
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
            // Below the one-second minimum: a zero period in milliseconds, a loop.
            "R//PT0.0001S",
            "R//PT0.5S",
            "R//PT0H0M0,999S",
            "R//P0DT0.5S",
            // Beyond what a period holds.
            "R//PT99999999999999999999999999999999999999999S",
            "R//PT99999999999H",
        ] {
            assert!(parse_iso8601(bad).is_err(), "{bad} should fail");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_parser_never_panics(s in "\\PC{0,60}", p in "R[0-9]{0,25}/[-0-9T:Z]{0,25}/P[0-9YMWDTHS.,]{0,30}") {
            let _ = parse_iso8601(&s);
            if let Ok(r) = parse_iso8601(&p) {
                let q = r.period;
                let calendar = [q.years, q.months, q.weeks, q.days].iter().any(|x| *x > 0);
                proptest::prop_assert!(calendar || r.period.exact_seconds() >= MIN_PERIOD_SECS, "{}", p);
            }
        }
    }
}

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
//!
//! Modules: `cron` and `iso8601` parse, `interval` steps ISO 8601 intervals, `zone`
//! holds the daylight-saving rule; [`Trigger`] is either kind of schedule.

mod cron;
mod interval;
mod iso8601;
mod zone;

pub use cron::{CronTrigger, parse_cron};
pub use interval::IntervalTrigger;
pub use iso8601::{MIN_PERIOD_SECS, Period, RepeatingInterval, Start, parse_iso8601, parse_period};
pub use zone::{parse_time_zone, resolve_local};

use crate::time::Instant;

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
    pub fn next_after(&self, t: Instant) -> Option<Instant> {
        match self {
            Trigger::Cron(c) => c.next_after(t),
            Trigger::Interval(i) => i.next_after(t),
        }
    }

    /// The last fire at or before `t`.
    pub fn latest_at_or_before(&self, t: Instant) -> Option<Instant> {
        match self {
            Trigger::Cron(c) => c.latest_at_or_before(t),
            Trigger::Interval(i) => i.latest_at_or_before(t),
        }
    }
}

/// A UTC instant from RFC 3339 text, for tests.
#[cfg(test)]
fn utc(s: &str) -> Instant {
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&chrono::Utc)
}

#[cfg(test)]
mod properties {
    use super::*;
    use chrono::{DateTime, Utc};

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

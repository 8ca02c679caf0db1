//! Stepping a Chronos repeating interval (pure): fire `k` of a resolved interval, and the
//! fires around an instant, found by bisection rather than by walking.

use super::iso8601::{Period, RepeatingInterval, Start};
use super::zone::{local_of, resolve_local};
use crate::time::Instant;
use chrono::{Days, Months, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// A Chronos repeating interval with its start resolved to an instant.
#[derive(Clone, Debug)]
pub struct IntervalTrigger {
    /// Number of fires; `None` fires forever.
    pub repeat: Option<u64>,
    /// The first fire.
    pub start: Instant,
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
    pub fn new(ri: &RepeatingInterval, tz: Tz, anchor: Instant) -> Self {
        let (start, start_local) = match &ri.start {
            Start::Now => (anchor, local_of(tz, anchor)),
            Start::At(t) => (t.with_timezone(&Utc), local_of(tz, t.with_timezone(&Utc))),
            Start::Local(l) => (resolve_local(tz, *l), *l),
        };
        Self { repeat: ri.repeat, start, period: ri.period, tz, start_local }
    }

    fn exact_part(&self) -> chrono::Duration {
        // Saturating float-to-int cast, and `try_` rather than a panic at the range's edge.
        let ms = (self.period.exact_seconds() * 1000.0).round() as i64;
        chrono::Duration::try_milliseconds(ms).unwrap_or(chrono::Duration::MAX)
    }

    /// Fire number `k` (0-based): the start plus `k` periods. Calendar parts step the local
    /// date in the time zone (a month after January 31 is the last day of February, two
    /// months after it March 31: each fire counts from the start, so month ends do not drift)
    /// and resolve by the daylight-saving rule; hours, minutes and seconds are elapsed time.
    /// `None` past the repeat count or the representable range.
    pub fn fire(&self, k: u64) -> Option<Instant> {
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
    pub fn index_at_or_before(&self, t: Instant) -> Option<u64> {
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
    pub fn next_after(&self, t: Instant) -> Option<Instant> {
        match self.index_at_or_before(t) {
            None => self.fire(0),
            Some(k) => self.fire(k.checked_add(1)?),
        }
    }

    /// The last fire at or before `t`.
    pub fn latest_at_or_before(&self, t: Instant) -> Option<Instant> {
        self.fire(self.index_at_or_before(t)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{parse_iso8601, parse_time_zone, utc};

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

    /// Found by the fuzz suite (`repeating_intervals_in_any_zone`): a start or an anchor whose
    /// local time lies past the end of chrono's range panicked; a manifest could write one.
    #[test]
    fn starts_at_the_end_of_the_range_do_not_panic() {
        use chrono::TimeZone as _;
        let late = Utc.with_ymd_and_hms(262142, 12, 31, 23, 59, 59).unwrap();
        let casey = parse_time_zone("Antarctica/Casey").unwrap();
        let i = IntervalTrigger::new(&parse_iso8601("R//P1Y").unwrap(), casey, late);
        assert_eq!(i.next_after(utc("1970-01-01T00:00:00Z")), Some(late));
        let i = interval("R/+262142-12-31T23:59:59Z/P1D", "Asia/Tokyo", "2026-01-01T00:00:00Z");
        assert_eq!(i.fire(1), None);
        assert_eq!(i.latest_at_or_before(utc("2026-01-01T00:00:00Z")), None);
        let i = interval("R/+262142-12-31T23:59:59/PT1H", "America/New_York", "2026-01-01T00:00:00Z");
        assert_eq!(i.next_after(utc("2026-01-01T00:00:00Z")), Some(i.start));
    }

    #[test]
    fn long_running_schedules_find_their_index_without_walking() {
        let i = interval("R/2000-01-01T00:00:00Z/PT1S", "UTC", "2000-01-01T00:00:00Z");
        assert_eq!(i.next_after(utc("2090-06-01T00:00:00Z")), Some(utc("2090-06-01T00:00:01Z")));
        let d = interval("R/2000-01-01T00:00:00Z/P1D", "Europe/Berlin", "2000-01-01T00:00:00Z");
        assert_eq!(d.latest_at_or_before(utc("2090-06-01T12:00:00Z")), Some(utc("2090-05-31T23:00:00Z")));
    }
}

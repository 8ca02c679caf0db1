//! Schedules (`schedule`): Metronome cron expressions and Chronos ISO 8601 repeating
//! intervals, in every IANA time zone, at times from year -262143 to 262142 (chrono's range).
//!
//! Properties: nothing panics; the next fire is strictly after the given time and the last
//! fire at or before it; an interval's period is at least the documented minimum of one second
//! (`MIN_PERIOD_SECS`) unless it has calendar parts, its seconds are finite and at most 1e9;
//! an interval's fires grow, at least one second apart, and a fire found by `next_after` is a
//! fire (`latest_at_or_before` finds it).

use crate::{config, text_of};
use chrono::{DateTime, Duration, Utc};
use dromos_core::schedule::{
    CronTrigger, IntervalTrigger, MIN_PERIOD_SECS, Trigger, parse_cron, parse_iso8601, parse_time_zone,
};
use proptest::prelude::*;

type Instant = DateTime<Utc>;

/// A time: mostly 1970 to 2100, sometimes anywhere chrono can represent.
fn instant() -> impl Strategy<Value = Instant> {
    let near = 0i64..4_102_444_800;
    let far = (DateTime::<Utc>::MIN_UTC.timestamp())..=(DateTime::<Utc>::MAX_UTC.timestamp());
    prop_oneof![4 => near, 1 => far, 1 => prop::sample::select(vec![
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
        1_774_746_000, // 2026-03-29T01:00:00Z, Berlin springs forward
        1_793_494_800, // 2026-10-25T01:00:00Z, Berlin falls back
        1_325_239_200, // 2011-12-30T10:00:00Z, Samoa skips a day
    ])]
    .prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

/// Any IANA time zone name, or a name that is none.
fn zone() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()).prop_map(|tz| tz.name().to_string()),
        1 => prop::sample::select(vec!["", "Mars/Olympus", "utc", "UTC+1", "Etc/GMT+14", "../etc/passwd"]).prop_map(str::to_string),
        1 => "\\PC{0,20}",
    ]
}

const MINUTES: &[&str] = &[
    "*",
    "0",
    "30",
    "59",
    "60",
    "*/5",
    "*/0",
    "*/61",
    "1-5",
    "5-1",
    "1,2,3",
    "0-59/15",
    "L",
    "?",
    "99999999999",
    "-1",
    "1/2",
    "a",
    "",
];
const HOURS: &[&str] = &["*", "0", "2", "23", "24", "*/2", "9-17", "1,13", "H"];
const DAYS: &[&str] = &["*", "1", "15", "29", "30", "31", "32", "0", "L", "15W", "1W", "31W", "LW", "L-3", "?", "W"];
const MONTHS: &[&str] = &["*", "1", "2", "12", "13", "0", "JAN", "jan-mar", "FEB", "*/3", "DEC-JAN"];
const WEEKDAYS: &[&str] =
    &["*", "0", "1", "7", "8", "5L", "5#3", "1#5", "6#6", "0#0", "MON-FRI", "SUN", "sat", "?", "L"];
const NICKNAMES: &[&str] =
    &["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@reboot", "@every 5m", "@"];

/// A cron-shaped expression: five fields from those pools, a nickname, or something else.
fn cron_expr() -> impl Strategy<Value = String> {
    let s = |xs: &'static [&'static str]| prop::sample::select(xs);
    prop_oneof![
        8 => (s(MINUTES), s(HOURS), s(DAYS), s(MONTHS), s(WEEKDAYS)).prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}")),
        1 => s(NICKNAMES).prop_map(str::to_string),
        1 => text_of(&["*", " ", "/", "-", ",", "L", "W", "#", "?", "1", "59", "@", "\t"], 16),
    ]
}

const REPEATS: &[&str] =
    &["R", "R0", "R1", "R5", "R500", "R18446744073709551615", "R18446744073709551616", "R-1", "Rx", "", "r"];
const STARTS: &[&str] = &[
    "",
    "2026-01-01T00:00:00Z",
    "2026-01-31T10:00:00Z",
    "2026-03-29T02:30:00",
    "2026-10-25T02:30:00",
    "2011-12-30T10:00:00",
    "2026-01-31T10:00:00+05:30",
    "2026-01-31T10:00+01:00",
    "2026-01-01T00:00:00.123456789Z",
    "2026-01-01T00:00",
    "2026-02-29T00:00:00",
    "2028-02-29T12:00:00Z",
    "2026-01-01T24:00:00",
    "2026-01-01T00:00:60Z",
    "1970-01-01T00:00:00Z",
    "0000-01-01T00:00:00",
    "9999-12-31T23:59:59-14:00",
    "+262142-12-31T23:59:59",
    "+262142-12-31T23:00:00",
    "-262143-01-01T00:00:00",
    "+262142-12-31T23:59:59Z",
    "-262143-01-01T00:00:00Z",
    "+262142-12-31T23:59:59-12:00",
    "yesterday",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "12",
    "31",
    "59",
    "60",
    "100000",
    "4294967295",
    "4294967296",
    "999999999999",
    "0.5",
    "1.5",
    "0,5",
    "1e3",
    "",
];

/// A period: date parts, maybe a time part, numbers from the pool.
fn period() -> impl Strategy<Value = String> {
    let part = |units: &'static [&'static str]| {
        prop::collection::vec((prop::sample::select(NUMBERS), prop::sample::select(units)), 0..3)
            .prop_map(|v| v.into_iter().map(|(n, u)| format!("{n}{u}")).collect::<String>())
    };
    (part(&["Y", "M", "W", "D", "H"]), prop::option::of(part(&["H", "M", "S", "D"]))).prop_map(
        |(date, time)| match time {
            Some(t) => format!("P{date}T{t}"),
            None => format!("P{date}"),
        },
    )
}

fn iso_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::sample::select(REPEATS), prop::sample::select(STARTS), period()).prop_map(|(r, s, p)| format!("{r}/{s}/{p}")),
        1 => text_of(&["R", "/", "P", "T", "1", "D", "H", "M", "S", "Z", "-", ":", ".", "2026-01-01T00:00:00"], 16),
    ]
}

/// Checks a trigger at `t`: the next fire is after `t` and is a fire, the last is not after it.
fn check_trigger(tr: &Trigger, t: Instant) -> Result<(), TestCaseError> {
    if let Some(n) = tr.next_after(t) {
        prop_assert!(n > t, "{:?}: next fire {} is not after {}", tr, n, t);
        if let Trigger::Interval(_) = tr {
            prop_assert_eq!(tr.latest_at_or_before(n), Some(n), "{:?}: next fire {} after {} is not a fire", tr, n, t);
        }
    }
    if let Some(l) = tr.latest_at_or_before(t) {
        prop_assert!(l <= t, "{:?}: last fire {} is after {}", tr, l, t);
    }
    Ok(())
}

use proptest::test_runner::TestCaseError;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cron_expressions_in_any_zone(expr in cron_expr(), tz in zone(), t in instant()) {
        let parsed = parse_cron(&expr);
        let Ok(trigger) = CronTrigger::new(&expr, Some(&tz)) else { return Ok(()) };
        prop_assert!(parsed.is_ok());
        check_trigger(&Trigger::Cron(Box::new(trigger)), t)?;
    }

    #[test]
    fn repeating_intervals_in_any_zone(text in iso_text(), tz in zone(), anchor in instant(), t in instant(), k in 0u64..1000) {
        let Ok(ri) = parse_iso8601(&text) else { return Ok(()) };
        let p = ri.period;
        let calendar = p.years > 0 || p.months > 0 || p.weeks > 0 || p.days > 0;
        prop_assert!(calendar || p.exact_seconds() >= MIN_PERIOD_SECS, "{}: {:?}", text, p);
        prop_assert!(p.seconds.is_finite() && p.seconds <= 1e9, "{}: {:?}", text, p);
        let Ok(tz) = parse_time_zone(&tz) else { return Ok(()) };
        let tr = IntervalTrigger::new(&ri, tz, anchor);
        // Fires grow by at least the minimum period.
        for k in [0, 1, k, k + 1, 1000] {
            if let (Some(a), Some(b)) = (tr.fire(k), tr.fire(k + 1)) {
                prop_assert!(b - a >= Duration::seconds(MIN_PERIOD_SECS as i64), "{} in {}: fire {} at {}, fire {} at {}", text, tz, k, a, k + 1, b);
            }
        }
        check_trigger(&Trigger::Interval(tr), t)?;
    }

    #[test]
    fn time_zone_names(name in "\\PC{0,40}") {
        let _ = parse_time_zone(&name);
    }
}

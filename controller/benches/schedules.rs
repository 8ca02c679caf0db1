//! Benchmark: next fire times of 10,000 schedules (pure core, no cluster).
//!
//!     cargo bench -p dromos --bench schedules          # args: COUNT [ROUNDS], default 10000 20
//!
//! A mix like a large Metronome/Chronos installation: plain cron, cron with `L`, `W` and `#`,
//! in eight time zones, and ISO 8601 intervals with exact and calendar periods. Each round
//! computes, for every schedule, what the job controller computes per reconcile: the last fire
//! at or before now and the next fire after now. Parsing is timed apart. Prints min and median
//! over the rounds.

use chrono::{DateTime, Utc};
use dromos_core::schedule::{CronTrigger, IntervalTrigger, Trigger, parse_iso8601, parse_time_zone};
use std::time::{Duration, Instant};

const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Europe/London",
];

fn source(i: usize) -> (String, Option<String>, &'static str) {
    let tz = ZONES[i % ZONES.len()];
    let (m, h, d) = (i % 60, i % 24, 1 + i % 28);
    match i % 10 {
        0 => (format!("{m} {h} * * *"), None, tz),
        1 => (format!("*/{} * * * *", 1 + i % 30), None, tz),
        2 => (format!("{m} {h} L * *"), None, tz),
        3 => (format!("{m} {h} {d}W * *"), None, tz),
        4 => (format!("{m} {h} * * {}#{}", i % 7, 1 + i % 4), None, tz),
        5 => (format!("{m} {h} * * 5L"), None, tz),
        6 => (format!("{m} {h} * * MON-FRI"), None, tz),
        7 => (String::new(), Some(format!("R/2020-01-{:02}T{h:02}:{m:02}:00Z/PT{}M", d, 1 + i % 90)), tz),
        8 => (String::new(), Some(format!("R/2020-01-{:02}T{h:02}:{m:02}:00/P1DT12H", d)), tz),
        _ => (String::new(), Some(format!("R1000/2024-01-31T{h:02}:{m:02}:00/P1M")), tz),
    }
}

fn parse(i: usize, anchor: DateTime<Utc>) -> Trigger {
    match source(i) {
        (cron, None, tz) => Trigger::Cron(Box::new(CronTrigger::new(&cron, Some(tz)).expect("cron"))),
        (_, Some(iso), tz) => Trigger::Interval(IntervalTrigger::new(
            &parse_iso8601(&iso).expect("iso"),
            parse_time_zone(tz).expect("tz"),
            anchor,
        )),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let count: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let now: DateTime<Utc> = "2026-11-24T10:17:23Z".parse().expect("time");

    let mut parse_times = vec![];
    let mut triggers = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        triggers = (0..count).map(|i| parse(i, now)).collect();
        parse_times.push(t.elapsed());
    }
    let mut times = vec![];
    let mut checksum = 0i64;
    for r in 0..rounds {
        // Move the clock a little each round so no answer is reused.
        let at = now + chrono::Duration::seconds(r as i64 * 7);
        let t = Instant::now();
        for tr in &triggers {
            let last = tr.latest_at_or_before(at);
            let next = tr.next_after(at).expect("every schedule has a next fire");
            checksum = checksum.wrapping_add(next.timestamp()).wrapping_add(last.map_or(0, |l| l.timestamp()));
        }
        times.push(t.elapsed());
    }
    let min = *times.iter().min().expect("rounds");
    let med = median(times);
    println!("schedules: {count} (cron plain/step/L/W/#/5L/MON-FRI, ISO PTnM/P1DT12H/P1M; 8 zones)");
    println!("parse: median {:.1} ms", median(parse_times).as_secs_f64() * 1e3);
    println!(
        "last + next fire for all: min {:.1} ms, median {:.1} ms ({:.2} us per schedule) [checksum {checksum:x}]",
        min.as_secs_f64() * 1e3,
        med.as_secs_f64() * 1e3,
        med.as_secs_f64() * 1e6 / count as f64
    );
}

//! This process's own figures from `/proc/self` (I/O): peak and current resident memory and CPU
//! seconds, as the benches report them next to their timings. NaN or 0 where `/proc` is absent.

/// A memory line of `/proc/self/status` (`VmHWM:` peak, `VmRSS:` current), in MiB.
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Peak resident memory so far, MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident memory now, MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// User plus system CPU time of the process so far, seconds (at the usual 100 ticks a second).
pub fn cpu_seconds() -> f64 {
    stat_cpu_seconds("/proc/self/stat")
}

/// User plus system CPU time of process `pid` so far, seconds; 0 when it is gone.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}

fn stat_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_of_this_process_are_read() {
        let v: Vec<u8> = vec![1; 8 << 20];
        assert!(super::rss_mib() >= 8.0, "{}", super::rss_mib());
        assert!(super::peak_rss_mib() >= super::rss_mib());
        assert!(super::cpu_seconds() >= 0.0);
        assert_eq!(super::cpu_seconds_of(u32::MAX), 0.0);
        assert!(super::cpu_seconds_of(std::process::id()) >= 0.0);
        drop(v);
    }
}

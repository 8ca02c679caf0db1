//! Prometheus and promtool for the alerting tests, built from the Go module proxy by
//! `tests/cluster/prometheus` (cached in `~/.cache/dromos/prometheus-*`), and the files the
//! chart ships that they load.

use std::path::PathBuf;
use std::process::Command;

/// The directory holding `prometheus` and `promtool`, built on first use. Panics when they
/// cannot be built: the alerting tests never skip.
pub fn bin_dir() -> PathBuf {
    let script = crate::chart::repo_root().join("tests/cluster/prometheus");
    let out = Command::new(&script).output().unwrap_or_else(|e| {
        panic!("cannot run {}: {e}; the alerting tests need Go to build Prometheus", script.display())
    });
    assert!(
        out.status.success(),
        "{} failed; the alerting tests need Prometheus built from the Go module proxy:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
}

/// `promtool`.
pub fn promtool() -> PathBuf {
    bin_dir().join("promtool")
}

/// `prometheus`.
pub fn prometheus() -> PathBuf {
    bin_dir().join("prometheus")
}

/// The chart's alert rules: the one source of the PrometheusRule's groups.
pub fn alerts_file() -> PathBuf {
    crate::chart::chart_dir().join("files/alerts.yaml")
}

/// The chart's Grafana dashboard.
pub fn dashboard_file() -> PathBuf {
    crate::chart::chart_dir().join("files/dashboard.json")
}

/// The promtool unit tests of every alert.
pub fn alerts_test_file() -> PathBuf {
    crate::chart::repo_root().join("tests/alerts/alerts_test.yaml")
}

/// `promtool ARGS...`: Ok with its output when it exits 0, else Err with it.
pub fn promtool_run(args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let out = Command::new(promtool()).args(args).output().expect("run promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

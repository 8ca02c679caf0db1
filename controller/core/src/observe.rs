//! Object-state metrics (pure): what each App, Job, GitSource and Package says in its status,
//! as Prometheus samples computed at scrape time from the operators' watch caches (the way
//! kube-state-metrics reads objects), so they are true after a restart and cost nothing
//! between scrapes. [`FAMILIES`] is the catalogue of these metrics; the shell adds its own
//! (reconciles, scheduler, syncs) and `docs/reference/metrics.md` is generated from both.
//!
//! Labels stay bounded: `namespace` and `name` of an object (one series per object, as
//! kube-state-metrics has), and small enumerations (`state`, `result`, `health`).

use crate::conditions::is_true;
use crate::time::{Instant, parse_time};
use dromos_crds::condition::READY;
use dromos_crds::{App, GitSource, Job, Package};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::fmt::Write;

/// The kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// A value that goes up and down.
    Gauge,
    /// A count that only grows (exposed with `_total`).
    Counter,
    /// Observations in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl Type {
    /// The OpenMetrics type word.
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
            Type::Histogram => "histogram",
        }
    }
}

/// A metric family: name (without the `dromos_` prefix or a counter's `_total`), type,
/// labels, help.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// Name after `dromos_`.
    pub name: &'static str,
    /// Gauge, counter or histogram.
    pub kind: Type,
    /// Label names, in order.
    pub labels: &'static [&'static str],
    /// One line of help.
    pub help: &'static str,
}

const OBJ: &[&str] = &["namespace", "name"];

macro_rules! family {
    ($name:literal, $kind:ident, $labels:expr, $help:literal) => {
        Family { name: $name, kind: Type::$kind, labels: $labels, help: $help }
    };
}

/// Every object-state family, in exposition order.
pub const FAMILIES: &[Family] = &[
    family!("gitsource_ready", Gauge, OBJ, "1 when the GitSource's Ready condition is True, else 0"),
    family!("gitsource_suspended", Gauge, OBJ, "1 when the GitSource is suspended"),
    family!("gitsource_last_sync_timestamp_seconds", Gauge, OBJ, "When the GitSource's last sync finished (Unix time)"),
    family!(
        "gitsource_revision_stale",
        Gauge,
        OBJ,
        "1 when the newest fetched revision is not the applied one (refused, failing, or not applied yet)"
    ),
    family!("gitsource_diagnostics", Gauge, OBJ, "Diagnostics (errors and warnings) of the last fetched revision"),
    family!("gitsource_objects", Gauge, OBJ, "Objects in the GitSource's inventory"),
    family!(
        "gitsource_last_sync_objects",
        Gauge,
        &["namespace", "name", "result"],
        "Objects of the last sync by result: applied, unchanged, pruned, failed"
    ),
    family!(
        "app_instances",
        Gauge,
        &["namespace", "name", "state"],
        "Instances of an App by state: desired, staged, running, healthy, unhealthy"
    ),
    family!("app_deploying", Gauge, OBJ, "1 while a deployment of the App is in progress"),
    family!(
        "app_deployment_start_timestamp_seconds",
        Gauge,
        OBJ,
        "When the App's deployment in progress started (Unix time); absent when none is"
    ),
    family!("app_restarts", Gauge, OBJ, "Restarts of the App's running instances"),
    family!("app_placement_waiting", Gauge, OBJ, "Instances of the App waiting for an offer that fits"),
    family!("app_ready", Gauge, OBJ, "1 when the App's Ready condition is True, else 0"),
    family!(
        "job_last_success_timestamp_seconds",
        Gauge,
        OBJ,
        "When the Job's last successful run finished (Unix time); absent before the first"
    ),
    family!(
        "job_last_failure_timestamp_seconds",
        Gauge,
        OBJ,
        "When the Job's last failed run finished (Unix time); absent before the first"
    ),
    family!("job_last_run_failed", Gauge, OBJ, "1 when the Job's last finished run failed, else 0"),
    family!(
        "job_expected_interval_seconds",
        Gauge,
        OBJ,
        "Seconds between two scheduled runs of the Job; absent for unscheduled Jobs"
    ),
    family!("job_next_run_timestamp_seconds", Gauge, OBJ, "When the Job runs next by its schedule (Unix time)"),
    family!("job_created_timestamp_seconds", Gauge, OBJ, "When the Job was created (Unix time)"),
    family!("job_active_runs", Gauge, OBJ, "Runs of the Job in progress"),
    family!(
        "job_last_run_start_delay_seconds",
        Gauge,
        OBJ,
        "How late the Job's newest scheduled run started after its scheduled time"
    ),
    family!(
        "job_runs",
        Counter,
        &["namespace", "name", "result"],
        "Finished runs of the Job by result: succeeded, failed"
    ),
    family!("job_suspended", Gauge, OBJ, "1 when the Job's schedule is disabled"),
    family!("package_ready", Gauge, OBJ, "1 when the Package's Ready condition is True, else 0"),
    family!(
        "package_info",
        Gauge,
        &["namespace", "name", "package", "version"],
        "Always 1: the package and installed version of a Package"
    ),
    family!(
        "package_objects",
        Gauge,
        &["namespace", "name", "health"],
        "Objects a Package installed by health: Ready, Progressing, Exists, Missing, Unknown"
    ),
    family!("package_option_errors", Gauge, OBJ, "Problems found in the Package's options"),
];

/// One sample: a family, its label values (in the family's label order), a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The family's name (see [`FAMILIES`]).
    pub family: &'static str,
    /// Label values, in the family's label order.
    pub labels: Vec<String>,
    /// The value.
    pub value: f64,
}

fn key(meta: &ObjectMeta) -> Vec<String> {
    vec![meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default()]
}

fn push(out: &mut Vec<Sample>, family: &'static str, meta: &ObjectMeta, extra: &[&str], value: f64) {
    let mut labels = key(meta);
    labels.extend(extra.iter().map(|s| s.to_string()));
    out.push(Sample { family, labels, value });
}

fn ts(s: Option<&str>) -> Option<f64> {
    s.and_then(parse_time).map(seconds)
}

fn seconds(t: Instant) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A GitSource's samples.
pub fn gitsource(gs: &GitSource, out: &mut Vec<Sample>) {
    let m = &gs.metadata;
    // Read in place: a scrape walks every cached object.
    let none = Default::default();
    let st = gs.status.as_ref().unwrap_or(&none);
    push(out, "gitsource_ready", m, &[], flag(is_true(&st.common.conditions, READY)));
    push(out, "gitsource_suspended", m, &[], flag(gs.spec.suspend.unwrap_or(false)));
    if let Some(t) = ts(st.last_sync.as_ref().and_then(|s| s.finished_at.as_deref())) {
        push(out, "gitsource_last_sync_timestamp_seconds", m, &[], t);
    }
    let stale = st.last_attempted_revision.is_some() && st.last_attempted_revision != st.last_applied_revision;
    push(out, "gitsource_revision_stale", m, &[], flag(stale));
    push(out, "gitsource_diagnostics", m, &[], st.diagnostics.len() as f64);
    push(out, "gitsource_objects", m, &[], crate::gitsource::inventory_len(st) as f64);
    if let Some(s) = &st.last_sync {
        for (result, n) in
            [("applied", s.applied), ("unchanged", s.unchanged), ("pruned", s.pruned), ("failed", s.failed)]
        {
            push(out, "gitsource_last_sync_objects", m, &[result], n as f64);
        }
    }
}

/// An App's samples.
pub fn app(app: &App, out: &mut Vec<Sample>) {
    let m = &app.metadata;
    // Read in place: a scrape walks every cached object.
    let none = Default::default();
    let st = app.status.as_ref().unwrap_or(&none);
    let desired = st.instances.unwrap_or(app.spec.instances.unwrap_or(1));
    for (state, n) in [
        ("desired", Some(desired)),
        ("staged", st.staged),
        ("running", st.running),
        ("healthy", st.healthy),
        ("unhealthy", st.unhealthy),
    ] {
        push(out, "app_instances", m, &[state], n.unwrap_or(0) as f64);
    }
    push(out, "app_deploying", m, &[], flag(st.deployment.is_some()));
    if let Some(t) = ts(st.deployment.as_ref().map(|d| d.started_at.as_str())) {
        push(out, "app_deployment_start_timestamp_seconds", m, &[], t);
    }
    push(out, "app_restarts", m, &[], st.restarts.unwrap_or(0) as f64);
    push(out, "app_placement_waiting", m, &[], st.placement.as_ref().map_or(0, |p| p.waiting) as f64);
    push(out, "app_ready", m, &[], flag(is_true(&st.common.conditions, READY)));
}

/// A Job's samples at `now` (the expected interval steps its schedule from `now`).
pub fn job(job: &Job, now: Instant, out: &mut Vec<Sample>) {
    let m = &job.metadata;
    // Read in place: a scrape walks every cached object.
    let none = Default::default();
    let st = job.status.as_ref().unwrap_or(&none);
    if let Some(t) = ts(st.last_success_time.as_deref()) {
        push(out, "job_last_success_timestamp_seconds", m, &[], t);
    }
    if let Some(t) = ts(st.last_failure_time.as_deref()) {
        push(out, "job_last_failure_timestamp_seconds", m, &[], t);
    }
    push(out, "job_last_run_failed", m, &[], flag(st.last_result.as_deref() == Some("Failed")));
    if let Some(secs) = crate::runs::expected_interval(&job.spec, st, now) {
        push(out, "job_expected_interval_seconds", m, &[], secs);
    }
    if let Some(t) = ts(st.next_run_time.as_deref()) {
        push(out, "job_next_run_timestamp_seconds", m, &[], t);
    }
    if let Some(t) = &m.creation_timestamp {
        push(out, "job_created_timestamp_seconds", m, &[], seconds(crate::time::from_k8s(t)));
    }
    let active = st.runs.iter().filter(|r| r.result == "Active").count();
    push(out, "job_active_runs", m, &[], active as f64);
    let newest_scheduled = st.runs.iter().find(|r| r.trigger.as_deref() == Some("schedule") && r.start_time.is_some());
    if let Some(r) = newest_scheduled
        && let (Some(due), Some(start)) = (ts(r.scheduled_time.as_deref()), ts(r.start_time.as_deref()))
    {
        push(out, "job_last_run_start_delay_seconds", m, &[], (start - due).max(0.0));
    }
    push(out, "job_runs", m, &["succeeded"], st.success_count.max(0) as f64);
    push(out, "job_runs", m, &["failed"], st.failure_count.max(0) as f64);
    push(out, "job_suspended", m, &[], flag(!crate::runs::schedule_enabled(&job.spec)));
}

/// A Package's samples.
pub fn package(pkg: &Package, out: &mut Vec<Sample>) {
    let m = &pkg.metadata;
    // Read in place: a scrape walks every cached object.
    let none = Default::default();
    let st = pkg.status.as_ref().unwrap_or(&none);
    push(out, "package_ready", m, &[], flag(is_true(&st.common.conditions, READY)));
    let version = st.installed_version.clone().unwrap_or_default();
    push(out, "package_info", m, &[&pkg.spec.name, &version], 1.0);
    let mut by_health = std::collections::BTreeMap::<&str, usize>::new();
    for o in &st.objects {
        *by_health.entry(health_word(&o.health)).or_default() += 1;
    }
    for (health, n) in by_health {
        push(out, "package_objects", m, &[health], n as f64);
    }
    push(out, "package_option_errors", m, &[], st.option_errors.len() as f64);
}

/// The health label: one of the words the Package operator writes; anything else is `Unknown`
/// (a status edited by hand cannot add label values).
fn health_word(h: &str) -> &'static str {
    match h {
        "Ready" => "Ready",
        "Progressing" => "Progressing",
        "Exists" => "Exists",
        "Missing" => "Missing",
        _ => "Unknown",
    }
}

/// The family named `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// OpenMetrics text of `samples` (grouped by family in [`FAMILIES`] order; families without
/// samples still get their `# HELP` and `# TYPE`). No `# EOF`: the caller ends the exposition.
pub fn encode(samples: &[Sample]) -> String {
    let mut out = String::new();
    for f in FAMILIES {
        let name = format!("dromos_{}", f.name);
        let _ = writeln!(out, "# HELP {name} {}", f.help);
        let _ = writeln!(out, "# TYPE {name} {}", f.kind.as_str());
        let suffix = if f.kind == Type::Counter { "_total" } else { "" };
        for s in samples.iter().filter(|s| s.family == f.name) {
            out.push_str(&name);
            out.push_str(suffix);
            if !f.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in f.labels.iter().zip(&s.labels).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(s.value));
        }
    }
    out
}

/// A label value escaped for the text format: backslash, double quote and newline.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

#[cfg(test)]
mod tests;

/// The bounded class of a placement decline reason (a label value): `insufficient cpus` and
/// the other resource words, `role not accepted`, `invalid spec`, or the constraint operator
/// (`constraint UNIQUE`, `constraint GROUP_BY`) without its field and value, which come from
/// specs and are unbounded.
pub fn decline_class(reason: &str) -> String {
    const WORDS: &[&str] = &[
        "insufficient cpus",
        "insufficient mem",
        "insufficient disk",
        "insufficient gpus",
        "insufficient ports",
        "role not accepted",
    ];
    const OPERATORS: &[&str] = &["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"];
    if let Some(w) = WORDS.iter().find(|w| **w == reason) {
        return w.to_string();
    }
    if reason == "InvalidSpec" {
        return "invalid spec".into();
    }
    match reason.split_whitespace().find(|w| OPERATORS.contains(w)) {
        Some(op) => format!("constraint {op}"),
        None => "other".into(),
    }
}

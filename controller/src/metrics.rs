//! Metrics every operator shares (I/O-free counters), recorded where every reconcile of every
//! operator passes (`operators::guard`): reconciles by operator and result, errors by reason,
//! reconcile durations; notifications by target type and result; and `dromos_build_info`. Served on `/metrics` after the GitSource
//! metrics of `http::Metrics`. Labels stay bounded: the operator is a kind (App, Job, Package,
//! GitSource) and the reason one of `operators::Error::reason`'s words.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;

/// Labels of a reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// The kind the operator reconciles.
    pub operator: String,
    /// `success` or `error`.
    pub result: String,
}

/// Labels of a failed reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The kind the operator reconciles.
    pub operator: String,
    /// Stable reason (`Conflict`, `KubernetesError`, `ReconcilePanicked`, ...).
    pub reason: String,
}

/// Labels of a duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperatorLabels {
    /// The kind the operator reconciles.
    pub operator: String,
}

/// Labels of a notification.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// The target type (`webhook`, `slack`, `teams`, `github`, `gitlab`).
    pub r#type: String,
    /// `sent`, `failed` (given up), `rate_limited` or `dropped` (queue full).
    pub result: String,
}

/// Labels of the build.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: String,
}

/// Labels of a placement decline class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// `dromos_core::observe::decline_class` of the reason.
    pub reason: String,
}

/// Labels of a Job's skipped scheduled runs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkipLabels {
    /// The Job's namespace.
    pub namespace: String,
    /// The Job's name.
    pub name: String,
    /// `RunMissed` (past its starting deadline) or `RunSkipped` (concurrency).
    pub reason: String,
}

/// The shared operator metrics.
pub struct OperatorMetrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<OperatorLabels, Histogram>,
    in_flight: Family<OperatorLabels, Gauge>,
    /// Scheduler metrics.
    pub scheduler: SchedulerMetrics,
    skipped_runs: Family<SkipLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
}

impl std::fmt::Debug for SchedulerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchedulerMetrics")
    }
}

/// What the Dromos scheduler exposes.
pub struct SchedulerMetrics {
    /// Pods bound to a node.
    pub placed: Counter,
    /// Bindings refused or failed (the pods are tried again).
    pub bind_failures: Counter,
    /// Pods waiting for an offer that fits, after the last cycle.
    pub unplaceable: Gauge,
    /// Offers declined in the last cycle, per reason class.
    pub declined: Family<ReasonLabels, Gauge>,
    /// From a pod's creation to its binding.
    pub placement_duration: Histogram,
    /// One scheduling cycle.
    pub cycle_duration: Histogram,
    /// Offers (nodes) the scheduler sees.
    pub offers: Gauge,
}

impl std::fmt::Debug for OperatorMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorMetrics")
    }
}

static METRICS: LazyLock<OperatorMetrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("dromos");
    let reconciles = Family::<ReconcileLabels, Counter>::default();
    let errors = Family::<ErrorLabels, Counter>::default();
    let hist = || Histogram::new(exponential_buckets(0.001, 2.0, 16));
    let duration = Family::<OperatorLabels, Histogram>::new_with_constructor(hist as fn() -> Histogram);
    let build = Family::<BuildLabels, Gauge>::default();
    build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION").into() }).set(1);
    registry.register("reconciles", "Reconciles by operator and result (success or error)", reconciles.clone());
    registry.register("reconcile_errors", "Failed reconciles by operator and reason", errors.clone());
    registry.register("reconcile_duration_seconds", "Duration of one reconcile, by operator", duration.clone());
    registry.register("build_info", "Always 1; the version of this build as a label", build);
    let in_flight = Family::<OperatorLabels, Gauge>::default();
    registry.register("reconciles_in_flight", "Reconciles running now, by operator", in_flight.clone());
    let skipped_runs = Family::<SkipLabels, Counter>::default();
    registry.register(
        "job_skipped_runs",
        "Scheduled runs of a Job that did not start, by reason: RunMissed (past the starting deadline), RunSkipped (concurrency)",
        skipped_runs.clone(),
    );
    let scheduler = SchedulerMetrics {
        placed: Counter::default(),
        bind_failures: Counter::default(),
        unplaceable: Gauge::default(),
        declined: Family::default(),
        placement_duration: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
        cycle_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
        offers: Gauge::default(),
    };
    let sched = &scheduler;
    registry.register("scheduler_pods_placed", "Pods the Dromos scheduler bound to a node", sched.placed.clone());
    registry.register(
        "scheduler_bind_failures",
        "Bindings refused or failed (tried again)",
        sched.bind_failures.clone(),
    );
    registry.register(
        "scheduler_unplaceable_pods",
        "Pods waiting for an offer that fits, after the last cycle",
        sched.unplaceable.clone(),
    );
    registry.register(
        "scheduler_declined_offers",
        "Offers declined in the last cycle, by reason class",
        sched.declined.clone(),
    );
    registry.register(
        "scheduler_placement_duration_seconds",
        "From a pod's creation to its binding by the Dromos scheduler",
        sched.placement_duration.clone(),
    );
    registry.register(
        "scheduler_cycle_duration_seconds",
        "One scheduling cycle over the caches",
        sched.cycle_duration.clone(),
    );
    registry.register("scheduler_offers", "Offers (nodes) the scheduler sees", sched.offers.clone());
    let notifications = Family::<NotificationLabels, Counter>::default();
    registry.register("notifications", "Notifications by target type and result", notifications.clone());
    OperatorMetrics { registry, reconciles, errors, duration, in_flight, scheduler, skipped_runs, notifications }
});

/// The process' operator metrics (scheduler counters are recorded through it).
pub fn global() -> &'static OperatorMetrics {
    &METRICS
}

/// Counts one reconcile of `operator` as running until the returned guard is dropped.
pub fn in_flight(operator: &str) -> InFlight {
    let g = METRICS.in_flight.get_or_create(&OperatorLabels { operator: operator.into() }).clone();
    g.inc();
    InFlight(g)
}

/// Decrements `dromos_reconciles_in_flight` when dropped (also when the reconcile panics).
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts a scheduled run of a Job that did not start (Event `reason` RunMissed or RunSkipped).
pub fn job_run_skipped(namespace: &str, name: &str, reason: &str) {
    let labels = SkipLabels { namespace: namespace.into(), name: name.into(), reason: reason.into() };
    METRICS.skipped_runs.get_or_create(&labels).inc();
}

/// Records one reconcile of `operator`: its duration and result (`Err` with the reason).
pub fn reconciled(operator: &str, seconds: f64, error: Option<&str>) {
    let m = &*METRICS;
    let result = if error.is_some() { "error" } else { "success" };
    m.reconciles.get_or_create(&ReconcileLabels { operator: operator.into(), result: result.into() }).inc();
    if let Some(reason) = error {
        m.errors.get_or_create(&ErrorLabels { operator: operator.into(), reason: reason.into() }).inc();
    }
    m.duration.get_or_create(&OperatorLabels { operator: operator.into() }).observe(seconds);
}

use dromos_core::observe::{Family as Fam, Type};

macro_rules! fam {
    ($name:literal, $kind:ident, [$($l:literal),*], $help:literal) => {
        Fam { name: $name, kind: Type::$kind, labels: &[$($l),*], help: $help }
    };
}

/// The families the shell records (syncs in `http::Metrics`, operators and scheduler here), as
/// exposed; with [`dromos_core::observe::FAMILIES`] the whole of `/metrics`. A test holds it equal to
/// what is encoded, and `docs/reference/metrics.md` is rendered from it.
pub const FAMILIES: &[Fam] = &[
    fam!(
        "sync_duration_seconds",
        Histogram,
        ["source"],
        "Duration of a GitSource sync; `source` is `<namespace>/<name>`"
    ),
    fam!("git_fetch_duration_seconds", Histogram, ["source"], "Duration of a git fetch"),
    fam!("objects_applied", Counter, ["source"], "Objects created or updated by a GitSource's syncs"),
    fam!("objects_pruned", Counter, ["source"], "Objects deleted because they left their source"),
    fam!("sync_errors", Counter, ["source", "reason"], "Failed syncs by reason"),
    fam!("api_requests", Counter, ["verb"], "Kubernetes API requests of syncs by verb: read, write"),
    fam!("webhooks", Counter, [], "Accepted webhook deliveries"),
    fam!(
        "reconciles",
        Counter,
        ["operator", "result"],
        "Reconciles by operator (App, Job, Package, GitSource) and result (success, error)"
    ),
    fam!(
        "reconcile_errors",
        Counter,
        ["operator", "reason"],
        "Failed reconciles by operator and reason (KubernetesError, Conflict, FetchFailed, SyncError, SerializeError, Unsupported, ReconcilePanicked)"
    ),
    fam!("reconcile_duration_seconds", Histogram, ["operator"], "Duration of one reconcile, by operator"),
    fam!("build_info", Gauge, ["version"], "Always 1; the version of this build as a label"),
    fam!("reconciles_in_flight", Gauge, ["operator"], "Reconciles running now, by operator"),
    fam!(
        "notifications",
        Counter,
        ["type", "result"],
        "Notifications by target type (webhook, slack, teams, github, gitlab) and result (sent, failed, rate_limited, dropped)"
    ),
    fam!(
        "job_skipped_runs",
        Counter,
        ["namespace", "name", "reason"],
        "Scheduled runs of a Job that did not start, by reason: RunMissed (past the starting deadline), RunSkipped (concurrency)"
    ),
    fam!("scheduler_pods_placed", Counter, [], "Pods the Dromos scheduler bound to a node"),
    fam!("scheduler_bind_failures", Counter, [], "Bindings refused or failed (tried again)"),
    fam!("scheduler_unplaceable_pods", Gauge, [], "Pods waiting for an offer that fits, after the last cycle"),
    fam!(
        "scheduler_declined_offers",
        Gauge,
        ["reason"],
        "Offers declined in the last cycle, by reason class (insufficient cpus/mem/disk/gpus/ports, role not accepted, invalid spec, constraint OPERATOR, other)"
    ),
    fam!(
        "scheduler_placement_duration_seconds",
        Histogram,
        [],
        "From a pod's creation to its binding by the Dromos scheduler"
    ),
    fam!("scheduler_cycle_duration_seconds", Histogram, [], "One scheduling cycle over the caches"),
    fam!("scheduler_offers", Gauge, [], "Offers (nodes) the scheduler sees"),
];

/// `docs/reference/metrics.md`: every family of `/metrics`, from [`FAMILIES`] and
/// [`dromos_core::observe::FAMILIES`].
pub fn reference_markdown() -> String {
    let mut out =
        String::from("<!-- Generated by `dromos crds` from the code; do not edit. -->\n\n# Metrics reference\n\n");
    out.push_str(
        "`GET /metrics` on the controller's `--listen` address answers OpenMetrics text. Every name starts with \
         `dromos_`; counters are exposed with `_total`, histograms as `_bucket`, `_sum` and `_count`. What to alert \
         on, and what each alert means: [the runbook](../operations.md).\n\n",
    );
    let section = |out: &mut String, title: &str, intro: &str, fams: &[Fam]| {
        out.push_str(&format!("## {title}\n\n{intro}\n\n| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n"));
        for f in fams {
            let name =
                if f.kind == Type::Counter { format!("dromos_{}_total", f.name) } else { format!("dromos_{}", f.name) };
            let labels = f.labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ");
            out.push_str(&format!("| `{name}` | {} | {labels} | {} |\n", f.kind.as_str(), f.help.replace('|', "\\|")));
        }
        out.push('\n');
    };
    section(
        &mut out,
        "Operators, syncs and the scheduler",
        "Recorded by this process as it works (they start from zero when it starts; with leader election only the \
         leader records them).",
        FAMILIES,
    );
    section(
        &mut out,
        "Objects",
        "Read from the status of every App, Job, GitSource and Package in the controller's watch cache at each \
         scrape (one series per object, like kube-state-metrics): true right after a restart. Exposed by the replica \
         that runs the operators.",
        dromos_core::observe::FAMILIES,
    );
    out.push_str("Regenerate with `cargo run -p dromos -- crds`.\n");
    out
}

/// Counts one notification of a `type_` target with its `result`.
pub fn notified(type_: &str, result: &str) {
    METRICS.notifications.get_or_create(&NotificationLabels { r#type: type_.into(), result: result.into() }).inc();
}

/// Prometheus text exposition of the shared metrics (no `# EOF` line).
pub fn encode() -> String {
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode_registry(&mut out, &METRICS.registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, type)` of every `# TYPE` line, and the label names of every sample line by
    /// family.
    type Parsed = (Vec<(String, String)>, Vec<(String, Vec<String>)>);

    fn parse(text: &str) -> Parsed {
        let mut types = vec![];
        let mut samples = vec![];
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (n, t) = rest.split_once(' ').unwrap();
                types.push((n.to_string(), t.to_string()));
            } else if !line.starts_with('#') {
                let (head, _) = line.rsplit_once(' ').unwrap();
                let (name, labels) = head.split_once('{').unwrap_or((head, ""));
                let names = labels
                    .trim_end_matches('}')
                    .split(',')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| kv.split_once('=').unwrap().0.to_string())
                    .filter(|l| l != "le")
                    .collect();
                samples.push((name.to_string(), names));
            }
        }
        (types, samples)
    }

    #[test]
    fn the_catalogue_is_what_metrics_exposes_with_the_labels_it_names() {
        // One sample of every labelled family of this process.
        reconciled("App", 0.01, Some("Conflict"));
        let _running = in_flight("App");
        job_run_skipped("ns", "j", "RunMissed");
        notified("webhook", "sent");
        global().scheduler.declined.get_or_create(&ReasonLabels { reason: "insufficient mem".into() }).set(1);
        let m = crate::http::Metrics::default();
        let src = crate::http::SourceLabels { source: "ns/s".into() };
        m.sync_duration.get_or_create(&src).observe(0.1);
        m.fetch_duration.get_or_create(&src).observe(0.1);
        m.applied.get_or_create(&src).inc();
        m.pruned.get_or_create(&src).inc();
        m.errors.get_or_create(&crate::http::ErrorLabels { source: "ns/s".into(), reason: "FetchFailed".into() }).inc();
        m.requests.get_or_create(&crate::http::VerbLabels { verb: "read".into() }).inc();
        let text = m.encode_with(&dromos_core::observe::encode(&[]));
        let (types, samples) = parse(&text);
        let all: Vec<&Fam> = FAMILIES.iter().chain(dromos_core::observe::FAMILIES).collect();
        let want: Vec<(String, String)> =
            all.iter().map(|f| (format!("dromos_{}", f.name), f.kind.as_str().to_string())).collect();
        let mut got = types.clone();
        got.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(got, want_sorted, "# TYPE lines and the catalogue differ:\n{text}");
        for (name, labels) in samples {
            let f = all
                .iter()
                .find(|f| {
                    let base = format!("dromos_{}", f.name);
                    name == base
                        || [&"_total", &"_bucket", &"_sum", &"_count", &"_created"]
                            .iter()
                            .any(|s| name == format!("{base}{s}"))
                })
                .unwrap_or_else(|| panic!("{name} is in no family of the catalogue"));
            let want: Vec<String> = f.labels.iter().map(|l| l.to_string()).collect();
            assert_eq!(labels, want, "labels of {name}");
        }
    }

    #[test]
    fn reconciles_errors_durations_and_the_build_are_exposed() {
        reconciled("TestKind", 0.002, None);
        reconciled("TestKind", 0.004, Some("Conflict"));
        let text = encode();
        assert!(text.contains(r#"dromos_reconciles_total{operator="TestKind",result="success"} 1"#), "{text}");
        assert!(text.contains(r#"dromos_reconciles_total{operator="TestKind",result="error"} 1"#), "{text}");
        assert!(text.contains(r#"dromos_reconcile_errors_total{operator="TestKind",reason="Conflict"} 1"#), "{text}");
        assert!(text.contains(r#"dromos_reconcile_duration_seconds_count{operator="TestKind"} 2"#), "{text}");
        let build = format!(r#"dromos_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION"));
        assert!(text.contains(&build), "{text}");
        assert!(!text.contains("# EOF"), "one EOF, written by the caller: {text}");
        notified("webhook", "sent");
        let text = encode();
        assert!(text.contains(r#"dromos_notifications_total{type="webhook",result="sent"} 1"#), "{text}");
    }
}

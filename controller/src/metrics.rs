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

/// The shared operator metrics.
pub struct OperatorMetrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<OperatorLabels, Histogram>,
    notifications: Family<NotificationLabels, Counter>,
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
    let notifications = Family::<NotificationLabels, Counter>::default();
    registry.register("notifications", "Notifications by target type and result", notifications.clone());
    OperatorMetrics { registry, reconciles, errors, duration, notifications }
});

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

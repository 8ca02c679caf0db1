//! The controller's HTTP endpoints (I/O): `/metrics` (Prometheus text), `/healthz`, `/readyz`,
//! and `POST /hook`, which triggers an immediate sync of the GitSources matching a GitHub or
//! GitLab push; the hook on the same listener or on one of its own (`--webhook-listen`).
//!
//! Webhooks are authenticated with a shared secret: GitHub's `X-Hub-Signature-256`
//! (HMAC-SHA256 of the body) or GitLab's `X-Gitlab-Token`. Without a configured secret the hook
//! answers 404.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use dromos_crds::GitSource;
use hmac::{Hmac, Mac};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Labels naming a source.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `<namespace>/<name>`.
    pub source: String,
}

/// Labels naming a failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `<namespace>/<name>`.
    pub source: String,
    /// Stable reason (`FetchFailed`, `ValidationFailed`, `Conflict`, ...).
    pub reason: String,
}

/// Labels of API request counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabels {
    /// `read` (get, list, discovery) or `write` (apply, delete, status, events).
    pub verb: String,
}

/// The controller's metrics.
pub struct Metrics {
    registry: Registry,
    /// Sync duration per source.
    pub sync_duration: Family<SourceLabels, Histogram>,
    /// Git fetch duration per source.
    pub fetch_duration: Family<SourceLabels, Histogram>,
    /// Objects applied per source.
    pub applied: Family<SourceLabels, Counter>,
    /// Objects pruned per source.
    pub pruned: Family<SourceLabels, Counter>,
    /// Failed syncs by reason.
    pub errors: Family<ErrorLabels, Counter>,
    /// API requests by verb.
    pub requests: Family<VerbLabels, Counter>,
    /// Webhook deliveries accepted.
    pub webhooks: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dromos");
        let hist = || Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let sync_duration = Family::<SourceLabels, Histogram>::new_with_constructor(hist as fn() -> Histogram);
        let fetch_duration = Family::<SourceLabels, Histogram>::new_with_constructor(hist as fn() -> Histogram);
        let applied = Family::default();
        let pruned = Family::default();
        let errors = Family::default();
        let requests = Family::default();
        let webhooks = Counter::default();
        registry.register("sync_duration_seconds", "Duration of a GitSource sync", sync_duration.clone());
        registry.register("git_fetch_duration_seconds", "Duration of a git fetch", fetch_duration.clone());
        registry.register("objects_applied", "Objects created or updated", applied.clone());
        registry.register("objects_pruned", "Objects deleted because they left their source", pruned.clone());
        registry.register("sync_errors", "Failed syncs by reason", errors.clone());
        registry.register("api_requests", "Kubernetes API requests by verb", requests.clone());
        registry.register("webhooks", "Accepted webhook deliveries", webhooks.clone());
        Self { registry, sync_duration, fetch_duration, applied, pruned, errors, requests, webhooks }
    }
}

impl Metrics {
    /// OpenMetrics exposition: these metrics, then the operators' (`crate::metrics`).
    pub fn encode(&self) -> String {
        self.encode_with("")
    }

    /// [`Metrics::encode`] with `objects` (the object-state families) before the `# EOF`.
    pub fn encode_with(&self, objects: &str) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let _ = encode_registry(&mut out, &self.registry);
        out.push_str(&crate::metrics::encode());
        out.push_str(objects);
        let _ = encode_eof(&mut out);
        out
    }
}

/// Shared state of the HTTP server.
pub struct HttpState {
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// The operators' object-state metrics and watch readiness (empty where no operator runs).
    pub objects: crate::operators::manager::ObjectMetrics,
    /// True while this replica runs the operators: started, and leading when leader election is
    /// on. `/readyz` answers 503 otherwise (a Service then sends webhooks to the leader only),
    /// and `/hook` refuses with 503 rather than queue triggers that nothing would consume.
    pub ready: AtomicBool,
    /// `/healthz` fails when a reconcile runs, or a loop has not cycled, for this long.
    pub stuck_after: std::time::Duration,
    /// Shared webhook secret.
    pub webhook_secret: Option<String>,
    /// Client to find matching GitSources.
    pub client: Client,
    /// Namespaces the controller watches.
    pub scope: crate::scope::Scope,
    /// Where triggered reconciles go.
    pub trigger: futures::channel::mpsc::UnboundedSender<ObjectRef<GitSource>>,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpState")
    }
}

/// Every endpoint on one listener: [`ops_router`] and [`hook_router`] (`dromos controller`
/// without `--webhook-listen`).
pub fn router(state: Arc<HttpState>) -> Router {
    ops_router(state.clone()).merge(hook_router(state))
}

/// `POST /hook` alone, for a listener of its own (`--webhook-listen`): what is exposed to the
/// Git host reveals no metrics.
pub fn hook_router(state: Arc<HttpState>) -> Router {
    Router::new().route("/hook", post(hook)).with_state(state)
}

/// `/metrics`, `/healthz` and `/readyz`, without the webhook.
pub fn ops_router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Liveness: 503 naming what is stuck when a reconcile has run, or a loop has not cycled, for
/// `stuck_after` (`dromos_core::watchdog`); the kubelet then restarts the process.
async fn healthz(State(s): State<Arc<HttpState>>) -> (StatusCode, String) {
    let limit = chrono::Duration::from_std(s.stuck_after).unwrap_or(chrono::Duration::MAX);
    let stuck = dromos_core::watchdog::stuck(&crate::watchdog::activity(), chrono::Utc::now(), limit);
    if stuck.is_empty() {
        (StatusCode::OK, "ok".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("stuck: {}\n", stuck.join("; ")))
    }
}

/// Readiness: this replica runs the operators (leads, with leader election) and their watches
/// have listed; webhooks then go to it.
async fn readyz(State(s): State<Arc<HttpState>>) -> (StatusCode, &'static str) {
    if !s.ready.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "not running the operators: starting, or not the leader")
    } else if !s.objects.synced() {
        (StatusCode::SERVICE_UNAVAILABLE, "running the operators; their watches have not listed yet")
    } else {
        (StatusCode::OK, "ready")
    }
}

/// The content type of the exposition: OpenMetrics 1.0 (counters with `_total`, an `# EOF`).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics(State(s): State<Arc<HttpState>>) -> impl axum::response::IntoResponse {
    let objects = s.objects.encode(chrono::Utc::now());
    ([(axum::http::header::CONTENT_TYPE, OPENMETRICS)], s.metrics.encode_with(&objects))
}

/// Verifies a GitHub `sha256=<hex>` signature of `body`.
pub fn github_signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else { return false };
    let Ok(sig) = decode_hex(hex) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// Hex digits to bytes. Byte-wise: slicing the text by two bytes panicked inside a non-ASCII
/// character, and `u8::from_str_radix` took `+f` for 15.
fn decode_hex(s: &str) -> Result<Vec<u8>, ()> {
    if !s.len().is_multiple_of(2) {
        return Err(());
    }
    let digit = |b: u8| char::from(b).to_digit(16).ok_or(());
    s.as_bytes().chunks(2).map(|p| Ok((digit(p[0])? * 16 + digit(p[1])?) as u8)).collect()
}

/// Normalises a repository URL for matching: no scheme, user, `.git` or trailing `/`;
/// `git@host:path` becomes `host/path`.
pub fn normalize_url(u: &str) -> String {
    let u = u.trim().trim_end_matches('/').trim_end_matches(".git");
    let u = u.split_once("://").map(|(_, rest)| rest).unwrap_or(u);
    let u = u.rsplit_once('@').map(|(_, rest)| rest).unwrap_or(u);
    let u = if !u.contains('/') || u.find(':').is_some_and(|c| u.find('/').is_some_and(|s| c < s)) {
        u.replacen(':', "/", 1)
    } else {
        u.to_string()
    };
    u.to_ascii_lowercase()
}

/// URLs and branch of a push payload (GitHub or GitLab).
pub fn push_targets(body: &serde_json::Value) -> (Vec<String>, Option<String>) {
    let mut urls = vec![];
    for p in [
        "/repository/clone_url",
        "/repository/ssh_url",
        "/repository/html_url",
        "/repository/git_http_url",
        "/repository/git_ssh_url",
        "/project/git_http_url",
        "/project/git_ssh_url",
        "/project/web_url",
    ] {
        if let Some(u) = body.pointer(p).and_then(|v| v.as_str()) {
            urls.push(normalize_url(u));
        }
    }
    let branch =
        body.get("ref").and_then(|r| r.as_str()).and_then(|r| r.strip_prefix("refs/heads/")).map(str::to_string);
    (urls, branch)
}

async fn hook(State(s): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let Some(secret) = &s.webhook_secret else { return (StatusCode::NOT_FOUND, "webhooks are not configured".into()) };
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let authentic = match (header("x-hub-signature-256"), header("x-gitlab-token")) {
        (Some(sig), _) => github_signature_ok(secret, &body, sig),
        (None, Some(token)) => {
            token.len() == secret.len() && token.bytes().zip(secret.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        }
        (None, None) => false,
    };
    if !authentic {
        return (StatusCode::UNAUTHORIZED, "bad or missing signature".into());
    }
    // Only the replica running the operators consumes triggers; a follower queues nothing.
    if !s.ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "this replica is not running the operators (not the leader); retry".into(),
        );
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON".into());
    };
    let (urls, branch) = push_targets(&payload);
    let mut sources = vec![];
    for api in s.scope.typed::<GitSource>(&s.client) {
        match api.list(&Default::default()).await {
            Ok(l) => sources.extend(l.items),
            Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("listing GitSources: {e}")),
        }
    }
    let mut triggered = vec![];
    for gs in sources {
        let url_match = urls.contains(&normalize_url(&gs.spec.url));
        let want = gs
            .spec
            .git_ref
            .as_ref()
            .and_then(|r| r.branch.clone())
            .or_else(|| gs.spec.git_ref.is_none().then(|| "main".to_string()));
        let branch_match = match (&branch, &want) {
            (Some(b), Some(w)) => b == w,
            _ => true, // tags and commits: refetch anyway, it is cheap
        };
        if url_match && branch_match {
            // Fetches made before this push are not shared with the reconciles it starts.
            crate::git::notice_push(&gs.spec.url);
            triggered.push(format!("{}/{}", gs.namespace().unwrap_or_default(), gs.name_any()));
            let _ = s.trigger.unbounded_send(ObjectRef::from_obj(&gs));
        }
    }
    s.metrics.webhooks.inc();
    (StatusCode::ACCEPTED, format!("triggered {} source(s): {}", triggered.len(), triggered.join(", ")))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signatures() {
        // HMAC-SHA256("It's a Secret to Everybody", "Hello, World!") from GitHub's docs.
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(github_signature_ok("It's a Secret to Everybody", b"Hello, World!", sig));
        assert!(!github_signature_ok("wrong", b"Hello, World!", sig));
        assert!(!github_signature_ok("It's a Secret to Everybody", b"Hello, World?", sig));
        assert!(!github_signature_ok("x", b"y", "sha1=abc"));
    }

    #[test]
    fn urls_normalise_across_forms() {
        let n = normalize_url("https://github.com/Acme/Platform.git");
        assert_eq!(n, "github.com/acme/platform");
        assert_eq!(normalize_url("git@github.com:acme/platform.git"), n);
        assert_eq!(normalize_url("ssh://git@github.com/acme/platform"), n);
        assert_eq!(normalize_url("https://github.com/acme/platform/"), n);
    }

    #[test]
    fn push_payloads() {
        let gh = serde_json::json!({"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/acme/p.git", "ssh_url": "git@github.com:acme/p.git"}});
        let (urls, branch) = push_targets(&gh);
        assert!(urls.contains(&"github.com/acme/p".to_string()));
        assert_eq!(branch.as_deref(), Some("main"));
        let gl =
            serde_json::json!({"ref": "refs/heads/dev", "project": {"git_http_url": "https://gitlab.com/acme/p.git"}});
        let (urls, branch) = push_targets(&gl);
        assert_eq!((urls, branch.as_deref()), (vec!["gitlab.com/acme/p".to_string()], Some("dev")));
    }
}

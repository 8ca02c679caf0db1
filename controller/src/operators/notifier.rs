//! The Notifier operator (I/O): Dromos Events -> notifications -> webhooks, Slack, Teams,
//! GitHub and GitLab commit statuses.
//!
//! Two loops share one context:
//! * **check** (a controller over Notifiers): reads the Secret of `spec.target.secretRef`
//!   through `spec.serviceAccountName` (impersonated), validates the target with
//!   [`dromos_core::notify::validate_target`], and writes the conditions (Ready, or Stalled
//!   with `SecretUnreadable`, `InvalidTarget`, `ServiceAccountRequired`).
//! * **dispatch**: watches the core/v1 Events about `dromos.io` objects in the served
//!   namespaces; [`dromos_core::notify::signal_of`] says which are notifications, and each
//!   Notifier of the Event's namespace that [`dromos_core::notify::wants`] it gets it on its
//!   own bounded queue (a full queue drops and counts). One worker per Notifier renders the
//!   request ([`dromos_core::notify::render_request`]), takes a token of its rate limit, posts
//!   with a timeout and a bounded read of the answer, retries with exponential backoff, and
//!   writes its counters (`sent`, `failed`, `rateLimited`, `lastEventTime`, `lastError`).
//!
//! The two write disjoint status fields. Events older than the Notifier's creation or its
//! `status.lastEventTime` are never sent: a restart sends nothing twice.

use super::{Backoff, Error, Shared, Started};
use dromos_core::notify::{self, Check, Credentials, Signal, TokenBucket};
use dromos_core::tenancy;
use dromos_core::time::{Instant, fmt_time, parse_time};
use dromos_crds::notifier::{NotifierStatus, SourceKind, TargetType};
use dromos_crds::{GitSource, Notifier};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Secret};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Operator settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Notifications waiting per Notifier; more are dropped (and counted).
    pub queue: usize,
    /// Wait before the first retry (doubled each time, at most [`notify::RETRY_CAP`]).
    pub retry_base: Duration,
    /// Attempts per notification.
    pub attempts: u32,
    /// Bound of one HTTP request, answer included.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            queue: 100,
            retry_base: Duration::from_secs(2),
            attempts: notify::MAX_ATTEMPTS,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Most bytes of a receiver's answer read (the rest is dropped with the connection).
const ANSWER_BYTES: usize = 64 << 10;
/// Characters of a receiver's answer kept in `status.lastError`.
const ANSWER_CHARS: usize = 300;
/// Recheck of a usable Notifier (a Secret or a ServiceAccount's rights may change unseen).
const RECHECK: Duration = Duration::from_secs(300);
/// Recheck of a refused Notifier.
const RECHECK_REFUSED: Duration = Duration::from_secs(30);
/// Occurrences remembered per Notifier to send nothing twice when the Event watch lists again.
const SEEN_MAX: usize = 10_000;

type Https = hyper_openssl::client::legacy::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
type HttpClient = hyper_util::client::legacy::Client<Https, http_body_util::Full<bytes::Bytes>>;

/// Shared state of the Notifier loops.
pub struct Context {
    client: Client,
    scope: crate::scope::Scope,
    tenancy: super::Tenancy,
    opts: Options,
    backoff: Backoff<Notifier>,
    recorder: kube::runtime::events::Recorder,
    notifiers: Store<Notifier>,
    listed: super::Listed,
    workers: std::sync::Mutex<HashMap<ObjectRef<Notifier>, Worker>>,
    http: Option<HttpClient>,
    /// Notifications delivered.
    pub sent: AtomicUsize,
    /// Notifications given up.
    pub failed: AtomicUsize,
    /// Notifications dropped by a rate limit or a full queue.
    pub rate_limited: AtomicUsize,
}

impl super::Observe for Context {
    fn synced(&self) -> bool {
        self.listed.get()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({:?})", self.opts)
    }
}

/// The dispatcher's handle on one Notifier's worker.
struct Worker {
    uid: String,
    tx: mpsc::Sender<Signal>,
    /// Events at or before this were handled (or predate the Notifier).
    baseline: Instant,
    /// Events older than this (the Notifier's creation) are not for it.
    created: Instant,
    seen: HashSet<(String, i32)>,
    /// Dropped because the queue was full (added to `status.rateLimited` by the worker).
    dropped: Arc<AtomicI64>,
}

/// Builds the operator: its context (counters) and the future that runs both loops.
pub fn start(shared: &Shared, opts: Options) -> Started<Context> {
    let listed = super::Listed::default();
    let (store, stream) = shared.reflect_listed::<Notifier>(watcher::Config::default(), &listed);
    let http = match https_client() {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!("notifications cannot be sent: no HTTPS client: {e}");
            None
        }
    };
    let ctx = Arc::new(Context {
        client: shared.client.clone(),
        scope: shared.scope.clone(),
        tenancy: shared.tenancy.clone(),
        opts,
        backoff: Backoff::new("notifier"),
        recorder: shared.recorder("dromos-notifier"),
        notifiers: store.clone(),
        listed,
        workers: Default::default(),
        http,
        sent: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        rate_limited: AtomicUsize::new(0),
    });
    let run = {
        let ctx = ctx.clone();
        async move {
            // The workers write status counters: only a spec change is checked again.
            let changed = stream.predicate_filter(predicates::generation, Default::default());
            let check = Controller::for_stream(changed, store).run(reconcile, error_policy, ctx.clone());
            futures::join!(super::report::drive("notifier", check), dispatch(ctx));
        }
    };
    Started { ctx, run: Box::pin(run) }
}

fn https_client() -> Result<HttpClient, openssl::error::ErrorStack> {
    let ssl = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls())?;
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_openssl::client::legacy::HttpsConnector::with_connector(http, ssl)?;
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}

fn error_policy(n: Arc<Notifier>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.backoff.on_error(&n, err)
}

// ---- check -------------------------------------------------------------------------------

async fn reconcile(n: Arc<Notifier>, ctx: Arc<Context>) -> Result<Action, Error> {
    let r = super::guard(&*n, &ctx.recorder, check(&n, &ctx)).await;
    ctx.backoff.record(&n, r)
}

async fn check(n: &Notifier, ctx: &Context) -> Result<Action, Error> {
    // gather (client required)
    let result = if n.spec.suspend == Some(true) {
        Check::Suspended
    } else {
        match fetch_credentials(ctx, n).await {
            Ok(c) => match notify::validate_target(&n.spec.target, &c) {
                Ok(()) => Check::Ready,
                Err(message) => Check::Refused { reason: notify::INVALID_TARGET, message },
            },
            Err(refused) => refused,
        }
    };
    // decide (no client required)
    let old = n.status.clone().unwrap_or_default();
    let conditions =
        notify::conditions(&n.spec, n.metadata.generation, &old.common.conditions, &result, chrono::Utc::now());
    // act: the one status write of the check (its own fields only)
    if old.common.conditions != conditions || old.common.observed_generation != n.metadata.generation {
        let body =
            serde_json::json!({"status": {"observedGeneration": n.metadata.generation, "conditions": conditions}});
        let api: Api<Notifier> = Api::namespaced(ctx.client.clone(), &n.namespace().unwrap_or_default());
        api.patch_status(&n.name_any(), &PatchParams::default(), &Patch::Merge(&body)).await?;
    }
    Ok(Action::requeue(if result == Check::Ready { RECHECK } else { RECHECK_REFUSED }))
}

/// The Notifier's Secret, read as its identity; a refusal says who may not read what.
async fn fetch_credentials(ctx: &Context, n: &Notifier) -> Result<Credentials, Check> {
    let ns = n.namespace().unwrap_or_default();
    let identity =
        tenancy::identity(&ctx.tenancy.rules, &ns, n.spec.service_account_name.as_deref()).map_err(|message| {
            Check::Refused {
                reason: tenancy::SERVICE_ACCOUNT_REQUIRED,
                // The rule is the sources' (0042); the words are a Notifier's.
                message: message
                    .replace("this source", "this Notifier")
                    .replace("nothing is applied", "nothing is sent"),
            }
        })?;
    let Some(r) = &n.spec.target.secret_ref else { return Ok(Credentials::default()) };
    let client = ctx
        .tenancy
        .client_for(&ctx.client, &identity)
        .map_err(|e| Check::Refused { reason: tenancy::SERVICE_ACCOUNT_REQUIRED, message: e.to_string() })?;
    let api: Api<Secret> = Api::namespaced(client, &ns);
    match api.get(&r.name).await {
        Ok(s) => {
            let data = s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
            Ok(Credentials::from_data(&data))
        }
        Err(kube::Error::Api(s)) => Err(Check::Refused {
            reason: notify::SECRET_UNREADABLE,
            message: format!("Secret {} (spec.target.secretRef) cannot be read as {identity}: {}", r.name, s.message),
        }),
        Err(e) => Err(Check::Refused {
            reason: notify::SECRET_UNREADABLE,
            message: format!("Secret {} (spec.target.secretRef): {e}", r.name),
        }),
    }
}

// ---- dispatch ----------------------------------------------------------------------------

/// Watches the Events about Dromos objects and queues each notification for the Notifiers
/// that want it.
async fn dispatch(ctx: Arc<Context>) {
    use futures::StreamExt;
    let cfg = watcher::Config::default().fields("involvedObject.apiVersion=dromos.io/v1alpha1");
    let mut events = Box::pin(ctx.scope.watcher::<CoreEvent>(&ctx.client, cfg).default_backoff().touched_objects());
    // Before the first Event: a Notifier not listed yet would miss it.
    let _ = ctx.notifiers.wait_until_ready().await;
    // The workers live as long as this loop: dropping the operator (a lost leadership, a
    // test's end) stops them.
    let mut workers = tokio::task::JoinSet::new();
    while let Some(ev) = events.next().await {
        while workers.try_join_next().is_some() {}
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!("watching Events for notifications: {e}");
                continue;
            }
        };
        let Some(signal) = notify::signal_of(&ev) else { continue };
        super::one_pass("notify dispatch", async { route(&ctx, signal, &mut workers) }).await;
    }
}

/// Queues `s` for every Notifier of its namespace that selects it and has not had it.
fn route(ctx: &Arc<Context>, s: Signal, spawned: &mut tokio::task::JoinSet<()>) {
    let notifiers: Vec<Arc<Notifier>> = ctx
        .notifiers
        .state()
        .into_iter()
        .filter(|n| n.namespace().as_deref() == Some(s.namespace.as_str()) && notify::wants(&n.spec, &s))
        .collect();
    let mut workers = ctx.workers.lock().expect("workers lock");
    // Workers of deleted (or recreated) Notifiers go: their queue closes and they end.
    workers.retain(|k, w| ctx.notifiers.get(k).is_some_and(|n| n.uid().as_deref() == Some(w.uid.as_str())));
    for n in notifiers {
        let key = ObjectRef::from_obj(&*n);
        let uid = n.uid().unwrap_or_default();
        let w = match workers.get_mut(&key) {
            Some(w) if w.uid == uid && !w.tx.is_closed() => w,
            _ => {
                let w = spawn_worker(ctx, &n, spawned);
                workers.insert(key.clone(), w);
                workers.get_mut(&key).expect("just inserted")
            }
        };
        if s.time < w.created || s.time <= w.baseline || !w.seen.insert(s.key.clone()) {
            continue;
        }
        if w.seen.len() > SEEN_MAX {
            w.seen.clear();
            w.baseline = w.baseline.max(s.time);
        }
        if w.tx.try_send(s.clone()).is_err() {
            w.dropped.fetch_add(1, Ordering::Relaxed);
            ctx.rate_limited.fetch_add(1, Ordering::Relaxed);
            crate::metrics::notified(n.spec.target.type_.as_str(), "dropped");
            tracing::warn!(notifier = %key, event = s.event.as_str(), "notification dropped: the queue is full");
        }
    }
}

fn spawn_worker(ctx: &Arc<Context>, n: &Notifier, spawned: &mut tokio::task::JoinSet<()>) -> Worker {
    let (tx, rx) = mpsc::channel(ctx.opts.queue.max(1));
    let status = n.status.clone().unwrap_or_default();
    let created = n.metadata.creation_timestamp.as_ref().map(dromos_core::time::from_k8s).unwrap_or_default();
    let baseline = status.last_event_time.as_deref().and_then(parse_time).unwrap_or(Instant::MIN_UTC);
    let dropped = Arc::new(AtomicI64::new(0));
    let state = WorkerState { status, dropped: dropped.clone(), bucket: TokenBucket::default() };
    spawned.spawn(work(ctx.clone(), ObjectRef::from_obj(n), rx, state));
    Worker { uid: n.uid().unwrap_or_default(), tx, baseline, created, seen: HashSet::new(), dropped }
}

/// What a worker keeps: its counters (it is their only writer) and its rate limit.
struct WorkerState {
    status: NotifierStatus,
    dropped: Arc<AtomicI64>,
    bucket: TokenBucket,
}

/// What became of one notification.
enum Delivered {
    Sent,
    /// The target has nothing to say about it (a commit status without a revision).
    Nothing,
    RateLimited,
    Failed(String),
}

/// Delivers the notifications of one Notifier, in order, until it is deleted.
async fn work(ctx: Arc<Context>, key: ObjectRef<Notifier>, mut rx: mpsc::Receiver<Signal>, mut st: WorkerState) {
    let mut unwritten = 0;
    while let Some(s) = rx.recv().await {
        let Some(n) = ctx.notifiers.get(&key) else { break };
        let outcome = match super::catch_panic(async { Ok(deliver(&ctx, &n, &s, &mut st.bucket).await) }).await {
            Ok(o) => o,
            Err(e) => Delivered::Failed(e.to_string()),
        };
        let type_ = n.spec.target.type_.as_str();
        let now = chrono::Utc::now();
        match outcome {
            Delivered::Sent => {
                st.status.sent += 1;
                st.status.last_sent_time = Some(fmt_time(now));
                ctx.sent.fetch_add(1, Ordering::Relaxed);
                crate::metrics::notified(type_, "sent");
            }
            Delivered::Nothing => {}
            Delivered::RateLimited => {
                st.status.rate_limited += 1;
                ctx.rate_limited.fetch_add(1, Ordering::Relaxed);
                crate::metrics::notified(type_, "rate_limited");
            }
            Delivered::Failed(why) => {
                tracing::warn!(notifier = %key, event = s.event.as_str(), "notification failed: {why}");
                st.status.failed += 1;
                st.status.last_error = Some(why);
                ctx.failed.fetch_add(1, Ordering::Relaxed);
                crate::metrics::notified(type_, "failed");
            }
        }
        let handled = st.status.last_event_time.as_deref().and_then(parse_time);
        if handled.is_none_or(|h| h < s.time) {
            st.status.last_event_time = Some(s.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        }
        unwritten += 1;
        // A burst writes status once it is through (or every 20 notifications).
        if rx.is_empty() || unwritten >= 20 {
            unwritten = 0;
            if let Err(e) = patch_counters(&ctx, &n, &st).await {
                tracing::warn!(notifier = %key, "notifier status not written: {e}");
            }
        }
    }
}

async fn patch_counters(ctx: &Context, n: &Notifier, st: &WorkerState) -> Result<(), kube::Error> {
    let s = &st.status;
    let body = serde_json::json!({"status": {
        "sent": s.sent,
        "failed": s.failed,
        "rateLimited": s.rate_limited + st.dropped.load(Ordering::Relaxed),
        "lastSentTime": s.last_sent_time,
        "lastEventTime": s.last_event_time,
        "lastError": s.last_error,
    }});
    let api: Api<Notifier> = Api::namespaced(ctx.client.clone(), &n.namespace().unwrap_or_default());
    api.patch_status(&n.name_any(), &PatchParams::default(), &Patch::Merge(&body)).await.map(|_| ())
}

async fn deliver(ctx: &Context, n: &Notifier, s: &Signal, bucket: &mut TokenBucket) -> Delivered {
    let target = &n.spec.target;
    if !notify::selects(&n.spec, s) {
        return Delivered::Nothing; // suspended: seen, not sent
    }
    if notify::needs_labels(&n.spec) {
        match fetch_labels(ctx, s).await {
            Ok(labels) if notify::labels_match(&n.spec, s, &labels) => {}
            Ok(_) => return Delivered::Nothing,
            Err(e) => return Delivered::Failed(format!("the labels of {} {}: {e}", s.kind.as_str(), s.name)),
        }
    }
    let creds = match fetch_credentials(ctx, n).await {
        Ok(c) => c,
        Err(Check::Refused { message, .. }) => return Delivered::Failed(message),
        Err(_) => return Delivered::Nothing,
    };
    let source_url = match (target.type_, &target.repository, s.kind) {
        (TargetType::Github | TargetType::Gitlab, None, SourceKind::GitSource) => {
            let api: Api<GitSource> = Api::namespaced(ctx.client.clone(), &s.namespace);
            match api.get(&s.name).await {
                Ok(gs) => Some(gs.spec.url),
                Err(e) => return Delivered::Failed(format!("GitSource {} (for its repository): {e}", s.name)),
            }
        }
        _ => None,
    };
    let notifier = format!("{}/{}", n.namespace().unwrap_or_default(), n.name_any());
    let req = match notify::render_request(target, &creds, s, source_url.as_deref(), &notifier) {
        Ok(Some(r)) => r,
        Ok(None) => return Delivered::Nothing,
        Err(why) => return Delivered::Failed(why),
    };
    let per_minute = n.spec.rate_limit_per_minute.unwrap_or(notify::DEFAULT_PER_MINUTE);
    if !bucket.take(per_minute, chrono::Utc::now()) {
        return Delivered::RateLimited;
    }
    let Some(http) = &ctx.http else { return Delivered::Failed("no HTTPS client (see the controller's log)".into()) };
    let what = format!("the {} target", target.type_.as_str());
    let mut last = String::new();
    let attempts = ctx.opts.attempts.max(1);
    for attempt in 1..=attempts {
        match post(http, &req, ctx.opts.timeout).await {
            Ok((code, _)) if (200..300).contains(&code) => return Delivered::Sent,
            Ok((code, answer)) => {
                last = format!("{what} answered {code}: {answer}");
                if !notify::retryable(code) {
                    return Delivered::Failed(format!("{last} (not retried)"));
                }
            }
            Err(e) => last = format!("{what}: {e}"),
        }
        if attempt < attempts {
            tokio::time::sleep(notify::retry_delay(attempt, ctx.opts.retry_base)).await;
        }
    }
    Delivered::Failed(format!("{last} (gave up after {attempts} attempts)"))
}

/// The labels of the object `s` is about, as they are now (an object already deleted has
/// none).
async fn fetch_labels(ctx: &Context, s: &Signal) -> Result<std::collections::BTreeMap<String, String>, kube::Error> {
    let (c, ns) = (ctx.client.clone(), s.namespace.as_str());
    let meta = match s.kind {
        SourceKind::GitSource => {
            Api::<GitSource>::namespaced(c, ns).get_metadata_opt(&s.name).await?.map(|m| m.metadata)
        }
        SourceKind::App => {
            Api::<dromos_crds::App>::namespaced(c, ns).get_metadata_opt(&s.name).await?.map(|m| m.metadata)
        }
        SourceKind::Job => {
            Api::<dromos_crds::Job>::namespaced(c, ns).get_metadata_opt(&s.name).await?.map(|m| m.metadata)
        }
        SourceKind::Package => {
            Api::<dromos_crds::Package>::namespaced(c, ns).get_metadata_opt(&s.name).await?.map(|m| m.metadata)
        }
    };
    Ok(meta.and_then(|m| m.labels).unwrap_or_default())
}

/// Posts `req`; the status code and the start of the answer. The whole exchange is bounded by
/// `timeout` and the answer read to at most [`ANSWER_BYTES`]. Errors never name the URL (a
/// Slack or Teams URL is a credential).
async fn post(http: &HttpClient, req: &notify::Request, timeout: Duration) -> Result<(u16, String), String> {
    use http_body_util::BodyExt;
    let mut b = http::Request::post(&req.url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, concat!("dromos/", env!("CARGO_PKG_VERSION")));
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let r = b
        .body(http_body_util::Full::new(bytes::Bytes::from(req.body.clone())))
        .map_err(|_| "the address is not a valid URL".to_string())?;
    let exchange = async {
        let resp = http.request(r).await.map_err(|e| format!("request failed: {}", error_chain(&e)))?;
        let code = resp.status().as_u16();
        let answer = match http_body_util::Limited::new(resp.into_body(), ANSWER_BYTES).collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).chars().take(ANSWER_CHARS).collect(),
            Err(_) => format!("(an answer over {ANSWER_BYTES} bytes or cut short)"),
        };
        Ok((code, answer))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs_f64()))?
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

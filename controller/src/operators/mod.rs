//! The operators (I/O), one file each, all of one shape:
//!
//! ```text
//! gather (reads: watch caches, the API, Git) -> decide (a pure function of dromos-core,
//! `now` passed in) -> act (writes) -> one status write
//! ```
//!
//! Each operator module exposes `start(&Shared, Options) -> Started<Context>`; the
//! [`manager`] builds and runs them. This module holds what they share: the [`Error`] every
//! reconcile returns (its [`Error::reason`] is the Event reason and the metrics label), the
//! error policy ([`Backoff`]: capped exponential backoff with jitter, per object), and the
//! status/Event helpers of [`report`].

pub mod apps;
pub mod gitsource;
pub mod jobs;
pub mod manager;
pub mod notifier;
pub mod packages;
pub mod report;
pub mod scheduler;

use futures::future::BoxFuture;
use kube::Client;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client that sends every request of `base` (same connection pool and credentials) with
/// `Impersonate-User: user`: the API server authorizes each as that user.
pub fn impersonate(base: &Client, user: &str) -> Result<Client> {
    let header =
        http::HeaderValue::from_str(user).map_err(|e| Error::Unsupported(format!("impersonating {user}: {e}")))?;
    let inner = base.clone();
    let service = tower::service_fn(move |mut req: http::Request<kube::client::Body>| {
        req.headers_mut().insert("impersonate-user", header.clone());
        let inner = inner.clone();
        async move { inner.send(req).await }
    });
    Ok(Client::new(service, base.default_namespace().to_string()))
}

/// What every operator is started with.
#[derive(Clone)]
pub struct Shared {
    /// The Kubernetes client.
    pub client: Client,
    /// Namespaces served (`Scope::All`: cluster mode).
    pub scope: crate::scope::Scope,
    /// Whose identity sources act with, and the SourcePolicies that bind them.
    pub tenancy: Tenancy,
}

/// The tenancy state every source operator shares: the identity rules, a client per
/// impersonated ServiceAccount, and the SourcePolicies (a watch cache).
#[derive(Clone)]
pub struct Tenancy {
    /// `--default-service-account`, `--require-service-account`.
    pub rules: dromos_core::tenancy::IdentityRules,
    clients: Arc<Mutex<HashMap<String, Client>>>,
    policies: kube::runtime::reflector::Store<dromos_crds::SourcePolicy>,
}

impl std::fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tenancy({:?})", self.rules)
    }
}

impl Tenancy {
    /// A tenancy reading policies from `policies` (driven by [`Tenancy::watch`]).
    pub fn new(
        rules: dromos_core::tenancy::IdentityRules,
        policies: kube::runtime::reflector::Store<dromos_crds::SourcePolicy>,
    ) -> Self {
        Tenancy { rules, clients: Default::default(), policies }
    }

    /// A reflector of every SourcePolicy (cluster-scoped) and the future that keeps it.
    pub fn watch(
        client: &Client,
    ) -> (kube::runtime::reflector::Store<dromos_crds::SourcePolicy>, BoxFuture<'static, ()>) {
        use futures::StreamExt;
        use kube::runtime::WatchStreamExt;
        let (store, writer) = kube::runtime::reflector::store();
        let api: kube::Api<dromos_crds::SourcePolicy> = kube::Api::all(client.clone());
        let stream = kube::runtime::reflector(writer, kube::runtime::watcher(api, Default::default()))
            .default_backoff()
            .touched_objects();
        let run = Box::pin(async move {
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                if let Err(e) = ev {
                    tracing::warn!("watching SourcePolicies: {e}");
                }
            }
        });
        (store, run)
    }

    /// The client a source with `identity` acts through: the controller's own, or one that
    /// impersonates the ServiceAccount (same connection pool; one client per account).
    pub fn client_for(&self, base: &Client, identity: &dromos_core::tenancy::Identity) -> Result<Client> {
        let Some(user) = identity.user() else { return Ok(base.clone()) };
        let mut clients = self.clients.lock().expect("tenancy clients lock");
        if let Some(c) = clients.get(&user) {
            return Ok(c.clone());
        }
        let client = impersonate(base, &user)?;
        clients.insert(user, client.clone());
        Ok(client)
    }

    /// Every SourcePolicy as (name, spec), once the watch has listed them. Fails closed: while
    /// policies cannot be read, no source may act.
    pub async fn policies(&self) -> Result<Vec<(String, dromos_crds::SourcePolicySpec)>> {
        use kube::ResourceExt;
        // Polled: many reconciles wait here at start-up, and a store's readiness future wakes
        // only the last task that waited on it.
        tokio::time::timeout(Duration::from_secs(30), store_ready(&self.policies))
            .await
            .map_err(|_| Error::Unsupported("SourcePolicies could not be listed within 30s".into()))?;
        let mut all: Vec<(String, dromos_crds::SourcePolicySpec)> =
            self.policies.state().iter().map(|p| (p.name_any(), p.spec.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }
}

/// A namespaced kind an operator watches into a reflector store.
pub trait Watched:
    kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// One item of a [`Shared::reflect`] stream: an object its watch touched, or the watch's error.
pub type WatchedItem<K> = Result<K, kube::runtime::watcher::Error>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({:?})", self.scope)
    }
}

impl Shared {
    /// A reflector store of the `K` objects in the scope that `config` selects, and the stream
    /// of the objects its watch touches (with the default backoff), for a controller to own or
    /// watch.
    pub fn reflect<K: Watched>(
        &self,
        config: kube::runtime::watcher::Config,
    ) -> (kube::runtime::reflector::Store<K>, impl futures::Stream<Item = WatchedItem<K>> + use<K>) {
        self.reflect_with(config, &Listed::default(), None)
    }

    /// [`Shared::reflect`], setting `listed` once the watch has listed.
    pub fn reflect_listed<K: Watched>(
        &self,
        config: kube::runtime::watcher::Config,
        listed: &Listed,
    ) -> (kube::runtime::reflector::Store<K>, impl futures::Stream<Item = WatchedItem<K>> + use<K>) {
        self.reflect_with(config, listed, None)
    }

    /// [`Shared::reflect`], waking only on events that change what `read` fingerprints of an
    /// object ([`crate::readfilter`]); the store still takes every event.
    pub fn reflect_read<K: Watched>(
        &self,
        config: kube::runtime::watcher::Config,
        read: fn(&K) -> u64,
    ) -> (kube::runtime::reflector::Store<K>, impl futures::Stream<Item = WatchedItem<K>> + use<K>) {
        self.reflect_with(config, &Listed::default(), Some(read))
    }

    fn reflect_with<K: Watched>(
        &self,
        config: kube::runtime::watcher::Config,
        listed: &Listed,
        read: Option<fn(&K) -> u64>,
    ) -> (kube::runtime::reflector::Store<K>, impl futures::Stream<Item = WatchedItem<K>> + use<K>) {
        use futures::TryStreamExt;
        use kube::runtime::WatchStreamExt;
        let (store, writer) = kube::runtime::reflector::store::<K>();
        let mut filter = read.map(crate::readfilter::ReadFilter::new);
        let stream = kube::runtime::reflector(writer, listed.track(self.scope.watcher::<K>(&self.client, config)))
            .try_filter(move |ev| futures::future::ready(filter.as_mut().is_none_or(|f| f.wakes(ev))))
            .default_backoff()
            .touched_objects();
        (store, stream)
    }

    /// An Event recorder reporting as `controller` (instance: this pod's name).
    pub fn recorder(&self, controller: &str) -> Recorder {
        let reporter = Reporter { controller: controller.into(), instance: std::env::var("HOSTNAME").ok() };
        Recorder::new(self.client.clone(), reporter)
    }
}

/// What an operator's objects say in their status, as samples for `/metrics`
/// ([`dromos_core::observe`]), read from its watch cache at scrape time.
pub trait Observe {
    /// Appends the samples of every object the operator sees.
    fn observe(&self, _now: dromos_core::time::Instant, _out: &mut Vec<dromos_core::observe::Sample>) {}

    /// Whether the watch of the operator's own kind has listed once (`/readyz`).
    fn synced(&self) -> bool;
}

/// Set once a watch has listed (its first `InitDone`). Read where a store's own readiness
/// cannot be awaited: a `Store::wait_until_ready` future keeps only the last waiting task's
/// waker, and a controller already waits on its own store.
#[derive(Clone, Debug, Default)]
pub struct Listed(Arc<std::sync::atomic::AtomicBool>);

impl Listed {
    /// True once the watch has listed.
    pub fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `stream` with this flag set at its first `InitDone`.
    pub fn track<K, S>(&self, stream: S) -> impl futures::Stream<Item = S::Item> + use<K, S>
    where
        S: futures::Stream<Item = Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>>,
    {
        use futures::StreamExt;
        let flag = self.0.clone();
        stream.inspect(move |ev| {
            if let Ok(kube::runtime::watcher::Event::InitDone) = ev {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        })
    }
}

/// Waits until `store` has listed, polling (several tasks may wait on one store: see [`Listed`]).
pub async fn store_ready<K>(store: &kube::runtime::reflector::Store<K>)
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    use futures::FutureExt;
    while store.wait_until_ready().now_or_never().is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A started operator: its context (counters, caches; for tests, benches and metrics) and the
/// future that runs it until dropped.
pub struct Started<C> {
    /// The operator's shared state.
    pub ctx: Arc<C>,
    /// Runs the operator; dropping it stops the operator.
    pub run: BoxFuture<'static, ()>,
}

impl<C> std::fmt::Debug for Started<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Started({})", std::any::type_name::<C>())
    }
}

/// Why a reconcile failed. Every operator returns this one type; the error policy retries it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API request failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// The object changed since the cache was read; run again on fresh data.
    #[error("{0} changed meanwhile")]
    Conflict(String),
    /// A repository could not be fetched or read.
    #[error("fetch: {0}")]
    Fetch(String),
    /// The sync engine (plan, apply, prune) failed as a whole.
    #[error("sync: {0}")]
    Sync(String),
    /// A value could not be serialized (a bug, reported rather than panicking).
    #[error("serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    /// An object the operator cannot handle.
    #[error("{0}")]
    Unsupported(String),
    /// The reconcile panicked (a bug): this object failed, the process goes on.
    #[error("reconcile panicked: {0}")]
    Panicked(String),
}

impl Error {
    /// Stable CamelCase reason: the Event reason and the metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubernetesError",
            Error::Conflict(_) => "Conflict",
            Error::Fetch(_) => "FetchFailed",
            Error::Sync(_) => "SyncError",
            Error::Serialize(_) => "SerializeError",
            Error::Unsupported(_) => "Unsupported",
            Error::Panicked(_) => "ReconcilePanicked",
        }
    }

    /// A sync engine failure (its context chain kept).
    pub fn sync(e: impl std::fmt::Display) -> Self {
        Error::Sync(format!("{e:#}"))
    }
}

/// Credentials of a GitSource from its Secret (`spec.secretRef`, in the source's namespace).
pub async fn source_credentials(client: &Client, gs: &dromos_crds::GitSource) -> Result<crate::git::Credentials> {
    use kube::ResourceExt;
    let Some(r) = &gs.spec.secret_ref else { return Ok(crate::git::Credentials::default()) };
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &gs.namespace().unwrap_or_default());
    Ok(crate::git::Credentials::from_secret(&api.get(&r.name).await?))
}

/// Runs `fut`, turning a panic inside it into [`Error::Panicked`] with the panic's message.
/// Unwind safety is asserted: a reconcile's own state dies with it, and what it shares
/// (caches, counters, [`Backoff`], [`report::OwnWrites`]) is only touched under short locks
/// that never span a call into code that could panic on an object's values.
pub async fn catch_panic<T>(fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            Err(Error::Panicked(message))
        }
    }
}

/// Runs one pass of a loop (a scheduling cycle, an offer round): a panic in it is logged and
/// the loop goes on with the next pass.
pub async fn one_pass(what: &'static str, fut: impl std::future::Future<Output = ()>) {
    if let Err(e) = catch_panic(async {
        fut.await;
        Ok(())
    })
    .await
    {
        tracing::error!(loop_ = what, "pass failed, the loop goes on: {e}");
    }
}

/// Runs one reconcile of `obj` so that a panic fails that object only: it becomes
/// [`Error::Panicked`] (the error policy retries it with backoff, like any failure) and a
/// Warning Event `ReconcilePanicked` naming the panic is published on the object.
pub async fn guard<K, T>(obj: &K, recorder: &Recorder, fut: impl std::future::Future<Output = Result<T>>) -> Result<T>
where
    K: kube::Resource<DynamicType = ()>,
{
    use tracing::Instrument;
    let operator = K::kind(&());
    let object = format!(
        "{operator}/{}/{}",
        obj.meta().namespace.as_deref().unwrap_or(""),
        obj.meta().name.as_deref().unwrap_or("")
    );
    // Every log line of a reconcile carries the object; operators record the revision they
    // act on (`tracing::Span::current().record("revision", ...)`).
    // The status fields are read by OTLP export only (`--otlp-endpoint`): a failed reconcile is
    // an error span, its reason the description.
    let span = tracing::info_span!(
        "reconcile",
        object = %object,
        revision = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty
    );
    let start = std::time::Instant::now();
    let running = (crate::metrics::in_flight(&operator), crate::watchdog::running(object.clone()));
    let result = catch_panic(fut).instrument(span.clone()).await;
    drop(running);
    if let Err(e) = &result {
        span.record("otel.status_code", "error");
        span.record("otel.status_description", e.reason());
    }
    crate::metrics::reconciled(&operator, start.elapsed().as_secs_f64(), result.as_ref().err().map(Error::reason));
    if let Err(e @ Error::Panicked(_)) = &result {
        tracing::error!(object = %ObjectRef::from_obj(obj), "{e}");
        let note = format!("{e}; retried with backoff");
        report::event(recorder, &obj.object_ref(&()), true, "Reconcile", e.reason(), &note).await;
    }
    result
}

/// Result of a reconcile.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The first retry after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest wait between retries of a failing object.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// A conflict is retried soon: fresh data is usually there already.
pub const CONFLICT_RETRY: Duration = Duration::from_millis(200);

/// The error policy of every operator: per object, capped exponential backoff with jitter
/// (`BACKOFF_BASE * 2^(failures-1)`, at most [`BACKOFF_CAP`], each delay drawn between 75 % and
/// 100 % of that so objects that failed together do not retry together). A success resets it.
pub struct Backoff<K: kube::Resource<DynamicType = ()>> {
    operator: &'static str,
    failures: Mutex<HashMap<ObjectRef<K>, u32>>,
}

impl<K: kube::Resource<DynamicType = ()>> std::fmt::Debug for Backoff<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backoff({})", self.operator)
    }
}

impl<K: kube::Resource<DynamicType = ()>> Backoff<K> {
    /// A policy for `operator` (the name logged).
    pub fn new(operator: &'static str) -> Self {
        Self { operator, failures: Mutex::new(HashMap::new()) }
    }

    /// Logs `err` and says when to retry `obj`.
    pub fn on_error(&self, obj: &K, err: &Error) -> Action {
        let key = ObjectRef::from_obj(obj);
        if let Error::Conflict(_) = err {
            tracing::debug!(operator = self.operator, object = %key, "{err}");
            return Action::requeue(CONFLICT_RETRY);
        }
        let n = {
            let mut failures = self.failures.lock().expect("backoff lock");
            let n = failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let delay = backoff_delay(n, fastrand::f64());
        tracing::warn!(operator = self.operator, object = %key, reason = err.reason(), failures = n,
            retry_in_ms = delay.as_millis() as u64, "reconcile failed: {err}");
        Action::requeue(delay)
    }

    /// Forgets the failures of `obj` (its reconcile succeeded).
    pub fn on_success(&self, obj: &K) {
        let mut failures = self.failures.lock().expect("backoff lock");
        if !failures.is_empty() {
            failures.remove(&ObjectRef::from_obj(obj));
        }
    }

    /// Wraps a reconcile result: a success resets the backoff of `obj`.
    pub fn record<T>(&self, obj: &K, r: Result<T>) -> Result<T> {
        if r.is_ok() {
            self.on_success(obj);
        }
        r
    }
}

/// The delay before retry number `failures` (1 for the first), with `jitter` in [0, 1).
pub fn backoff_delay(failures: u32, jitter: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    exp.min(BACKOFF_CAP).mul_f64(0.75 + 0.25 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_pass_leaves_the_loop_running() {
        let mut passes = 0;
        for i in 0..3 {
            one_pass("test", async move { assert_ne!(i, 1, "pass {i} panics") }).await;
            passes += 1;
        }
        assert_eq!(passes, 3);
    }

    #[tokio::test]
    async fn a_panic_in_a_reconcile_becomes_an_error_retried_with_backoff() {
        let r: Result<()> = catch_panic(async { panic!("index out of bounds: the len is 0") }).await;
        let Err(e @ Error::Panicked(_)) = r else { panic!("{r:?}") };
        assert_eq!(e.reason(), "ReconcilePanicked");
        assert_eq!(e.to_string(), "reconcile panicked: index out of bounds: the len is 0");
        let n = 7;
        let r: Result<()> = catch_panic(async move { panic!("formatted {n}") }).await;
        assert!(matches!(r, Err(Error::Panicked(m)) if m == "formatted 7"));
        // What does not panic passes through untouched.
        assert_eq!(catch_panic(async { Ok(5) }).await.unwrap(), 5);
        assert!(matches!(catch_panic::<()>(async { Err(Error::Conflict("x".into())) }).await, Err(Error::Conflict(_))));
        // The error policy retries it with backoff, not at once.
        let backoff: Backoff<k8s_openapi::api::core::v1::ConfigMap> = Backoff::new("test");
        let mut cm = k8s_openapi::api::core::v1::ConfigMap::default();
        cm.metadata.name = Some("a".into());
        cm.metadata.namespace = Some("ns".into());
        let action = backoff.on_error(&cm, &Error::Panicked("x".into()));
        assert_ne!(action, Action::requeue(CONFLICT_RETRY));
        let second = backoff.on_error(&cm, &Error::Panicked("x".into()));
        assert_ne!(action, second);
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_bounded_jitter() {
        assert_eq!(backoff_delay(1, 1.0), BACKOFF_BASE);
        assert_eq!(backoff_delay(1, 0.0), BACKOFF_BASE.mul_f64(0.75));
        assert_eq!(backoff_delay(3, 1.0), BACKOFF_BASE * 4);
        assert_eq!(backoff_delay(7, 1.0), BACKOFF_CAP, "64 s is capped");
        assert_eq!(backoff_delay(u32::MAX, 1.0), BACKOFF_CAP, "no overflow");
        assert_eq!(backoff_delay(u32::MAX, 0.5), BACKOFF_CAP.mul_f64(0.875));
    }

    #[test]
    fn a_success_resets_and_a_conflict_retries_soon() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("a".into());
        cm.metadata.namespace = Some("ns".into());
        let b = Backoff::<ConfigMap>::new("test");
        let err = || Error::Sync("boom".into());
        let delays: Vec<Action> = (0..3).map(|_| b.on_error(&cm, &err())).collect();
        assert_ne!(delays[0], delays[2], "the third failure waits longer");
        assert_eq!(b.on_error(&cm, &Error::Conflict("x".into())), Action::requeue(CONFLICT_RETRY));
        assert!(b.record(&cm, Ok(())).is_ok());
        assert!(b.failures.lock().unwrap().is_empty(), "success forgets the failures");
    }
}

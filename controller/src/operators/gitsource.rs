//! The GitSource operator (I/O): fetch -> validate -> sync (plan, apply, prune) -> status.
//!
//! gather: the source's Secret and the Git revision (fetched off the async runtime), the tree
//! loaded and validated by [`dromos_core::prepare`]; act: [`crate::sync`] applies and prunes;
//! decide: [`dromos_core::gitsource::decide`] turns what happened into the one status write,
//! the Events and the requeue. One reconcile per GitSource, bounded concurrency across
//! sources, each isolated (a failing source only requeues itself). Status is written only when
//! it changes and Events only when something happened, so a no-op resync makes zero mutating
//! requests.

use super::{Backoff, Error, Shared, Started};
use crate::git::{self, GitRef};
use crate::sync::{self, SharedResolver, SyncSettings};
use dromos_core::LoadOptions;
use dromos_core::gitsource::{self as decisions, Outcome, Requeue};
use dromos_core::plan::{self, ObjRef};
use dromos_core::prepare;
use dromos_core::tenancy;
use dromos_crds::GitSource;
use dromos_crds::gitsource::GitSourceStatus;
use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Operator settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Reconcile only GitSources matching this label selector (`--selector`; sharding).
    pub selector: Option<String>,
    /// Where fetched repositories are cached.
    pub cache_dir: PathBuf,
    /// `file://` URLs and plain paths may be fetched (`--allow-local-git`; the quickstart and
    /// the tests). Refused sources say `URLNotAllowed`.
    pub allow_file_urls: bool,
    /// GitSources reconciled at once.
    pub concurrency: u16,
    /// Parallel writes within one sync.
    pub write_concurrency: usize,
    /// Client-side QPS/burst limit shared by all sources.
    pub limiter: Option<Arc<crate::ratelimit::Limiter>>,
    /// Bound of one fetch (`--fetch-timeout-secs`).
    pub fetch_timeout: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            selector: None,
            cache_dir: std::env::temp_dir().join("dromos-git-cache"),
            allow_file_urls: false,
            concurrency: 4,
            write_concurrency: 32,
            limiter: None,
            fetch_timeout: git::FetchLimits::default().timeout,
        }
    }
}

/// Shared state of the reconcilers.
pub struct Context {
    client: Client,
    scope: crate::scope::Scope,
    tenancy: super::Tenancy,
    opts: Options,
    resolver: SharedResolver,
    recorder: Recorder,
    backoff: Backoff<GitSource>,
    /// Mutating requests sent by syncs, status and events (for tests and metrics).
    pub writes: AtomicUsize,
    /// Completed reconciles.
    pub reconciles: AtomicUsize,
    /// Prometheus metrics.
    pub metrics: Arc<crate::http::Metrics>,
    /// Where reconciles are requested out of schedule (webhooks, drift).
    pub trigger: futures::channel::mpsc::UnboundedSender<ObjectRef<GitSource>>,
    triggers: std::sync::Mutex<Option<futures::channel::mpsc::UnboundedReceiver<ObjectRef<GitSource>>>>,
    /// Every GitSource in scope (the controller's cache), and its writer until `run` takes it.
    sources: kube::runtime::reflector::Store<GitSource>,
    sources_writer: std::sync::Mutex<Option<kube::runtime::reflector::store::Writer<GitSource>>>,
    listed: super::Listed,
    /// Kinds whose managed objects are watched for drift.
    watched: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// What the syncs wrote themselves: their own writes are not drift.
    sync_writes: Arc<sync::SyncWrites>,
    /// Last status patched per GitSource, with the resourceVersion it was computed from.
    written: super::report::OwnWrites<GitSource, GitSourceStatus>,
}

impl super::Observe for Context {
    fn observe(&self, _now: dromos_core::time::Instant, out: &mut Vec<dromos_core::observe::Sample>) {
        for gs in self.sources.state() {
            dromos_core::observe::gitsource(&gs, out);
        }
    }

    fn synced(&self) -> bool {
        self.listed.get()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({:?})", self.opts)
    }
}

impl Context {
    /// The Kubernetes client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }
}

/// Builds the operator: its context and the future that runs it. Every GitSource reference
/// sent on `ctx.trigger` (webhooks, drift) is reconciled at once.
pub fn start(shared: &Shared, opts: Options) -> Started<Context> {
    let (trigger, rx) = futures::channel::mpsc::unbounded();
    let (sources, writer) = kube::runtime::reflector::store();
    let ctx = Arc::new(Context {
        sources,
        sources_writer: std::sync::Mutex::new(Some(writer)),
        listed: Default::default(),
        trigger,
        triggers: std::sync::Mutex::new(Some(rx)),
        watched: std::sync::Mutex::new(Default::default()),
        sync_writes: Default::default(),
        written: Default::default(),
        recorder: shared.recorder("dromos"),
        backoff: Backoff::new("gitsource"),
        client: shared.client.clone(),
        scope: shared.scope.clone(),
        tenancy: shared.tenancy.clone(),
        opts,
        resolver: SharedResolver::default(),
        writes: AtomicUsize::new(0),
        reconciles: AtomicUsize::new(0),
        metrics: Arc::new(crate::http::Metrics::default()),
    });
    Started { ctx: ctx.clone(), run: Box::pin(run(ctx)) }
}

async fn run(ctx: Arc<Context>) {
    let triggers = ctx.triggers.lock().expect("triggers lock").take().expect("the operator runs once per context");
    let writer = ctx.sources_writer.lock().expect("writer lock").take().expect("the operator runs once per context");
    let store = ctx.sources.clone();
    let mut wc = watcher::Config::default();
    if let Some(sel) = &ctx.opts.selector {
        wc = wc.labels(sel);
    }
    use kube::runtime::{Predicate, WatchStreamExt, predicates};
    // A change of spec (generation), labels or annotations (a reconcile request) starts a
    // reconcile; a status change does not: most are this operator's own writes, and each would
    // start a second fetch and sync of the revision just applied.
    let sources = kube::runtime::reflector(writer, ctx.listed.track(ctx.scope.watcher::<GitSource>(&ctx.client, wc)))
        .default_backoff()
        .touched_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::labels).combine(predicates::annotations),
            Default::default(),
        );
    let config = kube::runtime::controller::Config::default().concurrency(ctx.opts.concurrency);
    let results = Controller::for_stream(sources, store).with_config(config).reconcile_on(triggers).run(
        reconcile,
        error_policy,
        ctx.clone(),
    );
    super::report::drive("gitsource", results).await;
}

fn error_policy(gs: Arc<GitSource>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.backoff.on_error(&gs, err)
}

async fn write_status(ctx: &Context, gs: &GitSource, status: GitSourceStatus) -> Result<(), Error> {
    // The cache may still hold the object this controller last patched: then that patch is
    // what the server has (a newer change by anyone has a new resourceVersion).
    let prev = ctx.written.current(gs, gs.status.as_ref());
    if prev.as_ref() == Some(&status) {
        return Ok(());
    }
    tracing::debug!(source = %gs.name_any(), old = ?gs.status, new = ?status, "status changed");
    let api: Api<GitSource> = Api::namespaced(ctx.client.clone(), &gs.namespace().unwrap_or_default());
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    // A merge patch keeps keys it does not mention: every key the previous status had is
    // named (null when gone), so cleared lists (diagnostics, inventory) are really cleared.
    let body = super::report::status_merge_body(&status, prev.as_ref().or(gs.status.as_ref()), &[])?;
    let result = api.patch_status(&gs.name_any(), &PatchParams::default(), &Patch::Merge(&body)).await?;
    ctx.written.record(gs, status, result.metadata.resource_version);
    Ok(())
}

/// Watches the managed objects of a kind (metadata only) and requests a reconcile of the
/// owning GitSource whenever one changes or disappears: drift is corrected within seconds.
fn watch_kind(
    ctx: &Arc<Context>,
    api_version: &str,
    kind: &str,
    ar: kube::discovery::ApiResource,
    caps: kube::discovery::ApiCapabilities,
) {
    let key = (api_version.to_string(), kind.to_string());
    if !ctx.watched.lock().expect("watched lock").insert(key) {
        return;
    }
    ctx.sync_writes.watch(api_version, kind);
    let own = ctx.sync_writes.clone();
    let namespaced = matches!(caps.scope, kube::discovery::Scope::Namespaced);
    if !namespaced && ctx.scope.namespaces().is_some() {
        return; // cluster-scoped kinds are out of a namespaced controller's reach
    }
    type Meta = kube::core::PartialObjectMeta<kube::api::DynamicObject>;
    let apis: Vec<Api<Meta>> = ctx.scope.apis(|ns| match ns {
        Some(ns) if namespaced => Api::namespaced_with(ctx.client.clone(), ns, &ar),
        _ => Api::all_with(ctx.client.clone(), &ar),
    });
    let cfg = watcher::Config::default().labels(&format!(
        "{}={}",
        dromos_core::translate::MANAGED_BY.0,
        dromos_core::translate::MANAGED_BY.1
    ));
    let tx = ctx.trigger.clone();
    let scope = ctx.scope.clone();
    let client = ctx.client.clone();
    tokio::spawn(async move {
        use kube::runtime::WatchStreamExt;
        let kind = ar.kind.clone();
        // The controller's own identity may not watch every kind its sources apply (the
        // sources act as their ServiceAccounts): asked first, so that a watch the API server
        // would refuse is never started (the watcher would log each refusal as a warning).
        let namespaces: Vec<Option<String>> = match scope.namespaces() {
            Some(nss) if namespaced => nss.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        for ns in &namespaces {
            if !may_watch(&client, &ar, ns.as_deref()).await {
                tracing::info!(
                    kind = %kind,
                    namespace = ns.as_deref().unwrap_or("(all)"),
                    "drift of this kind is corrected at each source's interval: the controller may not watch it"
                );
                return;
            }
        }
        let mut stream = Box::pin(crate::scope::watch_all(apis, cfg).default_backoff());
        let mut seen = Seen::default();
        // Events that may be a sync's own write, held until that sync is over.
        let mut held: Vec<(Meta, bool, Vec<String>)> = vec![];
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let ev = tokio::select! {
                ev = stream.next() => match ev {
                    Some(ev) => ev,
                    None => return,
                },
                _ = tick.tick(), if !held.is_empty() => {
                    let mut drift = vec![];
                    held.retain_mut(|(m, deleted, sources)| match judge_own(&own, &m.metadata, *deleted, sources) {
                        sync::Own::Wait => true,
                        sync::Own::Yes => false,
                        sync::Own::No => {
                            drift.append(sources);
                            false
                        }
                    });
                    if !request(&tx, &scope, drift) {
                        return;
                    }
                    continue;
                }
            };
            let (sources, deleted, meta) = match ev {
                Ok(watcher::Event::Apply(o)) => (seen.apply(&o.metadata, false), false, o),
                Ok(watcher::Event::Delete(o)) => (seen.delete(&o.metadata), true, o),
                Ok(watcher::Event::Init) => {
                    seen.relist_start();
                    continue;
                }
                Ok(watcher::Event::InitApply(o)) => {
                    if !request(&tx, &scope, seen.apply(&o.metadata, true)) {
                        return;
                    }
                    continue;
                }
                Ok(watcher::Event::InitDone) => {
                    if !request(&tx, &scope, seen.relist_done()) {
                        return;
                    }
                    continue;
                }
                // The controller's own identity may not watch every kind its sources apply (the
                // sources act as their ServiceAccounts): such drift waits for the interval.
                Err(watcher::Error::InitialListFailed(kube::Error::Api(s))) if s.code == 403 => {
                    tracing::info!(
                        kind = %kind,
                        "drift of this kind is corrected at each source's interval: the controller may not watch it"
                    );
                    return;
                }
                Err(_) => continue,
            };
            if sources.is_empty() {
                continue;
            }
            match judge_own(&own, &meta.metadata, deleted, &sources) {
                sync::Own::Yes => {}
                sync::Own::Wait => held.push((meta, deleted, sources)),
                sync::Own::No => {
                    if !request(&tx, &scope, sources) {
                        return;
                    }
                }
            }
        }
    });
}

/// Whether an event naming `sources` is the write of a sync of its own source (the first
/// named: the object's label). A relabelled object also names its previous owner: that is
/// always drift for the previous one.
fn judge_own(
    own: &sync::SyncWrites,
    m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    deleted: bool,
    sources: &[String],
) -> sync::Own {
    match sources {
        [source] => own.judge(m, deleted, source),
        _ => sync::Own::No,
    }
}

/// Requests a reconcile of each GitSource named (`<namespace>.<name>`) in scope; false when
/// the operator is gone.
fn request(
    tx: &futures::channel::mpsc::UnboundedSender<ObjectRef<GitSource>>,
    scope: &crate::scope::Scope,
    sources: Vec<String>,
) -> bool {
    for source in sources {
        let Some((ns, name)) = source.split_once('.') else { continue };
        // `local.<dir>` is a local sync, `pkg_<ns>.<name>` a Package's render (its operator
        // watches those through owner references).
        if ns == "local" || ns.starts_with("pkg_") || !scope.contains(Some(ns)) {
            continue;
        }
        if tx.unbounded_send(ObjectRef::new(name).within(ns)).is_err() {
            return false;
        }
    }
    true
}

/// Whether the controller's identity may list and watch `ar` in `namespace` (all namespaces
/// with `None`), by a SelfSubjectAccessReview; an unanswered review counts as allowed (the
/// watch then finds out, and stops on a refusal).
async fn may_watch(client: &kube::Client, ar: &kube::discovery::ApiResource, namespace: Option<&str>) -> bool {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    for verb in ["list", "watch"] {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(ar.group.clone()),
                    resource: Some(ar.plural.clone()),
                    verb: Some(verb.into()),
                    namespace: namespace.map(str::to_string),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&Default::default(), &review).await {
            Ok(r) if r.status.as_ref().is_some_and(|s| !s.allowed) => return false,
            _ => {}
        }
    }
    true
}

/// What a drift watch last saw of each managed object (by uid): the source label and a
/// fingerprint. Objects with a generation change it with their spec, so a change that keeps
/// generation, labels and annotations is a status update (Job runs, Deployment rollouts), not
/// drift; objects without one (ConfigMaps, Secrets) are fingerprinted by resourceVersion.
///
/// A watch that lost its place (`410 Gone` after an outage longer than etcd keeps history)
/// lists again and reports no deletions: the objects seen before and missing from the new list
/// were deleted meanwhile, and their sources are told.
#[derive(Default)]
struct Seen {
    objects: std::collections::HashMap<String, (String, u64)>,
    relisted: Option<std::collections::HashMap<String, (String, u64)>>,
    listed_once: bool,
}

impl Seen {
    /// The sources to tell about an object seen now (none when it did not change).
    fn apply(&mut self, m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, listing: bool) -> Vec<String> {
        let Some(source) = m.labels.as_ref().and_then(|l| l.get(plan::SOURCE_LABEL)).cloned() else { return vec![] };
        let uid = m.uid.clone().unwrap_or_default();
        let entry = (source.clone(), sync::fingerprint(m));
        let before = self.objects.get(&uid).cloned();
        match (&mut self.relisted, listing) {
            (Some(next), true) => {
                next.insert(uid, entry.clone());
            }
            _ => {
                self.objects.insert(uid, entry.clone());
            }
        }
        // The first list of a watch is what the sources applied themselves.
        let changed = before.as_ref() != Some(&entry) && (!listing || self.listed_once);
        let mut out: Vec<String> = changed.then_some(source).into_iter().collect();
        if let Some((old, _)) = before.filter(|(old, _)| changed && *old != entry.0) {
            out.push(old); // relabelled: the previous owner lost it
        }
        out
    }

    fn delete(&mut self, m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Vec<String> {
        let uid = m.uid.clone().unwrap_or_default();
        let gone = self.objects.remove(&uid).map(|(s, _)| s);
        gone.or_else(|| m.labels.as_ref().and_then(|l| l.get(plan::SOURCE_LABEL)).cloned()).into_iter().collect()
    }

    fn relist_start(&mut self) {
        self.relisted = Some(Default::default());
    }

    /// Ends a list: objects that were known and are not listed any more were deleted. The
    /// first list of a watch names every source it saw: a change made between a source's apply
    /// and the start of this watch (which begins after the first sync of the kind) is in that
    /// list as the baseline, so each of those sources looks once more; a look at an unchanged
    /// revision writes nothing.
    fn relist_done(&mut self) -> Vec<String> {
        let Some(next) = self.relisted.take() else { return vec![] };
        let mut out: Vec<String> = if self.listed_once {
            self.objects.iter().filter(|(uid, _)| !next.contains_key(*uid)).map(|(_, (s, _))| s.clone()).collect()
        } else {
            next.values().map(|(s, _)| s.clone()).collect()
        };
        out.sort();
        out.dedup();
        self.objects = next;
        self.listed_once = true;
        out
    }
}

/// Reconciles one GitSource inside a `sync` tracing span carrying the source and, once
/// fetched, the revision.
pub async fn reconcile(gs: Arc<GitSource>, ctx: Arc<Context>) -> Result<Action, Error> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "sync",
        source = %format!("{}/{}", gs.namespace().unwrap_or_default(), gs.name_any()),
        revision = tracing::field::Empty
    );
    let result = super::guard(&*gs, &ctx.recorder, reconcile_in(&gs, &ctx, span.clone()).instrument(span)).await;
    ctx.backoff.record(&gs, result)
}

/// What a fetch brought: the revision and its files (with the reader's diagnostics).
type Fetched = Result<(git::Fetched, crate::fsread::TreeFiles), git::GitError>;

/// What the act step did with a valid revision.
enum Synced {
    /// `selfHeal: false` on the applied revision: the objects that drifted, none corrected.
    DriftReported(Vec<String>),
    /// The revision was applied (and pruned).
    Synced(Box<sync::SyncOutcome>),
}

/// Who a source acts as, once its identity and the SourcePolicies that select it admit it.
struct Admitted {
    /// The client of its identity (impersonating its ServiceAccount, or the controller's).
    client: Client,
    /// Its identity, for messages.
    identity: tenancy::Identity,
    /// Every SourcePolicy (name, spec); those selecting the source are chosen from them.
    policies: Vec<(String, dromos_crds::SourcePolicySpec)>,
}

/// The identity and policy checks that come before any fetch: `Err` is the refusal
/// (reason, message) for the status.
async fn admit(ctx: &Context, gs: &GitSource) -> Result<Result<Admitted, (&'static str, String)>, Error> {
    let policies = ctx.tenancy.policies().await?;
    let identity = match identity_of(&ctx.tenancy.rules, &policies, gs) {
        Ok(i) => i,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let client = ctx.tenancy.client_for(&ctx.client, &identity)?;
    Ok(Ok(Admitted { client, identity, policies }))
}

/// Who `gs` acts as under `rules` and `policies`, or why it may not act at all (reason,
/// message): the checks that come before any fetch (pure; `dromos plan --source` makes them
/// too).
pub(crate) fn identity_of(
    rules: &tenancy::IdentityRules,
    policies: &[(String, dromos_crds::SourcePolicySpec)],
    gs: &GitSource,
) -> Result<tenancy::Identity, (&'static str, String)> {
    let ns = gs.namespace().unwrap_or_default();
    let selected = tenancy::Policies::select(policies, &ns);
    let identity = tenancy::identity(rules, &ns, gs.spec.service_account_name.as_deref())
        .map_err(|message| (tenancy::SERVICE_ACCOUNT_REQUIRED, message))?;
    if let tenancy::Identity::ServiceAccount { name, .. } = &identity
        && let Err(v) = selected.check_service_account(name)
    {
        return Err((tenancy::POLICY_VIOLATION, format!("spec.serviceAccountName: {v}")));
    }
    if let Err(v) = selected.check_repository(&gs.spec.url) {
        return Err((tenancy::POLICY_VIOLATION, format!("spec.url: {v}")));
    }
    Ok(identity)
}

async fn reconcile_in(gs: &GitSource, ctx: &Arc<Context>, span: tracing::Span) -> Result<Action, Error> {
    let labels =
        crate::http::SourceLabels { source: format!("{}/{}", gs.namespace().unwrap_or_default(), gs.name_any()) };
    // gather (client and network required)
    let admitted = if gs.spec.suspend == Some(true) { None } else { Some(admit(ctx, gs).await?) };
    let mut fetched = match &admitted {
        Some(Ok(a)) => Some(fetch(ctx, gs, a, &labels).await?),
        _ => None,
    };
    let sync_result;
    let mut prepared;
    let violations;
    let outcome = match (&admitted, &mut fetched) {
        (None, _) => Outcome::Suspended,
        (Some(Err((reason, message))), _) => {
            count_error(ctx, &labels, reason);
            Outcome::Refused { reason, message: message.clone() }
        }
        (_, None) => unreachable!("an admitted source is fetched"),
        (_, Some(Err(e))) if e.is_refusal() => {
            count_error(ctx, &labels, e.reason());
            Outcome::Refused { reason: e.reason(), message: e.to_string() }
        }
        (_, Some(Err(e))) => {
            count_error(ctx, &labels, e.reason());
            Outcome::FetchFailed { reason: e.reason(), message: e.to_string() }
        }
        (Some(Ok(admitted)), Some(Ok((f, files)))) => {
            span.record("revision", f.revision.as_str());
            // decide what to apply (no client required)
            let default_ns = default_namespace(gs);
            let opts = LoadOptions { default_namespace: default_ns, threads: crate::threads(), ..Default::default() };
            // Parsing a large revision is CPU work: off the async runtime, so other sources
            // and the webhook go on meanwhile.
            let read = std::mem::take(files);
            prepared = tokio::task::spawn_blocking(move || prepare::prepare(&read.files, read.diagnostics, &opts))
                .await
                .map_err(|e| Error::Panicked(format!("loading the revision: {e}")))?;
            match &mut prepared {
                Err(tree) => Outcome::Invalid {
                    reason: "ValidationFailed",
                    revision: &f.revision,
                    diagnostics: &tree.diagnostics,
                },
                Ok(p) => {
                    violations = {
                        let mut resolver = ctx.resolver.checkout();
                        let v = policy_violations(&ctx.client, &mut resolver, &admitted.policies, gs, &p.tree).await;
                        ctx.resolver.give_back(resolver);
                        v
                    };
                    if !violations.is_empty() {
                        count_error(ctx, &labels, tenancy::POLICY_VIOLATION);
                        Outcome::Invalid {
                            reason: tenancy::POLICY_VIOLATION,
                            revision: &f.revision,
                            diagnostics: &violations,
                        }
                    } else {
                        // act (client required)
                        sync_result = sync_revision(ctx, gs, admitted, &f.revision, p, &labels).await?;
                        match &sync_result {
                            Synced::DriftReported(drifted) => {
                                Outcome::DriftReported { revision: &f.revision, drifted: drifted.clone() }
                            }
                            Synced::Synced(o) => Outcome::Synced { revision: &f.revision, sync: o },
                        }
                    }
                }
            }
        }
    };
    let synced = matches!(outcome, Outcome::Synced { .. } | Outcome::DriftReported { .. });
    // The base is the status as this operator last wrote it while the cache still holds the
    // object that write was computed from: decided from the older cached status, a condition
    // that flipped in that write would flip again with a new transition time, and a no-op
    // resync would write.
    let current = ctx.written.current(gs, gs.status.as_ref());
    let request = gs.annotations().get(decisions::RECONCILE_REQUEST_ANNOTATION).map(String::as_str);
    let decision =
        decisions::decide(&gs.spec, gs.metadata.generation, current.as_ref(), request, outcome, chrono::Utc::now());
    // act: Events, then the one status write
    for e in decision.events {
        tracing::debug!(source = %gs.name_any(), reason = %e.reason, note = %e.message, "event");
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        super::report::event(&ctx.recorder, &gs.object_ref(&()), e.warning, "Sync", &e.reason, &e.message).await;
    }
    if let Some(status) = decision.status {
        write_status(ctx, gs, status).await?;
    }
    if synced {
        ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    }
    Ok(match decision.requeue {
        Requeue::After(d) => Action::requeue(d),
        Requeue::OnChange => Action::await_change(),
    })
}

/// The SourcePolicy violations of a valid tree, each at its file and line. Whether a kind is
/// cluster-scoped is asked of the API server (discovery), then of the CRDs the revision
/// itself defines; a kind known to neither counts as cluster-scoped (the stricter rule).
pub(crate) async fn policy_violations(
    client: &Client,
    resolver: &mut sync::Resolver,
    policies: &[(String, dromos_crds::SourcePolicySpec)],
    gs: &GitSource,
    tree: &dromos_core::Tree,
) -> Vec<dromos_core::diag::Diagnostic> {
    let ns = gs.namespace().unwrap_or_default();
    let selected = tenancy::Policies::select(policies, &ns);
    if selected.names().is_empty() {
        return vec![];
    }
    let mut scoped: std::collections::HashMap<(String, String), bool> = Default::default();
    let defined: std::collections::HashMap<(String, String), bool> = tree
        .manifests
        .iter()
        .filter(|m| m.kind == "CustomResourceDefinition")
        .map(|m| {
            let s = &m.value["spec"];
            let key = (
                s["group"].as_str().unwrap_or_default().to_string(),
                s["names"]["kind"].as_str().unwrap_or_default().to_string(),
            );
            (key, s["scope"] == "Cluster")
        })
        .collect();
    let reads = AtomicUsize::new(0);
    for m in &tree.manifests {
        let key = (m.group().to_string(), m.kind.clone());
        if scoped.contains_key(&key) {
            continue;
        }
        let cluster = match resolver.resolve(client, &m.api_version, &m.kind, &reads).await {
            Some((_, caps)) => caps.scope == kube::discovery::Scope::Cluster,
            // Unknown to the server and to the revision: the stricter rule.
            None => defined.get(&key).copied().unwrap_or(true),
        };
        scoped.insert(key, cluster);
    }
    let default_ns = default_namespace(gs);
    selected.check_tree(tree, &gs.name_any(), &default_ns, &|g, k| {
        scoped.get(&(g.to_string(), k.to_string())).copied().unwrap_or(true)
    })
}

/// Where namespaced objects that name no namespace go.
pub(crate) fn default_namespace(gs: &GitSource) -> String {
    gs.spec.default_namespace.clone().unwrap_or_else(|| gs.namespace().unwrap_or_default())
}

fn count_error(ctx: &Context, labels: &crate::http::SourceLabels, reason: &str) {
    let labels = crate::http::ErrorLabels { source: labels.source.clone(), reason: reason.to_string() };
    ctx.metrics.errors.get_or_create(&labels).inc();
}

/// Fetches the source's revision and reads its tree, off the async runtime. The Secret of
/// `secretRef` is read with the source's identity; the outer error is the reconcile's, the
/// inner one the fetch's (a Secret the identity may not read is one), reported in status.
async fn fetch(
    ctx: &Context,
    gs: &GitSource,
    admitted: &Admitted,
    labels: &crate::http::SourceLabels,
) -> Result<Fetched, Error> {
    let creds = match super::source_credentials(&admitted.client, gs).await {
        Ok(c) => c,
        Err(Error::Kube(kube::Error::Api(s))) if matches!(s.code, 401 | 403 | 404) => {
            let name = gs.spec.secret_ref.as_ref().map(|r| r.name.clone()).unwrap_or_default();
            return Ok(Err(git::GitError::secret(format!(
                "Secret {name} (spec.secretRef) cannot be read as {}: {}",
                admitted.identity, s.message
            ))));
        }
        Err(e) => return Err(e),
    };
    let url = gs.spec.url.clone();
    let gref = GitRef::from_spec(gs.spec.git_ref.as_ref());
    let path = gs.spec.path.clone();
    let limits = git::FetchLimits { timeout: ctx.opts.fetch_timeout, ..Default::default() };
    let cache = git::Cache { root: ctx.opts.cache_dir.clone(), allow_local: ctx.opts.allow_file_urls, limits };
    let current = ctx.written.current(gs, gs.status.as_ref());
    let request = gs.annotations().get(decisions::RECONCILE_REQUEST_ANNOTATION).map(String::as_str);
    let share = decisions::fetch_share_window(&gs.spec, current.as_ref(), request);
    let fetch_start = std::time::Instant::now();
    let fetched = git::bounded(limits, move || {
        let (repo, f) = cache.fetch_shared(&url, &gref, &creds, share)?;
        let tree = git::read_tree(&repo, &f.commit, path.as_deref(), 8 << 20)?;
        Ok((f, tree))
    })
    .await;
    ctx.metrics.fetch_duration.get_or_create(labels).observe(fetch_start.elapsed().as_secs_f64());
    Ok(fetched)
}

/// Applies and prunes a valid revision, or with `selfHeal: false` on the revision already
/// applied, only reports what drifted.
async fn sync_revision(
    ctx: &Arc<Context>,
    gs: &GitSource,
    admitted: &Admitted,
    revision: &str,
    prepared: &mut prepare::Prepared,
    labels: &crate::http::SourceLabels,
) -> Result<Synced, Error> {
    // The inventory and applied revision as last written (see `reconcile_in`).
    let old = ctx.written.current(gs, gs.status.as_ref()).unwrap_or_default();
    // A packed inventory that cannot be read (a status edited by hand) counts as empty: what
    // this source labelled is still found for pruning by its label.
    let inventory: Vec<ObjRef> = sync::status_inventory(Some(&old)).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "status.inventoryPacked cannot be read; the labels of live objects stand for it");
        vec![]
    });
    let settings = SyncSettings {
        concurrency: ctx.opts.write_concurrency,
        limiter: ctx.opts.limiter.clone(),
        scope: ctx.scope.clone(),
        written: Some(ctx.sync_writes.clone()),
        ..settings(gs)
    };
    let _syncing = ctx.sync_writes.begin(&settings.source);
    // The rendered objects go to the sync (a large revision is not held twice), and the loaded
    // manifests (values, typed forms, field positions: several times the rendered objects)
    // are not needed by it.
    let objects = std::mem::take(&mut prepared.objects);
    drop(std::mem::take(&mut prepared.tree.manifests));
    let mut resolver = ctx.resolver.checkout();
    if gs.spec.self_heal == Some(false) && old.last_applied_revision.as_deref() == Some(revision) {
        let planned =
            sync::plan_live(&admitted.client, &mut resolver, objects, &prepared.levels, &inventory, &settings).await;
        ctx.resolver.give_back(resolver);
        let (p, _, _) = planned.map_err(Error::sync)?;
        let drifted = p.steps.iter().filter(|s| s.action != plan::Action::Unchanged).map(|s| s.obj.display()).collect();
        return Ok(Synced::DriftReported(drifted));
    }
    let synced = sync::sync(&admitted.client, &mut resolver, objects, &prepared.levels, &inventory, &settings).await;
    let mut outcome = match synced {
        Ok(o) => o,
        Err(e) => {
            ctx.resolver.give_back(resolver);
            return Err(Error::sync(e));
        }
    };
    outcome.plan.skipped = std::mem::take(&mut prepared.tree.skipped);
    // Watch every kind this source manages, so drift triggers a reconcile.
    let reads = AtomicUsize::new(0);
    let kinds: std::collections::BTreeSet<(String, String)> =
        outcome.inventory.iter().map(|o| (o.api_version.clone(), o.kind.clone())).collect();
    for (av, kind) in kinds {
        if let Some((ar, caps)) = resolver.resolve(&ctx.client, &av, &kind, &reads).await {
            watch_kind(ctx, &av, &kind, ar, caps);
        }
    }
    ctx.resolver.give_back(resolver);
    record_sync(ctx, &outcome, labels);
    Ok(Synced::Synced(Box::new(outcome)))
}

/// How the sync of `gs` applies and prunes: its source label, force, self-heal, prune and
/// deletion-guard options, default namespace (serial writes, no client limit, every namespace:
/// the controller sets its own).
pub(crate) fn settings(gs: &GitSource) -> SyncSettings {
    SyncSettings {
        source: decisions::source_id(&gs.namespace().unwrap_or_default(), &gs.name_any()),
        force: gs.spec.force.unwrap_or(false),
        force_owned: gs.spec.self_heal.unwrap_or(true),
        plan: decisions::plan_options(&gs.spec),
        concurrency: 1,
        default_namespace: default_namespace(gs),
        limiter: None,
        scope: crate::scope::Scope::All,
        written: None,
    }
}

/// Counts a sync in the metrics and the log.
fn record_sync(ctx: &Context, outcome: &sync::SyncOutcome, labels: &crate::http::SourceLabels) {
    ctx.writes.fetch_add(outcome.writes, Ordering::Relaxed);
    let m = &ctx.metrics;
    m.sync_duration.get_or_create(labels).observe(outcome.duration.as_secs_f64());
    m.applied.get_or_create(labels).inc_by(outcome.applied as u64);
    m.pruned.get_or_create(labels).inc_by(outcome.pruned as u64);
    m.requests.get_or_create(&crate::http::VerbLabels { verb: "write".into() }).inc_by(outcome.writes as u64);
    m.requests.get_or_create(&crate::http::VerbLabels { verb: "read".into() }).inc_by(outcome.reads as u64);
    if outcome.blocked() {
        count_error(ctx, labels, "DeletionGuard");
    }
    for f in &outcome.failures {
        count_error(ctx, labels, &f.reason);
    }
    tracing::info!(
        applied = outcome.applied,
        unchanged = outcome.plan.count(plan::Action::Unchanged),
        pruned = outcome.pruned,
        failed = outcome.failures.len(),
        writes = outcome.writes,
        ms = outcome.duration.as_millis() as u64,
        "synced"
    );
}

#[cfg(test)]
mod tests {
    use super::Seen;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn meta(uid: &str, source: &str, rv: &str) -> ObjectMeta {
        ObjectMeta {
            uid: Some(uid.into()),
            resource_version: Some(rv.into()),
            labels: Some([(dromos_core::plan::SOURCE_LABEL.to_string(), source.to_string())].into()),
            ..Default::default()
        }
    }

    fn list(seen: &mut Seen, objects: &[ObjectMeta]) -> Vec<String> {
        seen.relist_start();
        let mut out: Vec<String> = objects.iter().flat_map(|m| seen.apply(m, true)).collect();
        out.extend(seen.relist_done());
        out
    }

    #[test]
    fn the_first_list_names_every_source_once_then_only_changes_count() {
        let mut seen = Seen::default();
        let first = list(&mut seen, &[meta("1", "ns.a", "10"), meta("2", "ns.a", "11"), meta("3", "ns.b", "12")]);
        assert_eq!(first, ["ns.a", "ns.b"], "an edit before the watch started is looked at");
        assert!(seen.apply(&meta("1", "ns.a", "10"), false).is_empty(), "unchanged");
        assert_eq!(seen.apply(&meta("1", "ns.a", "13"), false), ["ns.a"], "drift");
        // A relist after an outage: only what changed or went away.
        let again = list(&mut seen, &[meta("1", "ns.a", "13"), meta("2", "ns.a", "14")]);
        assert_eq!(again, ["ns.a", "ns.b"], "2 changed (ns.a), 3 is gone (ns.b)");
        let quiet = list(&mut seen, &[meta("1", "ns.a", "13"), meta("2", "ns.a", "14")]);
        assert!(quiet.is_empty(), "{quiet:?}");
    }
}

//! Applying a planned revision to a cluster (I/O): discovery, live listing, server-side apply
//! in waves, prune, inventory.
//!
//! The decisions are pure (`dromos_core::plan`); this module gathers the live state, performs
//! the writes and counts them, so a no-op resync is proven to write nothing.

use dromos_core::plan::{self, Action, ObjRef, Plan, PlanOptions, SOURCE_LABEL};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Field manager of the writes of earlier Dromos versions, and of the local inventory; every
/// source now writes as its own manager ([`dromos_core::tenancy::field_manager`]).
pub const FIELD_MANAGER: &str = dromos_core::tenancy::LEGACY_FIELD_MANAGER;

/// Settings of one sync.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// Source id written to `dromos.io/source` (`<ns>.<name>` or `local.<name>`).
    pub source: String,
    /// Take over fields other managers own instead of reporting conflicts.
    pub force: bool,
    /// Force only objects already in the inventory: fields Dromos applied before and someone
    /// changed since (`kubectl edit`) are taken back; first adoptions still report conflicts.
    pub force_owned: bool,
    /// Prune and deletion guard.
    pub plan: PlanOptions,
    /// Parallel writes within one wave.
    pub concurrency: usize,
    /// Namespace for namespaced objects that name none.
    pub default_namespace: String,
    /// Client-side QPS/burst limit shared by every request of the process.
    pub limiter: Option<Arc<crate::ratelimit::Limiter>>,
    /// Namespaces the sync may read and write (`Scope::All` in cluster mode). Objects outside
    /// are refused (`OutOfScope`) before anything is written.
    pub scope: crate::scope::Scope,
    /// Where the writes are recorded for the operator's drift watches (none: nobody watches).
    pub written: Option<Arc<SyncWrites>>,
}

pub use dromos_core::outcome::{Failure, SyncOutcome};

/// Resolves kinds to API resources, remembering answers across syncs.
#[derive(Clone, Default)]
pub struct Resolver {
    cache: HashMap<(String, String), Option<(ApiResource, ApiCapabilities)>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resolver({} kinds)", self.cache.len())
    }
}

fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    let (g, v) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(g, v, kind)
}

impl Resolver {
    /// The resource of a kind; `None` when the API server does not serve it (yet).
    pub async fn resolve(
        &mut self,
        client: &Client,
        api_version: &str,
        kind: &str,
        reads: &AtomicUsize,
    ) -> Option<(ApiResource, ApiCapabilities)> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(Some(hit)) = self.cache.get(&key) {
            return Some(hit.clone());
        }
        reads.fetch_add(1, Ordering::Relaxed);
        let found = kube::discovery::pinned_kind(client, &gvk_of(api_version, kind)).await.ok();
        self.cache.insert(key, found.clone());
        found
    }

    /// Takes the kinds `other` resolved (a copy checked out of a [`SharedResolver`]).
    fn merge(&mut self, other: Resolver) {
        self.cache.extend(other.cache.into_iter().filter(|(_, v)| v.is_some()));
    }

    /// Forgets kinds the server did not serve, e.g. after CRDs were installed.
    pub fn forget_missing(&mut self) {
        self.cache.retain(|_, v| v.is_some());
    }
}

/// A fingerprint of what a drift watch compares of an object: objects with a generation change
/// it with their spec, so a change that keeps generation, labels and annotations is a status
/// update (Job runs, Deployment rollouts), not drift; objects without one (ConfigMaps,
/// Secrets) are fingerprinted by resourceVersion.
pub fn fingerprint(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match m.generation {
        Some(g) => (g, &m.labels, &m.annotations, m.deletion_timestamp.is_some()).hash(&mut h),
        None => m.resource_version.hash(&mut h),
    }
    h.finish()
}

/// What the syncs of one operator wrote themselves, for its drift watches: a watch event that
/// shows exactly what a sync's own write left (or a deletion its prune made) is that sync's
/// doing, not drift, and starts no second sync of the source.
///
/// A sync's write and the watch event it causes race: the event can arrive before the write's
/// answer is recorded. So an event that matches nothing while its source is syncing is
/// [`Own::Wait`]: the watch holds it and asks again once the sync is over, when every write of
/// it is recorded.
#[derive(Debug, Default)]
pub struct SyncWrites(std::sync::Mutex<SyncWritesInner>);

#[derive(Debug, Default)]
struct SyncWritesInner {
    /// uid -> the fingerprint a sync's write left, [`SyncWrites::PRUNED`] for a deletion.
    written: HashMap<String, u64>,
    /// Kinds (apiVersion, kind) a drift watch follows: writes of other kinds are not recorded
    /// (nothing would ever take them).
    watched: std::collections::HashSet<(String, String)>,
    /// Sources whose sync runs now, with how many.
    syncing: HashMap<String, usize>,
}

/// Whether a watch event is a sync's own write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Own {
    /// It is: no reconcile.
    Yes,
    /// It is not: drift.
    No,
    /// Its source is syncing now: ask again when that sync is over.
    Wait,
}

/// Marks a source as syncing until dropped.
#[derive(Debug)]
pub struct Syncing<'a>(&'a SyncWrites, String);

impl Drop for Syncing<'_> {
    fn drop(&mut self) {
        let mut w = self.0.lock();
        if let Some(n) = w.syncing.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                w.syncing.remove(&self.1);
            }
        }
    }
}

impl SyncWrites {
    /// Entries kept at most; past it the record starts again empty (a forgotten write costs one
    /// no-op sync, nothing else).
    const MAX: usize = 200_000;
    /// The fingerprint recorded for an object a sync deleted.
    const PRUNED: u64 = u64::MAX;

    fn lock(&self) -> std::sync::MutexGuard<'_, SyncWritesInner> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A drift watch follows this kind from now on.
    pub fn watch(&self, api_version: &str, kind: &str) {
        self.lock().watched.insert((api_version.to_string(), kind.to_string()));
    }

    /// `source` syncs until the guard is dropped.
    pub fn begin(&self, source: &str) -> Syncing<'_> {
        *self.lock().syncing.entry(source.to_string()).or_default() += 1;
        Syncing(self, source.to_string())
    }

    fn record(&self, o: &ObjRef, uid: Option<&str>, fp: u64) {
        let Some(uid) = uid else { return };
        let mut w = self.lock();
        if !w.watched.contains(&(o.api_version.clone(), o.kind.clone())) {
            return;
        }
        if w.written.len() >= Self::MAX {
            w.written.clear();
        }
        w.written.insert(uid.to_string(), fp);
    }

    /// Judges an event of `source`'s object `m` (`deleted`: a deletion): a matching record is
    /// taken.
    pub fn judge(
        &self,
        m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        deleted: bool,
        source: &str,
    ) -> Own {
        let fp = if deleted { Self::PRUNED } else { fingerprint(m) };
        let mut w = self.lock();
        let uid = m.uid.as_deref().unwrap_or_default();
        if w.written.get(uid) == Some(&fp) {
            w.written.remove(uid);
            return Own::Yes;
        }
        if w.syncing.contains_key(source) { Own::Wait } else { Own::No }
    }
}

/// The resolver of an operator, shared by its syncs. Each sync checks out a copy and gives it
/// back when done, so syncs of different sources run at once (a lock held across a sync would
/// run them one at a time, whatever the operator's concurrency).
#[derive(Debug, Default)]
pub struct SharedResolver(std::sync::Mutex<Resolver>);

impl SharedResolver {
    /// A copy of every kind resolved so far.
    pub fn checkout(&self) -> Resolver {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Keeps what `r` resolved for the next syncs.
    pub fn give_back(&self, r: Resolver) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).merge(r);
    }
}

fn api_for(client: &Client, ar: &ApiResource, caps: &ApiCapabilities, ns: Option<&str>) -> Api<DynamicObject> {
    match (&caps.scope, ns) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

fn reason_of(e: &kube::Error) -> (String, String) {
    match e {
        kube::Error::Api(s) => {
            (if s.reason.is_empty() { format!("Http{}", s.code) } else { s.reason.clone() }, s.message.clone())
        }
        other => ("RequestFailed".into(), other.to_string()),
    }
}

/// Lists every live object of the given kinds that carries this source's label, in the
/// namespaces of the scope (cluster-scoped kinds only in cluster mode). An identity that may
/// not list a kind across namespaces (a source's ServiceAccount with a namespace's Role) lists
/// it in `namespaces` (those of its desired objects and inventory) one by one; a namespace it
/// may not list shows nothing there, and its writes there fail with `Forbidden`.
///
/// Each page is compared with the desired objects as it arrives ([`plan::Observer`]) and only
/// a digest of each object is kept: a resync never holds every live object.
async fn list_live(
    client: &Client,
    resolver: &mut Resolver,
    kinds: &BTreeSet<(String, String)>,
    namespaces: &BTreeSet<String>,
    settings: &SyncSettings,
    reads: &AtomicUsize,
    out: &mut plan::Observer<'_>,
) -> anyhow::Result<()> {
    let selector = format!("{SOURCE_LABEL}={}", settings.source);
    let limiter = settings.limiter.as_deref();
    for (av, kind) in kinds {
        let Some((ar, caps)) = resolver.resolve(client, av, kind, reads).await else { continue };
        let apis: Vec<Api<DynamicObject>> = match caps.scope {
            Scope::Namespaced => settings.scope.apis(|ns| match ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            }),
            Scope::Cluster if settings.scope.namespaces().is_none() => vec![Api::all_with(client.clone(), &ar)],
            Scope::Cluster => vec![],
        };
        let all_namespaces = caps.scope == Scope::Namespaced && settings.scope.namespaces().is_none();
        for api in apis {
            let lp = ListParams::default().labels(&selector).limit(500);
            match list_pages(&api, lp.clone(), &ar, limiter, reads, out).await {
                Err(kube::Error::Api(s)) if s.code == 403 && all_namespaces => {
                    for ns in namespaces {
                        let api = Api::namespaced_with(client.clone(), ns, &ar);
                        match list_pages(&api, lp.clone(), &ar, limiter, reads, out).await {
                            Err(kube::Error::Api(s)) if s.code == 403 => {}
                            other => other?,
                        }
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 403 => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// Gives every object of a paged list to `out`, a page at a time.
async fn list_pages(
    api: &Api<DynamicObject>,
    mut lp: ListParams,
    ar: &ApiResource,
    limiter: Option<&crate::ratelimit::Limiter>,
    reads: &AtomicUsize,
    out: &mut plan::Observer<'_>,
) -> Result<(), kube::Error> {
    loop {
        crate::ratelimit::acquire(limiter).await;
        reads.fetch_add(1, Ordering::Relaxed);
        let page = api.list(&lp).await?;
        for mut o in page.items {
            // Lists omit apiVersion/kind per item; the plan keys on them.
            o.types = Some(kube::core::TypeMeta { api_version: ar.api_version.clone(), kind: ar.kind.clone() });
            // managedFields are often the largest part of an object and the plan never reads
            // them; entries of the field manager of earlier versions are kept to be handed over.
            o.metadata.managed_fields = o
                .metadata
                .managed_fields
                .take()
                .map(|m| m.into_iter().filter(|e| e.manager.as_deref() == Some(FIELD_MANAGER)).collect::<Vec<_>>())
                .filter(|m| !m.is_empty());
            out.add(serde_json::to_value(&o).map_err(kube::Error::SerdeError)?);
        }
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp.continue_token = Some(c),
            _ => return Ok(()),
        }
    }
}

/// The namespaces of the desired objects and the inventory.
fn namespaces_of(desired: &[Value], inventory: &[ObjRef]) -> BTreeSet<String> {
    desired
        .iter()
        .filter_map(|d| d["metadata"]["namespace"].as_str().map(str::to_string))
        .chain(inventory.iter().filter_map(|o| o.namespace.clone()))
        .collect()
}

/// Desired objects outside the scope, as failures (none in cluster mode).
fn out_of_scope(desired: &[Value], scope: &crate::scope::Scope) -> Vec<Failure> {
    desired
        .iter()
        .filter_map(|d| {
            let obj = ObjRef::of(d)?;
            let message = scope.refusal(obj.namespace.as_deref())?;
            Some(Failure { obj, reason: "OutOfScope".into(), message })
        })
        .collect()
}

pub(crate) async fn wait_established(client: &Client, names: &[String], reads: &AtomicUsize) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in names {
        loop {
            reads.fetch_add(1, Ordering::Relaxed);
            let crd = api.get(n).await?;
            let ok = crd
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if ok {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!("CRD {n} not established after 60s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Fills the namespace of namespaced objects that name none; returns the kinds present.
pub async fn prepare(
    client: &Client,
    resolver: &mut Resolver,
    desired: &mut [Value],
    settings: &SyncSettings,
    reads: &AtomicUsize,
) -> BTreeSet<(String, String)> {
    let mut kinds = BTreeSet::new();
    for d in desired.iter_mut() {
        plan::stamp(d, &settings.source);
        let av = d["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = d["kind"].as_str().unwrap_or("").to_string();
        if d["metadata"]["namespace"].is_null() {
            if let Some((_, caps)) = resolver.resolve(client, &av, &kind, reads).await {
                if caps.scope == Scope::Namespaced {
                    d["metadata"]["namespace"] = Value::String(settings.default_namespace.clone());
                }
            } else if kind != "Namespace"
                && kind != "CustomResourceDefinition"
                && !dromos_core::load::is_cluster_scoped(
                    d["apiVersion"].as_str().unwrap_or("").rsplit_once('/').map(|x| x.0).unwrap_or(""),
                    &kind,
                )
            {
                // A kind whose CRD arrives in this revision: assume namespaced, like kubectl.
                d["metadata"]["namespace"] = Value::String(settings.default_namespace.clone());
            }
        }
        kinds.insert((av, kind));
    }
    kinds
}

/// Plans against the live cluster without writing anything.
pub async fn plan_live(
    client: &Client,
    resolver: &mut Resolver,
    mut desired: Vec<Value>,
    levels: &HashMap<(String, String), u32>,
    inventory: &[ObjRef],
    settings: &SyncSettings,
) -> anyhow::Result<(Plan, Vec<Value>, plan::Observed)> {
    let reads = AtomicUsize::new(0);
    let mut kinds = prepare(client, resolver, &mut desired, settings, &reads).await;
    kinds.extend(inventory.iter().map(|o| (o.api_version.clone(), o.kind.clone())));
    let namespaces = namespaces_of(&desired, inventory);
    let mut observer = plan::Observer::new(&mut desired);
    list_live(client, resolver, &kinds, &namespaces, settings, &reads, &mut observer).await?;
    let live = observer.finish();
    let p = plan::plan_sync(&desired, &live, inventory, levels, &settings.plan);
    Ok((p, desired, live))
}

/// What a sync of `desired` would do and what it would refuse before writing anything
/// (objects outside the scope; objects that exist and are not this source's to take), with
/// reads only: the plan a reviewer sees (`dromos plan --source`), and the desired objects as
/// planned (namespaces filled in).
pub async fn review(
    client: &Client,
    resolver: &mut Resolver,
    desired: Vec<Value>,
    levels: &HashMap<(String, String), u32>,
    inventory: &[ObjRef],
    settings: &SyncSettings,
) -> anyhow::Result<(Plan, Vec<Failure>, Vec<Value>)> {
    let (plan, desired, _) = plan_live(client, resolver, desired, levels, inventory, settings).await?;
    let mut refused = out_of_scope(&desired, &settings.scope);
    if refused.is_empty() && matches!(plan.guard, plan::Guard::Ok) {
        let by_key: HashMap<plan::Key, &Value> =
            desired.iter().filter_map(|d| Some((ObjRef::of(d)?.key(), d))).collect();
        let owned: std::collections::HashSet<plan::Key> = inventory.iter().map(ObjRef::key).collect();
        let reads = AtomicUsize::new(0);
        refused = unowned(client, resolver, &plan, &by_key, &owned, settings, &reads).await?;
    }
    Ok((plan, refused, desired))
}

/// Request counters of one sync.
#[derive(Default)]
struct Counters {
    reads: AtomicUsize,
    writes: Arc<AtomicUsize>,
}

/// Syncs a rendered revision: plan, apply in waves, prune after full success, inventory.
pub async fn sync(
    client: &Client,
    resolver: &mut Resolver,
    desired: Vec<Value>,
    levels: &HashMap<(String, String), u32>,
    inventory: &[ObjRef],
    settings: &SyncSettings,
) -> anyhow::Result<SyncOutcome> {
    let start = Instant::now();
    let n = Counters::default();
    let mut desired = desired;
    let mut kinds = prepare(client, resolver, &mut desired, settings, &n.reads).await;
    kinds.extend(inventory.iter().map(|o| (o.api_version.clone(), o.kind.clone())));
    let namespaces = namespaces_of(&desired, inventory);
    let mut observer = plan::Observer::new(&mut desired);
    list_live(client, resolver, &kinds, &namespaces, settings, &n.reads, &mut observer).await?;
    let live = observer.finish();
    let plan = plan::plan_sync(&desired, &live, inventory, levels, &settings.plan);
    // A revision reaching outside the scope applies nothing, as an invalid one.
    let refused = out_of_scope(&desired, &settings.scope);
    let mut outcome = SyncOutcome {
        plan,
        applied: 0,
        pruned: 0,
        failures: refused,
        writes: 0,
        reads: 0,
        inventory: inventory.to_vec(),
        // Unchanged objects: the generation listed just now; applied ones are updated below.
        applied_generations: desired
            .iter()
            .filter_map(|d| {
                let k = ObjRef::of(d)?.key();
                let g = live.get(&k)?.generation?;
                Some((k, g))
            })
            .collect(),
        duration: Duration::ZERO,
    };
    if outcome.blocked() || !outcome.failures.is_empty() {
        outcome.reads = n.reads.load(Ordering::Relaxed);
        outcome.duration = start.elapsed();
        return Ok(outcome);
    }
    let by_key: HashMap<plan::Key, &Value> = desired.iter().filter_map(|d| Some((ObjRef::of(d)?.key(), d))).collect();
    let owned: std::collections::HashSet<plan::Key> = inventory.iter().map(ObjRef::key).collect();
    // An object that exists but is not this source's is neither taken nor later pruned unless
    // its manifest asks: refused before anything is written, as an invalid revision.
    outcome.failures = unowned(client, resolver, &outcome.plan, &by_key, &owned, settings, &n.reads).await?;
    if !outcome.failures.is_empty() {
        outcome.reads = n.reads.load(Ordering::Relaxed);
        outcome.duration = start.elapsed();
        return Ok(outcome);
    }
    hand_over(client, resolver, &live, settings, &n).await;
    let mut waves: Vec<u32> = outcome.plan.steps.iter().map(|s| s.wave).collect();
    waves.dedup();
    for wave in waves {
        // The desired objects are borrowed, not copied: a cold sync writes every one of them.
        let todo: Vec<(ObjRef, &Value)> = outcome
            .plan
            .steps
            .iter()
            .filter(|s| s.wave == wave && s.action != Action::Unchanged)
            .filter_map(|s| Some((s.obj.clone(), *by_key.get(&s.obj.key())?)))
            .collect();
        if !todo.is_empty() {
            apply_wave(client, resolver, todo, &owned, settings, &n, &mut outcome).await?;
        }
    }
    // Prune only after every apply succeeded, and only objects this source labelled.
    let failed_deletes = if outcome.failures.is_empty() {
        prune(client, resolver, &live, settings, &n, &mut outcome).await
    } else {
        outcome.plan.prune.clone()
    };
    outcome.inventory = plan::next_inventory(&desired, &failed_deletes);
    outcome.writes = n.writes.load(Ordering::Relaxed);
    outcome.reads = n.reads.load(Ordering::Relaxed);
    outcome.duration = start.elapsed();
    Ok(outcome)
}

/// The objects the plan would create that already exist and are not this source's to take
/// ([`dromos_core::tenancy::adoption`]). Objects of the inventory are this source's whatever
/// their labels say now. Small groups are read one by one, large ones with one metadata list
/// per kind and namespace.
async fn unowned(
    client: &Client,
    resolver: &mut Resolver,
    plan: &Plan,
    desired: &HashMap<plan::Key, &Value>,
    owned: &std::collections::HashSet<plan::Key>,
    settings: &SyncSettings,
    reads: &AtomicUsize,
) -> anyhow::Result<Vec<Failure>> {
    type Group<'a> = (String, String, Option<String>);
    let mut groups: std::collections::BTreeMap<Group<'_>, Vec<&ObjRef>> = Default::default();
    for s in plan.steps.iter().filter(|s| s.action == Action::Create && !owned.contains(&s.obj.key())) {
        let o = &s.obj;
        groups.entry((o.api_version.clone(), o.kind.clone(), o.namespace.clone())).or_default().push(o);
    }
    let limiter = settings.limiter.as_deref();
    let mut failures = vec![];
    for ((av, kind, ns), objs) in groups {
        // A kind the server does not serve yet has no live objects (the apply reports it).
        let Some((ar, caps)) = resolver.resolve(client, &av, &kind, reads).await else { continue };
        let api = api_for(client, &ar, &caps, ns.as_deref());
        let mut labels: HashMap<String, Value> = HashMap::new();
        match existing(&api, &objs, limiter, reads, &mut labels).await {
            Ok(()) => {}
            // What the identity may not read it may not write either: reported per object.
            Err(kube::Error::Api(s)) if s.code == 403 => {
                failures.extend(objs.iter().map(|o| Failure {
                    obj: (*o).clone(),
                    reason: "Forbidden".into(),
                    message: s.message.clone(),
                }));
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        for o in objs {
            let (Some(live), Some(d)) = (labels.get(&o.name), desired.get(&o.key())) else { continue };
            if let Err((reason, message)) = dromos_core::tenancy::adoption(&settings.source, d, live) {
                failures.push(Failure { obj: o.clone(), reason: reason.into(), message });
            }
        }
    }
    Ok(failures)
}

/// Hands the fields that earlier versions applied as the one manager `dromos` over to this
/// source's own manager ([`dromos_core::tenancy::hand_over_fields`]): once per object, as a
/// merge patch of `managedFields` guarded by the resourceVersion. A failure leaves the object
/// as it was (the next sync tries again; applies meanwhile retry conflicts with that manager
/// forced).
async fn hand_over(
    client: &Client,
    resolver: &mut Resolver,
    live: &plan::Observed,
    settings: &SyncSettings,
    n: &Counters,
) {
    let manager = dromos_core::tenancy::field_manager(&settings.source);
    for (key, seen) in live.iter().filter(|(_, s)| s.legacy_fields) {
        let o = seen.obj(key);
        let Some((ar, caps)) = resolver.resolve(client, &o.api_version, &o.kind, &n.reads).await else { continue };
        let api = api_for(client, &ar, &caps, o.namespace.as_deref());
        crate::ratelimit::acquire(settings.limiter.as_deref()).await;
        n.reads.fetch_add(1, Ordering::Relaxed);
        let Ok(full) = api.get(&o.name).await else { continue };
        let Ok(full) = serde_json::to_value(&full) else { continue };
        let Some(fields) =
            dromos_core::tenancy::hand_over_fields(&full["metadata"]["managedFields"], FIELD_MANAGER, &manager)
        else {
            continue;
        };
        // A merge patch replaces the whole list; the resourceVersion makes it conditional.
        let patch = serde_json::json!({"metadata": {
            "resourceVersion": full["metadata"]["resourceVersion"],
            "managedFields": fields,
        }});
        crate::ratelimit::acquire(settings.limiter.as_deref()).await;
        n.writes.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = api.patch(&o.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            tracing::debug!(object = %o.display(), "handing fields over to {manager}: {e}");
        }
    }
}

/// The labels of those of `objs` (one kind, one namespace) that exist, by name: small groups
/// read one by one, large ones with one metadata list.
async fn existing(
    api: &Api<DynamicObject>,
    objs: &[&ObjRef],
    limiter: Option<&crate::ratelimit::Limiter>,
    reads: &AtomicUsize,
    labels: &mut HashMap<String, Value>,
) -> Result<(), kube::Error> {
    let to_value = |l: &Option<std::collections::BTreeMap<String, String>>| serde_json::to_value(l).unwrap_or_default();
    if objs.len() > 16 {
        let mut lp = ListParams::default().limit(500);
        loop {
            crate::ratelimit::acquire(limiter).await;
            reads.fetch_add(1, Ordering::Relaxed);
            let page = api.list_metadata(&lp).await?;
            for m in page.items {
                labels.insert(m.metadata.name.clone().unwrap_or_default(), to_value(&m.metadata.labels));
            }
            match page.metadata.continue_ {
                Some(c) if !c.is_empty() => lp.continue_token = Some(c),
                _ => return Ok(()),
            }
        }
    }
    for o in objs {
        crate::ratelimit::acquire(limiter).await;
        reads.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = api.get_metadata_opt(&o.name).await? {
            labels.insert(o.name.clone(), to_value(&m.metadata.labels));
        }
    }
    Ok(())
}

/// Applies one wave with bounded parallelism, recording results in `outcome`; waits for the
/// CRDs it created to be served before the next wave.
async fn apply_wave(
    client: &Client,
    resolver: &mut Resolver,
    todo: Vec<(ObjRef, &Value)>,
    owned: &std::collections::HashSet<plan::Key>,
    settings: &SyncSettings,
    n: &Counters,
    outcome: &mut SyncOutcome,
) -> anyhow::Result<()> {
    // Resolve once per kind before fanning out.
    let mut apis: HashMap<(String, String), Option<(ApiResource, ApiCapabilities)>> = HashMap::new();
    for (o, _) in &todo {
        let k = (o.api_version.clone(), o.kind.clone());
        if let std::collections::hash_map::Entry::Vacant(e) = apis.entry(k) {
            let r = resolver.resolve(client, &o.api_version, &o.kind, &n.reads).await;
            e.insert(r);
        }
    }
    let results: Vec<Result<(ObjRef, Option<i64>), Failure>> =
        // Each body is copied when its apply starts: at most `concurrency` copies at once.
        futures::stream::iter(todo.into_iter().map(owned_body).map(|(o, body)| {
            let api = apis
                .get(&(o.api_version.clone(), o.kind.clone()))
                .cloned()
                .flatten()
                .map(|(ar, caps)| api_for(client, &ar, &caps, o.namespace.as_deref()));
            // An object the manifest adopts (checked by `unowned`: nobody's) takes over the
            // fields whoever created it set, as adopting means.
            let adopts = body["metadata"]["annotations"][dromos_core::tenancy::ADOPT_ANNOTATION] == "true";
            let force = settings.force || (settings.force_owned && owned.contains(&o.key())) || adopts;
            let manager = dromos_core::tenancy::field_manager(&settings.source);
            apply_one(
                api,
                o,
                body,
                (manager, force),
                n.writes.clone(),
                settings.limiter.clone(),
                settings.written.clone(),
            )
        }))
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    let mut crds = vec![];
    for r in results {
        match r {
            Ok((o, generation)) => {
                outcome.applied += 1;
                if let Some(g) = generation {
                    outcome.applied_generations.insert(o.key(), g);
                }
                if o.kind == "CustomResourceDefinition" {
                    crds.push(o.name.clone());
                }
            }
            Err(f) => outcome.failures.push(f),
        }
    }
    if !crds.is_empty() {
        wait_established(client, &crds, &n.reads).await?;
        resolver.forget_missing();
    }
    Ok(())
}

/// A copy of a body to apply (a function, not a closure: a closure taking a reference makes
/// the sync's future not general enough to be spawned).
fn owned_body((o, body): (ObjRef, &Value)) -> (ObjRef, Value) {
    (o, body.clone())
}

/// Server-side applies one object as `manager` (forced or not); returns the generation the
/// server answered with. A conflict with nobody but the field manager earlier Dromos versions
/// used for every source is this source's own earlier write: the apply is repeated forced.
async fn apply_one(
    api: Option<Api<DynamicObject>>,
    o: ObjRef,
    body: Value,
    (manager, force): (String, bool),
    writes: Arc<AtomicUsize>,
    limiter: Option<Arc<crate::ratelimit::Limiter>>,
    written: Option<Arc<SyncWrites>>,
) -> Result<(ObjRef, Option<i64>), Failure> {
    let pp = if force { PatchParams::apply(&manager).force() } else { PatchParams::apply(&manager) };
    let Some(api) = api else {
        return Err(Failure {
            message: format!("the API server does not serve {} {}", o.api_version, o.kind),
            reason: "UnknownKind".into(),
            obj: o,
        });
    };
    let obj: DynamicObject = serde_json::from_value(body).map_err(|e| Failure {
        obj: o.clone(),
        reason: "Invalid".into(),
        message: e.to_string(),
    })?;
    crate::ratelimit::acquire(limiter.as_deref()).await;
    writes.fetch_add(1, Ordering::Relaxed);
    let mut result = api.patch(&o.name, &pp, &Patch::Apply(&obj)).await;
    if let Err(kube::Error::Api(s)) = &result
        && s.code == 409
        && !force
        && conflicts_only_with(&s.message, FIELD_MANAGER)
    {
        crate::ratelimit::acquire(limiter.as_deref()).await;
        writes.fetch_add(1, Ordering::Relaxed);
        result = api.patch(&o.name, &pp.clone().force(), &Patch::Apply(&obj)).await;
    }
    match result {
        Ok(live) => {
            if let Some(w) = &written {
                w.record(&o, live.metadata.uid.as_deref(), fingerprint(&live.metadata));
            }
            Ok((o, live.metadata.generation))
        }
        Err(e) => {
            let (reason, message) = reason_of(&e);
            Err(Failure { obj: o, reason, message })
        }
    }
}

/// True when every manager an apply conflict message names (`conflict with "NAME"`) is
/// `manager`, and it names at least one.
fn conflicts_only_with(message: &str, manager: &str) -> bool {
    let mut names = message.split("with \"").skip(1).map(|rest| rest.split('"').next().unwrap_or_default()).peekable();
    names.peek().is_some() && names.all(|n| n == manager)
}

/// Deletes the plan's prune candidates that this source labelled; returns those whose deletion
/// failed (they stay in the inventory).
async fn prune(
    client: &Client,
    resolver: &mut Resolver,
    live: &plan::Observed,
    settings: &SyncSettings,
    n: &Counters,
    outcome: &mut SyncOutcome,
) -> Vec<ObjRef> {
    let mut failed_deletes = Vec::new();
    let dp = DeleteParams::background();
    let candidates = std::mem::take(&mut outcome.plan.prune);
    for o in &candidates {
        let Some(live_obj) = live.get(&o.key()) else { continue }; // already gone or never ours
        if live_obj.source.as_deref() != Some(settings.source.as_str()) || !live_obj.managed {
            continue;
        }
        let Some((ar, caps)) = resolver.resolve(client, &o.api_version, &o.kind, &n.reads).await else {
            failed_deletes.push(o.clone());
            continue;
        };
        crate::ratelimit::acquire(settings.limiter.as_deref()).await;
        n.writes.fetch_add(1, Ordering::Relaxed);
        match api_for(client, &ar, &caps, o.namespace.as_deref()).delete(&o.name, &dp).await {
            Ok(_) => {
                if let Some(w) = &settings.written {
                    w.record(o, live_obj.uid.as_deref(), SyncWrites::PRUNED);
                }
                outcome.pruned += 1
            }
            Err(kube::Error::Api(s)) if s.code == 404 => outcome.pruned += 1,
            Err(e) => {
                let (reason, message) = reason_of(&e);
                outcome.failures.push(Failure { obj: o.clone(), reason: format!("Delete{reason}"), message });
                failed_deletes.push(o.clone());
            }
        }
    }
    outcome.plan.prune = candidates;
    failed_deletes
}

/// A GitSource's inventory from its status (listed or packed); an error when the packed form
/// cannot be read.
pub fn status_inventory(status: Option<&dromos_crds::gitsource::GitSourceStatus>) -> Result<Vec<ObjRef>, String> {
    let entries = match status {
        Some(s) => dromos_core::gitsource::inventory_entries(s)?,
        None => vec![],
    };
    Ok(parse_inventory(entries.iter().map(String::as_str)))
}

/// Reads an inventory stored as entries ([`ObjRef::encode`]), one per item or line.
pub fn parse_inventory<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<ObjRef> {
    lines.into_iter().filter_map(ObjRef::decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: &str, rv: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            uid: Some(uid.into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_watch_event_is_a_syncs_own_write_only_when_it_shows_what_the_write_left() {
        let w = SyncWrites::default();
        let cm = ObjRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "a".into(),
        };
        // Not a watched kind: nothing recorded.
        w.record(&cm, Some("u1"), fingerprint(&meta("u1", "5")));
        assert_eq!(w.judge(&meta("u1", "5"), false, "ns.src"), Own::No);
        w.watch("v1", "ConfigMap");
        {
            let _syncing = w.begin("ns.src");
            // The event came before the write's answer: wait for the sync to end.
            assert_eq!(w.judge(&meta("u1", "6"), false, "ns.src"), Own::Wait);
            w.record(&cm, Some("u1"), fingerprint(&meta("u1", "6")));
            w.record(&cm, Some("u2"), SyncWrites::PRUNED);
        }
        assert_eq!(w.judge(&meta("u1", "6"), false, "ns.src"), Own::Yes);
        assert_eq!(w.judge(&meta("u1", "6"), false, "ns.src"), Own::No, "taken once");
        assert_eq!(w.judge(&meta("u1", "7"), false, "ns.src"), Own::No, "a later change is someone else's");
        assert_eq!(w.judge(&meta("u2", "9"), true, "ns.src"), Own::Yes, "its own deletion");
        assert_eq!(w.judge(&meta("u3", "1"), true, "ns.src"), Own::No);
    }
    #[test]
    fn legacy_conflicts_are_recognised_by_the_managers_named() {
        use super::conflicts_only_with as only;
        let one = r#"Apply failed with 1 conflict: conflict with "dromos" using v1: .data.a"#;
        let two = "Apply failed with 2 conflicts: conflicts with \"dromos\" using v1:\n- .data.a\n- .data.b";
        let mixed = r#"Apply failed with 2 conflicts: conflict with "dromos" using v1: .data.a
conflict with "kubectl-edit" using v1: .data.b"#;
        assert!(only(one, "dromos"));
        assert!(only(two, "dromos"));
        assert!(!only(mixed, "dromos"));
        assert!(!only(r#"conflict with "dromos/team-a.apps" using v1: .data.a"#, "dromos"));
        assert!(!only("the object has been modified", "dromos"));
    }
}

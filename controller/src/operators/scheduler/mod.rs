//! The Dromos scheduler (I/O): Apps in the exact placement mode are placed against Mesos-style
//! offers with every Marathon constraint held exactly, and offers are published as `Offer`
//! resources.
//!
//! The decisions are pure ([`dromos_core::placement`]: `known_nodes_from_nodes`, `place_all`,
//! `kill_order`); this module watches Nodes, Pods and Apps, gathers pending pods whose
//! `spec.schedulerName` is [`SCHEDULER_NAME`] in short batches, binds them with the Binding
//! subresource, writes `status.placement` of the Apps (the only status field it owns), keeps
//! `controller.kubernetes.io/pod-deletion-cost` in the kill order, and publishes offers with
//! coalesced writes. See docs/decisions/0010 and 0013.

use super::{Shared, Started};
use dromos_core::constraints::Constraint;
use dromos_core::placement::{self, NodeOffer, Offers, Resources, requests};
use dromos_core::translate::{self, APP_LABEL, SCHEDULER_NAME, VERSION_ANNOTATION};
use dromos_crds::app::PlacementStatus;
use dromos_crds::offer::{OfferResources, PortRange};
use dromos_crds::{App, Offer, OfferSpec};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

mod offers;
mod why;

use offers::offer_loop;
pub use offers::offer_spec;
pub use why::{Instance, instances, why, why_inputs, why_text, why_text_with, why_value};

/// Field manager of Offers.
pub const OFFER_MANAGER: &str = "dromos-offers";
/// Field manager of App status and pod annotations written by the scheduler.
pub const FIELD_MANAGER: &str = "dromos-scheduler";
/// The annotation the ReplicaSet controller reads to choose which pods to delete first.
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// Label on every published Offer: the publisher's scope (see [`Options::offer_scope`]).
pub const OFFER_SCOPE_LABEL: &str = "dromos.io/offer-scope";
/// A bound pod the cache has not shown bound yet is assumed on its node this long.
const ASSUME_FOR: Duration = Duration::from_secs(30);

/// Scheduler settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// After a change, wait this long to gather more pending pods into one batch.
    pub batch_window: Duration,
    /// Bindings in flight at once.
    pub bind_concurrency: usize,
    /// Seed of the placement engine's tie-break (same input and seed, same placement).
    pub seed: u64,
    /// Keep `controller.kubernetes.io/pod-deletion-cost` in the kill order.
    pub kill_order: bool,
    /// Publish `Offer` resources.
    pub offers: bool,
    /// At most one Offer write per node per this interval.
    pub offer_interval: Duration,
    /// Publish offers only for nodes matching this label selector (all when `None`).
    pub offer_nodes: Option<String>,
    /// Value of the [`OFFER_SCOPE_LABEL`] on published Offers; Offers with this label whose node
    /// is gone (or no longer selected) are deleted.
    pub offer_scope: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_window: Duration::from_millis(50),
            bind_concurrency: 64,
            seed: 0,
            kill_order: true,
            offers: true,
            offer_interval: Duration::from_secs(10),
            offer_nodes: None,
            offer_scope: "cluster".into(),
        }
    }
}

/// Shared state of the scheduler.
pub struct Context {
    client: Client,
    /// Pods are scheduled and Apps read in these namespaces only. Nodes and the pods bound to
    /// them are always watched cluster-wide: they decide what is free.
    scope: crate::scope::Scope,
    opts: Options,
    recorder: Recorder,
    nodes: Store<Node>,
    pods: Store<Pod>,
    apps: Store<App>,
    offers: Store<Offer>,
    wake: Notify,
    /// Bindings in flight, across cycles: at most `bind_concurrency`.
    bind_slots: Arc<tokio::sync::Semaphore>,
    /// Pods bound by this process that the cache does not show bound yet: (ns, name) -> node.
    assumed: Mutex<HashMap<(String, String), (String, Instant)>>,
    /// When each node's Offer was last written.
    offer_written: Mutex<HashMap<String, Instant>>,
    /// Pods bound.
    pub binds: AtomicUsize,
    /// Bindings refused (conflict, gone, other errors); the pods are tried again.
    pub bind_failures: AtomicUsize,
    /// App status writes (`status.placement`).
    pub status_writes: AtomicUsize,
    /// Pod deletion-cost annotation writes.
    pub cost_writes: AtomicUsize,
    /// Offer applies.
    pub offer_writes: AtomicUsize,
    /// Offer deletions.
    pub offer_deletes: AtomicUsize,
    /// Scheduling cycles run.
    pub cycles: AtomicUsize,
    /// Time spent in scheduling cycles, in microseconds (gathering, placing, binding, status).
    pub cycle_micros: AtomicUsize,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({:?})", self.opts)
    }
}

/// Builds the scheduler: its context (for counters) and the future that runs it.
pub fn start(shared: &Shared, opts: Options) -> Started<Context> {
    let client = shared.client.clone();
    let (nodes_r, nodes_w) = reflector::store::<Node>();
    let (pods_r, pods_w) = reflector::store::<Pod>();
    let (apps_r, apps_w) = reflector::store::<App>();
    let (offers_r, offers_w) = reflector::store::<Offer>();
    let apps_watch = shared.scope.watcher::<App>(&client, watcher::Config::default());
    let ctx = Arc::new(Context {
        recorder: shared.recorder("dromos-scheduler"),
        scope: shared.scope.clone(),
        client: client.clone(),
        opts: opts.clone(),
        nodes: nodes_r,
        pods: pods_r,
        apps: apps_r,
        offers: offers_r,
        wake: Notify::new(),
        assumed: Mutex::new(HashMap::new()),
        offer_written: Mutex::new(HashMap::new()),
        binds: AtomicUsize::new(0),
        bind_failures: AtomicUsize::new(0),
        status_writes: AtomicUsize::new(0),
        cost_writes: AtomicUsize::new(0),
        offer_writes: AtomicUsize::new(0),
        offer_deletes: AtomicUsize::new(0),
        cycles: AtomicUsize::new(0),
        cycle_micros: AtomicUsize::new(0),
        bind_slots: Arc::new(tokio::sync::Semaphore::new(opts.bind_concurrency.max(1))),
    });
    let run = {
        let ctx = ctx.clone();
        async move {
            let nodes = reflector(nodes_w, watcher(Api::<Node>::all(client.clone()), watcher::Config::default()))
                .default_backoff()
                .touched_objects()
                .filter_map(|r| futures::future::ready(r.ok()))
                .for_each(wake(ctx.clone()));
            let pods = reflector(pods_w, watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()))
                .default_backoff()
                .touched_objects()
                .filter_map(|r| futures::future::ready(r.ok()))
                .for_each(wake(ctx.clone()));
            let apps = reflector(apps_w, apps_watch)
                .default_backoff()
                .touched_objects()
                .filter_map(|r| futures::future::ready(r.ok()))
                .for_each(wake(ctx.clone()));
            let offers = async {
                if ctx.opts.offers {
                    let cfg =
                        watcher::Config::default().labels(&format!("{OFFER_SCOPE_LABEL}={}", ctx.opts.offer_scope));
                    reflector(offers_w, watcher(Api::<Offer>::all(client.clone()), cfg))
                        .default_backoff()
                        .touched_objects()
                        .for_each(|_| futures::future::ready(()))
                        .await;
                }
            };
            tokio::join!(nodes, pods, apps, offers, schedule_loop(ctx.clone()), offer_loop(ctx.clone()));
        }
    };
    Started { ctx, run: Box::pin(run) }
}

/// A `for_each` callback that wakes the scheduling loop on any watch event.
fn wake<T>(ctx: Arc<Context>) -> impl FnMut(T) -> futures::future::Ready<()> {
    move |_| {
        ctx.wake.notify_one();
        futures::future::ready(())
    }
}

async fn schedule_loop(ctx: Arc<Context>) {
    super::store_ready(&ctx.nodes).await;
    super::store_ready(&ctx.pods).await;
    super::store_ready(&ctx.apps).await;
    let heartbeat = crate::watchdog::heartbeat("the scheduling loop");
    loop {
        heartbeat.beat();
        // A change wakes the loop; a tick retries failed bindings and clears stale assumptions.
        let _ = tokio::time::timeout(Duration::from_secs(2), ctx.wake.notified()).await;
        tokio::time::sleep(ctx.opts.batch_window).await;
        // A panic in one cycle is logged; the next cycle runs on fresh caches.
        super::one_pass("scheduling cycle", cycle(&ctx)).await;
    }
}

/// The App's constraints. One that does not parse makes the App unplaceable (said in its
/// `status.placement`); it is never dropped silently.
fn constraints_of(app: &App) -> Result<Vec<Constraint>, String> {
    dromos_core::app::constraints_of(app).map_err(|e| format!("invalid constraints, nothing placed: {e}"))
}

/// One scheduling cycle over the caches.
async fn cycle(ctx: &Arc<Context>) {
    ctx.cycles.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let metrics = &crate::metrics::global().scheduler;
    let pods = ctx.pods.state();
    // Shared with the cache, never copied: a KWOK node carries kilobytes of managed fields, and
    // copying every node each cycle was a tenth of the scheduler's CPU.
    let nodes: Vec<Arc<Node>> = ctx.nodes.state();
    // Forget assumptions the cache has caught up with (or that are stale). Only the assumed
    // pods are looked up, not every pod indexed.
    let assumed: HashMap<(String, String), String> = {
        let mut a = ctx.assumed.lock().expect("assumed lock");
        a.retain(|(ns, name), (_, at)| {
            at.elapsed() < ASSUME_FOR
                && ctx
                    .pods
                    .get(&ObjectRef::new(name).within(ns))
                    .is_some_and(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
        });
        a.iter().map(|(k, (n, _))| (k.clone(), n.clone())).collect()
    };
    // Pods as the engine should see them: assumed bindings are bound. Only those are copied;
    // the others are shared with the cache (a cycle copying every pod of the cluster spent
    // most of its time doing that).
    let assumed_at: HashMap<(&str, &str), &String> =
        assumed.iter().map(|((ns, name), node)| ((ns.as_str(), name.as_str()), node)).collect();
    let view: Vec<Arc<Pod>> = pods
        .iter()
        .map(|p| {
            match assumed_at
                .get(&(p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or("")))
            {
                Some(node) => {
                    let mut p = (**p).clone();
                    if let Some(spec) = p.spec.as_mut() {
                        spec.node_name = Some((*node).clone());
                    }
                    Arc::new(p)
                }
                None => p.clone(),
            }
        })
        .collect();
    let known = placement::known_nodes_from_nodes(&nodes, &view);

    // decide (no client required): requests per pending App version, oldest first
    let in_scope = |p: &Pod| ctx.scope.contains(p.namespace().as_deref());
    let app_of = |ns: &str, name: &str| ctx.apps.get(&ObjectRef::new(name).within(ns));
    let (reqs, batches, invalid) = requests::build(&view, in_scope, app_of, constraints_of);
    let mut offers = Offers::new(known.clone());
    let results = placement::place_all(&mut offers, &reqs, ctx.opts.seed);

    let placement_of = requests::placement_status(&batches, &results, &invalid);
    record_placement(&placement_of, known.len());
    let mut binds = Vec::new();
    for (batch, result) in batches.iter().zip(&results) {
        for (pod, a) in batch.pods.iter().zip(&result.assigned) {
            let created = pod.metadata.creation_timestamp.as_ref().map(dromos_core::time::from_k8s);
            binds.push((batch.namespace.clone(), pod.name_any(), a.node.clone(), claims_of(pod), created));
        }
    }
    {
        let mut a = ctx.assumed.lock().expect("assumed lock");
        for (ns, pod, node, _, _) in &binds {
            a.insert((ns.clone(), pod.clone()), (node.clone(), Instant::now()));
        }
    }
    // The binds go on while the next cycles run: a cycle that waited for its binds would hold
    // every pod that became pending meanwhile for a round trip of the API server. Pods being
    // bound are assumed on their nodes, so no cycle places them twice; at most
    // `bind_concurrency` binds are in flight across cycles.
    for (ns, pod, node, claims, created) in binds {
        let ctx = ctx.clone();
        let Ok(permit) = ctx.bind_slots.clone().acquire_owned().await else { return };
        tokio::spawn(async move {
            let _permit = permit;
            let metrics = &crate::metrics::global().scheduler;
            let bound = match select_node_for_claims(&ctx.client, &ns, &claims, &node).await {
                Ok(()) => bind(&ctx.client, &ns, &pod, &node).await,
                Err(e) => Err(e),
            };
            if let Err(e) = bound {
                metrics.bind_failures.inc();
                ctx.bind_failures.fetch_add(1, Ordering::Relaxed);
                ctx.assumed.lock().expect("assumed lock").remove(&(ns.clone(), pod.clone()));
                match &e {
                    kube::Error::Api(s) if s.code == 409 || s.code == 404 => {
                        tracing::debug!(%ns, %pod, %node, "binding refused: {e}")
                    }
                    _ => tracing::warn!(%ns, %pod, %node, "binding failed, retrying: {e}"),
                }
                ctx.wake.notify_one();
            } else {
                ctx.binds.fetch_add(1, Ordering::Relaxed);
                metrics.placed.inc();
                if let Some(c) = created {
                    let waited = (chrono::Utc::now() - c).num_milliseconds().max(0) as f64 / 1000.0;
                    metrics.placement_duration.observe(waited);
                }
            }
        });
    }

    // status.placement of every App in scope: set while instances wait, cleared otherwise.
    for app in ctx.apps.state() {
        let key = (app.namespace().unwrap_or_default(), app.name_any());
        let want = placement_of.get(&key).cloned();
        let have = app.status.as_ref().and_then(|s| s.placement.clone());
        if want != have {
            write_placement(ctx, &app, want.as_ref(), have.is_none_or(|h| h.waiting == 0)).await;
        }
    }

    if ctx.opts.kill_order {
        keep_kill_order(ctx, &view, &known).await;
    }
    metrics.cycle_duration.observe(started.elapsed().as_secs_f64());
    ctx.cycle_micros.fetch_add(started.elapsed().as_micros() as usize, Ordering::Relaxed);
}

/// Sets the scheduler gauges from one cycle's placement: pods waiting, offers declined per
/// reason class, offers seen.
fn record_placement(placement: &std::collections::BTreeMap<(String, String), PlacementStatus>, offers: usize) {
    let m = &crate::metrics::global().scheduler;
    m.unplaceable.set(placement.values().map(|p| p.waiting).sum());
    let mut declined = std::collections::BTreeMap::<String, i64>::new();
    for p in placement.values() {
        for (reason, n) in &p.declined {
            *declined.entry(dromos_core::observe::decline_class(reason)).or_default() += n;
        }
    }
    m.declined.clear();
    for (reason, n) in declined {
        m.declined.get_or_create(&crate::metrics::ReasonLabels { reason }).set(n);
    }
    m.offers.set(offers as i64);
}

/// The PersistentVolumeClaims a pod mounts.
fn claims_of(pod: &Pod) -> Vec<String> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone()))
        .collect()
}

/// The annotation with which a scheduler tells a volume provisioner where the pod of an unbound
/// claim will run (what kube-scheduler's VolumeBinding plugin sets for `WaitForFirstConsumer`
/// storage classes; without it such a claim is never provisioned).
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

/// Before a pod is bound: every claim it mounts that is not bound yet and names no node gets
/// [`SELECTED_NODE`] = `node`, so a `WaitForFirstConsumer` class provisions the volume where
/// the pod goes (for an `Immediate` class the annotation is not read). Bound claims are left
/// alone: a volume's own node affinity is not an input of the placement engine (documented
/// limit).
async fn select_node_for_claims(client: &Client, ns: &str, claims: &[String], node: &str) -> Result<(), kube::Error> {
    if claims.is_empty() {
        return Ok(());
    }
    let api: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    for claim in claims {
        let Some(pvc) = api.get_opt(claim).await? else { continue };
        let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if bound || pvc.annotations().contains_key(SELECTED_NODE) {
            continue;
        }
        let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
        api.patch(claim, &PatchParams::default(), &Patch::Merge(patch)).await?;
    }
    Ok(())
}

/// Binds a pod to a node with the Binding subresource (what kube-scheduler does).
pub async fn bind(client: &Client, ns: &str, pod: &str, node: &str) -> Result<(), kube::Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let body = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": pod, "namespace": ns},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}
    });
    api.create_subresource::<Value, Value>("binding", pod, &PostParams::default(), &body).await.map(|_| ())
}

async fn write_placement(ctx: &Context, app: &App, want: Option<&PlacementStatus>, newly: bool) {
    let ns = app.namespace().unwrap_or_default();
    let api: Api<App> = Api::namespaced(ctx.client.clone(), &ns);
    let body = json!({"status": {"placement": want}});
    ctx.status_writes.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = api.patch_status(&app.name_any(), &PatchParams::default(), &Patch::Merge(body)).await {
        tracing::warn!(app = %app.name_any(), %ns, "writing status.placement: {e}");
        return;
    }
    if let Some(p) = want.filter(|_| newly) {
        let ev = Event {
            type_: EventType::Warning,
            reason: "Unplaceable".into(),
            note: p.message.clone().map(|m| m.chars().take(1000).collect()),
            action: "Schedule".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &app.object_ref(&())).await {
            tracing::debug!("event: {e}");
        }
    }
}

/// Keeps `controller.kubernetes.io/pod-deletion-cost` on the pods of Apps whose scale-down order
/// differs from the ReplicaSet's default (youngest first): OLDEST_FIRST, or GROUP_BY balance.
/// The first pod of the kill order gets cost 0, the next 1, and so on; a pod whose annotation
/// already has its value is not written.
async fn keep_kill_order(ctx: &Context, view: &[Arc<Pod>], known: &[NodeOffer]) {
    let apps = ctx.apps.state();
    let current = |p: &Pod| p.annotations().get(DELETION_COST).cloned();
    let patches = requests::kill_order_costs(view, known, &apps, constraints_of, current);
    stream::iter(patches)
        .for_each_concurrent(16, |(ns, pod, cost)| async move {
            let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            let body = json!({"metadata": {"annotations": {DELETION_COST: cost}}});
            ctx.cost_writes.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = api.patch(&pod, &PatchParams::default(), &Patch::Merge(body)).await {
                tracing::debug!(%ns, %pod, "deletion cost: {e}");
            }
        })
        .await;
}

impl super::Observe for Context {
    fn synced(&self) -> bool {
        use futures::FutureExt;
        // No controller waits on these stores; the loops poll them (`store_ready`).
        [self.nodes.wait_until_ready().now_or_never(), self.pods.wait_until_ready().now_or_never()]
            .into_iter()
            .chain([self.apps.wait_until_ready().now_or_never()])
            .all(|r| r.is_some())
    }
}

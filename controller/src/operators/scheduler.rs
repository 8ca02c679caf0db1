//! The Dromos scheduler (I/O): Apps in the exact placement mode are placed against Mesos-style
//! offers with every Marathon constraint held exactly, and offers are published as `Offer`
//! resources.
//!
//! The decisions are pure ([`dromos_core::placement`]: `known_nodes_from_nodes`, `place_all`,
//! `kill_order`); this module watches Nodes, Pods and Apps, gathers pending pods whose
//! `spec.schedulerName` is [`SCHEDULER_NAME`] in short batches, binds them with the Binding
//! subresource, writes `status.placement` of the Apps (the only status field it owns), keeps
//! `controller.kubernetes.io/pod-deletion-cost` in the kill order, and publishes offers with
//! coalesced writes. See ARCHITECTURE.md, "Scheduler and offers".

use super::{Shared, Started};
use dromos_core::constraints::{Constraint, Operator, parse_constraint};
use dromos_core::placement::{self, AppRequest, NodeOffer, Offers, Resources};
use dromos_core::translate::{self, APP_LABEL, RESTART_ANNOTATION, SCHEDULER_NAME, VERSION_ANNOTATION};
use dromos_crds::app::{KillSelection, PlacementStatus};
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
    let _ = ctx.nodes.wait_until_ready().await;
    let _ = ctx.pods.wait_until_ready().await;
    let _ = ctx.apps.wait_until_ready().await;
    loop {
        // A change wakes the loop; a tick retries failed bindings and clears stale assumptions.
        let _ = tokio::time::timeout(Duration::from_secs(2), ctx.wake.notified()).await;
        tokio::time::sleep(ctx.opts.batch_window).await;
        cycle(&ctx).await;
    }
}

fn ns_key(p: &Pod) -> (String, String) {
    (p.namespace().unwrap_or_default(), p.name_any())
}

fn terminal(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// The pod's revision: the App version and restart stamped on its template.
fn revision(p: &Pod) -> String {
    let ann = p.annotations();
    dromos_core::appstate::revision(
        ann.get(VERSION_ANNOTATION).map(String::as_str).unwrap_or(""),
        ann.get(RESTART_ANNOTATION).map(String::as_str),
    )
}

fn created(p: &Pod) -> i64 {
    p.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or(0)
}

fn host_ports(p: &Pod) -> Vec<u16> {
    let Some(spec) = p.spec.as_ref() else { return vec![] };
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| port.host_port.filter(|h| *h > 0).and_then(|h| u16::try_from(h).ok()))
        .collect()
}

fn constraints_of(app: &App) -> Vec<Constraint> {
    app.spec.constraints.iter().filter_map(|c| parse_constraint(c).ok()).collect()
}

/// Per App: instances waiting, offers declined per reason, the summaries of its revisions.
type Waiting = (usize, BTreeMap<String, i64>, Vec<String>);

/// One scheduling cycle over the caches.
async fn cycle(ctx: &Arc<Context>) {
    ctx.cycles.fetch_add(1, Ordering::Relaxed);
    let pods = ctx.pods.state();
    let nodes: Vec<Node> = ctx.nodes.state().iter().map(|n| (**n).clone()).collect();
    // Forget assumptions the cache has caught up with (or that are stale).
    let assumed: HashMap<(String, String), String> = {
        let mut a = ctx.assumed.lock().expect("assumed lock");
        let by_key: HashMap<(String, String), &Arc<Pod>> = pods.iter().map(|p| (ns_key(p), p)).collect();
        a.retain(|k, (_, at)| {
            at.elapsed() < ASSUME_FOR
                && by_key.get(k).is_some_and(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
        });
        a.iter().map(|(k, (n, _))| (k.clone(), n.clone())).collect()
    };
    // Pods as the engine should see them: assumed bindings are bound.
    let view: Vec<Pod> = pods
        .iter()
        .map(|p| {
            let mut p = (**p).clone();
            if let Some(node) = assumed.get(&ns_key(&p))
                && let Some(spec) = p.spec.as_mut()
            {
                spec.node_name = Some(node.clone());
            }
            p
        })
        .collect();
    let known = placement::known_nodes_from_nodes(&nodes, &view);

    // Pending pods of this scheduler, per (namespace, app, revision).
    let in_scope = |p: &Pod| ctx.scope.contains(p.namespace().as_deref());
    let mut groups: BTreeMap<(String, String, String), Vec<&Pod>> = BTreeMap::new();
    for p in &view {
        let spec = p.spec.as_ref();
        let pending = spec.and_then(|s| s.scheduler_name.as_deref()) == Some(SCHEDULER_NAME)
            && spec.and_then(|s| s.node_name.as_ref()).is_none()
            && p.metadata.deletion_timestamp.is_none()
            && !terminal(p)
            && in_scope(p);
        if let (true, Some(app)) = (pending, p.labels().get(APP_LABEL)) {
            groups.entry((p.namespace().unwrap_or_default(), app.clone(), revision(p))).or_default().push(p);
        }
    }
    let bound_of = |ns: &str, app: &str, rev: Option<&str>| -> Vec<&Pod> {
        let mut v: Vec<&Pod> = view
            .iter()
            .filter(|p| {
                p.namespace().as_deref() == Some(ns)
                    && p.labels().get(APP_LABEL).map(String::as_str) == Some(app)
                    && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
                    && p.metadata.deletion_timestamp.is_none()
                    && !terminal(p)
                    && rev.is_none_or(|r| revision(p) == r)
            })
            .collect();
        v.sort_by_key(|p| (created(p), p.name_any()));
        v
    };

    let mut reqs = Vec::new();
    let mut batches: Vec<(String, String, Vec<&Pod>)> = Vec::new();
    let mut ordered: Vec<_> = groups.into_iter().collect();
    // Oldest pending pod first, as Marathon's launch queue.
    ordered.sort_by_key(|(k, v)| (v.iter().map(|p| created(p)).min().unwrap_or(0), k.clone()));
    for ((ns, app_name, rev), mut waiting) in ordered {
        let Some(app) = ctx.apps.get(&ObjectRef::new(&app_name).within(&ns)) else { continue };
        waiting.sort_by_key(|p| (created(p), p.name_any()));
        let first = waiting[0];
        reqs.push(AppRequest {
            app: format!("{ns}/{app_name}"),
            resources: placement::pod_request(first),
            host_ports: host_ports(first),
            accepted_roles: app.spec.accepted_resource_roles.clone(),
            role: app.spec.role.clone(),
            constraints: constraints_of(&app),
            placed: bound_of(&ns, &app_name, Some(&rev))
                .iter()
                .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
                .collect(),
            pending: waiting.len(),
        });
        batches.push((ns, app_name, waiting));
    }

    let mut offers = Offers::new(known.clone());
    let results = placement::place_all(&mut offers, &reqs, ctx.opts.seed);

    // Bind, and gather the placement status per App.
    let mut binds = Vec::new();
    let mut placement_of: BTreeMap<(String, String), Waiting> = BTreeMap::new();
    for ((ns, app_name, waiting), result) in batches.iter().zip(&results) {
        for (pod, a) in waiting.iter().zip(&result.assigned) {
            binds.push((ns.clone(), pod.name_any(), a.node.clone(), claims_of(pod)));
        }
        if result.unplaced > 0 {
            let e = placement_of.entry((ns.clone(), app_name.clone())).or_default();
            e.0 += result.unplaced;
            for (reason, n) in &result.declines.by_reason {
                *e.1.entry(reason.label()).or_default() += *n as i64;
            }
            e.2.push(result.declines.summary(result.unplaced));
        }
    }
    {
        let mut a = ctx.assumed.lock().expect("assumed lock");
        for (ns, pod, node, _) in &binds {
            a.insert((ns.clone(), pod.clone()), (node.clone(), Instant::now()));
        }
    }
    stream::iter(binds)
        .for_each_concurrent(ctx.opts.bind_concurrency.max(1), |(ns, pod, node, claims)| async move {
            let bound = match select_node_for_claims(&ctx.client, &ns, &claims, &node).await {
                Ok(()) => bind(&ctx.client, &ns, &pod, &node).await,
                Err(e) => Err(e),
            };
            if let Err(e) = bound {
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
            }
        })
        .await;

    // status.placement of every App in scope: set while instances wait, cleared otherwise.
    for app in ctx.apps.state() {
        let key = (app.namespace().unwrap_or_default(), app.name_any());
        let want = placement_of.get(&key).map(|(waiting, declined, summaries)| PlacementStatus {
            waiting: *waiting as i64,
            message: Some(summaries.join("; ")),
            declined: declined.clone(),
        });
        let have = app.status.as_ref().and_then(|s| s.placement.clone());
        if want != have {
            write_placement(ctx, &app, want.as_ref(), have.is_none_or(|h| h.waiting == 0)).await;
        }
    }

    if ctx.opts.kill_order {
        keep_kill_order(ctx, &view, &known).await;
    }
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
async fn keep_kill_order(ctx: &Context, view: &[Pod], known: &[NodeOffer]) {
    let offers = Offers::new(known.to_vec());
    let mut patches = Vec::new();
    for app in ctx.apps.state() {
        let constraints = constraints_of(&app);
        let selection = app.spec.kill_selection.unwrap_or(KillSelection::YoungestFirst);
        if selection == KillSelection::YoungestFirst && !constraints.iter().any(|c| matches!(c.op, Operator::GroupBy)) {
            continue;
        }
        let ns = app.namespace().unwrap_or_default();
        let name = app.name_any();
        let pods: Vec<&Pod> = view
            .iter()
            .filter(|p| {
                p.namespace().as_deref() == Some(ns.as_str())
                    && p.labels().get(APP_LABEL) == Some(&name)
                    && p.metadata.deletion_timestamp.is_none()
                    && !terminal(p)
                    && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
            })
            .collect();
        if pods.len() < 2 {
            continue;
        }
        let instances: Vec<(String, String, i64)> = pods
            .iter()
            .map(|p| {
                let start = p.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.as_second());
                (
                    p.name_any(),
                    p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
                    start.unwrap_or_else(|| created(p)),
                )
            })
            .collect();
        let order = placement::kill_order(&instances, &offers, &constraints, selection);
        let by_name: HashMap<String, &Pod> = pods.iter().map(|p| (p.name_any(), *p)).collect();
        for (cost, pod) in order.iter().enumerate() {
            let Some(p) = by_name.get(pod) else { continue };
            let want = cost.to_string();
            if p.annotations().get(DELETION_COST) != Some(&want) {
                patches.push((ns.clone(), pod.clone(), want));
            }
        }
    }
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

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `Offer` spec of a node offer.
pub fn offer_spec(o: &NodeOffer) -> OfferSpec {
    let res = |r: &Resources, ports: &[(u16, u16)]| OfferResources {
        cpus: round3(r.cpus),
        mem: round3(r.mem),
        disk: round3(r.disk),
        gpus: r.gpus.floor() as i64,
        ports: ports.iter().map(|(b, e)| PortRange { begin: *b as i32, end: *e as i32 }).collect(),
    };
    let mut attributes = o.attributes.clone();
    attributes.insert("hostname".into(), o.hostname.clone());
    OfferSpec {
        node_name: o.node.clone(),
        total: res(&o.total, &[]),
        free: res(&o.free, &o.free_ports),
        attributes,
        region: o.region.clone(),
        zone: o.zone.clone(),
        roles: if o.roles.is_empty() { vec!["*".into()] } else { o.roles.clone() },
        unschedulable: (!o.schedulable).then_some(true),
    }
}

fn selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector.split(',').map(str::trim).filter(|s| !s.is_empty()).all(|term| match term.split_once('=') {
        Some((k, v)) => {
            (labels.get(k.trim_end_matches('!').trim()).map(String::as_str) == Some(v.trim())) != k.ends_with('!')
        }
        None => match term.strip_prefix('!') {
            Some(k) => !labels.contains_key(k),
            None => labels.contains_key(term),
        },
    })
}

/// Publishes offers: one Offer per node, applied only when its spec changed and at most once
/// per node per `offer_interval`; Offers of nodes that are gone are deleted.
async fn offer_loop(ctx: Arc<Context>) {
    if !ctx.opts.offers {
        return;
    }
    let _ = ctx.nodes.wait_until_ready().await;
    let _ = ctx.pods.wait_until_ready().await;
    let _ = ctx.offers.wait_until_ready().await;
    let api: Api<Offer> = Api::all(ctx.client.clone());
    let tick = Duration::from_secs(1).min(ctx.opts.offer_interval);
    loop {
        publish_offers(&ctx, &api).await;
        tokio::time::sleep(tick).await;
    }
}

async fn publish_offers(ctx: &Context, api: &Api<Offer>) {
    let nodes: Vec<Node> = ctx
        .nodes
        .state()
        .iter()
        .filter(|n| ctx.opts.offer_nodes.as_deref().is_none_or(|s| selector_matches(s, n.labels())))
        .map(|n| (**n).clone())
        .collect();
    let pods: Vec<Pod> = ctx.pods.state().iter().map(|p| (**p).clone()).collect();
    let known = placement::known_nodes_from_nodes(&nodes, &pods);
    let names: HashSet<&str> = known.iter().map(|o| o.node.as_str()).collect();
    for o in &known {
        let spec = offer_spec(o);
        let live = ctx.offers.get(&ObjectRef::new(&o.node));
        if live.as_ref().is_some_and(|l| l.spec == spec) {
            continue;
        }
        let due = ctx
            .offer_written
            .lock()
            .expect("offer lock")
            .get(&o.node)
            .is_none_or(|t| t.elapsed() >= ctx.opts.offer_interval);
        if !due {
            continue;
        }
        let body = json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Offer",
            "metadata": {"name": o.node, "labels": {
                OFFER_SCOPE_LABEL: ctx.opts.offer_scope, translate::MANAGED_BY.0: translate::MANAGED_BY.1
            }},
            "spec": spec
        });
        ctx.offer_writes.fetch_add(1, Ordering::Relaxed);
        ctx.offer_written.lock().expect("offer lock").insert(o.node.clone(), Instant::now());
        if let Err(e) = api.patch(&o.node, &PatchParams::apply(OFFER_MANAGER).force(), &Patch::Apply(body)).await {
            tracing::warn!(node = %o.node, "publishing offer: {e}");
        }
    }
    for live in ctx.offers.state() {
        let name = live.name_any();
        if !names.contains(name.as_str()) && live.metadata.deletion_timestamp.is_none() {
            ctx.offer_deletes.fetch_add(1, Ordering::Relaxed);
            ctx.offer_written.lock().expect("offer lock").remove(&name);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => tracing::warn!(offer = %name, "deleting offer: {e}"),
            }
        }
    }
}

/// `dromos app why`: reads the App and its pods.
pub async fn why(client: &Client, ns: &str, name: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let app = Api::<App>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .with_context(|| format!("reading app {ns}/{name}"))?
        .with_context(|| format!("app {ns}/{name} not found"))?;
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&kube::api::ListParams::default().labels(&format!("{APP_LABEL}={name}")))
        .await
        .with_context(|| format!("listing the pods of app {ns}/{name}"))?
        .items;
    Ok(why_text(&app, &pods))
}

/// The text of `dromos app why`: placement mode, the decline summary and every instance.
pub fn why_text(app: &App, pods: &[Pod]) -> String {
    use std::fmt::Write;
    let ns = app.namespace().unwrap_or_default();
    let status = app.status.clone().unwrap_or_default();
    let mode = app.spec.placement_mode.unwrap_or_default();
    let exact = mode == dromos_crds::app::PlacementMode::Exact;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "app {ns}/{}: {} instance(s) wanted, {} running, placement {} ({})",
        app.name_any(),
        app.spec.instances.unwrap_or(1),
        status.running.unwrap_or(0),
        if exact { "exact" } else { "native" },
        if exact { "Dromos scheduler" } else { "kube-scheduler" }
    );
    match status.placement.as_ref().filter(|p| p.waiting > 0) {
        Some(p) => {
            let _ = writeln!(out, "not placed: {}", p.message.as_deref().unwrap_or(""));
            let width = p.declined.keys().map(String::len).max().unwrap_or(0);
            let mut declined: Vec<_> = p.declined.iter().collect();
            declined.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, n) in declined {
                let _ = writeln!(out, "  {reason:width$}  {n} offer(s) declined");
            }
        }
        None if exact => {
            let _ = writeln!(out, "no instance is waiting for an offer");
        }
        None => {}
    }
    if let Some(w) = &status.waiting_for {
        let _ = writeln!(out, "waiting for: {w}");
    }
    let mut rows: Vec<[String; 5]> = pods
        .iter()
        .map(|p| {
            let spec = p.spec.as_ref();
            let st = p.status.clone().unwrap_or_default();
            let node = spec.and_then(|s| s.node_name.clone());
            let ready = st.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
            let state = if p.metadata.deletion_timestamp.is_some() {
                "Terminating".to_string()
            } else if node.is_none() {
                "Waiting".to_string()
            } else {
                let phase = st.phase.clone().unwrap_or_else(|| "Pending".into());
                if phase == "Running" && ready { "Running (ready)".into() } else { phase }
            };
            let why = if node.is_some() {
                String::new()
            } else if let Some(c) =
                st.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled" && c.status == "False")
            {
                c.message.clone().unwrap_or_default()
            } else if spec.and_then(|s| s.scheduler_name.as_deref()) == Some(SCHEDULER_NAME) {
                "no acceptable offer (see above)".into()
            } else {
                "not scheduled yet".into()
            };
            let version = p.annotations().get(VERSION_ANNOTATION).cloned().unwrap_or_default();
            [p.name_any(), state, node.unwrap_or_else(|| "-".into()), version, why]
        })
        .collect();
    rows.sort();
    if rows.is_empty() {
        let _ = writeln!(out, "no instances");
        return out;
    }
    let head = ["INSTANCE", "STATE", "NODE", "VERSION", "WHY"];
    let w: Vec<usize> =
        (0..5).map(|i| rows.iter().map(|r| r[i].len()).chain([head[i].len()]).max().unwrap_or(0)).collect();
    for r in std::iter::once(head.map(String::from)).chain(rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_explains_the_declines_and_every_instance() {
        let app: App = serde_json::from_value(json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "App",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"cmd": "sleep 1", "instances": 3, "constraints": [["hostname", "UNIQUE"]]},
            "status": {"running": 1, "placement": {
                "waiting": 2,
                "message": "2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3",
                "declined": {"UNIQUE hostname": 4, "insufficient mem": 3}
            }}
        }))
        .unwrap();
        let pod = |name: &str, node: Option<&str>, phase: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": name, "annotations": {VERSION_ANNOTATION: "abc"}},
                "spec": {"containers": [], "schedulerName": "dromos", "nodeName": node},
                "status": {"phase": phase}
            }))
            .unwrap()
        };
        let pods = [pod("web-2", None, "Pending"), pod("web-1", Some("n1"), "Running"), pod("web-3", None, "Pending")];
        let text = why_text(&app, &pods);
        assert_eq!(
            text,
            "app shop/web: 3 instance(s) wanted, 1 running, placement exact (Dromos scheduler)\n\
             not placed: 2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3\n\
             \x20 UNIQUE hostname   4 offer(s) declined\n\
             \x20 insufficient mem  3 offer(s) declined\n\
             INSTANCE  STATE    NODE  VERSION  WHY\n\
             web-1     Running  n1    abc\n\
             web-2     Waiting  -     abc      no acceptable offer (see above)\n\
             web-3     Waiting  -     abc      no acceptable offer (see above)\n"
        );
    }

    #[test]
    fn label_selectors_of_offer_nodes() {
        let labels = BTreeMap::from([("pool".to_string(), "a".to_string()), ("rack".to_string(), "r1".to_string())]);
        assert!(selector_matches("pool=a", &labels));
        assert!(selector_matches("pool=a,rack", &labels));
        assert!(!selector_matches("pool=b", &labels));
        assert!(selector_matches("pool!=b", &labels));
        assert!(!selector_matches("!rack", &labels));
        assert!(selector_matches("", &labels));
    }
}

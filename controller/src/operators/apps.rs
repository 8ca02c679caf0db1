//! The App operator (I/O): App -> Deployment or StatefulSet, Services and
//! PodDisruptionBudget, with Marathon's dependency rule, deployments and status.
//!
//! The decisions are pure ([`dromos_core::appstate::assess`] and the same
//! [`dromos_core::translate::render_app`] that `dromos render` uses); this module watches,
//! applies what differs, deletes what left the expansion, writes status only when it changed
//! and records events. A no-op reconcile makes no mutating request: every owned kind is kept in
//! a reflector store and an object is applied only when the rendered one is not a subset of it.

use super::{Backoff, Error, Shared, Started};
use crate::index::LabelIndex;
use crate::readfilter::Fingerprint;
use dromos_core::app;
use dromos_core::appstate::{self, Dependency, DependencyState, Observed, PodInfo, WorkloadInfo};
use dromos_core::translate::{self, RESTART_ANNOTATION, VERSION_ANNOTATION};
use dromos_core::{LoadOptions, RenderOptions, Typed};
use dromos_crds::app::AppStatus;
use dromos_crds::{App, condition};
use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Field manager of the objects the operator applies.
pub const FIELD_MANAGER: &str = "dromos-apps";
/// How soon an App waiting for its dependencies looks at them again (reads the cache only).
const DEPENDENCY_RECHECK: Duration = Duration::from_secs(2);

/// Finalizer that orders deletions (dependents stop before their dependencies).
pub const FINALIZER: &str = "dromos.io/app-operator";
/// How long a deleted App waits for dependents that still run to be deleted too.
pub const DELETE_GRACE: Duration = Duration::from_secs(3);
const OWNED_SELECTOR: &str = "dromos.io/owner-kind=App";

/// Apps reconciled at once unless told otherwise (`--app-concurrency`; docs/decisions/0057).
pub const DEFAULT_CONCURRENCY: u16 = 64;

/// Operator settings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Apps reconciled at once.
    pub concurrency: u16,
    /// Rendering settings (default images).
    pub render: RenderOptions,
}

/// Shared state of the App reconcilers.
pub struct Context {
    client: Client,
    opts: Options,
    backoff: Backoff<App>,
    recorder: Recorder,
    apps: Store<App>,
    listed: super::Listed,
    deployments: Store<Deployment>,
    statefulsets: Store<StatefulSet>,
    services: Store<Service>,
    pdbs: Store<PodDisruptionBudget>,
    /// Recorded versions of every App (docs/decisions/0046).
    revisions: Store<ControllerRevision>,
    pods: Arc<LabelIndex<Pod>>,
    trigger: futures::channel::mpsc::UnboundedSender<ObjectRef<App>>,
    /// Mutating requests (applies, deletes, status, events, finalizers).
    pub writes: AtomicUsize,
    /// Completed reconciles.
    pub reconciles: AtomicUsize,
    /// Reconciles that failed (and were retried).
    pub failures: AtomicUsize,
    /// Last status patched per App, with the resourceVersion of the App it was computed from.
    written: Arc<super::report::OwnWrites<App, AppStatus>>,
    /// When each App's status was last written by this process (for `appstate::status_wait`).
    status_written: std::sync::Mutex<HashMap<(String, String), std::time::Instant>>,
    /// Apps this process added its finalizer to: uid -> the resourceVersion it patched.
    finalizers_added: std::sync::Mutex<HashMap<String, String>>,
}

/// Entries of [`Context::status_written`] (and of `finalizers_added`) kept at most; past it
/// the record starts again (a forgotten time only makes the next count change be written at
/// once; a forgotten finalizer write, one conflict retried).
const STATUS_WRITTEN_MAX: usize = 100_000;

impl Context {
    /// Apps and pods the operator currently sees (for benchmarks and metrics).
    pub fn seen(&self) -> (usize, usize) {
        (self.apps.state().len(), self.pods.len())
    }

    /// The status to start from: the cached one, or the one this operator patched last if the
    /// cache still holds the App it was computed from (a reconcile right after its own write
    /// must not see the older status: it would start a deployment twice or miss its end).
    fn current_status(&self, app: &App) -> Option<AppStatus> {
        self.written.current(app, app.status.as_ref())
    }

    /// Whether this process added its finalizer to the App as cached (same uid and
    /// resourceVersion: the cache still shows the App from before that write).
    fn finalizer_added(&self, app: &App) -> bool {
        let added = self.finalizers_added.lock().expect("finalizers_added lock");
        app.uid().is_some_and(|uid| added.get(&uid) == app.resource_version().as_ref())
    }

    /// Remembers that the finalizer was added to the App as read (its uid and resourceVersion).
    fn record_finalizer(&self, app: &App) {
        let (Some(uid), Some(rv)) = (app.uid(), app.resource_version()) else { return };
        let mut added = self.finalizers_added.lock().expect("finalizers_added lock");
        if added.len() >= STATUS_WRITTEN_MAX {
            added.clear();
        }
        added.insert(uid, rv);
    }

    /// The pods of one App as the operator sees them: (total, ready).
    pub fn pods_seen(&self, namespace: &str, app: &str) -> (usize, usize) {
        let pods = pods_of(self, namespace, app);
        (pods.len(), pods.iter().filter(|p| p.ready).count())
    }
}

impl super::Observe for Context {
    fn observe(&self, _now: dromos_core::time::Instant, out: &mut Vec<dromos_core::observe::Sample>) {
        for app in self.apps.state() {
            dromos_core::observe::app(&app, out);
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

/// Builds the operator: its context (for counters) and the future that runs it.
pub fn start(shared: &Shared, opts: Options) -> Started<Context> {
    let (client, scope) = (shared.client.clone(), &shared.scope);
    let owned = watcher::Config::default().labels(OWNED_SELECTOR);
    let listed = super::Listed::default();
    let written: Arc<super::report::OwnWrites<App, AppStatus>> = Default::default();
    let (apps_r, app_stream) = shared.reflect_listed::<App>(watcher::Config::default(), &listed);
    // An App at a version this process reconciled or wrote itself (the finalizer and status
    // writes coming back through the watch) holds nothing new: it wakes nothing.
    let app_stream = {
        let written = written.clone();
        app_stream.try_filter(move |app| futures::future::ready(!written.has_version(app)))
    };
    // Owned objects wake their App only when what it reads of them changes (decision 0057): not
    // on each status update of a Deployment or a PodDisruptionBudget as instances come up.
    let (dep_r, dep_stream) = shared.reflect_read::<Deployment>(owned.clone(), read::deployment);
    let (sts_r, sts_stream) = shared.reflect_read::<StatefulSet>(owned.clone(), read::statefulset);
    let (svc_r, svc_stream) = shared.reflect_read::<Service>(owned.clone(), read::service);
    let (pdb_r, pdb_stream) = shared.reflect_read::<PodDisruptionBudget>(owned.clone(), read::pdb);
    let (rev_r, rev_stream) = shared.reflect_read::<ControllerRevision>(owned.clone(), read::revision);
    let pod_index = Arc::new(LabelIndex::<Pod>::new(translate::APP_LABEL));
    // Pods are only ever looked up by App: an index by the App label instead of a store.
    let pod_stream = {
        let index = pod_index.clone();
        scope
            .watcher::<Pod>(&client, owned)
            // A pod change the App does not read (a binding, a condition it ignores) wakes
            // nothing: each App would otherwise reconcile once more per instance for nothing.
            .try_filter_map(move |ev| {
                let before = index.apply(&ev);
                futures::future::ready(Ok(pod_event_read(&ev, before.as_deref()).then_some(ev)))
            })
            .default_backoff()
            .touched_objects()
    };
    let (trigger, triggers) = futures::channel::mpsc::unbounded();
    let ctx = Arc::new(Context {
        recorder: shared.recorder("dromos-apps"),
        backoff: Backoff::new("apps"),
        client,
        opts: opts.clone(),
        apps: apps_r.clone(),
        listed,
        deployments: dep_r,
        statefulsets: sts_r,
        services: svc_r,
        pdbs: pdb_r,
        revisions: rev_r,
        pods: pod_index,
        trigger,
        writes: AtomicUsize::new(0),
        reconciles: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        written,
        status_written: Default::default(),
        finalizers_added: Default::default(),
    });
    let config = kube::runtime::controller::Config::default().concurrency(opts.concurrency.max(1));
    let pod_to_app = |pod: Pod| {
        let name = pod.labels().get(translate::APP_LABEL)?.clone();
        Some(ObjectRef::<App>::new(&name).within(&pod.namespace()?))
    };
    let run = {
        let ctx = ctx.clone();
        async move {
            let results = Controller::for_stream(app_stream, apps_r)
                .with_config(config)
                .owns_stream(dep_stream)
                .owns_stream(sts_stream)
                .owns_stream(svc_stream)
                .owns_stream(pdb_stream)
                .owns_stream(rev_stream)
                .watches_stream(pod_stream, pod_to_app)
                .reconcile_on(triggers)
                .run(reconcile, error_policy, ctx);
            super::report::drive("apps", results).await;
        }
    };
    Started { ctx, run: Box::pin(run) }
}

fn error_policy(app: Arc<App>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.failures.fetch_add(1, Ordering::Relaxed);
    ctx.backoff.on_error(&app, err)
}

async fn reconcile(app: Arc<App>, ctx: Arc<Context>) -> Result<Action, Error> {
    let result = super::guard(&*app, &ctx.recorder, reconcile_one(&app, &ctx)).await;
    ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    ctx.backoff.record(&app, result)
}

async fn reconcile_one(app: &App, ctx: &Context) -> Result<Action, Error> {
    let ns = app.namespace().unwrap_or_default();
    let apps: Api<App> = Api::namespaced(ctx.client.clone(), &ns);
    let has_finalizer = app.finalizers().iter().any(|f| f == FINALIZER);
    if app.metadata.deletion_timestamp.is_some() {
        if !has_finalizer {
            Ok(Action::await_change())
        } else {
            match cleanup(app, ctx).await {
                Ok(None) => {
                    // Done: remove our finalizer (a JSON patch that tests the list first).
                    let finalizers: Vec<&String> = app.finalizers().iter().filter(|f| *f != FINALIZER).collect();
                    let patch = json_patch(app, serde_json::json!(finalizers));
                    ctx.writes.fetch_add(1, Ordering::Relaxed);
                    apps.patch(&app.name_any(), &PatchParams::default(), &patch).await?;
                    ctx.status_written.lock().expect("status_written lock").remove(&(ns.clone(), app.name_any()));
                    if let Some(uid) = app.uid() {
                        ctx.finalizers_added.lock().expect("finalizers_added lock").remove(&uid);
                    }
                    Ok(Action::await_change())
                }
                Ok(Some(action)) => Ok(action),
                Err(e) => Err(e),
            }
        }
    } else if !has_finalizer && ctx.finalizer_added(app) {
        // This process added the finalizer to exactly this version of the App: the cache has
        // not caught up with that write yet (patching again would fail its resourceVersion
        // test). The App on the server has it.
        apply(app, ctx).await
    } else if !has_finalizer {
        let mut finalizers: Vec<String> = app.finalizers().to_vec();
        finalizers.push(FINALIZER.to_string());
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        let patched = apps
            .patch(&app.name_any(), &PatchParams::default(), &json_patch(app, serde_json::json!(finalizers)))
            .await?;
        ctx.record_finalizer(app);
        // Go on with the App as patched rather than wait for the watch to bring it back: under
        // load the queue is long, and a new App would otherwise pass through it twice before
        // its workload exists.
        apply(&patched, ctx).await
    } else {
        apply(app, ctx).await
    }
}

/// A JSON patch replacing `metadata.finalizers`, guarded by the resourceVersion read.
fn json_patch(app: &App, finalizers: Value) -> Patch<Value> {
    let ops = serde_json::json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": app.resource_version()},
        {"op": "add", "path": "/metadata/finalizers", "value": finalizers}
    ]);
    Patch::Json(serde_json::from_value(ops).expect("a valid JSON patch"))
}

/// The `(namespace, name)` of every App that depends on `target`.
fn dependents(ctx: &Context, target: &(String, String)) -> Vec<Arc<App>> {
    ctx.apps
        .state()
        .into_iter()
        .filter(|a| {
            // Most Apps depend on nothing: no id to resolve (this runs over every App).
            if a.spec.dependencies.is_empty() {
                return false;
            }
            let (ns, name) = (a.namespace().unwrap_or_default(), a.name_any());
            app::Model::of(a, &ns, &name).dependencies().into_iter().flatten().any(|d| &d == target)
        })
        .collect()
}

fn dependency_state(ctx: &Context, key: &(String, String)) -> DependencyState {
    let Some(dep) = ctx.apps.get(&ObjectRef::new(&key.1).within(&key.0)) else {
        return DependencyState::Missing;
    };
    let status = dep.status.clone().unwrap_or_default();
    let ready =
        status.common.conditions.iter().any(|c| {
            c.type_ == condition::READY && c.status == "True" && c.observed_generation == dep.metadata.generation
        });
    if ready && dep.metadata.deletion_timestamp.is_none() {
        DependencyState::Ready
    } else {
        DependencyState::NotReady { healthy: status.healthy.unwrap_or(0), instances: dep.spec.instances.unwrap_or(1) }
    }
}

fn template_revision(meta: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>) -> String {
    let ann = meta.and_then(|m| m.annotations.as_ref());
    let get = |key: &str| ann.and_then(|a| a.get(key)).map(String::as_str);
    appstate::revision(get(VERSION_ANNOTATION).unwrap_or(""), get(RESTART_ANNOTATION))
}

fn observe_workload(ctx: &Context, ns: &str, name: &str) -> Option<WorkloadInfo> {
    if let Some(d) = ctx.deployments.get(&ObjectRef::<Deployment>::new(name).within(ns)) {
        return Some(deployment_info(&d));
    }
    ctx.statefulsets.get(&ObjectRef::<StatefulSet>::new(name).within(ns)).map(|s| statefulset_info(&s))
}

/// Fingerprints of what the App reads of each kind it owns ([`crate::readfilter`]): the
/// metadata and spec it compares with what it renders, and of a workload the status it observes.
mod read {
    use super::*;

    pub(super) fn deployment(d: &Deployment) -> u64 {
        Fingerprint::default().meta(&d.metadata).json(&d.spec).hash(&deployment_info(d)).finish()
    }

    pub(super) fn statefulset(s: &StatefulSet) -> u64 {
        Fingerprint::default().meta(&s.metadata).json(&s.spec).hash(&statefulset_info(s)).finish()
    }

    pub(super) fn service(s: &Service) -> u64 {
        Fingerprint::default().meta(&s.metadata).json(&s.spec).finish()
    }

    pub(super) fn pdb(p: &PodDisruptionBudget) -> u64 {
        Fingerprint::default().meta(&p.metadata).json(&p.spec).finish()
    }

    pub(super) fn revision(r: &ControllerRevision) -> u64 {
        Fingerprint::default().meta(&r.metadata).json(&r.data).hash(&r.revision).finish()
    }
}

/// What the App reads of its Deployment.
fn deployment_info(d: &Deployment) -> WorkloadInfo {
    let spec = d.spec.as_ref();
    let st = d.status.as_ref();
    let failed = st
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
        .map(|c| c.message.clone().unwrap_or_else(|| "the rollout exceeded its progress deadline".into()));
    WorkloadInfo {
        revision: template_revision(spec.and_then(|s| s.template.metadata.as_ref())),
        observed: st.and_then(|s| s.observed_generation) >= d.metadata.generation,
        replicas: spec.and_then(|s| s.replicas).unwrap_or(1),
        failed,
    }
}

/// What the App reads of its StatefulSet.
fn statefulset_info(s: &StatefulSet) -> WorkloadInfo {
    let spec = s.spec.as_ref();
    let st = s.status.as_ref();
    WorkloadInfo {
        revision: template_revision(spec.and_then(|s| s.template.metadata.as_ref())),
        observed: st.and_then(|s| s.observed_generation) >= s.metadata.generation,
        replicas: spec.and_then(|s| s.replicas).unwrap_or(1),
        failed: None,
    }
}

/// Whether a pod event changes what its App reads: false only for an update of a pod already
/// known, under the same App, whose [`pod_info`] is unchanged.
fn pod_event_read(ev: &watcher::Event<Pod>, before: Option<&Pod>) -> bool {
    match (ev, before) {
        (watcher::Event::Apply(pod), Some(before)) => {
            before.labels().get(translate::APP_LABEL) != pod.labels().get(translate::APP_LABEL)
                || pod_info(before) != pod_info(pod)
        }
        _ => true,
    }
}

fn pods_of(ctx: &Context, ns: &str, name: &str) -> Vec<PodInfo> {
    ctx.pods.get(ns, name).into_iter().map(|p| pod_info(&p)).collect()
}

/// What the App reads of one of its pods.
fn pod_info(p: &Pod) -> PodInfo {
    let st = p.status.as_ref();
    let conds = st.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    let ready = conds.iter().any(|c| c.type_ == "Ready" && c.status == "True");
    let unschedulable = conds
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .map(|c| c.message.clone().unwrap_or_else(|| c.reason.clone().unwrap_or_default()));
    let containers = st.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
    let crash_looping = containers.iter().any(|c| {
        c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff")
    });
    let last_exit = containers
        .iter()
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref())
        .max_by(|a, b| a.finished_at.cmp(&b.finished_at))
        .map(|t| match &t.reason {
            Some(r) => format!("exit code {} ({r})", t.exit_code),
            None => format!("exit code {}", t.exit_code),
        });
    PodInfo {
        name: p.name_any(),
        revision: template_revision(Some(&p.metadata)),
        phase: st.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()),
        ready,
        terminating: p.metadata.deletion_timestamp.is_some(),
        unschedulable,
        crash_looping,
        restarts: containers.iter().map(|c| c.restart_count).sum(),
        last_exit,
    }
}

/// Live object of a rendered one, from the stores.
fn live_of(ctx: &Context, obj: &Value) -> Option<Value> {
    let name = obj["metadata"]["name"].as_str()?;
    let ns = obj["metadata"]["namespace"].as_str()?;
    fn to<K: serde::Serialize>(v: Option<Arc<K>>) -> Option<Value> {
        v.and_then(|v| serde_json::to_value(&*v).ok())
    }
    match obj["kind"].as_str()? {
        "Deployment" => to(ctx.deployments.get(&ObjectRef::new(name).within(ns))),
        "StatefulSet" => to(ctx.statefulsets.get(&ObjectRef::new(name).within(ns))),
        "Service" => to(ctx.services.get(&ObjectRef::new(name).within(ns))),
        "PodDisruptionBudget" => to(ctx.pdbs.get(&ObjectRef::new(name).within(ns))),
        _ => None,
    }
}

async fn apply_object(ctx: &Context, obj: &Value) -> Result<(), Error> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    let c = ctx.client.clone();
    match obj["kind"].as_str().unwrap_or_default() {
        "Deployment" => drop(Api::<Deployment>::namespaced(c, &ns).patch(&name, &pp, &Patch::Apply(obj)).await?),
        "StatefulSet" => drop(Api::<StatefulSet>::namespaced(c, &ns).patch(&name, &pp, &Patch::Apply(obj)).await?),
        "Service" => drop(Api::<Service>::namespaced(c, &ns).patch(&name, &pp, &Patch::Apply(obj)).await?),
        "PodDisruptionBudget" => {
            drop(Api::<PodDisruptionBudget>::namespaced(c, &ns).patch(&name, &pp, &Patch::Apply(obj)).await?)
        }
        k => return Err(Error::Unsupported(format!("the App operator cannot apply a {k}"))),
    }
    Ok(())
}

/// Owned objects of an App (by owner uid) found in the stores: (kind, name).
fn owned_objects(ctx: &Context, app: &App) -> Vec<(&'static str, String)> {
    owned_objects_with(ctx, app, false)
}

/// Like [`owned_objects`]; with `live_only`, leaves out objects already being deleted.
fn owned_objects_with(ctx: &Context, app: &App, live_only: bool) -> Vec<(&'static str, String)> {
    let uid = app.uid().unwrap_or_default();
    let ns = app.namespace().unwrap_or_default();
    let owned = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.namespace.as_deref() == Some(ns.as_str())
            && !(live_only && m.deletion_timestamp.is_some())
            && m.owner_references.iter().flatten().any(|o| o.uid == uid && o.controller == Some(true))
    };
    let mut out = Vec::new();
    out.extend(ctx.deployments.state().iter().filter(|o| owned(&o.metadata)).map(|o| ("Deployment", o.name_any())));
    out.extend(ctx.statefulsets.state().iter().filter(|o| owned(&o.metadata)).map(|o| ("StatefulSet", o.name_any())));
    out.extend(ctx.services.state().iter().filter(|o| owned(&o.metadata)).map(|o| ("Service", o.name_any())));
    out.extend(ctx.pdbs.state().iter().filter(|o| owned(&o.metadata)).map(|o| ("PodDisruptionBudget", o.name_any())));
    out
}

async fn delete_object(ctx: &Context, ns: &str, kind: &str, name: &str, dp: &DeleteParams) -> Result<(), Error> {
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    let c = ctx.client.clone();
    let r = match kind {
        "Deployment" => Api::<Deployment>::namespaced(c, ns).delete(name, dp).await.map(|_| ()),
        "StatefulSet" => Api::<StatefulSet>::namespaced(c, ns).delete(name, dp).await.map(|_| ()),
        "Service" => Api::<Service>::namespaced(c, ns).delete(name, dp).await.map(|_| ()),
        "PodDisruptionBudget" => Api::<PodDisruptionBudget>::namespaced(c, ns).delete(name, dp).await.map(|_| ()),
        _ => Ok(()),
    };
    match r {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Records an event without waiting for it: an event is told, not a step of the reconcile, and
/// its round trip would delay the status write that follows.
fn publish(ctx: &Context, app: &App, warning: bool, reason: &'static str, note: String) {
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    let (recorder, obj) = (ctx.recorder.clone(), app.object_ref(&()));
    tokio::spawn(async move { super::report::event(&recorder, &obj, warning, "Deploy", reason, &note).await });
}

async fn write_status(ctx: &Context, app: &App, prev: Option<&AppStatus>, status: &AppStatus) -> Result<bool, Error> {
    if prev == Some(status) {
        return Ok(false);
    }
    // `status.placement` belongs to the Dromos scheduler (crate::operators::scheduler): never write it.
    let body = super::report::status_merge_body(status, prev, &["placement"])?;
    let api: Api<App> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    let result = api.patch_status(&app.name_any(), &PatchParams::default(), &Patch::Merge(body)).await?;
    ctx.written.record(app, status.clone(), result.metadata.resource_version);
    Ok(true)
}

fn was_ready(status: Option<&AppStatus>) -> bool {
    status.is_some_and(|s| s.common.conditions.iter().any(|c| c.type_ == condition::READY && c.status == "True"))
}

fn wake_dependents(ctx: &Context, key: &(String, String)) {
    for d in dependents(ctx, key) {
        let _ = ctx.trigger.unbounded_send(ObjectRef::from_obj(&*d));
    }
}

async fn apply(app: &App, ctx: &Context) -> Result<Action, Error> {
    let ns = app.namespace().unwrap_or_default();
    let name = app.name_any();
    let value = serde_json::to_value(app)?;
    let opts = LoadOptions { default_namespace: ns.clone(), ..Default::default() };
    let tree = dromos_core::check_live(&format!("App {ns}/{name}"), &value, &opts);
    let problems: Vec<String> =
        tree.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("{}: {}", d.field, d.message)).collect();
    let manifest = tree.manifests.into_iter().next();
    let (rendered, version) = match (&manifest, problems.is_empty()) {
        (Some(m), true) => match &m.typed {
            Typed::App(typed) => {
                (translate::render_app(m, typed, &ctx.opts.render).objects, translate::app_version(&m.value["spec"]))
            }
            _ => (vec![], String::new()),
        },
        _ => (vec![], String::new()),
    };
    // The version is recorded beside the applies below, not before them: a new App's workload
    // waits for no other round trip than its finalizer's.
    let record = async {
        match manifest.as_ref().filter(|_| !version.is_empty()) {
            Some(m) => record_version(ctx, app, &m.value["spec"], &version).await,
            None => Ok(()),
        }
    };
    tracing::Span::current().record("revision", version.as_str());
    let restart = app.annotations().get(RESTART_ANNOTATION).cloned();
    let dependencies = app::Model::of(app, &ns, &name)
        .dependencies()
        .into_iter()
        .flatten()
        .map(|k| Dependency { key: format!("{}/{}", k.0, k.1), state: dependency_state(ctx, &k) })
        .collect();
    let obs = Observed {
        generation: app.metadata.generation,
        instances: app.spec.instances.unwrap_or(1),
        selector: format!("{}={name}", translate::APP_LABEL),
        revision: appstate::revision(&version, restart.as_deref()),
        version: version.clone(),
        restart,
        workload: observe_workload(ctx, &ns, &name),
        pods: pods_of(ctx, &ns, &name),
        dependencies,
        problems,
        deleting: false,
        now: chrono::Utc::now(),
    };
    let prev = ctx.current_status(app);
    let assessment = appstate::assess(prev.as_ref(), &obs);

    let applies = async {
        if !assessment.apply {
            return Ok(());
        }
        let owner = app.controller_owner_ref(&()).map(|o| serde_json::to_value(o).unwrap_or_default());
        let mut wanted = BTreeSet::new();
        let mut changed = vec![];
        for mut obj in rendered {
            obj["metadata"]["namespace"] = Value::String(ns.clone());
            if let Some(o) = &owner {
                obj["metadata"]["ownerReferences"] = Value::Array(vec![o.clone()]);
            }
            wanted.insert((
                obj["kind"].as_str().unwrap_or_default().to_string(),
                obj["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            ));
            let unchanged = live_of(ctx, &obj).is_some_and(|live| dromos_core::plan::is_subset(&obj, &live));
            if !unchanged {
                changed.push(obj);
            }
        }
        // The objects of one App need nothing of each other: applied at once.
        futures::future::try_join_all(changed.iter().map(|obj| apply_object(ctx, obj))).await?;
        for (kind, oname) in owned_objects(ctx, app) {
            if !wanted.contains(&(kind.to_string(), oname.clone())) {
                tracing::info!(app = %name, kind, object = %oname, "deleting an object the App no longer renders");
                delete_object(ctx, &ns, kind, &oname, &DeleteParams::background()).await?;
            }
        }
        Ok::<(), Error>(())
    };
    futures::future::try_join(record, applies).await?;
    for e in &assessment.events {
        publish(ctx, app, e.warning, e.reason, e.message.clone());
    }
    let ready_before = was_ready(prev.as_ref());
    // Instances coming up one pod event at a time: their counts are written together, at most
    // a second late; anything else at once (appstate::status_wait).
    let key = (ns.clone(), name.clone());
    let since = ctx.status_written.lock().expect("status_written lock").get(&key).map(|t| t.elapsed());
    let wait = appstate::status_wait(prev.as_ref(), &assessment, since);
    if wait.is_none() && write_status(ctx, app, prev.as_ref(), &assessment.status).await? {
        let mut written = ctx.status_written.lock().expect("status_written lock");
        if written.len() >= STATUS_WRITTEN_MAX {
            written.clear();
        }
        written.insert(key, std::time::Instant::now());
    }
    let ready_now =
        assessment.status.common.conditions.iter().any(|c| c.type_ == condition::READY && c.status == "True");
    if ready_before != ready_now || prev.is_none() {
        wake_dependents(ctx, &(ns, name));
    }
    let state = assessment.status.state.as_deref().unwrap_or("");
    let deployment = assessment.status.deployment.as_ref().map(|d| d.reason.as_str()).unwrap_or("");
    tracing::debug!(state, deployment, applied = assessment.apply, workload = ?obs.workload, live = obs.pods.iter().filter(|p| !p.terminating).count(), "App reconciled");
    if let Some(wait) = wait {
        return Ok(Action::requeue(wait));
    }
    Ok(Action::requeue(match state {
        "Running" | "Suspended" => Duration::from_secs(300),
        // A dependency that became ready wakes this App at once, but the wake-up can read the
        // App cache before it holds that status (it was just written): look again soon rather
        // than at the next 30 s requeue (the quickstart waited that long once).
        "Waiting" => DEPENDENCY_RECHECK,
        _ => Duration::from_secs(30),
    }))
}

/// Records the App's current version as a ControllerRevision (`<app>-<version>`, data: the
/// spec without `instances`, owned by the App) and keeps the last
/// [`versions::VERSION_HISTORY_LIMIT`] (docs/decisions/0046). Writes nothing when the current
/// version already is the newest record.
async fn record_version(ctx: &Context, app: &App, spec: &Value, version: &str) -> Result<(), Error> {
    use dromos_core::appstate::versions;
    let ns = app.namespace().unwrap_or_default();
    let name = app.name_any();
    let uid = app.uid().unwrap_or_default();
    let recorded: Vec<versions::Recorded> = ctx
        .revisions
        .state()
        .iter()
        .filter(|r| {
            r.metadata.namespace.as_deref() == Some(ns.as_str())
                && r.metadata.owner_references.iter().flatten().any(|o| o.uid == uid && o.controller == Some(true))
        })
        .map(|r| versions::Recorded {
            name: r.name_any(),
            version: r.labels().get(versions::VERSION_LABEL).cloned().unwrap_or_default(),
            revision: r.revision,
        })
        .collect();
    let plan = versions::plan_history(&recorded, version, versions::VERSION_HISTORY_LIMIT);
    if plan.is_empty() {
        return Ok(());
    }
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(revision) = plan.create {
        let mut data = spec.clone();
        if let Some(o) = data.as_object_mut() {
            o.remove("instances");
        }
        let labels = std::collections::BTreeMap::from([
            (translate::MANAGED_BY.0.to_string(), translate::MANAGED_BY.1.to_string()),
            (translate::OWNER_KIND_LABEL.to_string(), "App".to_string()),
            (translate::APP_LABEL.to_string(), name.clone()),
            (versions::VERSION_LABEL.to_string(), version.to_string()),
        ]);
        let record = ControllerRevision {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(versions::record_name(&name, version)),
                namespace: Some(ns.clone()),
                labels: Some(labels),
                owner_references: app.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            data: Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(data)),
            revision,
        };
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        match api.create(&kube::api::PostParams::default(), &record).await {
            Ok(_) => {}
            // Recorded by an earlier reconcile the cache did not show yet.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some((record, revision)) = &plan.renumber {
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        let patch = serde_json::json!({"revision": revision});
        api.patch(record, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    }
    for record in &plan.delete {
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        match api.delete(record, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletion: wait until every dependent that is also being deleted has stopped, then stop this
/// App's instances, then let the App go.
async fn cleanup(app: &App, ctx: &Context) -> Result<Option<Action>, Error> {
    let ns = app.namespace().unwrap_or_default();
    let name = app.name_any();
    let key = (ns.clone(), name.clone());
    let deps = dependents(ctx, &key);
    // Apps deleted together (`kubectl delete -f dir`, a pruned group) arrive one by one: for a
    // short while after this App's deletion, a dependent that still runs may be next.
    let since = app
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| (chrono::Utc::now() - dromos_core::time::from_k8s(t)).as_seconds_f64())
        .unwrap_or(f64::MAX);
    let grace = since < DELETE_GRACE.as_secs_f64() && deps.iter().any(|d| d.metadata.deletion_timestamp.is_none());
    let waiting: Vec<String> = deps
        .iter()
        .filter(|d| grace || d.metadata.deletion_timestamp.is_some())
        .map(|d| format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()))
        .collect();
    let prev = ctx.current_status(app);
    let mut status = prev.clone().unwrap_or_default();
    status.state = Some("Deleting".into());
    status.waiting_for =
        (!waiting.is_empty()).then(|| format!("waiting for dependents to stop: {}", waiting.join(", ")));
    write_status(ctx, app, prev.as_ref(), &status).await?;
    if !waiting.is_empty() {
        return Ok(Some(Action::requeue(Duration::from_secs(1))));
    }
    for (kind, oname) in owned_objects_with(ctx, app, true) {
        if kind == "Deployment" || kind == "StatefulSet" {
            delete_object(ctx, &ns, kind, &oname, &DeleteParams::foreground()).await?;
        }
    }
    let remaining = pods_of(ctx, &ns, &name).len();
    if remaining > 0 {
        return Ok(Some(Action::requeue(Duration::from_secs(1))));
    }
    publish(ctx, app, false, "Deleted", "instances stopped; the App is deleted".into());
    wake_dependents(ctx, &key);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};

    /// A pod of `app`, on `node` when bound; `scheduled`: its PodScheduled condition, if any.
    fn pod(app: &str, node: Option<&str>, scheduled: Option<bool>, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.name = Some("web-1".into());
        p.metadata.labels = Some([(translate::APP_LABEL.to_string(), app.to_string())].into());
        p.spec = Some(PodSpec { node_name: node.map(Into::into), ..Default::default() });
        let condition = |type_: &str, status: bool| PodCondition {
            type_: type_.into(),
            status: if status { "True" } else { "False" }.into(),
            message: (!status).then(|| "0/3 nodes are available".into()),
            ..Default::default()
        };
        let mut conditions: Vec<PodCondition> = scheduled.map(|s| condition("PodScheduled", s)).into_iter().collect();
        conditions.push(condition("Ready", ready));
        p.status = Some(PodStatus {
            phase: Some(if ready { "Running" } else { "Pending" }.into()),
            conditions: Some(conditions),
            ..Default::default()
        });
        p
    }

    #[test]
    fn only_pod_changes_the_app_reads_wake_it() {
        let index = LabelIndex::<Pod>::new(translate::APP_LABEL);
        let wakes = |ev: watcher::Event<Pod>| {
            let before = index.apply(&ev);
            pod_event_read(&ev, before.as_deref())
        };
        let apply = |p: Pod| wakes(watcher::Event::Apply(p));
        assert!(apply(pod("web", None, None, false)), "a new pod");
        assert!(!apply(pod("web", None, None, false)), "the same pod again");
        // Bound, the App reads nothing of that: no wake.
        assert!(!apply(pod("web", Some("n1"), Some(true), false)));
        assert!(!apply(pod("web", Some("n2"), Some(true), false)), "only the node changed");
        // What the App reports does wake it: unschedulable, ready, another App (both read it).
        assert!(apply(pod("web", None, Some(false), false)));
        assert!(apply(pod("web", Some("n2"), Some(true), false)), "no longer unschedulable");
        assert!(apply(pod("web", Some("n2"), Some(true), true)));
        assert!(apply(pod("db", Some("n2"), Some(true), true)));
        // A deletion, and every event of a relist, always wake.
        assert!(wakes(watcher::Event::Delete(pod("db", Some("n2"), Some(true), true))));
        assert!(wakes(watcher::Event::InitApply(pod("db", Some("n2"), Some(true), true))));
    }

    #[test]
    fn only_owned_object_changes_the_app_reads_wake_it() {
        use crate::readfilter::ReadFilter;
        let deployment = |rv: &str, ready: i32, observed_at: &str| -> Deployment {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv, "generation": 1},
                "spec": {"replicas": 4, "selector": {}, "template": {"metadata": {"annotations": {VERSION_ANNOTATION: "v1"}}}},
                "status": {"observedGeneration": 1, "replicas": 4, "updatedReplicas": 4, "readyReplicas": ready,
                           "availableReplicas": ready,
                           "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": observed_at}]}
            }))
            .unwrap()
        };
        let mut f = ReadFilter::new(read::deployment);
        assert!(f.wakes(&watcher::Event::Apply(deployment("1", 0, "2026-12-06T07:00:00Z"))), "a new Deployment");
        assert!(
            !f.wakes(&watcher::Event::Apply(deployment("2", 0, "2026-12-06T07:00:05Z"))),
            "a condition's time only"
        );
        // The counts trail the pods and dip after a rollout ends: the App reads the pods.
        assert!(!f.wakes(&watcher::Event::Apply(deployment("3", 2, "2026-12-06T07:00:05Z"))), "the status counts");
        let t = "2026-12-06T07:00:05Z";
        assert_eq!(deployment_info(&deployment("3", 2, t)), deployment_info(&deployment("4", 4, t)));
        let mut scaled = deployment("5", 2, "2026-12-06T07:00:05Z");
        scaled.spec.as_mut().unwrap().replicas = Some(5);
        scaled.metadata.generation = Some(2);
        assert!(f.wakes(&watcher::Event::Apply(scaled.clone())), "someone changed the spec");
        scaled.status.as_mut().unwrap().observed_generation = Some(2);
        scaled.metadata.resource_version = Some("6".into());
        assert!(f.wakes(&watcher::Event::Apply(scaled)), "the Deployment controller saw the new spec");

        let pdb = |rv: &str, healthy: i32| -> PodDisruptionBudget {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv, "generation": 1},
                "spec": {"maxUnavailable": 1},
                "status": {"currentHealthy": healthy, "desiredHealthy": 3, "disruptionsAllowed": 0, "expectedPods": 4}
            }))
            .unwrap()
        };
        let mut f = ReadFilter::new(read::pdb);
        assert!(f.wakes(&watcher::Event::Apply(pdb("1", 0))));
        assert!(!f.wakes(&watcher::Event::Apply(pdb("2", 3))), "the disruption controller's counts are not read");
    }
}

//! The Job controller (I/O): runs Dromos Jobs as batch/v1 Jobs, one per attempt.
//!
//! Reconcile is `gather -> plan_runs (core, pure) -> create -> write status -> delete ->
//! events -> requeue at the next fire`. Inputs come from watch caches (Dromos Jobs, the
//! batch/v1 Jobs labelled `dromos.io/job`, and their pods), so a reconcile reads nothing from
//! the API server except to confirm that an attempt the cache lacks is really gone. Status is
//! replaced with the resourceVersion it was computed from: a reconcile working from a stale
//! cache gets a conflict and runs again instead of overwriting newer history.
//!
//! Run creation goes first when many Jobs fire at once. The status write of a Job (one
//! custom-resource update, the costliest request of a run for the API server), its events and
//! its history deletions wait while another Job still has an unhandled fire or a run creation
//! is in flight, for at most [`MAX_DEFER`]. Meanwhile the computed status is kept in memory
//! ("deferred") for the resourceVersion it was computed from, and the Job's next reconciles
//! start from it, so nothing is planned twice; a flusher reconciles the deferred Jobs once the
//! burst is over. If the controller stops before writing, attempts are adopted from the
//! cluster (run names are deterministic), as after any crash between create and status write.

use super::{Backoff, Error, Shared, Started};
use chrono::{DateTime, Utc};
use dromos_core::RenderOptions;
use dromos_core::runs::{self, AttemptState, Decision, Finished, Inputs, ParentState, RunEvent, RunTrigger};
use dromos_core::translate::{JOB_LABEL, render_run};
use dromos_crds::Job;
use dromos_crds::job::JobStatus;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod deferred;
mod observe;
mod requests;

use deferred::{publish_events, restore};
use observe::{children, observe, refs, resolve, to_chrono};
pub use requests::{history_table, history_table_with, request_run};

/// The longest a status write waits behind other Jobs' run creations.
pub const MAX_DEFER: Duration = Duration::from_secs(10);
/// A fire whose run is not created yet holds other Jobs' bookkeeping back for this long at most.
const DUE_WINDOW_SECS: i64 = 10;
/// An attempt this controller created is taken to exist, without asking the API server, for
/// this long while the watch catches up.
const TRUST_CREATED: Duration = Duration::from_secs(60);
/// How often the flusher looks for deferred writes that may go out.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Job controller settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Images and other translation settings of run pods.
    pub render: RenderOptions,
    /// Jobs reconciled at once.
    pub concurrency: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self { render: RenderOptions::default(), concurrency: 64 }
    }
}

/// Shared state of the Job reconcilers.
pub struct Context {
    client: Client,
    scope: crate::scope::Scope,
    opts: Options,
    backoff: Backoff<Job>,
    recorder: Recorder,
    jobs: Store<Job>,
    listed: super::Listed,
    attempts: Store<BatchJob>,
    pods: Store<Pod>,
    writers: Mutex<Option<Writers>>,
    /// Computed status not written yet, by Job (see the module documentation).
    deferred: Mutex<HashMap<ObjectRef<Job>, Deferred>>,
    /// Run creations in flight.
    creating: AtomicUsize,
    /// Attempts this controller created, `namespace/name` -> when.
    created: Mutex<HashMap<String, Instant>>,
    /// Jobs with an unhandled fire, recomputed at most every [`FLUSH_EVERY`].
    due: Mutex<Option<(Instant, DueJobs)>>,
    flush: futures::channel::mpsc::UnboundedSender<ObjectRef<Job>>,
    events: futures::channel::mpsc::UnboundedSender<EventBatch>,
    /// Mutating requests sent (creates, status, deletes, events).
    pub writes: AtomicUsize,
    /// Status writes (with their events and deletions) that waited for a burst of run creations.
    pub deferrals: AtomicUsize,
    /// Completed reconciles.
    pub reconciles: AtomicUsize,
}

struct Writers {
    jobs: reflector::store::Writer<Job>,
    attempts: reflector::store::Writer<BatchJob>,
    pods: reflector::store::Writer<Pod>,
    flush: futures::channel::mpsc::UnboundedReceiver<ObjectRef<Job>>,
    events: futures::channel::mpsc::UnboundedReceiver<EventBatch>,
}

type DueJobs = Arc<Vec<ObjectRef<Job>>>;
type EventBatch = (k8s_openapi::api::core::v1::ObjectReference, Vec<RunEvent>);

/// A status computed from `resource_version` and not written yet, with what goes out with it.
struct Deferred {
    resource_version: Option<String>,
    status: JobStatus,
    events: Vec<RunEvent>,
    delete: Vec<String>,
    since: Instant,
    flushing: bool,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({:?})", self.opts)
    }
}

/// Builds the operator: its context (counters, deferred statuses) and the future that runs it.
pub fn start(shared: &Shared, opts: Options) -> Started<Context> {
    let ctx = context(shared, opts);
    Started { ctx: ctx.clone(), run: Box::pin(run(ctx)) }
}

fn context(shared: &Shared, opts: Options) -> Arc<Context> {
    let (jobs, jobs_w) = reflector::store_shared(1024);
    let (attempts, attempts_w) = reflector::store();
    let (pods, pods_w) = reflector::store();
    let (flush_tx, flush_rx) = futures::channel::mpsc::unbounded();
    let (events_tx, events_rx) = futures::channel::mpsc::unbounded();
    Arc::new(Context {
        recorder: shared.recorder("dromos-jobs"),
        client: shared.client.clone(),
        scope: shared.scope.clone(),
        backoff: Backoff::new("jobs"),
        opts,
        jobs,
        listed: Default::default(),
        attempts,
        pods,
        writers: Mutex::new(Some(Writers {
            jobs: jobs_w,
            attempts: attempts_w,
            pods: pods_w,
            flush: flush_rx,
            events: events_rx,
        })),
        deferred: Mutex::new(HashMap::new()),
        creating: AtomicUsize::new(0),
        created: Mutex::new(HashMap::new()),
        due: Mutex::new(None),
        flush: flush_tx,
        events: events_tx,
        writes: AtomicUsize::new(0),
        deferrals: AtomicUsize::new(0),
        reconciles: AtomicUsize::new(0),
    })
}

/// Runs the Job controller until the future is dropped.
async fn run(ctx: Arc<Context>) {
    let w = ctx.writers.lock().expect("writers lock").take().expect("the job controller runs once per context");
    let labelled = watcher::Config::default().labels(JOB_LABEL);
    let Some(job_events) = w.jobs.subscribe() else { return };
    let Some(parent_events) = w.jobs.subscribe() else { return };
    let flusher = {
        let ctx = ctx.clone();
        async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                for r in ctx.flushable() {
                    if ctx.flush.unbounded_send(r).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let jobs_watch = ctx
        .listed
        .track(ctx.scope.watcher::<Job>(&ctx.client, watcher::Config::default()))
        .default_backoff()
        .reflect_shared(w.jobs)
        .for_each(|_| futures::future::ready(()));
    let attempts = reflector::reflector(w.attempts, ctx.scope.watcher::<BatchJob>(&ctx.client, labelled.clone()))
        .default_backoff()
        .touched_objects();
    let pods = reflector::reflector(w.pods, ctx.scope.watcher::<Pod>(&ctx.client, labelled))
        .default_backoff()
        .touched_objects();
    let store = ctx.jobs.clone();
    let children_store = ctx.jobs.clone();
    let config = kube::runtime::controller::Config::default().concurrency(ctx.opts.concurrency);
    let controller = Controller::for_shared_stream(job_events, store)
        .with_config(config)
        .owns_stream(attempts)
        .watches_stream(pods, |pod: Pod| {
            let name = pod.labels().get(JOB_LABEL)?.clone();
            Some(ObjectRef::new(&name).within(&pod.namespace()?))
        })
        // A parent's new completion is its children's trigger.
        .watches_shared_stream(parent_events, move |parent: Arc<Job>| children(&children_store, &parent))
        .reconcile_on(w.flush)
        .run(reconcile, error_policy, ctx.clone());
    let controller = super::report::drive("jobs", controller);
    tokio::join!(jobs_watch, controller, flusher, publish_events(ctx.recorder.clone(), w.events));
}

/// Reconciles one Dromos Job.
pub async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
    let result = super::guard(&*job, &ctx.recorder, reconcile_one(&job, &ctx)).await;
    ctx.backoff.record(&job, result)
}

async fn reconcile_one(job: &Arc<Job>, ctx: &Arc<Context>) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    // The revision of a Job is its spec's generation.
    tracing::Span::current().record("revision", job.metadata.generation.unwrap_or_default());
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let now = Utc::now();
    let key = ObjectRef::from_obj(job.as_ref());
    // A status this controller computed from the same resourceVersion and has not written yet
    // is the truth to start from; one computed from an older version is dropped (the attempts
    // it recorded are adopted again from the cluster).
    let carried = ctx
        .deferred
        .lock()
        .expect("deferred lock")
        .remove(&key)
        .filter(|d| d.resource_version == job.metadata.resource_version);

    // gather (caches; the API server only to confirm absences)
    let pods: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && p.labels().get(JOB_LABEL) == Some(&name))
        .collect();
    let attempts: Vec<AttemptState> = ctx
        .attempts
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns.as_str()) && b.labels().get(JOB_LABEL) == Some(&name))
        .filter(|b| b.metadata.deletion_timestamp.is_none())
        .filter_map(|b| observe(b, &pods))
        .collect();
    let status = match &carried {
        Some(d) => d.status.clone(),
        None => job.status.clone().unwrap_or_default(),
    };
    let batch: Api<BatchJob> = Api::namespaced(ctx.client.clone(), &ns);
    let mut gone = vec![];
    // Absences are confirmed later when other Jobs' runs are being created, and never for an
    // attempt this controller has just created (the watch has not shown it yet).
    for expected in runs::expected_attempts(&status) {
        if attempts.iter().any(|a| a.name == expected) || ctx.created_recently(&ns, &expected) || ctx.burst(Some(&key))
        {
            continue;
        }
        match batch.get_opt(&expected).await {
            Ok(None) => gone.push(expected),
            Ok(Some(_)) => {}
            Err(e) => {
                restore(ctx, key, carried);
                return Err(e.into());
            }
        }
    }
    let parents: Vec<ParentState> = refs(job)
        .map(|r| match resolve(&ctx.jobs, &ns, r) {
            Some(p) => ParentState {
                key: format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any()),
                found: true,
                completed: runs::parent_completion(&p.spec, p.status.as_ref()),
            },
            None => ParentState { key: format!("{ns}/{r}"), found: false, completed: None },
        })
        .collect();
    let created = job.metadata.creation_timestamp.as_ref().map(to_chrono).unwrap_or(now);

    // plan (no client required)
    let decision = runs::plan_runs(&Inputs {
        name: &name,
        spec: &job.spec,
        status: &status,
        generation: job.metadata.generation,
        created,
        run_request: job.annotations().get(runs::RUN_REQUEST_ANNOTATION).map(String::as_str),
        kill_request: job.annotations().get(runs::KILL_REQUEST_ANNOTATION).map(String::as_str),
        attempts: &attempts,
        gone: &gone,
        parents: &parents,
        now,
    });

    // apply (client required)
    let wake_at = decision.wake_at;
    apply(ctx, job, key, decision, carried).await?;
    ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    let resync = Duration::from_secs(300);
    Ok(match wake_at {
        Some(t) => Action::requeue((t - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(resync)),
        None => Action::requeue(resync),
    })
}

async fn apply(
    ctx: &Context,
    job: &Job,
    key: ObjectRef<Job>,
    mut d: Decision,
    carried: Option<Deferred>,
) -> Result<(), Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let batch: Api<BatchJob> = Api::namespaced(ctx.client.clone(), &ns);
    let t0 = std::time::Instant::now();
    for c in &d.create {
        let obj = render_run(&ns, &name, job, c, job.metadata.uid.as_deref(), &ctx.opts.render);
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        ctx.creating.fetch_add(1, Ordering::SeqCst);
        let res = batch.create(&PostParams { field_manager: Some("dromos".into()), ..Default::default() }, &obj).await;
        ctx.creating.fetch_sub(1, Ordering::SeqCst);
        match res {
            Ok(_) => {
                ctx.note_created(&ns, &c.name);
                tracing::info!(job = %format!("{ns}/{name}"), run = %c.name, ms = t0.elapsed().as_millis() as u64, "run attempt created")
            }
            // Names are deterministic: it exists because an earlier reconcile created it.
            Err(kube::Error::Api(e)) if e.code == 409 => ctx.note_created(&ns, &c.name),
            Err(e) => {
                restore(ctx, key, carried);
                return Err(e.into());
            }
        }
    }
    // What a deferred write carried goes out with this one.
    let since = carried.as_ref().map_or_else(Instant::now, |c| c.since);
    if let Some(c) = carried {
        let mut events = c.events;
        events.append(&mut d.events);
        d.events = events;
        for n in c.delete {
            if !d.delete.contains(&n) {
                d.delete.push(n);
            }
        }
    }
    let status_changed = job.status.as_ref() != Some(&d.status);
    if (status_changed || !d.delete.is_empty() || !d.events.is_empty())
        && since.elapsed() < MAX_DEFER
        && ctx.burst(Some(&key))
    {
        ctx.deferrals.fetch_add(1, Ordering::Relaxed);
        ctx.keep(key, job, d, since);
        return Ok(());
    }
    if status_changed {
        let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
        let mut body = job.clone();
        body.status = Some(d.status.clone());
        body.metadata.managed_fields = None;
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        match api.replace_status(&name, &PostParams::default(), &body).await {
            Ok(_) => {}
            // Newer than what this status was computed from: computed again from the cache.
            Err(kube::Error::Api(e)) if e.code == 409 => return Err(Error::Conflict(format!("{ns}/{name}"))),
            Err(e) => {
                // Not written (e.g. a timeout of a busy API server): kept for the next reconcile.
                ctx.keep(key, job, d, since);
                return Err(e.into());
            }
        }
    }
    for n in &d.delete {
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        match batch.delete(n, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Events are for people; they never hold up the next reconcile (at a busy minute, every
    // slot of the controller is a run waiting to be created). A few publishers send them.
    if !d.events.is_empty() {
        ctx.writes.fetch_add(d.events.len(), Ordering::Relaxed);
        let _ = ctx.events.unbounded_send((job.object_ref(&()), d.events));
    }
    Ok(())
}

fn error_policy(job: Arc<Job>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.backoff.on_error(&job, err)
}

impl super::Observe for Context {
    fn observe(&self, now: dromos_core::time::Instant, out: &mut Vec<dromos_core::observe::Sample>) {
        for job in self.jobs.state() {
            dromos_core::observe::job(&job, now, out);
        }
    }

    fn synced(&self) -> bool {
        self.listed.get()
    }
}

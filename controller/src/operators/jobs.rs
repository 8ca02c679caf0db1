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

impl Context {
    /// Jobs whose fire is due (or about to be) and not handled, by the status this controller
    /// last computed.
    fn due_jobs(&self) -> DueJobs {
        let mut cache = self.due.lock().expect("due lock");
        if let Some((at, due)) = cache.as_ref()
            && at.elapsed() < FLUSH_EVERY
        {
            return due.clone();
        }
        // Fires within the cache's lifetime count already: a list computed just before a fire
        // must not say "nothing due" for its first moments.
        let now = Utc::now() + chrono::Duration::from_std(FLUSH_EVERY).unwrap_or_default();
        let window = chrono::Duration::seconds(DUE_WINDOW_SECS);
        let deferred = self.deferred.lock().expect("deferred lock");
        let due: Vec<ObjectRef<Job>> = self
            .jobs
            .state()
            .iter()
            .filter_map(|j| {
                let r = ObjectRef::from_obj(j.as_ref());
                let status = match deferred.get(&r) {
                    Some(d) if d.resource_version == j.metadata.resource_version => Some(&d.status),
                    _ => j.status.as_ref(),
                };
                status.is_some_and(|s| runs::fire_pending(s, now, window)).then_some(r)
            })
            .collect();
        let due = Arc::new(due);
        *cache = Some((Instant::now(), due.clone()));
        due
    }

    /// Whether run creations of Jobs other than `except` are under way or due.
    fn burst(&self, except: Option<&ObjectRef<Job>>) -> bool {
        self.creating.load(Ordering::SeqCst) > 0 || self.due_jobs().iter().any(|r| Some(r) != except)
    }

    fn created_recently(&self, ns: &str, name: &str) -> bool {
        let created = self.created.lock().expect("created lock");
        created.get(&format!("{ns}/{name}")).is_some_and(|t| t.elapsed() < TRUST_CREATED)
    }

    fn note_created(&self, ns: &str, name: &str) {
        let mut created = self.created.lock().expect("created lock");
        if created.len() >= 1024 && created.len().is_power_of_two() {
            created.retain(|_, t| t.elapsed() < TRUST_CREATED);
        }
        created.insert(format!("{ns}/{name}"), Instant::now());
    }

    /// Deferred Jobs whose write may go now (burst over or waited long enough), marked as sent.
    fn flushable(&self) -> Vec<ObjectRef<Job>> {
        {
            let mut deferred = self.deferred.lock().expect("deferred lock");
            // A Job deleted meanwhile has nothing left to write.
            deferred.retain(|r, _| self.jobs.get(r).is_some());
            if deferred.values().all(|d| d.flushing) {
                return vec![];
            }
        }
        let burst = self.burst(None);
        let mut deferred = self.deferred.lock().expect("deferred lock");
        deferred
            .iter_mut()
            .filter(|(_, d)| !d.flushing && (!burst || d.since.elapsed() >= MAX_DEFER))
            .map(|(r, d)| {
                d.flushing = true;
                r.clone()
            })
            .collect()
    }

    /// Keeps a decision's status, events and deletions, computed from `job`, for later.
    fn keep(&self, key: ObjectRef<Job>, job: &Job, d: Decision, since: Instant) {
        let deferred = Deferred {
            resource_version: job.metadata.resource_version.clone(),
            status: d.status,
            events: d.events,
            delete: d.delete,
            since,
            flushing: false,
        };
        self.deferred.lock().expect("deferred lock").insert(key, deferred);
    }

    /// Statuses computed and not written yet (for tests and benchmarks).
    pub fn deferred_len(&self) -> usize {
        self.deferred.lock().expect("deferred lock").len()
    }
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
        .scope
        .watcher::<Job>(&ctx.client, watcher::Config::default())
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
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("job reconcile: {e}");
            }
        });
    tokio::join!(jobs_watch, controller, flusher, publish_events(ctx.recorder.clone(), w.events));
}

/// Jobs whose parents or dependencies name `parent`.
fn children(store: &Store<Job>, parent: &Job) -> Vec<ObjectRef<Job>> {
    let ns = parent.namespace().unwrap_or_default();
    let name = parent.name_any();
    store
        .state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(ns.as_str()))
        .filter(|j| {
            refs(j).any(|r| {
                resolve(store, &ns, r).is_some_and(|p| p.name_any() == name && p.namespace() == Some(ns.clone()))
            })
        })
        .map(|j| ObjectRef::from_obj(j.as_ref()))
        .collect()
}

fn refs(job: &Job) -> impl Iterator<Item = &str> {
    job.spec.parents.iter().map(String::as_str).chain(job.spec.dependencies.iter().map(|d| d.id.as_str()))
}

/// Resolves a parent reference as validation does: a Job name in the namespace, a Job whose
/// `spec.id` is the reference, or a dotted/slashed id naming namespace and name.
fn resolve(store: &Store<Job>, ns: &str, r: &str) -> Option<Arc<Job>> {
    if let Some(j) = store.get(&ObjectRef::new(r).within(ns)) {
        return Some(j);
    }
    if let Some(j) =
        store.state().into_iter().find(|j| j.namespace().as_deref() == Some(ns) && j.spec.id.as_deref() == Some(r))
    {
        return Some(j);
    }
    let segs = dromos_core::ids::parse_job_id(r).ok()?;
    let loc = dromos_core::ids::location_of(&segs);
    store.get(&ObjectRef::new(&loc.name).within(loc.namespace.as_deref().unwrap_or(ns)))
}

fn to_chrono(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.0.as_millisecond()).unwrap_or_default()
}

/// What the cluster shows of one attempt.
fn observe(b: &BatchJob, pods: &[Arc<Pod>]) -> Option<AttemptState> {
    let labels = b.labels();
    let annotations = b.annotations();
    let run = labels.get(runs::RUN_LABEL)?.clone();
    let name = b.name_any();
    let status = b.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let cond = |t: &str| conditions.iter().find(|c| c.type_ == t && c.status == "True");
    let finished = if let Some(c) = cond("Complete") {
        let at = status.completion_time.as_ref().or(c.last_transition_time.as_ref()).map(to_chrono);
        Some(Finished { at: at.unwrap_or_else(Utc::now), succeeded: true, reason: String::new() })
    } else {
        cond("Failed").map(|c| Finished {
            at: c.last_transition_time.as_ref().map(to_chrono).unwrap_or_else(Utc::now),
            succeeded: false,
            reason: format!(
                "{}: {}",
                c.reason.as_deref().unwrap_or("Failed"),
                c.message.as_deref().unwrap_or("the Job failed")
            ),
        })
    };
    let mine: Vec<&Arc<Pod>> =
        pods.iter().filter(|p| p.labels().get("batch.kubernetes.io/job-name") == Some(&name)).collect();
    let started = mine
        .iter()
        .filter_map(|p| p.status.as_ref()?.start_time.as_ref().map(to_chrono))
        .min()
        .or_else(|| finished.as_ref().and(status.start_time.as_ref().map(to_chrono)));
    let waiting = mine.iter().find_map(|p| {
        let c = p
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
        Some(format!("{} ({})", c.message.clone().unwrap_or_default(), c.reason.clone().unwrap_or_default()))
    });
    Some(AttemptState {
        name,
        run,
        attempt: annotations.get(runs::ATTEMPT_ANNOTATION).and_then(|a| a.parse().ok()).unwrap_or(1),
        trigger: annotations.get(runs::TRIGGER_ANNOTATION).and_then(|t| RunTrigger::parse(t)),
        scheduled: annotations.get(runs::SCHEDULED_ANNOTATION).and_then(|s| runs::parse_time(s)),
        created: b.metadata.creation_timestamp.as_ref().map(to_chrono).unwrap_or_else(Utc::now),
        started,
        finished,
        waiting,
    })
}

/// Reconciles one Dromos Job.
pub async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
    let result = reconcile_one(&job, &ctx).await;
    ctx.backoff.record(&job, result)
}

async fn reconcile_one(job: &Arc<Job>, ctx: &Arc<Context>) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
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
                restore(&ctx, key, carried);
                return Err(e.into());
            }
        }
    }
    let parents: Vec<ParentState> = refs(&job)
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
        attempts: &attempts,
        gone: &gone,
        parents: &parents,
        now,
    });

    // apply (client required)
    let wake_at = decision.wake_at;
    apply(&ctx, &job, key, decision, carried).await?;
    ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    let resync = Duration::from_secs(300);
    Ok(match wake_at {
        Some(t) => Action::requeue((t - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(resync)),
        None => Action::requeue(resync),
    })
}

/// Puts back a deferred status a failed reconcile took (it is still the newest computed).
fn restore(ctx: &Context, key: ObjectRef<Job>, carried: Option<Deferred>) {
    if let Some(mut d) = carried {
        d.flushing = false;
        ctx.deferred.lock().expect("deferred lock").insert(key, d);
    }
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

/// Events published at once.
const EVENT_PUBLISHERS: usize = 4;

async fn publish_events(recorder: Recorder, queue: futures::channel::mpsc::UnboundedReceiver<EventBatch>) {
    queue
        .for_each_concurrent(EVENT_PUBLISHERS, |(reference, events)| {
            let recorder = recorder.clone();
            async move {
                for e in events {
                    let ev = Event {
                        type_: if e.warning { EventType::Warning } else { EventType::Normal },
                        reason: e.reason.into(),
                        note: Some(e.message.chars().take(1000).collect()),
                        action: "Run".into(),
                        secondary: None,
                    };
                    if let Err(err) = recorder.publish(&ev, &reference).await {
                        tracing::debug!("event: {err}");
                    }
                }
            }
        })
        .await
}

fn error_policy(job: Arc<Job>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.backoff.on_error(&job, err)
}

/// Asks the controller for a manual run of a Job (`dromos job run`): sets the
/// `dromos.io/run-requested` annotation to the current time. Returns the request value.
pub async fn request_run(client: &Client, namespace: &str, name: &str) -> anyhow::Result<String> {
    let api: Api<Job> = Api::namespaced(client.clone(), namespace);
    let value = runs::fmt_time(DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default());
    let patch = serde_json::json!({"metadata": {"annotations": {runs::RUN_REQUEST_ANNOTATION: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| match e {
        kube::Error::Api(ae) if ae.code == 404 => anyhow::anyhow!("job {namespace}/{name} not found"),
        e => anyhow::anyhow!("requesting a run of {namespace}/{name}: {e}"),
    })?;
    Ok(value)
}

/// The run history of a Job as a table (`dromos job history`).
pub fn history_table(job: &Job) -> String {
    let s = job.status.clone().unwrap_or_default();
    let mut out = format!(
        "{}/{}  trigger: {}  next: {}  succeeded: {}  failed: {}\n",
        job.namespace().unwrap_or_default(),
        job.name_any(),
        s.trigger.as_deref().unwrap_or("-"),
        s.next_run_time.as_deref().unwrap_or("-"),
        s.success_count,
        s.failure_count
    );
    let rows: Vec<[String; 8]> = s
        .runs
        .iter()
        .map(|r| {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [
                r.id.clone(),
                o(&r.trigger),
                o(&r.scheduled_time),
                o(&r.start_time),
                o(&r.finish_time),
                r.result.clone(),
                r.attempts.to_string(),
                o(&r.message),
            ]
        })
        .collect();
    let header = ["RUN", "TRIGGER", "SCHEDULED", "STARTED", "FINISHED", "RESULT", "ATTEMPTS", "MESSAGE"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header.to_vec()));
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push_str("(no runs yet)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(v: serde_json::Value) -> BatchJob {
        serde_json::from_value(v).expect("batch job")
    }

    #[test]
    fn attempts_are_read_from_the_batch_job_and_its_pod() {
        let b = batch(serde_json::json!({
            "metadata": {"name": "backup-1777629600-2", "namespace": "ops", "creationTimestamp": "2026-05-01T10:00:15Z",
                "labels": {"dromos.io/job": "backup", "dromos.io/run": "backup-1777629600"},
                "annotations": {"dromos.io/attempt": "2", "dromos.io/trigger": "schedule",
                                "dromos.io/scheduled-time": "2026-05-01T10:00:00Z"}},
            "status": {"startTime": "2026-05-01T10:00:15Z", "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": "2026-05-01T10:00:20Z"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-05-01T10:00:21Z"}]}
        }));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ops", "labels": {"batch.kubernetes.io/job-name": "backup-1777629600-2"}},
            "status": {"startTime": "2026-05-01T10:00:16Z"}
        }))
        .unwrap();
        let a = observe(&b, &[Arc::new(pod)]).expect("an attempt");
        assert_eq!((a.run.as_str(), a.attempt, a.trigger), ("backup-1777629600", 2, Some(RunTrigger::Schedule)));
        assert_eq!(a.scheduled, runs::parse_time("2026-05-01T10:00:00Z"));
        assert_eq!(a.started, runs::parse_time("2026-05-01T10:00:16Z"));
        let f = a.finished.expect("finished");
        assert!(!f.succeeded);
        assert_eq!(f.at, runs::parse_time("2026-05-01T10:00:21Z").unwrap());
        assert_eq!(f.reason, "BackoffLimitExceeded: Job has reached the specified backoff limit");

        // A pending pod: not started, with the scheduler's reason.
        let b = batch(serde_json::json!({
            "metadata": {"name": "backup-1", "namespace": "ops", "creationTimestamp": "2026-05-01T10:00:00Z",
                "labels": {"dromos.io/job": "backup", "dromos.io/run": "backup-1"}}
        }));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ops", "labels": {"batch.kubernetes.io/job-name": "backup-1"}},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/4 nodes are available"}]}
        }))
        .unwrap();
        let a = observe(&b, &[Arc::new(pod)]).expect("an attempt");
        assert_eq!((a.attempt, a.started, a.finished), (1, None, None));
        assert_eq!(a.waiting.as_deref(), Some("0/4 nodes are available (Unschedulable)"));
        // Without the run label it is not an attempt.
        assert!(observe(&batch(serde_json::json!({"metadata": {"name": "x"}})), &[]).is_none());
    }

    #[test]
    fn the_history_table_lists_runs_newest_first() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Job",
            "metadata": {"name": "backup", "namespace": "ops"},
            "spec": {"run": {"cmd": "true"}},
            "status": {"trigger": "cron 0 * * * * UTC", "nextRunTime": "2026-05-01T11:00:00Z", "successCount": 1, "failureCount": 1,
                "runs": [
                    {"id": "backup-1777629600", "trigger": "schedule", "scheduledTime": "2026-05-01T10:00:00Z",
                     "result": "Failed", "attempts": 1, "message": "StartingDeadlineExceeded: ..."},
                    {"id": "backup-m1", "trigger": "manual", "startTime": "2026-05-01T09:00:01Z",
                     "finishTime": "2026-05-01T09:00:02Z", "result": "Succeeded", "attempts": 1}]}
        }))
        .unwrap();
        let t = history_table(&job);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ops/backup  trigger: cron 0 * * * * UTC  next: 2026-05-01T11:00:00Z  succeeded: 1  failed: 1"
        );
        assert!(lines[1].starts_with("RUN") && lines[1].ends_with("MESSAGE"), "{t}");
        assert!(lines[2].starts_with("backup-1777629600  schedule") && lines[2].contains("Failed"), "{t}");
        assert!(lines[3].starts_with("backup-m1") && lines[3].contains("Succeeded"), "{t}");
        // Columns line up.
        assert_eq!(lines[1].find("RESULT"), lines[2].find("Failed"));
    }
}

//! The GitSource controller (I/O): fetch -> validate -> plan -> apply -> prune -> status.
//!
//! One reconcile per GitSource, bounded concurrency across sources, each isolated (a failing
//! source only requeues itself). Status is written only when it changes and events only when
//! something happened, so a no-op resync makes zero mutating requests.

use crate::git::{self, Credentials, GitRef};
use crate::sync::{self, Resolver, SyncSettings};
use dromos_core::plan::{self, ObjRef, PlanOptions};
use dromos_core::{LoadOptions, RenderOptions, diag, render};
use dromos_crds::GitSource;
use dromos_crds::gitsource::{GitSourceStatus, StatusDiagnostic, SyncSummary};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// Controller settings.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Namespaces of the GitSources watched and of every object their syncs list, watch and
    /// apply (`Scope::All`: cluster mode).
    pub scope: crate::scope::Scope,
    /// Reconcile only GitSources matching this label selector (`--selector`; sharding).
    pub selector: Option<String>,
    /// Where fetched repositories are cached.
    pub cache_dir: PathBuf,
    /// GitSources reconciled at once.
    pub concurrency: u16,
    /// Parallel writes within one sync.
    pub write_concurrency: usize,
    /// Client-side QPS/burst limit shared by all sources.
    pub limiter: Option<Arc<crate::ratelimit::Limiter>>,
}

/// Shared state of the reconcilers.
pub struct Context {
    client: Client,
    opts: ControllerOptions,
    resolver: Mutex<Resolver>,
    recorder: Recorder,
    /// Mutating requests sent by syncs, status and events (for tests and metrics).
    pub writes: AtomicUsize,
    /// Completed reconciles.
    pub reconciles: AtomicUsize,
    /// Prometheus metrics.
    pub metrics: Arc<crate::http::Metrics>,
    /// Where reconciles are requested out of schedule (webhooks, drift).
    pub trigger: futures::channel::mpsc::UnboundedSender<ObjectRef<GitSource>>,
    triggers: std::sync::Mutex<Option<futures::channel::mpsc::UnboundedReceiver<ObjectRef<GitSource>>>>,
    /// Kinds whose managed objects are watched for drift.
    watched: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// Last status patched per GitSource, with the resourceVersion it was computed from.
    written: crate::report::OwnWrites<GitSource, GitSourceStatus>,
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

/// Errors that make a reconcile retry with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Kubernetes API failure.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// Anything else (sync engine).
    #[error("{0}")]
    Other(String),
}

impl ReconcileError {
    /// Stable reason for events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Kube(_) => "KubernetesError",
            ReconcileError::Other(_) => "SyncError",
        }
    }
}

/// Parses `1m`, `30s`, `1h30m`, `500ms`.
pub fn parse_interval(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                _ => return None,
            }
        };
        total += n * unit;
    }
    if !num.is_empty() || total <= 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    old: &[Condition],
) -> Condition {
    let status = if status { "True" } else { "False" };
    // Keep the transition time when the status did not change, so an unchanged condition
    // compares equal and nothing is written.
    let last = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(k8s_openapi::jiff::Timestamp::now()));
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.chars().take(1000).collect(),
        observed_generation: generation,
        last_transition_time: last,
    }
}

fn conditions(
    ready: bool,
    reason: &str,
    message: &str,
    stalled: bool,
    generation: Option<i64>,
    old: &[Condition],
) -> Vec<Condition> {
    vec![
        condition("Ready", ready, reason, message, generation, old),
        condition("Reconciling", false, reason, "", generation, old),
        condition("Stalled", stalled, reason, if stalled { message } else { "" }, generation, old),
    ]
}

/// Credentials of a GitSource from its Secret.
pub(crate) async fn credentials(client: &Client, gs: &GitSource) -> Result<Credentials, ReconcileError> {
    let Some(r) = &gs.spec.secret_ref else { return Ok(Credentials::default()) };
    let api: Api<Secret> = Api::namespaced(client.clone(), &gs.namespace().unwrap_or_default());
    let s = api.get(&r.name).await?;
    let get = |k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .or_else(|| s.string_data.as_ref().and_then(|d| d.get(k).cloned()))
    };
    Ok(Credentials {
        username: get("username"),
        password: get("password"),
        bearer_token: get("bearerToken"),
        identity: get("identity"),
        known_hosts: get("known_hosts"),
    })
}

async fn publish(ctx: &Context, gs: &GitSource, type_: EventType, reason: &str, note: String) {
    tracing::debug!(source = %gs.name_any(), reason, note, "event");
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    let warning = type_ == EventType::Warning;
    crate::report::event(&ctx.recorder, &gs.object_ref(&()), warning, "Sync", reason, &note).await;
}

async fn write_status(ctx: &Context, gs: &GitSource, status: GitSourceStatus) -> Result<(), ReconcileError> {
    // The cache may still hold the object this controller last patched: then that patch is
    // what the server has (a newer change by anyone has a new resourceVersion).
    if ctx.written.current(gs, gs.status.as_ref()).as_ref() == Some(&status) {
        return Ok(());
    }
    tracing::debug!(source = %gs.name_any(), old = ?gs.status, new = ?status, "status changed");
    let api: Api<GitSource> = Api::namespaced(ctx.client.clone(), &gs.namespace().unwrap_or_default());
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    // A merge patch keeps keys it does not mention: name every field, null for absent ones, so
    // cleared lists (diagnostics, inventory) are really cleared.
    let mut body = serde_json::to_value(&status).map_err(|e| ReconcileError::Other(e.to_string()))?;
    if let Some(m) = body.as_object_mut() {
        for k in [
            "observedGeneration",
            "conditions",
            "lastAppliedRevision",
            "lastAttemptedRevision",
            "inventory",
            "diagnostics",
            "lastSync",
        ] {
            m.entry(k).or_insert(serde_json::Value::Null);
        }
    }
    let patch = serde_json::json!({"status": body});
    api.patch_status(&gs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    ctx.written.record(gs, status);
    Ok(())
}

/// Reconciles one GitSource.
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
    let namespaced = matches!(caps.scope, kube::discovery::Scope::Namespaced);
    if !namespaced && ctx.opts.scope.namespaces().is_some() {
        return; // cluster-scoped kinds are out of a namespaced controller's reach
    }
    type Meta = kube::core::PartialObjectMeta<kube::api::DynamicObject>;
    let apis: Vec<Api<Meta>> = ctx.opts.scope.apis(|ns| match ns {
        Some(ns) if namespaced => Api::namespaced_with(ctx.client.clone(), ns, &ar),
        _ => Api::all_with(ctx.client.clone(), &ar),
    });
    let cfg = watcher::Config::default().labels(&format!(
        "{}={}",
        dromos_core::translate::MANAGED_BY.0,
        dromos_core::translate::MANAGED_BY.1
    ));
    let tx = ctx.trigger.clone();
    let scope = ctx.opts.scope.clone();
    tokio::spawn(async move {
        let mut stream = crate::scope::watch_all(apis, cfg);
        // Objects with a generation change it with their spec; a change that keeps generation,
        // labels and annotations is a status update (Job runs, Deployment rollouts), not drift.
        let mut seen: std::collections::HashMap<String, u64> = Default::default();
        while let Some(ev) = stream.next().await {
            let obj = match ev {
                Ok(watcher::Event::Apply(o)) => {
                    let m = &o.metadata;
                    if m.generation.is_some() {
                        use std::hash::{Hash, Hasher};
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        (m.generation, &m.labels, &m.annotations, m.deletion_timestamp.is_some()).hash(&mut h);
                        if seen.insert(m.uid.clone().unwrap_or_default(), h.finish()) == Some(h.finish()) {
                            continue;
                        }
                    }
                    o
                }
                Ok(watcher::Event::Delete(o)) => {
                    seen.remove(o.metadata.uid.as_deref().unwrap_or_default());
                    o
                }
                _ => continue,
            };
            let Some(source) = obj.metadata.labels.as_ref().and_then(|l| l.get(plan::SOURCE_LABEL)) else { continue };
            let Some((ns, name)) = source.split_once('.') else { continue };
            // `local.<dir>` is a local sync, `pkg_<ns>.<name>` a Package's render (its operator
            // watches those through owner references).
            if ns == "local" || ns.starts_with("pkg_") || !scope.contains(Some(ns)) {
                continue;
            }
            if tx.unbounded_send(ObjectRef::new(name).within(ns)).is_err() {
                return;
            }
        }
    });
}

/// Reconciles one GitSource inside a `sync` tracing span carrying the source and, once
/// fetched, the revision.
pub async fn reconcile(gs: Arc<GitSource>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "sync",
        source = %format!("{}/{}", gs.namespace().unwrap_or_default(), gs.name_any()),
        revision = tracing::field::Empty
    );
    reconcile_in(gs, ctx, span.clone()).instrument(span).await
}

async fn reconcile_in(gs: Arc<GitSource>, ctx: Arc<Context>, span: tracing::Span) -> Result<Action, ReconcileError> {
    let interval = gs.spec.interval.as_deref().and_then(parse_interval).unwrap_or(Duration::from_secs(60));
    let ns = gs.namespace().unwrap_or_default();
    let name = gs.name_any();
    let generation = gs.metadata.generation;
    let old = gs.status.clone().unwrap_or_default();
    let old_conditions = old.common.conditions.clone();
    let mut status = old.clone();
    status.common.observed_generation = generation;

    if gs.spec.suspend == Some(true) {
        status.common.conditions = conditions(
            old_conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"),
            "Suspended",
            "sync is suspended; the last applied state stays",
            false,
            generation,
            &old_conditions,
        );
        write_status(&ctx, &gs, status).await?;
        return Ok(Action::await_change());
    }

    // fetch (client and network required)
    let creds = credentials(&ctx.client, &gs).await?;
    let url = gs.spec.url.clone();
    let gref = GitRef::from_spec(gs.spec.git_ref.as_ref());
    let path = gs.spec.path.clone();
    let cache = ctx.opts.cache_dir.clone();
    let labels = crate::http::SourceLabels { source: format!("{ns}/{name}") };
    let fetch_start = std::time::Instant::now();
    let fetched = tokio::task::spawn_blocking(move || {
        let (repo, f) = git::fetch(&cache, &url, &gref, &creds)?;
        let tree = git::read_tree(&repo, &f.commit, path.as_deref(), 8 << 20)?;
        Ok::<_, git::GitError>((f, tree))
    })
    .await
    .map_err(|e| ReconcileError::Other(e.to_string()))?;
    ctx.metrics.fetch_duration.get_or_create(&labels).observe(fetch_start.elapsed().as_secs_f64());
    let error = |reason: &str| {
        ctx.metrics
            .errors
            .get_or_create(&crate::http::ErrorLabels { source: labels.source.clone(), reason: reason.to_string() })
            .inc();
    };
    let (fetched, files) = match fetched {
        Ok(x) => x,
        Err(e) => {
            error(e.reason());
            let msg = format!("{e}; the last applied revision stays live");
            status.common.conditions = conditions(false, e.reason(), &msg, false, generation, &old_conditions);
            if gs.status.as_ref() != Some(&status) {
                publish(&ctx, &gs, EventType::Warning, e.reason(), msg).await;
            }
            write_status(&ctx, &gs, status).await?;
            return Ok(Action::requeue(interval));
        }
    };

    span.record("revision", fetched.revision.as_str());
    // validate (no client required)
    let default_ns = gs.spec.default_namespace.clone().unwrap_or_else(|| ns.clone());
    let opts =
        LoadOptions { default_namespace: default_ns.clone(), threads: crate::cli::threads(), ..Default::default() };
    let mut tree = dromos_core::check_tree(&files.files, &opts);
    tree.diagnostics.extend(files.diagnostics);
    diag::sort_diagnostics(&mut tree.diagnostics);
    status.last_attempted_revision = Some(fetched.revision.clone());
    if !tree.is_valid() {
        let errors: Vec<_> = tree.diagnostics.iter().filter(|d| d.is_error()).collect();
        status.diagnostics = errors
            .iter()
            .take(100)
            .map(|d| StatusDiagnostic {
                file: d.file.clone(),
                line: i64::from(d.line),
                field: (!d.field.is_empty()).then(|| d.field.clone()),
                message: d.message.clone(),
            })
            .collect();
        let first = errors.first().map(|d| format!("{}:{}: {}", d.file, d.line, d.message)).unwrap_or_default();
        let msg = format!(
            "revision {} is invalid ({} errors, first: {first}); nothing was applied",
            fetched.revision,
            errors.len()
        );
        status.common.conditions = conditions(false, "ValidationFailed", &msg, true, generation, &old_conditions);
        if gs.status.as_ref() != Some(&status) {
            publish(&ctx, &gs, EventType::Warning, "ValidationFailed", msg).await;
        }
        write_status(&ctx, &gs, status).await?;
        return Ok(Action::requeue(interval));
    }
    status.diagnostics.clear();
    let levels = plan::app_levels(&tree.manifests);
    let objects = render::sync_objects(&tree.manifests, &RenderOptions::default()).objects;

    // apply (client required)
    let inventory: Vec<ObjRef> = sync::parse_inventory(old.inventory.iter().map(String::as_str));
    let settings = SyncSettings {
        source: format!("{ns}.{name}"),
        force: gs.spec.force.unwrap_or(false),
        force_owned: gs.spec.self_heal.unwrap_or(true),
        plan: PlanOptions {
            prune: gs.spec.prune.unwrap_or(true),
            max_delete_fraction: gs.spec.max_delete_fraction.unwrap_or(0.5),
            allow_mass_delete: gs.spec.allow_mass_delete.unwrap_or(false),
        },
        concurrency: ctx.opts.write_concurrency,
        default_namespace: default_ns,
        limiter: ctx.opts.limiter.clone(),
        scope: ctx.opts.scope.clone(),
    };
    let same_revision = old.last_applied_revision.as_deref() == Some(fetched.revision.as_str());
    if gs.spec.self_heal == Some(false) && same_revision {
        // Report drift without correcting it; the next revision is applied in full.
        let (p, _, _) = {
            let mut resolver = ctx.resolver.lock().await;
            sync::plan_live(&ctx.client, &mut resolver, objects, &levels, &inventory, &settings)
                .await
                .map_err(|e| ReconcileError::Other(format!("{e:#}")))?
        };
        let drifted: Vec<String> =
            p.steps.iter().filter(|s| s.action != plan::Action::Unchanged).map(|s| s.obj.display()).collect();
        if !drifted.is_empty() {
            let note = format!(
                "{} objects differ from {} (selfHeal is off): {}",
                drifted.len(),
                fetched.revision,
                drifted.join(", ")
            );
            publish(&ctx, &gs, EventType::Warning, "DriftDetected", note).await;
        }
        ctx.reconciles.fetch_add(1, Ordering::Relaxed);
        return Ok(Action::requeue(interval));
    }
    let outcome = {
        let mut resolver = ctx.resolver.lock().await;
        let outcome = sync::sync(&ctx.client, &mut resolver, objects, &levels, &inventory, &settings)
            .await
            .map_err(|e| ReconcileError::Other(format!("{e:#}")))?;
        // Watch every kind this source manages, so drift triggers a reconcile.
        let reads = AtomicUsize::new(0);
        let kinds: std::collections::BTreeSet<(String, String)> =
            outcome.inventory.iter().map(|o| (o.api_version.clone(), o.kind.clone())).collect();
        for (av, kind) in kinds {
            if let Some((ar, caps)) = resolver.resolve(&ctx.client, &av, &kind, &reads).await {
                watch_kind(&ctx, &av, &kind, ar, caps);
            }
        }
        outcome
    };
    if same_revision && outcome.applied > 0 && outcome.failures.is_empty() {
        let fixed: Vec<String> = outcome
            .plan
            .steps
            .iter()
            .filter(|s| s.action != plan::Action::Unchanged)
            .map(|s| s.obj.display())
            .collect();
        let note = format!("{} objects restored to {}: {}", fixed.len(), fetched.revision, fixed.join(", "));
        publish(&ctx, &gs, EventType::Normal, "DriftCorrected", note).await;
    }
    ctx.writes.fetch_add(outcome.writes, Ordering::Relaxed);
    let m = &ctx.metrics;
    m.sync_duration.get_or_create(&labels).observe(outcome.duration.as_secs_f64());
    m.applied.get_or_create(&labels).inc_by(outcome.applied as u64);
    m.pruned.get_or_create(&labels).inc_by(outcome.pruned as u64);
    m.requests.get_or_create(&crate::http::VerbLabels { verb: "write".into() }).inc_by(outcome.writes as u64);
    m.requests.get_or_create(&crate::http::VerbLabels { verb: "read".into() }).inc_by(outcome.reads as u64);
    if outcome.blocked() {
        error("DeletionGuard");
    }
    for f in &outcome.failures {
        error(&f.reason);
    }

    let unchanged = outcome.plan.count(plan::Action::Unchanged);
    let noop = outcome.writes == 0;
    if outcome.blocked() {
        let msg = plan::report::text(&outcome.plan).lines().last().unwrap_or_default().to_string();
        status.common.conditions = conditions(false, "DeletionGuard", &msg, true, generation, &old_conditions);
        if gs.status.as_ref() != Some(&status) {
            publish(&ctx, &gs, EventType::Warning, "DeletionGuard", msg).await;
        }
    } else if outcome.failures.is_empty() {
        status.last_applied_revision = Some(fetched.revision.clone());
        let msg = format!("applied revision {}", fetched.revision);
        status.common.conditions = conditions(true, "Succeeded", &msg, false, generation, &old_conditions);
        if outcome.applied > 0 && !same_revision {
            publish(
                &ctx,
                &gs,
                EventType::Normal,
                "Applied",
                format!("{} objects applied, {unchanged} unchanged from {}", outcome.applied, fetched.revision),
            )
            .await;
        }
        if outcome.pruned > 0 {
            let names: Vec<String> = outcome.plan.prune.iter().take(10).map(ObjRef::display).collect();
            publish(
                &ctx,
                &gs,
                EventType::Normal,
                "Pruned",
                format!("{} objects deleted: {}", outcome.pruned, names.join(", ")),
            )
            .await;
        }
    } else {
        let conflicts = outcome.failures.iter().filter(|f| f.reason == "Conflict").count();
        let reason = if conflicts > 0 { "Conflict" } else { "ApplyFailed" };
        let first = &outcome.failures[0];
        let msg = format!(
            "{} of {} objects failed (first: {} {}: {}); nothing was pruned{}",
            outcome.failures.len(),
            outcome.plan.steps.len(),
            first.reason,
            first.obj.display(),
            first.message,
            if conflicts > 0 { "; set spec.force to take over fields owned by other managers" } else { "" }
        );
        status.common.conditions = conditions(false, reason, &msg, false, generation, &old_conditions);
        publish(&ctx, &gs, EventType::Warning, reason, msg).await;
    }
    if !outcome.blocked() {
        status.inventory = outcome.inventory.iter().map(ObjRef::encode).collect();
        status.inventory.sort();
    }
    if !noop || status.last_sync.is_none() {
        status.last_sync = Some(SyncSummary {
            applied: outcome.applied as i64,
            unchanged: unchanged as i64,
            pruned: outcome.pruned as i64,
            failed: outcome.failures.len() as i64,
            duration_ms: outcome.duration.as_millis() as i64,
            finished_at: Some(k8s_openapi::jiff::Timestamp::now().to_string()),
        });
    }
    write_status(&ctx, &gs, status).await?;
    ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        applied = outcome.applied,
        unchanged,
        pruned = outcome.pruned,
        failed = outcome.failures.len(),
        writes = outcome.writes,
        ms = outcome.duration.as_millis() as u64,
        "synced"
    );
    Ok(Action::requeue(interval))
}

fn error_policy(_gs: Arc<GitSource>, err: &ReconcileError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(reason = err.reason(), "reconcile failed: {err}");
    Action::requeue(Duration::from_secs(5))
}

/// Builds the shared context.
pub fn context(client: Client, opts: ControllerOptions) -> Arc<Context> {
    let reporter = Reporter { controller: "dromos".into(), instance: std::env::var("HOSTNAME").ok() };
    let (trigger, rx) = futures::channel::mpsc::unbounded();
    Arc::new(Context {
        trigger,
        triggers: std::sync::Mutex::new(Some(rx)),
        watched: std::sync::Mutex::new(Default::default()),
        written: Default::default(),
        recorder: Recorder::new(client.clone(), reporter),
        client,
        opts,
        resolver: Mutex::new(Resolver::default()),
        writes: AtomicUsize::new(0),
        reconciles: AtomicUsize::new(0),
        metrics: Arc::new(crate::http::Metrics::default()),
    })
}

/// Runs the controller until the future is dropped. Every GitSource reference sent on
/// `ctx.trigger` (webhooks, drift) is reconciled at once.
pub async fn run(ctx: Arc<Context>) {
    let triggers = ctx.triggers.lock().expect("triggers lock").take().expect("the controller runs once per context");
    let (store, writer) = kube::runtime::reflector::store();
    let mut wc = watcher::Config::default();
    if let Some(sel) = &ctx.opts.selector {
        wc = wc.labels(sel);
    }
    use kube::runtime::WatchStreamExt;
    let sources = kube::runtime::reflector(writer, ctx.opts.scope.watcher::<GitSource>(&ctx.client, wc))
        .default_backoff()
        .touched_objects();
    let config = kube::runtime::controller::Config::default().concurrency(ctx.opts.concurrency);
    Controller::for_stream(sources, store)
        .with_config(config)
        .reconcile_on(triggers)
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("reconcile: {e}");
            }
        })
        .await;
}

/// Checks that the Dromos CRDs are installed; says how to install them when not.
pub async fn check_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for crd in dromos_crds::crds() {
        let name = crd.metadata.name.unwrap_or_default();
        if api.get_opt(&name).await?.is_none() {
            anyhow::bail!(
                "CRD {name} is not installed; install the CRDs with `kubectl apply --server-side -f crds/` (or the Helm chart)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_interval("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_interval("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_interval("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_interval("x"), None);
        assert_eq!(parse_interval("5"), None);
    }
}

//! The Package operator (I/O): Package -> repository -> options and version checks ->
//! rendered objects applied with the sync engine, owned by the Package -> health -> status.
//!
//! The decisions are pure (`dromos_core::package::expand_package`, the same function
//! `dromos render` calls; `check_version_change`; `health`); this module fetches the
//! repository (built-in catalog or a GitSource's tree), applies through `sync::sync` (server-side
//! apply, prune by inventory, a no-op resync writes nothing), reads workload health from
//! reflector stores, and writes status and Events only when they change.

use super::{Backoff, Error, Shared, Started};
use crate::git::{self, GitRef};
use crate::sync::{self, Resolver, SyncSettings};
use dromos_core::SourceFile;
use dromos_core::conditions::Standard;
use dromos_core::package::{self, ExpandError, RepoRef, Repository};
use dromos_core::plan::{self, ObjRef, PlanOptions, SOURCE_LABEL};
use dromos_crds::package::{OptionProblem, PackageObject, PackageStatus};
use dromos_crds::{App, GitSource, Package};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// Operator settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Packages reconciled at once.
    pub concurrency: u16,
    /// Cache of fetched GitSource repositories (shared with the GitSource controller).
    pub cache_dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self { concurrency: 4, cache_dir: std::env::temp_dir().join("dromos-git-cache") }
    }
}

/// Shared state of the Package reconcilers.
pub struct Context {
    client: Client,
    opts: Options,
    backoff: Backoff<Package>,
    recorder: Recorder,
    resolver: Mutex<Resolver>,
    deployments: Store<Deployment>,
    statefulsets: Store<StatefulSet>,
    daemonsets: Store<DaemonSet>,
    apps: Store<App>,
    /// Mutating requests (applies, deletes, status, events).
    pub writes: AtomicUsize,
    /// Completed reconciles.
    pub reconciles: AtomicUsize,
    /// Statuses this operator patched (read through a cache that may lag).
    written: super::report::OwnWrites<Package, PackageStatus>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({:?})", self.opts)
    }
}

/// Builds the operator: its context (for counters) and the future that runs it.
pub fn start(shared: &Shared, opts: Options) -> Started<Context> {
    let (client, scope) = (shared.client.clone(), shared.scope.clone());
    let owned = watcher::Config::default().labels(package::LABEL_INSTANCE);
    let (pkg_r, pkg_w) = reflector::store::<Package>();
    let (dep_r, dep_w) = reflector::store::<Deployment>();
    let (sts_r, sts_w) = reflector::store::<StatefulSet>();
    let (ds_r, ds_w) = reflector::store::<DaemonSet>();
    let (app_r, app_w) = reflector::store::<App>();
    let pkg_stream = reflector(pkg_w, scope.watcher::<Package>(&client, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    let dep_stream =
        reflector(dep_w, scope.watcher::<Deployment>(&client, owned.clone())).default_backoff().touched_objects();
    let sts_stream =
        reflector(sts_w, scope.watcher::<StatefulSet>(&client, owned.clone())).default_backoff().touched_objects();
    let ds_stream =
        reflector(ds_w, scope.watcher::<DaemonSet>(&client, owned.clone())).default_backoff().touched_objects();
    let app_stream = reflector(app_w, scope.watcher::<App>(&client, owned)).default_backoff().touched_objects();
    let gs_stream = scope.watcher::<GitSource>(&client, watcher::Config::default()).default_backoff().touched_objects();
    let ctx = Arc::new(Context {
        recorder: shared.recorder("dromos-packages"),
        backoff: Backoff::new("packages"),
        client,
        opts: opts.clone(),
        resolver: Mutex::new(Resolver::default()),
        deployments: dep_r,
        statefulsets: sts_r,
        daemonsets: ds_r,
        apps: app_r,
        writes: AtomicUsize::new(0),
        reconciles: AtomicUsize::new(0),
        written: Default::default(),
    });
    let config = kube::runtime::controller::Config::default().concurrency(opts.concurrency.max(1));
    // A GitSource's new revision re-renders the Packages that read their repository from it.
    let store = pkg_r.clone();
    let gs_to_packages = move |gs: GitSource| {
        let gns = gs.namespace().unwrap_or_default();
        let gname = gs.name_any();
        store
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(gns.as_str()) && git_source_of(p).as_deref() == Some(&gname))
            .map(|p| ObjectRef::from_obj(&*p))
            .collect::<Vec<_>>()
    };
    let run = {
        let ctx = ctx.clone();
        async move {
            Controller::for_stream(pkg_stream, pkg_r)
                .with_config(config)
                .owns_stream(dep_stream)
                .owns_stream(sts_stream)
                .owns_stream(ds_stream)
                .owns_stream(app_stream)
                .watches_stream(gs_stream, gs_to_packages)
                .run(reconcile, error_policy, ctx)
                .for_each(|res| async move {
                    if let Err(e) = res {
                        tracing::debug!("package reconcile: {e}");
                    }
                })
                .await;
        }
    };
    Started { ctx, run: Box::pin(run) }
}

fn error_policy(pkg: Arc<Package>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.backoff.on_error(&pkg, err)
}

/// The GitSource a Package reads its repository from: `repository.gitSource`, or for a bare
/// `repository.path` the GitSource that synced the Package (its `dromos.io/source` label).
fn git_source_of(pkg: &Package) -> Option<String> {
    match package::repo_ref(&pkg.spec) {
        RepoRef::Builtin => None,
        RepoRef::Path { git_source: Some(g), .. } => Some(g),
        RepoRef::Path { git_source: None, .. } => {
            let label = pkg.labels().get(SOURCE_LABEL)?;
            let (ns, name) = label.split_once('.')?;
            (Some(ns) == pkg.namespace().as_deref()).then(|| name.to_string())
        }
    }
}

/// Fetches the repository of a Package. Errors are messages for the status.
async fn fetch_repository(ctx: &Context, pkg: &Package) -> Result<Arc<Repository>, String> {
    let rref = package::repo_ref(&pkg.spec);
    let RepoRef::Path { path, .. } = &rref else {
        return Ok(Arc::new(crate::packages::catalog().clone()));
    };
    let ns = pkg.namespace().unwrap_or_default();
    let Some(gs_name) = git_source_of(pkg) else {
        return Err(format!(
            "repository.path `{path}` without repository.gitSource needs the Package to be synced by a GitSource \
             (label {SOURCE_LABEL}); name the GitSource in repository.gitSource"
        ));
    };
    let gs = Api::<GitSource>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&gs_name)
        .await
        .map_err(|e| format!("reading GitSource {ns}/{gs_name}: {e}"))?
        .ok_or_else(|| format!("GitSource {ns}/{gs_name} (repository.gitSource) does not exist"))?;
    let creds = super::source_credentials(&ctx.client, &gs).await.map_err(|e| e.to_string())?;
    // The commit the GitSource last applied, so manifests and packages come from one revision;
    // its ref when it has applied nothing yet.
    let applied = gs.status.as_ref().and_then(|s| s.last_applied_revision.clone());
    let gref = match applied.as_deref().and_then(|r| r.rsplit_once("@sha1:")) {
        Some((_, commit)) => GitRef::Commit(commit.to_string()),
        None => GitRef::from_spec(gs.spec.git_ref.as_ref()),
    };
    let (url, cache, dir) = (gs.spec.url.clone(), ctx.opts.cache_dir.clone(), path.clone());
    let files = tokio::task::spawn_blocking(move || {
        let (repo, f) = git::fetch(&cache, &url, &gref, &creds)?;
        let sub = if dir.is_empty() { None } else { Some(dir.as_str()) };
        git::read_tree_filtered(&repo, &f.commit, sub, 4 << 20, crate::packages::is_package_file)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("GitSource {ns}/{gs_name}: {e}"))?;
    let files: Vec<SourceFile> = files.files;
    let repo = package::read_repository(&files);
    if repo.versions.is_empty() && !repo.problems.is_empty() {
        let p: Vec<String> = repo.problems.iter().map(ToString::to_string).collect();
        return Err(format!("GitSource {ns}/{gs_name} path `{path}`: {}", p.join("; ")));
    }
    Ok(Arc::new(repo))
}

fn live_value(ctx: &Context, o: &ObjRef) -> Option<Value> {
    let ns = o.namespace.as_deref().unwrap_or_default();
    fn to<K: serde::Serialize>(v: Option<Arc<K>>) -> Option<Value> {
        v.and_then(|v| serde_json::to_value(&*v).ok())
    }
    match o.kind.as_str() {
        "Deployment" => to(ctx.deployments.get(&ObjectRef::new(&o.name).within(ns))),
        "StatefulSet" => to(ctx.statefulsets.get(&ObjectRef::new(&o.name).within(ns))),
        "DaemonSet" => to(ctx.daemonsets.get(&ObjectRef::new(&o.name).within(ns))),
        "App" => to(ctx.apps.get(&ObjectRef::new(&o.name).within(ns))),
        // Objects without readiness: present once applied.
        _ => Some(serde_json::json!({"apiVersion": o.api_version, "kind": o.kind})),
    }
}

/// Health of each object from the watch caches. `applied` holds the generation the apply just
/// returned: a cached copy older than that still describes the previous spec (its status can say
/// Ready for the old pods), so the object counts as Progressing until the cache catches up.
fn objects_with_health(ctx: &Context, refs: &[ObjRef], applied: &HashMap<plan::Key, i64>) -> Vec<PackageObject> {
    refs.iter()
        .map(|o| {
            let live = live_value(ctx, o);
            let (health, message) = package::health_after_apply(&o.kind, live.as_ref(), applied.get(&o.key()).copied());
            PackageObject {
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                namespace: o.namespace.clone(),
                name: o.name.clone(),
                health: health.to_string(),
                message,
            }
        })
        .collect()
}

fn inventory_of(status: &PackageStatus) -> Vec<ObjRef> {
    status
        .objects
        .iter()
        .map(|o| ObjRef {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            namespace: o.namespace.clone(),
            name: o.name.clone(),
        })
        .collect()
}

/// Ready / Reconciling / Stalled, keeping transition times of unchanged conditions.
fn conditions(
    ready: bool,
    reconciling: bool,
    stalled: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    old: &[Condition],
) -> Vec<Condition> {
    let s = Standard { ready, reconciling, stalled, reason, message };
    dromos_core::conditions::standard(s, generation, old, chrono::Utc::now())
}

async fn publish(ctx: &Context, pkg: &Package, warning: bool, reason: &str, note: String) {
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    super::report::event(&ctx.recorder, &pkg.object_ref(&()), warning, "Install", reason, &note).await;
}

async fn write_status(ctx: &Context, pkg: &Package, status: &PackageStatus) -> Result<bool, Error> {
    let prev = ctx.written.current(pkg, pkg.status.as_ref());
    if prev.as_ref() == Some(status) {
        return Ok(false);
    }
    let body = super::report::status_merge_body(status, prev.as_ref(), &[])?;
    let api: Api<Package> = Api::namespaced(ctx.client.clone(), &pkg.namespace().unwrap_or_default());
    ctx.writes.fetch_add(1, Ordering::Relaxed);
    api.patch_status(&pkg.name_any(), &PatchParams::default(), &Patch::Merge(body)).await?;
    ctx.written.record(pkg, status.clone());
    Ok(true)
}

/// Keeps the applied render and reports why the spec cannot be installed: Ready False,
/// Stalled True, an Event when the status changes. Objects stay as they are.
async fn refuse(
    ctx: &Context,
    pkg: &Package,
    reason: &str,
    message: String,
    option_errors: Vec<OptionProblem>,
    retry: bool,
) -> Result<Action, Error> {
    let old = ctx.written.current(pkg, pkg.status.as_ref()).unwrap_or_default();
    let mut status = old.clone();
    status.common.observed_generation = pkg.metadata.generation;
    status.option_errors = option_errors;
    let kept = if old.objects.is_empty() {
        String::new()
    } else {
        format!("; the installed {} stays", old.installed_version.as_deref().unwrap_or("render"))
    };
    let msg = format!("{message}{kept}");
    status.common.conditions =
        conditions(false, false, true, reason, &msg, pkg.metadata.generation, &old.common.conditions);
    if write_status(ctx, pkg, &status).await? {
        publish(ctx, pkg, true, reason, msg).await;
    }
    Ok(if retry { Action::requeue(Duration::from_secs(60)) } else { Action::await_change() })
}

async fn reconcile(pkg: Arc<Package>, ctx: Arc<Context>) -> Result<Action, Error> {
    let r = reconcile_one(&pkg, &ctx).await;
    ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    ctx.backoff.record(&pkg, r)
}

async fn reconcile_one(pkg: &Package, ctx: &Context) -> Result<Action, Error> {
    if pkg.metadata.deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove what the Package rendered.
        return Ok(Action::await_change());
    }
    let ns = pkg.namespace().unwrap_or_default();
    let name = pkg.name_any();
    let generation = pkg.metadata.generation;
    let old = ctx.written.current(pkg, pkg.status.as_ref()).unwrap_or_default();

    // dereference (client required)
    let repo = match fetch_repository(ctx, pkg).await {
        Ok(r) => r,
        Err(msg) => return refuse(ctx, pkg, "RepositoryUnavailable", msg, vec![], true).await,
    };

    // build (no client required)
    let (version, rendered) = match package::expand_package(&pkg.spec, &ns, &name, &repo) {
        Ok((v, r)) => (v, r),
        Err(ExpandError::Render(package::RenderError::Options(errs))) => {
            let problems: Vec<OptionProblem> = errs
                .iter()
                .map(|e| OptionProblem { path: e.path.clone(), rule: e.rule.clone(), message: e.message.clone() })
                .collect();
            let list: Vec<String> = errs.iter().map(|e| format!("{} ({}): {}", e.path, e.rule, e.message)).collect();
            let msg = format!("invalid options: {}", list.join("; "));
            return refuse(ctx, pkg, "InvalidOptions", msg, problems, false).await;
        }
        Err(e) => {
            let retry = matches!(e, ExpandError::NoRepository(_));
            return refuse(ctx, pkg, e.reason(), e.to_string(), vec![], retry).await;
        }
    };
    if let Some(installed) = old.installed_version.as_deref().filter(|v| *v != version.meta.version) {
        let from = repo.find(&pkg.spec.name, Some(installed)).map(|p| p.meta.clone()).unwrap_or_else(|_| {
            package::Meta { name: pkg.spec.name.clone(), version: installed.to_string(), ..Default::default() }
        });
        if let Err(msg) = package::check_version_change(&from, &version.meta) {
            return refuse(ctx, pkg, "VersionChangeRefused", msg, vec![], false).await;
        }
    }
    let owner = pkg.controller_owner_ref(&()).map(|o| serde_json::to_value(o).unwrap_or_default());
    let mut desired = Vec::with_capacity(rendered.objects.len());
    for mut obj in rendered.objects {
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let group = obj["apiVersion"].as_str().unwrap_or_default().rsplit_once('/').map_or("", |x| x.0).to_string();
        let oname = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        // Owner references cannot cross namespaces or point from cluster-scoped objects to a
        // namespaced owner (the garbage collector would delete such objects).
        if dromos_core::load::is_cluster_scoped(&group, &kind) {
            let msg = format!(
                "the package renders the cluster-scoped {kind} {oname}, which a namespaced Package cannot own; \
                 install it separately"
            );
            return refuse(ctx, pkg, "ClusterScopedObject", msg, vec![], false).await;
        }
        if obj["metadata"]["namespace"].as_str().is_some_and(|o| o != ns) {
            let msg = format!(
                "the package renders {kind} {oname} into namespace {}; a Package's objects must be in its own \
                 namespace {ns} (set the option that names it without a namespace)",
                obj["metadata"]["namespace"].as_str().unwrap_or_default()
            );
            return refuse(ctx, pkg, "ForeignNamespace", msg, vec![], false).await;
        }
        obj["metadata"]["namespace"] = Value::String(ns.clone());
        if let Some(o) = &owner {
            obj["metadata"]["ownerReferences"] = Value::Array(vec![o.clone()]);
        }
        desired.push(obj);
    }
    let hash = {
        use sha2::Digest as _;
        let h = sha2::Sha256::digest(serde_json::to_vec(&desired).unwrap_or_default());
        h.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()
    };

    // apply (client required)
    let settings = SyncSettings {
        source: package::source_label(&ns, &name),
        force: true,
        force_owned: true,
        // An option change may drop objects (JournalNodes off): the render is the whole truth.
        plan: PlanOptions { prune: true, max_delete_fraction: 1.0, allow_mass_delete: true },
        concurrency: 8,
        default_namespace: ns.clone(),
        limiter: None,
        scope: crate::scope::Scope::namespace(ns.clone()),
    };
    let inventory = inventory_of(&old);
    let outcome = {
        let mut resolver = ctx.resolver.lock().await;
        sync::sync(&ctx.client, &mut resolver, desired, &HashMap::new(), &inventory, &settings)
            .await
            .map_err(Error::sync)?
    };
    ctx.writes.fetch_add(outcome.writes, Ordering::Relaxed);

    // status
    let mut status = old.clone();
    status.common.observed_generation = generation;
    status.option_errors.clear();
    status.objects = objects_with_health(ctx, &outcome.inventory, &outcome.applied_generations);
    status.object_count = Some(status.objects.len() as i64);
    let changed_version = old.installed_version.as_deref() != Some(version.meta.version.as_str());
    if outcome.failures.is_empty() {
        status.installed_version = Some(version.meta.version.clone());
        status.repository = Some(package::repo_ref(&pkg.spec).to_string());
        status.render_hash = Some(hash.clone());
    }
    let waiting: Vec<String> = status
        .objects
        .iter()
        .filter(|o| o.health == "Progressing" || o.health == "Missing")
        .map(|o| format!("{} {}: {}", o.kind, o.name, o.message.as_deref().unwrap_or(&o.health)))
        .collect();
    let (ready, reason, msg) = if !outcome.failures.is_empty() {
        let f: Vec<String> = outcome
            .failures
            .iter()
            .map(|f| format!("{} {}: {} ({})", f.obj.kind, f.obj.name, f.message, f.reason))
            .collect();
        (false, "ApplyFailed", format!("{} object(s) failed: {}", f.len(), f.join("; ")))
    } else if waiting.is_empty() {
        (
            true,
            "Installed",
            format!("{} {} installed, {} object(s) ready", pkg.spec.name, version.meta.version, status.objects.len()),
        )
    } else {
        (false, "Progressing", format!("waiting for {}", waiting.join("; ")))
    };
    status.common.conditions = conditions(
        ready,
        !ready && outcome.failures.is_empty(),
        false,
        reason,
        &msg,
        generation,
        &old.common.conditions,
    );
    if !outcome.failures.is_empty() {
        publish(ctx, pkg, true, "ApplyFailed", msg.clone()).await;
    } else if outcome.applied > 0 || outcome.pruned > 0 {
        let what = match old.installed_version.as_deref() {
            None => format!("installed {} {}", pkg.spec.name, version.meta.version),
            Some(v) if changed_version => format!("changed {} from {v} to {}", pkg.spec.name, version.meta.version),
            Some(_) => format!("re-rendered {} {}", pkg.spec.name, version.meta.version),
        };
        let note = format!("{what}: {} object(s) applied, {} pruned", outcome.applied, outcome.pruned);
        let reason = if old.installed_version.is_none() {
            "Installed"
        } else if changed_version {
            "VersionChanged"
        } else {
            "Rerendered"
        };
        publish(ctx, pkg, false, reason, note).await;
    }
    if let Some(w) = rendered.warnings.first().filter(|_| outcome.applied > 0) {
        publish(ctx, pkg, true, "Approximation", w.clone()).await;
    }
    write_status(ctx, pkg, &status).await?;
    Ok(Action::requeue(if ready { Duration::from_secs(300) } else { Duration::from_secs(30) }))
}

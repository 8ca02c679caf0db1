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
use crate::sync::{self, SharedResolver, SyncSettings};
use dromos_core::SourceFile;
use dromos_core::decision::Requeue;
use dromos_core::install::{self, Refusal};
use dromos_core::package::{self, RepoRef, Repository};
use dromos_core::plan::{self, ObjRef, PlanOptions, SOURCE_LABEL};
use dromos_core::service;
use dromos_core::tenancy;
use dromos_crds::package::{PackageObject, PackageStatus, PlanStatus};
use dromos_crds::{App, GitSource, Package};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Operator settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Packages reconciled at once.
    pub concurrency: u16,
    /// Cache of fetched GitSource repositories (shared with the GitSource controller, keyed
    /// the same way: by URL and credential).
    pub cache_dir: PathBuf,
    /// A GitSource may name a local repository (`--allow-local-git`), as for the GitSource
    /// operator.
    pub allow_file_urls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { concurrency: 4, cache_dir: std::env::temp_dir().join("dromos-git-cache"), allow_file_urls: false }
    }
}

/// Shared state of the Package reconcilers.
pub struct Context {
    client: Client,
    tenancy: super::Tenancy,
    opts: Options,
    backoff: Backoff<Package>,
    recorder: Recorder,
    resolver: SharedResolver,
    deployments: Store<Deployment>,
    statefulsets: Store<StatefulSet>,
    daemonsets: Store<DaemonSet>,
    apps: Store<App>,
    packages: Store<Package>,
    listed: super::Listed,
    /// Pods of service packages (label `dromos.io/service-pod`): what their plans observe.
    pods: Store<Pod>,
    /// The cluster's node names (metadata only), once listed: a service pod bound to a node
    /// that is gone is replaced. Without permission to list nodes, nothing is judged lost this
    /// way (an unreachable node still is, through its pods' Ready condition).
    nodes: Store<PartialObjectMeta<Node>>,
    nodes_listed: super::Listed,
    /// Decommission commands this controller ran or runs, by pod uid.
    decommissions: Arc<std::sync::Mutex<HashMap<String, service::plan::Decommission>>>,
    /// Mutating requests (applies, deletes, status, events).
    pub writes: AtomicUsize,
    /// Completed reconciles.
    pub reconciles: AtomicUsize,
    /// Statuses this operator patched (read through a cache that may lag).
    written: super::report::OwnWrites<Package, PackageStatus>,
}

impl super::Observe for Context {
    fn observe(&self, _now: dromos_core::time::Instant, out: &mut Vec<dromos_core::observe::Sample>) {
        for pkg in self.packages.state() {
            dromos_core::observe::package(&pkg, out);
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
    let (client, scope) = (shared.client.clone(), shared.scope.clone());
    let owned = watcher::Config::default().labels(package::LABEL_INSTANCE);
    let listed = super::Listed::default();
    let (pkg_r, pkg_stream) = shared.reflect_listed::<Package>(watcher::Config::default(), &listed);
    let (dep_r, dep_stream) = shared.reflect::<Deployment>(owned.clone());
    let (sts_r, sts_stream) = shared.reflect::<StatefulSet>(owned.clone());
    let (ds_r, ds_stream) = shared.reflect::<DaemonSet>(owned.clone());
    let (app_r, app_stream) = shared.reflect::<App>(owned);
    let (pod_r, pod_stream) = shared.reflect::<Pod>(watcher::Config::default().labels(service::render::LABEL_POD));
    let gs_stream = scope.watcher::<GitSource>(&client, watcher::Config::default()).default_backoff().touched_objects();
    let nodes_listed = super::Listed::default();
    let (node_r, node_w) = kube::runtime::reflector::store::<PartialObjectMeta<Node>>();
    let node_stream = kube::runtime::reflector(
        node_w,
        nodes_listed.track(watcher(Api::<PartialObjectMeta<Node>>::all(client.clone()), watcher::Config::default())),
    )
    .default_backoff()
    .touched_objects();
    let ctx = Arc::new(Context {
        recorder: shared.recorder("dromos-packages"),
        backoff: Backoff::new("packages"),
        tenancy: shared.tenancy.clone(),
        client,
        opts: opts.clone(),
        resolver: SharedResolver::default(),
        deployments: dep_r,
        statefulsets: sts_r,
        daemonsets: ds_r,
        apps: app_r,
        packages: pkg_r.clone(),
        listed,
        pods: pod_r.clone(),
        nodes: node_r,
        nodes_listed,
        decommissions: Default::default(),
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
            let results = Controller::for_stream(pkg_stream, pkg_r)
                .with_config(config)
                .owns_stream(dep_stream)
                .owns_stream(sts_stream)
                .owns_stream(ds_stream)
                .owns_stream(app_stream)
                .watches_stream(gs_stream, gs_to_packages)
                // A service pod's change (created, ready, failed, lost) advances its plans.
                .watches_stream(pod_stream, |pod: Pod| {
                    let instance = pod.labels().get(package::LABEL_INSTANCE)?.clone();
                    Some(ObjectRef::new(&instance).within(&pod.namespace()?))
                })
                // A node that goes away: the services with pods on it recover them.
                .watches_stream(node_stream, move |node: PartialObjectMeta<Node>| {
                    let node = node.name_any();
                    pod_r
                        .state()
                        .iter()
                        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str()))
                        .filter_map(|p| {
                            let instance = p.labels().get(package::LABEL_INSTANCE)?.clone();
                            Some(ObjectRef::new(&instance).within(&p.namespace()?))
                        })
                        .collect::<Vec<_>>()
                })
                .run(reconcile, error_policy, ctx);
            super::report::drive("packages", results).await;
        }
    };
    Started { ctx, run: Box::pin(run) }
}

fn error_policy(pkg: Arc<Package>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.backoff.on_error(&pkg, err)
}

/// The GitSource a Package reads its repository from: `repository.gitSource`, or for a bare
/// `repository.path` the GitSource that synced the Package (its `dromos.io/source` label).
pub(crate) fn git_source_of(pkg: &Package) -> Option<String> {
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

/// Fetches the repository of a Package (a GitSource's only when the Package's policies allow
/// that GitSource's URL). Errors are messages for the status.
async fn fetch_repository(
    ctx: &Context,
    pkg: &Package,
    policies: &tenancy::Policies<'_>,
) -> Result<Arc<Repository>, String> {
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
    policies.check_repository(&gs.spec.url).map_err(|v| format!("GitSource {ns}/{gs_name} spec.url: {v}"))?;
    // The repository is the GitSource's: its Secret is read as the GitSource reads it.
    let identity = tenancy::identity(&ctx.tenancy.rules, &ns, gs.spec.service_account_name.as_deref())
        .map_err(|e| format!("GitSource {ns}/{gs_name}: {e}"))?;
    let client = ctx.tenancy.client_for(&ctx.client, &identity).map_err(|e| e.to_string())?;
    let creds = super::source_credentials(&client, &gs)
        .await
        .map_err(|e| format!("GitSource {ns}/{gs_name}: reading its Secret as {identity}: {e}"))?;
    // The commit the GitSource last applied, so manifests and packages come from one revision;
    // its ref when it has applied nothing yet.
    let applied = gs.status.as_ref().and_then(|s| s.last_applied_revision.clone());
    let gref = match applied.as_deref().and_then(|r| r.rsplit_once("@sha1:")) {
        Some((_, commit)) => GitRef::Commit(commit.to_string()),
        None => GitRef::from_spec(gs.spec.git_ref.as_ref()),
    };
    let cache = git::Cache {
        root: ctx.opts.cache_dir.clone(),
        allow_local: ctx.opts.allow_file_urls,
        limits: Default::default(),
    };
    let (url, dir) = (gs.spec.url.clone(), path.clone());
    let files = git::bounded(cache.limits, move || {
        let (repo, f) = cache.fetch(&url, &gref, &creds)?;
        let sub = if dir.is_empty() { None } else { Some(dir.as_str()) };
        git::read_tree_filtered(&repo, &f.commit, sub, 4 << 20, crate::packages::is_package_file)
    })
    .await
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
    let result = api.patch_status(&pkg.name_any(), &PatchParams::default(), &Patch::Merge(body)).await?;
    ctx.written.record(pkg, status.clone(), result.metadata.resource_version);
    Ok(true)
}

async fn reconcile(pkg: Arc<Package>, ctx: Arc<Context>) -> Result<Action, Error> {
    let r = super::guard(&*pkg, &ctx.recorder, reconcile_one(&pkg, &ctx)).await;
    ctx.reconciles.fetch_add(1, Ordering::Relaxed);
    ctx.backoff.record(&pkg, r)
}

async fn reconcile_one(pkg: &Package, ctx: &Context) -> Result<Action, Error> {
    // The revision of a Package is the package version it asks for.
    tracing::Span::current().record("revision", pkg.spec.version.as_deref().unwrap_or(""));
    if pkg.metadata.deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove what the Package rendered.
        return Ok(Action::await_change());
    }
    let old = ctx.written.current(pkg, pkg.status.as_ref()).unwrap_or_default();
    let now = chrono::Utc::now();
    let mut decision = match install(pkg, ctx, &old).await? {
        Ok(inst) => {
            let mut d = install::installed(&old, pkg.metadata.generation, inst.installed(), now);
            if let (Some(id), Some(st)) = (&inst.command, d.status.as_mut()) {
                st.last_plan_command = Some(id.clone());
            }
            d
        }
        Err(refusal) => install::refuse(&old, pkg.metadata.generation, refusal, now),
    };
    if old.plans.iter().any(|p| p.status != dromos_crds::package::ElementStatus::Complete) {
        // Pods change without a Package change: look again soon while a plan runs.
        decision.requeue = Requeue::After(std::time::Duration::from_secs(5));
    }
    // act: Events, then the one status write
    for e in decision.events {
        publish(ctx, pkg, e.warning, &e.reason, e.message).await;
    }
    if let Some(status) = &decision.status {
        write_status(ctx, pkg, status).await?;
    }
    Ok(match decision.requeue {
        Requeue::After(d) => Action::requeue(d),
        Requeue::OnChange => Action::await_change(),
    })
}

/// What an install gathered and did, for [`install::installed`].
struct Done {
    package: String,
    version: String,
    repository: String,
    hash: String,
    sync: sync::SyncOutcome,
    objects: Vec<PackageObject>,
    warnings: Vec<String>,
    plans: Vec<PlanStatus>,
    /// The id of the plan command applied, when one was.
    command: Option<String>,
}

impl Done {
    fn installed(&self) -> install::Installed<'_> {
        install::Installed {
            package: &self.package,
            version: &self.version,
            repository: self.repository.clone(),
            hash: self.hash.clone(),
            sync: &self.sync,
            objects: self.objects.clone(),
            warnings: &self.warnings,
            plans: self.plans.clone(),
        }
    }
}

/// gather (repository) -> build (pure) -> apply (sync) -> health (caches). The outer error is
/// the reconcile's; a refusal (the spec cannot be installed) is the inner one.
/// The identity a Package acts with, once it and its repository pass the SourcePolicies of
/// its namespace; `Err` is the refusal.
async fn admit(
    pkg: &Package,
    ctx: &Context,
    policies: &tenancy::Policies<'_>,
) -> Result<Result<Client, Refusal>, Error> {
    let ns = pkg.namespace().unwrap_or_default();
    let identity = match tenancy::identity(&ctx.tenancy.rules, &ns, pkg.spec.service_account_name.as_deref()) {
        Ok(i) => i,
        Err(message) => {
            return Ok(Err(Refusal { retry: true, ..Refusal::new(tenancy::SERVICE_ACCOUNT_REQUIRED, message) }));
        }
    };
    let refuse = |field: &str, v: tenancy::Violation| Refusal {
        retry: true,
        ..Refusal::new(tenancy::POLICY_VIOLATION, format!("{field}: {v}"))
    };
    if let tenancy::Identity::ServiceAccount { name, .. } = &identity
        && let Err(v) = policies.check_service_account(name)
    {
        return Ok(Err(refuse("spec.serviceAccountName", v)));
    }
    let synced_from = pkg.labels().get(SOURCE_LABEL).and_then(|l| l.split_once('.')).map(|(_, n)| n.to_string());
    if let Err(v) = policies.check_package_repository(&tenancy::package_repository(&pkg.spec, synced_from.as_deref())) {
        return Ok(Err(refuse("spec.repository", v)));
    }
    Ok(Ok(ctx.tenancy.client_for(&ctx.client, &identity)?))
}

async fn install(pkg: &Package, ctx: &Context, old: &PackageStatus) -> Result<Result<Done, Refusal>, Error> {
    let ns = pkg.namespace().unwrap_or_default();
    let name = pkg.name_any();
    // tenancy: identity and policies (client required)
    let all_policies = ctx.tenancy.policies().await?;
    let policies = tenancy::Policies::select(&all_policies, &ns);
    let client = match admit(pkg, ctx, &policies).await? {
        Ok(c) => c,
        Err(refusal) => return Ok(Err(refusal)),
    };
    // dereference (client required)
    let repo = match fetch_repository(ctx, pkg, &policies).await {
        Ok(r) => r,
        Err(message) => {
            return Ok(Err(Refusal { reason: "RepositoryUnavailable", message, option_errors: vec![], retry: true }));
        }
    };
    // build (no client required)
    let built = package::expand_package(&pkg.spec, &ns, &name, &repo).map_err(Refusal::from).and_then(|(v, r)| {
        if let Some(installed) = old.installed_version.as_deref().filter(|i| *i != v.meta.version) {
            let from = repo.find(&pkg.spec.name, Some(installed)).map(|p| p.meta.clone()).unwrap_or_else(|_| {
                package::Meta { name: pkg.spec.name.clone(), version: installed.to_string(), ..Default::default() }
            });
            install::check_change(&from, &v.meta)?;
        }
        let owner = pkg.controller_owner_ref(&()).map(|o| serde_json::to_value(o).unwrap_or_default());
        let mut desired = install::own_objects(r.objects, &ns, owner.as_ref())?;
        let run = match &r.service {
            Some(spec) => {
                let (objects, run) = run_service(ctx, pkg, old, v, spec);
                desired.extend(install::own_objects(objects, &ns, owner.as_ref())?);
                Some(run)
            }
            None => None,
        };
        Ok((v.meta.version.clone(), desired, r.warnings, run))
    });
    let (version, desired, warnings, run) = match built {
        Ok(b) => b,
        Err(refusal) => return Ok(Err(refusal)),
    };
    for o in desired.iter().filter_map(ObjRef::of) {
        let group = o.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or_default();
        if let Err(v) = policies.check_object(group, &o.kind, o.namespace.as_deref()) {
            let message = format!("the render holds {}: {v}", o.display());
            return Ok(Err(Refusal { retry: true, ..Refusal::new(tenancy::POLICY_VIOLATION, message) }));
        }
    }
    let hash = install::render_hash(&desired);
    // apply (client required)
    let settings = SyncSettings {
        source: package::source_label(&ns, &name),
        force: true,
        force_owned: true,
        // An option change may drop objects (JournalNodes off): the render is the whole truth,
        // within the deletion guard (a repository commit whose templates render nothing must
        // not delete every object of every Package using it).
        plan: PlanOptions::default(),
        concurrency: 8,
        default_namespace: ns.clone(),
        limiter: None,
        scope: crate::scope::Scope::namespace(ns.clone()),
        written: None,
    };
    let inventory = inventory_of(old);
    let outcome = {
        let mut resolver = ctx.resolver.checkout();
        let outcome = sync::sync(&client, &mut resolver, desired, &HashMap::new(), &inventory, &settings).await;
        ctx.resolver.give_back(resolver);
        outcome.map_err(Error::sync)?
    };
    ctx.writes.fetch_add(outcome.writes, Ordering::Relaxed);
    // the plans' actions, as the Package's identity, once their StatefulSets are applied
    let (plans, command) = match run {
        Some(run) => {
            act_on_plans(ctx, pkg, &client, &run).await;
            (run.plans, run.command)
        }
        None => (vec![], None),
    };
    // health (caches)
    let objects = objects_with_health(ctx, &outcome.inventory, &outcome.applied_generations);
    Ok(Ok(Done {
        plans,
        command,
        package: pkg.spec.name.clone(),
        version,
        repository: package::repo_ref(&pkg.spec).to_string(),
        hash,
        sync: outcome,
        objects,
        warnings,
    }))
}

/// A service package's reconcile: the plans advanced one decision and what they ask for.
struct ServiceRun {
    spec: service::ServiceSpec,
    plans: Vec<PlanStatus>,
    actions: service::Actions,
    /// Events of the command applied (or refused).
    events: Vec<service::plan::StepEvent>,
    command: Option<String>,
}

/// Observes the service's pods, applies a new plan command, decides (pure), and renders the
/// StatefulSets with the replicas the plans chose.
fn run_service(
    ctx: &Context,
    pkg: &Package,
    old: &PackageStatus,
    v: &package::PackageVersion,
    spec: &service::ServiceSpec,
) -> (Vec<Value>, ServiceRun) {
    let ns = pkg.namespace().unwrap_or_default();
    let name = pkg.name_any();
    let source = package::repo_ref(&pkg.spec).to_string();
    let inst = package::Instance { namespace: &ns, name: &name, source: &source };
    let targets = package::service_revisions(v, spec, &inst);
    let pods: Vec<Pod> = ctx
        .pods
        .state()
        .iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(ns.as_str())
                && p.labels().get(package::LABEL_INSTANCE).map(String::as_str) == Some(name.as_str())
        })
        .map(|p| (**p).clone())
        .collect();
    let nodes: Option<std::collections::BTreeSet<String>> =
        ctx.nodes_listed.get().then(|| ctx.nodes.state().iter().map(|n| n.name_any()).collect());
    let decommissions: std::collections::BTreeMap<String, service::plan::Decommission> = {
        let mut known = ctx.decommissions.lock().unwrap_or_else(|e| e.into_inner());
        // Forget pods that are gone (any service's: the map is shared).
        let live: std::collections::HashSet<String> =
            ctx.pods.state().iter().filter_map(|p| p.metadata.uid.clone()).collect();
        known.retain(|uid, _| live.contains(uid));
        pods.iter()
            .filter_map(|p| {
                let uid = p.metadata.uid.clone()?;
                known.get(&uid).map(|d| (uid, d.clone()))
            })
            .collect()
    };
    let observed = service::observe::instances(&pods, nodes.as_ref(), &decommissions);
    let mut plans = old.plans.clone();
    let mut events = vec![];
    let mut command = None;
    if let Some(text) = pkg.annotations().get(service::observe::ANN_COMMAND) {
        match service::observe::parse_command(text) {
            Ok((id, cmd)) if old.last_plan_command.as_deref() != Some(id.as_str()) => {
                let applied = match cmd.verb {
                    service::Verb::Start => service::plan::start(spec, &mut plans, &targets, &cmd.plan),
                    _ => service::command(&mut plans, &cmd),
                };
                match applied {
                    Ok(msg) => events.push((false, "PlanCommand", msg, None)),
                    Err(e) => events.push((true, "PlanCommandRefused", e, None)),
                }
                command = Some(id);
            }
            Ok(_) => {}
            Err(e) if old.last_plan_command.as_deref() != Some(text.as_str()) => {
                events.push((true, "PlanCommandRefused", e, None));
                command = Some(text.clone());
            }
            Err(_) => {}
        }
    }
    let (plans, actions) = service::decide(spec, &plans, &targets, &observed);
    let user = pkg.spec.options.clone().unwrap_or(Value::Null);
    let objects = package::service_objects(v, spec, &actions.replicas, &user, &inst);
    (objects, ServiceRun { spec: spec.clone(), plans, actions, events, command })
}

/// Longest a decommission command may run.
const DECOMMISSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs each decommission command in its task's container (one after the other, through the
/// API server's exec as the Package's identity), then records success on the pod so a
/// restarted controller does not run them again.
async fn decommission(pods: &Api<Pod>, pod: &str, uid: &str, commands: &[(String, String)]) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    for (task, cmd) in commands {
        let params = kube::api::AttachParams::default().container(task.as_str()).stdin(false).stdout(true).stderr(true);
        let run = async {
            let mut proc = pods
                .exec(pod, ["sh", "-c", cmd.as_str()], &params)
                .await
                .map_err(|e| format!("task {task}: exec: {e}"))?;
            let status = proc.take_status();
            // Output is read (and bounded) so the command never blocks on a full pipe.
            let mut out = String::new();
            if let Some(stderr) = proc.stderr() {
                let mut buf = Vec::new();
                let _ = stderr.take(64 * 1024).read_to_end(&mut buf).await;
                out = String::from_utf8_lossy(&buf)
                    .trim()
                    .chars()
                    .rev()
                    .take(300)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
            }
            if let Some(mut stdout) = proc.stdout() {
                let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
            }
            let status = match status {
                Some(s) => s.await,
                None => None,
            };
            let _ = proc.join().await;
            match status {
                Some(s) if s.status.as_deref() == Some("Success") => Ok(()),
                Some(s) => Err(format!(
                    "task {task}: `{cmd}`: {}{}",
                    s.message.unwrap_or_else(|| "failed".into()),
                    if out.is_empty() { String::new() } else { format!(": {out}") }
                )),
                None => Err(format!("task {task}: `{cmd}`: no exit status")),
            }
        };
        tokio::time::timeout(DECOMMISSION_TIMEOUT, run)
            .await
            .map_err(|_| format!("task {task}: `{cmd}` ran longer than {}s", DECOMMISSION_TIMEOUT.as_secs()))??;
    }
    let patch = serde_json::json!({"metadata": {"annotations": {service::observe::ANN_DECOMMISSIONED: uid}}});
    pods.patch(pod, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|e| format!("recording the decommission on {pod}: {e}"))?;
    Ok(())
}

/// Deletes the pods and claims the plans' steps asked for, and publishes their Events.
async fn act_on_plans(ctx: &Context, pkg: &Package, client: &Client, run: &ServiceRun) {
    let ns = pkg.namespace().unwrap_or_default();
    let name = pkg.name_any();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    // Claims first: marked for deletion while their pod still holds them, so the pod the
    // StatefulSet makes again at once (a lost node's is deleted without grace) cannot take
    // the old claim; it waits for a new one.
    for (pod, i) in &run.actions.delete_claims {
        for v in run.spec.pods.get(pod).map(|p| p.volumes.as_slice()).unwrap_or_default() {
            let claim = service::render::claim_name(&v.name, &name, pod, *i);
            ctx.writes.fetch_add(1, Ordering::Relaxed);
            match claims.delete(&claim, &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => publish(ctx, pkg, true, "StepActionFailed", format!("deleting claim {claim}: {e}")).await,
            }
        }
    }
    for (pod, i) in &run.actions.delete_pods {
        let pod_name = format!("{}-{i}", service::render::set_name(&name, pod));
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        let force = run.actions.force.contains(&(pod.clone(), *i));
        let params = kube::api::DeleteParams { grace_period_seconds: force.then_some(0), ..Default::default() };
        match pods.delete(&pod_name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => publish(ctx, pkg, true, "StepActionFailed", format!("deleting pod {pod_name}: {e}")).await,
        }
    }
    for (pod, i) in &run.actions.decommission {
        let pod_name = format!("{}-{i}", service::render::set_name(&name, pod));
        let Some(live) = ctx.pods.get(&ObjectRef::new(&pod_name).within(&ns)) else { continue };
        let Some(uid) = live.metadata.uid.clone() else { continue };
        {
            let mut known = ctx.decommissions.lock().unwrap_or_else(|e| e.into_inner());
            if known.get(&uid) == Some(&service::plan::Decommission::Running) {
                continue;
            }
            known.insert(uid.clone(), service::plan::Decommission::Running);
        }
        let commands: Vec<(String, String)> = run
            .spec
            .pods
            .get(pod)
            .into_iter()
            .flat_map(|p| p.tasks.iter())
            .filter_map(|(t, task)| Some((t.clone(), task.decommission.clone()?)))
            .collect();
        publish(ctx, pkg, false, "DecommissionStarted", format!("running the decommission commands of {pod_name}"))
            .await;
        let pods = pods.clone();
        let results = ctx.decommissions.clone();
        tokio::spawn(async move {
            let outcome = decommission(&pods, &pod_name, &uid, &commands).await;
            let state = match outcome {
                Ok(()) => service::plan::Decommission::Done,
                Err(e) => service::plan::Decommission::Failed(e),
            };
            results.lock().unwrap_or_else(|e| e.into_inner()).insert(uid, state);
        });
    }
    // Each step's Events name its pod as the related object and its plan in the action: the
    // recorder folds Events of one object, action, reason and related object into one series.
    for (warning, reason, message, instance) in run.events.iter().chain(&run.actions.events) {
        let related = instance.as_ref().map(|(pod, i)| k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(ns.clone()),
            name: Some(format!("{}-{i}", service::render::set_name(&name, pod))),
            ..Default::default()
        });
        ctx.writes.fetch_add(1, Ordering::Relaxed);
        let ev = kube::runtime::events::Event {
            type_: if *warning {
                kube::runtime::events::EventType::Warning
            } else {
                kube::runtime::events::EventType::Normal
            },
            reason: reason.to_string(),
            note: Some(message.chars().take(1000).collect()),
            // Step notes start with their plan's name: one series per plan, step and reason.
            action: match (instance, message.split_once(':')) {
                (Some(_), Some((plan, _))) => format!("Plan {plan}"),
                _ => "Plan".into(),
            },
            secondary: related,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &pkg.object_ref(&())).await {
            tracing::debug!(reason, "event not published: {e}");
        }
    }
}

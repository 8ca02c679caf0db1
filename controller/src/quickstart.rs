//! `dromos quickstart` (I/O): the main job end to end on the local control plane of
//! `tests/cluster`: start it (or reuse the running one), install the CRDs, commit `examples/` to
//! a Git repository in a temporary directory, add what the examples need from the cluster (on a
//! KWOK cluster: a fake node reserved for the Mesos role `storage` and static persistent
//! volumes), run the controller (GitSource controller, App operator, Dromos scheduler, Job
//! controller, Package operator) in this process syncing it through a GitSource, wait until the
//! Apps, Jobs and Packages settle, print them with their health, then remove everything it
//! applied or added (and stop the control plane if it started it). `--keep-running` keeps the
//! controller running until Ctrl-C.

use anyhow::{Context, Result, bail};
use dromos_crds::GitSource;
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Namespace of the quickstart's GitSource.
pub const NAMESPACE: &str = "dromos-quickstart";
/// Name of the quickstart's GitSource.
pub const SOURCE: &str = "examples";
/// Label that selects the quickstart's GitSource: its controller reconciles no other.
pub const LABEL: (&str, &str) = ("dromos.io/quickstart", "true");
const FIELD_MANAGER: &str = "dromos-quickstart";

/// Settings of a quickstart run.
#[derive(Clone, Debug)]
pub struct QuickstartOptions {
    /// The repository checkout (holds `tests/cluster/` and `examples/`).
    pub root: PathBuf,
    /// Manifests to commit and sync (default `<root>/examples`).
    pub examples: PathBuf,
    /// A kubeconfig to use instead of the local control plane (never started or stopped).
    pub kubeconfig: Option<PathBuf>,
    /// Keep the controller running until Ctrl-C.
    pub keep_running: bool,
    /// Longest wait for the objects to settle.
    pub timeout: Duration,
    /// Where the controller's log goes.
    pub log: PathBuf,
}

/// What a quickstart run saw.
#[derive(Debug)]
pub struct Report {
    /// The Apps, Jobs and Packages of the examples when they settled.
    pub rows: Vec<crate::status::Row>,
    /// The GitSource's Ready message.
    pub source: String,
    /// Objects the sync applied.
    pub applied: i64,
    /// Seconds from the GitSource's creation to the printed table.
    pub seconds: f64,
}

/// The kubeconfig of the local control plane (`$DROMOS_CACHE` or `~/.cache/dromos`).
pub fn local_kubeconfig() -> PathBuf {
    let cache = std::env::var_os("DROMOS_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache/dromos")
    });
    cache.join("cluster/kubeconfig")
}

async fn client_for(path: &Path) -> Result<Client> {
    let kc = kube::config::Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(crate::apiclient::from_config(cfg)?)
}

async fn answers(client: &Client) -> bool {
    tokio::time::timeout(Duration::from_secs(5), client.apiserver_version()).await.is_ok_and(|r| r.is_ok())
}

/// Connects to the cluster: the given kubeconfig, the running local control plane, or a new one
/// started with `tests/cluster/up`. Returns the client and whether this run started it.
async fn connect(opts: &QuickstartOptions, out: &mut dyn Write) -> Result<(Client, bool)> {
    if let Some(kc) = &opts.kubeconfig {
        let c = client_for(kc).await?;
        if !answers(&c).await {
            bail!("the API server of {} does not answer", kc.display());
        }
        writeln!(out, "cluster: {}", kc.display())?;
        return Ok((c, false));
    }
    let kc = local_kubeconfig();
    if kc.exists() {
        let c = client_for(&kc).await?;
        if answers(&c).await {
            writeln!(out, "cluster: reusing the running local control plane ({})", kc.display())?;
            return Ok((c, false));
        }
    }
    let up = opts.root.join("tests/cluster/up");
    writeln!(
        out,
        "cluster: starting the local control plane with {} (the first run builds it from the Go module proxy: 6 to 13 minutes on 2 cores)",
        up.display()
    )?;
    // Its progress goes straight to the terminal; nothing else runs in this process yet.
    let status = std::process::Command::new(&up)
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .status()
        .with_context(|| format!("running {}", up.display()))?;
    if !status.success() {
        bail!("{} failed ({status}); its logs are in ~/.cache/dromos/cluster/logs", up.display());
    }
    let c = client_for(&kc).await?;
    Ok((c, true))
}

/// Server-side applies the Dromos CRDs and waits until they are established.
pub async fn install_crds(client: &Client) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in dromos_crds::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&crd))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    let names: Vec<String> = dromos_crds::crds().into_iter().filter_map(|c| c.metadata.name).collect();
    crate::sync::wait_established(client, &names, &Default::default()).await
}

/// Fake nodes and volumes the quickstart adds to a KWOK cluster for the examples: a node
/// reserved for the Mesos role `storage` (label and `NoSchedule` taint `dromos.io/role=storage`,
/// the convention of the placement engine), which `shop/db` accepts, and static `hostPath`
/// persistent volumes for the StatefulSets' claims (KWOK pods never touch them; the local
/// control plane has no volume provisioner). All carry [`LABEL`].
fn capacity() -> Result<(Vec<Node>, Vec<PersistentVolume>)> {
    let resources = serde_json::json!({"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "500Gi"});
    let nodes = (0..2)
        .map(|i| {
            let name = format!("dromos-quickstart-storage-{i}");
            serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                             "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok",
                                        "topology.kubernetes.io/zone": (["zone-a", "zone-b"][i]),
                                        "rack": format!("rack-s{i}"), "dromos.io/role": "storage",
                                        (LABEL.0): LABEL.1}},
                "spec": {"taints": [{"key": dromos_core::translate::ROLE_KEY, "value": "storage", "effect": "NoSchedule"}]},
                "status": {"allocatable": resources, "capacity": resources,
                           "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake"}}
            }))
        })
        .collect::<serde_json::Result<Vec<Node>>>()?;
    let volumes = (0..8)
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": format!("dromos-quickstart-{i}"), "labels": {(LABEL.0): LABEL.1}},
                "spec": {"capacity": {"storage": "200Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain",
                         "hostPath": {"path": format!("/tmp/dromos-quickstart/pv-{i}")}}
            }))
        })
        .collect::<serde_json::Result<Vec<PersistentVolume>>>()?;
    Ok((nodes, volumes))
}

/// Adds [`capacity`] when the cluster runs KWOK (a node annotated `kwok.x-k8s.io/node`); a
/// real cluster is left alone. Returns whether anything was added.
pub async fn add_capacity(client: &Client, nodes_now: &[Node], out: &mut (dyn Write + Send)) -> Result<bool> {
    let kwok = nodes_now.iter().any(|n| n.annotations().contains_key("kwok.x-k8s.io/node"));
    if !kwok {
        writeln!(
            out,
            "not a KWOK cluster: adding no fake nodes or volumes (shop/db needs a node reserved for role `storage`, \
             the StatefulSets need persistent volumes)"
        )?;
        return Ok(false);
    }
    let (nodes, volumes) = capacity()?;
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let node_api: Api<Node> = Api::all(client.clone());
    for n in &nodes {
        let name = n.name_any();
        node_api.patch(&name, &pp, &Patch::Apply(n)).await.with_context(|| format!("adding node {name}"))?;
        // The status is a subresource: KWOK keeps it Ready once capacity is set.
        node_api
            .patch_status(
                &name,
                &pp,
                &Patch::Apply(serde_json::json!({"apiVersion": "v1", "kind": "Node", "status": n.status})),
            )
            .await
            .with_context(|| format!("setting the capacity of node {name}"))?;
    }
    let pv_api: Api<PersistentVolume> = Api::all(client.clone());
    for v in &volumes {
        let name = v.name_any();
        pv_api.patch(&name, &pp, &Patch::Apply(v)).await.with_context(|| format!("adding volume {name}"))?;
    }
    for n in &nodes {
        let name = n.name_any();
        let ready = |n: Option<&Node>| {
            n.and_then(|n| n.status.as_ref()?.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        };
        let wait = kube::runtime::wait::await_condition(node_api.clone(), &name, ready);
        match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(r) => r.with_context(|| format!("watching node {name}"))?,
            Err(_) => bail!("KWOK did not make node {name} Ready within 60 s"),
        };
    }
    writeln!(
        out,
        "added {} fake nodes reserved for role `storage` and {} static persistent volumes (removed at the end)",
        nodes.len(),
        volumes.len()
    )?;
    Ok(true)
}

/// Deletes what [`add_capacity`] added.
pub async fn remove_capacity(client: &Client) -> Result<()> {
    let lp = kube::api::ListParams::default().labels(&format!("{}={}", LABEL.0, LABEL.1));
    let dp = DeleteParams::default();
    let nodes = Api::<Node>::all(client.clone());
    let pvs = Api::<PersistentVolume>::all(client.clone());
    nodes.delete_collection(&dp, &lp).await?;
    pvs.delete_collection(&dp, &lp).await?;
    // A volume stays until the controller manager drops its protection finalizer (its claim
    // went with the namespaces): wait, so a next run starts clean.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !nodes.list(&lp).await?.items.is_empty() || !pvs.list(&lp).await?.items.is_empty() {
        if Instant::now() > deadline {
            bail!("the quickstart's nodes or volumes are still there 60 s after their deletion");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Every file under `dir`, as (path relative to `dir`, bytes).
pub fn files_of(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Commits `files` (the whole tree) on `main` of a repository at `path`; returns the commit id.
pub fn commit_tree(path: &Path, files: &[(String, Vec<u8>)], message: &str) -> Result<String> {
    let repo = match git2::Repository::open_bare(path) {
        Ok(r) => r,
        Err(_) => git2::Repository::init_bare(path)?,
    };
    let mut index = git2::Index::new()?;
    for (p, bytes) in files {
        let entry = crate::git::blob_entry(p, 0o100644, repo.blob(bytes)?, bytes.len());
        index.add(&entry)?;
    }
    let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
    let sig = git2::Signature::now("dromos quickstart", "quickstart@dromos.io")?;
    let parent = repo.find_reference("refs/heads/main").ok().and_then(|r| r.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    Ok(repo.commit(Some("refs/heads/main"), &sig, &sig, message, &tree, &parents)?.to_string())
}

/// The namespaces the examples' Apps, Jobs and Packages live in (the operators' scope).
fn namespaces_of(files: &[(String, Vec<u8>)]) -> Result<Vec<String>> {
    let loaded: Vec<dromos_core::load::SourceFile> =
        files.iter().map(|(p, b)| dromos_core::load::SourceFile { path: p.clone(), bytes: b.clone() }).collect();
    let tree = dromos_core::check_tree(&loaded, &dromos_core::LoadOptions::default());
    if !tree.is_valid() {
        let first =
            tree.diagnostics.iter().find(|d| d.is_error()).map(|d| format!("{}:{}: {}", d.file, d.line, d.message));
        bail!("the examples do not validate (run `dromos validate` on them): {}", first.unwrap_or_default());
    }
    let mut ns: Vec<String> = tree.manifests.iter().filter_map(|m| m.namespace.clone()).collect();
    ns.sort();
    ns.dedup();
    Ok(ns)
}

async fn source_status(api: &Api<GitSource>) -> Option<(bool, String, i64, Option<String>, usize)> {
    let gs = api.get_opt(SOURCE).await.ok()??;
    let s = gs.status?;
    let ready = s.common.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((
        ready.status == "True",
        ready.message.clone(),
        s.last_sync.as_ref().map(|l| l.applied).unwrap_or(0),
        s.last_applied_revision.clone(),
        dromos_core::gitsource::inventory_len(&s),
    ))
}

async fn rows_in(client: &Client, namespaces: &[String]) -> Result<Vec<crate::status::Row>> {
    let mut rows = vec![];
    for ns in namespaces {
        rows.extend(crate::status::collect(client, Some(ns)).await?);
    }
    Ok(rows)
}

/// Runs the quickstart, printing progress and the final table to `out`.
pub async fn run(opts: QuickstartOptions, out: &mut (dyn Write + Send)) -> Result<Report> {
    let start = Instant::now();
    let (client, started) = connect(&opts, out).await?;
    let result = run_on(&client, &opts, start, out).await;
    if result.is_err() {
        // The fake nodes and volumes are the quickstart's own: never leave them behind.
        let _ = remove_capacity(&client).await;
    }
    if started && !opts.keep_running {
        let down = opts.root.join("tests/cluster/down");
        writeln!(out, "stopping the local control plane this run started ({})", down.display())?;
        let _ = std::process::Command::new(&down).status();
    }
    result
}

async fn run_on(
    client: &Client,
    opts: &QuickstartOptions,
    start: Instant,
    out: &mut (dyn Write + Send),
) -> Result<Report> {
    use kube::api::ListParams;
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone()).list(&ListParams::default()).await?;
    writeln!(out, "cluster: {} node(s)", nodes.items.len())?;
    install_crds(client).await?;
    writeln!(out, "installed the Dromos CRDs")?;
    let added = add_capacity(client, &nodes.items, out).await?;

    // The repository.
    let files = files_of(&opts.examples)?;
    let namespaces = namespaces_of(&files)?;
    let repo_dir = tempfile::Builder::new().prefix("dromos-quickstart-").tempdir()?;
    let revision = commit_tree(repo_dir.path(), &files, "examples")?;
    writeln!(
        out,
        "committed {} files of {} to file://{} (main @ {})",
        files.len(),
        opts.examples.display(),
        repo_dir.path().display(),
        &revision[..12]
    )?;

    // The controller, confined to its own GitSource (label) and, for Apps and Jobs, to the
    // namespaces of the examples, so it leaves everything else on the cluster alone.
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns_obj: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}}))?;
    nss.patch(NAMESPACE, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&ns_obj)).await?;
    let cache = tempfile::Builder::new().prefix("dromos-quickstart-cache-").tempdir()?;
    let (trigger, _stop) = start_operators(client, &namespaces, cache.path());
    writeln!(out, "controller running (log: {})", opts.log.display())?;

    let gs: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
        "metadata": {"name": SOURCE, "namespace": NAMESPACE, "labels": {(LABEL.0): LABEL.1}},
        "spec": {"url": format!("file://{}", repo_dir.path().display()), "ref": {"branch": "main"},
                 "interval": "10s", "prune": true, "allowMassDelete": true}
    }))?;
    let sources: Api<GitSource> = Api::namespaced(client.clone(), NAMESPACE);
    sources.patch(SOURCE, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&gs)).await?;
    writeln!(out, "created GitSource {NAMESPACE}/{SOURCE}; waiting for the sync and the objects to settle")?;
    writeln!(
        out,
        "tenancy: permissive for this local run: the source names no ServiceAccount and no SourcePolicy \
         applies, so it acts with your kubeconfig's identity (a shared cluster uses both: docs/security.md)"
    )?;

    // Wait: the GitSource applied the revision, then the rows are all healthy or unchanged
    // for 15 s, or the timeout passes.
    // The timeout counts from here: starting (and on the first run building) the control plane
    // must not eat into it.
    let sync_start = Instant::now();
    let deadline = sync_start + opts.timeout;
    let applied = loop {
        match source_status(&sources).await {
            Some((true, msg, n, Some(rev), _)) if rev.contains(&revision) => break (msg, n),
            Some((false, msg, ..)) if Instant::now() > deadline => bail!("the GitSource is not ready: {msg}"),
            _ if Instant::now() > deadline => bail!("the GitSource did not sync within {:?}", opts.timeout),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    writeln!(out, "synced: {}", applied.0)?;
    let last = wait_settled(client, &namespaces, deadline).await?;
    let seconds = sync_start.elapsed().as_secs_f64();
    let total = start.elapsed().as_secs_f64();
    writeln!(out, "\n{}", crate::status::table(&last))?;
    let healthy = last.iter().filter(|r| r.healthy).count();
    writeln!(
        out,
        "{healthy} of {} ready {seconds:.0} s after the GitSource was created ({total:.0} s since the start)",
        last.len()
    )?;
    let report = Report { rows: last, source: applied.0, applied: applied.1, seconds };

    if opts.keep_running {
        writeln!(
            out,
            "\nthe controller keeps running: commit to {} (branch main) and it syncs within 10 s;\n`KUBECONFIG={} dromos status` shows the objects. Ctrl-C removes them and stops.",
            repo_dir.path().display(),
            opts.kubeconfig.clone().unwrap_or_else(local_kubeconfig).display()
        )?;
        tokio::signal::ctrl_c().await?;
    }
    writeln!(out, "removing what the quickstart applied")?;
    clean_up(client, repo_dir.path(), trigger, &namespaces, opts).await?;
    if added {
        remove_capacity(client).await?;
    }
    writeln!(out, "done")?;
    Ok(report)
}

/// The operators of the quickstart, through two managers: the GitSource operator serves the
/// whole cluster (the examples hold cluster-scoped objects) but only its own GitSource (label);
/// the others only the examples' namespaces, so everything else on the cluster is left alone.
/// Returns the GitSource trigger and the guard that stops them.
fn start_operators(client: &Client, namespaces: &[String], cache: &Path) -> (Option<GitSourceTrigger>, AbortOnDrop) {
    use crate::operators::{apps, gitsource, jobs, manager, packages, scheduler};
    let git_manager = manager::Manager::start(
        client.clone(),
        manager::ManagerOptions {
            scope: crate::scope::Scope::All,
            gitsource: Some(gitsource::Options {
                selector: Some(format!("{}={}", LABEL.0, LABEL.1)),
                cache_dir: cache.to_path_buf(),
                // The quickstart's repository is a local one it made itself.
                allow_file_urls: true,
                concurrency: 1,
                write_concurrency: 8,
                limiter: None,
                fetch_timeout: crate::git::FetchLimits::default().timeout,
            }),
            ..Default::default()
        },
    );
    let workloads = manager::Manager::start(
        client.clone(),
        manager::ManagerOptions {
            scope: crate::scope::Scope::of(namespaces.to_vec()),
            gitsource: None,
            apps: Some(apps::Options { concurrency: 4, ..Default::default() }),
            jobs: Some(jobs::Options::default()),
            packages: Some(packages::Options {
                concurrency: 2,
                cache_dir: cache.join("packages"),
                allow_file_urls: true,
            }),
            // Offers are cluster-wide objects: the quickstart's scheduler places without publishing them.
            scheduler: Some(scheduler::Options { offers: false, ..Default::default() }),
            ..Default::default()
        },
    );
    let trigger = git_manager.context::<gitsource::Context>().map(|c| c.trigger.clone());
    let controllers = tokio::spawn(async move {
        tokio::join!(git_manager.run(), workloads.run());
    });
    (trigger, AbortOnDrop(controllers))
}

type GitSourceTrigger = futures::channel::mpsc::UnboundedSender<kube::runtime::reflector::ObjectRef<GitSource>>;

/// Waits until every row is healthy, or the rows have not changed for 15 s, or `deadline`.
pub async fn wait_settled(
    client: &Client,
    namespaces: &[String],
    deadline: Instant,
) -> Result<Vec<crate::status::Row>> {
    let mut last = rows_in(client, namespaces).await?;
    let mut since = Instant::now();
    let settled = |rows: &[crate::status::Row]| !rows.is_empty() && rows.iter().all(|r| r.healthy);
    while !settled(&last) && since.elapsed() < Duration::from_secs(15) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rows = rows_in(client, namespaces).await?;
        if rows != last {
            since = Instant::now();
            last = rows;
        }
    }
    Ok(last)
}

/// Removes what the quickstart applied through the controller: an empty revision prunes
/// everything the sync applied (the App operator is still running to release its finalizers);
/// then the GitSource and its namespace go.
async fn clean_up(
    client: &Client,
    repo: &Path,
    trigger: Option<GitSourceTrigger>,
    namespaces: &[String],
    opts: &QuickstartOptions,
) -> Result<()> {
    let sources: Api<GitSource> = Api::namespaced(client.clone(), NAMESPACE);
    let nss: Api<Namespace> = Api::all(client.clone());
    let empty = commit_tree(repo, &[], "remove everything")?;
    let _ =
        trigger.as_ref().map(|t| t.unbounded_send(kube::runtime::reflector::ObjectRef::new(SOURCE).within(NAMESPACE)));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some((_, _, _, Some(rev), 0)) = source_status(&sources).await
            && rev.contains(&empty)
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the quickstart's objects were not pruned within 120 s; see {}", opts.log.display());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ours = dromos_core::gitsource::source_id(NAMESPACE, SOURCE);
    for ns in namespaces {
        // Prune keeps Namespaces (a protected kind). These are the quickstart's own: it deletes
        // them and waits until they are gone so a next run starts clean.
        let labelled = |n: &Namespace| n.labels().get(dromos_core::plan::SOURCE_LABEL).is_some_and(|s| *s == ours);
        if nss.get_opt(ns).await?.is_some_and(|n| labelled(&n)) {
            nss.delete(ns, &DeleteParams::default()).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while nss.get_opt(ns).await?.is_some_and(|n| n.labels().get(dromos_core::plan::SOURCE_LABEL).is_some()) {
            if Instant::now() > deadline {
                bail!("namespace {ns} is still terminating after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    sources.delete(SOURCE, &DeleteParams::default()).await?;
    nss.delete(NAMESPACE, &DeleteParams::default()).await?;
    Ok(())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

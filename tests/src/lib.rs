//! Support for tests against the real control plane of `tests/cluster`.
//!
//! * [`client`] connects through `KUBECONFIG` and fails loudly, with the command to run, when
//!   no API server answers: cluster tests never skip themselves.
//! * [`TestNamespace`] gives each test a fresh namespace, deleted afterwards.
//! * [`FakeNodes`] creates labelled, optionally tainted KWOK nodes for one test.
//! * [`wait_for`] polls a condition with a deadline and reports what it last saw.
//! * [`real_nodes`] names the Ready real nodes (containerd and a kubelet, started by
//!   `tests/cluster/up --real-nodes N`) and fails loudly when there are none; [`http_get`]
//!   asks what their pods serve.

pub mod browser;
pub mod chart;
pub mod faultproxy;
pub mod githttp;
pub mod prometheus;
pub mod real;

use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Config};
use serde_json::json;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const HOW_TO_START: &str = "start the local control plane with `tests/cluster/up` and `export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig`, \
or run the whole suite with `tests/cluster/with-cluster cargo test --workspace`";

/// A client for the test cluster. Panics with instructions when there is none.
pub async fn client() -> Client {
    let path = std::env::var("KUBECONFIG").unwrap_or_else(|_| {
        panic!("this test needs a Kubernetes API server but KUBECONFIG is not set: {HOW_TO_START}")
    });
    let config = Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&path)
            .unwrap_or_else(|e| panic!("cannot read KUBECONFIG {path}: {e}; {HOW_TO_START}")),
        &Default::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("invalid KUBECONFIG {path}: {e}; {HOW_TO_START}"));
    let client = Client::try_from(config).expect("client from kubeconfig");
    if let Err(e) = client.apiserver_version().await {
        panic!("no Kubernetes API server answers at the KUBECONFIG {path}: {e}; {HOW_TO_START}");
    }
    client
}

/// A process-unique suffix for names (tests run in parallel threads and processes).
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:x}{:x}{n}", std::process::id() % 0xfff, nanos % 0xffff)
}

/// A namespace that exists for one test.
#[allow(missing_debug_implementations)]
pub struct TestNamespace {
    /// The namespace name.
    pub name: String,
    client: Client,
    deleted: bool,
}

impl TestNamespace {
    /// Creates `t-<prefix>-<suffix>`.
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = format!("t-{prefix}-{}", unique_suffix());
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"dromos.io/test": "true"}}
        }))
        .expect("namespace");
        api.create(&PostParams::default(), &ns).await.unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
        Self { name, client: client.clone(), deleted: false }
    }

    /// An API for namespaced objects in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (and, through it, everything in it).
    pub async fn delete(mut self) {
        delete_namespace(&self.client, &self.name).await;
        self.deleted = true;
    }
}

async fn delete_namespace(client: &Client, name: &str) {
    // The App operator of a test stops with the test: release its finalizers so the namespace
    // can go.
    let apps: Api<dromos_crds::App> = Api::namespaced(client.clone(), name);
    if let Ok(list) = apps.list(&Default::default()).await {
        for a in list {
            if !a.metadata.finalizers.clone().unwrap_or_default().is_empty() {
                let patch = json!({"metadata": {"finalizers": null}});
                let _ = apps
                    .patch(
                        &a.metadata.name.unwrap_or_default(),
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(&patch),
                    )
                    .await;
            }
        }
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::background()).await;
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let name = self.name.clone();
        cleanup_from_drop(move |client| async move { delete_namespace(&client, &name).await });
    }
}

/// Runs a cleanup from `Drop`. A failed test unwinds inside its runtime, which can no longer
/// drive the test's client: the cleanup gets a helper thread, a runtime and a client of its own.
fn cleanup_from_drop<F, Fut>(f: F)
where
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(async {
                if let Ok(client) = Client::try_default().await {
                    f(client).await;
                }
            });
        }
    })
    .join();
}

/// What fake nodes to create.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// How many.
    pub count: usize,
    /// Name prefix; nodes are `<prefix>-<i>`.
    pub prefix: String,
    /// Zones assigned round-robin.
    pub zones: Vec<String>,
    /// Regions assigned round-robin.
    pub regions: Vec<String>,
    /// Racks (label `rack`) assigned round-robin.
    pub racks: Vec<String>,
    /// Extra labels on every node.
    pub labels: BTreeMap<String, String>,
    /// CPU capacity.
    pub cpu: String,
    /// Memory capacity.
    pub memory: String,
    /// Pod capacity.
    pub pods: String,
    /// Ephemeral storage capacity.
    pub storage: String,
    /// GPUs (`nvidia.com/gpu`).
    pub gpus: u32,
    /// Taints `(key, value, effect)`.
    pub taints: Vec<(String, String, String)>,
}

impl NodeSpec {
    /// `count` nodes named `<prefix>-<suffix>-<i>` with 8 CPUs, 32Gi, 110 pods, 100Gi disk.
    pub fn new(prefix: &str, count: usize) -> Self {
        Self {
            count,
            prefix: format!("{prefix}-{}", unique_suffix()),
            zones: vec![],
            regions: vec![],
            racks: vec![],
            labels: BTreeMap::new(),
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: "110".into(),
            storage: "100Gi".into(),
            gpus: 0,
            taints: vec![],
        }
    }
}

/// Fake nodes that exist for one test.
#[allow(missing_debug_implementations)]
pub struct FakeNodes {
    /// Node names.
    pub names: Vec<String>,
    client: Client,
    deleted: bool,
}

impl FakeNodes {
    /// Creates the nodes and waits until KWOK reports them Ready.
    pub async fn create(client: &Client, spec: &NodeSpec) -> Self {
        let api: Api<Node> = Api::all(client.clone());
        let pick = |list: &[String], i: usize| (!list.is_empty()).then(|| list[i % list.len()].clone());
        let mut names = vec![];
        for i in 0..spec.count {
            let name = format!("{}-{i}", spec.prefix);
            let mut labels = BTreeMap::from([
                ("kubernetes.io/hostname".to_string(), name.clone()),
                ("kubernetes.io/os".to_string(), "linux".to_string()),
                ("type".to_string(), "kwok".to_string()),
            ]);
            if let Some(z) = pick(&spec.zones, i) {
                labels.insert("topology.kubernetes.io/zone".into(), z);
            }
            if let Some(r) = pick(&spec.regions, i) {
                labels.insert("topology.kubernetes.io/region".into(), r);
            }
            if let Some(r) = pick(&spec.racks, i) {
                labels.insert("rack".into(), r);
            }
            labels.extend(spec.labels.clone());
            let resources = json!({
                "cpu": spec.cpu, "memory": spec.memory, "pods": spec.pods,
                "ephemeral-storage": spec.storage, "nvidia.com/gpu": spec.gpus.to_string()
            });
            let taints: Vec<_> =
                spec.taints.iter().map(|(k, v, e)| json!({"key": k, "value": v, "effect": e})).collect();
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
                "spec": {"taints": taints},
                "status": {"allocatable": resources, "capacity": resources,
                           "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake",
                                        "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "",
                                        "machineID": "", "osImage": "", "systemUUID": ""}}
            }))
            .expect("node");
            api.create(&PostParams::default(), &node).await.unwrap_or_else(|e| panic!("create node {name}: {e}"));
            names.push(name);
        }
        let nodes = Self { names, client: client.clone(), deleted: false };
        for name in &nodes.names {
            let api = api.clone();
            wait_for(&format!("node {name} Ready"), Duration::from_secs(60), || {
                let api = api.clone();
                let name = name.clone();
                async move {
                    let n = api.get(&name).await.ok()?;
                    let ready = n.status?.conditions?.iter().any(|c| c.type_ == "Ready" && c.status == "True");
                    ready.then_some(())
                }
            })
            .await;
        }
        nodes
    }

    /// Deletes the nodes.
    pub async fn delete(mut self) {
        delete_nodes(&self.client, &self.names).await;
        self.deleted = true;
    }
}

async fn delete_nodes(client: &Client, names: &[String]) {
    let api: Api<Node> = Api::all(client.clone());
    for n in names {
        let _ = api.delete(n, &DeleteParams::default()).await;
    }
}

impl Drop for FakeNodes {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let names = self.names.clone();
        cleanup_from_drop(move |client| async move { delete_nodes(&client, &names).await });
    }
}

/// A spawned controller task, aborted when dropped (at the end of the test that started it).
#[derive(Debug)]
pub struct Task(pub tokio::task::JoinHandle<()>);

impl Task {
    /// Spawns `fut` on the test's runtime.
    pub fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(fut))
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Logs of the code under test go to the test's output (`RUST_LOG`, default `warn`); Dromos'
/// own at debug level (others at info) are also kept for [`captured_logs`].
pub fn init_tracing() {
    use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let shown = tracing_subscriber::fmt::layer()
        .with_test_writer()
        .with_filter(EnvFilter::new(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())));
    let kept = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(|| CapturedLogs)
        .with_filter(EnvFilter::new("info,dromos=debug"));
    let _ = tracing_subscriber::registry().with(shown).with(kept).try_init();
}

/// The most kept log bytes; past it the oldest half is dropped.
const CAPTURED_MAX: usize = 32 << 20;

static CAPTURED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Where [`init_tracing`] keeps log lines.
struct CapturedLogs;

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut kept = CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() + buf.len() > CAPTURED_MAX {
            let half = kept.len() / 2;
            kept.drain(..half);
        }
        kept.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of this test process so far (every test of the binary; after
/// [`init_tracing`]).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
}

/// Starts the operators `opts` names through the manager, as `dromos controller` does; they
/// run until the returned task is dropped. Their contexts: `manager.context::<X>()`.
pub fn operators(
    c: &Client,
    opts: dromos::operators::manager::ManagerOptions,
) -> (dromos::operators::manager::Manager, Task) {
    let mut m = dromos::operators::manager::Manager::start(c.clone(), opts);
    let task = Task::spawn(m.runner());
    (m, task)
}

/// The App operator (4 reconciles at once) and the Dromos scheduler, both scoped to namespace
/// `ns`, as `dromos controller` runs them; `sched` gives the scheduler's options. The operators
/// stop when the returned task is dropped.
pub fn run_apps_and_scheduler(
    c: &Client,
    ns: &str,
    sched: dromos::operators::scheduler::Options,
) -> (std::sync::Arc<dromos::operators::apps::Context>, std::sync::Arc<dromos::operators::scheduler::Context>, Task) {
    use dromos::operators::{apps, manager::ManagerOptions};
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.to_string()),
        apps: Some(apps::Options { concurrency: 4, ..Default::default() }),
        scheduler: Some(sched),
        ..Default::default()
    };
    let (m, task) = operators(c, opts);
    (m.context().expect("apps"), m.context().expect("scheduler"), task)
}

/// A `dromos.io/v1alpha1` App named `name` with `spec` (namespace from the API it is sent to).
pub fn app_object(name: &str, spec: serde_json::Value) -> dromos_crds::App {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"name": name}, "spec": spec
    }))
    .expect("a valid App")
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A process started by a test, killed when dropped (also when an assertion fails).
#[derive(Debug)]
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (time, reason, note) of the service plans' Events (reasons `Step*` and `Plan*`) in
/// namespace `ns`, oldest first (microsecond times).
pub async fn step_events(c: &Client, ns: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Api::<k8s_openapi::api::events::v1::Event>::namespaced(c.clone(), ns)
        .list(&kube::api::ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref().is_some_and(|r| r.starts_with("Step") || r.starts_with("Plan")))
        .map(|e| {
            let t = e.event_time.map(|t| t.0.to_string()).unwrap_or_default();
            (t, e.reason.unwrap_or_default(), e.note.unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

/// When the first Event of [`step_events`] with `reason` and a note starting with `note`
/// happened.
pub fn event_at(events: &[(String, String, String)], reason: &str, note: &str) -> k8s_openapi::jiff::Timestamp {
    let e = events
        .iter()
        .find(|e| e.1 == reason && e.2.starts_with(note))
        .unwrap_or_else(|| panic!("no {reason} Event {note:?} in {events:#?}"));
    e.0.parse().unwrap_or_else(|err| panic!("{}: {err}", e.0))
}

/// Posts `body` to `addr`'s `/hook` as a GitHub push signed with `secret` (HMAC-SHA256, as
/// GitHub signs), and panics unless the controller accepted it (202).
pub async fn post_push_hook(addr: impl tokio::net::ToSocketAddrs, body: &str, secret: &str) {
    use hmac::Mac;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256={sig}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 202"), "webhook refused: {out}");
}

/// A free `127.0.0.1:PORT` to listen on.
pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}")
}

/// Real Git repositories for tests.
pub mod repo {
    use git2::{Oid, Repository, Signature};
    use std::path::Path;

    /// Commits `files` on top of branch `branch` (created when missing): `Some(text)` writes a
    /// file, `Some("->target")` a symlink, `None` deletes.
    pub fn commit(repo: &Repository, branch: &str, files: &[(&str, Option<&str>)], msg: &str) -> Oid {
        let sig = Signature::now("dromos-test", "test@dromos.io").unwrap();
        let parent = repo.find_reference(&format!("refs/heads/{branch}")).ok().and_then(|r| r.peel_to_commit().ok());
        let mut index = git2::Index::new().unwrap();
        if let Some(p) = &parent {
            index.read_tree(&p.tree().unwrap()).unwrap();
        }
        for (path, content) in files {
            match content {
                None => index.remove_path(Path::new(path)).unwrap(),
                Some(c) => {
                    let (mode, data) = match c.strip_prefix("->") {
                        Some(target) => (0o120000, target.as_bytes()),
                        None => (0o100644, c.as_bytes()),
                    };
                    let entry = dromos::git::blob_entry(path, mode, repo.blob(data).unwrap(), data.len());
                    index.add(&entry).unwrap();
                }
            }
        }
        let tree = repo.find_tree(index.write_tree_to(repo).unwrap()).unwrap();
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some(&format!("refs/heads/{branch}")), &sig, &sig, msg, &tree, &parents).unwrap()
    }

    /// A bare repository holding `files` in one commit and a suspended GitSource `catalog` of
    /// `ns` reading it (a package repository for `repository: {gitSource: catalog}`); the
    /// repository lives as long as the returned directory.
    pub async fn git_catalog(ns: &crate::TestNamespace, files: &[(String, String)]) -> tempfile::TempDir {
        let remote = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(remote.path()).unwrap();
        let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
        commit(&repo, "main", &refs, "packages");
        let gs: dromos_crds::GitSource = serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "catalog"},
            "spec": {"url": format!("file://{}", remote.path().display()), "suspend": true}
        }))
        .unwrap();
        ns.api::<dromos_crds::GitSource>().create(&kube::api::PostParams::default(), &gs).await.unwrap();
        remote
    }
}

/// Installs (server-side applies) the Dromos CRDs and waits until they are established.
pub async fn install_crds(c: &Client) {
    apply_crds(c, dromos_crds::crds(), "dromos-tests").await;
}

/// Server-side applies `crds` as `manager` and waits until each is established.
pub async fn apply_crds(
    c: &Client,
    crds: impl IntoIterator<
        Item = k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    >,
    manager: &str,
) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};
    let api: Api<CustomResourceDefinition> = Api::all(c.clone());
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap();
        api.patch(&name, &PatchParams::apply(manager).force(), &Patch::Apply(&crd)).await.expect("apply CRD");
        wait_for(&format!("CRD {name} established"), Duration::from_secs(60), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                crd.status?.conditions?.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
            }
        })
        .await;
    }
}

/// Held while a test applies `examples/` to the shared cluster: the examples name fixed
/// namespaces (shop, ops, reports, data), so tests that sync them take turns, across test
/// binaries and worktrees (an advisory lock on `/tmp/dromos-examples.lock`).
#[allow(missing_debug_implementations)]
pub struct ExamplesLock(#[allow(dead_code)] std::fs::File);

/// Waits for [`ExamplesLock`].
pub fn examples_lock() -> ExamplesLock {
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/dromos-examples.lock")
        .expect("open /tmp/dromos-examples.lock");
    f.lock().expect("lock /tmp/dromos-examples.lock");
    ExamplesLock(f)
}

/// Waits until none of `names` is a terminating namespace (another test may be deleting it).
pub async fn wait_namespaces_settled(c: &Client, names: &[&str]) {
    let nss: Api<Namespace> = Api::all(c.clone());
    for n in names {
        wait_for(&format!("namespace {n} gone or active"), Duration::from_secs(120), || async {
            match nss.get_opt(n).await.unwrap() {
                Some(x) if x.metadata.deletion_timestamp.is_some() => None,
                _ => Some(()),
            }
        })
        .await;
    }
}

/// Label of the nodes `tests/cluster/up --real-nodes N` starts (a kubelet and containerd each,
/// running real containers); they also carry the role label and `NoSchedule` taint
/// `dromos.io/role=real`, so only Apps with `acceptedResourceRoles: ["real"]` land there.
pub const REAL_NODE_LABEL: &str = "dromos.io/node-kind=real";

/// The Mesos role real nodes are reserved for.
pub const REAL_ROLE: &str = "real";

/// Images `tests/images/build` imports into every real node's containerd.
pub mod images {
    /// busybox httpd: `/cgi-bin/health` answers 200 until `/cgi-bin/fail` is requested, then
    /// 503; listens on `$PORT0`.
    pub const HTTP: &str = "dromos.test/http:1";
    /// `exit-with CODE [SECONDS]`: exits with CODE.
    pub const EXIT: &str = "dromos.test/exit:1";
    /// The `fetch` init container's image: curl and GNU tar on busybox.
    pub const FETCH: &str = "dromos.test/fetch:1";
}

/// The names of the Ready real nodes; panics, with the command to start them, when there are
/// none: a real-node test never passes without running a container.
pub async fn real_nodes(client: &Client) -> Vec<String> {
    let api: Api<Node> = Api::all(client.clone());
    let list = api
        .list(&kube::api::ListParams::default().labels(REAL_NODE_LABEL))
        .await
        .unwrap_or_else(|e| panic!("list nodes with {REAL_NODE_LABEL}: {e}"));
    let ready: Vec<String> = list
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .map(|n| n.metadata.name.clone().unwrap_or_default())
        .collect();
    assert!(
        !ready.is_empty(),
        "this test needs a real node (containerd and a kubelet) and the cluster has none Ready ({} with {REAL_NODE_LABEL}): \
         run it with `DROMOS_REAL_NODES=1 tests/cluster/with-cluster cargo test -p dromos-tests --test real_nodes` \
         (root, and the Debian packages containerd, runc, containernetworking-plugins and busybox-static)",
        list.items.len()
    );
    ready
}

/// `GET path` from `addr` over plain HTTP/1.0: the status code and the body. `None` when the
/// connection fails or the answer is not HTTP (the server is not up yet).
pub async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Some((code, body))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange).await.ok().flatten()
}

/// The `dromos` binary of this tree, built first (`cargo build -p dromos`) so that it matches
/// the code under test; in the profile directory of the running test.
pub fn dromos_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-q", "-p", "dromos", "--bin", "dromos"]).current_dir(chart::repo_root());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build -p dromos");
    assert!(status.success(), "cargo build -p dromos failed");
    let bin = profile_dir.join("dromos");
    assert!(bin.is_file(), "no dromos binary at {}", bin.display());
    bin
}

/// The GitSource operator's options of the cluster tests: `cache` as its Git cache, `file://`
/// URLs allowed, 2 sources and 16 writes at once, no client limit, fetches bounded at 30 s.
pub fn gitsource_options(cache: &std::path::Path) -> dromos::operators::gitsource::Options {
    dromos::operators::gitsource::Options {
        selector: None,
        cache_dir: cache.to_path_buf(),
        allow_file_urls: true,
        concurrency: 2,
        write_concurrency: 16,
        limiter: None,
        fetch_timeout: Duration::from_secs(30),
    }
}

/// Keeps a walkthrough in the documentation true: the fenced block of `doc` (a path from the
/// repository root) between `<!-- walkthrough: NAME -->` and `<!-- /walkthrough -->` must be
/// `output`, as the test produced it (names the test made up replaced by the caller). With
/// `DROMOS_UPDATE_GOLDEN=1` the block is rewritten instead.
pub fn walkthrough(doc: &str, name: &str, output: &str) {
    let path = chart::repo_root().join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let open = format!("<!-- walkthrough: {name} -->\n");
    let close = "<!-- /walkthrough -->";
    let start = text.find(&open).unwrap_or_else(|| panic!("{doc} has no `{}` marker", open.trim())) + open.len();
    let end = start + text[start..].find(close).unwrap_or_else(|| panic!("{doc}: `{}` is not closed", open.trim()));
    let block = format!("```\n{}\n```\n", output.trim_end());
    if text[start..end] == block {
        return;
    }
    if std::env::var("DROMOS_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, format!("{}{block}{}", &text[..start], &text[end..])).unwrap();
        return;
    }
    let diff = similar::TextDiff::from_lines(&text[start..end], block.as_str())
        .unified_diff()
        .header("documented", "produced")
        .to_string();
    panic!(
        "the walkthrough `{name}` in {doc} differs from what the test produced (DROMOS_UPDATE_GOLDEN=1 to accept):\n{diff}"
    );
}

/// `text` with the names a test made up replaced by readable ones (`(made up, shown)` pairs,
/// longest first) and every loopback port shown as 6443, for [`walkthrough`].
pub fn shown_as(text: &str, names: &[(&str, &str)]) -> String {
    let mut names = names.to_vec();
    names.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let mut out = text.to_string();
    for (from, to) in names {
        out = out.replace(from, to);
    }
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").expect("regex");
    port.replace_all(&out, "127.0.0.1:6443").into_owned()
}

//! Benchmark: Dromos side by side with Flux (source-controller + kustomize-controller) on the
//! same control plane, the same repository and the same Git server, in one invocation (issue 25).
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench flux -- [COUNT] [ROUNDS] [--flux-first] [--many SOURCES]
//!         [--many-rounds K] [--phase-timeout SECS] [--only dromos|flux]
//!
//! `DROMOS_BIN=PATH` runs that `dromos` binary instead of building this tree's (release) first.
//! A phase not done in 30 minutes (`--phase-timeout SECS`) ends the bench (a panic naming how
//! many sources were done); each phase's figures are printed as soon as it ends.
//!
//! Defaults: 10,000 ConfigMaps, 2 rounds (the order of the tools alternates from round to round),
//! no many-sources scenario. `tests/cluster/flux` builds Flux from the Go module proxy on first
//! use (about 6 minutes) and its CRDs come from the same modules.
//!
//! Each tool runs as its own process(es), started out of cluster with the cluster's kubeconfig
//! and stopped before the other tool starts, at its default settings (Dromos: `dromos
//! controller` with every operator; Flux: the two controllers with their defaults: 4 concurrent
//! Kustomizations, 4 concurrent server-side applies, no client-side rate limit because the API
//! server has priority and fairness). Both read one bare repository, served by `git
//! http-backend` on 127.0.0.1 (a fresh copy of the same commits for each tool).
//!
//! One source, COUNT ConfigMaps in files of 100 (no namespace in the files: Dromos'
//! `defaultNamespace`, Flux's `targetNamespace`):
//! * cold: from creating the source (GitSource; GitRepository + Kustomization) until its status
//!   reports the commit applied (Ready), then every ConfigMap is checked to exist;
//! * no-op: a reconcile asked for on the applied revision (`dromos.io/reconcile-requested-at` on
//!   the GitSource; `reconcile.fluxcd.io/requestedAt` on the Kustomization) until the status says
//!   it was handled;
//! * change: a commit changing one ConfigMap in one file, announced (Dromos: a signed push
//!   webhook; Flux: `requestedAt` on the GitRepository, as its notification Receiver does), until
//!   the status reports it applied;
//! * delete half: a commit removing half of the files, announced the same way, until the status
//!   reports it applied and half of the ConfigMaps are gone.
//!
//! With `--many SOURCES`, then SOURCES sources of 10 ConfigMaps each from one repository
//! (Flux: SOURCES Kustomizations on one GitRepository; Dromos: SOURCES GitSources of one URL):
//! all ready, then one commit touching every source until all report it applied. These rounds
//! run after every one-source round; `--many-rounds K` runs only the first K of them.
//!
//! Of each controller process the bench reads CPU seconds (utime + stime, /proc/PID/stat) per
//! phase, and the peak RSS (VmHWM, /proc/PID/status, reset through /proc/PID/clear_refs at the
//! start of each phase): Flux's figures are the sum of its two processes. Every row gives both
//! absolutes and the ratio Dromos/Flux of the same round. Nothing is asserted on time.

use dromos_tests::githttp::GitHttpServer;
use dromos_tests::repo::commit;
use dromos_tests::{Running, client, free_addr, install_crds};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// ConfigMaps per file in the one-source repository.
const PER_FILE: usize = 100;
/// ConfigMaps per source in the many-sources repository.
const PER_SOURCE: usize = 10;
/// Longest wait for one phase unless `--phase-timeout SECS` says otherwise.
const PHASE_TIMEOUT: Duration = Duration::from_secs(1800);
/// The longest wait for one phase of this invocation.
static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

fn phase_timeout() -> Duration {
    *TIMEOUT.get().unwrap_or(&PHASE_TIMEOUT)
}

/// Records what a phase cost and prints it at once (an invocation that ends early, a phase
/// timed out, still shows what it measured).
fn push(out: &mut Vec<(&'static str, Cost)>, tool: Tool, phase: &'static str, cost: Cost) {
    report(tool, phase, cost);
    out.push((phase, cost));
}
/// Shared secret of the Dromos push webhook.
const HOOK_SECRET: &str = "bench";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tool {
    Dromos,
    Flux,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Dromos => "Dromos",
            Tool::Flux => "Flux",
        }
    }
}

/// What one phase cost one tool.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    secs: f64,
    cpu: f64,
    peak_mib: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums: Vec<usize> = args.iter().take_while(|a| !a.starts_with("--")).filter_map(|a| a.parse().ok()).collect();
    let count = nums.first().copied().unwrap_or(10_000);
    let rounds = nums.get(1).copied().unwrap_or(2);
    let flux_first = args.iter().any(|a| a == "--flux-first");
    let value = |flag: &str| args.iter().position(|a| a == flag).map(|i| args.get(i + 1).and_then(|v| v.parse().ok()));
    let many = value("--many").map(|v| v.unwrap_or(1000));
    // `--many-rounds K`: the many-sources scenario in the first K rounds only (it is long).
    let many_rounds = value("--many-rounds").map(|v| v.expect("--many-rounds takes a number")).unwrap_or(rounds);
    if let Some(secs) = value("--phase-timeout") {
        TIMEOUT.set(Duration::from_secs(secs.expect("--phase-timeout takes seconds") as u64)).expect("set once");
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
    // `--only dromos` (or `flux`): that tool alone, absolutes only (no ratio without the peer).
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(|t| match t.as_str() {
        "dromos" => Tool::Dromos,
        "flux" => Tool::Flux,
        other => panic!("--only takes dromos or flux, not {other}"),
    });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    match only {
        Some(tool) => rt.block_on(run_one(tool, count, many)),
        None => rt.block_on(run(count, rounds, flux_first, many.map(|m| (m, many_rounds)))),
    }
}

/// One tool alone: its phases with their absolutes.
async fn run_one(tool: Tool, count: usize, many: Option<usize>) {
    let c = client().await;
    let flux = if tool == Tool::Flux { flux_dir() } else { PathBuf::new() };
    let dromos = std::env::var_os("DROMOS_BIN").map(PathBuf::from).unwrap_or_else(dromos_tests::dromos_bin);
    install_crds(&c).await;
    if tool == Tool::Flux {
        install_flux_crds(&c, &flux).await;
    }
    let env = Env { c, flux, dromos, clk_tck: clk_tck() };
    let mut phases = if count > 0 { one_source(&env, tool, count).await } else { vec![] };
    if let Some(sources) = many {
        phases.extend(many_sources(&env, tool, sources).await);
    }
    println!("\n| {} alone: phase | time | CPU s | peak RSS MiB |", tool.name());
    println!("|---|---|---|---|");
    for (phase, cost) in phases {
        println!("| {phase} | {:.1} s | {:.1} | {:.0} |", cost.secs, cost.cpu, cost.peak_mib);
    }
}

async fn run(count: usize, rounds: usize, flux_first: bool, many: Option<(usize, usize)>) {
    let c = client().await;
    let flux = flux_dir();
    // DROMOS_BIN: a `dromos` built beforehand (with a target directory shared by several
    // worktrees, the build `dromos_bin` starts may recompile, beside another build).
    let dromos = std::env::var_os("DROMOS_BIN").map(PathBuf::from).unwrap_or_else(dromos_tests::dromos_bin);
    install_crds(&c).await;
    install_flux_crds(&c, &flux).await;
    let env = Env { c, flux, dromos, clk_tck: clk_tck() };
    println!(
        "side by side: {count} ConfigMaps in one source, {rounds} round(s){}; Dromos {}, Flux {}",
        many.map(|(m, r)| format!(", then {m} sources of {PER_SOURCE} in {r} round(s)")).unwrap_or_default(),
        env.dromos.display(),
        env.flux.display()
    );
    let mut rows: Vec<(String, Cost, Cost)> = vec![];
    // Every round of the one-source scenario first, then the (long) many-sources rounds: an
    // invocation that ends in the latter keeps both orders of the former.
    let (sources, many_rounds) = many.unwrap_or((0, 0));
    let scenarios = (0..rounds).map(|r| (r, false)).chain((0..many_rounds).map(|r| (r, true)));
    for (round, many) in scenarios {
        let order =
            if (round % 2 == 0) != flux_first { [Tool::Dromos, Tool::Flux] } else { [Tool::Flux, Tool::Dromos] };
        let label = format!("round {} ({} first)", round + 1, order[0].name());
        let mut costs: Vec<(Tool, Vec<(&'static str, Cost)>)> = vec![];
        for tool in order {
            let phases =
                if many { many_sources(&env, tool, sources).await } else { one_source(&env, tool, count).await };
            costs.push((tool, phases));
        }
        let of = |t: Tool| costs.iter().find(|(x, _)| *x == t).map(|(_, p)| p.clone()).unwrap();
        let (d, f) = (of(Tool::Dromos), of(Tool::Flux));
        for ((phase, dc), (_, fc)) in d.iter().zip(f.iter()) {
            rows.push((format!("{label}: {phase}"), *dc, *fc));
        }
    }
    println!(
        "\n| round: phase | Dromos | Flux | time Dromos/Flux | CPU s Dromos / Flux | peak RSS MiB Dromos / Flux (ratio) |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, d, f) in rows {
        println!(
            "| {name} | {:.1} s | {:.1} s | **{:.2}** | {:.1} / {:.1} | {:.0} / {:.0} ({:.2}) |",
            d.secs,
            f.secs,
            d.secs / f.secs,
            d.cpu,
            f.cpu,
            d.peak_mib,
            f.peak_mib,
            d.peak_mib / f.peak_mib
        );
    }
}

/// What every run needs.
struct Env {
    c: Client,
    flux: PathBuf,
    dromos: PathBuf,
    clk_tck: f64,
}

/// The directory `tests/cluster/flux` built (source-controller, kustomize-controller, crds/).
fn flux_dir() -> PathBuf {
    let script = dromos_tests::chart::repo_root().join("tests/cluster/flux");
    let out = std::process::Command::new(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; the bench needs Go to build Flux", script.display()));
    assert!(out.status.success(), "{} failed: Flux could not be built from the Go module proxy", script.display());
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
}

/// Server-side applies Flux's CRDs (from the module source: source-controller watches all of
/// its kinds, so it needs them all) and waits until they are established.
async fn install_flux_crds(c: &Client, flux: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(flux.join("crds"))
        .expect("Flux CRDs")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let crds = files.iter().map(|path| {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_saphyr::from_str::<CustomResourceDefinition>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    });
    dromos_tests::apply_crds(c, crds.collect::<Vec<_>>(), "dromos-bench").await;
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system) of `pid` so far.
fn cpu_secs(pid: u32, clk_tck: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / clk_tck
}

/// Peak RSS (VmHWM) of `pid` in MiB since its start or the last [`reset_peak`].
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Resets the peak RSS of `pid` to its current RSS.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The controller processes of one tool, killed when dropped.
struct Controllers {
    procs: Vec<Running>,
    /// Dromos' webhook address.
    hook: Option<String>,
    clk_tck: f64,
}

impl Controllers {
    fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.0.id()).collect()
    }

    /// Starts measuring a phase: resets the peak RSS, returns the start (time, CPU seconds).
    fn begin(&self) -> (Instant, f64) {
        self.pids().into_iter().for_each(reset_peak);
        (Instant::now(), self.pids().into_iter().map(|p| cpu_secs(p, self.clk_tck)).sum())
    }

    /// The cost of the phase begun at `start`.
    fn end(&self, start: (Instant, f64)) -> Cost {
        let secs = start.0.elapsed().as_secs_f64();
        let cpu: f64 = self.pids().into_iter().map(|p| cpu_secs(p, self.clk_tck)).sum::<f64>() - start.1;
        let peak_mib = self.pids().into_iter().map(peak_mib).sum();
        Cost { secs, cpu, peak_mib }
    }
}

/// Starts `tool`'s controllers against the cluster of `KUBECONFIG`, logs in `dir`, and waits
/// until they answer `/readyz`.
async fn start(env: &Env, tool: Tool, dir: &Path) -> Controllers {
    let log = |name: &str| std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let spawn = |cmd: &mut std::process::Command, name: &str| {
        let out = log(name);
        let err = out.try_clone().unwrap();
        Running(cmd.stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("start {name}: {e}")))
    };
    let mut ready = vec![];
    let mut procs = vec![];
    let mut hook = None;
    match tool {
        Tool::Dromos => {
            let listen = free_addr();
            let mut cmd = std::process::Command::new(&env.dromos);
            cmd.arg("controller")
                .args(["--listen", &listen, "--webhook-secret", HOOK_SECRET])
                .arg("--cache-dir")
                .arg(dir.join("git-cache"))
                .env("RUST_LOG", "info");
            procs.push(spawn(&mut cmd, "dromos"));
            ready.push(listen.clone());
            hook = Some(listen);
        }
        Tool::Flux => {
            let (storage, src_health, kus_health) = (free_addr(), free_addr(), free_addr());
            std::fs::create_dir_all(dir.join("storage")).unwrap();
            let mut src = std::process::Command::new(env.flux.join("source-controller"));
            src.args(["--enable-leader-election=false", "--metrics-addr=0", "--watch-all-namespaces=true"])
                .arg(format!("--health-addr={src_health}"))
                .arg(format!("--storage-addr={storage}"))
                .arg(format!("--storage-adv-addr={storage}"))
                .arg(format!("--storage-path={}", dir.join("storage").display()));
            procs.push(spawn(&mut src, "source-controller"));
            let mut kus = std::process::Command::new(env.flux.join("kustomize-controller"));
            kus.args(["--enable-leader-election=false", "--metrics-addr=0", "--watch-all-namespaces=true"])
                .arg(format!("--health-addr={kus_health}"));
            procs.push(spawn(&mut kus, "kustomize-controller"));
            ready.push(src_health);
            ready.push(kus_health);
        }
    }
    let mut controllers = Controllers { procs, hook, clk_tck: env.clk_tck };
    for addr in ready {
        let t = Instant::now();
        loop {
            if let Some((200, _)) = dromos_tests::http_get(&addr, "/readyz").await {
                break;
            }
            for p in controllers.procs.iter_mut() {
                if let Ok(Some(s)) = p.0.try_wait() {
                    panic!("{} exited ({s}) before it was ready; its log is in {}", tool.name(), dir.display());
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "{} not ready in 120 s (logs: {})",
                tool.name(),
                dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    controllers
}

/// A YAML file of ConfigMaps `{prefix}-{from}` .. `{prefix}-{from + n - 1}`, with value `v`.
fn cm_file(prefix: &str, from: usize, n: usize, v: usize) -> String {
    (from..from + n)
        .map(|i| {
            format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {prefix}-{i}\ndata:\n  v: \"{v}\"\n")
        })
        .collect()
}

/// A bare repository `bench.git` under a new directory, and its first commit of `files`.
fn repository(files: &[(String, String)]) -> (tempfile::TempDir, git2::Repository, git2::Oid) {
    let root = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(root.path().join("bench.git")).unwrap();
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let c1 = commit(&repo, "main", &refs, "first");
    (root, repo, c1)
}

/// A fresh namespace for one tool's run.
async fn namespace(c: &Client, tool: Tool) -> String {
    let name = format!("bench-{}-{}", tool.name().to_lowercase(), dromos_tests::unique_suffix());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(c.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
    name
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() { version.into() } else { format!("{group}/{version}") },
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn gitsources() -> ApiResource {
    resource("dromos.io", "v1alpha1", "GitSource", "gitsources")
}
fn gitrepositories() -> ApiResource {
    resource("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories")
}
fn kustomizations() -> ApiResource {
    resource("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations")
}

fn api(c: &Client, ns: &str, ar: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(c.clone(), ns, ar)
}

/// Creates `tool`'s sources in `ns`: one per path, named `s-<i>`, reading `url`. Flux's
/// GitRepository comes first, and its Kustomizations once it has stored the artifact of
/// `revision`: a Kustomization created before finds no artifact and retries only after
/// `--requeue-dependency` (30 s), while its watch of the GitRepository starts a reconcile at
/// once; the pending retry then starts a second full reconcile right after the first.
async fn create_sources(c: &Client, tool: Tool, ns: &str, url: &str, paths: &[String], revision: &str) {
    let mut objects = vec![];
    if tool == Tool::Flux {
        let repo: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "bench"},
            "spec": {"url": url, "ref": {"branch": "main"}, "interval": "1h", "timeout": "120s"}
        }))
        .unwrap();
        let repos = api(c, ns, &gitrepositories());
        repos.create(&PostParams::default(), &repo).await.expect("create GitRepository");
        let t = Instant::now();
        loop {
            let r = repos.get("bench").await.expect("GitRepository");
            if r.data["status"]["artifact"]["revision"].as_str().is_some_and(|r| r.ends_with(revision)) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(300), "Flux: no artifact after 300 s: {}", r.data["status"]);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for (i, path) in paths.iter().enumerate() {
        let name = format!("s-{i}");
        objects.push(match tool {
            Tool::Dromos => (
                gitsources(),
                json!({
                    "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": name},
                    "spec": {"url": url, "ref": {"branch": "main"}, "path": path, "interval": "1h", "prune": true,
                             "defaultNamespace": ns, "allowMassDelete": true}
                }),
            ),
            Tool::Flux => (
                kustomizations(),
                json!({
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": name},
                    "spec": {"sourceRef": {"kind": "GitRepository", "name": "bench"}, "path": format!("./{path}"),
                             "interval": "1h", "prune": true, "targetNamespace": ns, "timeout": "30m"}
                }),
            ),
        });
    }
    futures::stream::iter(objects)
        .for_each_concurrent(32, |(ar, v)| {
            let api = api(c, ns, &ar);
            async move {
                let obj: DynamicObject = serde_json::from_value(v).unwrap();
                api.create(&PostParams::default(), &obj).await.expect("create source");
            }
        })
        .await;
}

/// The objects whose status says what was applied: GitSources or Kustomizations.
fn applier(tool: Tool) -> ApiResource {
    match tool {
        Tool::Dromos => gitsources(),
        Tool::Flux => kustomizations(),
    }
}

/// Whether `obj`'s status is Ready with `revision` applied (and, with `handled`, that reconcile
/// request handled).
fn done(obj: &DynamicObject, revision: &str, handled: Option<&str>) -> bool {
    let s = &obj.data["status"];
    let ready =
        s["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    let applied = s["lastAppliedRevision"].as_str().is_some_and(|r| r.ends_with(revision));
    ready && applied && handled.is_none_or(|h| s["lastHandledReconcileAt"] == h)
}

/// Waits until all `n` appliers of `tool` in `ns` report `revision` applied (and `handled`).
async fn wait_applied(c: &Client, tool: Tool, ns: &str, n: usize, revision: &str, handled: Option<&str>, what: &str) {
    let api = api(c, ns, &applier(tool));
    let t = Instant::now();
    let mut last = 0;
    loop {
        if n == 1 {
            if let Ok(o) = api.get("s-0").await {
                if done(&o, revision, handled) {
                    return;
                }
                last = 0;
            }
        } else if let Ok(list) = api.list(&ListParams::default()).await {
            last = list.items.iter().filter(|o| done(o, revision, handled)).count();
            if last >= n {
                return;
            }
        }
        if t.elapsed() > phase_timeout() {
            let status = api.get("s-0").await.map(|o| o.data["status"].to_string()).unwrap_or_default();
            panic!(
                "{}: {what} not done after {:?} ({last} of {n}); s-0 status: {status}",
                tool.name(),
                phase_timeout()
            );
        }
        tokio::time::sleep(Duration::from_millis(if n == 1 { 100 } else { 500 })).await;
    }
}

/// Asks for a reconcile of the object `name` of `ar` in `ns`; returns the token the status
/// echoes once it was handled.
async fn request_reconcile(c: &Client, tool: Tool, ns: &str, ar: &ApiResource, name: &str) -> String {
    let token = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let key = match tool {
        Tool::Dromos => "dromos.io/reconcile-requested-at",
        Tool::Flux => "reconcile.fluxcd.io/requestedAt",
    };
    let patch = json!({"metadata": {"annotations": {key: token}}});
    api(c, ns, ar).patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("request reconcile");
    token
}

/// Announces a new commit of `url`: Dromos gets a signed GitHub push webhook, Flux a reconcile
/// request on its GitRepository (what Flux's notification Receiver does on a push).
async fn announce(c: &Client, tool: Tool, ns: &str, ctl: &Controllers, url: &str) {
    match tool {
        Tool::Dromos => {
            let body = json!({"ref": "refs/heads/main", "repository": {"clone_url": url}}).to_string();
            dromos_tests::post_push_hook(ctl.hook.as_deref().unwrap(), &body, HOOK_SECRET).await;
        }
        Tool::Flux => {
            request_reconcile(c, tool, ns, &gitrepositories(), "bench").await;
        }
    }
}

/// The bench's ConfigMaps (`cm-` names) in `ns`.
async fn count_cms(c: &Client, ns: &str) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), ns);
    let mut n = 0;
    let mut lp = ListParams::default().limit(2000);
    loop {
        let page = api.list_metadata(&lp).await.expect("list ConfigMaps");
        n += page.items.iter().filter(|m| m.metadata.name.as_deref().is_some_and(|x| x.starts_with("cm-"))).count();
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => lp = lp.continue_token(&t),
            None => return n,
        }
    }
}

/// Waits until `ns` holds exactly `n` bench ConfigMaps (not timed: a check).
async fn expect_cms(c: &Client, tool: Tool, ns: &str, n: usize) {
    let t = Instant::now();
    loop {
        let have = count_cms(c, ns).await;
        if have == n {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(300), "{}: {have} ConfigMaps in {ns}, expected {n}", tool.name());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Stops the controllers, then removes `ns` (finalizers of the sources released first) and waits
/// until it is gone, so the next run starts on a quiet API server.
async fn teardown(c: &Client, ctl: Controllers, ns: &str) {
    drop(ctl);
    for ar in [gitsources(), gitrepositories(), kustomizations()] {
        let api = api(c, ns, &ar);
        let list = api.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
        futures::stream::iter(list)
            .for_each_concurrent(32, |o| {
                let api = api.clone();
                async move {
                    if o.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
                        let patch = json!({"metadata": {"finalizers": null}});
                        let _ =
                            api.patch(&o.metadata.name.unwrap(), &PatchParams::default(), &Patch::Merge(&patch)).await;
                    }
                }
            })
            .await;
    }
    let nss: Api<Namespace> = Api::all(c.clone());
    let _ = nss.delete(ns, &DeleteParams::background()).await;
    let t = Instant::now();
    while nss.get_opt(ns).await.ok().flatten().is_some() {
        assert!(t.elapsed() < Duration::from_secs(900), "namespace {ns} not gone after 900 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn report(tool: Tool, phase: &str, cost: Cost) {
    println!(
        "  {:<6} {phase:<22} {:>8.1} s   CPU {:>7.1} s   peak RSS {:>6.0} MiB",
        tool.name(),
        cost.secs,
        cost.cpu,
        cost.peak_mib
    );
}

/// A directory for one run's logs, Git cache and Flux storage, kept after the bench (the logs
/// say where time went; the next run of the same tool removes it).
fn logs_dir(tool: Tool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dromos-bench-flux-{}", tool.name().to_lowercase()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One source of `count` ConfigMaps: cold, no-op, one-file change, deletion of half.
async fn one_source(env: &Env, tool: Tool, count: usize) -> Vec<(&'static str, Cost)> {
    let c = &env.c;
    let files: Vec<(String, String)> = (0..count.div_ceil(PER_FILE))
        .map(|f| (format!("cms/f-{f:04}.yaml"), cm_file("cm", f * PER_FILE, PER_FILE.min(count - f * PER_FILE), 0)))
        .collect();
    let Stage { root: _root, repo, c1, server, url, ns, ctl } =
        stage(env, tool, &files, &format!("{count} ConfigMaps")).await;
    let mut out = vec![];

    let t = ctl.begin();
    create_sources(c, tool, &ns, &url, &["cms".to_string()], &c1.to_string()).await;
    wait_applied(c, tool, &ns, 1, &c1.to_string(), None, "cold sync").await;
    push(&mut out, tool, "cold apply", ctl.end(t));
    expect_cms(c, tool, &ns, count).await;

    let t = ctl.begin();
    let token = request_reconcile(c, tool, &ns, &applier(tool), "s-0").await;
    wait_applied(c, tool, &ns, 1, &c1.to_string(), Some(&token), "no-op reconcile").await;
    push(&mut out, tool, "no-op reconcile", ctl.end(t));

    let c2 = commit(&repo, "main", &[(&files[0].0, Some(&cm_file("cm", 0, PER_FILE.min(count), 1)))], "one file");
    let t = ctl.begin();
    announce(c, tool, &ns, &ctl, &url).await;
    wait_applied(c, tool, &ns, 1, &c2.to_string(), None, "one-file change").await;
    push(&mut out, tool, "one-file change", ctl.end(t));
    let cm = Api::<ConfigMap>::namespaced(c.clone(), &ns).get("cm-0").await.expect("cm-0");
    assert_eq!(cm.data.unwrap_or_default().get("v").map(String::as_str), Some("1"), "{}: cm-0 changed", tool.name());

    let half = files.len() / 2;
    let removed: Vec<(&str, Option<&str>)> = files[half..].iter().map(|(p, _)| (p.as_str(), None)).collect();
    let c3 = commit(&repo, "main", &removed, "delete half");
    let kept = (half * PER_FILE).min(count);
    let t = ctl.begin();
    announce(c, tool, &ns, &ctl, &url).await;
    wait_applied(c, tool, &ns, 1, &c3.to_string(), None, "deletion of half").await;
    push(&mut out, tool, "delete half", ctl.end(t));
    expect_cms(c, tool, &ns, kept).await;

    finish(c, ctl, &ns, server).await;
    out
}

/// What a group of phases runs against: the repository and its Git server, the tool's
/// namespace and its controllers.
struct Stage {
    root: tempfile::TempDir,
    repo: git2::Repository,
    c1: git2::Oid,
    server: GitHttpServer,
    url: String,
    ns: String,
    ctl: Controllers,
}

/// Commits `files`, serves them, makes the tool's namespace and starts its controllers.
async fn stage(env: &Env, tool: Tool, files: &[(String, String)], what: &str) -> Stage {
    let (root, repo, c1) = repository(files);
    let server = GitHttpServer::open(root.path());
    let url = format!("http://{}/bench.git", server.addr);
    let ns = namespace(&env.c, tool).await;
    let logs = logs_dir(tool);
    let ctl = start(env, tool, &logs).await;
    println!("{} ({what}, namespace {ns}, logs {}):", tool.name(), logs.display());
    Stage { root, repo, c1, server, url, ns, ctl }
}

/// Stops the controllers, deletes the namespace and the Git server (the phases were printed
/// as they ended, by [`push`]).
async fn finish(c: &Client, ctl: Controllers, ns: &str, server: GitHttpServer) {
    teardown(c, ctl, ns).await;
    drop(server);
}

/// `sources` sources of [`PER_SOURCE`] ConfigMaps each: all ready, then one commit touching all.
async fn many_sources(env: &Env, tool: Tool, sources: usize) -> Vec<(&'static str, Cost)> {
    let c = &env.c;
    let paths: Vec<String> = (0..sources).map(|i| format!("s-{i:04}")).collect();
    let file = |i: usize, v: usize| (format!("{}/cms.yaml", paths[i]), cm_file(&format!("cm-{i}"), 0, PER_SOURCE, v));
    let files: Vec<(String, String)> = (0..sources).map(|i| file(i, 0)).collect();
    let Stage { root: _root, repo, c1, server, url, ns, ctl } =
        stage(env, tool, &files, &format!("{sources} sources of {PER_SOURCE}")).await;
    let mut out = vec![];

    let t = ctl.begin();
    create_sources(c, tool, &ns, &url, &paths, &c1.to_string()).await;
    wait_applied(c, tool, &ns, sources, &c1.to_string(), None, "all sources ready").await;
    push(&mut out, tool, "many: all ready", ctl.end(t));
    expect_cms(c, tool, &ns, sources * PER_SOURCE).await;

    let changed: Vec<(String, String)> = (0..sources).map(|i| file(i, 1)).collect();
    let refs: Vec<(&str, Option<&str>)> = changed.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let c2 = commit(&repo, "main", &refs, "touch every source");
    let t = ctl.begin();
    announce(c, tool, &ns, &ctl, &url).await;
    wait_applied(c, tool, &ns, sources, &c2.to_string(), None, "commit touching every source").await;
    push(&mut out, tool, "many: commit to all", ctl.end(t));

    finish(c, ctl, &ns, server).await;
    out
}

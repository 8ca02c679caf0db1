//! Benchmark: the App operator at scale on KWOK nodes.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench apps        # args: APPS [INSTANCES] [NODES] [CONCURRENCY]
//!
//!     cargo bench -p dromos-tests --bench apps -- --floor 500 4 100 64 --rounds 2
//!
//! Defaults: 2,500 Apps of 4 instances (10,000 pods) on 500 fake nodes, as many Apps reconciled
//! at once as `dromos controller` does by default (64).
//!
//! `--floor`: the same pods three ways on the same nodes, one after the other, each in a namespace
//! of its own that is gone before the next starts: the **floor** (each App rendered with
//! `placementMode: native` and its Deployment, Service and PodDisruptionBudget applied directly:
//! kube-scheduler, no operator), **Apps, native** (the operator, kube-scheduler) and **Apps,
//! exact** (the operator and the Dromos scheduler: the default). Each is timed from the first
//! write to every instance ready (floor: the Deployments' ready replicas; Apps: status healthy;
//! both seen through a watch, which costs the API server as little on either side),
//! and reported as instances per second and the ratio to the floor of the same round, with the
//! CPU seconds each control-plane process spent on it (read through the pids `tests/cluster/up`
//! records beside the kubeconfig; none when the cluster is not one of those). Rounds
//! alternate the order; with more than one, the bench ends with each way's rate over all rounds
//! (its summed times) against the floor's, and the spread of the per-round ratios. Creates the nodes, starts the operator in-process (scoped to one namespace), creates
//! every App at once (exact placement: the Dromos scheduler runs in-process too) and measures until every App reports Running with all instances healthy.
//! Then touches a label on every App (a change that renders to nothing new) and counts the
//! operator's mutating requests per reconcile. Prints the process's CPU time and peak RSS (the
//! operator and the bench's own client share the process). Fails, never skips, without a cluster.

use dromos::operators::{apps, manager::ManagerOptions, scheduler};
use dromos::procstat::{cpu_seconds, cpu_seconds_of, peak_rss_mib};
use dromos_crds::App;
use dromos_tests::{FakeNodes, NodeSpec, TestNamespace, client, install_crds, unique_suffix};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The allocator of the `dromos` binary (controller/src/main.rs): the operators measured here run
/// in this process as they would in `dromos controller`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bench's arguments: APPS [INSTANCES] [NODES] [CONCURRENCY] [--floor] [--rounds R].
struct Args {
    n_apps: usize,
    instances: usize,
    n_nodes: usize,
    concurrency: u16,
    floor: bool,
    rounds: usize,
    /// `--ways floor,appsnative,appsexact`: only these (all when empty).
    ways: Vec<String>,
}

fn parse_args() -> Args {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let rounds = raw.iter().position(|a| a == "--rounds").and_then(|i| raw.get(i + 1)?.parse().ok()).unwrap_or(1);
    let ways = raw
        .iter()
        .position(|a| a == "--ways")
        .and_then(|i| raw.get(i + 1))
        .map(|w| w.split(',').map(str::to_lowercase).collect())
        .unwrap_or_default();
    let args: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || (raw[i - 1] != "--rounds" && raw[i - 1] != "--ways"))
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let floor = raw.iter().any(|a| a == "--floor");
    Args {
        n_apps: args.first().copied().unwrap_or(if floor { 500 } else { 2_500 }),
        instances: args.get(1).copied().unwrap_or(4),
        n_nodes: args.get(2).copied().unwrap_or(if floor { 100 } else { 500 }),
        concurrency: args.get(3).map(|&c| c as u16).unwrap_or(apps::DEFAULT_CONCURRENCY),
        floor,
        rounds,
        ways,
    }
}

#[tokio::main]
async fn main() {
    // Failed reconciles are logged at warn (RUST_LOG=dromos=debug also shows conflicts).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
    let args = parse_args();
    if args.floor {
        return side_by_side(&args).await;
    }
    let Args { n_apps, instances, n_nodes, concurrency, .. } = args;
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "bench-apps").await;
    let group = format!("g{}", unique_suffix());
    let nodes = create_nodes(&c, n_nodes, &group).await;

    // Apps default to exact placement: the Dromos scheduler binds their pods.
    let (m, operators) = dromos_tests::operators(
        &c,
        ManagerOptions {
            scope: dromos::scope::Scope::namespace(ns.name.clone()),
            apps: Some(apps::Options { concurrency, ..Default::default() }),
            scheduler: Some(scheduler::Options { offers: false, ..Default::default() }),
            ..Default::default()
        },
    );
    let ctx = m.context::<apps::Context>().expect("the App operator");
    let cpu0 = cpu_seconds();
    let api = ns.api::<App>();
    let start = Instant::now();
    create_apps(&api, n_apps, instances, &group).await;
    let created = start.elapsed();
    println!("{n_apps} Apps created in {:.1} s", created.as_secs_f64());
    wait_all_healthy(&api, &ctx, &ns.name, n_apps, instances, start).await;
    report_convergence(start.elapsed(), cpu_seconds() - cpu0, n_apps, instances);

    measure_noop_pass(&api, &ctx, n_apps).await;
    drop(operators);
    ns.delete().await;
    nodes.delete().await;
}

/// `n_nodes` fake nodes in three zones, labelled with the bench's `group`.
async fn create_nodes(c: &kube::Client, n_nodes: usize, group: &str) -> FakeNodes {
    let t = Instant::now();
    let mut spec = NodeSpec::new("bench", n_nodes);
    spec.labels.insert("testgroup".into(), group.into());
    spec.zones = vec!["zone-a".into(), "zone-b".into(), "zone-c".into()];
    let nodes = FakeNodes::create(c, &spec).await;
    println!("{n_nodes} nodes ready in {:.1} s", t.elapsed().as_secs_f64());
    nodes
}

/// The App `svc-{i}` of the bench: `instances` of a small container on the bench's nodes.
fn app_json(i: usize, instances: usize, group: &str, native: bool) -> serde_json::Value {
    let mut app = serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"name": format!("svc-{i}")},
        "spec": {"instances": instances, "cpus": 0.01, "mem": 16,
                 "container": {"docker": {"image": "nginx:1.27"}},
                 "constraints": [["testgroup", "IS", group]]}
    });
    if native {
        app["spec"]["placementMode"] = "native".into();
    }
    app
}

/// Creates the Apps `svc-0` .. `svc-{n_apps - 1}`, 64 requests at once.
async fn create_apps(api: &Api<App>, n_apps: usize, instances: usize, group: &str) {
    create_apps_placed(api, n_apps, instances, group, false).await
}

async fn create_apps_placed(api: &Api<App>, n_apps: usize, instances: usize, group: &str, native: bool) {
    futures::stream::iter(0..n_apps)
        .for_each_concurrent(64, |i| {
            let api = api.clone();
            let app: App = serde_json::from_value(app_json(i, instances, group, native)).unwrap();
            async move {
                api.create(&PostParams::default(), &app).await.unwrap();
            }
        })
        .await;
}

/// The three ways to the same pods.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    /// The App's native render applied directly: kube-scheduler, no operator.
    Floor,
    /// Apps with `placementMode: native`: the operator, kube-scheduler.
    AppsNative,
    /// Apps as written (exact placement): the operator and the Dromos scheduler.
    AppsExact,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Floor => "floor: rendered objects applied directly",
            Way::AppsNative => "Apps, native placement (operator + kube-scheduler)",
            Way::AppsExact => "Apps, exact placement (operator + Dromos scheduler)",
        }
    }
}

/// One way's figures.
struct Run {
    way: Way,
    seconds: f64,
    cpu: f64,
    writes: usize,
    /// CPU seconds of each control-plane process during the way.
    plane: Vec<(String, f64)>,
}

/// The control plane's processes, `(name, pid)`, from the `pids` file `tests/cluster/up` writes
/// beside the kubeconfig; empty for any other cluster.
fn control_plane() -> Vec<(String, u32)> {
    let Some(kubeconfig) = std::env::var_os("KUBECONFIG") else { return vec![] };
    let pids = std::path::Path::new(&kubeconfig).with_file_name("pids");
    std::fs::read_to_string(pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, pid) = l.split_once(' ')?;
            Some((name.to_string(), pid.trim().parse().ok()?))
        })
        .collect()
}

/// `--floor`: the floor and both kinds of Apps, same nodes, alternating order per round.
async fn side_by_side(args: &Args) {
    let c = client().await;
    install_crds(&c).await;
    let group = format!("g{}", unique_suffix());
    let nodes = create_nodes(&c, args.n_nodes, &group).await;
    let total = args.n_apps * args.instances;
    println!(
        "{} Apps x {} instances ({total} pods) on {} nodes, {} Apps reconciled at once, {} round(s)",
        args.n_apps, args.instances, args.n_nodes, args.concurrency, args.rounds
    );
    let mut all: Vec<Vec<Run>> = vec![];
    for round in 1..=args.rounds {
        let mut order = vec![Way::Floor, Way::AppsNative, Way::AppsExact];
        order.retain(|w| args.ways.is_empty() || args.ways.contains(&format!("{w:?}").to_lowercase()));
        if round % 2 == 0 {
            order.reverse();
        }
        let mut runs = vec![];
        for &way in &order {
            let r = run_way(&c, args, way, &group).await;
            println!(
                "  round {round}: {}: {:.1} s ({:.1} instances/s), CPU {:.1} s, operator writes {}",
                way.label(),
                r.seconds,
                total as f64 / r.seconds,
                r.cpu,
                r.writes
            );
            if !r.plane.is_empty() {
                let each: Vec<String> = r.plane.iter().map(|(n, c)| format!("{n} {c:.1}")).collect();
                let sum: f64 = r.plane.iter().map(|(_, c)| c).sum();
                println!("    control plane CPU s: {sum:.1} ({})", each.join(", "));
            }
            runs.push(r);
        }
        let floor = runs.iter().find(|r| r.way == Way::Floor).map(|r| total as f64 / r.seconds).unwrap_or(f64::NAN);
        println!("round {round} (order: {})", order.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(", "));
        println!(
            "| way | all ready | instances/s | ratio to the floor | process CPU s | control plane CPU s | operator writes |"
        );
        println!("|---|---|---|---|---|---|---|");
        for r in &runs {
            let rate = total as f64 / r.seconds;
            println!(
                "| {} | {:.1} s | {rate:.1} | **{:.2}** | {:.1} | {:.1} | {} |",
                r.way.label(),
                r.seconds,
                rate / floor,
                r.cpu,
                r.plane.iter().map(|(_, c)| c).sum::<f64>(),
                r.writes
            );
        }
        all.push(runs);
    }
    if args.rounds > 1 {
        print_summary(&all, total);
    }
    println!("peak RSS of the bench process (operators, scheduler, client): {:.0} MiB", peak_rss_mib());
    nodes.delete().await;
}

/// Over every round: each way's rate from its summed times (the run's ratio), and the spread of
/// the per-round ratios. On a shared 2-core VM the floor alone moves by a tenth between
/// consecutive runs; one round's ratio carries that noise, the sum over alternating rounds less.
fn print_summary(rounds: &[Vec<Run>], total: usize) {
    let of = |round: &[Run], way: Way| round.iter().find(|r| r.way == way).map(|r| r.seconds);
    let rate = |way: Way| {
        let seconds: Vec<f64> = rounds.iter().filter_map(|round| of(round, way)).collect();
        (seconds.len() as f64 * total as f64 / seconds.iter().sum::<f64>(), seconds.len())
    };
    let (floor, _) = rate(Way::Floor);
    println!("all rounds");
    println!(
        "| way | rounds | instances/s over all rounds | ratio to the floor | per-round ratios (min / median / max) |"
    );
    println!("|---|---|---|---|---|");
    for way in [Way::Floor, Way::AppsNative, Way::AppsExact] {
        let (r, n) = rate(way);
        if n == 0 {
            continue;
        }
        // Each round's ratio: this way against the floor of the same round.
        let mut ratios: Vec<f64> =
            rounds.iter().filter_map(|round| Some(of(round, Way::Floor)? / of(round, way)?)).collect();
        ratios.sort_by(f64::total_cmp);
        let spread = match ratios.as_slice() {
            [] => "-".to_string(),
            rs => format!("{:.2} / {:.2} / {:.2}", rs[0], median(rs), rs[rs.len() - 1]),
        };
        println!("| {} | {n} | {r:.1} | **{:.2}** | {spread} |", way.label(), r / floor);
    }
}

/// The median of sorted `xs` (not empty).
fn median(xs: &[f64]) -> f64 {
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2.0 }
}

/// Creates the pods one way in a namespace of their own, waits until every instance is ready,
/// then deletes the namespace and waits until it is gone.
async fn run_way(c: &kube::Client, args: &Args, way: Way, group: &str) -> Run {
    let ns = TestNamespace::new(c, "bench-floor").await;
    let operators = (way != Way::Floor).then(|| {
        dromos_tests::operators(
            c,
            ManagerOptions {
                scope: dromos::scope::Scope::namespace(ns.name.clone()),
                apps: Some(apps::Options { concurrency: args.concurrency, ..Default::default() }),
                scheduler: (way == Way::AppsExact).then(|| scheduler::Options { offers: false, ..Default::default() }),
                ..Default::default()
            },
        )
    });
    let plane = control_plane();
    let plane0: Vec<f64> = plane.iter().map(|(_, pid)| cpu_seconds_of(*pid)).collect();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    match &operators {
        None => {
            apply_rendered(c, &ns.name, args.n_apps, args.instances, group).await;
            wait_deployments_ready(c, &ns.name, args.n_apps * args.instances, start).await;
        }
        Some((m, _)) => {
            let ctx = m.context::<apps::Context>().expect("the App operator");
            let api = ns.api::<App>();
            create_apps_placed(&api, args.n_apps, args.instances, group, way == Way::AppsNative).await;
            wait_all_healthy(&api, &ctx, &ns.name, args.n_apps, args.instances, start).await;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let plane = plane.into_iter().zip(plane0).map(|((name, pid), c0)| (name, cpu_seconds_of(pid) - c0)).collect();
    if let Some(sched) = operators.as_ref().and_then(|(m, _)| m.context::<scheduler::Context>()) {
        println!(
            "  scheduler: {} cycles, {:.1} s in cycles, {} binds, {} bind failures, {} placement writes, {} deletion-cost writes",
            sched.cycles.load(Ordering::Relaxed),
            sched.cycle_micros.load(Ordering::Relaxed) as f64 / 1e6,
            sched.binds.load(Ordering::Relaxed),
            sched.bind_failures.load(Ordering::Relaxed),
            sched.status_writes.load(Ordering::Relaxed),
            sched.cost_writes.load(Ordering::Relaxed),
        );
    }
    let writes = operators
        .as_ref()
        .and_then(|(m, _)| m.context::<apps::Context>())
        .map(|ctx| ctx.writes.load(Ordering::Relaxed))
        .unwrap_or(0);
    drop(operators);
    let name = ns.name.clone();
    ns.delete().await;
    wait_namespace_gone(c, &name).await;
    Run { way, seconds, cpu, writes, plane }
}

/// The floor: every App rendered as `dromos render` does (native placement) and its objects
/// server-side applied, 64 at once.
async fn apply_rendered(c: &kube::Client, ns: &str, n_apps: usize, instances: usize, group: &str) {
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service, policy::v1::PodDisruptionBudget};
    use kube::api::{ApiResource, DynamicObject};
    let resource = |kind: &str| match kind {
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "PodDisruptionBudget" => ApiResource::erase::<PodDisruptionBudget>(&()),
        other => panic!("the App renders a {other}: add it to the floor"),
    };
    let opts = dromos_core::LoadOptions { default_namespace: ns.to_string(), ..Default::default() };
    let mut objects = vec![];
    for i in 0..n_apps {
        let tree = dromos_core::check_live("bench", &app_json(i, instances, group, true), &opts);
        assert!(tree.is_valid(), "{:?}", tree.diagnostics);
        let m = &tree.manifests[0];
        let dromos_core::Typed::App(app) = &m.typed else { panic!("not an App") };
        for mut o in dromos_core::translate::render_app(m, app, &Default::default()).objects {
            o["metadata"]["namespace"] = ns.into();
            objects.push(o);
        }
    }
    futures::stream::iter(objects)
        .for_each_concurrent(64, |o| {
            let ar = resource(o["kind"].as_str().unwrap_or_default());
            let api: Api<DynamicObject> = Api::namespaced_with(c.clone(), ns, &ar);
            async move {
                let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
                api.patch(&name, &PatchParams::apply("bench-floor"), &Patch::Apply(&o)).await.unwrap();
            }
        })
        .await;
}

/// Watches the Deployments of `ns` until they have `total` ready replicas. A watch, not a list
/// polled every second: listing 500 objects a second cost the API server more CPU for Apps (a
/// custom resource, served as unstructured JSON) than for Deployments, so the observer loaded
/// the side it measured.
async fn wait_deployments_ready(c: &kube::Client, ns: &str, total: usize, start: Instant) {
    let api: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(c.clone(), ns);
    let ready_of = |d: &k8s_openapi::api::apps::v1::Deployment| {
        d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0).max(0) as usize
    };
    let mut ready: HashMap<String, usize> = HashMap::new();
    let mut last_print = Instant::now();
    let watch = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let done = async {
        futures::pin_mut!(watch);
        while let Some(ev) = watch.next().await {
            match ev.expect("watching Deployments") {
                watcher::Event::Apply(d) | watcher::Event::InitApply(d) => {
                    ready.insert(d.name_any(), ready_of(&d));
                }
                watcher::Event::Delete(d) => {
                    ready.remove(&d.name_any());
                }
                watcher::Event::Init => ready.clear(),
                watcher::Event::InitDone => {}
            }
            let sum: usize = ready.values().sum();
            if sum >= total {
                return;
            }
            if last_print.elapsed() > Duration::from_secs(15) {
                println!("  {:.0} s: {sum} of {total} replicas ready", start.elapsed().as_secs_f64());
                last_print = Instant::now();
            }
        }
        panic!("the watch of Deployments ended");
    };
    tokio::time::timeout(Duration::from_secs(3600), done).await.expect("not ready within an hour");
}

/// Waits until namespace `name` is gone, so the next way starts on a quiet API server.
async fn wait_namespace_gone(c: &kube::Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    let t = Instant::now();
    while api.get_opt(name).await.ok().flatten().is_some() {
        assert!(t.elapsed() < Duration::from_secs(900), "namespace {name} not gone after 15 minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Watches the Apps until all `n_apps` run with all instances healthy (a watch, as
/// [`wait_deployments_ready`]), printing progress every 15 s (and, after a minute without
/// change, a few unfinished Apps).
async fn wait_all_healthy(
    api: &Api<App>,
    ctx: &apps::Context,
    ns: &str,
    n_apps: usize,
    instances: usize,
    start: Instant,
) {
    let is_healthy = |a: &App| {
        a.status.as_ref().is_some_and(|s| s.state.as_deref() == Some("Running") && s.healthy == Some(instances as i32))
    };
    let mut apps: HashMap<String, App> = HashMap::new();
    let mut last_print = Instant::now();
    let mut last_change = (0, Instant::now());
    let watch = watcher::watcher(api.clone(), watcher::Config::default()).default_backoff();
    let done = async {
        futures::pin_mut!(watch);
        while let Some(ev) = watch.next().await {
            match ev.expect("watching Apps") {
                watcher::Event::Apply(a) | watcher::Event::InitApply(a) => {
                    apps.insert(a.name_any(), a);
                }
                watcher::Event::Delete(a) => {
                    apps.remove(&a.name_any());
                }
                watcher::Event::Init => apps.clear(),
                watcher::Event::InitDone => {}
            }
            let healthy = apps.values().filter(|a| is_healthy(a)).count();
            if healthy == n_apps {
                return;
            }
            if healthy != last_change.0 {
                last_change = (healthy, Instant::now());
            }
            if last_print.elapsed() > Duration::from_secs(15) {
                let (apps_seen, pods_seen) = ctx.seen();
                println!(
                    "  {:.0} s: {healthy} of {n_apps} Apps healthy; operator sees {apps_seen} Apps, {pods_seen} pods; \
                     {} reconciles, {} failed, {} writes",
                    start.elapsed().as_secs_f64(),
                    ctx.reconciles.load(Ordering::Relaxed),
                    ctx.failures.load(Ordering::Relaxed),
                    ctx.writes.load(Ordering::Relaxed),
                );
                last_print = Instant::now();
                if last_change.1.elapsed() > Duration::from_secs(60) {
                    let items: Vec<App> = apps.values().cloned().collect();
                    print_stuck(&items, ctx, ns, instances);
                }
            }
        }
        panic!("the watch of Apps ended");
    };
    tokio::time::timeout(Duration::from_secs(3600), done).await.expect("not converged within an hour");
}

/// Stuck: shows what the operator believes about a few unfinished Apps.
fn print_stuck(items: &[App], ctx: &apps::Context, ns: &str, instances: usize) {
    for a in items.iter().filter(|a| a.status.as_ref().and_then(|s| s.healthy) != Some(instances as i32)).take(3) {
        let name = a.metadata.name.clone().unwrap_or_default();
        let st = a.status.clone().unwrap_or_default();
        println!(
            "    {name}: state {:?}, healthy {:?}, waiting {:?}; operator sees (pods, ready) {:?}",
            st.state,
            st.healthy,
            st.deployment.as_ref().and_then(|d| d.waiting_for.clone()),
            ctx.pods_seen(ns, &name)
        );
    }
}

/// Prints the time to convergence, the rate and the process's CPU time and peak RSS.
fn report_convergence(all_healthy: Duration, cpu_converge: f64, n_apps: usize, instances: usize) {
    let total = n_apps * instances;
    println!(
        "all {n_apps} Apps ({total} instances) healthy {:.1} s after the first create ({:.0} instances/s)",
        all_healthy.as_secs_f64(),
        total as f64 / all_healthy.as_secs_f64()
    );
    println!("process CPU while converging: {cpu_converge:.1} s; peak RSS {:.0} MiB", peak_rss_mib());
}

/// No-op reconciles: a label change on every App renders to nothing new; prints the
/// operator's mutating requests per App.
async fn measure_noop_pass(api: &Api<App>, ctx: &apps::Context, n_apps: usize) {
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes0 = ctx.writes.load(Ordering::SeqCst);
    let rec0 = ctx.reconciles.load(Ordering::SeqCst);
    let cpu1 = cpu_seconds();
    let t = Instant::now();
    futures::stream::iter(0..n_apps)
        .for_each_concurrent(64, |i| {
            let api = api.clone();
            async move {
                let patch = serde_json::json!({"metadata": {"labels": {"touched": "1"}}});
                api.patch(&format!("svc-{i}"), &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
            }
        })
        .await;
    while ctx.reconciles.load(Ordering::SeqCst) < rec0 + n_apps {
        assert!(t.elapsed() < Duration::from_secs(600), "no-op reconciles did not complete");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recs = ctx.reconciles.load(Ordering::SeqCst) - rec0;
    let writes = ctx.writes.load(Ordering::SeqCst) - writes0;
    println!(
        "no-op pass: {recs} reconciles in {:.1} s, {writes} mutating requests ({:.3} per App), CPU {:.1} s",
        t.elapsed().as_secs_f64(),
        writes as f64 / n_apps as f64,
        cpu_seconds() - cpu1
    );
}

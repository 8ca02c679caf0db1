//! Benchmark: the App operator at scale on KWOK nodes.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench apps        # args: APPS [INSTANCES] [NODES] [CONCURRENCY]
//!
//! Defaults: 2,500 Apps of 4 instances (10,000 pods) on 500 fake nodes, 16 Apps reconciled at
//! once. Creates the nodes, starts the operator in-process (scoped to one namespace), creates
//! every App at once (exact placement: the Dromos scheduler runs in-process too) and measures until every App reports Running with all instances healthy.
//! Then touches a label on every App (a change that renders to nothing new) and counts the
//! operator's mutating requests per reconcile. Prints the process's CPU time and peak RSS (the
//! operator and the bench's own client share the process). Fails, never skips, without a cluster.

use dromos::operators::{apps, manager::ManagerOptions, scheduler};
use dromos::procstat::{cpu_seconds, peak_rss_mib};
use dromos_crds::App;
use dromos_tests::{FakeNodes, NodeSpec, TestNamespace, client, install_crds, unique_suffix};
use futures::StreamExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The bench's arguments: APPS [INSTANCES] [NODES] [CONCURRENCY].
struct Args {
    n_apps: usize,
    instances: usize,
    n_nodes: usize,
    concurrency: u16,
}

fn parse_args() -> Args {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    Args {
        n_apps: args.first().copied().unwrap_or(2_500),
        instances: args.get(1).copied().unwrap_or(4),
        n_nodes: args.get(2).copied().unwrap_or(500),
        concurrency: args.get(3).copied().unwrap_or(16) as u16,
    }
}

#[tokio::main]
async fn main() {
    let Args { n_apps, instances, n_nodes, concurrency } = parse_args();
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

/// Creates the Apps `svc-0` .. `svc-{n_apps - 1}`, 64 requests at once.
async fn create_apps(api: &Api<App>, n_apps: usize, instances: usize, group: &str) {
    futures::stream::iter(0..n_apps)
        .for_each_concurrent(64, |i| {
            let api = api.clone();
            let group = group.to_string();
            async move {
                let app: App = serde_json::from_value(serde_json::json!({
                    "apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"name": format!("svc-{i}")},
                    "spec": {"instances": instances, "cpus": 0.01, "mem": 16,
                             "container": {"docker": {"image": "nginx:1.27"}},
                             "constraints": [["testgroup", "IS", group]]}
                }))
                .unwrap();
                api.create(&PostParams::default(), &app).await.unwrap();
            }
        })
        .await;
}

/// Polls every second until all `n_apps` Apps run with all instances healthy, printing
/// progress every 15 s (and, after a minute without change, a few unfinished Apps).
async fn wait_all_healthy(
    api: &Api<App>,
    ctx: &apps::Context,
    ns: &str,
    n_apps: usize,
    instances: usize,
    start: Instant,
) {
    let mut last_print = Instant::now();
    let mut last_change = (0, Instant::now());
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let healthy = list
            .items
            .iter()
            .filter(|a| {
                a.status
                    .as_ref()
                    .is_some_and(|s| s.state.as_deref() == Some("Running") && s.healthy == Some(instances as i32))
            })
            .count();
        if healthy == n_apps {
            break;
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
                print_stuck(&list.items, ctx, ns, instances);
            }
        }
        assert!(start.elapsed() < Duration::from_secs(3600), "not converged within an hour");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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

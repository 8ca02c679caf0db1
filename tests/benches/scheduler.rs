//! Benchmark: pods bound per second by the Dromos scheduler and by kube-scheduler, side by
//! side in one run, for the same pods on the same KWOK nodes.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench scheduler      # args: PODS [NODES] [--kube-first], default 5000 1000
//!
//! Creates NODES fake nodes (labelled with a unique pool, 3 zones, 10 racks), then for each
//! scheduler in turn creates PODS bare pods (64 creations in flight) and waits until every one
//! is bound; pods/s = PODS / (last binding - first creation). The creation time alone is printed
//! too: when it is close to the total, the API server's write rate, not the scheduler, bounds
//! the figure. Between the two runs the first run's pods are deleted and waited for;
//! `--kube-first` swaps the order. Dromos: the pods carry `schedulerName: dromos` and the
//! labels of an App whose constraints are `[pool, CLUSTER, <pool>]` and
//! `[rack, MAX_PER, <PODS/10>]` (tight: every rack filled to the limit; checked after the run);
//! the scheduler runs in-process, scoped to the bench namespace. kube-scheduler: the same pods
//! without the scheduler name, with a node selector on the pool. Fails, never skips, without a
//! cluster.

use dromos::operators::{manager::ManagerOptions, scheduler};
use dromos_crds::App;
use dromos_tests::{FakeNodes, NodeSpec, TestNamespace, client, install_crds, unique_suffix};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The allocator of the `dromos` binary (controller/src/main.rs): the operators measured here run
/// in this process as they would in `dromos controller`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pod(name: &str, dromos: bool, pool: &str) -> Pod {
    let mut spec = serde_json::json!({
        "containers": [{"name": "main", "image": "busybox",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]
    });
    if dromos {
        spec["schedulerName"] = "dromos".into();
    } else {
        spec["nodeSelector"] = serde_json::json!({"pool": pool});
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"dromos.io/app": if dromos { "bench" } else { "native" }},
                     "annotations": {"dromos.io/version": "v1"}},
        "spec": spec
    }))
    .expect("pod")
}

/// Creates `n` pods and waits until all are bound: (creation seconds, total seconds).
async fn run(ns: &TestNamespace, n: usize, dromos: bool, pool: &str) -> (f64, f64) {
    let api = ns.api::<Pod>();
    let prefix = if dromos { "d" } else { "k" };
    let label = format!("dromos.io/app={}", if dromos { "bench" } else { "native" });
    // Watch bindings from before the first creation.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = {
        let api = api.clone();
        let label = label.clone();
        tokio::spawn(async move {
            let mut bound = HashSet::new();
            let mut s = std::pin::pin!(watcher(api, watcher::Config::default().labels(&label)).applied_objects());
            while let Some(Ok(p)) = s.next().await {
                if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() && bound.insert(p.metadata.name.clone())
                {
                    let _ = tx.send(bound.len());
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(64, |i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &pod(&format!("{prefix}-{i}"), dromos, pool)).await.unwrap();
            }
        })
        .await;
    let created = start.elapsed().as_secs_f64();
    let mut last = Instant::now();
    while let Ok(Some(k)) = tokio::time::timeout(Duration::from_secs(600), rx.recv()).await {
        if k >= n {
            break;
        }
        if last.elapsed() > Duration::from_secs(5) {
            println!("  {k}/{n} bound after {:.1} s", start.elapsed().as_secs_f64());
            last = Instant::now();
        }
    }
    let total = start.elapsed().as_secs_f64();
    watch.abort();
    let bound = api.list(&ListParams::default().labels(&label)).await.unwrap().items;
    let n_bound = bound.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()).count();
    assert_eq!(n_bound, n, "every pod bound");
    (created, total)
}

/// Deletes the pods of the first run and waits until they are gone: the deletions load the API
/// server and the garbage collector, and must not overlap the second run. One delete-collection
/// call may stop at the request timeout with pods left, so it is repeated until none is.
async fn delete_all(ns: &TestNamespace, label: &str) {
    let t = Instant::now();
    let lp = ListParams::default().labels(label);
    loop {
        let left = ns.api::<Pod>().list(&lp).await.unwrap().items.len();
        if left == 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(600), "{left} pods still not deleted after 600 s");
        if let Err(e) = ns.api::<Pod>().delete_collection(&DeleteParams::default().grace_period(0), &lp).await {
            println!("  delete collection: {e}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("the first run's pods deleted in {:.1} s", t.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(5)).await;
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n_pods = args.first().copied().unwrap_or(5_000);
    let n_nodes = args.get(1).copied().unwrap_or(1_000);
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "bench-sched").await;
    let pool = format!("p{}", unique_suffix());
    let t = Instant::now();
    let mut spec = NodeSpec::new("bsched", n_nodes);
    spec.labels.insert("pool".into(), pool.clone());
    spec.zones = vec!["zone-a".into(), "zone-b".into(), "zone-c".into()];
    spec.racks = (0..10).map(|r| format!("rack-{r}")).collect();
    let nodes = FakeNodes::create(&c, &spec).await;
    println!("{n_nodes} nodes ready in {:.1} s", t.elapsed().as_secs_f64());

    // The App whose constraints the Dromos scheduler holds (no App operator runs: the pods are
    // created by the bench).
    // Tight: the racks must be filled exactly to the limit.
    let max_per = n_pods.div_ceil(10);
    let app: App = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"name": "bench"},
        "spec": {"instances": n_pods, "cpus": 0.01, "mem": 16, "cmd": "sleep 3600",
                 "constraints": [["pool", "CLUSTER", pool], ["rack", "MAX_PER", max_per.to_string()]]}
    }))
    .unwrap();
    ns.api::<App>().create(&PostParams::default(), &app).await.unwrap();
    let (m, sched) = dromos_tests::operators(
        &c,
        ManagerOptions {
            scope: dromos::scope::Scope::namespace(ns.name.clone()),
            scheduler: Some(scheduler::Options { offers: false, kill_order: false, ..Default::default() }),
            ..Default::default()
        },
    );
    let ctx = m.context::<scheduler::Context>().expect("the scheduler");
    tokio::time::sleep(Duration::from_secs(3)).await;

    // `--kube-first` swaps the order, to see what the order costs.
    let order = if std::env::args().any(|a| a == "--kube-first") { [false, true] } else { [true, false] };
    for (k, dromos) in order.into_iter().enumerate() {
        let (created, total) = run(&ns, n_pods, dromos, &pool).await;
        if dromos {
            // The constraint held: no rack holds more than MAX_PER of the pods.
            let racks: std::collections::HashMap<String, String> =
                kube::Api::<k8s_openapi::api::core::v1::Node>::all(c.clone())
                    .list(&ListParams::default().labels(&format!("pool={pool}")))
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|n| (n.metadata.name.clone().unwrap(), n.metadata.labels.unwrap()["rack"].clone()))
                    .collect();
            let mut per_rack: std::collections::BTreeMap<&str, usize> = Default::default();
            for p in ns.api::<Pod>().list(&ListParams::default().labels("dromos.io/app=bench")).await.unwrap().items {
                let node = p.spec.unwrap().node_name.unwrap();
                *per_rack.entry(racks[&node].as_str()).or_default() += 1;
            }
            let most = per_rack.values().copied().max().unwrap_or(0);
            assert!(most <= max_per, "a rack holds {most} pods, MAX_PER is {max_per}: {per_rack:?}");
            println!("  pods per rack: {per_rack:?} (MAX_PER {max_per})");
            println!(
                "dromos:         {n_pods} pods bound in {total:.1} s ({:.0} pods/s; creating them took {created:.1} s; {} cycles, {} bind failures)",
                n_pods as f64 / total,
                ctx.cycles.load(std::sync::atomic::Ordering::Relaxed),
                ctx.bind_failures.load(std::sync::atomic::Ordering::Relaxed)
            );
        } else {
            println!(
                "kube-scheduler: {n_pods} pods bound in {total:.1} s ({:.0} pods/s; creating them took {created:.1} s)",
                n_pods as f64 / total
            );
        }
        if k == 0 {
            delete_all(&ns, if dromos { "dromos.io/app=bench" } else { "dromos.io/app=native" }).await;
        }
    }
    drop(sched);
    ns.delete().await;
    nodes.delete().await;
}

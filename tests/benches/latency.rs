//! Benchmark: commit-to-applied latency of the GitSource controller, with a push webhook and
//! with polling.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench latency      # args: ROUNDS [POLL_INTERVAL_SECONDS]
//!
//! A real repository in a temp dir, the controller in-process, its HTTP server on loopback.
//! Each round commits a new value of one ConfigMap and measures until the API server has it.

use dromos::operators::{gitsource, manager::ManagerOptions};
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator of the `dromos` binary (controller/src/main.rs): the operators measured here run
/// in this process as they would in `dromos controller`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cm(v: usize) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: probe}}\ndata: {{v: \"{v}\"}}\n")
}

async fn measure(webhook: bool, rounds: usize, poll: u64) -> Vec<Duration> {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, if webhook { "lat-hook" } else { "lat-poll" }).await;
    let remote = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(remote.path()).unwrap();
    commit(&repo, "main", &[("probe.yaml", Some(&cm(0)))], "0");
    let cache = tempfile::tempdir().unwrap();
    let opts = gitsource::Options {
        selector: None,
        cache_dir: cache.path().into(),
        allow_file_urls: true,
        concurrency: 2,
        write_concurrency: 8,
        limiter: None,
        ..Default::default()
    };
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (m, run) = dromos_tests::operators(&c, ManagerOptions { scope, gitsource: Some(opts), ..Default::default() });
    let ctx = m.context::<gitsource::Context>().expect("the GitSource operator");
    let url = format!("file://{}", remote.path().display());
    let interval = if webhook { "1h".to_string() } else { format!("{poll}s") };
    let gs: dromos_crds::GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"}, "spec": {"url": url, "interval": interval}
    }))
    .unwrap();
    ns.api::<dromos_crds::GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let state = Arc::new(dromos::http::HttpState {
        metrics: ctx.metrics.clone(),
        objects: Default::default(),
        stuck_after: std::time::Duration::from_secs(900),
        ready: std::sync::atomic::AtomicBool::new(true),
        webhook_secret: Some("bench".into()),
        client: c.clone(),
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        trigger: ctx.trigger.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, dromos::http::router(state)).await });
    let cms = ns.api::<ConfigMap>();
    let value =
        || async { cms.get_opt("probe").await.ok().flatten().and_then(|c| c.data).and_then(|d| d.get("v").cloned()) };
    while value().await.as_deref() != Some("0") {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let payload = serde_json::json!({"ref": "refs/heads/main", "repository": {"clone_url": url}}).to_string();
    let mut out = vec![];
    for r in 1..=rounds {
        let t = Instant::now();
        commit(&repo, "main", &[("probe.yaml", Some(&cm(r)))], "bump");
        if webhook {
            dromos_tests::post_push_hook(addr, &payload, "bench").await;
        }
        let want = r.to_string();
        while value().await.as_deref() != Some(want.as_str()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        out.push(t.elapsed());
        // Start the next round at a random phase of the poll interval.
        tokio::time::sleep(Duration::from_millis(137 * r as u64 % 1000)).await;
    }
    drop(run);
    server.abort();
    ns.delete().await;
    out
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name}: median {:.0} ms, min {:.0} ms, max {:.0} ms over {} commits",
        ms(v[v.len() / 2]),
        ms(v[0]),
        ms(v[v.len() - 1]),
        v.len()
    );
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rounds = args.first().copied().unwrap_or(10) as usize;
    let poll = args.get(1).copied().unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        summary("webhook", measure(true, rounds, poll).await);
        summary(&format!("polling every {poll}s"), measure(false, rounds, poll).await);
    });
}

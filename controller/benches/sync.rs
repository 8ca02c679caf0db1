//! Benchmark: sync 10,000 ConfigMaps into the local control plane, then resync with no change.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos --bench sync            # args: COUNT [CONCURRENCY] [apps]
//!
//! The Argo CD scalability-test shape: one small ConfigMap per object, 100 per file; with the
//! third argument `apps`, COUNT Apps instead (0 instances, so the cluster only stores them:
//! the sync applies only the App; the App operator expands it, and is not run here). Prints
//! cold sync time to converged, no-op resync time and writes, and the process's peak RSS
//! after the cold sync and over the whole run (with the `dromos` binary's allocator).
//! Needs a cluster: it fails, never skips, without KUBECONFIG.

use dromos::local::{InventoryStore, sync_dir};
use dromos::procstat::peak_rss_mib;
use dromos::sync::{Resolver, SyncSettings};
use dromos_core::plan::PlanOptions;
use std::time::Instant;

/// The allocator of the `dromos` binary (controller/src/main.rs).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let count = args.first().copied().unwrap_or(10_000);
    let concurrency = args.get(1).copied().unwrap_or(64);
    let apps = std::env::args().any(|a| a == "apps");
    assert!(std::env::var("KUBECONFIG").is_ok(), "KUBECONFIG is not set: start tests/cluster/up first");
    let dir = tempfile::tempdir().unwrap();
    let ns = format!("bench-{}", std::process::id());
    let mut text = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
    for i in 0..count {
        if apps {
            text.push_str(&format!(
                "---\napiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  instances: 0\n  cpus: 0.1\n  mem: 64\n  container: {{docker: {{image: registry.example/svc:{i}}}}}\n  portDefinitions: [{{port: 8080, name: http}}]\n  env: {{INDEX: \"{i}\"}}\n  healthChecks: [{{protocol: HTTP, path: /health}}]\n  constraints: [[hostname, UNIQUE]]\n"
            ));
        } else {
            text.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: {ns}}}\ndata: {{index: \"{i}\"}}\n"));
        }
        if i % 100 == 99 {
            std::fs::write(dir.path().join(format!("part-{:04}.yaml", i / 100)), &text).unwrap();
            text.clear();
        }
    }
    if !text.is_empty() {
        std::fs::write(dir.path().join("part-last.yaml"), &text).unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = kube::Client::try_default().await.expect("cluster");
        let store = InventoryStore { namespace: "default".into(), name: ns.clone() };
        let settings = SyncSettings {
            source: format!("local.{ns}"),
            force: false,
            force_owned: true,
            plan: PlanOptions::default(),
            concurrency,
            default_namespace: "default".into(),
            limiter: None,
            scope: Default::default(),
            written: None,
        };
        let mut resolver = Resolver::default();
        let t = Instant::now();
        let o = sync_dir(&client, &mut resolver, dir.path(), &store, &settings).await.unwrap();
        let cold = t.elapsed();
        assert!(o.failures.is_empty(), "{:?}", &o.failures[..o.failures.len().min(3)]);
        let what = if apps { "Apps (the App objects only)" } else { "ConfigMaps" };
        println!("source: {count} {what} + 1 Namespace, write concurrency {concurrency}");
        println!(
            "cold sync:   {:>8.1} s  ({} applied, {} writes, {} reads)",
            cold.as_secs_f64(),
            o.applied,
            o.writes,
            o.reads
        );
        println!("peak RSS after the cold sync: {:>8.1} MiB", peak_rss_mib());
        let t = Instant::now();
        let o = sync_dir(&client, &mut resolver, dir.path(), &store, &settings).await.unwrap();
        let noop = t.elapsed();
        println!(
            "no-op sync:  {:>8.1} s  ({} unchanged, {} writes, {} reads)",
            noop.as_secs_f64(),
            o.plan.count(dromos_core::plan::Action::Unchanged),
            o.writes,
            o.reads
        );
        println!("peak RSS (whole run):         {:>8.1} MiB", peak_rss_mib());
        // Clean up: deleting the namespace removes the ConfigMaps.
        let nsapi: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
        let _ = nsapi.delete(&ns, &Default::default()).await;
        let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, "default");
        let _ = cms.delete(&format!("dromos-inventory-{ns}"), &Default::default()).await;
    });
}

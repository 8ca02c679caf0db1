//! `dromos quickstart` against the running control plane (it never starts a second one): the
//! examples are committed to a Git repository, synced by the controller, reported with their
//! health, and removed again.

use dromos::quickstart::{self, QuickstartOptions};
use dromos_tests::chart::repo_root;
use dromos_tests::{client, examples_lock, wait_namespaces_settled};
use kube::api::Api;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_syncs_the_examples_prints_their_health_and_cleans_up() {
    let _examples = examples_lock();
    let admin = client().await;
    wait_namespaces_settled(&admin, &["shop", "ops", "reports", "data"]).await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let opts = QuickstartOptions {
        root: repo_root(),
        examples: repo_root().join("examples"),
        // The test cluster, given explicitly: the quickstart must not start or stop it.
        kubeconfig: Some(std::env::var("KUBECONFIG").expect("KUBECONFIG").into()),
        keep_running: false,
        timeout: Duration::from_secs(120),
        log: log.path().into(),
    };
    let mut out = Vec::new();
    let report = quickstart::run(opts, &mut out).await.expect("quickstart");
    let text = String::from_utf8(out).unwrap();
    println!("{text}");

    assert!(!text.contains("starting the local control plane"), "{text}");
    assert!(report.applied >= 13, "the sync applied the examples: {report:?}");
    let names: Vec<String> = report.rows.iter().map(|r| format!("{} {}/{}", r.kind, r.namespace, r.name)).collect();
    for want in [
        "App shop/db",
        "App shop/api",
        "App shop/frontend",
        "Job ops/backup",
        "Job reports/inventory",
        "Package data/events",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    // The table is the one of `dromos status`, and the App without dependencies got far enough
    // for the App operator to report a state.
    assert!(text.contains("KIND") && text.contains("INSTANCES / RUNS"), "{text}");
    // Everything becomes ready: the scheduler placed shop/db on a node reserved for its role
    // `storage`, the claims bound to the added volumes, the Package operator installed Kafka.
    let not_ready: Vec<_> = report.rows.iter().filter(|r| !r.healthy).collect();
    assert!(not_ready.is_empty(), "not ready: {not_ready:?}\n{text}");
    assert!(text.contains("added 2 fake nodes reserved for role `storage`"), "{text}");
    let kafka = report.rows.iter().find(|r| r.name == "events").unwrap();
    assert_eq!(kafka.state, "Installed", "{kafka:?}");
    assert!(text.contains(&format!(
        "{} of {} ready",
        report.rows.iter().filter(|r| r.healthy).count(),
        report.rows.len()
    )));

    // Everything it applied is gone, and so is its GitSource.
    let apps: Api<dromos_crds::App> = Api::all(admin.clone());
    let left: Vec<_> = apps
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|a| {
            a.metadata.labels.as_ref().and_then(|l| l.get(dromos_core::plan::SOURCE_LABEL)).map(String::as_str)
                == Some("dromos-quickstart.examples")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let gs: Api<dromos_crds::GitSource> = Api::namespaced(admin.clone(), quickstart::NAMESPACE);
    assert!(gs.get_opt(quickstart::SOURCE).await.unwrap().is_none());
    // And so are the nodes and volumes it added.
    let lp = kube::api::ListParams::default().labels(&format!("{}={}", quickstart::LABEL.0, quickstart::LABEL.1));
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(admin.clone());
    assert!(nodes.list(&lp).await.unwrap().items.is_empty(), "the quickstart's nodes are left");
    let pvs: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(admin.clone());
    assert!(pvs.list(&lp).await.unwrap().items.is_empty(), "the quickstart's volumes are left");
}

//! Smoke tests of the control plane chain: API server, etcd, controller manager, scheduler,
//! garbage collector and KWOK. They need `tests/cluster/up` (they fail, never skip, without it).

use dromos_tests::{FakeNodes, NodeSpec, TestNamespace, client, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

#[tokio::test]
async fn api_server_reports_the_pinned_version() {
    let c = client().await;
    let v = c.apiserver_version().await.expect("version");
    assert_eq!(v.git_version, "v1.36.3", "{v:?}");
    assert_eq!((v.major.as_str(), v.minor.as_str()), ("1", "36"));
}

async fn pool(c: &kube::Client, name: &str, count: usize) -> (FakeNodes, String) {
    let mut spec = NodeSpec::new(name, count);
    let taint = spec.prefix.clone();
    spec.labels.insert("dromos.io/test-pool".into(), taint.clone());
    spec.taints.push(("dromos.io/test-pool".into(), taint.clone(), "NoSchedule".into()));
    spec.zones = vec!["zone-a".into(), "zone-b".into()];
    (FakeNodes::create(c, &spec).await, taint)
}

/// Pods of the test land on the test's own tainted nodes, so parallel tests do not interfere.
fn pod_spec(taint: &str, restart: Option<&str>) -> serde_json::Value {
    let mut s = json!({
        "nodeSelector": {"dromos.io/test-pool": taint},
        "tolerations": [{"key": "dromos.io/test-pool", "operator": "Equal", "value": taint, "effect": "NoSchedule"}],
        "containers": [{"name": "main", "image": "registry.example/none:1", "command": ["true"]}]
    });
    if let Some(r) = restart {
        s["restartPolicy"] = json!(r);
    }
    s
}

#[tokio::test]
async fn a_deployment_becomes_ready_on_kwok_nodes_through_the_scheduler() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "smoke-deploy").await;
    let (nodes, taint) = pool(&c, "smoke-deploy", 3).await;
    let api = ns.api::<Deployment>();
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(&taint, None)}
        }
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.expect("create deployment");
    wait_for("3 ready replicas", T, || async {
        let d = api.get("web").await.ok()?;
        (d.status?.ready_replicas? == 3).then_some(())
    })
    .await;
    // The real scheduler bound every pod to one of this test's KWOK nodes.
    let pods = ns.api::<Pod>().list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(pods.items.len(), 3);
    for p in &pods.items {
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).expect("scheduled");
        assert!(nodes.names.contains(&node), "pod on {node}, not on {:?}", nodes.names);
        assert_eq!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    }
    ns.delete().await;
    nodes.delete().await;
}

#[tokio::test]
async fn a_batch_job_completes() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "smoke-job").await;
    let (nodes, taint) = pool(&c, "smoke-job", 1).await;
    let api = ns.api::<Job>();
    let j: Job = serde_json::from_value(json!({
        "metadata": {"name": "once"},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec(&taint, Some("Never"))}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &j).await.expect("create job");
    wait_for("job complete", T, || async {
        let j = api.get("once").await.ok()?;
        let s = j.status?;
        let complete = s.conditions?.iter().any(|c| c.type_ == "Complete" && c.status == "True");
        (complete && s.succeeded == Some(1)).then_some(())
    })
    .await;
    ns.delete().await;
    nodes.delete().await;
}

#[tokio::test]
async fn deleting_a_deployment_removes_its_pods_through_the_garbage_collector() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "smoke-gc").await;
    let (nodes, taint) = pool(&c, "smoke-gc", 2).await;
    let api = ns.api::<Deployment>();
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "gc"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "gc"}},
            "template": {"metadata": {"labels": {"app": "gc"}}, "spec": pod_spec(&taint, None)}
        }
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.expect("create deployment");
    let pods = ns.api::<Pod>();
    wait_for("2 pods", T, || async {
        let l = pods.list(&ListParams::default().labels("app=gc")).await.ok()?;
        (l.items.len() == 2).then_some(())
    })
    .await;
    api.delete("gc", &DeleteParams::background()).await.expect("delete");
    wait_for("no pods left", T, || async {
        let l = pods.list(&ListParams::default().labels("app=gc")).await.ok()?;
        l.items.is_empty().then_some(())
    })
    .await;
    ns.delete().await;
    nodes.delete().await;
}

/// The test harness itself: a test that fails inside a namespace fails (and cleans up)
/// instead of hanging in its teardown.
#[tokio::test]
#[should_panic(expected = "deliberate failure")]
async fn a_failing_test_fails_instead_of_hanging() {
    let c = client().await;
    let _ns = TestNamespace::new(&c, "fails").await;
    panic!("deliberate failure");
}

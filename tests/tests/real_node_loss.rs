//! A real node lost: its kubelet stops (SIGSTOP: the node stops reporting while its containers
//! keep running, as behind a network partition). The node controller calls it unreachable
//! after `--node-monitor-grace-period` (60 s on a cluster with real nodes, tests/cluster/up),
//! taints it, and the App's instance is evicted after its `unreachableStrategy`'s
//! `inactiveAfterSeconds` and replaced on another node. Then the kubelet continues.
//!
//! Its own test binary (`test = false`; cargo runs test binaries one at a time): stopping the
//! only real node's kubelet would break every real-node test running beside it. CI:
//! `DROMOS_REAL_NODES=1 tests/cluster/with-cluster cargo test -p dromos-tests --test real_node_loss`.

use dromos_crds::App;
use dromos_tests::real::{app_where, counts, operator, state};
use dromos_tests::{TestNamespace, app_object as app, client, install_crds, real_nodes, wait_for};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LABEL: &str = "dromos.test/loss";

/// The kubelet's pid, as `tests/cluster/real-nodes` recorded it.
fn kubelet_pid(node: &str) -> String {
    let kubeconfig = std::env::var("KUBECONFIG").expect("KUBECONFIG (run through tests/cluster/with-cluster)");
    let pids = Path::new(&kubeconfig).parent().unwrap().join("pids");
    let text = std::fs::read_to_string(&pids).unwrap_or_else(|e| panic!("{}: {e}", pids.display()));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("kubelet-{node} ")).map(|p| p.trim().to_string()))
        .unwrap_or_else(|| panic!("no kubelet of {node} in {}", pids.display()))
}

fn signal(pid: &str, sig: &str) {
    let st = Command::new("kill").args([&format!("-{sig}"), pid]).status().expect("run kill");
    assert!(st.success(), "kill -{sig} {pid} failed");
}

/// Continues the stopped kubelet however the test ends.
struct Stopped(String);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

async fn label_node(c: &Client, node: &str, value: Option<&str>) {
    let api: Api<Node> = Api::all(c.clone());
    api.patch(node, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {LABEL: value}}})))
        .await
        .unwrap_or_else(|e| panic!("label node {node}: {e}"));
}

fn is_ready(n: &Node) -> Option<bool> {
    let c = n.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")?.clone();
    Some(c.status == "True")
}

#[tokio::test]
async fn an_instance_on_a_stopped_node_is_replaced_after_its_unreachable_strategy() {
    let c = client().await;
    install_crds(&c).await;
    let real = real_nodes(&c).await;
    let victim = real[0].clone();
    let nodes: Api<Node> = Api::all(c.clone());
    // A KWOK node to take the instance over (untainted, Ready).
    let spare = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|n| {
            n.annotations().contains_key("kwok.x-k8s.io/node")
                && n.spec.as_ref().and_then(|s| s.taints.as_ref()).is_none_or(|t| t.is_empty())
                && is_ready(n) == Some(true)
        })
        .map(|n| n.name_any())
        .expect("a Ready, untainted KWOK node beside the real one (tests/cluster/up starts 4)");

    let ns = TestNamespace::new(&c, "real-loss").await;
    let (_ctx, _task) = operator(&c, &ns);
    // The constraint holds the instance to nodes labelled for this test: first only the real
    // node, the spare joins once the real node is stopped.
    label_node(&c, &victim, Some("yes")).await;
    let spec = json!({
        "instances": 1, "cpus": 0.1, "mem": 32, "cmd": "exec httpd -f -p $PORT0 -h /",
        "portDefinitions": [{"port": 0, "name": "http"}],
        "acceptedResourceRoles": ["real", "*"],
        "constraints": [[LABEL, "LIKE", "yes"]],
        "unreachableStrategy": {"inactiveAfterSeconds": 5, "expungeAfterSeconds": 10}
    });
    ns.api::<App>().create(&PostParams::default(), &app("web", spec)).await.unwrap();
    app_where(&ns, "web", "Running, 1 instance", |a| state(a) == "Running" && counts(a).0 == 1).await;
    let pods = ns.api::<Pod>();
    let first = pods.list(&ListParams::default().labels("dromos.io/app=web")).await.unwrap().items;
    assert_eq!(first.len(), 1);
    let first = first[0].clone();
    assert_eq!(first.spec.as_ref().unwrap().node_name.as_deref(), Some(victim.as_str()));
    label_node(&c, &spare, Some("yes")).await;

    // Stop the kubelet.
    let pid = kubelet_pid(&victim);
    signal(&pid, "STOP");
    let stopped = Stopped(pid);
    let t0 = Instant::now();
    let tainted =
        wait_for("the node controller taints the stopped node unreachable", Duration::from_secs(180), || async {
            let n = nodes.get(&victim).await.ok()?;
            n.spec?.taints?.into_iter().find(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute")
        })
        .await;
    eprintln!("[real_node_loss] unreachable {:.1} s after the kubelet stopped", t0.elapsed().as_secs_f64());

    // Evicted after inactiveAfterSeconds, replaced on the spare.
    let evicted = wait_for("the instance on the lost node evicted", Duration::from_secs(60), || async {
        let p = pods.get(&first.name_any()).await.ok()?;
        p.metadata.deletion_timestamp.clone()
    })
    .await;
    let since_taint = evicted.0.as_second() - tainted.time_added.as_ref().expect("the taint's timeAdded").0.as_second();
    assert!(since_taint >= 4, "evicted {since_taint} s after the taint; inactiveAfterSeconds is 5");
    let a =
        app_where(&ns, "web", "replaced: 1 instance running elsewhere", |a| state(a) == "Running" && counts(a).0 == 1)
            .await;
    let live: Vec<Pod> = pods
        .list(&ListParams::default().labels("dromos.io/app=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    assert_eq!(live.len(), 1, "{:?}", a.status);
    assert_eq!(live[0].spec.as_ref().unwrap().node_name.as_deref(), Some(spare.as_str()));
    eprintln!("[real_node_loss] replaced on {spare} {:.1} s after the kubelet stopped", t0.elapsed().as_secs_f64());

    // The kubelet continues: the node is Ready again and the evicted pod leaves the API.
    drop(stopped);
    wait_for("the node Ready again", Duration::from_secs(120), || async {
        (is_ready(&nodes.get(&victim).await.ok()?) == Some(true)).then_some(())
    })
    .await;
    wait_for("the evicted pod gone once its kubelet confirms", Duration::from_secs(120), || async {
        pods.get_opt(&first.name_any()).await.ok()?.is_none().then_some(())
    })
    .await;
    label_node(&c, &victim, None).await;
    label_node(&c, &spare, None).await;
    ns.delete().await;
}

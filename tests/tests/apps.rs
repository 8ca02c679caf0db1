//! The App operator against the real control plane with KWOK nodes: run, status, rollout within
//! minimumHealthCapacity, restart, dependencies, deletion order, admission rules, unreachable
//! nodes. Each test runs its own operator, scoped to its namespace, and its own fake nodes.

use dromos::operators::apps::Context as AppContext;
use dromos::operators::scheduler::Options as SchedulerOptions;
use dromos_crds::{App, AppStatus};
use dromos_tests::{
    FakeNodes, NodeSpec, Task, TestNamespace, app_object as app, client, install_crds, run_apps_and_scheduler,
    unique_suffix, wait_for,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

struct Operator {
    ctx: Arc<AppContext>,
    _tasks: Task,
}

/// The App operator and the Dromos scheduler (Apps default to exact placement), both scoped to
/// the test's namespace, as `dromos controller` runs them.
fn operator(c: &Client, ns: &TestNamespace) -> Operator {
    dromos_tests::init_tracing();
    let (ctx, _, tasks) = run_apps_and_scheduler(c, &ns.name, SchedulerOptions { offers: false, ..Default::default() });
    Operator { ctx, _tasks: tasks }
}

async fn pods(ns: &TestNamespace, app: &str) -> Vec<Pod> {
    ns.api::<Pod>().list(&ListParams::default().labels(&format!("dromos.io/app={app}"))).await.unwrap().items
}

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn status_where(ns: &TestNamespace, name: &str, what: &str, f: impl Fn(&App) -> bool) -> App {
    let api = ns.api::<App>();
    wait_for(what, T, || {
        let api = api.clone();
        let f = &f;
        async move {
            let a = api.get(name).await.ok()?;
            f(&a).then_some(a)
        }
    })
    .await
}

fn state(a: &App) -> &str {
    a.status.as_ref().and_then(|s| s.state.as_deref()).unwrap_or("")
}

fn group_nodes(prefix: &str, count: usize, group: &str) -> NodeSpec {
    let mut spec = NodeSpec::new(prefix, count);
    spec.labels.insert("testgroup".into(), group.into());
    spec
}

#[tokio::test]
async fn an_app_runs_rolls_out_within_its_health_capacity_restarts_and_cascades_on_delete() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "apps").await;
    let group = format!("g{}", unique_suffix());
    let _nodes = FakeNodes::create(&c, &group_nodes("apps", 3, &group)).await;
    let op = operator(&c, &ns);
    let apps = ns.api::<App>();
    let st = create_web_and_wait_running(&ns, &apps, &group).await;
    assert_noop_reconcile_writes_nothing(&op, &apps).await;
    let after = assert_rollout_keeps_health_capacity(&ns, &apps, &st).await;
    assert_restart_replaces_every_instance(&c, &ns, &after).await;

    // `dromos status` reads it like the Marathon app list.
    let rows = dromos::status::collect(&c, Some(&ns.name)).await.unwrap();
    let row = rows.iter().find(|r| r.name == "web").unwrap();
    assert_eq!((row.state.as_str(), row.detail.as_str(), row.healthy), ("Running", "4/4 running, 4 healthy", true));

    assert_suspend_keeps_the_definition(&ns, &apps).await;

    // Deleting the App removes what it created.
    apps.delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("App, Deployment and pods gone", T, || async {
        let gone = apps.get_opt("web").await.unwrap().is_none()
            && ns.api::<Deployment>().get_opt("web").await.unwrap().is_none()
            && pods(&ns, "web").await.is_empty();
        gone.then_some(())
    })
    .await;
    drop(op);
    ns.delete().await;
}

/// Creates the App `web` (4 instances on the nodes of `group`), waits until it runs healthy
/// and checks its status, Deployment owner and Ready condition; returns its status.
async fn create_web_and_wait_running(ns: &TestNamespace, apps: &Api<App>, group: &str) -> AppStatus {
    let spec = json!({
        "instances": 4, "cpus": 0.1, "mem": 64,
        "container": {"docker": {"image": "nginx:1.27"}},
        "portDefinitions": [{"port": 0, "name": "http"}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.25},
        "constraints": [["testgroup", "IS", group]]
    });
    apps.create(&PostParams::default(), &app("web", spec)).await.unwrap();
    let a = status_where(ns, "web", "web running 4 healthy", |a| {
        state(a) == "Running" && a.status.as_ref().unwrap().healthy == Some(4)
    })
    .await;
    let st = a.status.clone().unwrap();
    assert_eq!((st.running, st.staged, st.unhealthy), (Some(4), Some(0), Some(0)));
    let first = st.last_deployment.clone().expect("the create deployment is recorded");
    assert_eq!((first.reason.as_str(), first.result.as_deref()), ("Create", Some("Succeeded")));
    let dep = ns.api::<Deployment>().get("web").await.expect("the App's Deployment");
    let owner = &dep.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("App", a.uid().unwrap().as_str()));
    let ready_cond = st.common.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready_cond.status.as_str(), ready_cond.message.as_str()), ("True", "4 of 4 instances healthy"));
    st
}

/// A no-op reconcile (a label change) writes nothing.
async fn assert_noop_reconcile_writes_nothing(op: &Operator, apps: &Api<App>) {
    let writes = op.ctx.writes.load(Ordering::SeqCst);
    let reconciles = op.ctx.reconciles.load(Ordering::SeqCst);
    apps.patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"touch": "1"}}})))
        .await
        .unwrap();
    wait_for("a reconcile after the label change", T, || async {
        (op.ctx.reconciles.load(Ordering::SeqCst) > reconciles).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(op.ctx.writes.load(Ordering::SeqCst), writes, "a no-op reconcile made mutating requests");
}

/// Samples the ready pods of `web` until all 4 run `nginx:1.28`; returns the fewest ready seen
/// and the number of samples.
fn sample_ready_during_rollout(ns: &TestNamespace) -> tokio::task::JoinHandle<(usize, usize)> {
    let api = ns.api::<Pod>();
    tokio::spawn(async move {
        let mut min = usize::MAX;
        let mut samples = 0;
        loop {
            let list = api.list(&ListParams::default().labels("dromos.io/app=web")).await.unwrap();
            min = min.min(list.items.iter().filter(|p| ready(p)).count());
            samples += 1;
            if samples > 5
                && list.items.len() == 4
                && list
                    .items
                    .iter()
                    .all(|p| ready(p) && p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("nginx:1.28"))
            {
                return (min, samples);
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    })
}

/// An image change rolls out; ready instances never drop below minimumHealthCapacity (2).
/// Returns the names of the ready pods after the rollout.
async fn assert_rollout_keeps_health_capacity(ns: &TestNamespace, apps: &Api<App>, st: &AppStatus) -> BTreeSet<String> {
    let sampler = sample_ready_during_rollout(ns);
    let before: BTreeSet<String> = pods(ns, "web").await.iter().map(|p| p.name_any()).collect();
    apps.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"container": {"docker": {"image": "nginx:1.28"}}}})),
    )
    .await
    .unwrap();
    let (min_ready, samples) = tokio::time::timeout(T, sampler).await.expect("rollout finished").unwrap();
    assert!(min_ready >= 2, "ready instances dropped to {min_ready} during the rollout ({samples} samples)");
    let a = status_where(ns, "web", "upgrade recorded", |a| {
        a.status.as_ref().and_then(|s| s.last_deployment.as_ref()).is_some_and(|d| d.reason == "Upgrade")
            && state(a) == "Running"
    })
    .await;
    assert_ne!(a.status.as_ref().unwrap().version, st.version, "a new version");
    let after: BTreeSet<String> = pods(ns, "web").await.iter().filter(|p| ready(p)).map(|p| p.name_any()).collect();
    assert!(before.is_disjoint(&after), "every instance was replaced");
    after
}

/// `dromos app restart` replaces every instance (`after`: the ready pods before) and is recorded.
async fn assert_restart_replaces_every_instance(c: &Client, ns: &TestNamespace, after: &BTreeSet<String>) {
    let at = dromos::status::restart_app(c, &ns.name, "web").await.unwrap();
    let a = status_where(ns, "web", "restart recorded", |a| {
        a.status.as_ref().and_then(|s| s.restarted_at.as_deref()) == Some(at.as_str()) && state(a) == "Running"
    })
    .await;
    assert_eq!(a.status.as_ref().unwrap().last_deployment.as_ref().unwrap().reason, "Restart");
    let restarted: BTreeSet<String> = pods(ns, "web").await.iter().filter(|p| ready(p)).map(|p| p.name_any()).collect();
    assert_eq!(restarted.len(), 4);
    assert!(after.is_disjoint(&restarted), "the restart replaced every instance");
}

/// Suspend: instances 0 keeps the definition; scaling back up is recorded as a Scale.
async fn assert_suspend_keeps_the_definition(ns: &TestNamespace, apps: &Api<App>) {
    apps.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"instances": 0}}))).await.unwrap();
    status_where(ns, "web", "web suspended", |a| state(a) == "Suspended").await;
    wait_for("no pods left", T, || async { pods(ns, "web").await.is_empty().then_some(()) }).await;
    apps.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"instances": 2}}))).await.unwrap();
    let a = status_where(ns, "web", "web scaled to 2", |a| {
        state(a) == "Running" && a.status.as_ref().unwrap().healthy == Some(2)
    })
    .await;
    assert_eq!(a.status.as_ref().unwrap().last_deployment.as_ref().unwrap().reason, "Scale");
}

#[tokio::test]
async fn a_dependent_waits_for_its_database_and_stops_first_on_delete() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "deps").await;
    let group = format!("g{}", unique_suffix());
    let _nodes = FakeNodes::create(&c, &group_nodes("deps", 2, &group)).await;
    let _op = operator(&c, &ns);
    let apps = ns.api::<App>();
    let db = json!({
        "instances": 1, "cpus": 0.1, "mem": 64, "container": {"docker": {"image": "postgres:17"}},
        "constraints": [["testgroup", "IS", group], ["rack", "IS", "rack-db"]]
    });
    let web = json!({
        "instances": 2, "cpus": 0.1, "mem": 64, "container": {"docker": {"image": "nginx:1.27"}},
        "constraints": [["testgroup", "IS", group]], "dependencies": ["db"]
    });
    apps.create(&PostParams::default(), &app("db", db)).await.unwrap();
    apps.create(&PostParams::default(), &app("web", web)).await.unwrap();
    let want = format!("waiting for {}/db: 0 of 1 healthy", ns.name);
    let w = status_where(&ns, "web", "web waiting for db", |a| {
        a.status.as_ref().and_then(|s| s.waiting_for.as_deref()) == Some(want.as_str())
    })
    .await;
    assert_eq!(state(&w), "Waiting");
    let d = status_where(&ns, "db", "db explains why it is not placed", |a| {
        a.status.as_ref().and_then(|s| s.waiting_for.as_deref()).is_some_and(|m| m.contains("cannot be placed"))
    })
    .await;
    assert_eq!(state(&d), "Deploying");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(ns.api::<Deployment>().get_opt("web").await.unwrap().is_none(), "web is not started while db waits");

    // A node the database may use: it starts, then web starts.
    let mut spec = group_nodes("deps-db", 1, &group);
    spec.labels.insert("rack".into(), "rack-db".into());
    let _db_node = FakeNodes::create(&c, &spec).await;
    status_where(&ns, "db", "db running", |a| state(a) == "Running").await;
    status_where(&ns, "web", "web running", |a| state(a) == "Running" && a.status.as_ref().unwrap().healthy == Some(2))
        .await;

    // Deleting both at once stops web before db.
    let watcher = {
        let api = ns.api::<Pod>();
        tokio::spawn(async move {
            loop {
                let list = api.list(&ListParams::default()).await.unwrap().items;
                let of = |app: &str| {
                    list.iter()
                        .filter(|p| p.labels().get("dromos.io/app").map(String::as_str) == Some(app))
                        .collect::<Vec<_>>()
                };
                let db_stopping = of("db").iter().all(|p| p.metadata.deletion_timestamp.is_some());
                if db_stopping {
                    return of("web").len();
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    let dp = DeleteParams::default();
    apps.delete("db", &dp).await.unwrap();
    apps.delete("web", &dp).await.unwrap();
    let web_left = tokio::time::timeout(T, watcher).await.expect("db stopped").unwrap();
    assert_eq!(web_left, 0, "web instances were still there when db began to stop");
    wait_for("both Apps gone", T, || async {
        (apps.list(&ListParams::default()).await.unwrap().items.is_empty()).then_some(())
    })
    .await;
    ns.delete().await;
}

#[tokio::test]
async fn the_api_server_refuses_an_app_with_cmd_and_args() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "cel").await;
    let bad = app("bad", json!({"cmd": "sleep 10", "args": ["x"], "container": {"docker": {"image": "busybox"}}}));
    let err = ns.api::<App>().create(&PostParams::default(), &bad).await.expect_err("refused");
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 422, "{e:?}");
            assert!(e.message.contains("cmd and args are mutually exclusive"), "{}", e.message);
        }
        e => panic!("unexpected error {e}"),
    }
    let bad = app("bad", json!({"cmd": "sleep 10", "constraints": [["hostname", "UNIQE"]]}));
    let err = ns.api::<App>().create(&PostParams::default(), &bad).await.expect_err("refused");
    assert!(err.to_string().contains("must be one of UNIQUE"), "{err}");
    ns.delete().await;
}

#[tokio::test]
async fn instances_on_an_unreachable_node_are_replaced_elsewhere_keeping_unique() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "unreach").await;
    let group = format!("g{}", unique_suffix());
    let nodes = FakeNodes::create(&c, &group_nodes("unreach", 3, &group)).await;
    let _op = operator(&c, &ns);
    let spec = json!({
        "instances": 2, "cpus": 0.1, "mem": 64, "container": {"docker": {"image": "nginx:1.27"}},
        "constraints": [["testgroup", "IS", group], ["hostname", "UNIQUE"]],
        "unreachableStrategy": {"inactiveAfterSeconds": 5, "expungeAfterSeconds": 10}
    });
    ns.api::<App>().create(&PostParams::default(), &app("svc", spec)).await.unwrap();
    status_where(&ns, "svc", "svc running", |a| state(a) == "Running").await;
    let placed = pods(&ns, "svc").await;
    let victim_node = placed[0].spec.as_ref().unwrap().node_name.clone().unwrap();
    let victim_pod = placed[0].name_any();
    assert!(nodes.names.contains(&victim_node));

    // The node reports NotReady (KWOK keeps renewing its lease, as a kubelet that is up but
    // unhealthy would; tests/cluster/up keeps KWOK from resetting a node annotated
    // dromos.io/kwok-not-ready). The node controller taints it, the taint manager evicts after
    // inactiveAfterSeconds, the Deployment replaces the instance elsewhere.
    let node_api: Api<Node> = Api::all(c.clone());
    node_api
        .patch(
            &victim_node,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"dromos.io/kwok-not-ready": "true"}}})),
        )
        .await
        .unwrap();
    let now = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    node_api
        .patch_status(
            &victim_node,
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": {"conditions": [{
                "type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "made NotReady by a test",
                "lastHeartbeatTime": now, "lastTransitionTime": now
            }]}})),
        )
        .await
        .unwrap();
    let replaced = wait_for("instances replaced on other nodes", Duration::from_secs(240), || async {
        let all = pods(&ns, "svc").await;
        let live: Vec<&Pod> = all.iter().filter(|p| ready(p)).collect();
        let nodes: BTreeSet<String> =
            live.iter().filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone())).collect();
        (live.len() == 2
            && nodes.len() == 2
            && !nodes.contains(&victim_node)
            && !live.iter().any(|p| p.name_any() == victim_pod))
        .then_some(nodes)
    })
    .await;
    assert_eq!(replaced.len(), 2, "UNIQUE hostname holds after the replacement");
    let node = node_api.get(&victim_node).await.unwrap();
    let taints = node.spec.unwrap().taints.unwrap_or_default();
    assert!(taints.iter().any(|t| t.key == "node.kubernetes.io/not-ready" && t.effect == "NoExecute"), "{taints:?}");
    ns.delete().await;
}

//! Exact placement end to end: the Dromos scheduler and the App operator against the real
//! control plane with KWOK nodes labelled with zone and rack. Each test runs both, scoped to its
//! namespace, on its own nodes: every App carries `[pool, CLUSTER, <unique>]` and only the
//! test's nodes have that label, so other tests' nodes on the shared cluster are never used.

use dromos::operators::scheduler::{Context as SchedulerContext, Options as SchedulerOptions};
use dromos_crds::{App, Offer};
use dromos_tests::{
    FakeNodes, NodeSpec, Task, TestNamespace, app_object as app, client, install_crds, run_apps_and_scheduler,
    unique_suffix, wait_for,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

struct Setup {
    // First: the controllers stop before the namespace and nodes go.
    _tasks: Task,
    ns: TestNamespace,
    nodes: FakeNodes,
    pool: String,
    sched: Arc<SchedulerContext>,
}

/// A namespace, nodes labelled `pool=<unique>`, and the operator plus scheduler scoped to them.
async fn setup(c: &Client, prefix: &str, mut spec: NodeSpec, offers: bool) -> Setup {
    install_crds(c).await;
    let ns = TestNamespace::new(c, prefix).await;
    let pool = format!("p{}", unique_suffix());
    spec.labels.insert("pool".into(), pool.clone());
    let nodes = FakeNodes::create(c, &spec).await;
    let (_, sched, tasks) = run_apps_and_scheduler(
        c,
        &ns.name,
        SchedulerOptions {
            offers,
            offer_nodes: Some(format!("pool={pool}")),
            offer_scope: pool.clone(),
            offer_interval: Duration::from_secs(2),
            ..Default::default()
        },
    );
    Setup { _tasks: tasks, ns, nodes, pool, sched }
}

/// An App spec with `constraints` after the pool constraint.
fn spec(s: &Setup, instances: i32, constraints: serde_json::Value) -> serde_json::Value {
    let mut all = vec![json!(["pool", "CLUSTER", s.pool])];
    all.extend(constraints.as_array().cloned().unwrap_or_default());
    json!({"instances": instances, "cpus": 0.1, "mem": 32, "cmd": "sleep 3600", "constraints": all})
}

async fn pods(ns: &TestNamespace, app: &str) -> Vec<Pod> {
    ns.api::<Pod>()
        .list(&ListParams::default().labels(&format!("dromos.io/app={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

/// Waits until `n` live pods of the App are bound; returns their nodes.
async fn bound(ns: &TestNamespace, app: &str, n: usize) -> Vec<String> {
    wait_for(&format!("{n} pods of {app} bound"), T, || async {
        let ps = pods(ns, app).await;
        let nodes: Vec<String> = ps.iter().filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone())).collect();
        (ps.len() == n && nodes.len() == n).then_some(nodes)
    })
    .await
}

/// Node name -> value of a node label, for the test's nodes.
async fn label_of(c: &Client, nodes: &FakeNodes, label: &str) -> BTreeMap<String, String> {
    let api: Api<Node> = Api::all(c.clone());
    let mut out = BTreeMap::new();
    for n in &nodes.names {
        let node = api.get(n).await.unwrap();
        out.insert(n.clone(), node.labels().get(label).cloned().unwrap_or_default());
    }
    out
}

fn count_by(nodes: &[String], attr: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for n in nodes {
        *m.entry(attr.get(n).cloned().unwrap_or_else(|| format!("foreign node {n}"))).or_default() += 1;
    }
    m
}

fn scheduler_name(p: &Pod) -> Option<&str> {
    p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref())
}

#[tokio::test]
async fn unique_hostname_puts_each_instance_on_its_own_node() {
    let c = client().await;
    let s = setup(&c, "pl-unique", NodeSpec::new("pl-unique", 4), false).await;
    let web = spec(&s, 4, json!([["hostname", "UNIQUE"]]));
    s.ns.api::<App>().create(&PostParams::default(), &app("web", web)).await.unwrap();
    let mut nodes = bound(&s.ns, "web", 4).await;
    nodes.sort();
    let mut mine = s.nodes.names.clone();
    mine.sort();
    assert_eq!(nodes, mine, "one instance on each of the test's 4 nodes");
    let ps = pods(&s.ns, "web").await;
    assert!(ps.iter().all(|p| scheduler_name(p) == Some("dromos")), "exact mode is the default");
    assert!(s.sched.binds.load(Ordering::Relaxed) >= 4);
}

#[tokio::test]
async fn group_by_zone_spreads_exactly_three_per_zone() {
    let c = client().await;
    let mut nodes = NodeSpec::new("pl-group", 6);
    let z = unique_suffix();
    nodes.zones = vec![format!("{z}-a"), format!("{z}-b"), format!("{z}-c")];
    let s = setup(&c, "pl-group", nodes, false).await;
    let zone = label_of(&c, &s.nodes, "topology.kubernetes.io/zone").await;
    let svc = spec(&s, 9, json!([["@zone", "GROUP_BY", "3"]]));
    s.ns.api::<App>().create(&PostParams::default(), &app("svc", svc)).await.unwrap();
    let placed = bound(&s.ns, "svc", 9).await;
    let by_zone = count_by(&placed, &zone);
    assert_eq!(
        by_zone,
        BTreeMap::from([(format!("{z}-a"), 3), (format!("{z}-b"), 3), (format!("{z}-c"), 3)]),
        "GROUP_BY @zone 3 holds exactly"
    );
}

#[tokio::test]
async fn max_per_rack_two_fills_each_rack_to_two_and_explains_the_rest() {
    let c = client().await;
    let mut nodes = NodeSpec::new("pl-maxper", 6);
    let r = unique_suffix();
    nodes.racks = vec![format!("{r}-1"), format!("{r}-2"), format!("{r}-3")];
    let s = setup(&c, "pl-maxper", nodes, false).await;
    let rack = label_of(&c, &s.nodes, "rack").await;
    let api = s.ns.api::<App>();
    api.create(&PostParams::default(), &app("svc", spec(&s, 6, json!([["rack", "MAX_PER", "2"]])))).await.unwrap();
    let placed = bound(&s.ns, "svc", 6).await;
    assert!(count_by(&placed, &rack).values().all(|n| *n == 2), "{:?}", count_by(&placed, &rack));
    assert_eq!(count_by(&placed, &rack).len(), 3);

    // A seventh instance has no rack left: it waits, and the status says why.
    api.patch("svc", &PatchParams::default(), &Patch::Merge(json!({"spec": {"instances": 7}}))).await.unwrap();
    let a = wait_for("svc explains the waiting instance", T, || async {
        let a = api.get("svc").await.ok()?;
        let p = a.status.as_ref()?.placement.as_ref()?;
        (p.waiting == 1).then_some(a)
    })
    .await;
    let p = a.status.unwrap().placement.unwrap();
    assert!(p.declined.contains_key("MAX_PER rack 2"), "{p:?}");
    assert_eq!(pods(&s.ns, "svc").await.iter().filter(|p| p.spec.as_ref().unwrap().node_name.is_some()).count(), 6);
}

#[tokio::test]
async fn like_and_unlike_match_the_whole_value() {
    let c = client().await;
    let mut nodes = NodeSpec::new("pl-like", 4);
    nodes.racks = vec!["rack-1".into(), "rack-2".into(), "rack-3".into(), "rack-12".into()];
    let s = setup(&c, "pl-like", nodes, false).await;
    let rack = label_of(&c, &s.nodes, "rack").await;
    let api = s.ns.api::<App>();
    // `rack-[12]` matches rack-1 and rack-2 only: rack-12 contains a match but is not one.
    api.create(&PostParams::default(), &app("near", spec(&s, 4, json!([["rack", "LIKE", "rack-[12]"]]))))
        .await
        .unwrap();
    api.create(&PostParams::default(), &app("far", spec(&s, 4, json!([["rack", "UNLIKE", "rack-[12]"]]))))
        .await
        .unwrap();
    let near = count_by(&bound(&s.ns, "near", 4).await, &rack);
    let far = count_by(&bound(&s.ns, "far", 4).await, &rack);
    assert!(near.keys().all(|r| r == "rack-1" || r == "rack-2"), "LIKE: {near:?}");
    assert!(far.keys().all(|r| r == "rack-3" || r == "rack-12"), "UNLIKE: {far:?}");
}

#[tokio::test]
async fn an_unplaceable_app_says_why_in_status_events_and_app_why() {
    let c = client().await;
    let s = setup(&c, "pl-why", NodeSpec::new("pl-why", 3), false).await;
    let api = s.ns.api::<App>();
    api.create(&PostParams::default(), &app("solo", spec(&s, 5, json!([["hostname", "UNIQUE"]])))).await.unwrap();
    let placed = bound_at_least(&s.ns, "solo", 3).await;
    assert_eq!(placed, 3, "one per node");
    let a = wait_for("solo reports 2 waiting", T, || async {
        let a = api.get("solo").await.ok()?;
        let st = a.status.as_ref()?;
        let ready = st.common.conditions.iter().find(|c| c.type_ == "Ready")?;
        (st.placement.as_ref()?.waiting == 2 && ready.reason == "Unplaceable" && st.running == Some(3)).then_some(a)
    })
    .await;
    let st = a.status.clone().unwrap();
    let p = st.placement.clone().unwrap();
    // Every node of the pool already runs one instance; offers elsewhere fail the pool
    // constraint. Both are counted, per reason.
    assert_eq!(p.declined.get("UNIQUE hostname"), Some(&3), "{p:?}");
    let message = p.message.clone().unwrap();
    assert!(message.starts_with("2 instances waiting: "), "{message}");
    assert!(message.contains("UNIQUE hostname 3"), "{message}");
    assert!(st.waiting_for.as_deref().is_some_and(|w| w.contains("UNIQUE hostname 3")), "{st:?}");

    let text = dromos::operators::scheduler::why(&c, &s.ns.name, "solo").await.unwrap();
    // The count of offers outside the pool follows the nodes of the whole cluster, which tests
    // running beside this one add and remove: compared up to that count.
    assert!(text.contains("not placed: 2 instances waiting: ") && text.contains("UNIQUE hostname 3"), "{text}");
    assert_eq!(text.matches(" Waiting ").count(), 2, "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" Running")).count(), 3, "{text}");

    let events = wait_for("an Unplaceable event", T, || async {
        let evs = Api::<k8s_openapi::api::events::v1::Event>::namespaced(c.clone(), &s.ns.name)
            .list(&ListParams::default())
            .await
            .ok()?;
        evs.items.into_iter().find(|e| e.reason.as_deref() == Some("Unplaceable"))
    })
    .await;
    assert!(events.note.unwrap_or_default().contains("UNIQUE hostname"));

    // Scaling down to what fits clears the placement status.
    api.patch("solo", &PatchParams::default(), &Patch::Merge(json!({"spec": {"instances": 3}}))).await.unwrap();
    wait_for("solo placed and running", T, || async {
        let a = api.get("solo").await.ok()?;
        let st = a.status?;
        (st.placement.is_none() && st.state.as_deref() == Some("Running")).then_some(())
    })
    .await;
}

async fn bound_at_least(ns: &TestNamespace, app: &str, n: usize) -> usize {
    wait_for(&format!("{n} pods of {app} bound"), T, || async {
        let b =
            pods(ns, app).await.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()).count();
        (b >= n).then_some(b)
    })
    .await
}

#[tokio::test]
async fn offers_follow_nodes_and_pods_and_are_not_rewritten_when_unchanged() {
    let c = client().await;
    let mut nodes = NodeSpec::new("pl-offer", 2);
    nodes.zones = vec![format!("{}-z", unique_suffix())];
    let s = setup(&c, "pl-offer", nodes, true).await;
    let offers: Api<Offer> = Api::all(c.clone());
    let node = s.nodes.names[0].clone();
    let o = wait_for("offers of both nodes", T, || async {
        let list =
            offers.list(&ListParams::default().labels(&format!("dromos.io/offer-scope={}", s.pool))).await.ok()?;
        (list.items.len() == 2).then(|| list.items.into_iter().find(|o| o.name_any() == node))?
    })
    .await;
    assert_eq!(o.spec.node_name, node);
    assert_eq!((o.spec.total.cpus, o.spec.free.cpus, o.spec.total.mem), (8.0, 8.0, 32768.0));
    assert_eq!(o.spec.roles, ["*"]);
    assert!(o.spec.zone.is_some() && o.spec.attributes.get("hostname") == Some(&node));

    // Two instances pinned to the node: its offer shrinks by their requests.
    let api = s.ns.api::<App>();
    let mut web = spec(&s, 2, json!([["hostname", "IS", node]]));
    web["cpus"] = json!(1.5);
    api.create(&PostParams::default(), &app("web", web)).await.unwrap();
    bound(&s.ns, "web", 2).await;
    wait_for("the offer shows 5 free cpus", T, || async {
        let o = offers.get(&node).await.ok()?;
        (o.spec.free.cpus == 5.0).then_some(())
    })
    .await;

    // Nothing changes: nothing is written.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = s.sched.offer_writes.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(s.sched.offer_writes.load(Ordering::Relaxed), before, "no write while offers are unchanged");

    // A deleted node's offer goes.
    let other = s.nodes.names[1].clone();
    Api::<Node>::all(c.clone()).delete(&other, &DeleteParams::default()).await.unwrap();
    wait_for("the offer of the deleted node is deleted", T, || async {
        offers.get_opt(&other).await.ok()?.is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn claims_of_a_wait_for_first_consumer_class_get_the_chosen_node() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::api::storage::v1::StorageClass;
    let c = client().await;
    let s = setup(&c, "pl-claims", NodeSpec::new("pl-claims", 2), false).await;
    // A class whose provisioner never runs: only the scheduler's annotation is under test.
    let class = format!("dromos-wffc-{}", unique_suffix());
    let classes: Api<StorageClass> = Api::all(c.clone());
    let sc: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": class},
        "provisioner": "example.com/never", "volumeBindingMode": "WaitForFirstConsumer"
    }))
    .unwrap();
    classes.create(&PostParams::default(), &sc).await.unwrap();
    let mut db = spec(&s, 1, json!([]));
    db["container"] = json!({"volumes": [{"containerPath": "data", "mode": "RW",
                                          "persistent": {"size": 512, "storageClass": class}}]});
    s.ns.api::<App>().create(&PostParams::default(), &app("db", db)).await.unwrap();
    let node = bound(&s.ns, "db", 1).await.remove(0);
    let claims = s.ns.api::<PersistentVolumeClaim>().list(&ListParams::default()).await.unwrap().items;
    assert_eq!(claims.len(), 1, "{claims:?}");
    let selected = claims[0].annotations().get(dromos::operators::scheduler::SELECTED_NODE).cloned();
    assert_eq!(selected.as_deref(), Some(node.as_str()), "the claim names the node the pod was bound to");
    let _ = classes.delete(&class, &DeleteParams::default()).await;
}

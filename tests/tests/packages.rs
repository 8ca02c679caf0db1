//! The Package operator against the real control plane with KWOK nodes: every package of the
//! built-in catalog passes server-side dry-run validation, installs and becomes Ready; options
//! and versions roll out from a GitSource package repository; invalid options and version
//! changes outside upgradesFrom/downgradesTo are refused and the installed render stays.
//!
//! Storage on KWOK: there is no volume provisioner, so claims of `volumeClaimTemplates` would
//! stay Pending. The catalog packages have an option `storage.persistent` (Spark:
//! `history.persistent`); these tests set it to false and the packages use emptyDirs. The
//! persistent form is checked by the dry-run (the API server validates the claim templates).

use dromos::operators::packages::{self, Context as PackageContext};
use dromos_core::package;
use dromos_crds::Package;
use dromos_tests::repo::git_catalog;
use dromos_tests::{FakeNodes, NodeSpec, Task, TestNamespace, client, install_crds, unique_suffix, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const T: Duration = Duration::from_secs(180);

struct Operator {
    ctx: Arc<PackageContext>,
    _task: Task,
    _cache: tempfile::TempDir,
}

fn operator(c: &Client, ns: &TestNamespace) -> Operator {
    let cache = tempfile::tempdir().unwrap();
    let opts = dromos::operators::manager::ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        packages: Some(packages::Options {
            concurrency: 4,
            cache_dir: cache.path().to_path_buf(),
            allow_file_urls: true,
        }),
        ..Default::default()
    };
    let (m, task) = dromos_tests::operators(c, opts);
    Operator { ctx: m.context().expect("the Package operator"), _task: task, _cache: cache }
}

fn package_obj(name: &str, spec: Value) -> Package {
    serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": name}, "spec": spec
    }))
    .expect("package")
}

fn cond(p: &Package, type_: &str) -> Option<(String, String, String)> {
    p.status
        .as_ref()?
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn ready(p: &Package) -> bool {
    cond(p, "Ready").is_some_and(|c| c.0 == "True")
        && p.status.as_ref().and_then(|s| s.common.observed_generation) == p.metadata.generation
}

async fn wait_package(ns: &TestNamespace, name: &str, what: &str, f: impl Fn(&Package) -> bool) -> Package {
    let api = ns.api::<Package>();
    wait_for(&format!("package {name}: {what}"), T, || {
        let api = api.clone();
        let f = &f;
        async move {
            let p = api.get(name).await.ok()?;
            f(&p).then_some(p)
        }
    })
    .await
}

async fn node_zones(c: &Client) -> BTreeMap<String, String> {
    Api::<Node>::all(c.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| {
            let zone = n.labels().get("topology.kubernetes.io/zone").cloned().unwrap_or_default();
            (n.name_any(), zone)
        })
        .collect()
}

/// Server-side dry-run apply of every object the package renders, through the same core
/// function the operator uses.
async fn dry_run(c: &Client, ns: &str, name: &str, spec: &Value) {
    let spec: dromos_crds::PackageSpec = serde_json::from_value(spec.clone()).unwrap();
    let repo = dromos::packages::catalog();
    // Every object, a service's pod types at their full counts.
    let (objects, _) = package::expand_complete(&spec, ns, name, repo).expect("renders");
    let mut resolver = dromos::sync::Resolver::default();
    let reads = std::sync::atomic::AtomicUsize::new(0);
    for obj in objects {
        let (av, kind) = (obj["apiVersion"].as_str().unwrap(), obj["kind"].as_str().unwrap());
        let (ar, _) = resolver.resolve(c, av, kind, &reads).await.unwrap_or_else(|| panic!("{av} {kind} is served"));
        let api: Api<DynamicObject> = Api::namespaced_with(c.clone(), ns, &ar);
        let oname = obj["metadata"]["name"].as_str().unwrap().to_string();
        let body: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
        api.patch(&oname, &PatchParams::apply("dromos-tests").dry_run(), &Patch::Apply(&body))
            .await
            .unwrap_or_else(|e| panic!("{} {kind} {oname}: the API server refused it: {e}", spec.name));
    }
}

#[tokio::test]
async fn every_catalog_package_passes_dry_run_installs_and_becomes_ready_on_kwok() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "pkg-catalog").await;
    let group = format!("pkg-{}", unique_suffix());
    let mut spec = NodeSpec::new("pkgcat", 4);
    spec.zones = vec!["zone-a".into(), "zone-b".into()];
    spec.labels.insert("dromos-test-group".into(), group.clone());
    let nodes = FakeNodes::create(&c, &spec).await;
    let on_nodes = json!({"dromos-test-group": group});

    let catalog = dromos::packages::catalog();
    assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
    assert_eq!(catalog.names(), vec!["cassandra", "hdfs", "kafka", "spark"]);

    let installs = catalog_installs(&on_nodes);
    // The API server accepts every object, in the test's form and with the defaults (claims).
    for (name, spec) in &installs {
        dry_run(&c, &ns.name, name, spec).await;
        dry_run(&c, &ns.name, &format!("{name}-defaults"), &json!({"name": spec["name"]})).await;
    }

    let op = operator(&c, &ns);
    install_and_wait_ready(&ns, &installs).await;
    assert_catalog_workloads(&c, &ns, &nodes).await;
    assert_catalog_plans(&c, &ns).await;
    assert_noop_reconcile_writes_nothing(&op, &ns).await;

    drop(op);
    ns.delete().await;
    nodes.delete().await;
}

/// Every catalog package, with options for KWOK (no persistent storage) and placed on the
/// nodes `on_nodes` selects.
fn catalog_installs(on_nodes: &Value) -> Vec<(&'static str, Value)> {
    vec![
        (
            "kafka",
            json!({"name": "kafka", "options": {"brokers": {"count": 3}, "storage": {"persistent": false},
                    "placement": {"nodeSelector": on_nodes}}}),
        ),
        (
            "cassandra",
            json!({"name": "cassandra", "options": {
                "racks": [{"name": "r1", "zone": "zone-a"}, {"name": "r2", "zone": "zone-b"}],
                "nodes": {"perRack": 2}, "storage": {"persistent": false}, "placement": {"nodeSelector": on_nodes}}}),
        ),
        (
            "hdfs",
            json!({"name": "hdfs", "options": {"ha": {"enabled": true}, "dataNodes": {"count": 3},
                    "storage": {"persistent": false}, "placement": {"nodeSelector": on_nodes}}}),
        ),
        (
            "spark",
            json!({"name": "spark", "options": {"history": {"persistent": false},
                    "placement": {"nodeSelector": on_nodes}}}),
        ),
    ]
}

/// Creates every Package of `installs` and waits until each is Ready with a healthy status.
async fn install_and_wait_ready(ns: &TestNamespace, installs: &[(&str, Value)]) {
    for (name, spec) in installs {
        ns.api::<Package>().create(&PostParams::default(), &package_obj(name, spec.clone())).await.unwrap();
    }
    for (name, _) in installs {
        let p = wait_package(ns, name, "Ready", ready).await;
        let st = p.status.clone().unwrap();
        assert!(st.installed_version.is_some() && st.repository.as_deref() == Some("builtin"), "{st:?}");
        assert!(st.objects.iter().all(|o| o.health == "Ready" || o.health == "Exists"), "{:?}", st.objects);
        assert_eq!(st.object_count, Some(st.objects.len() as i64));
    }
}

/// Workloads are owned by their Package and run on this test's nodes only, shaped as each
/// package's options say.
async fn assert_catalog_workloads(c: &Client, ns: &TestNamespace, nodes: &FakeNodes) {
    let zones = node_zones(c).await;
    let mine: BTreeSet<&String> = nodes.names.iter().collect();
    let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap().items;
    assert!(!pods.is_empty());
    for p in &pods {
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        assert!(mine.contains(&node), "pod {} on {node}", p.name_any());
    }
    let pods_of = |sel: &str| -> Vec<&Pod> {
        let (k, v) = sel.split_once('=').unwrap();
        pods.iter().filter(|p| p.labels().get(k).map(String::as_str) == Some(v)).collect()
    };
    let service_pods = |instance: &str, pod_type: &str| -> Vec<&Pod> {
        pods.iter()
            .filter(|p| {
                p.labels().get("dromos.io/package-instance").map(String::as_str) == Some(instance)
                    && p.labels().get("dromos.io/service-pod").map(String::as_str) == Some(pod_type)
            })
            .collect()
    };
    let node_of = |p: &&Pod| p.spec.as_ref().unwrap().node_name.clone();
    // Kafka: 3 controllers and 3 brokers, one of each per node (UNIQUE hostname).
    for pod_type in ["controller", "broker"] {
        let of_type = service_pods("kafka", pod_type);
        let on: BTreeSet<_> = of_type.iter().map(node_of).collect();
        assert_eq!((of_type.len(), on.len()), (3, 3), "kafka {pod_type}s, one per node");
    }
    let sts = ns.api::<StatefulSet>().get("kafka-broker").await.unwrap();
    let owner = &sts.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Package", "kafka", Some(true)));
    assert_eq!(sts.spec.as_ref().unwrap().service_name.as_deref(), Some("kafka-broker"));
    let headless = ns.api::<Service>().get("kafka-broker").await.unwrap();
    assert_eq!(headless.spec.unwrap().cluster_ip.as_deref(), Some("None"));
    // Cassandra: a pod type per rack, each rack in its zone.
    for (rack, zone) in [("r1", "zone-a"), ("r2", "zone-b")] {
        let pods = service_pods("cassandra", rack);
        assert_eq!(pods.len(), 2, "rack {rack}");
        for p in &pods {
            assert_eq!(zones[&node_of(p).unwrap()], zone, "rack {rack} runs in its zone");
        }
    }
    // HDFS HA: two name nodes, three journal nodes, three data nodes.
    for (pod_type, n) in [("name", 2), ("journal", 3), ("data", 3)] {
        assert_eq!(service_pods("hdfs", pod_type).len(), n, "{pod_type}");
    }
    // Spark: the driver RBAC exists and the history server runs.
    let sa: Api<k8s_openapi::api::core::v1::ServiceAccount> = ns.api();
    assert!(sa.get_opt("spark-driver").await.unwrap().is_some());
    let rb: Api<k8s_openapi::api::rbac::v1::RoleBinding> = ns.api();
    assert!(rb.get_opt("spark-driver").await.unwrap().is_some());
    assert_eq!(pods_of("app.kubernetes.io/component=history-server").len(), 1);
}

/// The catalog's plans ran in their order (Events' microsecond times): Kafka's controllers
/// before its brokers, brokers one at a time; Cassandra's seeds of both racks before the other
/// nodes; HDFS journal, then name nodes one at a time, then data nodes. An option change rolls
/// Kafka one pod at a time, controllers first.
async fn assert_catalog_plans(c: &Client, ns: &TestNamespace) {
    let events = dromos_tests::step_events(c, &ns.name).await;
    let at = |reason: &str, note: &str| dromos_tests::event_at(&events, reason, note);
    let before = |done: &str, next: &str| {
        let (d, n) = (at("StepComplete", done), at("StepStarted", next));
        assert!(d <= n, "{next} started at {n} before {done} completed at {d}: {events:#?}");
    };
    for i in 0..3 {
        before(&format!("deploy: controller-{i}:"), "deploy: broker-0:");
    }
    before("deploy: broker-0:", "deploy: broker-1:");
    before("deploy: broker-1:", "deploy: broker-2:");
    before("deploy: r1-0:", "deploy: r2-0:");
    for seed in ["r1-0", "r2-0"] {
        before(&format!("deploy: {seed}:"), "deploy: r1-1:");
    }
    before("deploy: r1-1:", "deploy: r2-1:");
    for i in 0..3 {
        before(&format!("deploy: journal-{i}:"), "deploy: name-0:");
    }
    before("deploy: name-0:", "deploy: name-1:");
    before("deploy: name-1:", "deploy: data-0:");
    // Journal nodes (and Kafka's controllers) start together: every one before any is ready.
    for pod in ["journal", "controller"] {
        let first_done = (0..3).map(|i| at("StepComplete", &format!("deploy: {pod}-{i}:"))).min().unwrap();
        for i in 0..3 {
            assert!(
                at("StepStarted", &format!("deploy: {pod}-{i}:")) <= first_done,
                "{pod}s start together: {events:#?}"
            );
        }
    }

    // Both pod types change (a pod type whose revision stays is complete at once, no Event).
    let patch = json!({"spec": {"options": {"settings": {"numPartitions": 6}, "controllers": {"heap": "256m"}}}});
    ns.api::<Package>().patch("kafka", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_package(ns, "kafka", "update plan complete", |p| {
        let st = p.status.as_ref();
        let plans = st.map(|s| s.plans.clone()).unwrap_or_default();
        plans.iter().any(|x| x.name == "update" && x.status == dromos_crds::package::ElementStatus::Complete)
            && ready(p)
    })
    .await;
    let events = dromos_tests::step_events(c, &ns.name).await;
    let at = |reason: &str, note: &str| dromos_tests::event_at(&events, reason, note);
    let order = ["controller-0", "controller-1", "controller-2", "broker-0", "broker-1", "broker-2"];
    for w in order.windows(2) {
        let (d, n) =
            (at("StepComplete", &format!("update: {}:", w[0])), at("StepStarted", &format!("update: {}:", w[1])));
        assert!(d <= n, "update: {} started at {n} before {} completed at {d}: {events:#?}", w[1], w[0]);
    }
}

/// A reconcile with nothing to change writes nothing. First let the other packages' last
/// health changes settle (the counter covers every Package of the operator).
async fn assert_noop_reconcile_writes_nothing(op: &Operator, ns: &TestNamespace) {
    let mut last = (op.ctx.writes.load(Ordering::Relaxed), std::time::Instant::now());
    wait_for("the operator's writes to settle", T, || {
        let now = op.ctx.writes.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        let settled = last.1.elapsed() > Duration::from_secs(5);
        async move { settled.then_some(()) }
    })
    .await;
    let before = op.ctx.writes.load(Ordering::Relaxed);
    let reconciles = op.ctx.reconciles.load(Ordering::Relaxed);
    let patch = json!({"metadata": {"annotations": {"test/poke": "1"}}});
    ns.api::<Package>().patch("spark", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for("a reconcile after the poke", T, || async {
        (op.ctx.reconciles.load(Ordering::Relaxed) > reconciles).then_some(())
    })
    .await;
    assert_eq!(op.ctx.writes.load(Ordering::Relaxed), before, "a no-op reconcile wrote something");
}

/// A package repository in Git, Dromos layout: `web` 1.0.0, 1.1.0 (upgradesFrom 1.0.0) and
/// 2.0.0 (upgradesFrom 1.1.0).
fn web_repo() -> Vec<(String, String)> {
    let schema = r#"{"type": "object", "additionalProperties": false, "properties": {
        "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        "expose": {"type": "boolean", "default": true},
        "nodeSelector": {"type": "object", "default": {}}}}"#;
    let deployment = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{instance.name}}}}\nspec:\n  replicas: {{{{replicas}}}}\n  selector:\n    matchLabels: {{app: {{{{instance.name}}}}}}\n  template:\n    metadata:\n      labels: {{app: {{{{instance.name}}}}}}\n    spec:\n      nodeSelector: {{{{{{nodeSelector}}}}}}\n      containers:\n        - name: web\n          image: {image}\n          ports: [{{containerPort: 80}}]\n"
        )
    };
    let service = "{{#expose}}\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{instance.name}}\nspec:\n  selector: {app: {{instance.name}}}\n  ports: [{port: 80}]\n{{/expose}}\n";
    let mut files = vec![];
    for (v, up, image) in
        [("1.0.0", "[]", "nginx:1.26"), ("1.1.0", "['1.0.0']", "nginx:1.27"), ("2.0.0", "['1.1.0']", "nginx:1.28")]
    {
        let dir = format!("pkgs/web/{v}");
        files.push((
            format!("{dir}/package.yaml"),
            format!("name: web\nversion: {v}\ndescription: a web server\nupgradesFrom: {up}\n"),
        ));
        files.push((format!("{dir}/options.schema.json"), schema.to_string()));
        files.push((format!("{dir}/templates/10-deployment.yaml.mustache"), deployment(image)));
        files.push((format!("{dir}/templates/20-service.yaml.mustache"), service.to_string()));
    }
    files
}

async fn deployment_image(ns: &TestNamespace, name: &str) -> (String, i32) {
    let d = ns.api::<Deployment>().get(name).await.unwrap();
    let spec = d.spec.unwrap();
    (spec.template.spec.unwrap().containers[0].image.clone().unwrap(), spec.replicas.unwrap())
}

async fn events_with(c: &Client, ns: &str, reason: &str) -> Vec<Event> {
    Api::<Event>::namespaced(c.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

#[tokio::test]
async fn options_and_versions_roll_out_and_refused_changes_keep_the_installed_render() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "pkg-upgrade").await;
    let group = format!("pkg-{}", unique_suffix());
    let mut spec = NodeSpec::new("pkgup", 2);
    spec.labels.insert("dromos-test-group".into(), group.clone());
    let nodes = FakeNodes::create(&c, &spec).await;
    let _remote = git_catalog(&ns, &web_repo()).await;
    let _op = operator(&c, &ns);
    let pkgs = ns.api::<Package>();
    let set_spec = |spec: Value| {
        let pkgs = pkgs.clone();
        async move {
            pkgs.patch("site", &PatchParams::default(), &Patch::Merge(&json!({"spec": spec}))).await.unwrap();
        }
    };

    // Install 1.0.0.
    let repo_ref = json!({"gitSource": "catalog", "path": "pkgs"});
    let opts = json!({"replicas": 1, "nodeSelector": {"dromos-test-group": group}});
    let p = package_obj("site", json!({"name": "web", "version": "1.0.0", "repository": repo_ref, "options": opts}));
    pkgs.create(&PostParams::default(), &p).await.unwrap();
    let p = wait_package(&ns, "site", "1.0.0 Ready", |p| {
        ready(p) && p.status.as_ref().unwrap().installed_version.as_deref() == Some("1.0.0")
    })
    .await;
    assert_eq!(p.status.as_ref().unwrap().repository.as_deref(), Some("gitsource/catalog:pkgs"));
    assert_eq!(deployment_image(&ns, "site").await, ("nginx:1.26".into(), 1));
    assert!(ns.api::<Service>().get_opt("site").await.unwrap().is_some());
    assert!(!events_with(&c, &ns.name, "Installed").await.is_empty());

    // Option change: two replicas roll out, the Service leaves the render and is pruned.
    set_spec(json!({"options": {"replicas": 2, "expose": false}})).await;
    wait_package(&ns, "site", "two replicas ready", |p| {
        ready(p) && p.status.as_ref().unwrap().objects.iter().all(|o| o.kind != "Service")
    })
    .await;
    assert_eq!(deployment_image(&ns, "site").await, ("nginx:1.26".into(), 2));
    wait_for("the Service pruned", T, || async {
        ns.api::<Service>().get_opt("site").await.unwrap().is_none().then_some(())
    })
    .await;

    // Invalid options: refused with the option path and rule; the render stays.
    set_spec(json!({"options": {"replicas": "many"}})).await;
    let p = wait_package(&ns, "site", "Stalled InvalidOptions", |p| {
        cond(p, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "InvalidOptions")
    })
    .await;
    let errs = &p.status.as_ref().unwrap().option_errors;
    assert_eq!((errs[0].path.as_str(), errs[0].rule.as_str()), ("replicas", "type"), "{errs:?}");
    assert_eq!(cond(&p, "Ready").unwrap().0, "False");
    assert!(cond(&p, "Ready").unwrap().2.contains("replicas"), "{:?}", cond(&p, "Ready"));
    assert_eq!(deployment_image(&ns, "site").await, ("nginx:1.26".into(), 2));
    wait_for("InvalidOptions event", T, || async {
        (!events_with(&c, &ns.name, "InvalidOptions").await.is_empty()).then_some(())
    })
    .await;
    set_spec(json!({"options": {"replicas": 2}})).await;
    wait_package(&ns, "site", "valid again", ready).await;

    // 1.0.0 -> 2.0.0 skips 1.1.0: 2.0.0 lists only 1.1.0 in upgradesFrom.
    set_spec(json!({"version": "2.0.0"})).await;
    let p = wait_package(&ns, "site", "upgrade refused", |p| {
        cond(p, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "VersionChangeRefused")
    })
    .await;
    let msg = cond(&p, "Stalled").unwrap().2;
    assert!(msg.contains("upgradesFrom (1.1.0)") && msg.contains("1.0.0"), "{msg}");
    assert_eq!(p.status.as_ref().unwrap().installed_version.as_deref(), Some("1.0.0"));
    assert_eq!(deployment_image(&ns, "site").await, ("nginx:1.26".into(), 2), "the old objects stay");

    // 1.0.0 -> 1.1.0 is listed: it rolls out.
    set_spec(json!({"version": "1.1.0"})).await;
    wait_package(&ns, "site", "1.1.0 Ready", |p| {
        ready(p) && p.status.as_ref().unwrap().installed_version.as_deref() == Some("1.1.0")
    })
    .await;
    assert_eq!(deployment_image(&ns, "site").await, ("nginx:1.27".into(), 2));
    // Ready means the rollout is complete: no pod of the old version is left running (the
    // health is not read from a watch cache still holding the previous generation).
    let rolled = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=site"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .all(|p| p.spec.unwrap().containers[0].image.as_deref() == Some("nginx:1.27"));
    assert!(rolled, "every running pod has the new image once the Package is Ready");
    assert!(!events_with(&c, &ns.name, "VersionChanged").await.is_empty());

    // Deleting the Package deletes what it rendered (owner references, garbage collector).
    pkgs.delete("site", &DeleteParams::default()).await.unwrap();
    wait_for("the Deployment garbage-collected", T, || async {
        ns.api::<Deployment>().get_opt("site").await.unwrap().is_none().then_some(())
    })
    .await;
    ns.delete().await;
    nodes.delete().await;
}

/// Options that would inject YAML into a render (issue 18: a quote and a newline in Kafka's
/// image made the brokers privileged) are refused before anything is applied: the built-in
/// Kafka by its image pattern, a Git package without a pattern by the renderer, since the
/// value would not stay one scalar.
#[tokio::test]
async fn options_that_would_inject_yaml_are_refused_and_nothing_is_applied() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "pkg-inject").await;
    let template = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{instance.name}}\nspec:\n  selector:\n    matchLabels: {app: {{instance.name}}}\n  template:\n    metadata:\n      labels: {app: {{instance.name}}}\n    spec:\n      containers:\n        - name: web\n          image: {{image}}\n";
    let schema = r#"{"type": "object", "properties": {"image": {"type": "string", "default": "nginx:1.27"}}}"#;
    let files = [
        ("pkgs/open/1.0.0/package.yaml", "name: open\nversion: 1.0.0\n"),
        ("pkgs/open/1.0.0/options.schema.json", schema),
        ("pkgs/open/1.0.0/templates/10-deployment.yaml.mustache", template),
    ];
    let _remote = git_catalog(&ns, &files.map(|(p, t)| (p.to_string(), t.to_string()))).await;
    let _op = operator(&c, &ns);
    let pkgs = ns.api::<Package>();
    let kafka_attack =
        "apache/kafka:3.9.1\"\n          securityContext:\n            privileged: true\n          x: \"";
    let kafka = json!({"name": "kafka", "options": {"image": kafka_attack, "storage": {"persistent": false}}});
    pkgs.create(&PostParams::default(), &package_obj("events", kafka)).await.unwrap();
    let plain_attack = "nginx:1.27\n          securityContext:\n            privileged: true";
    let open = json!({"name": "open", "repository": {"gitSource": "catalog", "path": "pkgs"},
                      "options": {"image": plain_attack}});
    pkgs.create(&PostParams::default(), &package_obj("site", open)).await.unwrap();

    for (name, rule, says) in
        [("events", "pattern", "does not match"), ("site", "template", "does not stay one scalar")]
    {
        let p = wait_package(&ns, name, "Stalled InvalidOptions", |p| {
            cond(p, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "InvalidOptions")
        })
        .await;
        let errs = &p.status.as_ref().unwrap().option_errors;
        assert_eq!((errs[0].path.as_str(), errs[0].rule.as_str()), ("image", rule), "{name}: {errs:?}");
        assert!(errs[0].message.contains(says), "{name}: {errs:?}");
        let ready = cond(&p, "Ready").unwrap();
        assert!(ready.0 == "False" && ready.2.contains("image"), "{name}: {ready:?}");
        assert!(p.status.as_ref().unwrap().objects.is_empty(), "{name}: nothing is installed");
    }
    // Nothing was applied: no workload and no pod in the namespace.
    assert!(ns.api::<StatefulSet>().list(&ListParams::default()).await.unwrap().items.is_empty());
    assert!(ns.api::<Deployment>().list(&ListParams::default()).await.unwrap().items.is_empty());
    assert!(ns.api::<Pod>().list(&ListParams::default()).await.unwrap().items.is_empty());
    ns.delete().await;
}

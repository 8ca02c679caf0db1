//! Service packages (a `service.yaml.mustache` beside `package.yaml`) on the real control
//! plane with KWOK nodes: the Package operator deploys instances one at a time, a paused plan
//! starts nothing until resumed, a larger count extends the deploy plan, and an option change
//! runs the update plan one instance at a time; the plans' state is in the Package's status.

use dromos::operators::packages;
use dromos_crds::Package;
use dromos_crds::package::ElementStatus;
use dromos_tests::repo::git_catalog;
use dromos_tests::{FakeNodes, NodeSpec, Task, TestNamespace, client, install_crds, unique_suffix, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(180);

const SERVICE: &str = r#"pods:
  node:
    count: {{count}}
    image: busybox
    placement: [["dromos-test-group", "IS", "{{group}}"]]
    tasks:
      server:
        goal: RUNNING
        cmd: sleep 100000
        cpus: 0.01
        memory: 16
        env: {VERSION: "{{version}}"}
        ports: {http: 8080}
        readiness: {cmd: "true"}
plans:
  deploy:
    phases:
      - {name: nodes, pod: node}
"#;

fn catalog() -> Vec<(String, String)> {
    let schema = json!({"type": "object", "properties": {
        "count": {"type": "integer", "default": 2, "minimum": 0},
        "version": {"type": "string", "default": "a"},
        "group": {"type": "string"}
    }});
    let dir = "pkgs/echo/1.0.0";
    vec![
        (format!("{dir}/package.yaml"), "name: echo\nversion: 1.0.0\ndescription: instances in order\n".into()),
        (format!("{dir}/options.schema.json"), schema.to_string()),
        (format!("{dir}/service.yaml.mustache"), SERVICE.into()),
    ]
}

struct Pods(Vec<Pod>);

impl Pods {
    async fn of(ns: &TestNamespace) -> Self {
        let api: kube::Api<Pod> = ns.api();
        let mut pods = api.list(&ListParams::default().labels("dromos.io/service-pod=node")).await.unwrap().items;
        pods.retain(|p| p.metadata.deletion_timestamp.is_none());
        pods.sort_by_key(|p| p.name_any());
        Pods(pods)
    }

    fn ready(&self) -> usize {
        self.0.iter().filter(|p| ready_at(p).is_some()).count()
    }

    fn names(&self) -> Vec<String> {
        self.0.iter().map(|p| p.name_any()).collect()
    }
}

fn ready_at(p: &Pod) -> Option<k8s_openapi::jiff::Timestamp> {
    let c = p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True")?;
    c.last_transition_time.as_ref().map(|t| t.0)
}

fn created(p: &Pod) -> k8s_openapi::jiff::Timestamp {
    p.metadata.creation_timestamp.as_ref().unwrap().0
}

/// Each instance was created only once the one before it was ready (second precision).
fn one_at_a_time(pods: &[Pod]) {
    for w in pods.windows(2) {
        let before = ready_at(&w[0]).expect("ready");
        assert!(
            created(&w[1]) >= before,
            "{} created at {} before {} was ready at {before}",
            w[1].name_any(),
            created(&w[1]),
            w[0].name_any()
        );
    }
}

/// Runs the dromos binary (exit 0 expected): its stdout.
fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(dromos_tests::dromos_bin()).args(args).output().expect("run dromos");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "dromos {args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// Runs the dromos binary (exit 1 expected): stdout and stderr.
fn cli_fails(args: &[&str]) -> String {
    let out = std::process::Command::new(dromos_tests::dromos_bin()).args(args).output().expect("run dromos");
    assert_eq!(out.status.code(), Some(1), "dromos {args:?} should fail");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

async fn package_where(ns: &TestNamespace, what: &str, f: impl Fn(&Package) -> bool) -> Package {
    let api = ns.api::<Package>();
    wait_for(&format!("package echo: {what}"), T, || {
        let api = api.clone();
        let f = &f;
        async move {
            let p = api.get("echo").await.ok()?;
            f(&p).then_some(p)
        }
    })
    .await
}

fn plan_status(p: &Package, plan: &str) -> Option<ElementStatus> {
    p.status.as_ref()?.plans.iter().find(|x| x.name == plan).map(|x| x.status)
}

fn ready(p: &Package) -> bool {
    let conds = p.status.as_ref().map(|s| s.common.conditions.clone()).unwrap_or_default();
    conds.iter().any(|c| c.type_ == "Ready" && c.status == "True")
        && p.status.as_ref().and_then(|s| s.common.observed_generation) == p.metadata.generation
}

async fn patch(ns: &TestNamespace, body: Value) {
    ns.api::<Package>().patch("echo", &PatchParams::default(), &Patch::Merge(&body)).await.unwrap();
}

/// (time, reason, note) of the Step and Plan Events of the namespace.
async fn step_events(c: &Client, ns: &TestNamespace) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> =
        kube::Api::<k8s_openapi::api::events::v1::Event>::namespaced(c.clone(), &ns.name)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref().is_some_and(|r| r.starts_with("Step") || r.starts_with("Plan")))
            .map(|e| {
                let t = e.event_time.map(|t| t.0.to_string()).unwrap_or_default();
                (t, e.reason.unwrap_or_default(), e.note.unwrap_or_default())
            })
            .collect();
    out.sort();
    out
}

/// When the first Event with `reason` and a note starting with `note` happened.
fn at(events: &[(String, String, String)], reason: &str, note: &str) -> k8s_openapi::jiff::Timestamp {
    let e = events
        .iter()
        .find(|e| e.1 == reason && e.2.starts_with(note))
        .unwrap_or_else(|| panic!("no {reason} Event {note:?} in {events:#?}"));
    e.0.parse().unwrap_or_else(|err| panic!("{}: {err}", e.0))
}

fn operator(c: &Client, ns: &TestNamespace, cache: &std::path::Path) -> Task {
    let opts = dromos::operators::manager::ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        packages: Some(packages::Options { concurrency: 2, cache_dir: cache.to_path_buf(), allow_file_urls: true }),
        ..Default::default()
    };
    dromos_tests::operators(c, opts).1
}

#[tokio::test]
async fn a_service_deploys_pauses_scales_and_updates_one_instance_at_a_time() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "svc").await;
    let group = format!("svc-{}", unique_suffix());
    let mut spec = NodeSpec::new("svc", 2);
    spec.labels.insert("dromos-test-group".into(), group.clone());
    let nodes = FakeNodes::create(&c, &spec).await;
    let _remote = git_catalog(&ns, &catalog()).await;
    let cache = tempfile::tempdir().unwrap();
    let _op = operator(&c, &ns, cache.path());

    // deploy: two instances, one after the other.
    let options = json!({"count": 2, "group": group});
    let pkg: Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": "echo"},
        "spec": {"name": "echo", "repository": {"gitSource": "catalog", "path": "pkgs"}, "options": options}
    }))
    .unwrap();
    ns.api::<Package>().create(&PostParams::default(), &pkg).await.unwrap();
    let p = package_where(&ns, "deployed and Ready", |p| {
        plan_status(p, "deploy") == Some(ElementStatus::Complete) && ready(p)
    })
    .await;
    let pods = Pods::of(&ns).await;
    assert_eq!(pods.names(), ["echo-node-0", "echo-node-1"]);
    one_at_a_time(&pods.0);
    let steps: Vec<String> =
        p.status.unwrap().plans[0].phases[0].steps.iter().map(|s| format!("{} {:?}", s.name, s.status)).collect();
    assert_eq!(steps, ["node-0:[server] Complete", "node-1:[server] Complete"]);

    // Paused (with the CLI), a larger count starts nothing; resumed, the new instances come one
    // at a time.
    let n = ns.name.clone();
    let out = cli(&["service", "plan", "pause", "echo", "deploy", "-n", &n]);
    assert!(out.contains("requested pause deploy"), "{out}");
    package_where(&ns, "the pause applied", |p| p.status.as_ref().is_some_and(|s| s.plans[0].paused)).await;
    patch(&ns, json!({"spec": {"options": {"count": 4, "group": group}}})).await;
    package_where(&ns, "the deploy plan waiting", |p| plan_status(p, "deploy") == Some(ElementStatus::Waiting)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(Pods::of(&ns).await.names(), ["echo-node-0", "echo-node-1"], "nothing starts while paused");
    let shown = cli(&["service", "plan", "show", "echo", "deploy", "-n", &n]);
    assert!(shown.starts_with("deploy (serial strategy) (WAITING)\n"), "{shown}");
    assert!(
        shown.contains("├─ node-1:[server] (COMPLETE)\n") && shown.contains("└─ node-3:[server] (PENDING)\n"),
        "{shown}"
    );
    let refused = cli_fails(&["service", "plan", "resume", "echo", "nope", "-n", &n]);
    assert!(refused.contains("no plan \"nope\""), "{refused}");
    cli(&["service", "plan", "resume", "echo", "deploy", "-n", &n]);
    package_where(&ns, "deployed to 4", |p| plan_status(p, "deploy") == Some(ElementStatus::Complete) && ready(p))
        .await;
    let pods = Pods::of(&ns).await;
    assert_eq!(pods.names(), ["echo-node-0", "echo-node-1", "echo-node-2", "echo-node-3"]);
    one_at_a_time(&pods.0[1..]);
    let listed = cli(&["service", "pod", "list", "echo", "-n", &n]);
    assert!(listed.lines().nth(4).is_some_and(|l| l.starts_with("node      3      echo-node-3  true")), "{listed}");
    let status = cli(&["service", "pod", "status", "echo", "node-1", "-n", &n]);
    assert!(status.starts_with("instance   node-1\npod        echo-node-1\n"), "{status}");
    assert!(status.contains("(current)") && status.contains("server  RUNNING"), "{status}");
    assert!(status.contains("deploy  nodes  node-1:[server]  COMPLETE"), "{status}");
    let json: Value =
        serde_json::from_str(&cli(&["service", "pod", "status", "echo", "node-1", "-n", &n, "-o", "json"])).unwrap();
    assert_eq!((json["ready"].as_bool(), json["tasks"][0]["task"].as_str()), (Some(true), Some("server")), "{json}");
    let endpoints = cli(&["service", "endpoints", "echo", "-n", &n]);
    assert!(endpoints.contains(&format!("echo-node-2  http  echo-node-2.echo-node.{n}.svc:8080")), "{endpoints}");
    let before: Vec<String> = pods.0.iter().map(|p| p.uid().unwrap()).collect();

    // An option change: the update plan replaces one instance at a time.
    patch(&ns, json!({"spec": {"options": {"count": 4, "group": group, "version": "b"}}})).await;
    package_where(&ns, "updated", |p| plan_status(p, "update") == Some(ElementStatus::Complete) && ready(p)).await;
    let pods = wait_for("4 ready pods", T, || async {
        let pods = Pods::of(&ns).await;
        (pods.ready() == 4).then_some(pods)
    })
    .await;
    for (p, old) in pods.0.iter().zip(&before) {
        assert_ne!(&p.uid().unwrap(), old, "{} replaced", p.name_any());
        let env = p.spec.as_ref().unwrap().containers[0].env.as_ref().unwrap();
        let version = env.iter().find(|e| e.name == "VERSION").and_then(|e| e.value.as_deref());
        assert_eq!(version, Some("b"), "{}", p.name_any());
    }
    one_at_a_time(&pods.0);
    let events = step_events(&c, &ns).await;
    // Pause and resume are one series of PlanCommand Events (same object, action and reason).
    assert!(events.iter().any(|e| e.1 == "PlanCommand"), "{events:#?}");
    // Each step started only after the one before it completed (Events' microsecond times).
    for plan in ["deploy", "update"] {
        for i in 0..3 {
            let done = at(&events, "StepComplete", &format!("{plan}: node-{i}:"));
            let next = at(&events, "StepStarted", &format!("{plan}: node-{}:", i + 1));
            assert!(
                done <= next,
                "{plan}: node-{} started at {next} before node-{i} completed at {done}: {events:#?}",
                i + 1
            );
        }
    }
    nodes.delete().await;
    ns.delete().await;
}

const STORE: &str = r#"pods:
  node:
    count: 3
    image: busybox
    nodeSelector: {dromos-test-group: "{{group}}"}
    placement: [[hostname, UNIQUE]]
    volumes: [{name: data, path: /data, size: 1Gi, storageClass: ""}]
    tasks:
      server: {goal: RUNNING, cmd: sleep 100000, cpus: 0.01, memory: 16}
plans:
  deploy:
    phases:
      - {name: nodes, pod: node}
"#;

/// Hand-made volumes without a class, for the claims of `STORE` to bind.
async fn volumes(c: &Client, prefix: &str, n: usize) -> Vec<String> {
    use k8s_openapi::api::core::v1::PersistentVolume;
    let api: kube::Api<PersistentVolume> = kube::Api::all(c.clone());
    let mut names = vec![];
    for i in 0..n {
        let name = format!("{prefix}-{i}");
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                     "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": format!("/tmp/{name}")}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &pv).await.unwrap();
        names.push(name);
    }
    names
}

#[tokio::test]
async fn an_instance_whose_node_is_deleted_is_replaced_elsewhere_with_a_new_volume() {
    use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "svc-loss").await;
    let group = format!("svl-{}", unique_suffix());
    let mut spec = NodeSpec::new("svl", 4);
    spec.labels.insert("dromos-test-group".into(), group.clone());
    let nodes = FakeNodes::create(&c, &spec).await;
    let pvs = volumes(&c, &group, 5).await;
    let schema = json!({"type": "object", "properties": {"group": {"type": "string"}}});
    let dir = "pkgs/store/1.0.0";
    let files = vec![
        (format!("{dir}/package.yaml"), "name: store\nversion: 1.0.0\ndescription: one volume each\n".into()),
        (format!("{dir}/options.schema.json"), schema.to_string()),
        (format!("{dir}/service.yaml.mustache"), STORE.into()),
    ];
    let _remote = git_catalog(&ns, &files).await;
    let cache = tempfile::tempdir().unwrap();
    let _op = operator(&c, &ns, cache.path());
    let pkg: Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": "store"},
        "spec": {"name": "store", "repository": {"gitSource": "catalog", "path": "pkgs"}, "options": {"group": group}}
    }))
    .unwrap();
    ns.api::<Package>().create(&PostParams::default(), &pkg).await.unwrap();
    let api = ns.api::<Package>();
    let status_of = |what: &'static str, f: fn(&Package) -> bool| {
        let api = api.clone();
        wait_for(what, T, move || {
            let api = api.clone();
            async move { api.get("store").await.ok().filter(&f) }
        })
    };
    status_of("deployed", |p| plan_status(p, "deploy") == Some(ElementStatus::Complete) && ready(p)).await;
    let pods: kube::Api<Pod> = ns.api();
    let claims: kube::Api<PersistentVolumeClaim> = ns.api();
    let lost = pods.get("store-node-1").await.unwrap();
    let lost_node = lost.spec.as_ref().unwrap().node_name.clone().unwrap();
    let old_claim = claims.get("data-store-node-1").await.unwrap();
    let old_volume = old_claim.spec.as_ref().unwrap().volume_name.clone().unwrap();

    // The node goes away (a machine removed from the cluster).
    kube::Api::<Node>::all(c.clone()).delete(&lost_node, &Default::default()).await.unwrap();
    let p = status_of("the recovery plan complete", |p| {
        plan_status(p, "recovery") == Some(ElementStatus::Complete) && ready(p)
    })
    .await;
    let recovery = p.status.as_ref().unwrap().plans.iter().find(|x| x.name == "recovery").unwrap();
    let steps: Vec<(&str, &str)> =
        recovery.phases[0].steps.iter().map(|s| (s.name.as_str(), s.action.as_str())).collect();
    assert_eq!(steps, [("node-1:replace", "replace")], "a lost node is a replacement, not a relaunch");
    let back = wait_for("store-node-1 running elsewhere", T, || {
        let pods = pods.clone();
        async move { pods.get("store-node-1").await.ok().filter(|p| ready_at(p).is_some()) }
    })
    .await;
    assert_ne!(back.uid(), lost.uid());
    let node = back.spec.as_ref().unwrap().node_name.clone().unwrap();
    assert!(node != lost_node && nodes.names.contains(&node), "{node}");
    let new_claim = claims.get("data-store-node-1").await.unwrap();
    assert_ne!(new_claim.uid(), old_claim.uid(), "its volume claim was released and made again");
    assert_ne!(new_claim.spec.as_ref().unwrap().volume_name.as_ref(), Some(&old_volume), "on another volume");
    let events = step_events(&c, &ns).await;
    assert!(events.iter().any(|e| e.1 == "StepStarted" && e.2.starts_with("recovery: node-1:replace")), "{events:#?}");
    // The other instances were left alone.
    for i in [0, 2] {
        assert!(pods.get(&format!("store-node-{i}")).await.unwrap().metadata.deletion_timestamp.is_none());
    }

    let pv_api: kube::Api<PersistentVolume> = kube::Api::all(c.clone());
    for pv in pvs {
        let _ = pv_api.delete(&pv, &Default::default()).await;
    }
    drop(nodes);
}

//! Plans of small trees: subsets, quantities, prune, guard, waves.

use super::*;
use serde_json::json;

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}, "data": data})
}

#[test]
fn inventory_entries_round_trip() {
    let r = ObjRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some("shop".into()),
        name: "web".into(),
    };
    assert_eq!(r.encode(), "apps/v1|Deployment|shop|web");
    assert_eq!(ObjRef::decode(&r.encode()), Some(r));
    let ns = ObjRef::decode("v1|Namespace||shop").unwrap();
    assert_eq!(ns.namespace, None);
    assert!(ObjRef::decode("v1|Namespace").is_none());
}

#[test]
fn subset_ignores_live_extras_and_normalises_quantities() {
    let d = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "m", "env": [{"name": "E", "value": ""}], "resources": {"limits": {"memory": "1024Mi", "cpu": "1000m"}}}], "tolerations": []}});
    let l = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "m", "image": "x", "env": [{"name": "E"}], "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}}], "dnsPolicy": "ClusterFirst"}});
    assert!(is_subset(&d, &l));
    let l2 = json!({"spec": {"containers": [{"name": "m", "resources": {"limits": {"memory": "2Gi", "cpu": "1"}}}]}});
    assert!(!is_subset(&d, &l2));
    assert!(!is_subset(&json!({"a": "1Gi"}), &json!({"a": "foo"})));
}

fn deployment(annotation: &str, env: &str, cpu: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "a", "annotations": {"note": annotation}},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "env": [{"name": "E", "value": env}], "resources": {"requests": {"cpu": cpu}}}]}}}})
}

#[test]
fn strings_that_look_like_quantities_compare_exactly_outside_resource_fields() {
    let plan_of = |desired: Value, live: Value| {
        let mut desired = [desired];
        let live = observe(&mut desired, [live]);
        let p = plan_sync(&desired, &live, &[], &HashMap::new(), &PlanOptions::default());
        p.steps[0].action
    };
    for (from, to) in [("1.10", "1.1"), ("1000", "1k"), ("0.50", "0.5"), ("1Gi", "1024Mi"), ("1", "1.0")] {
        assert_eq!(
            plan_of(cm("c", json!({"v": to})), cm("c", json!({"v": from}))),
            Action::Update,
            "data {from} -> {to}"
        );
        let live = deployment("x", from, json!("1"));
        assert_eq!(plan_of(deployment("x", to, json!("1")), live.clone()), Action::Update, "env {from} -> {to}");
        assert_eq!(plan_of(deployment(to, from, json!("1")), deployment(from, from, json!("1"))), Action::Update);
    }
    // Where the server stores canonical quantities, spellings of one value are one value.
    let live = deployment("x", "y", json!("1100m"));
    for cpu in [json!("1.10"), json!("1.1"), json!("1100m"), json!(1.1)] {
        assert_eq!(plan_of(deployment("x", "y", cpu.clone()), live.clone()), Action::Unchanged, "{cpu}");
    }
    assert_eq!(plan_of(deployment("x", "y", json!("1.2")), live.clone()), Action::Update);
    // Same value, another format: the server would store `1073741824`, not `1Gi`.
    let live = deployment("x", "y", json!("1Gi"));
    assert_eq!(plan_of(deployment("x", "y", json!("1073741824")), live), Action::Update);
    // Integers beyond 2^53 are not merged with their neighbours.
    let big = |n: u64| json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "j", "namespace": "a"}, "spec": {"n": n}});
    assert_eq!(plan_of(big(9_007_199_254_740_993), big(9_007_199_254_740_992)), Action::Update);
}

#[test]
fn quantity_paths_cover_every_field_the_server_normalises() {
    let obj = |api: &str, kind: &str, spec: Value| json!({"apiVersion": api, "kind": kind, "spec": spec});
    let pod = |q: &str| json!({"containers": [{"name": "m", "resources": {"limits": {"memory": q}}}], "initContainers": [{"name": "i", "resources": {"requests": {"cpu": q}}}], "overhead": {"cpu": q}, "volumes": [{"name": "v", "emptyDir": {"sizeLimit": q}}]});
    let template = |q: &str| json!({"template": {"spec": pod(q)}});
    let resources = |q: &str| json!({"resources": {"requests": {"storage": q}}});
    type Spec<'a> = Box<dyn Fn(&str) -> Value + 'a>;
    let cases: Vec<(&str, &str, Spec)> = vec![
        ("v1", "Pod", Box::new(pod)),
        ("apps/v1", "Deployment", Box::new(template)),
        ("apps/v1", "StatefulSet", Box::new(template)),
        ("apps/v1", "DaemonSet", Box::new(template)),
        ("apps/v1", "ReplicaSet", Box::new(template)),
        ("batch/v1", "Job", Box::new(template)),
        ("batch/v1", "CronJob", Box::new(|q: &str| json!({"jobTemplate": {"spec": template(q)}}))),
        ("apps/v1", "StatefulSet", Box::new(|q: &str| json!({"volumeClaimTemplates": [{"spec": resources(q)}]}))),
        ("v1", "PersistentVolumeClaim", Box::new(resources)),
        ("v1", "PersistentVolume", Box::new(|q: &str| json!({"capacity": {"storage": q}}))),
        ("v1", "ResourceQuota", Box::new(|q: &str| json!({"hard": {"requests.memory": q}}))),
        (
            "v1",
            "LimitRange",
            Box::new(
                |q: &str| json!({"limits": [{"max": {"cpu": q}, "min": {"cpu": q}, "default": {"cpu": q}, "defaultRequest": {"cpu": q}, "maxLimitRequestRatio": {"cpu": q}}]}),
            ),
        ),
    ];
    for (api, kind, spec) in &cases {
        assert!(is_subset(&obj(api, kind, spec("1024Mi")), &obj(api, kind, spec("1Gi"))), "{kind}");
        assert!(!is_subset(&obj(api, kind, spec("1024Mi")), &obj(api, kind, spec("2Gi"))), "{kind}");
    }
    let node = |q: &str| json!({"apiVersion": "v1", "kind": "Node", "status": {"capacity": {"cpu": q}, "allocatable": {"cpu": q}}});
    assert!(is_subset(&node("1000m"), &node("1")));
    // Dromos' Job and other custom resources are stored as written.
    let job = |q: &str| obj("dromos.io/v1alpha1", "Job", template(q));
    assert!(!is_subset(&job("1024Mi"), &job("1Gi")));
}

#[test]
fn secrets_compare_string_data_with_data() {
    let d = json!({"kind": "Secret", "stringData": {"k": "hello"}});
    let l = json!({"kind": "Secret", "data": {"k": "aGVsbG8="}, "type": "Opaque"});
    assert!(is_subset(&d, &l));
    assert!(!is_subset(&d, &json!({"kind": "Secret", "data": {"k": "eA=="}})));
}

#[test]
fn plan_creates_updates_skips_and_prunes() {
    let mut desired = vec![cm("a", json!({"x": "1"})), cm("b", json!({"x": "2"})), cm("c", json!({"x": "3"}))];
    let live = observe(&mut desired, [cm("b", json!({"x": "2"})), cm("c", json!({"x": "old"})), cm("gone", json!({}))]);
    let inventory: Vec<ObjRef> = ["b", "c", "gone"].iter().map(|n| ObjRef::of(&cm(n, json!({}))).unwrap()).collect();
    let p = plan_sync(&desired, &live, &inventory, &HashMap::new(), &PlanOptions::default());
    let got: Vec<(&str, Action)> = p.steps.iter().map(|s| (s.obj.name.as_str(), s.action)).collect();
    assert_eq!(got, vec![("a", Action::Create), ("b", Action::Unchanged), ("c", Action::Update)]);
    let diff = p.steps[2].diff.as_ref().unwrap();
    assert!(diff.contains("-  x: old\n"), "{diff}");
    assert!(diff.contains("+  x: '3'\n") || diff.contains("+  x: \"3\"\n"), "{diff}");
    assert_eq!(p.prune.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), vec!["gone"]);
    assert_eq!(p.guard, Guard::Ok);
    assert!(!p.is_noop());
}

#[test]
fn deletion_guard_blocks_mass_deletes_unless_allowed() {
    let inventory: Vec<ObjRef> = (0..10).map(|i| ObjRef::of(&cm(&format!("c{i}"), json!({}))).unwrap()).collect();
    let desired: Vec<Value> = (0..4).map(|i| cm(&format!("c{i}"), json!({}))).collect();
    let p = plan_sync(&desired, &HashMap::new(), &inventory, &HashMap::new(), &PlanOptions::default());
    assert_eq!(p.guard, Guard::Blocked { deleting: 6, inventory: 10, max_fraction: 0.5 });
    let opts = PlanOptions { allow_mass_delete: true, ..Default::default() };
    assert_eq!(plan_sync(&desired, &HashMap::new(), &inventory, &HashMap::new(), &opts).guard, Guard::Ok);
    let desired: Vec<Value> = (0..5).map(|i| cm(&format!("c{i}"), json!({}))).collect();
    assert_eq!(
        plan_sync(&desired, &HashMap::new(), &inventory, &HashMap::new(), &PlanOptions::default()).guard,
        Guard::Ok
    );
    let opts = PlanOptions { prune: false, ..Default::default() };
    let p = plan_sync(&[], &HashMap::new(), &inventory, &HashMap::new(), &opts);
    assert!(p.prune.is_empty());
}

#[test]
fn waves_put_namespaces_and_crds_first_and_apps_by_dependency_depth() {
    let files: Vec<crate::SourceFile> = [
        ("db.yaml", "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/db, cmd: x}\n"),
        ("api.yaml", "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/api, cmd: x, dependencies: [db]}\n"),
        (
            "web.yaml",
            "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web, cmd: x, dependencies: [/shop/api]}\n",
        ),
        ("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"),
        ("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n"),
    ]
    .iter()
    .map(|(p, t)| crate::SourceFile { path: p.to_string(), bytes: t.as_bytes().to_vec() })
    .collect();
    let tree = crate::check_tree(&files, &Default::default());
    assert!(tree.is_valid(), "{:?}", tree.diagnostics);
    let levels = app_levels(&tree.manifests);
    assert_eq!(levels[&("shop".to_string(), "web".to_string())], 2);
    let rendered = crate::render::render_manifests(&tree.manifests, &Default::default());
    let p = plan_sync(&rendered.objects, &HashMap::new(), &[], &levels, &PlanOptions::default());
    let order: Vec<String> = p.steps.iter().map(|s| format!("{}:{}/{}", s.wave, s.obj.kind, s.obj.name)).collect();
    assert_eq!(order[0], "0:Namespace/shop");
    assert_eq!(order[1], "2:ConfigMap/c");
    let pos = |s: &str| order.iter().position(|o| o == s).unwrap_or_else(|| panic!("{s} in {order:?}"));
    assert!(pos("3:Deployment/db") < pos("4:App/api"));
    assert!(pos("4:Deployment/api") < pos("5:App/web"));
}

#[test]
fn stamping_adds_ownership_labels() {
    let mut o = cm("a", json!({}));
    stamp(&mut o, "ops.platform");
    assert_eq!(o["metadata"]["labels"][SOURCE_LABEL], "ops.platform");
    assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "dromos");
}

#[test]
fn base64_pads() {
    assert_eq!(base64(b"hello"), "aGVsbG8=");
    assert_eq!(base64(b"hi"), "aGk=");
}

fn labelled(mut v: Value, annotations: Value) -> Value {
    v["metadata"]["labels"] = json!({(SOURCE_LABEL): "ns.src", (MANAGED_BY.0): MANAGED_BY.1});
    v["metadata"]["annotations"] = annotations;
    v
}

fn names(v: &[ObjRef]) -> Vec<&str> {
    v.iter().map(|o| o.name.as_str()).collect()
}

#[test]
fn protected_kinds_and_disabled_objects_are_kept_and_opt_in_deletes_them() {
    let ns =
        |n: &str, ann: Value| labelled(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}), ann);
    let crd = labelled(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x.io"}}),
        json!({}),
    );
    let pvc = labelled(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "a"}}),
        json!({}),
    );
    let live_objects = vec![
        ns("team", json!({})),
        ns("scratch", json!({(PRUNE_ANNOTATION): "enabled"})),
        crd,
        pvc,
        labelled(cm("keepme", json!({})), json!({(PRUNE_ANNOTATION): "disabled"})),
        labelled(cm("old", json!({})), json!({})),
    ];
    let inventory: Vec<ObjRef> = live_objects.iter().filter_map(ObjRef::of).collect();
    let mut desired: Vec<Value> = (0..10).map(|i| cm(&format!("c{i}"), json!({}))).collect();
    let live = observe(&mut desired, live_objects);
    let p = plan_sync(&desired, &live, &inventory, &HashMap::new(), &PlanOptions::default());
    let mut deleted = names(&p.prune);
    deleted.sort();
    assert_eq!(deleted, ["old", "scratch"], "only the plain ConfigMap and the opted-in Namespace go");
    let mut kept: Vec<(&str, Keep)> = p.kept.iter().map(|(o, k)| (o.name.as_str(), *k)).collect();
    kept.sort_by_key(|k| k.0);
    assert_eq!(
        kept,
        [("data", Keep::Protected), ("keepme", Keep::Disabled), ("team", Keep::Protected), ("x.io", Keep::Protected)]
    );
    assert!(report::text(&p).contains("= keep Namespace/team ("), "{}", report::text(&p));
    // A kept object leaves the inventory: it is the user's from now on.
    let next = next_inventory(&desired, &[]);
    assert!(!next.iter().any(|o| o.name == "team"));
}

#[test]
fn labelled_live_objects_missing_from_the_inventory_are_pruned_too() {
    // Applied just before a crash: live and labelled, but never recorded in the inventory.
    let mut desired = vec![cm("a", json!({})), cm("b", json!({})), cm("c", json!({}))];
    let live =
        observe(&mut desired, [labelled(cm("orphan", json!({})), json!({})), labelled(cm("a", json!({})), json!({}))]);
    let inventory = vec![ObjRef::of(&cm("a", json!({}))).unwrap()];
    let p = plan_sync(&desired, &live, &inventory, &HashMap::new(), &PlanOptions::default());
    assert_eq!(names(&p.prune), ["orphan"]);
    // Without the managed-by label an object is not Dromos' to delete.
    let mut foreign = cm("foreign", json!({}));
    foreign["metadata"]["labels"] = json!({(SOURCE_LABEL): "ns.src"});
    let p = plan_sync(
        &desired,
        &observe(&mut desired.clone(), [foreign]),
        &inventory,
        &HashMap::new(),
        &PlanOptions::default(),
    );
    assert!(p.prune.is_empty());
}

#[test]
fn an_autoscaled_app_keeps_its_live_instances_and_others_follow_git() {
    let app = |instances: Option<i64>, autoscaled: Option<&str>| {
        let mut a = json!({"apiVersion": "dromos.io/v1alpha1", "kind": "App",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"cmd": "serve"}});
        if let Some(n) = instances {
            a["spec"]["instances"] = n.into();
        }
        if let Some(v) = autoscaled {
            a["metadata"]["annotations"] = json!({AUTOSCALED_ANNOTATION: v});
        }
        a
    };
    let opts = PlanOptions::default();
    let plan_of = |desired: &mut Vec<Value>, live: &[Value]| {
        let live = observe(desired, live.to_vec());
        plan_sync(desired, &live, &[], &HashMap::new(), &opts)
    };
    // Scaled to 5 by an autoscaler while Git says 2: nothing to do, and 5 is what is applied.
    let mut desired = vec![app(Some(2), Some("true"))];
    let p = plan_of(&mut desired, &[app(Some(5), Some("true"))]);
    assert_eq!(p.steps[0].action, Action::Unchanged);
    assert_eq!(desired[0]["spec"]["instances"], 5);
    // Not created yet: Git's value.
    let mut desired = vec![app(Some(2), Some("true"))];
    let p = plan_of(&mut desired, &[]);
    assert_eq!((p.steps[0].action, &desired[0]["spec"]["instances"]), (Action::Create, &json!(2)));
    // Without the annotation (or with another value) Git wins: an update back to 2.
    for a in [None, Some("false")] {
        let mut desired = vec![app(Some(2), a)];
        let p = plan_of(&mut desired, &[app(Some(5), a)]);
        assert_eq!(p.steps[0].action, Action::Update, "{a:?}");
        assert_eq!(desired[0]["spec"]["instances"], 2);
    }
    // Other fields still follow Git.
    let mut desired = vec![app(Some(2), Some("true"))];
    desired[0]["spec"]["cmd"] = "serve --v2".into();
    let p = plan_of(&mut desired, &[app(Some(5), Some("true"))]);
    assert_eq!(p.steps[0].action, Action::Update);
}

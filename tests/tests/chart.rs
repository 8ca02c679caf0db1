//! The Helm chart `charts/dromos`, rendered by a real Helm (v3, built from the Go module proxy by
//! `tests/cluster/helm`):
//! * the rendered RBAC grants exactly the rules the chart README documents, in both modes;
//! * the Deployment, Service, ServiceMonitor and GitSources follow the values;
//! * the controller logic, running with nothing but a token of the chart's ServiceAccount, syncs
//!   the repository's `examples/`, operates its Apps and Jobs and takes the leader Lease without
//!   a single Forbidden, and the API server refuses it what the chart does not grant.

use dromos::local::{InventoryStore, sync_dir};
use dromos::operators::manager::{Manager, ManagerOptions};
use dromos::operators::{apps, gitsource, jobs};
use dromos::sync::{Resolver, SyncSettings};
use dromos_core::plan::PlanOptions;
use dromos_tests::chart::{
    apply, can, client_as, delete_cluster_rbac, documented_permissions, of_kind, render, rendered_permissions,
    repo_root,
};
use dromos_tests::{Task, TestNamespace, client, install_crds, unique_suffix, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Everything the controller logs in this test process (debug level for Dromos and kube).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        struct W(Arc<Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                std::io::stderr().write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let b = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter("warn,dromos=debug,kube_runtime=debug")
            .with_ansi(false)
            .with_writer(move || W(b.clone()))
            .init();
        buf
    })
    .clone()
}

#[test]
fn rendered_rbac_is_exactly_the_documented_table_in_both_modes() {
    for namespaced in [false, true] {
        let set = format!("namespaced={namespaced}");
        let objects = render("dromos", "dromos-system", &[&set]);
        let rendered = rendered_permissions(&objects, "dromos");
        let documented = documented_permissions(namespaced);
        let extra: Vec<_> = rendered.difference(&documented).collect();
        let missing: Vec<_> = documented.difference(&rendered).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "namespaced={namespaced}: granted but not in the README table: {extra:#?}\nin the table but not granted: {missing:#?}"
        );
        // Cluster-wide write access only in cluster mode; in namespaced mode the controller's
        // role is a Role in the release namespace and the only ClusterRole reads CRDs.
        let cluster_roles = of_kind(&objects, "ClusterRole");
        // `edit` and `view` are aggregated into the built-in roles and bound to nobody.
        let aggregated =
            |r: &Value| r["metadata"]["labels"].as_object().unwrap().keys().any(|k| k.contains("aggregate-to"));
        assert_eq!(cluster_roles.iter().filter(|r| aggregated(r)).count(), 2, "{cluster_roles:#?}");
        let cluster_roles: Vec<&Value> = cluster_roles.iter().copied().filter(|r| !aggregated(r)).collect();
        if namespaced {
            // Read-only: the CRD and SourcePolicy reads and the scheduler's view of nodes and
            // their pods.
            assert_eq!(cluster_roles.len(), 2, "{cluster_roles:#?}");
            for r in &cluster_roles {
                for rule in r["rules"].as_array().unwrap() {
                    assert!(
                        rule["verbs"].as_array().unwrap().iter().all(|v| v == "get" || v == "list" || v == "watch"),
                        "{r:#?}"
                    );
                }
            }
            for r in of_kind(&objects, "Role") {
                assert_eq!(r["metadata"]["namespace"], "dromos-system");
            }
        } else {
            assert_eq!(cluster_roles.len(), 3);
        }
        assert!(!rendered.iter().any(|p| p.4 == "*" || p.2 == "*" || p.1 == "*"), "no wildcards: {rendered:#?}");
    }

    // rbac.extraRules adds rules for kinds beyond the base set, and nothing else changes.
    let objects = render(
        "dromos",
        "dromos-system",
        &[
            "rbac.extraRules[0].apiGroups[0]=",
            "rbac.extraRules[0].resources[0]=limitranges",
            "rbac.extraRules[0].verbs[0]=get",
        ],
    );
    let extra: Vec<_> =
        rendered_permissions(&objects, "dromos").difference(&documented_permissions(false)).cloned().collect();
    assert_eq!(extra, vec![("controller".into(), String::new(), "limitranges".into(), String::new(), "get".into())]);
}

fn container(objects: &[Value]) -> Value {
    let deps = of_kind(objects, "Deployment");
    assert_eq!(deps.len(), 1);
    deps[0]["spec"]["template"]["spec"]["containers"][0].clone()
}

fn args(c: &Value) -> Vec<String> {
    c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

#[test]
fn deployment_service_monitor_and_sources_follow_the_values() {
    let objects = render("dromos", "dromos-system", &[]);
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert!(!kinds.contains(&"ServiceMonitor") && !kinds.contains(&"GitSource"), "{kinds:?}");
    let dep = of_kind(&objects, "Deployment")[0];
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(dep["spec"]["template"]["spec"]["serviceAccountName"], "dromos");
    let c = container(&objects);
    assert_eq!(args(&c), ["controller", "--listen=0.0.0.0:8080", "--leader-elect", "--require-service-account"]);
    assert_eq!(c["image"], "ghcr.io/dromos/dromos:0.1.0");
    let env = c["env"].as_array().unwrap();
    let var = |n: &str| env.iter().find(|e| e["name"] == n).cloned().unwrap_or(Value::Null);
    assert_eq!(var("POD_NAMESPACE")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
    assert_eq!(var("RUST_LOG")["value"], "info");
    assert_eq!(var("DROMOS_WEBHOOK_SECRET"), Value::Null, "webhook off without a secret");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(c["resources"]["requests"]["memory"], "128Mi");
    let svc = of_kind(&objects, "Service")[0];
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(svc["spec"]["selector"], dep["spec"]["selector"]["matchLabels"]);

    let objects = render(
        "prod",
        "platform",
        &[
            "namespaced=true",
            "replicas=3",
            "leaderElect=false",
            "logLevel=debug",
            "image.tag=1.2.3",
            "serviceMonitor.enabled=true",
            "webhook.secretName=hook",
            "sources[0].name=cluster-state",
            "sources[0].spec.url=https://git.example.com/cluster-state.git",
            "sources[0].spec.ref.branch=main",
        ],
    );
    let dep = of_kind(&objects, "Deployment")[0];
    assert_eq!(dep["metadata"]["name"], "prod-dromos");
    assert_eq!(dep["spec"]["replicas"], 3);
    let c = container(&objects);
    assert_eq!(
        args(&c),
        ["controller", "--listen=0.0.0.0:8080", "--namespace=platform", "--no-offers", "--require-service-account"]
    );
    assert_eq!(c["image"], "ghcr.io/dromos/dromos:1.2.3");
    let env = c["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e["name"] == "RUST_LOG" && e["value"] == "debug"));
    assert!(env.iter().any(|e| e["name"] == "DROMOS_WEBHOOK_SECRET"
        && e["valueFrom"]["secretKeyRef"] == serde_json::json!({"name": "hook", "key": "secret"})));
    let sm = of_kind(&objects, "ServiceMonitor");
    assert_eq!(sm.len(), 1);
    assert_eq!(sm[0]["spec"]["endpoints"][0]["path"], "/metrics");
    let gs = of_kind(&objects, "GitSource");
    assert_eq!(gs.len(), 1);
    assert_eq!(gs[0]["metadata"]["namespace"], "platform");
    assert_eq!(gs[0]["spec"]["url"], "https://git.example.com/cluster-state.git");
    // The rendered GitSource is valid against the generated CRD schema's required fields.
    let parsed: Result<dromos_crds::GitSource, _> = serde_json::from_value(gs[0].clone());
    assert!(parsed.is_ok(), "{parsed:?}");
}

/// Applies the ServiceAccount and RBAC of a rendered release; returns them.
async fn install_rbac(admin: &kube::Client, objects: &[Value]) {
    let rbac: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
                .contains(&o["kind"].as_str().unwrap())
        })
        .collect();
    let namespaces = of_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.as_str().unwrap().starts_with("--namespace="))
        .count()
        .max(1);
    assert_eq!(
        rbac.len(),
        9 + 2 * namespaces,
        "ServiceAccount, the crds and scheduler ClusterRoles, the leader Role, their bindings, the aggregated edit and view ClusterRoles, and the controller's role and binding once per namespace"
    );
    apply(admin, &rbac).await;
}

fn lockdown() -> dromos_core::tenancy::IdentityRules {
    dromos_core::tenancy::IdentityRules { require_service_account: true, ..Default::default() }
}

const EXAMPLE_NAMESPACES: [&str; 4] = ["shop", "ops", "reports", "data"];

#[tokio::test]
async fn the_controller_syncs_the_examples_with_nothing_but_the_chart_service_account() {
    let _examples = dromos_tests::examples_lock();
    let logs = captured_logs();
    let admin = client().await;
    install_crds(&admin).await;
    let ns = TestNamespace::new(&admin, "chart").await;
    let release = format!("dromos-{}", unique_suffix());
    let objects = render(&release, &ns.name, &[]);
    install_rbac(&admin, &objects).await;
    let sa = client_as(&admin, &ns.name, &release).await;

    assert_cluster_mode_refusals(&sa, &ns.name).await;
    assert_leader_election(&sa, &ns.name).await;

    // The example namespaces may still be terminating after another test deleted them.
    dromos_tests::wait_namespaces_settled(&admin, &EXAMPLE_NAMESPACES).await;

    let (_operators, operator_tasks) = start_example_operators(&sa);
    sync_and_prune_examples(&admin, &sa, &ns.name).await;
    drop(operator_tasks);

    assert_never_refused(&logs, "the controller");

    delete_cluster_rbac(&admin, &release).await;
    let crbs: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin.clone());
    let _ = crbs.delete(&format!("{}-platform", ns.name), &Default::default()).await;
    ns.delete().await;
}

/// What the chart must not allow in cluster mode, checked by the API server itself: the
/// controller's own identity can create no RBAC object, Namespace or Secret and read no
/// Secret; what repositories hold is applied as each source's ServiceAccount.
async fn assert_cluster_mode_refusals(sa: &kube::Client, ns: &str) {
    for (verb, group, resource, namespace) in [
        ("delete", "", "nodes", None),
        ("create", "rbac.authorization.k8s.io", "clusterroles", None),
        ("create", "rbac.authorization.k8s.io", "clusterrolebindings", None),
        ("create", "rbac.authorization.k8s.io", "roles", Some(ns)),
        ("create", "rbac.authorization.k8s.io", "rolebindings", Some("kube-system")),
        ("create", "", "namespaces", None),
        ("delete", "", "namespaces", None),
        ("get", "", "secrets", Some(ns)),
        ("list", "", "secrets", Some("kube-system")),
        ("create", "", "secrets", Some(ns)),
        ("create", "", "serviceaccounts", Some(ns)),
        ("create", "", "configmaps", Some("kube-system")),
        ("create", "", "pods", Some(ns)),
        ("create", "apiextensions.k8s.io", "customresourcedefinitions", None),
        ("update", "coordination.k8s.io", "leases", Some("kube-system")),
        ("impersonate", "", "users", None),
        ("impersonate", "", "groups", None),
        ("create", "dromos.io", "sourcepolicies", None),
    ] {
        assert!(
            !can(sa, verb, group, resource, namespace).await,
            "the chart must not allow {verb} {resource} in {namespace:?}"
        );
    }
    assert!(can(sa, "list", "apps", "deployments", None).await, "cluster mode watches every namespace");
    assert!(can(sa, "impersonate", "", "serviceaccounts", Some(ns)).await, "sources act as their ServiceAccount");
}

/// The start-up check and leader election, as `dromos controller --leader-elect` does them.
async fn assert_leader_election(sa: &kube::Client, ns: &str) {
    dromos::operators::manager::check_crds(sa).await.expect("CRDs visible to the ServiceAccount");
    let leases = Api::namespaced(sa.clone(), ns);
    let lease = dromos::leader::LeaseConfig {
        namespace: ns.to_string(),
        name: "dromos-controller".into(),
        identity: "pod-a".into(),
        duration: Duration::from_secs(15),
        retry: Duration::from_secs(1),
    };
    assert!(dromos::leader::try_acquire(&leases, &lease).await.expect("create the Lease"), "first candidate leads");
    assert!(dromos::leader::try_acquire(&leases, &lease).await.expect("renew the Lease"), "the leader renews");
}

/// The App operator and the Job controller, run as the ServiceAccount, confined to the
/// examples' namespaces so they leave other tests on the shared cluster alone. They run until
/// the returned tasks are dropped.
fn start_example_operators(sa: &kube::Client) -> (Vec<Manager>, Vec<Task>) {
    let (shop, shop_task) = dromos_tests::operators(
        sa,
        ManagerOptions {
            // The chart's default: sources that name no ServiceAccount apply nothing.
            identity: lockdown(),
            scope: dromos::scope::Scope::namespace("shop"),
            apps: Some(apps::Options { concurrency: 4, ..Default::default() }),
            ..Default::default()
        },
    );
    let (ops, ops_task) = dromos_tests::operators(
        sa,
        ManagerOptions {
            // The chart's default: sources that name no ServiceAccount apply nothing.
            identity: lockdown(),
            scope: dromos::scope::Scope::namespace("ops"),
            jobs: Some(jobs::Options::default()),
            gitsource: Some(gitsource::Options {
                cache_dir: tempfile::tempdir().unwrap().keep(),
                allow_file_urls: true,
                concurrency: 1,
                write_concurrency: 4,
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    (vec![shop, ops], vec![shop_task, ops_task])
}

/// Syncs `examples/` as a platform ServiceAccount (`platform`, bound to `cluster-admin`: the
/// repository declares Namespaces) that the controller's identity impersonates, waits for the
/// operators to act on it, then prunes it all again.
async fn sync_and_prune_examples(admin: &kube::Client, controller: &kube::Client, ns: &str) {
    let platform = format!("{ns}-platform");
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let sa_obj = serde_json::from_value(serde_json::json!({"metadata": {"name": "platform"}})).unwrap();
    sas.create(&Default::default(), &sa_obj).await.unwrap();
    let crbs: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin.clone());
    let crb = serde_json::from_value(serde_json::json!({
        "metadata": {"name": platform},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "platform", "namespace": ns}]
    }))
    .unwrap();
    crbs.create(&Default::default(), &crb).await.unwrap();
    let sa = &dromos::operators::impersonate(controller, &format!("system:serviceaccount:{ns}:platform")).unwrap();
    // RBAC bindings reach the authorizer's cache within a moment.
    wait_for("the platform ServiceAccount authorized", Duration::from_secs(10), || async {
        can(sa, "create", "", "namespaces", None).await.then_some(())
    })
    .await;
    assert!(!can(controller, "create", "", "namespaces", None).await, "the controller itself still may not");
    let store = InventoryStore { namespace: ns.to_string(), name: "examples".into() };
    let settings = SyncSettings {
        source: format!("local.chart-{}", unique_suffix()),
        force: false,
        force_owned: true,
        plan: PlanOptions { allow_mass_delete: true, ..Default::default() },
        concurrency: 4,
        default_namespace: ns.to_string(),
        limiter: None,
        scope: Default::default(),
    };
    let mut resolver = Resolver::default();
    let o = sync_dir(sa, &mut resolver, &repo_root().join("examples"), &store, &settings).await.expect("sync examples");
    assert!(o.failures.is_empty(), "{}", dromos::local::describe(&o));
    assert!(o.applied >= 13, "{}", dromos::local::describe(&o));

    // The operator expands the database App (no dependencies) into its StatefulSet.
    wait_for_example_db(admin, "StatefulSet shop/db by the App operator").await;
    // The GitSource controller reconciles the example GitSource as the ServiceAccount: it reads
    // the credentials Secret (absent here: NotFound, not Forbidden, which the log check below
    // would catch) and stops there.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Prune everything again (deletes and finalizers), still as the ServiceAccount. Namespaces
    // are a protected kind: kept, and then deleted by the administrator.
    let empty = tempfile::tempdir().unwrap();
    let o = sync_dir(sa, &mut resolver, empty.path(), &store, &settings).await.expect("prune examples");
    assert!(o.failures.is_empty(), "{}", dromos::local::describe(&o));
    let mut kept: Vec<&str> =
        o.plan.kept.iter().filter(|(k, _)| k.kind == "Namespace").map(|(k, _)| k.name.as_str()).collect();
    kept.sort();
    assert_eq!(kept, ["data", "ops", "reports", "shop"], "{}", dromos::local::describe(&o));
    wait_for_example_apps_deleted(admin).await;
    let nss: Api<Namespace> = Api::all(admin.clone());
    for n in kept {
        nss.delete(n, &Default::default()).await.expect("delete an example namespace");
    }
}

/// Waits for the App operator to create the example database's StatefulSet `shop/db`.
async fn wait_for_example_db(admin: &kube::Client, what: &str) {
    let sts: Api<StatefulSet> = Api::namespaced(admin.clone(), "shop");
    wait_for(what, Duration::from_secs(30), || async { sts.get_opt("db").await.unwrap() }).await;
}

/// Waits until the example Apps in `shop` are gone (their finalizers ran).
async fn wait_for_example_apps_deleted(admin: &kube::Client) {
    let apps_api: Api<dromos_crds::App> = Api::namespaced(admin.clone(), "shop");
    wait_for("example Apps deleted through their finalizers", Duration::from_secs(30), || async {
        apps_api.list(&Default::default()).await.ok().filter(|l| l.items.is_empty()).map(|_| ())
    })
    .await;
}

/// Asserts that nothing the test process logged is a Forbidden (403) answer. Writes into a
/// namespace being deleted by a prune are refused by admission with 403 too; those are not
/// RBAC refusals. `who` names the controller in the failure message.
fn assert_never_refused(logs: &Mutex<Vec<u8>>, who: &str) {
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_lowercase();
    let forbidden: Vec<&str> = text
        .lines()
        .filter(|l| (l.contains("forbidden") || l.contains(" 403")) && !l.contains("because it is being terminated"))
        .collect();
    assert!(forbidden.is_empty(), "{who} was refused:\n{}", forbidden.join("\n"));
}

/// The `--namespace` flags of the rendered Deployment, as the controller parses them.
fn scope_of(objects: &[Value]) -> dromos::scope::Scope {
    let c = container(objects);
    dromos::scope::Scope::of(args(&c).iter().filter_map(|a| a.strip_prefix("--namespace=").map(str::to_string)))
}

/// The files of `examples/` (relative path, text), optionally without some.
fn example_files(without: &[&str]) -> Vec<(String, String)> {
    let root = repo_root().join("examples");
    let files = dromos::fsread::fetch_tree(&root, 8 << 20).unwrap();
    files
        .files
        .into_iter()
        .filter(|f| !without.contains(&f.path.as_str()))
        .map(|f| (f.path, String::from_utf8(f.bytes).unwrap()))
        .collect()
}

fn commit_all(repo: &git2::Repository, files: &[(String, String)], keep: &[&str]) -> git2::Oid {
    // Replace the whole tree: delete what is not in `files` any more.
    let head = repo.find_reference("refs/heads/main").ok().and_then(|r| r.peel_to_tree().ok());
    let mut changes: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let mut old = vec![];
    if let Some(t) = head {
        t.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
            if e.kind() == Some(git2::ObjectType::Blob) {
                old.push(format!("{dir}{}", e.name().unwrap()));
            }
            git2::TreeWalkResult::Ok
        })
        .unwrap();
    }
    for p in &old {
        if !files.iter().any(|(f, _)| f == p) && !keep.contains(&p.as_str()) {
            changes.push((p.as_str(), None));
        }
    }
    dromos_tests::repo::commit(repo, "main", &changes, "revision")
}

#[tokio::test]
async fn namespaced_mode_syncs_the_examples_in_its_namespaces_and_refuses_everything_else() {
    let _examples = dromos_tests::examples_lock();
    let logs = captured_logs();
    let admin = client().await;
    install_crds(&admin).await;
    let ns = TestNamespace::new(&admin, "chartns").await;
    let other = TestNamespace::new(&admin, "chartother").await;
    let release = format!("dromos-{}", unique_suffix());
    let objects = render(&release, &ns.name, &["namespaced=true", "watchNamespaces={shop,ops,reports,data}"]);
    let scope = scope_of(&objects);
    let mut expected: Vec<&str> = EXAMPLE_NAMESPACES.to_vec();
    expected.push(&ns.name);
    assert_eq!(scope, dromos::scope::Scope::of(expected), "one --namespace per namespace");

    // Namespaced mode cannot create namespaces: the administrator creates them, as the chart
    // README says.
    let nss = create_example_namespaces(&admin).await;
    install_rbac(&admin, &objects).await;
    let sa = client_as(&admin, &ns.name, &release).await;
    assert_namespaced_permissions(&sa, &ns.name, &other.name).await;

    let (_operators, operators_task) = start_namespaced_operators(&sa, &scope).await;

    // A GitSource in the release namespace syncing the examples without their Namespace objects.
    let remote = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(remote.path()).unwrap();
    let in_scope = example_files(&["platform/namespaces.yaml"]);
    let first = commit_all(&repo, &in_scope, &[]);
    let sources = create_examples_source(&admin, &ns, remote.path()).await;
    assert_synced_in_scope(&admin, &sources, first).await;
    assert_refused_outside_scope(&repo, in_scope, &ns, &other, &sources, first).await;
    assert_pruned_when_emptied(&admin, &repo, &sources).await;
    drop(operators_task);

    assert_never_refused(&logs, "the namespaced controller");

    delete_cluster_rbac(&admin, &release).await;
    for n in EXAMPLE_NAMESPACES {
        let _ = nss.delete(n, &Default::default()).await;
    }
    other.delete().await;
    ns.delete().await;
}

/// Creates the example namespaces as the administrator (once they are no longer terminating).
async fn create_example_namespaces(admin: &kube::Client) -> Api<Namespace> {
    dromos_tests::wait_namespaces_settled(admin, &EXAMPLE_NAMESPACES).await;
    let nss: Api<Namespace> = Api::all(admin.clone());
    for n in EXAMPLE_NAMESPACES {
        let o: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": n}})).unwrap();
        nss.patch(n, &kube::api::PatchParams::apply("dromos-tests"), &kube::api::Patch::Apply(&o)).await.unwrap();
    }
    nss
}

/// What namespaced mode allows in the release namespace `own` and the watched namespaces, and
/// refuses in the namespace `elsewhere` and across namespaces.
async fn assert_namespaced_permissions(sa: &kube::Client, own: &str, elsewhere: &str) {
    let own = Some(own);
    let elsewhere = Some(elsewhere);
    for (verb, group, resource) in [
        ("list", "dromos.io", "apps"),
        ("patch", "dromos.io", "gitsources/status"),
        ("create", "apps", "deployments"),
        ("delete", "batch", "jobs"),
        ("impersonate", "", "serviceaccounts"),
        ("create", "events.k8s.io", "events"),
    ] {
        for n in [own, Some("shop"), Some("data")] {
            assert!(can(sa, verb, group, resource, n).await, "{verb} {group}/{resource} in {n:?}");
        }
        assert!(!can(sa, verb, group, resource, elsewhere).await, "no {verb} {group}/{resource} in another namespace");
        assert!(!can(sa, verb, group, resource, None).await, "no {verb} {group}/{resource} across namespaces");
    }
    assert!(can(sa, "get", "apiextensions.k8s.io", "customresourcedefinitions", None).await);
    // The Dromos scheduler reads every node and pod (what is free on a node) and writes pods
    // only in the release namespace.
    assert!(can(sa, "list", "", "nodes", None).await && can(sa, "watch", "", "pods", None).await);
    assert!(can(sa, "patch", "", "pods", own).await && !can(sa, "patch", "", "pods", elsewhere).await);
    for (verb, group, resource) in [
        ("create", "", "namespaces"),
        ("list", "", "namespaces"),
        ("get", "", "secrets"),
        ("create", "rbac.authorization.k8s.io", "rolebindings"),
        ("list", "apiextensions.k8s.io", "customresourcedefinitions"),
    ] {
        assert!(!can(sa, verb, group, resource, None).await, "namespaced mode must not allow {verb} {resource}");
    }
    for n in [own, Some("shop")] {
        assert!(!can(sa, "get", "", "secrets", n).await, "Secrets are read as each source's ServiceAccount");
        assert!(!can(sa, "create", "", "configmaps", n).await, "repositories apply as their ServiceAccount");
    }
}

/// The controller as `dromos controller --namespace ...` runs it: all three parts, as the
/// ServiceAccount, with the scope of the rendered flags, after its start-up check.
async fn start_namespaced_operators(sa: &kube::Client, scope: &dromos::scope::Scope) -> (Manager, Task) {
    dromos::operators::manager::check_crds(sa).await.expect("CRDs visible in namespaced mode");
    dromos_tests::operators(
        sa,
        ManagerOptions {
            // The chart's default: sources that name no ServiceAccount apply nothing.
            identity: lockdown(),
            scope: scope.clone(),
            apps: Some(apps::Options { concurrency: 4, ..Default::default() }),
            jobs: Some(jobs::Options::default()),
            gitsource: Some(gitsource::Options {
                cache_dir: tempfile::tempdir().unwrap().keep(),
                allow_file_urls: true,
                concurrency: 2,
                write_concurrency: 4,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
}

/// Creates the GitSource `examples` in `ns`, syncing the bare repository at `remote` as the
/// ServiceAccount `examples` of `ns`, bound to the built-in `admin` role in the example
/// namespaces (which the chart's aggregated role extends to the Dromos kinds; `admin`, not
/// `edit`: the examples bind the Kafka Package's ServiceAccount to `edit`).
async fn create_examples_source(
    admin: &kube::Client,
    ns: &TestNamespace,
    remote: &std::path::Path,
) -> Api<dromos_crds::GitSource> {
    let sa = serde_json::from_value(serde_json::json!({"metadata": {"name": "examples"}})).unwrap();
    ns.api::<k8s_openapi::api::core::v1::ServiceAccount>().create(&Default::default(), &sa).await.unwrap();
    for n in EXAMPLE_NAMESPACES {
        let rb = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{}-examples", ns.name)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "examples", "namespace": ns.name}]
        }))
        .unwrap();
        Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin.clone(), n)
            .create(&Default::default(), &rb)
            .await
            .unwrap();
    }
    let gs: dromos_crds::GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "examples"},
        "spec": {"url": format!("file://{}", remote.display()), "interval": "2s", "prune": true, "allowMassDelete": true,
                 "serviceAccountName": "examples"}
    }))
    .unwrap();
    let sources = ns.api::<dromos_crds::GitSource>();
    sources.create(&Default::default(), &gs).await.unwrap();
    sources
}

/// The Ready condition and status of the GitSource `examples` once it has attempted `rev`.
async fn source_status_at(
    sources: &Api<dromos_crds::GitSource>,
    rev: git2::Oid,
) -> Option<(Condition, dromos_crds::GitSourceStatus)> {
    let s = sources.get("examples").await.ok()?.status?;
    s.last_attempted_revision.as_deref().is_some_and(|r| r.contains(&rev.to_string())).then_some(())?;
    let ready = s.common.conditions.iter().find(|c| c.type_ == "Ready")?.clone();
    Some((ready, s))
}

/// The in-scope revision `first` syncs and the namespaced App operator acts on it.
async fn assert_synced_in_scope(admin: &kube::Client, sources: &Api<dromos_crds::GitSource>, first: git2::Oid) {
    let (ready, status) = wait_for("the examples synced by the namespaced controller", Duration::from_secs(60), || {
        source_status_at(sources, first)
    })
    .await;
    assert_eq!(ready.status, "True", "{ready:?}");
    // Apps, Jobs, the GitSource, the Package (its operator renders it) and ConfigMaps.
    assert!(status.inventory.len() >= 11, "{:?}", status.inventory);
    wait_for_example_db(admin, "StatefulSet shop/db by the namespaced App operator").await;
}

/// Cluster-scoped objects and other namespaces are refused before anything is written: a
/// revision with them leaves `first` applied and is reported as an Event.
async fn assert_refused_outside_scope(
    repo: &git2::Repository,
    in_scope: Vec<(String, String)>,
    ns: &TestNamespace,
    other: &TestNamespace,
    sources: &Api<dromos_crds::GitSource>,
    first: git2::Oid,
) {
    let mut outside = in_scope;
    outside.push((
        "platform/namespaces.yaml".into(),
        example_files(&[]).into_iter().find(|f| f.0 == "platform/namespaces.yaml").unwrap().1,
    ));
    outside.push((
        "elsewhere.yaml".into(),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: stray, namespace: {}}}\ndata: {{a: b}}\n",
            other.name
        ),
    ));
    let refused = commit_all(repo, &outside, &[]);
    let (ready, status) =
        wait_for("the out-of-scope revision refused", Duration::from_secs(60), || source_status_at(sources, refused))
            .await;
    assert_eq!(ready.status, "False", "{ready:?}");
    assert!(ready.message.contains("OutOfScope") && ready.message.contains("nothing was pruned"), "{}", ready.message);
    assert_eq!(status.last_applied_revision.as_deref().map(|r| r.contains(&first.to_string())), Some(true));
    assert!(
        other.api::<k8s_openapi::api::core::v1::ConfigMap>().get_opt("stray").await.unwrap().is_none(),
        "nothing of the refused revision was written"
    );
    let events = ns.api::<k8s_openapi::api::events::v1::Event>();
    let notes: Vec<String> =
        events.list(&Default::default()).await.unwrap().items.into_iter().filter_map(|e| e.note).collect();
    assert!(
        notes.iter().any(|n| n.contains("OutOfScope")),
        "the refusal is reported as an Event naming the reason: {notes:?}"
    );
}

/// An empty revision prunes everything, still as the ServiceAccount.
async fn assert_pruned_when_emptied(
    admin: &kube::Client,
    repo: &git2::Repository,
    sources: &Api<dromos_crds::GitSource>,
) {
    let empty = commit_all(repo, &[], &[]);
    let (ready, status) =
        wait_for("the examples pruned", Duration::from_secs(60), || source_status_at(sources, empty)).await;
    assert_eq!(ready.status, "True", "{ready:?}");
    assert!(status.inventory.is_empty(), "{:?}", status.inventory);
    wait_for_example_apps_deleted(admin).await;
}

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
    apply, can, client_as, delete_cluster_rbac, documented_permissions, is_hook, lint, of_kind, render, render_outcome,
    rendered_permissions, repo_root,
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
        // The CRD hook's ClusterRole lives only while the hook runs (checked on its own below).
        let hook_roles: Vec<&Value> = cluster_roles.iter().copied().filter(|r| is_hook(r)).collect();
        assert_eq!(hook_roles.len(), 1, "{hook_roles:#?}");
        let cluster_roles: Vec<&Value> =
            cluster_roles.iter().copied().filter(|r| !aggregated(r) && !is_hook(r)).collect();
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

    // ui.enabled adds exactly the `ui` rows of the table (in both modes), the flags, the port
    // and the UI's Service.
    for namespaced in [false, true] {
        let sets = [format!("namespaced={namespaced}"), "ui.enabled=true".to_string()];
        let objects = render("dromos", "dromos-system", &[&sets[0], &sets[1]]);
        let rendered = rendered_permissions(&objects, "dromos");
        let documented = dromos_tests::chart::documented_permissions_with(namespaced, true);
        assert_eq!(
            rendered, documented,
            "namespaced={namespaced}, ui.enabled=true: rendered RBAC and the README table differ"
        );
        let deployment = of_kind(&objects, "Deployment")[0];
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<&str> = container["args"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(args.contains(&"--ui") && args.contains(&"--ui-listen=0.0.0.0:8082"), "{args:?}");
        assert!(container["ports"].as_array().unwrap().iter().any(|p| p["name"] == "ui" && p["containerPort"] == 8082));
        let services = of_kind(&objects, "Service");
        assert!(
            services
                .iter()
                .any(|s| s["metadata"]["name"] == "dromos-ui" && s["spec"]["ports"][0]["targetPort"] == "ui"),
            "{services:#?}"
        );
    }
    let objects = render("dromos", "dromos-system", &[]);
    let deployment = of_kind(&objects, "Deployment")[0];
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(!args.contains("--ui"), "the UI is off by default: {args}");
    assert!(!of_kind(&objects, "Service").iter().any(|s| s["metadata"]["name"] == "dromos-ui"));

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
    assert_eq!(
        args(&c),
        [
            "controller",
            "--listen=0.0.0.0:8080",
            "--webhook-listen=0.0.0.0:8081",
            "--leader-elect",
            "--require-service-account"
        ]
    );
    assert_eq!(c["image"], "ghcr.io/dromos/dromos:0.1.0");
    let env = c["env"].as_array().unwrap();
    let var = |n: &str| env.iter().find(|e| e["name"] == n).cloned().unwrap_or(Value::Null);
    assert_eq!(var("POD_NAMESPACE")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
    assert_eq!(var("RUST_LOG")["value"], "info");
    assert_eq!(var("DROMOS_LOG_FORMAT")["value"], "json", "JSON logs in a pod by default");
    assert_eq!(var("DROMOS_WEBHOOK_SECRET"), Value::Null, "webhook off without a secret");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(c["resources"]["requests"]["memory"], "128Mi");
    let svc = of_kind(&objects, "Service");
    assert_eq!(svc.len(), 1, "no webhook Service without a webhook secret");
    let svc = svc[0];
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
            "logFormat=text",
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
        [
            "controller",
            "--listen=0.0.0.0:8080",
            "--webhook-listen=0.0.0.0:8081",
            "--namespace=platform",
            "--no-offers",
            "--require-service-account"
        ]
    );
    assert_eq!(c["image"], "ghcr.io/dromos/dromos:1.2.3");
    let env = c["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e["name"] == "RUST_LOG" && e["value"] == "debug"));
    assert!(env.iter().any(|e| e["name"] == "DROMOS_LOG_FORMAT" && e["value"] == "text"));
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

/// The alerts, the dashboard and trace export: off by default; when on, the PrometheusRule
/// carries files/alerts.yaml's groups as they are (the file the alerting tests load into
/// Prometheus), completed by alertLabels and less the disabled alerts, and the dashboard
/// ConfigMap holds files/dashboard.json.
#[test]
fn alerts_dashboard_and_tracing_follow_the_values() {
    let objects = render("dromos", "dromos-system", &[]);
    assert!(of_kind(&objects, "PrometheusRule").is_empty());
    assert!(of_kind(&objects, "ConfigMap").is_empty());
    assert!(!args(&container(&objects)).iter().any(|a| a.starts_with("--otlp-endpoint")));

    let file = |name: &str| std::fs::read_to_string(dromos_tests::chart::chart_dir().join("files").join(name)).unwrap();
    let alerts: Value = serde_saphyr::from_str(&file("alerts.yaml")).unwrap();
    let objects = render(
        "dromos",
        "dromos-system",
        &[
            "metrics.prometheusRule.enabled=true",
            "metrics.prometheusRule.labels.release=kube-prometheus-stack",
            "metrics.dashboard.enabled=true",
            "metrics.dashboard.namespace=monitoring",
            "metrics.dashboard.annotations.grafana_folder=Dromos",
            "controller.otlpEndpoint=http://otel-collector.monitoring:4318",
            "serviceMonitor.enabled=true",
        ],
    );
    let rule = of_kind(&objects, "PrometheusRule");
    assert_eq!(rule.len(), 1);
    assert_eq!(rule[0]["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule[0]["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(rule[0]["metadata"]["labels"]["app.kubernetes.io/name"], "dromos");
    assert_eq!(rule[0]["spec"]["groups"], alerts["groups"], "the file's groups, unchanged");
    let cm = of_kind(&objects, "ConfigMap");
    assert_eq!(cm.len(), 1);
    assert_eq!(cm[0]["metadata"]["namespace"], "monitoring");
    assert_eq!(cm[0]["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(cm[0]["metadata"]["annotations"]["grafana_folder"], "Dromos");
    let shipped: Value = serde_json::from_str(cm[0]["data"]["dromos.json"].as_str().unwrap()).unwrap();
    assert_eq!(shipped, serde_json::from_str::<Value>(&file("dashboard.json")).unwrap());
    assert!(args(&container(&objects)).contains(&"--otlp-endpoint=http://otel-collector.monitoring:4318".to_string()));
    // The object metrics keep their `namespace` label beside the target's.
    assert_eq!(of_kind(&objects, "ServiceMonitor")[0]["spec"]["endpoints"][0]["honorLabels"], true);

    let objects = render(
        "dromos",
        "dromos-system",
        &[
            "metrics.prometheusRule.enabled=true",
            "metrics.prometheusRule.alertLabels.team=platform",
            "metrics.prometheusRule.alertLabels.severity=page",
            "metrics.prometheusRule.disabled={DromosUnplaceablePods}",
        ],
    );
    let groups = of_kind(&objects, "PrometheusRule")[0]["spec"]["groups"].as_array().unwrap().clone();
    let rules: Vec<&Value> = groups.iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
    let names: Vec<&str> = rules.iter().map(|r| r["alert"].as_str().unwrap()).collect();
    let all = alerts["groups"].as_array().unwrap().iter().map(|g| g["rules"].as_array().unwrap().len()).sum::<usize>();
    assert_eq!(names.len(), all - 1, "{names:?}");
    assert!(!names.contains(&"DromosUnplaceablePods"), "{names:?}");
    for r in &rules {
        assert_eq!(r["labels"]["team"], "platform", "{r}");
        assert!(
            matches!(r["labels"]["severity"].as_str(), Some("warning" | "critical")),
            "an alert's own labels win: {r}"
        );
    }
}

/// Applies the ServiceAccount and RBAC of a rendered release; returns them.
async fn install_rbac(admin: &kube::Client, objects: &[Value]) {
    let rbac: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
                .contains(&o["kind"].as_str().unwrap())
                && !is_hook(o)
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

/// Held for writing by the test that makes a CRD stale; the others install the CRDs under it
/// (an install in between would repair the CRD before the hook does).
static CRDS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn crds_installed(admin: &kube::Client) {
    let _shared = CRDS.read().await;
    install_crds(admin).await;
}

#[tokio::test]
async fn the_controller_syncs_the_examples_with_nothing_but_the_chart_service_account() {
    let _examples = dromos_tests::examples_lock();
    let logs = captured_logs();
    let admin = client().await;
    crds_installed(&admin).await;
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
        written: None,
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
    crds_installed(&admin).await;
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

fn deployment(objects: &[Value]) -> Value {
    let deps = of_kind(objects, "Deployment");
    assert_eq!(deps.len(), 1);
    deps[0].clone()
}

/// The values of the chart's operating surface, each rendered as documented in its README.
#[test]
fn operating_values_render_as_documented() {
    // Defaults: the webhook on its own listener, limits on both emptyDirs, replicas spread
    // over nodes, a PDB for the two replicas, no NetworkPolicy, the CRD hook.
    let objects = render("dromos", "dromos-system", &[]);
    let dep = deployment(&objects);
    let pod = &dep["spec"]["template"]["spec"];
    let c = container(&objects);
    let a = args(&c);
    assert!(a.contains(&"--webhook-listen=0.0.0.0:8081".to_string()), "{a:?}");
    assert!(!a.iter().any(|f| f.starts_with("--default-image") || f.starts_with("--fetch-image")), "{a:?}");
    assert_eq!(
        c["ports"],
        serde_json::json!([{"name": "http", "containerPort": 8080}, {"name": "webhook", "containerPort": 8081}])
    );
    assert_eq!(pod["imagePullSecrets"], Value::Null);
    let volumes = pod["volumes"].as_array().unwrap();
    let volume = |n: &str| volumes.iter().find(|v| v["name"] == n).cloned().unwrap();
    assert_eq!(volume("git-cache")["emptyDir"], serde_json::json!({"sizeLimit": "1Gi"}));
    assert_eq!(volume("tmp")["emptyDir"], serde_json::json!({"sizeLimit": "256Mi"}));
    let selector = &dep["spec"]["selector"]["matchLabels"];
    let spread = &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(spread["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(&spread["podAffinityTerm"]["labelSelector"]["matchLabels"], selector, "selects the replicas");
    assert_eq!(&pod["affinity"].as_object().unwrap().len(), &1, "preferred only: {}", pod["affinity"]);
    let pdb = of_kind(&objects, "PodDisruptionBudget");
    assert_eq!(pdb.len(), 1);
    assert_eq!(pdb[0]["spec"]["maxUnavailable"], 1);
    assert_eq!(&pdb[0]["spec"]["selector"]["matchLabels"], selector);
    assert!(of_kind(&objects, "NetworkPolicy").is_empty());

    // The CRD hook: the release's image runs `dromos crds --apply` before installs and
    // upgrades, as an account that may touch the Dromos CRDs only (and create new ones).
    let hooks: Vec<&Value> = objects.iter().filter(|o| is_hook(o)).collect();
    let kinds: Vec<&str> = hooks.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    for k in ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Job"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    for h in &hooks {
        let ann = &h["metadata"]["annotations"];
        assert_eq!(ann["helm.sh/hook"], "pre-install,pre-upgrade");
        assert_eq!(ann["helm.sh/hook-delete-policy"], "before-hook-creation,hook-succeeded");
    }
    let job = hooks.iter().find(|o| o["kind"] == "Job").unwrap();
    let job_pod = &job["spec"]["template"]["spec"];
    assert_eq!(job_pod["containers"][0]["args"], serde_json::json!(["crds", "--apply"]));
    assert_eq!(job_pod["containers"][0]["image"], c["image"]);
    assert_eq!(job_pod["serviceAccountName"], "dromos-crds-upgrade");
    assert_eq!(job_pod["securityContext"], pod["securityContext"]);
    assert_ne!(
        &job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"], &selector["app.kubernetes.io/name"],
        "the hook's pod is not one of the controller's (Services, PDB)"
    );
    let role = hooks.iter().find(|o| o["kind"] == "ClusterRole").unwrap();
    let mut named: Vec<String> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resourceNames"].as_array().cloned().unwrap_or_default())
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    named.sort();
    let mut generated: Vec<String> = dromos_crds::crds().into_iter().map(|c| c.metadata.name.unwrap()).collect();
    generated.sort();
    assert_eq!(named, generated, "the hook may update exactly the CRDs the binary generates");

    // Every value set.
    let objects = render(
        "dromos",
        "dromos-system",
        &[
            "imagePullSecrets[0].name=registry-creds",
            "images.default=registry.internal/mirror/debian:12",
            "images.fetch=registry.internal/mirror/curl:8",
            "webhook.secretName=hook",
            "webhook.service.port=9443",
            "webhook.service.type=LoadBalancer",
            "webhook.service.annotations.lb\\.example/scheme=internal",
            "podDisruptionBudget.maxUnavailable=50%",
            "gitCache.sizeLimit=5Gi",
            "tmp.sizeLimit=",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
            "networkPolicy.enabled=true",
            "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring",
            "networkPolicy.webhookFrom[0].ipBlock.cidr=192.0.2.0/24",
            "controller.selector=shard=a",
            "controller.qps=2.5",
            "controller.burst=20",
            "controller.concurrency.sources=2",
            "controller.concurrency.writes=8",
            "controller.concurrency.apps=3",
            "controller.concurrency.jobs=5",
            "controller.concurrency.packages=1",
            "controller.fetchTimeoutSeconds=30",
            "controller.stuckAfterSeconds=600",
            "controller.appOperator=false",
            "controller.packageOperator=false",
            "controller.notifier=false",
            "controller.scheduler.enabled=false",
            "controller.scheduler.offers=false",
            "controller.scheduler.offerIntervalSeconds=30",
            "controller.scheduler.batchMs=0",
            "crds.upgrade=false",
        ],
    );
    let dep = deployment(&objects);
    let pod = &dep["spec"]["template"]["spec"];
    let c = container(&objects);
    let mut a = args(&c);
    a.sort();
    let mut want: Vec<&str> = vec![
        "controller",
        "--listen=0.0.0.0:8080",
        "--webhook-listen=0.0.0.0:9443",
        "--leader-elect",
        "--no-offers",
        "--require-service-account",
        "--default-image=registry.internal/mirror/debian:12",
        "--fetch-image=registry.internal/mirror/curl:8",
        "--selector=shard=a",
        "--no-apps",
        "--no-packages",
        "--no-notifier",
        "--no-scheduler",
        "--qps=2.5",
        "--burst=20",
        "--concurrency=2",
        "--write-concurrency=8",
        "--app-concurrency=3",
        "--job-concurrency=5",
        "--package-concurrency=1",
        "--fetch-timeout-secs=30",
        "--stuck-after-secs=600",
        "--offer-interval-secs=30",
        "--schedule-batch-ms=0",
    ];
    want.sort();
    assert_eq!(a, want);
    assert_eq!(pod["imagePullSecrets"], serde_json::json!([{"name": "registry-creds"}]));
    let volumes = pod["volumes"].as_array().unwrap();
    let volume = |n: &str| volumes.iter().find(|v| v["name"] == n).cloned().unwrap();
    assert_eq!(volume("git-cache")["emptyDir"], serde_json::json!({"sizeLimit": "5Gi"}));
    assert_eq!(volume("tmp")["emptyDir"], serde_json::json!({}), "empty: no limit");
    assert_eq!(pod["affinity"]["podAntiAffinity"], Value::Null, "affinity replaces the default whole");
    assert_eq!(
        pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
            [0]["key"],
        "pool"
    );
    assert_eq!(of_kind(&objects, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"], "50%");
    assert!(!objects.iter().any(is_hook), "crds.upgrade=false: no hook");
    // Two Services: the metrics one keeps only its port, the webhook one only the hook's.
    let services = of_kind(&objects, "Service");
    assert_eq!(services.len(), 2);
    let metrics = services.iter().find(|s| s["metadata"]["name"] == "dromos").unwrap();
    assert_eq!(metrics["spec"]["ports"], serde_json::json!([{"name": "http", "port": 8080, "targetPort": "http"}]));
    let hook = services.iter().find(|s| s["metadata"]["name"] == "dromos-webhook").unwrap();
    assert_eq!(hook["spec"]["type"], "LoadBalancer");
    assert_eq!(hook["metadata"]["annotations"]["lb.example/scheme"], "internal");
    assert_eq!(hook["spec"]["ports"], serde_json::json!([{"name": "webhook", "port": 9443, "targetPort": "webhook"}]));
    assert_eq!(hook["spec"]["selector"], dep["spec"]["selector"]["matchLabels"]);
    assert_eq!(c["ports"][1], serde_json::json!({"name": "webhook", "containerPort": 9443}));
    // The NetworkPolicy: metrics from the monitoring namespace, the hook from one range,
    // egress untouched.
    let np = of_kind(&objects, "NetworkPolicy");
    assert_eq!(np.len(), 1);
    assert_eq!(np[0]["spec"]["podSelector"]["matchLabels"], dep["spec"]["selector"]["matchLabels"]);
    assert_eq!(np[0]["spec"]["policyTypes"], serde_json::json!(["Ingress"]));
    assert_eq!(
        np[0]["spec"]["ingress"],
        serde_json::json!([
            {"ports": [{"port": "http", "protocol": "TCP"}],
             "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
            {"ports": [{"port": "webhook", "protocol": "TCP"}], "from": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}
        ])
    );

    // A NetworkPolicy with no peers listed: nobody reaches the metrics port, anybody the hook.
    let objects = render("dromos", "dromos-system", &["networkPolicy.enabled=true"]);
    assert_eq!(
        of_kind(&objects, "NetworkPolicy")[0]["spec"]["ingress"],
        serde_json::json!([{"ports": [{"port": "webhook", "protocol": "TCP"}]}])
    );

    // hostNetwork: both listeners on the pod's (the node's) address; one replica: no PDB,
    // and none when switched off; the hook Job shares the pod settings.
    let objects = render(
        "dromos",
        "dromos-system",
        &["hostNetwork=true", "replicas=1", "imagePullSecrets[0].name=regcred", "nodeSelector.pool=ops"],
    );
    let a = args(&container(&objects));
    assert!(
        a.contains(&"--listen=$(POD_IP):8080".to_string())
            && a.contains(&"--webhook-listen=$(POD_IP):8081".to_string())
    );
    assert!(of_kind(&objects, "PodDisruptionBudget").is_empty(), "one replica: no PDB");
    let job = objects.iter().find(|o| o["kind"] == "Job" && is_hook(o)).unwrap();
    let job_pod = &job["spec"]["template"]["spec"];
    assert_eq!(job_pod["hostNetwork"], true);
    assert_eq!(job_pod["imagePullSecrets"], serde_json::json!([{"name": "regcred"}]));
    assert_eq!(job_pod["nodeSelector"], serde_json::json!({"pool": "ops"}));
    let objects = render("dromos", "dromos-system", &["podDisruptionBudget.enabled=false"]);
    assert!(of_kind(&objects, "PodDisruptionBudget").is_empty());
    // `--set image.tag=2` gives Helm an integer, which the schema takes as a tag.
    let objects = render("dromos", "dromos-system", &["image.tag=2"]);
    assert_eq!(container(&objects)["image"], "ghcr.io/dromos/dromos:2");

    // The two listeners cannot share a port.
    let err = render_outcome("dromos", "dromos-system", &["webhook.service.port=8080"]).unwrap_err();
    assert!(err.contains("service.port and webhook.service.port must differ"), "{err}");
}

/// values.schema.json: `helm template`, `helm lint` and `helm install` refuse a wrong type,
/// a value out of range or a misspelt key, naming it; the defaults pass.
#[tokio::test]
async fn the_schema_refuses_wrong_values_with_a_clear_message() {
    lint(&[]).expect("the chart lints with its defaults");
    for (set, says) in [
        ("replicas=two", "at '/replicas': got string, want integer"),
        ("controller.concurrency.apps=0", "at '/controller/concurrency/apps': minimum: got 0, want 1"),
        ("controller.fetchTimeoutSeconds=7200", "at '/controller/fetchTimeoutSeconds': maximum: got 7,200, want 3,600"),
        ("controller.stuckAfterSeconds=5", "at '/controller/stuckAfterSeconds': minimum: got 5, want 10"),
        ("logFormat=xml", "at '/logFormat': value must be one of 'json', 'text'"),
        ("controller.qps=fast", "at '/controller/qps'"),
        ("controller.scheduler.enabled=maybe", "at '/controller/scheduler/enabled': got string, want boolean"),
        ("webhook.secretname=hook", "at '/webhook': additional properties 'secretname' not allowed"),
        ("webhook.service.type=Ingress", "at '/webhook/service/type'"),
        ("webhook.service.port=0", "at '/webhook/service/port': minimum: got 0, want 1"),
        ("gitCache.sizeLimit=lots", "at '/gitCache/sizeLimit'"),
        ("imagePullSecrets[0]=regcred", "at '/imagePullSecrets/0': got string, want object"),
        ("networkPolicy.metricsFrom=everyone", "at '/networkPolicy/metricsFrom': got string, want array"),
        ("image.pullPolicy=Sometimes", "at '/image/pullPolicy'"),
        ("replica=3", "additional properties 'replica' not allowed"),
        ("metrics.prometheusRule.disabled[0]=DromosNoSuchAlert", "at '/metrics/prometheusRule/disabled/0'"),
        ("metrics.dashboard.enable=true", "additional properties 'enable' not allowed"),
        ("controller.otlpEndpoint=otel-collector:4318", "at '/controller/otlpEndpoint'"),
    ] {
        let err = render_outcome("dromos", "dromos-system", &[set]).expect_err(set);
        assert!(err.contains("values don't meet the specifications of the schema"), "{set}: {err}");
        assert!(err.contains(says), "{set}: expected `{says}` in:\n{err}");
        let err = lint(&[set]).expect_err(set);
        assert!(err.contains(says), "helm lint --set {set}: expected `{says}` in:\n{err}");
    }

    // helm install against the control plane refuses before creating anything.
    let admin = client().await;
    let ns = TestNamespace::new(&admin, "chart-schema").await;
    let out = std::process::Command::new(dromos_tests::chart::helm())
        .args(["install", "refused"])
        .arg(dromos_tests::chart::chart_dir())
        .args(["-n", &ns.name, "--set", "controller.burst=lots"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("at '/controller/burst'"), "{err}");
    let status = std::process::Command::new(dromos_tests::chart::helm())
        .args(["status", "refused", "-n", &ns.name])
        .output()
        .unwrap();
    assert!(!status.status.success(), "no release was recorded");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = ns.api();
    assert!(deployments.list(&Default::default()).await.unwrap().items.is_empty());
    ns.delete().await;
}

/// A `dromos` process started by a test, killed when dropped (also when an assertion fails).
struct Running {
    child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.0 request; the status and the body, or None when nothing answers.
async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange).await.ok().flatten()
}

/// The `dromos controller` flags the chart renders, run by the real binary against the control
/// plane: every named value parses, the webhook answers on its own port and nowhere else, the
/// metrics port serves no webhook, and Apps and Jobs get the images of `images.default` and
/// `images.fetch`.
#[tokio::test]
async fn the_rendered_flags_run_the_controller_binary() {
    let admin = client().await;
    crds_installed(&admin).await;
    let ns = TestNamespace::new(&admin, "chart-flags").await;
    let (metrics_port, hook_port) = (free_port(), free_port());
    let (mp, hp) = (format!("service.port={metrics_port}"), format!("webhook.service.port={hook_port}"));
    let objects = render(
        "flags",
        &ns.name,
        &[
            "namespaced=true",
            "leaderElect=false",
            &mp,
            &hp,
            "webhook.secretName=hook",
            "images.default=registry.internal/mirror/debian:12",
            "images.fetch=registry.internal/mirror/curl:8",
            "controller.qps=50",
            "controller.burst=20",
            "controller.concurrency.sources=2",
            "controller.concurrency.writes=8",
            "controller.concurrency.apps=3",
            "controller.concurrency.jobs=5",
            "controller.concurrency.packages=1",
            "controller.fetchTimeoutSeconds=30",
            "controller.stuckAfterSeconds=600",
            "controller.selector=team=a",
            "controller.packageOperator=false",
            "controller.scheduler.offerIntervalSeconds=30",
            "controller.scheduler.batchMs=20",
        ],
    );
    let argv = args(&container(&objects));
    assert!(argv.contains(&format!("--webhook-listen=0.0.0.0:{hook_port}")), "{argv:?}");
    let cache = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = std::process::Command::new(dromos_tests::dromos_bin())
        .args(&argv)
        // What the Deployment's env gives it (the Secret's key for the webhook's).
        .env("DROMOS_WEBHOOK_SECRET", "s3cret")
        .env("DROMOS_GIT_CACHE", cache.path())
        .env("POD_NAMESPACE", &ns.name)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("start dromos controller");
    let mut running = Running { child, log };
    let metrics = format!("127.0.0.1:{metrics_port}");
    let hook = format!("127.0.0.1:{hook_port}");
    wait_for("the controller ready on its metrics port", Duration::from_secs(60), || {
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!("dromos controller exited ({status}):\n{}", running.log());
        }
        let metrics = metrics.clone();
        async move { (http(&metrics, "GET", "/readyz", &[], "").await?.0 == 200).then_some(()) }
    })
    .await;

    // The metrics port: metrics and probes, no webhook.
    let (code, body) = http(&metrics, "GET", "/metrics", &[], "").await.unwrap();
    assert!(code == 200 && body.contains("dromos_"), "{code} {body}");
    assert_eq!(http(&metrics, "GET", "/healthz", &[], "").await.unwrap().0, 200);
    let token = [("X-Gitlab-Token", "s3cret")];
    let push = r#"{"ref": "refs/heads/main", "project": {"git_http_url": "https://git.example.com/team/state.git"}}"#;
    assert_eq!(http(&metrics, "POST", "/hook", &token, push).await.unwrap().0, 404, "no webhook on the metrics port");

    // The webhook port: POST /hook only. A GitSource with the pushed URL and the `team=a`
    // label of --selector is triggered (lockdown refuses it before any fetch).
    let gs: dromos_crds::GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
        "metadata": {"name": "state", "labels": {"team": "a"}},
        "spec": {"url": "https://git.example.com/team/state.git", "ref": {"branch": "main"}}
    }))
    .unwrap();
    ns.api::<dromos_crds::GitSource>().create(&Default::default(), &gs).await.unwrap();
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(http(&hook, "GET", path, &[], "").await.unwrap().0, 404, "{path} is not on the webhook port");
    }
    let (code, _) = http(&hook, "POST", "/hook", &[("X-Gitlab-Token", "wrong")], push).await.unwrap();
    assert_eq!(code, 401);
    let (code, body) = http(&hook, "POST", "/hook", &token, push).await.unwrap();
    assert_eq!(code, 202, "{body}");
    assert!(body.contains(&format!("{}/state", ns.name)), "{body}");

    // images.default and images.fetch reach the pods the App operator and the Job controller
    // create.
    let app = dromos_tests::app_object(
        "web",
        serde_json::json!({"cmd": "sleep 3600", "instances": 1, "cpus": 0.01, "mem": 16,
                           "fetch": [{"uri": "https://example.com/tool.tgz"}]}),
    );
    ns.api::<dromos_crds::App>().create(&Default::default(), &app).await.unwrap();
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = ns.api();
    let dep = wait_for("the App's Deployment", Duration::from_secs(60), || async {
        deployments.get_opt("web").await.ok().flatten()
    })
    .await;
    let pod = dep.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.containers[0].image.as_deref(), Some("registry.internal/mirror/debian:12"));
    assert_eq!(pod.init_containers.unwrap()[0].image.as_deref(), Some("registry.internal/mirror/curl:8"));
    let job: dromos_crds::Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "nightly"},
        "spec": {"run": {"cmd": "date", "cpus": 0.01, "mem": 16}}
    }))
    .unwrap();
    ns.api::<dromos_crds::Job>().create(&Default::default(), &job).await.unwrap();
    dromos::operators::jobs::request_run(&admin, &ns.name, "nightly").await.unwrap();
    let batch: Api<k8s_openapi::api::batch::v1::Job> = ns.api();
    let run = wait_for("a run of nightly", Duration::from_secs(60), || async {
        batch.list(&kube::api::ListParams::default().labels("dromos.io/job=nightly")).await.ok()?.items.pop()
    })
    .await;
    let run_pod = run.spec.unwrap().template.spec.unwrap();
    assert_eq!(run_pod.containers[0].image.as_deref(), Some("registry.internal/mirror/debian:12"));

    assert!(running.child.try_wait().unwrap().is_none(), "still running:\n{}", running.log());
    drop(running);
    ns.delete().await;
}

/// The CRD hook's command and rights: `dromos crds --apply`, run by the binary with nothing
/// but a token of the hook's ServiceAccount, replaces a CRD left by an older version whole
/// (a property the new version dropped goes, a printer column it added comes) and reports the
/// others unchanged; a second run changes nothing.
#[tokio::test]
async fn the_crd_hook_replaces_stale_crds_with_its_own_rights() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceDefinition, JSONSchemaProps,
    };
    let admin = client().await;
    // No other test of this binary installs the CRDs while this one has one of them stale.
    let _alone = CRDS.write().await;
    install_crds(&admin).await;
    let ns = TestNamespace::new(&admin, "chart-crds").await;
    let release = format!("crds-{}", unique_suffix());
    let objects = render(&release, &ns.name, &[]);
    let hook_rbac: Vec<&Value> = objects.iter().filter(|o| is_hook(o) && o["kind"] != "Job").collect();
    assert_eq!(hook_rbac.len(), 3);
    apply(&admin, &hook_rbac).await;
    let account = format!("{release}-dromos-crds-upgrade");
    let kubeconfig = dromos_tests::chart::kubeconfig_as(&admin, &ns.name, &account).await;
    let sa = client_as(&admin, &ns.name, &account).await;
    assert!(!can(&sa, "delete", "apiextensions.k8s.io", "customresourcedefinitions", None).await);
    assert!(!can(&sa, "list", "dromos.io", "apps", None).await, "the hook reads no objects");

    // offers.dromos.io as an older version might have left it (Offers are not used by the
    // other tests of this file): a property more, a printer column fewer.
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let mut old = crds.get("offers.dromos.io").await.unwrap();
    let version = &mut old.spec.versions[0];
    let columns = version.additional_printer_columns.as_mut().expect("Offers have printer columns");
    let dropped = columns.pop().unwrap().name;
    let schema = version.schema.as_mut().unwrap().open_api_v3_schema.as_mut().unwrap();
    let spec = schema.properties.as_mut().unwrap().get_mut("spec").unwrap();
    spec.properties
        .get_or_insert_with(Default::default)
        .insert("legacyField".into(), JSONSchemaProps { type_: Some("string".into()), ..Default::default() });
    crds.replace("offers.dromos.io", &Default::default(), &old).await.unwrap();

    let apply_crds = || {
        let out = std::process::Command::new(dromos_tests::dromos_bin())
            .arg("--kubeconfig")
            .arg(kubeconfig.path())
            .args(["crds", "--apply"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    let expect = |offers: &str| -> Vec<String> {
        let mut v: Vec<String> = dromos_crds::crds()
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .map(|n| format!("{n}: {}", if n == "offers.dromos.io" { offers } else { "unchanged" }))
            .collect();
        v.sort();
        v
    };
    assert_eq!(apply_crds(), expect("replaced"));
    let now = crds.get("offers.dromos.io").await.unwrap();
    let v = &now.spec.versions[0];
    assert!(v.additional_printer_columns.as_ref().unwrap().iter().any(|c| c.name == dropped), "{dropped} is back");
    let spec = &v.schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap().properties.as_ref().unwrap()["spec"];
    assert!(!spec.properties.as_ref().is_some_and(|p| p.contains_key("legacyField")), "the old property is gone");
    assert_eq!(apply_crds(), expect("unchanged"), "a second run writes nothing");

    delete_cluster_rbac(&admin, &release).await;
    ns.delete().await;
}

//! Tenancy against the real control plane: two tenant namespaces and a platform team's
//! SourcePolicy. Each attack of a tenant's repository is tried and fails with a status naming
//! the rule, and the allowed path still works. The controller here runs as the test's
//! administrator: what a source may do comes from its ServiceAccount (impersonated) and the
//! policies, never from the controller's identity.

use dromos::operators::manager::ManagerOptions;
use dromos::operators::{gitsource, packages};
use dromos_core::tenancy::IdentityRules;
use dromos_crds::{GitSource, Package, SourcePolicy};
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds, unique_suffix, wait_for};
use git2::Repository;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn cm(name: &str, namespace: Option<&str>, value: &str) -> String {
    let ns = namespace.map(|n| format!("\n  namespace: {n}")).unwrap_or_default();
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{ns}\ndata:\n  value: \"{value}\"\n")
}

/// A tenant namespace with a ServiceAccount `deployer` that may write ConfigMaps and the
/// Dromos kinds there, and read nothing else (no Secrets).
async fn tenant(admin: &kube::Client, prefix: &str) -> TestNamespace {
    let ns = TestNamespace::new(admin, prefix).await;
    let pp = PostParams::default();
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "deployer"}})).unwrap();
    ns.api::<ServiceAccount>().create(&pp, &sa).await.unwrap();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "deployer"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
            {"apiGroups": ["dromos.io"], "resources": ["apps", "jobs", "packages", "gitsources"], "verbs": ["get", "list", "watch", "create", "patch", "delete"]}
        ]
    }))
    .unwrap();
    ns.api::<Role>().create(&pp, &role).await.unwrap();
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns.name}]
    }))
    .unwrap();
    ns.api::<RoleBinding>().create(&pp, &rb).await.unwrap();
    ns
}

/// A SourcePolicy (deleted when dropped is not possible in async; [`Policy::delete`]).
struct Policy {
    api: Api<SourcePolicy>,
    name: String,
}

impl Policy {
    async fn create(admin: &kube::Client, spec: serde_json::Value) -> Self {
        let name = format!("tenancy-{}", unique_suffix());
        let api: Api<SourcePolicy> = Api::all(admin.clone());
        let p: SourcePolicy = serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        api.create(&PostParams::default(), &p).await.unwrap();
        Policy { api, name }
    }

    async fn delete(self) {
        let _ = self.api.delete(&self.name, &Default::default()).await;
    }
}

/// The GitSource operator in cluster mode (cluster-scoped kinds reach the sync), reconciling
/// only the sources labelled for this test; with `lockdown`, sources must name a
/// ServiceAccount.
fn controller(admin: &kube::Client, label: &str, cache: &std::path::Path, lockdown: bool) -> dromos_tests::Task {
    dromos_tests::init_tracing();
    let opts = ManagerOptions {
        gitsource: Some(gitsource::Options {
            selector: Some(format!("tenancy-test={label}")),
            cache_dir: cache.to_path_buf(),
            allow_file_urls: true,
            concurrency: 4,
            write_concurrency: 8,
            limiter: None,
            fetch_timeout: Duration::from_secs(30),
        }),
        identity: IdentityRules { require_service_account: lockdown, ..Default::default() },
        ..Default::default()
    };
    dromos_tests::operators(admin, opts).1
}

async fn create_source(ns: &TestNamespace, name: &str, label: &str, spec: serde_json::Value) {
    let gs: GitSource = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
        "metadata": {"name": name, "labels": {"tenancy-test": label}}, "spec": spec
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.expect("create GitSource");
}

/// The GitSource `name` once its Ready condition satisfies `f`.
async fn ready_where(ns: &TestNamespace, name: &str, what: &str, f: impl Fn(&str, &str, &str) -> bool) -> GitSource {
    let api = ns.api::<GitSource>();
    wait_for(what, T, || async {
        let gs = api.get(name).await.ok()?;
        let c = gs.status.as_ref()?.common.conditions.iter().find(|c| c.type_ == "Ready")?.clone();
        f(&c.status, &c.reason, &c.message).then_some(gs)
    })
    .await
}

/// The Ready condition of a GitSource that has a status.
fn ready_of(gs: GitSource) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    gs.status.expect("status").common.conditions.into_iter().find(|c| c.type_ == "Ready").expect("Ready")
}

fn file_url(dir: &std::path::Path) -> String {
    format!("file://{}", dir.display())
}

#[tokio::test]
async fn a_tenant_repository_cannot_bind_cluster_admin_or_write_another_namespace() {
    let admin = client().await;
    install_crds(&admin).await;
    let (a, b) = (tenant(&admin, "team-a").await, tenant(&admin, "team-b").await);
    let repos = tempfile::tempdir().unwrap();
    let policy = Policy::create(
        &admin,
        json!({"sourceNamespaces": [a.name, b.name], "repositories": [format!("file://{}/*", repos.path().display())]}),
    )
    .await;
    let label = unique_suffix();
    let cache = tempfile::tempdir().unwrap();
    let _controller = controller(&admin, &label, cache.path(), true);

    let remote = repos.path().join("team-a.git");
    let repo = Repository::init_bare(&remote).unwrap();
    let binding = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {}-admin\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}\n\
         subjects: [{{kind: ServiceAccount, name: deployer, namespace: {}}}]\n",
        a.name, a.name
    );
    let theirs = cm("planted", Some(&b.name), "x");
    commit(
        &repo,
        "main",
        &[("mine.yaml", Some(&cm("mine", None, "1"))), ("rbac.yaml", Some(&binding)), ("theirs.yaml", Some(&theirs))],
        "attack",
    );
    create_source(
        &a,
        "apps",
        &label,
        json!({"url": file_url(&remote), "interval": "1s", "serviceAccountName": "deployer"}),
    )
    .await;
    let gs =
        ready_where(&a, "apps", "the attack refused by policy", |s, r, _| s == "False" && r == "PolicyViolation").await;
    let status = gs.status.unwrap();
    let found: Vec<(String, i64, String)> =
        status.diagnostics.iter().map(|d| (d.file.clone(), d.line, d.message.clone())).collect();
    assert!(
        found.iter().any(|(f, l, m)| f == "rbac.yaml"
            && *l == 2
            && m.contains("clusterScopedKinds")
            && m.contains(&policy.name)),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(f, l, m)| f == "theirs.yaml" && *l == 5 && m.contains("targetNamespaces")),
        "{found:#?}"
    );
    let ready = status.common.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert!(ready.message.contains("breaks SourcePolicy rules") && ready.message.contains("nothing was applied"));
    // Nothing of the revision was written, not even the allowed ConfigMap.
    assert!(a.api::<ConfigMap>().get_opt("mine").await.unwrap().is_none());
    assert!(b.api::<ConfigMap>().get_opt("planted").await.unwrap().is_none());
    let crbs: Api<ClusterRoleBinding> = Api::all(admin.clone());
    assert!(crbs.get_opt(&format!("{}-admin", a.name)).await.unwrap().is_none());

    // The allowed path: the same repository without the attack applies, as the ServiceAccount
    // (its field manager is the source's own).
    commit(&repo, "main", &[("rbac.yaml", None), ("theirs.yaml", None)], "fixed");
    ready_where(&a, "apps", "the fixed revision applied", |s, _, _| s == "True").await;
    let mine = a.api::<ConfigMap>().get("mine").await.unwrap();
    let managers: Vec<String> =
        mine.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(managers.contains(&format!("dromos/{}.apps", a.name)), "{managers:?}");

    policy.delete().await;
    a.delete().await;
    b.delete().await;
}

#[tokio::test]
async fn without_a_policy_the_service_account_still_bounds_what_a_commit_can_do() {
    let admin = client().await;
    install_crds(&admin).await;
    let (a, b) = (tenant(&admin, "solo-a").await, tenant(&admin, "solo-b").await);
    let label = unique_suffix();
    let cache = tempfile::tempdir().unwrap();
    let _controller = controller(&admin, &label, cache.path(), false);
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    commit(&repo, "main", &[("theirs.yaml", Some(&cm("planted", Some(&b.name), "x")))], "attack");
    create_source(
        &a,
        "apps",
        &label,
        json!({"url": file_url(remote.path()), "interval": "1s", "serviceAccountName": "deployer"}),
    )
    .await;
    // The controller (an administrator here) could write there; the ServiceAccount may not.
    let gs =
        ready_where(&a, "apps", "the write refused by RBAC", |s, _, m| s == "False" && m.contains("forbidden")).await;
    let ready = ready_of(gs);
    assert!(ready.message.contains(&format!("system:serviceaccount:{}:deployer", a.name)), "{}", ready.message);
    assert!(b.api::<ConfigMap>().get_opt("planted").await.unwrap().is_none());

    // Lockdown off: a source naming no ServiceAccount acts as the controller (the
    // administrator here) and its write succeeds; that is what `--require-service-account`
    // exists to stop (next test).
    a.delete().await;
    b.delete().await;
}

#[tokio::test]
async fn lockdown_refuses_a_source_without_a_service_account_and_policies_bind_accounts() {
    let admin = client().await;
    install_crds(&admin).await;
    let a = tenant(&admin, "lock-a").await;
    let policy = Policy::create(&admin, json!({"sourceNamespaces": [a.name], "serviceAccounts": ["deployer"]})).await;
    let label = unique_suffix();
    let cache = tempfile::tempdir().unwrap();
    let _controller = controller(&admin, &label, cache.path(), true);
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    commit(&repo, "main", &[("mine.yaml", Some(&cm("mine", None, "1")))], "one");
    create_source(&a, "anon", &label, json!({"url": file_url(remote.path()), "interval": "1s"})).await;
    let gs = ready_where(&a, "anon", "the anonymous source refused", |s, r, _| {
        s == "False" && r == "ServiceAccountRequired"
    })
    .await;
    let ready = ready_of(gs);
    assert!(ready.message.contains("spec.serviceAccountName"), "{}", ready.message);
    create_source(
        &a,
        "other",
        &label,
        json!({"url": file_url(remote.path()), "interval": "1s", "serviceAccountName": "default"}),
    )
    .await;
    let gs = ready_where(&a, "other", "an account the policy does not allow", |s, r, _| {
        s == "False" && r == "PolicyViolation"
    })
    .await;
    let ready = ready_of(gs);
    assert!(ready.message.contains("serviceAccounts") && ready.message.contains(&policy.name), "{}", ready.message);
    assert!(a.api::<ConfigMap>().get_opt("mine").await.unwrap().is_none(), "neither source applied anything");
    policy.delete().await;
    a.delete().await;
}

#[tokio::test]
async fn credentials_go_only_to_allowed_repositories_and_are_read_as_the_source() {
    let admin = client().await;
    install_crds(&admin).await;
    let (a, c) = (tenant(&admin, "cred-a").await, tenant(&admin, "cred-c").await);
    // A Secret the tenants' ServiceAccounts may not read, in each namespace.
    for ns in [&a, &c] {
        let s: Secret = serde_json::from_value(
            json!({"metadata": {"name": "git-creds"}, "stringData": {"username": "bot", "password": "hunter2-SECRET"}}),
        )
        .unwrap();
        ns.api::<Secret>().create(&PostParams::default(), &s).await.unwrap();
    }
    // The team's own server, recording every request it gets.
    let served = tempfile::tempdir().unwrap();
    Repository::init_bare(served.path().join("loot.git")).unwrap();
    let evil = dromos_tests::githttp::GitHttpServer::start(served.path(), "bot", "hunter2-SECRET");
    let url = format!("http://{}/loot.git", evil.addr);
    let policy =
        Policy::create(&admin, json!({"sourceNamespaces": [a.name], "repositories": ["https://git.example.com/*"]}))
            .await;
    let label = unique_suffix();
    let cache = tempfile::tempdir().unwrap();
    let _controller = controller(&admin, &label, cache.path(), false);
    let spec =
        json!({"url": url, "interval": "1s", "secretRef": {"name": "git-creds"}, "serviceAccountName": "deployer"});
    // team-a: the policy allows only its Git host; nothing is fetched.
    create_source(&a, "exfil", &label, spec.clone()).await;
    let gs =
        ready_where(&a, "exfil", "the repository refused by policy", |s, r, _| s == "False" && r == "PolicyViolation")
            .await;
    let ready = ready_of(gs);
    assert!(
        ready.message.contains("repositories") && ready.message.contains("nothing was fetched"),
        "{}",
        ready.message
    );
    // team-c: no policy, but the Secret is read as the source's ServiceAccount, which may not.
    create_source(&c, "exfil", &label, spec).await;
    let gs = ready_where(&c, "exfil", "the Secret unreadable as the source", |s, r, _| {
        s == "False" && r == "SecretUnavailable"
    })
    .await;
    let ready = ready_of(gs);
    assert!(ready.message.contains(&format!("ServiceAccount {}/deployer", c.name)), "{}", ready.message);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(evil.requests().is_empty(), "the server never heard from the controller: {:?}", evil.requests());
    let logs = dromos_tests::captured_logs();
    assert!(!logs.contains("hunter2-SECRET"), "the password never reaches a log line");
    policy.delete().await;
    a.delete().await;
    c.delete().await;
}

#[tokio::test]
async fn existing_objects_are_adopted_only_when_asked_and_another_sources_never() {
    let admin = client().await;
    install_crds(&admin).await;
    let a = tenant(&admin, "adopt").await;
    // An object with data that no source created (by hand, as `kubectl create` would).
    let legacy: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "legacy"}, "data": {"value": "precious"}})).unwrap();
    let by_hand = PostParams { field_manager: Some("kubectl-create".into()), ..Default::default() };
    a.api::<ConfigMap>().create(&by_hand, &legacy).await.unwrap();
    let label = unique_suffix();
    let cache = tempfile::tempdir().unwrap();
    let _controller = controller(&admin, &label, cache.path(), true);
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    commit(
        &repo,
        "main",
        &[("legacy.yaml", Some(&cm("legacy", None, "mine now"))), ("ok.yaml", Some(&cm("ok", None, "1")))],
        "take",
    );
    create_source(
        &a,
        "first",
        &label,
        json!({"url": file_url(remote.path()), "interval": "1s", "serviceAccountName": "deployer", "prune": true}),
    )
    .await;
    let gs =
        ready_where(&a, "first", "adoption refused", |s, _, m| s == "False" && m.contains("AdoptionRefused")).await;
    let ready = ready_of(gs);
    assert!(ready.message.contains("dromos.io/adopt"), "{}", ready.message);
    let live = a.api::<ConfigMap>().get("legacy").await.unwrap();
    assert_eq!(live.data.unwrap()["value"], "precious", "the object is untouched");
    assert!(a.api::<ConfigMap>().get_opt("ok").await.unwrap().is_none(), "nothing of the revision applied");

    // Removing the manifest prunes nothing: the source never owned it.
    commit(&repo, "main", &[("legacy.yaml", None)], "drop");
    ready_where(&a, "first", "the rest applied", |s, _, _| s == "True").await;
    assert!(a.api::<ConfigMap>().get_opt("legacy").await.unwrap().is_some(), "never pruned");

    // Asked explicitly: adopted, and from then on pruned with its file.
    let adopt = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\n  annotations:\n    dromos.io/adopt: \"true\"\ndata:\n  value: \"mine now\"\n";
    commit(&repo, "main", &[("legacy.yaml", Some(adopt))], "adopt");
    wait_for("adopted", T, || async {
        let cm = a.api::<ConfigMap>().get("legacy").await.ok()?;
        (cm.data?["value"] == "mine now").then_some(())
    })
    .await;

    // A second source declaring the same object is refused, and the first keeps it.
    let remote2 = tempfile::tempdir().unwrap();
    let repo2 = Repository::init_bare(remote2.path()).unwrap();
    commit(&repo2, "main", &[("legacy.yaml", Some(&cm("legacy", None, "second")))], "grab");
    create_source(
        &a,
        "second",
        &label,
        json!({"url": file_url(remote2.path()), "interval": "1s", "serviceAccountName": "deployer"}),
    )
    .await;
    let gs = ready_where(&a, "second", "the second source refused", |s, _, m| {
        s == "False" && m.contains("OwnedByAnotherSource")
    })
    .await;
    let ready = ready_of(gs);
    assert!(ready.message.contains(&format!("{}.first", a.name)), "{}", ready.message);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let live = a.api::<ConfigMap>().get("legacy").await.unwrap();
    assert_eq!(live.data.unwrap()["value"], "mine now", "no flipping back and forth");

    // The second source goes first: once the first one prunes the object, a source still
    // declaring it would create it anew, as its own.
    a.api::<GitSource>().delete("second", &Default::default()).await.unwrap();
    let released = commit(&repo, "main", &[("legacy.yaml", None)], "release");
    let pruned = tokio::time::timeout(T, async {
        while a.api::<ConfigMap>().get_opt("legacy").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let status = a.api::<GitSource>().get("first").await.unwrap().status;
    assert!(pruned.is_ok(), "the adopted object pruned with its file at {released}: {status:#?}");
    a.delete().await;
}

#[tokio::test]
async fn packages_obey_the_policy_and_the_service_account_rule() {
    let admin = client().await;
    install_crds(&admin).await;
    let a = tenant(&admin, "pkg").await;
    let policy =
        Policy::create(&admin, json!({"sourceNamespaces": [a.name], "packageRepositories": ["builtin"]})).await;
    let cache = tempfile::tempdir().unwrap();
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(a.name.clone()),
        packages: Some(packages::Options {
            concurrency: 2,
            cache_dir: cache.path().to_path_buf(),
            allow_file_urls: true,
        }),
        identity: IdentityRules { require_service_account: true, ..Default::default() },
        ..Default::default()
    };
    let (_m, _task) = dromos_tests::operators(&admin, opts);
    let pkg = |name: &str, spec: serde_json::Value| -> Package {
        serde_json::from_value(
            json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": name}, "spec": spec}),
        )
        .unwrap()
    };
    let api = a.api::<Package>();
    api.create(&PostParams::default(), &pkg("anon", json!({"name": "kafka"}))).await.unwrap();
    api.create(
        &PostParams::default(),
        &pkg("elsewhere", json!({"name": "kafka", "serviceAccountName": "deployer", "repository": {"gitSource": "other", "path": "pkgs"}})),
    )
    .await
    .unwrap();
    for (name, reason, words) in [
        ("anon", "ServiceAccountRequired", "--require-service-account"),
        ("elsewhere", "PolicyViolation", "packageRepositories"),
    ] {
        let p = wait_for(&format!("Package {name} refused"), T, || async {
            let p = api.get(name).await.ok()?;
            let c = p.status?.common.conditions.into_iter().find(|c| c.type_ == "Ready")?;
            (c.reason == reason).then_some(c)
        })
        .await;
        assert!(p.message.contains(words), "{}", p.message);
    }
    assert!(
        a.api::<k8s_openapi::api::apps::v1::StatefulSet>().list(&Default::default()).await.unwrap().items.is_empty(),
        "nothing rendered was applied"
    );
    policy.delete().await;
    a.delete().await;
}

/// The attack of the issue, with `dromos sync` (the same engine, local mode): a manifest for a
/// Namespace that already exists and holds data neither takes it over nor, once the file is
/// gone, deletes it.
#[tokio::test]
async fn a_local_sync_neither_adopts_nor_prunes_an_existing_namespace() {
    use dromos::local::{InventoryStore, sync_dir};
    use dromos::sync::{Resolver, SyncSettings};
    let admin = client().await;
    let home = TestNamespace::new(&admin, "local-home").await;
    let victim = TestNamespace::new(&admin, "victim").await;
    let data: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "data"}, "data": {"v": "1"}})).unwrap();
    victim.api::<ConfigMap>().create(&PostParams::default(), &data).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n  annotations:\n    dromos.io/prune: enabled\n",
        victim.name
    );
    std::fs::write(dir.path().join("ns.yaml"), manifest).unwrap();
    let store = InventoryStore { namespace: home.name.clone(), name: "attack".into() };
    let settings = SyncSettings {
        source: "local.attack".into(),
        force: false,
        force_owned: true,
        plan: dromos_core::plan::PlanOptions { allow_mass_delete: true, ..Default::default() },
        concurrency: 4,
        default_namespace: home.name.clone(),
        limiter: None,
        scope: Default::default(),
        written: None,
    };
    let mut resolver = Resolver::default();
    let o = sync_dir(&admin, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.writes), (0, 0), "{}", dromos::local::describe(&o));
    assert_eq!(o.failures.len(), 1, "{}", dromos::local::describe(&o));
    assert_eq!(o.failures[0].reason, "AdoptionRefused");
    std::fs::remove_file(dir.path().join("ns.yaml")).unwrap();
    let o = sync_dir(&admin, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!(o.pruned, 0, "{}", dromos::local::describe(&o));
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    let live = ns.get(&victim.name).await.unwrap();
    assert!(live.metadata.deletion_timestamp.is_none(), "the namespace stays");
    assert!(!live.metadata.labels.unwrap_or_default().contains_key("dromos.io/source"), "and is not labelled");
    assert!(victim.api::<ConfigMap>().get_opt("data").await.unwrap().is_some(), "its data stays");
    victim.delete().await;
    home.delete().await;
}

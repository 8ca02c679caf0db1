//! The Helm chart under test: rendering with the Helm binary that `tests/cluster/helm` builds,
//! the RBAC table of `charts/dromos/README.md`, and clients that act as the chart's
//! ServiceAccount.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The chart directory.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/dromos")
}

/// The Helm binary, built from the Go module proxy on first use by `tests/cluster/helm` (cached
/// in `~/.cache/dromos/helm-*`). Panics when it cannot be built: chart tests never skip.
pub fn helm() -> PathBuf {
    let script = repo_root().join("tests/cluster/helm");
    let out = Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; the chart tests need Go to build Helm", script.display()));
    assert!(
        out.status.success(),
        "{} failed; the chart tests need Helm built from the Go module proxy:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
}

/// `helm template RELEASE charts/dromos --namespace NS --set ...`, parsed into objects.
pub fn render(release: &str, namespace: &str, sets: &[&str]) -> Vec<Value> {
    render_outcome(release, namespace, sets).unwrap_or_else(|e| panic!("helm template failed:\n{e}"))
}

/// [`render`], or Helm's error output when it refuses the values (schema, `fail`).
pub fn render_outcome(release: &str, namespace: &str, sets: &[&str]) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new(helm());
    cmd.args(["template", release]).arg(chart_dir()).args(["--namespace", namespace]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().expect("run helm template");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("rendered YAML: {e}\n{text}"));
    Ok(docs.into_iter().filter(|d| d.is_object()).collect())
}

/// `helm lint charts/dromos --set ...`: Ok with its output when the chart passes, else Err.
pub fn lint(sets: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(helm());
    cmd.arg("lint").arg(chart_dir());
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().expect("run helm lint");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

/// Whether Helm renders `o` as a hook (`helm.sh/hook`), run around installs and upgrades
/// rather than kept with the release.
pub fn is_hook(o: &Value) -> bool {
    o["metadata"]["annotations"]["helm.sh/hook"].is_string()
}

/// Rendered objects of one kind.
pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// One permission: (role, API group, resource, resource name or "", verb). The role is
/// `controller`, `crds` or `leader` (the names of the chart's roles after the release prefix).
pub type Permission = (String, String, String, String, String);

/// The permissions the rendered Roles and ClusterRoles grant, one row per verb.
pub fn rendered_permissions(objects: &[Value], fullname: &str) -> BTreeSet<Permission> {
    let mut out = BTreeSet::new();
    for o in objects.iter().filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role") {
        let name = o["metadata"]["name"].as_str().expect("role name");
        let role = match name.strip_prefix(fullname) {
            Some("") => "controller".to_string(),
            Some(rest) => rest.trim_start_matches('-').to_string(),
            None => panic!("role {name} is not named after the release {fullname}"),
        };
        for rule in o["rules"].as_array().expect("rules") {
            let list = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            let names = list("resourceNames");
            let names = if names.is_empty() { vec![String::new()] } else { names };
            for g in list("apiGroups") {
                for r in list("resources") {
                    for n in &names {
                        for v in list("verbs") {
                            out.insert((role.clone(), g.clone(), r.clone(), n.clone(), v));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The permissions the table between `<!-- rbac-table -->` markers of the chart README
/// documents. Rows whose role says `cluster mode` are left out when `namespaced`.
pub fn documented_permissions(namespaced: bool) -> BTreeSet<Permission> {
    documented_permissions_with(namespaced, false)
}

/// [`documented_permissions`], with the rows that hold only with `ui.enabled` when `ui`.
pub fn documented_permissions_with(namespaced: bool, ui: bool) -> BTreeSet<Permission> {
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).expect("chart README");
    let table = readme.split("<!-- rbac-table -->").nth(1).expect("README has a <!-- rbac-table --> section");
    let mut out = BTreeSet::new();
    for line in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<String> =
            line.trim_matches('|').split('|').map(|c| c.replace('`', "").trim().to_string()).collect();
        assert!(cells.len() >= 5, "rbac table row with fewer than 5 cells: {line}");
        if namespaced && cells[0].contains("cluster mode") {
            continue;
        }
        if !ui && cells[0].contains("ui.enabled") {
            continue;
        }
        let role = cells[0].split_whitespace().next().expect("role").to_string();
        let split =
            |c: &str| -> Vec<String> { c.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect() };
        let group = if cells[1] == "core" { String::new() } else { cells[1].clone() };
        let names = split(&cells[3]);
        let names = if names.is_empty() { vec![String::new()] } else { names };
        for r in split(&cells[2]) {
            for n in &names {
                for v in split(&cells[4]) {
                    out.insert((role.clone(), group.clone(), r.clone(), n.clone(), v));
                }
            }
        }
    }
    assert!(!out.is_empty(), "the rbac table of the chart README is empty");
    out
}

/// Server-side applies rendered objects with the test's (admin) client.
pub async fn apply(admin: &Client, objects: &[&Value]) {
    let discovery = kube::discovery::Discovery::new(admin.clone()).run().await.expect("discovery");
    for o in objects {
        let (group, version) = match o["apiVersion"].as_str().unwrap().rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), o["apiVersion"].as_str().unwrap().to_string()),
        };
        let gvk = kube::api::GroupVersionKind::gvk(&group, &version, o["kind"].as_str().unwrap());
        let (ar, caps) = discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("API server does not serve {gvk:?}"));
        let name = o["metadata"]["name"].as_str().unwrap();
        let api: Api<DynamicObject> = match (caps.scope, o["metadata"]["namespace"].as_str()) {
            (kube::discovery::Scope::Namespaced, Some(ns)) => Api::namespaced_with(admin.clone(), ns, &ar),
            _ => Api::all_with(admin.clone(), &ar),
        };
        let obj: DynamicObject = serde_json::from_value((*o).clone()).unwrap();
        api.patch(name, &PatchParams::apply("dromos-tests").force(), &Patch::Apply(&obj))
            .await
            .unwrap_or_else(|e| panic!("apply {gvk:?} {name}: {e}"));
    }
}

/// Deletes the cluster-scoped roles and bindings of a release (namespaced objects go with the
/// test namespace).
pub async fn delete_cluster_rbac(admin: &Client, fullname: &str) {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    for n in [
        fullname.to_string(),
        format!("{fullname}-crds"),
        format!("{fullname}-crds-upgrade"),
        format!("{fullname}-scheduler"),
        format!("{fullname}-edit"),
        format!("{fullname}-view"),
    ] {
        let _ = Api::<ClusterRole>::all(admin.clone()).delete(&n, &Default::default()).await;
        let _ = Api::<ClusterRoleBinding>::all(admin.clone()).delete(&n, &Default::default()).await;
    }
}

/// A client that authenticates as `namespace/service_account` with a token from the
/// TokenRequest API, against the same server and CA as the test kubeconfig.
pub async fn client_as(admin: &Client, namespace: &str, service_account: &str) -> Client {
    let token = token_for(admin, namespace, service_account).await;
    let path = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let mut config = Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&path).expect("kubeconfig"),
        &Default::default(),
    )
    .await
    .expect("config");
    config.auth_info = kube::config::AuthInfo { token: Some(token.into()), ..Default::default() };
    Client::try_from(config).expect("token client")
}

/// A kubeconfig file (JSON) for the test cluster whose only user is `namespace/service_account`
/// with a token from the TokenRequest API: for a `dromos` process that must act as the chart's
/// account and nothing more.
pub async fn kubeconfig_as(admin: &Client, namespace: &str, service_account: &str) -> tempfile::NamedTempFile {
    let token = token_for(admin, namespace, service_account).await;
    let path = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let text = std::fs::read_to_string(&path).expect("read the kubeconfig");
    let mut kc: Value = serde_saphyr::from_str(&text).expect("kubeconfig YAML");
    kc["users"] = serde_json::json!([{"name": "sa", "user": {"token": token}}]);
    for c in kc["contexts"].as_array_mut().expect("contexts") {
        c["context"]["user"] = "sa".into();
    }
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), kc.to_string()).expect("write the kubeconfig");
    file
}

/// A token of `namespace/service_account` (TokenRequest API, one hour).
pub async fn token_for(admin: &Client, namespace: &str, service_account: &str) -> String {
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let req = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(3600), ..Default::default() }),
        ..Default::default()
    };
    sas.create_token_request(service_account, &PostParams::default(), &req)
        .await
        .unwrap_or_else(|e| panic!("token for {namespace}/{service_account}: {e}"))
        .status
        .expect("token status")
        .token
        .expect("token")
}

/// Asks the API server whether the client may do `verb` on `resource` (a SelfSubjectAccessReview).
pub async fn can(client: &Client, verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SelfSubjectAccessReview")
        .status
        .expect("review status")
        .allowed
}

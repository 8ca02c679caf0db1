//! Tests of the tenancy decisions: identities, patterns, each policy rule, and trees.

use super::*;
use crate::load::{LoadOptions, SourceFile};

fn policy(yaml: &str) -> SourcePolicySpec {
    serde_saphyr::from_str(yaml).expect("policy spec")
}

fn tree(text: &str) -> Tree {
    let files = vec![SourceFile { path: "team.yaml".into(), bytes: text.as_bytes().to_vec() }];
    crate::prepare::check(&files, vec![], &LoadOptions { default_namespace: "team-a".into(), ..Default::default() })
}

fn cluster_scoped(group: &str, kind: &str) -> bool {
    crate::load::is_cluster_scoped(group, kind)
}

#[test]
fn identity_prefers_the_named_account_then_the_default_then_refuses_or_falls_back() {
    let open = IdentityRules::default();
    let default = IdentityRules { default_service_account: Some("applier".into()), require_service_account: false };
    let strict = IdentityRules { default_service_account: None, require_service_account: true };
    let sa = |n: &str| Identity::ServiceAccount { namespace: "team-a".into(), name: n.into() };
    assert_eq!(identity(&open, "team-a", Some("deployer")), Ok(sa("deployer")));
    assert_eq!(identity(&open, "team-a", None), Ok(Identity::Controller));
    assert_eq!(identity(&open, "team-a", Some("")), Ok(Identity::Controller));
    assert_eq!(identity(&default, "team-a", None), Ok(sa("applier")));
    assert_eq!(identity(&default, "team-a", Some("deployer")), Ok(sa("deployer")));
    assert_eq!(identity(&strict, "team-a", Some("deployer")), Ok(sa("deployer")));
    let refused = identity(&strict, "team-a", None).unwrap_err();
    assert!(refused.contains("--require-service-account"), "{refused}");
    assert!(identity(&open, "team-a", Some("Bad_Name")).unwrap_err().contains("serviceAccountName"));
    assert_eq!(sa("deployer").user().as_deref(), Some("system:serviceaccount:team-a:deployer"));
    assert_eq!(Identity::Controller.user(), None);
}

#[test]
fn field_managers_are_per_source_and_bounded() {
    assert_eq!(field_manager("team-a.apps"), "dromos/team-a.apps");
    assert_eq!(field_manager(&"x".repeat(300)).len(), 128);
}

#[test]
fn glob_matches_whole_strings_with_stars() {
    let cases = [
        ("team-a", "team-a", true),
        ("team-a", "team-ab", false),
        ("team-*", "team-a", true),
        ("team-*", "team-", true),
        ("team-*", "xteam-a", false),
        ("*", "", true),
        ("*-prod", "shop-prod", true),
        ("*-prod", "shop-prod-2", false),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "acb", false),
        ("https://git.example.com/team-a/*", "https://git.example.com/team-a/apps.git", true),
        ("https://git.example.com/team-a/*", "https://git.example.com/team-b/apps.git", false),
        ("ab*ba", "aba", false),
    ];
    for (p, s, want) in cases {
        assert_eq!(glob(p, s), want, "{p} vs {s}");
    }
}

#[test]
fn every_selecting_policy_must_allow() {
    let all = vec![
        ("wide".to_string(), policy("sourceNamespaces: ['team-*']\ntargetNamespaces: ['team-*']")),
        ("narrow".to_string(), policy("sourceNamespaces: [team-a]\ntargetNamespaces: [$self, shared]")),
        ("other".to_string(), policy("sourceNamespaces: [team-b]\ntargetNamespaces: ['*']")),
    ];
    let a = Policies::select(&all, "team-a");
    assert_eq!(a.names(), vec!["wide", "narrow"]);
    assert!(a.check_object("", "ConfigMap", Some("team-a")).is_ok());
    let v = a.check_object("", "ConfigMap", Some("team-b")).unwrap_err();
    assert_eq!((v.policy.as_str(), v.rule), ("narrow", "targetNamespaces"));
    let v = a.check_object("", "ConfigMap", Some("shared")).unwrap_err();
    assert_eq!(v.policy, "wide", "the wide policy refuses what the narrow one allows");
    // No policy selects: no policy restriction.
    assert!(Policies::select(&all, "platform").check_object("", "Namespace", None).is_ok());
}

#[test]
fn targets_default_to_the_source_namespace_and_cluster_scoped_kinds_to_none() {
    let all = vec![("p".to_string(), policy("sourceNamespaces: [team-a]"))];
    let p = Policies::select(&all, "team-a");
    assert!(p.check_object("apps", "Deployment", Some("team-a")).is_ok());
    assert_eq!(p.check_object("apps", "Deployment", Some("team-b")).unwrap_err().rule, "targetNamespaces");
    let v = p.check_object("rbac.authorization.k8s.io", "ClusterRoleBinding", None).unwrap_err();
    assert_eq!(v.rule, "clusterScopedKinds");
    assert!(v.to_string().contains("rbac.authorization.k8s.io/ClusterRoleBinding"), "{v}");
    assert!(v.to_string().contains("SourcePolicy p"), "{v}");
}

#[test]
fn cluster_scoped_and_denied_kinds_by_pattern() {
    let all = vec![(
        "p".to_string(),
        policy(
            "sourceNamespaces: ['*']\nclusterScopedKinds: [Namespace, 'storage.k8s.io/*']\n\
             deniedKinds: ['rbac.authorization.k8s.io/*', Secret]",
        ),
    )];
    let p = Policies::select(&all, "team-a");
    assert!(p.check_object("", "Namespace", None).is_ok());
    assert!(p.check_object("storage.k8s.io", "StorageClass", None).is_ok());
    assert_eq!(p.check_object("", "PersistentVolume", None).unwrap_err().rule, "clusterScopedKinds");
    assert_eq!(p.check_object("rbac.authorization.k8s.io", "Role", Some("team-a")).unwrap_err().rule, "deniedKinds");
    assert_eq!(p.check_object("", "Secret", Some("team-a")).unwrap_err().rule, "deniedKinds");
    // `Secret` names the core group only.
    assert!(p.check_object("example.com", "Secret", Some("team-a")).is_ok());
}

#[test]
fn repositories_are_compared_without_credentials() {
    let all = vec![(
        "p".to_string(),
        policy("sourceNamespaces: [team-a]\nrepositories: ['https://git.example.com/team-a/*']"),
    )];
    let p = Policies::select(&all, "team-a");
    assert!(p.check_repository("https://git.example.com/team-a/apps.git").is_ok());
    assert!(p.check_repository("https://bot:TOKEN@git.example.com/team-a/apps.git").is_ok());
    let v = p.check_repository("https://bot:TOKEN@evil.example.net/team-a/apps.git").unwrap_err();
    assert_eq!(v.rule, "repositories");
    assert!(!v.message.contains("TOKEN"), "{v}");
    assert!(p.check_repository("https://evil.example.net/x?u=https://git.example.com/team-a/").is_err());
    assert!(p.check_repository("https://git.example.com/team-a/../team-b/x.git").is_err());
    assert!(p.check_repository("https://git.example.com/team-a/./x.git").is_err());
}

#[test]
fn package_repositories_and_service_accounts() {
    let all = vec![(
        "p".to_string(),
        policy("sourceNamespaces: [team-a]\npackageRepositories: [builtin]\nserviceAccounts: ['deploy-*']"),
    )];
    let p = Policies::select(&all, "team-a");
    assert!(p.check_package_repository("builtin").is_ok());
    assert_eq!(p.check_package_repository("gitsource/x").unwrap_err().rule, "packageRepositories");
    assert!(p.check_service_account("deploy-web").is_ok());
    assert_eq!(p.check_service_account("admin").unwrap_err().rule, "serviceAccounts");
    let spec = |r: &str| -> dromos_crds::PackageSpec { serde_saphyr::from_str(&format!("name: kafka\n{r}")).unwrap() };
    assert_eq!(package_repository(&spec(""), Some("apps")), "builtin");
    assert_eq!(package_repository(&spec("repository: {builtin: true}"), Some("apps")), "builtin");
    assert_eq!(package_repository(&spec("repository: {gitSource: pkgs, path: p}"), Some("apps")), "gitsource/pkgs");
    assert_eq!(package_repository(&spec("repository: {path: p}"), Some("apps")), "gitsource/apps");
    assert_eq!(package_repository(&spec("repository: {path: p}"), None), "gitsource/");
}

#[test]
fn a_tree_reports_each_violation_at_its_file_and_line() {
    let all = vec![(
        "team-a-rules".to_string(),
        policy(
            "sourceNamespaces: [team-a]\nrepositories: ['https://git.example.com/*']\npackageRepositories: [builtin]",
        ),
    )];
    let p = Policies::select(&all, "team-a");
    let t = tree(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: team-b\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admin}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n\
         subjects: [{kind: ServiceAccount, name: default, namespace: team-a}]\n---\n\
         apiVersion: dromos.io/v1alpha1\nkind: GitSource\nmetadata: {name: more}\nspec:\n  url: https://evil.example.net/x.git\n---\n\
         apiVersion: dromos.io/v1alpha1\nkind: Package\nmetadata: {name: k}\nspec:\n  name: kafka\n  repository: {gitSource: other, path: p}\n",
    );
    assert!(t.is_valid(), "{:?}", t.diagnostics);
    let d = p.check_tree(&t, "apps", "team-a", &cluster_scoped);
    let got: Vec<(u32, &str, bool)> =
        d.iter().map(|d| (d.line, d.field.as_str(), d.message.contains("team-a-rules"))).collect();
    assert_eq!(
        got,
        vec![
            (9, "metadata.namespace", true),
            (12, "kind", true),
            (21, "spec.url", true),
            (28, "spec.repository", true),
        ],
        "{d:#?}"
    );
    assert!(d.iter().all(|d| d.code == "policy-violation" && d.file == "team.yaml"));
    // No policy selects the platform namespace: nothing to report.
    assert!(Policies::select(&all, "platform").check_tree(&t, "apps", "platform", &cluster_scoped).is_empty());
}

#[test]
fn adoption_takes_only_unlabelled_objects_and_only_when_asked() {
    use serde_json::json;
    let plain = json!({"metadata": {"name": "x"}});
    let asked = json!({"metadata": {"name": "x", "annotations": {"dromos.io/adopt": "true"}}});
    let nobody = json!({"kubernetes.io/metadata.name": "x"});
    let mine = json!({"dromos.io/source": "team-a.apps"});
    let theirs = json!({"dromos.io/source": "team-b.apps"});
    assert_eq!(adoption("team-a.apps", &plain, &nobody).unwrap_err().0, "AdoptionRefused");
    assert!(adoption("team-a.apps", &plain, &nobody).unwrap_err().1.contains("dromos.io/adopt"));
    assert_eq!(adoption("team-a.apps", &asked, &nobody), Ok(()));
    assert_eq!(adoption("team-a.apps", &asked, &serde_json::Value::Null), Ok(()));
    assert_eq!(adoption("team-a.apps", &plain, &mine), Ok(()));
    let (reason, message) = adoption("team-a.apps", &asked, &theirs).unwrap_err();
    assert_eq!(reason, "OwnedByAnotherSource");
    assert!(message.contains("team-b.apps"), "{message}");
}

#[test]
fn references_reach_only_namespaces_the_source_may_write() {
    let all = vec![("p".to_string(), policy("sourceNamespaces: [team-a]\ntargetNamespaces: [$self, shared]"))];
    let p = Policies::select(&all, "team-a");
    let t = tree(
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  cmd: sleep 1\n  \
         dependencies: [/shared/db]\n---\n\
         apiVersion: dromos.io/v1alpha1\nkind: Job\nmetadata: {name: report}\nspec:\n  run: {cmd: echo}\n  \
         parents: [/team-b/extract]\n",
    );
    let d = p.check_tree(&t, "apps", "team-a", &cluster_scoped);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    // The App's dependency is in a namespace the source may write; the Job's parent is not
    // (both also fail validation here: they name nothing in this repository).
    assert_eq!(fields, ["spec.parents[0]"], "{d:#?}");
    assert!(d[0].message.contains("team-b") && d[0].message.contains("targetNamespaces"), "{}", d[0].message);
}

#[test]
fn the_legacy_managers_fields_are_handed_over_renamed_or_merged() {
    use serde_json::json;
    let legacy = json!({"manager": "dromos", "operation": "Apply", "apiVersion": "v1", "fieldsV1": {"f:data": {"f:a": {}, "f:old": {}}}});
    let edit = json!({"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1", "fieldsV1": {"f:data": {"f:b": {}}}});
    let new = json!({"manager": "dromos/ns.src", "operation": "Apply", "apiVersion": "v1", "fieldsV1": {"f:data": {"f:a": {}}}});
    assert_eq!(hand_over_fields(&json!([edit.clone()]), "dromos", "dromos/ns.src"), None, "nothing to hand over");
    let renamed = hand_over_fields(&json!([legacy.clone(), edit.clone()]), "dromos", "dromos/ns.src").unwrap();
    assert_eq!(renamed[0], edit, "other managers untouched");
    assert_eq!(renamed[1]["manager"], "dromos/ns.src");
    assert_eq!(renamed[1]["fieldsV1"], legacy["fieldsV1"]);
    let merged = hand_over_fields(&json!([new, legacy, edit]), "dromos", "dromos/ns.src").unwrap();
    assert_eq!(merged.as_array().unwrap().len(), 2);
    assert_eq!(merged[0]["fieldsV1"], json!({"f:data": {"f:a": {}, "f:old": {}}}));
    // An Update entry of the legacy name (not server-side apply) is not ours to move.
    let update = json!([{"manager": "dromos", "operation": "Update", "apiVersion": "batch/v1", "fieldsV1": {}}]);
    assert_eq!(hand_over_fields(&update, "dromos", "dromos/ns.src"), None);
}

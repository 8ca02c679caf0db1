//! Tests of `dromos validate`: every error at once with file, line and hint, and the limits of
//! what a tree may hold (symlinks, alias bombs, oversized and non-UTF-8 files).

mod common;

use common::dromos;
use dromos::fsread;

#[test]
fn validate_reports_every_error_with_file_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("team")).unwrap();
    std::fs::write(
        dir.path().join("team/web.yaml"),
        "apiVersion: dromos.io/v1alpha1\nkind: App\nspec:\n  id: /team/web\n  cmd: serve\n  instancess: 3\n  constraints:\n    - [\"@zone\", GROUP_BY]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("team/job.json"),
        "{\"apiVersion\": \"dromos.io/v1alpha1\", \"kind\": \"Job\", \"metadata\": {\"name\": \"j\", \"namespace\": \"team\"},\n \"spec\": {\"run\": {\"cmd\": \"x\"}, \"schedules\": [{\"cron\": \"0 0 2 * * *\"}]}}\n",
    )
    .unwrap();
    let p = dir.path().to_str().unwrap();
    let (code, out, _) = dromos(&["validate", p]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--> team/web.yaml:6:3"), "{out}");
    assert!(out.contains("did you mean `instances`?"), "{out}");
    assert!(out.contains("--> team/web.yaml:8:17"), "{out}");
    assert!(out.contains("--> team/job.json:2:47"), "{out}");
    assert!(out.contains("3 error(s)"), "{out}");

    let (code, out, _) = dromos(&["validate", p, "--output", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let fields: Vec<&str> = v.as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["spec.schedules[0].cron", "spec.instancess", "spec.constraints[0][1]"]);

    // render refuses an invalid tree and prints nothing on stdout.
    let (code, out, err) = dromos(&["render", p]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("error[unknown-field]"), "{err}");
}

#[test]
fn symlinks_leaving_the_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), root.path().join("link.yaml")).unwrap();
    std::fs::write(root.path().join("ok.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n").unwrap();
    std::fs::write(root.path().join("inner.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inner}\n")
        .unwrap();
    std::os::unix::fs::symlink(root.path().join("inner.yaml"), root.path().join("alias.yml")).unwrap();
    let files = fsread::fetch_tree(root.path(), 1 << 20).unwrap();
    let names: Vec<&str> = files.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, vec!["alias.yml", "inner.yaml", "ok.yaml"]);
    assert_eq!(files.diagnostics.len(), 1);
    assert_eq!(files.diagnostics[0].code, "symlink-escape");
    assert_eq!(files.diagnostics[0].file, "link.yaml");
    let (code, out, _) = dromos(&["validate", root.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("symlink points outside the tree"), "{out}");
}

#[test]
fn an_alias_bomb_fails_fast_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    std::fs::write(dir.path().join("bomb.yaml"), text).unwrap();
    let (code, out, _) = dromos(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("error[yaml-budget]"), "{out}");
    assert!(out.contains("bomb.yaml"), "{out}");
}

#[test]
fn oversized_and_non_utf8_files_are_reported_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.yaml"), vec![b'#'; 4096]).unwrap();
    std::fs::write(dir.path().join("latin1.yaml"), b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n")
        .unwrap();
    let (code, out, _) = dromos(&["validate", dir.path().to_str().unwrap(), "--max-file-bytes", "1024"]);
    assert_eq!(code, 1);
    assert!(out.contains("error[file-too-large]"), "{out}");
    assert!(out.contains("error[invalid-utf8]"), "{out}");
    assert!(out.contains("latin1.yaml:3:"), "{out}");
}

/// A repository like many real ones: manifests beside a Helm chart, a Kustomization, Renovate
/// and CI settings. Before the ignore rules `dromos validate` refused it as a whole (5 errors:
/// missing kind in Chart.yaml, Helm template syntax, values.yaml, renovate.json, a
/// Kustomization without metadata.name).
fn repository_with_other_tools(root: &std::path::Path) {
    let w = |p: &str, text: &str| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("apps/web.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\n");
    w(
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [web.yaml]\n",
    );
    w("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n");
    w("charts/web/values.yaml", "replicas: 2\n");
    w(
        "charts/web/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    );
    w("renovate.json", "{\"extends\": [\"config:recommended\"]}\n");
}

#[test]
fn files_of_other_tools_are_skipped_and_listed_with_their_rule() {
    let dir = tempfile::tempdir().unwrap();
    repository_with_other_tools(dir.path());
    let p = dir.path().to_str().unwrap();
    let (code, out, err) = dromos(&["validate", p]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": 1 object(s), valid"), "{out}");
    for line in [
        "skipped 5 file(s), not read as manifests:",
        "  apps/kustomization.yaml: default rule `kustomization.yaml`",
        "  charts/web/Chart.yaml: default rule `Chart.yaml`",
        "  charts/web/templates/deployment.yaml: inside the Helm chart of charts/web/Chart.yaml",
        "  charts/web/values.yaml: default rule `values*.yaml`",
        "  renovate.json: default rule `renovate.json`",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // JSON output keeps its shape (the diagnostics); the list goes to stderr.
    let (code, out, err) = dromos(&["validate", p, "--output", "json"]);
    assert_eq!((code, out.trim()), (0, "[]"));
    assert!(err.contains("renovate.json: default rule"), "{err}");
    // `plan` and `render` load the same way.
    let (code, out, err) = dromos(&["render", p]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name: web") && !out.contains("Kustomization"), "{out}");
}

#[test]
fn dromosignore_rules_directives_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    repository_with_other_tools(root);
    std::fs::create_dir_all(root.join("drafts")).unwrap();
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(root.join("drafts/half.yaml"), "kind: [unfinished\n").unwrap();
    std::fs::write(root.join("config/lint.yaml"), "rules:\n  line-length: 120\n").unwrap();
    let p = root.to_str().unwrap();
    // Without rules, the draft and the tool's configuration are errors.
    let (code, out, _) = dromos(&["validate", p]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--> drafts/half.yaml") && out.contains("--> config/lint.yaml"), "{out}");
    // `drafts/` ignored, kustomization.yaml taken back (it then fails as an object with no
    // name: the rule is really applied), files without kind skipped by the directive.
    std::fs::write(root.join(".dromosignore"), "# not manifests\ndrafts/\n#! skip-files-without-kind\n").unwrap();
    let (code, out, _) = dromos(&["validate", p]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("  drafts/half.yaml: .dromosignore:2 `drafts/`"), "{out}");
    assert!(
        out.contains(
            "  config/lint.yaml: no document has an apiVersion or a kind (`#! skip-files-without-kind` at .dromosignore:3)"
        ),
        "{out}"
    );
    std::fs::write(root.join("apps/.dromosignore"), "!kustomization.yaml\n").unwrap();
    let (code, out, _) = dromos(&["validate", p]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--> apps/kustomization.yaml:1:1"), "{out}");
    std::fs::remove_file(root.join("apps/.dromosignore")).unwrap();
    // A bad line or directive is an error naming file and line; nothing is applied.
    std::fs::write(root.join(".dromosignore"), "drafts/\n#! skip-all\n").unwrap();
    let (code, out, _) = dromos(&["validate", p]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[invalid-ignore-rule]: unknown directive `skip-all`"), "{out}");
    assert!(out.contains("--> .dromosignore:2:1"), "{out}");
}

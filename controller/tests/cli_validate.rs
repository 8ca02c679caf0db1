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

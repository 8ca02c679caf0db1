//! Tests of the `dromos` binary and of the files it generates: CRDs, examples, golden output.
//!
//! Golden files are regenerated explicitly with `DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos`.

use dromos::{crdgen, fsread};
use dromos_core::{LoadOptions, RenderOptions, render};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn dromos(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dromos")).args(args).output().expect("run dromos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var("DROMOS_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing; run DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos", path.display()));
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!("{} differs from the rendered output (DROMOS_UPDATE_GOLDEN=1 to accept):\n{diff}", path.display());
    }
}

#[test]
fn version_and_help() {
    let (code, out, _) = dromos(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("dromos {}", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = dromos(&["--help"]);
    assert_eq!(code, 0);
    for cmd in ["validate", "render", "crds"] {
        assert!(out.contains(cmd), "{out}");
    }
}

#[test]
fn committed_crds_are_fresh() {
    let stale = crdgen::stale_crds(&repo());
    assert!(stale.is_empty(), "stale CRD files (run `cargo run -p dromos -- crds`): {stale:?}");
}

#[test]
fn every_example_file_loads_validates_and_renders_like_the_golden_output() {
    let root = repo().join("examples");
    let files = fsread::fetch_tree(&root, 8 << 20).unwrap();
    assert!(files.diagnostics.is_empty(), "{:?}", files.diagnostics);
    let tree = dromos_core::check_tree(&files.files, &LoadOptions::default());
    let errors: Vec<_> = tree.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let loaded: BTreeSet<&str> = tree.manifests.iter().map(|m| m.file.as_str()).collect();
    let on_disk: BTreeSet<&str> = files.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(loaded, on_disk, "every example file must hold at least one manifest");
    assert!(on_disk.len() >= 10, "{on_disk:?}");
    let rendered = render::render_manifests(&tree.manifests, &RenderOptions::default());
    golden("examples.render.yaml", &render::to_yaml_stream(&rendered.objects));
    // The streaming renderer of `dromos render` produces exactly the same text, in parallel too.
    for threads in [1, 3] {
        let text = render::render_serialized(&tree.manifests, &RenderOptions::default(), render::Format::Yaml, threads);
        assert_eq!(text.text(), render::to_yaml_stream(&rendered.objects));
        assert_eq!((text.warnings.len(), text.objects), (rendered.warnings.len(), rendered.objects.len()));
        let json = render::render_serialized(&tree.manifests, &RenderOptions::default(), render::Format::Json, threads);
        let list: serde_json::Value = serde_json::from_str(&json.text()).unwrap();
        assert_eq!(list, serde_json::from_str::<serde_json::Value>(&render::to_json_list(&rendered.objects)).unwrap());
        assert_eq!(list["items"].as_array().unwrap(), &rendered.objects);
    }
    let warnings = dromos_core::diag::render_text(&rendered.warnings, |f| {
        files.files.iter().find(|x| x.path == f).and_then(|x| std::str::from_utf8(&x.bytes).ok())
    });
    golden("examples.warnings.txt", &warnings);
}

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

#[test]
fn render_json_is_a_list_in_apply_order() {
    let (code, out, _) = dromos(&["render", repo().join("examples").to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "List");
    let kinds: Vec<&str> = v["items"].as_array().unwrap().iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"Namespace"));
    let first_deploy = kinds.iter().position(|k| *k == "Deployment").unwrap();
    let last_ns = kinds.iter().rposition(|k| *k == "Namespace").unwrap();
    assert!(last_ns < first_deploy);
}

#[test]
fn plan_against_a_snapshot_shows_changes_prunes_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("repo");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(
        tree.join("a.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\ndata: {v: \"2\"}\n",
    )
    .unwrap();
    std::fs::write(
        tree.join("b.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: x}\ndata: {v: \"1\"}\n",
    )
    .unwrap();
    let labels = "labels: {app.kubernetes.io/managed-by: dromos, dromos.io/source: local.repo}";
    let snap = dir.path().join("live.yaml");
    std::fs::write(
        &snap,
        format!(
            "apiVersion: v1\nkind: List\nitems:\n- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: a, namespace: x, {labels}}}, data: {{v: \"1\"}}}}\n\
             - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: old, namespace: x, {labels}}}, data: {{}}}}\n\
             - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: b, namespace: x, {labels}}}, data: {{v: \"1\"}}}}\n\
             - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: other, namespace: x}}}}\n"
        ),
    )
    .unwrap();
    let (t, s) = (tree.to_str().unwrap(), snap.to_str().unwrap());
    let (code, out, err) = dromos(&["plan", t, "--snapshot", s]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("~ update ConfigMap/x/a"), "{out}");
    assert!(out.contains("-  v: '1'") || out.contains("-  v: \"1\""), "{out}");
    assert!(out.contains("- delete ConfigMap/x/old"), "{out}");
    assert!(!out.contains("other"), "objects without the source label are never pruned: {out}");
    assert!(out.contains("0 to create, 1 to update, 1 unchanged, 1 to delete"), "{out}");

    let (code, out, _) = dromos(&["plan", t, "--snapshot", s, "--output", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"], serde_json::json!({"create": 0, "update": 1, "unchanged": 1, "delete": 1}));
    assert_eq!(v["guard"]["verdict"], "ok");

    let (code, out, _) = dromos(&["plan", t, "--snapshot", s, "--output", "markdown"]);
    assert_eq!(code, 2);
    assert!(out.contains("| update | ConfigMap | x | a |") && out.contains("```diff"), "{out}");

    // Deleting 2 of 3 trips the deletion guard: exit 1.
    std::fs::remove_file(tree.join("b.yaml")).unwrap();
    std::fs::write(
        tree.join("a.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\ndata: {v: \"1\"}\n",
    )
    .unwrap();
    let (code, out, _) = dromos(&["plan", t, "--snapshot", s]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BLOCKED"), "{out}");

    // Nothing to do: exit 0.
    std::fs::write(
        tree.join("b.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: x}\ndata: {v: \"1\"}\n",
    )
    .unwrap();
    std::fs::write(
        tree.join("old.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: x}\ndata: {}\n",
    )
    .unwrap();
    let (code, out, _) = dromos(&["plan", t, "--snapshot", s]);
    assert_eq!(code, 0, "{out}");
}

//! Tests of `dromos plan` against a snapshot of live objects: changes, prunes, exit codes.

mod common;

use common::dromos;

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

#[test]
fn plan_skips_the_files_validate_skips() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("repo");
    std::fs::create_dir_all(tree.join("chart")).unwrap();
    std::fs::write(tree.join("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n")
        .unwrap();
    std::fs::write(tree.join("chart/Chart.yaml"), "apiVersion: v2\nname: c\nversion: 1.0.0\n").unwrap();
    std::fs::write(tree.join("kustomization.yaml"), "resources: [a.yaml]\n").unwrap();
    let snap = dir.path().join("live.yaml");
    std::fs::write(&snap, "apiVersion: v1\nkind: List\nitems: []\n").unwrap();
    let (code, out, err) = dromos(&["plan", tree.to_str().unwrap(), "--snapshot", snap.to_str().unwrap()]);
    assert_eq!(code, 2, "one object to create: {out}{err}");
    assert!(out.contains("+ create ConfigMap/x/a"), "{out}");
    // Listed as skipped, with the rule, never planned.
    assert!(out.contains("  skip chart/Chart.yaml (default rule `Chart.yaml`)"), "{out}");
    assert!(out.contains("  skip kustomization.yaml (default rule `kustomization.yaml`)"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("+ create")).count(), 1, "{out}");
}

//! Tests of `dromos render`: the examples against golden output, JSON lists, package
//! manifests expanded.
//!
//! Golden files are regenerated explicitly with `DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos`.

mod common;

use common::{dromos, golden, repo};
use dromos::fsread;
use dromos_core::{LoadOptions, RenderOptions, render};
use std::collections::BTreeSet;

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
fn render_expands_package_manifests_and_validate_reports_bad_options_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("pkgs/echo/1.0.0/templates")).unwrap();
    std::fs::write(root.join("pkgs/echo/1.0.0/package.yaml"), "name: echo\nversion: 1.0.0\n").unwrap();
    std::fs::write(
        root.join("pkgs/echo/1.0.0/options.schema.json"),
        r#"{"type": "object", "properties": {"port": {"type": "integer", "default": 8080}}}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("pkgs/echo/1.0.0/templates/cm.yaml.mustache"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{instance.name}}'}\ndata: {port: '{{port}}'}\n",
    )
    .unwrap();
    let manifest = "apiVersion: dromos.io/v1alpha1\nkind: Package\nmetadata: {name: stream, namespace: data}\nspec:\n  name: kafka\n  options:\n    brokers: {count: 1}\n---\napiVersion: dromos.io/v1alpha1\nkind: Package\nmetadata: {name: echo, namespace: data}\nspec:\n  name: echo\n  repository: {path: pkgs}\n";
    std::fs::write(root.join("packages.yaml"), manifest).unwrap();
    let (code, out, err) = dromos(&["render", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: StatefulSet") && out.contains("name: stream-broker"), "{out}");
    assert!(out.contains("port: '8080'") || out.contains("port: \"8080\""), "{out}");
    let bad = manifest.replace("brokers: {count: 1}", "brokers: {count: 0}");
    std::fs::write(root.join("packages.yaml"), bad).unwrap();
    let (code, out, _) = dromos(&["validate", root.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("packages.yaml:7:"), "{out}");
    assert!(out.contains("spec.options.brokers.count") && out.contains("minimum"), "{out}");
}

//! Tests of `dromos package` on the built-in catalog, against golden files.
//!
//! Golden files are regenerated explicitly with `DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos`.

mod common;

use common::{dromos, golden};

#[test]
fn package_commands_work_on_the_built_in_catalog_and_match_goldens() {
    let (code, out, err) = dromos(&["package", "list"]);
    assert_eq!(code, 0, "{err}");
    for name in ["cassandra", "hdfs", "kafka", "spark"] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{out}");
    }
    let (code, out, err) = dromos(&["package", "describe", "kafka", "--config"]);
    assert_eq!(code, 0, "{err}");
    golden("package/kafka.config.txt", &out);
    assert!(!out.contains("REQUIRED"), "{out}");
    check_output_formats();
    let dir = tempfile::tempdir().unwrap();
    let opts = dir.path().join("options.yaml");
    std::fs::write(&opts, "brokers:\n  count: 5\nstorage:\n  size: 50Gi\nplacement:\n  zoneSpread: true\n").unwrap();
    let (code, out, err) = dromos(&[
        "package",
        "render",
        "kafka",
        "--options",
        opts.to_str().unwrap(),
        "-n",
        "data",
        "--instance",
        "events",
    ]);
    assert_eq!(code, 0, "{err}");
    golden("package/kafka.render.yaml", &out);
    assert!(out.contains("replicas: 5") && out.contains("name: events-broker"), "{out}");
    assert!(out.contains("topologyKey: topology.kubernetes.io/zone"), "zoneSpread: {out}");
    // Options the schema refuses: exit 1, the option path and rule on stderr.
    std::fs::write(&opts, "brokers:\n  count: 51\n").unwrap();
    let (code, _, err) = dromos(&["package", "render", "kafka", "--options", opts.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("brokers.count") && err.contains("maximum"), "{err}");
}

/// `-o wide|json|yaml` of `package list` and `package describe`.
fn check_output_formats() {
    let run = |args: &[&str]| {
        let (code, out, err) = dromos(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    let wide = run(&["package", "list", "-o", "wide"]);
    let header = wide.lines().next().unwrap();
    assert!(header.contains("MAINTAINER") && header.contains("TAGS") && header.contains("DIRECTORY"), "{wide}");
    let list: serde_json::Value = serde_json::from_str(&run(&["package", "list", "-o", "json"])).unwrap();
    let kafka = list.as_array().unwrap().iter().find(|p| p["name"] == "kafka").expect("kafka listed");
    assert!(kafka["versions"].as_array().is_some_and(|v| !v.is_empty()), "{kafka}");
    let list: serde_json::Value = serde_saphyr::from_str(&run(&["package", "list", "-o", "yaml"])).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(4), "{list}");
    let meta: serde_json::Value = serde_json::from_str(&run(&["package", "describe", "kafka", "-o", "json"])).unwrap();
    assert_eq!(meta["name"], "kafka");
    assert!(meta["templates"].as_array().is_some_and(|t| !t.is_empty()), "{meta}");
    let opts: serde_json::Value =
        serde_saphyr::from_str(&run(&["package", "describe", "kafka", "--config", "-o", "yaml"])).unwrap();
    let count = opts.as_array().unwrap().iter().find(|o| o["path"] == "brokers.count").expect("brokers.count");
    assert_eq!(count["type"], "integer", "{count}");
    // Wide: metadata, then the options with a REQUIRED column.
    let wide = run(&["package", "describe", "kafka", "-o", "wide"]);
    assert!(
        wide.starts_with("name:         kafka") && wide.contains("REQUIRED") && wide.contains("brokers.count"),
        "{wide}"
    );
}

/// A Dromos-layout repository with one package whose `image` option has no pattern and is
/// written as a plain scalar (line 8 of the template).
fn open_repo(root: &std::path::Path) {
    let dir = root.join("pkgs/open/1.0.0");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("package.yaml"), "name: open\nversion: 1.0.0\n").unwrap();
    std::fs::write(
        dir.join("options.schema.json"),
        r#"{"type": "object", "properties": {"image": {"type": "string", "default": "nginx:1.27"}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/pod.yaml.mustache"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{instance.name}}\nspec:\n  containers:\n    - name: web\n      image: {{image}}\n",
    )
    .unwrap();
}

#[test]
fn options_that_would_inject_yaml_exit_non_zero_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let opts = dir.path().join("options.json");
    // Issue 18: a quote and a newline in Kafka's image made the brokers privileged.
    let attack = "apache/kafka:3.9.1\"\n          securityContext:\n            privileged: true\n          x: \"";
    std::fs::write(&opts, serde_json::json!({"image": attack}).to_string()).unwrap();
    let (code, out, err) = dromos(&["package", "render", "kafka", "--options", opts.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty() && err.contains("image:") && err.contains("pattern"), "{err}");

    // Without a schema pattern, the renderer refuses the value: option, template and line.
    open_repo(dir.path());
    let plain = "nginx:1.27\n      securityContext:\n        privileged: true";
    std::fs::write(&opts, serde_json::json!({"image": plain}).to_string()).unwrap();
    let repo = dir.path().join("pkgs");
    let args = ["package", "render", "open", "--repo", repo.to_str().unwrap(), "--options", opts.to_str().unwrap()];
    let (code, out, err) = dromos(&args);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("privileged"), "{out}");
    assert!(
        err.contains("image: the value does not stay one scalar")
            && err.contains("open/1.0.0/templates/pod.yaml.mustache line 8"),
        "{err}"
    );
    // A legal image with a registry port renders as that one scalar.
    std::fs::write(&opts, r#"{"image": "registry.local:5000/web:1.0"}"#).unwrap();
    let (code, out, err) = dromos(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("image: registry.local:5000/web:1.0\n"), "{out}");

    // `dromos validate` reports it at the Package's option.
    let site = format!(
        "apiVersion: dromos.io/v1alpha1\nkind: Package\nmetadata: {{name: web, namespace: team}}\nspec:\n  name: open\n  repository: {{path: pkgs}}\n  options: {}\n",
        serde_json::json!({"image": plain})
    );
    std::fs::write(dir.path().join("site.yaml"), site).unwrap();
    std::fs::remove_file(&opts).unwrap();
    let (code, out, err) = dromos(&["validate", dir.path().to_str().unwrap()]);
    assert_ne!(code, 0, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("invalid-package-option") && all.contains("spec.options.image"), "{all}");
    assert!(all.contains("does not stay one scalar"), "{all}");
}

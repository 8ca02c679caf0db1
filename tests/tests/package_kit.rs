//! The package authoring kit as an author uses it, through the `dromos` binary against the
//! local control plane: `package init` scaffolds a package that `package lint` accepts and
//! `package test` installs, deploys, checks, updates one instance at a time and uninstalls;
//! a package that fails lint is never installed.

use dromos_tests::{client, install_crds};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

fn dromos(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(dromos_tests::dromos_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run dromos");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn init_lint_and_test_a_package_end_to_end() {
    let c = client().await;
    install_crds(&c).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = dromos(dir.path(), &["package", "init", "kit-web"]);
    assert_eq!(code, 0, "{out}");
    assert!(dir.path().join("kit-web/1.0.0/service.yaml.mustache").exists(), "{out}");
    let (code, out) = dromos(dir.path(), &["package", "init", "kit-web"]);
    assert_eq!(code, 1, "init never overwrites: {out}");

    let (code, out) = dromos(dir.path(), &["package", "lint", "--repo", "."]);
    assert_eq!((code, out.trim_end()), (0, "1 package version(s), 0 error(s)"));

    let (code, out) = dromos(dir.path(), &["package", "test", "kit-web", "--repo", "."]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "deploy nodes/node-0:[init, server] complete",
        "deploy nodes/node-1:[init, server] complete",
        "update nodes/node-1:[init, server] complete",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let stage = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name) && (l.contains(" pass ") || l.contains(" FAIL ")))
            .unwrap_or_else(|| panic!("no stage {name} in:\n{out}"))
            .to_string()
    };
    assert!(stage("deploy plan").contains(" pass "), "{out}");
    assert!(stage("update plan").contains("every pod replaced"), "{out}");
    // The checks ran as Jobs on KWOK nodes, which complete without running: said, not hidden.
    assert!(stage("checks after deploy: answers").contains("not executed: its pod ran on KWOK node"), "{out}");
    assert!(stage("uninstall").contains(" pass "), "{out}");
    assert!(out.trim_end().ends_with("kit-web 1.0.0: passed"), "{out}");
    let ns = out.lines().find_map(|l| l.strip_prefix("delete namespace")).expect("namespace deleted");
    assert!(ns.contains("pkgtest-kit-web-"), "{ns}");

    // A package whose example options do not render fails lint, and `test` installs nothing.
    let schema = dir.path().join("kit-web/1.0.0/options.schema.json");
    let text = std::fs::read_to_string(&schema).unwrap().replace("{\"greeting\": \"bonjour\", ", "{\"greeting\": 7, ");
    std::fs::write(&schema, text).unwrap();
    let (code, out) = dromos(dir.path(), &["package", "lint", "--repo", "."]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: kit-web/1.0.0: does not render with examples[1]"), "{out}");
    let before =
        Api::<Namespace>::all(c.clone()).list(&ListParams::default().labels("dromos.io/package-test")).await.unwrap();
    let (code, out) = dromos(dir.path(), &["package", "test", "kit-web", "--repo", "."]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("lint failed: nothing installed"), "{out}");
    let after =
        Api::<Namespace>::all(c.clone()).list(&ListParams::default().labels("dromos.io/package-test")).await.unwrap();
    let live = |l: &kube::core::ObjectList<Namespace>| {
        l.items.iter().filter(|n| n.metadata.deletion_timestamp.is_none()).count()
    };
    assert!(live(&after) <= live(&before), "a refused package created a namespace");
}

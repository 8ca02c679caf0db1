//! `dromos plan PATH --source NAMESPACE/NAME` against the real control plane: a GitSource
//! synced by the operator, then a checkout of its repository changed as a pull request would,
//! planned with the binary. Changes, deletions (objects the source owns), the deletion guard,
//! an object that belongs to nobody, a SourcePolicy refusal, and `--revision`.

use dromos::operators::gitsource::Options;
use dromos::operators::manager::ManagerOptions;
use dromos_crds::GitSource;
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds, wait_for};
use git2::Repository;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use std::path::Path;
use std::time::Duration;

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

/// Runs `dromos plan` with `args` (KUBECONFIG from the environment); (exit code, stdout).
fn plan(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(dromos_tests::dromos_bin())
        .arg("plan")
        .args(args)
        .output()
        .expect("run dromos plan");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

fn write(dir: &Path, file: &str, text: Option<&str>) {
    let p = dir.join(file);
    match text {
        Some(t) => {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        None => std::fs::remove_file(p).unwrap(),
    }
}

#[tokio::test]
async fn a_branch_is_planned_against_what_the_gitsource_owns() {
    dromos_tests::init_tracing();
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "plansrc").await;
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let files: Vec<(String, String)> =
        (0..6).map(|i| (format!("deploy/c{i}.yaml"), cm(&format!("c{i}"), "1"))).collect();
    let mut refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    refs.push(("README.md", Some("not a manifest, outside spec.path")));
    let head = commit(&repo, "main", &refs, "initial");
    repo.set_head("refs/heads/main").unwrap(); // what a clone checks out
    let cache = tempfile::tempdir().unwrap();
    let opts = Options {
        selector: None,
        cache_dir: cache.path().to_path_buf(),
        allow_file_urls: true,
        concurrency: 2,
        write_concurrency: 8,
        limiter: None,
        fetch_timeout: Duration::from_secs(30),
    };
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (_m, _task) =
        dromos_tests::operators(&c, ManagerOptions { scope, gitsource: Some(opts), ..Default::default() });
    let url = format!("file://{}", remote.path().display());
    let gs: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"},
        "spec": {"url": url, "interval": "1h", "path": "deploy"}
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let rev = format!("main@sha1:{head}");
    wait_for("the source applied", Duration::from_secs(60), || async {
        let gs = ns.api::<GitSource>().get("repo").await.ok()?;
        (gs.status?.last_applied_revision.as_deref() == Some(rev.as_str())).then_some(())
    })
    .await;
    let source = format!("{}/repo", ns.name);

    // A checkout with no change plans nothing.
    let work = tempfile::tempdir().unwrap();
    let checkout = Repository::clone(&url, work.path()).unwrap();
    let dir = work.path();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("source: GitSource {source}")) && out.contains("cluster: "), "{out}");

    // A pull request: one change, one deletion, one addition.
    write(dir, "deploy/c1.yaml", Some(&cm("c1", "2")));
    write(dir, "deploy/c2.yaml", None);
    write(dir, "deploy/new.yaml", Some(&cm("new", "1")));
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 2, "{out}");
    let line = |prefix: &str, name: &str| out.lines().any(|l| l.starts_with(prefix) && l.contains(name));
    assert!(line("~ update", "/c1"), "{out}");
    assert!(out.contains("-  value: \"1\"") || out.contains("value: \"2\""), "the diff shows the value: {out}");
    assert!(line("- delete", "/c2"), "the owned object whose file left is deleted: {out}");
    assert!(line("+ create", "/new"), "{out}");
    assert!(!line("+ create", "/c0"), "what the source owns is not created again: {out}");

    // Markdown for a pull-request comment, and JSON.
    let (code, md) = plan(&[dir.to_str().unwrap(), "--source", &source, "-o", "markdown"]);
    assert_eq!(code, 2, "{md}");
    assert!(md.starts_with("### dromos plan:") && md.contains(&format!("GitSource {source}")), "{md}");
    let (_, json) = plan(&[dir.to_str().unwrap(), "--source", &source, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON output");
    assert!(v["header"].as_array().is_some_and(|h| !h.is_empty()), "{v}");

    // An object that exists and belongs to nobody is refused, as the sync would.
    let stray: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "new"}})).unwrap();
    ns.api::<ConfigMap>().create(&PostParams::default(), &stray).await.unwrap();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused") && out.contains("/new"), "{out}");
    Api::<ConfigMap>::namespaced(c.clone(), &ns.name).delete("new", &Default::default()).await.unwrap();

    // Deleting most of what it owns: the deletion guard refuses.
    for i in 0..5 {
        let f = format!("deploy/c{i}.yaml");
        if dir.join(&f).exists() {
            write(dir, &f, None);
        }
    }
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 1, "{out}");
    assert!(out.to_lowercase().contains("guard") || out.contains("refus"), "{out}");

    // --revision plans a commit of the checkout's repository, not its working tree.
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    let base = checkout.head().unwrap().peel_to_commit().unwrap();
    let mut index = checkout.index().unwrap();
    let blob = cm("c3", "9");
    std::fs::write(dir.join("deploy/c3.yaml"), &blob).unwrap();
    index.add_path(Path::new("deploy/c3.yaml")).unwrap();
    let tree = checkout.find_tree(index.write_tree().unwrap()).unwrap();
    checkout.commit(Some("refs/heads/feature"), &sig, &sig, "c3 to 9", &tree, &[&base]).unwrap();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source, "--revision", "feature"]);
    assert_eq!(code, 2, "{out}");
    assert!(line_in(&out, "~ update", "/c3") && !line_in(&out, "- delete", "/c2"), "{out}");
    assert!(out.contains("revision feature ("), "{out}");

    // A SourcePolicy that does not allow the repository: refused before anything is read.
    let policy: dromos_crds::SourcePolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "SourcePolicy",
        "metadata": {"name": format!("only-github-{}", ns.name)},
        "spec": {"sourceNamespaces": [ns.name], "repositories": ["https://github.com/example/*"]}
    }))
    .unwrap();
    let policies: Api<dromos_crds::SourcePolicy> = Api::all(c.clone());
    policies.create(&PostParams::default(), &policy).await.unwrap();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    policies.delete(&policy.metadata.name.clone().unwrap(), &Default::default()).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PolicyViolation") && out.contains("spec.url"), "{out}");

    // Flags that only make sense for a local source are refused with --source.
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source, "--no-prune"]);
    assert_eq!(code, 2, "clap refuses the combination: {out}");
    assert!(out.contains("cannot be used with"), "{out}");
    ns.delete().await;
}

fn line_in(out: &str, prefix: &str, name: &str) -> bool {
    out.lines().any(|l| l.starts_with(prefix) && l.contains(name))
}

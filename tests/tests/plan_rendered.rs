//! `dromos plan --rendered`: the native objects an App expands to, compared with the App
//! operator's live objects through a server-side dry-run (so defaults never show as changes);
//! and the files plan and sync skip, listed in their output.

use dromos_tests::{TestNamespace, client, install_crds, run_apps_and_scheduler, unique_suffix, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use std::path::Path;
use std::time::Duration;

/// Runs the binary against the test cluster; (exit code, stdout, stderr).
fn dromos(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(dromos_tests::dromos_bin()).args(args).output().expect("run dromos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_app(dir: &Path, ns: &str, mem: u32, ports: &str) {
    let text = format!(
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec: {{instances: 2, cmd: 'sleep 3600', cpus: 0.1, mem: {mem}, portDefinitions: {ports}}}\n"
    );
    std::fs::write(dir.join("web.yaml"), text).unwrap();
}

#[tokio::test]
async fn rendered_plans_show_the_native_objects_an_app_change_touches() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "rendered").await;
    let (_apps, _sched, _task) = run_apps_and_scheduler(
        &c,
        &ns.name,
        dromos::operators::scheduler::Options { offers: false, ..Default::default() },
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let name = format!("rendered-{}", unique_suffix());
    let common = ["--name", name.as_str(), "--inventory-namespace", ns.name.as_str()];
    write_app(dir.path(), &ns.name, 32, "[{port: 0, name: http}]");
    std::fs::write(dir.path().join("kustomization.yaml"), "resources: [web.yaml]\n").unwrap();

    // A new App: its Deployment, Service and PDB are created, as the API server would store them
    // (the dry-run answer carries the Deployment defaults the renderer never writes).
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", d, "--rendered"];
        args.extend(common);
        args.extend(extra);
        dromos(&args)
    };
    let (code, out, err) = plan(&[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("compared with the API server's dry-run answers"), "{out}");
    let dep = format!("+ create Deployment/{}/web (of App/{}/web)", ns.name, ns.name);
    assert!(out.contains(&dep), "{out}");
    assert!(out.contains(&format!("+ create Service/{}/web", ns.name)), "{out}");
    assert!(out.contains("+  progressDeadlineSeconds: 600"), "a default of the API server: {out}");
    assert!(out.contains("3 to create, 0 to update, 0 unchanged, 0 to delete"), "{out}");
    // The controller's images, for clusters that run it with its own (air-gapped registries).
    let (_, out, _) = plan(&["--default-image", "registry.local/base:1"]);
    assert!(out.contains("+        image: registry.local/base:1"), "{out}");
    // What is not a manifest is listed, not left out silently.
    assert!(out.contains("  skip kustomization.yaml (default rule `kustomization.yaml`)"), "{out}");

    // Synced, and the App operator has applied its objects: nothing changes, though every
    // object differs from its rendering by the server's defaults.
    let mut sync = vec!["sync", d];
    sync.extend(common);
    let (code, out, err) = dromos(&sync);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("skipped kustomization.yaml (default rule `kustomization.yaml`)"), "{out}");
    let deployments = ns.api::<Deployment>();
    wait_for("the App operator's Deployment", Duration::from_secs(60), || async {
        deployments.get_opt("web").await.ok().flatten()
    })
    .await;
    let (code, out, err) = plan(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 to create, 0 to update, 3 unchanged, 0 to delete"), "{out}");

    // More memory and no port: the App is updated; its Deployment too, and its Service goes.
    write_app(dir.path(), &ns.name, 64, "[]");
    let (code, out, err) = plan(&[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains(&format!("~ update Deployment/{}/web", ns.name)), "{out}");
    assert!(out.contains("-            memory: 32Mi") && out.contains("+            memory: 64Mi"), "{out}");
    assert!(out.contains(&format!("- delete Service/{}/web", ns.name)), "{out}");
    assert!(out.contains("0 to create, 1 to update, 1 unchanged, 1 to delete"), "{out}");
    let shown =
        dromos_tests::shown_as(&out, &[(ns.name.as_str(), "shop"), (d, "/home/me/apps"), (name.as_str(), "apps")]);
    dromos_tests::walkthrough("docs/pr-review.md", "plan-rendered", &shown);

    // The same as JSON and Markdown.
    let (_, out, _) = plan(&["-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["skipped"][0]["path"], "kustomization.yaml");
    assert_eq!(v["rendered"]["dryRun"], true);
    assert_eq!(v["rendered"]["summary"], serde_json::json!({"create": 0, "update": 1, "unchanged": 1, "delete": 1}));
    let (_, out, _) = plan(&["-o", "markdown"]);
    assert!(out.contains("#### Rendered objects") && out.contains("| delete | Service |"), "{out}");
    assert!(out.contains("> not read as manifests: `kustomization.yaml`"), "{out}");

    ns.delete().await;
}

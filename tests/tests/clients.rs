//! The client examples of docs/clients.md against the real control plane: an App and a service
//! Package are deployed, then `integrations/clients/python/dromos_status.py` (the `kubernetes`
//! package) and `integrations/clients/go` (client-go's dynamic client) read them through the API.
//! Both must print the App's instance counts and the plan, phase and step states that the API
//! holds, the same JSON document, and the plan tree `dromos service plan show` draws (the
//! walkthrough `clients` of docs/clients.md is their text). A missing
//! `python3`, `kubernetes` module or `go` fails the test: it never skips.

use dromos_crds::{App, Package};
use dromos_tests::chart::repo_root;
use dromos_tests::repo::git_catalog;
use dromos_tests::{FakeNodes, NodeSpec, TestNamespace, app_object, client, install_crds, unique_suffix, wait_for};
use kube::api::PostParams;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(180);

const SERVICE: &str = r#"pods:
  node:
    count: 2
    image: busybox
    placement: [["dromos-test-group", "IS", "{{group}}"]]
    tasks:
      server:
        goal: RUNNING
        cmd: sleep 100000
        cpus: 0.01
        memory: 16
        readiness: {cmd: "true"}
plans:
  deploy:
    phases:
      - {name: nodes, pod: node}
"#;

fn catalog() -> Vec<(String, String)> {
    let schema = json!({"type": "object", "properties": {"group": {"type": "string"}}});
    let dir = "pkgs/echo/1.0.0";
    vec![
        (format!("{dir}/package.yaml"), "name: echo\nversion: 1.0.0\ndescription: two instances\n".into()),
        (format!("{dir}/options.schema.json"), schema.to_string()),
        (format!("{dir}/service.yaml.mustache"), SERVICE.into()),
    ]
}

fn examples() -> PathBuf {
    repo_root().join("integrations/clients")
}

/// `python3` with the `kubernetes` package, or a panic saying how to get it.
fn check_python() {
    let out = Command::new("python3")
        .args(["-c", "import kubernetes; print(kubernetes.__version__)"])
        .output()
        .unwrap_or_else(|e| panic!("this test runs the Python client example but python3 cannot be started: {e}"));
    assert!(
        out.status.success(),
        "this test runs the Python client example, which needs the `kubernetes` package: \
         `python3 -m pip install 'kubernetes==37.*'` (.ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `go build` of the Go example into `dir` (with the versions go.mod and go.sum pin, from
/// the module cache when it has them), or panics when there is no `go`.
fn start_go_build(dir: &Path) -> Child {
    Command::new("go")
        .args(["build", "-p", "1", "-o"])
        .arg(dir.join("dromos-status"))
        .arg(".")
        .current_dir(examples().join("go"))
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("this test builds the Go client example but `go` cannot be started ({e}): install Go >= 1.26")
        })
}

/// Runs a client (exit 0 expected) and returns its stdout.
async fn run(what: &str, mut cmd: Command) -> String {
    let out: Output = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect(what);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn python(ns: &str, json: bool) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(examples().join("python/dromos_status.py")).args(["-n", ns]);
    if json {
        cmd.arg("--json");
    }
    cmd
}

fn go(bin: &Path, ns: &str, json: bool) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["-n", ns]);
    if json {
        cmd.arg("-json");
    }
    cmd
}

/// What both clients must print with `--json`, built from the typed objects the API returned.
fn expected(ns: &str, app: &App, pkg: &Package) -> Value {
    let a = app.status.clone().unwrap_or_default();
    let p = pkg.status.clone().unwrap_or_default();
    let word = |s| serde_json::to_value(s).unwrap();
    json!({
        "namespace": ns,
        "apps": [{
            "name": "web", "state": a.state.unwrap_or_default(),
            "instances": a.instances.unwrap_or(0), "running": a.running.unwrap_or(0),
            "healthy": a.healthy.unwrap_or(0), "unhealthy": a.unhealthy.unwrap_or(0), "staged": a.staged.unwrap_or(0),
        }],
        "packages": [{
            "name": "echo", "package": "echo", "installedVersion": p.installed_version.unwrap_or_default(),
            "plans": p.plans.iter().map(|plan| json!({
                "name": plan.name, "status": word(plan.status), "paused": plan.paused,
                "message": plan.message.clone().unwrap_or_default(),
                "phases": plan.phases.iter().map(|ph| json!({
                    "name": ph.name, "status": word(ph.status), "strategy": ph.strategy,
                    "steps": ph.steps.iter().map(|s| json!({
                        "name": s.name, "pod": s.pod, "index": s.index, "status": word(s.status),
                        "action": s.action, "message": s.message.clone().unwrap_or_default(),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_go_clients_read_app_counts_and_plan_state_through_the_api() {
    check_python();
    let bin_dir = tempfile::tempdir().unwrap();
    let build = start_go_build(bin_dir.path());

    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "clients").await;
    let n = ns.name.clone();
    let group = format!("cl-{}", unique_suffix());
    let mut spec = NodeSpec::new("clients", 2);
    spec.labels.insert("dromos-test-group".into(), group.clone());
    let nodes = FakeNodes::create(&c, &spec).await;
    let _remote = git_catalog(&ns, &catalog()).await;
    let cache = tempfile::tempdir().unwrap();
    let opts = dromos::operators::manager::ManagerOptions {
        scope: dromos::scope::Scope::namespace(n.clone()),
        apps: Some(dromos::operators::apps::Options { concurrency: 2, ..Default::default() }),
        scheduler: Some(dromos::operators::scheduler::Options { offers: false, ..Default::default() }),
        packages: Some(dromos::operators::packages::Options {
            concurrency: 2,
            cache_dir: cache.path().to_path_buf(),
            allow_file_urls: true,
        }),
        ..Default::default()
    };
    let (_manager, operators) = dromos_tests::operators(&c, opts);

    let web = json!({"cmd": "sleep 1000", "instances": 2, "cpus": 0.01, "mem": 16,
        "constraints": [["dromos-test-group", "IS", group]]});
    ns.api::<App>().create(&PostParams::default(), &app_object("web", web)).await.unwrap();
    let pkg: Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": "echo"},
        "spec": {"name": "echo", "repository": {"gitSource": "catalog", "path": "pkgs"}, "options": {"group": group}}
    }))
    .unwrap();
    ns.api::<Package>().create(&PostParams::default(), &pkg).await.unwrap();

    let apps = ns.api::<App>();
    let app = wait_for("web running 2 healthy instances", T, || async {
        let a = apps.get("web").await.ok()?;
        let s = a.status.as_ref()?;
        let counts = (s.instances, s.running, s.healthy, s.unhealthy, s.staged.unwrap_or(0));
        (s.state.as_deref() == Some("Running") && counts == (Some(2), Some(2), Some(2), Some(0), 0)).then_some(a)
    })
    .await;
    let packages = ns.api::<Package>();
    let pkg = wait_for("echo's deploy plan complete and the Package Ready", T, || async {
        let p = packages.get("echo").await.ok()?;
        let s = p.status.as_ref()?;
        let complete =
            s.plans.iter().any(|pl| pl.name == "deploy" && pl.status == dromos_crds::package::ElementStatus::Complete);
        let ready = s.common.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
        (complete && ready).then_some(p)
    })
    .await;
    let want = expected(&n, &app, &pkg);
    // Nothing moves once deployed: the clients read this status.
    assert_eq!(want["apps"][0]["healthy"], 2, "{want:#}");
    assert_eq!(want["packages"][0]["plans"][0]["phases"][0]["steps"][1]["status"], "COMPLETE", "{want:#}");

    let built = tokio::task::spawn_blocking(move || build.wait_with_output()).await.unwrap().expect("go build");
    assert!(
        built.status.success(),
        "go build of integrations/clients/go failed (its modules come from go.sum, offline from the module cache when present): {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let bin = bin_dir.path().join("dromos-status");

    for (what, out) in [
        ("python3 dromos_status.py --json", run("the Python client", python(&n, true)).await),
        ("dromos-status -json (Go)", run("the Go client", go(&bin, &n, true)).await),
    ] {
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {out}"));
        assert_eq!(doc, want, "{what} read something else than the API holds");
    }

    // The text forms: the App's counts in its row, the plan as `dromos service plan show` draws
    // it (without the plan's strategy, which the status does not hold), identical in both.
    let py = run("the Python client", python(&n, false)).await;
    let go = run("the Go client", go(&bin, &n, false)).await;
    assert_eq!(py, go, "the two clients print the same text");
    // instances, running, healthy, unhealthy, staged
    let row = format!("{:<24} {:<10} {:>9} {:>9} {:>9} {:>9} {:>9}", "web", "Running", 2, 2, 2, 0, 0);
    assert!(py.lines().any(|l| l == row), "no row `{row}` in:\n{py}");
    let tree = "package echo (echo 1.0.0)\n\
                deploy (COMPLETE)\n\
                └─ nodes (serial strategy) (COMPLETE)\n   \
                   ├─ node-0:[server] (COMPLETE)\n   \
                   └─ node-1:[server] (COMPLETE)\n";
    assert!(py.contains(tree), "no plan tree\n{tree}in:\n{py}");
    dromos_tests::walkthrough("docs/clients.md", "clients", &py);

    drop(operators);
    nodes.delete().await;
    ns.delete().await;
}

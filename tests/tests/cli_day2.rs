//! The day-2 verbs of the `dromos` binary against the real control plane: `source list | get |
//! reconcile | suspend | resume`, `app list | scale | kill | versions | rollback | why`, `job
//! list | history | kill`, `status`, each with `-o table|wide|json|yaml`. The operators run in
//! the test process, scoped to the test's namespace; the binary talks to the API server.

use dromos::operators::manager::ManagerOptions;
use dromos_crds::{App, GitSource, Job};
use dromos_tests::repo::commit;
use dromos_tests::{
    FakeNodes, NodeSpec, TestNamespace, app_object, client, install_crds, run_apps_and_scheduler, unique_suffix,
    wait_for,
};
use git2::Repository;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

/// Runs the binary (KUBECONFIG from the environment); (exit code, stdout, stderr). It blocks
/// its thread: the tests run on a multi-threaded runtime so the operators of the test go on
/// meanwhile (the waiting verbs wait for them).
fn dromos(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(dromos_tests::dromos_bin()).args(args).output().expect("run dromos");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), stdout.into_owned(), stderr.into_owned())
}

/// Runs the binary and expects exit 0; stdout.
fn ok(args: &[&str]) -> String {
    let (code, out, err) = dromos(args);
    assert_eq!(code, 0, "dromos {args:?}: {out}{err}");
    out
}

/// Runs the binary and expects exit 1; stdout + stderr.
fn fails(args: &[&str]) -> String {
    let (code, out, err) = dromos(args);
    assert_eq!(code, 1, "dromos {args:?} should fail: {out}{err}");
    format!("{out}{err}")
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn yaml_of(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}): {text}"))
}

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn source_verbs_list_get_reconcile_suspend_and_resume_a_gitsource() {
    dromos_tests::init_tracing();
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "cli-src").await;
    let n = ns.name.as_str();
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let head = commit(&repo, "main", &[("c.yaml", Some(&cm("c", "1")))], "initial");
    repo.set_head("refs/heads/main").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let gitsource = Some(dromos_tests::gitsource_options(cache.path()));
    let (_m, task) = dromos_tests::operators(&c, ManagerOptions { scope, gitsource, ..Default::default() });
    let url = format!("file://{}", remote.path().display());
    // An interval of an hour: only a request makes the controller fetch again.
    let gs: GitSource = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"},
        "spec": {"url": url, "interval": "1h"}
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let rev = format!("main@sha1:{head}");
    wait_for("the first sync", T, || async {
        let gs = ns.api::<GitSource>().get("repo").await.ok()?;
        (gs.status?.last_applied_revision.as_deref() == Some(rev.as_str())).then_some(())
    })
    .await;

    // list: table, wide, json, yaml.
    let out = ok(&["source", "list", "-n", n]);
    let row = out.lines().find(|l| l.contains(" repo ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains(&url) && row.contains("branch main") && row.contains(&rev), "{out}");
    assert!(row.contains("True") && row.contains(" no "), "{out}");
    let out = ok(&["source", "list", "-n", n, "-o", "wide"]);
    assert!(out.lines().next().unwrap().contains("INTERVAL") && out.contains(" 1h "), "{out}");
    let list = json_of(&ok(&["source", "list", "-n", n, "-o", "json"]));
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "repo");
    assert!(list["items"][0]["metadata"].get("managedFields").is_none(), "{list}");
    let list = yaml_of(&ok(&["source", "list", "-n", n, "-o", "yaml"]));
    assert_eq!(list["items"][0]["status"]["lastAppliedRevision"], rev.as_str());
    let all = ok(&["source", "list", "-A"]);
    assert!(all.lines().any(|l| l.starts_with(&format!("{n} ")) && l.contains(" repo ")), "-A: {all}");
    let (code, _, err) = dromos(&["source", "list", "-A", "-n", n]);
    assert_eq!(code, 2, "-A and -n conflict: {err}");

    // get: description, wide adds the inventory, json and yaml are the object.
    let out = ok(&["source", "get", "repo", "-n", n]);
    assert!(out.contains(&format!("Applied:          {rev}")) && out.contains("Suspended:        no"), "{out}");
    assert!(!out.contains("Inventory:"), "{out}");
    let out = ok(&["source", "get", "repo", "-n", n, "-o", "wide"]);
    assert!(out.contains(&format!("Inventory:\n  v1|ConfigMap|{n}|c")), "{out}");
    assert_eq!(json_of(&ok(&["source", "get", "repo", "-n", n, "-o", "json"]))["spec"]["url"], url.as_str());
    assert_eq!(yaml_of(&ok(&["source", "get", "repo", "-n", n, "-o", "yaml"]))["spec"]["interval"], "1h");

    // reconcile: a new commit is applied now, and the command returns once it is.
    let second = commit(&repo, "main", &[("c.yaml", Some(&cm("c", "2")))], "second");
    let out = ok(&["source", "reconcile", "repo", "-n", n, "--timeout", "60"]);
    assert!(out.contains(&format!("applied revision main@sha1:{second}")), "{out}");
    let live = ns.api::<ConfigMap>().get("c").await.unwrap();
    assert_eq!(live.data.unwrap()["value"], "2", "applied when the command returned");

    // A revision that does not validate: exit 1 with the status message.
    let bad = "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  cmd: x\n  instancess: 2\n";
    commit(&repo, "main", &[("web.yaml", Some(bad))], "broken");
    let out = fails(&["source", "reconcile", "repo", "-n", n, "--timeout", "60"]);
    assert!(out.contains("reconcile failed: ValidationFailed") && out.contains("web.yaml:"), "{out}");
    let fixed = commit(&repo, "main", &[("web.yaml", None)], "fixed");

    // suspend: spec.suspend, and a reconcile is refused while suspended.
    let out = ok(&["source", "suspend", "repo", "-n", n]);
    assert!(out.contains("suspended"), "{out}");
    assert_eq!(ns.api::<GitSource>().get("repo").await.unwrap().spec.suspend, Some(true));
    let out = fails(&["source", "reconcile", "repo", "-n", n]);
    assert!(out.contains("is suspended") && out.contains("dromos source resume repo"), "{out}");
    assert!(ok(&["source", "suspend", "repo", "-n", n]).contains("already suspended"));
    let out = ok(&["source", "list", "-n", n]);
    assert!(out.lines().any(|l| l.contains(" repo ") && l.contains(" yes ")), "{out}");
    // Suspended, drift is not reverted; resumed, it is.
    let drift = json!({"data": {"value": "drift"}});
    ns.api::<ConfigMap>().patch("c", &PatchParams::default(), &Patch::Merge(&drift)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ns.api::<ConfigMap>().get("c").await.unwrap().data.unwrap()["value"], "drift");

    // resume: syncs again (the fixed commit) and waits for it.
    let out = ok(&["source", "resume", "repo", "-n", n, "--timeout", "60"]);
    assert!(out.contains(&format!("applied revision main@sha1:{fixed}")), "{out}");
    assert_eq!(ns.api::<GitSource>().get("repo").await.unwrap().spec.suspend, Some(false));
    assert_eq!(ns.api::<ConfigMap>().get("c").await.unwrap().data.unwrap()["value"], "2", "drift reverted");

    // An App from the source: a direct scale is refused; forced, the next sync reverts it, as
    // the command says (the drift watch of the source heals it within seconds).
    let api =
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: api\nspec:\n  cmd: sleep 1000\n  instances: 1\n";
    commit(&repo, "main", &[("api.yaml", Some(api))], "an app");
    ok(&["source", "reconcile", "repo", "-n", n, "--timeout", "60"]);
    let out = fails(&["app", "scale", "api", "3", "-n", n]);
    assert!(out.contains(&format!("managed by GitSource {n}/repo (label dromos.io/source={n}.repo)")), "{out}");
    assert_eq!(ns.api::<App>().get("api").await.unwrap().spec.instances, Some(1), "refused: nothing written");
    let (code, out, err) = dromos(&["app", "scale", "api", "3", "-n", n, "--force"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("instances 1 -> 3") && err.contains("its next sync reverts this change"), "{out}{err}");
    wait_for("the source to revert the forced scale", T, || async {
        (ns.api::<App>().get("api").await.ok()?.spec.instances == Some(1)).then_some(())
    })
    .await;

    // Errors: no such source, a timeout out of range, and a controller that does not answer.
    assert!(fails(&["source", "get", "nope", "-n", n]).contains(&format!("GitSource {n}/nope not found")));
    let (code, _, err) = dromos(&["source", "reconcile", "repo", "-n", n, "--timeout", "0"]);
    assert_eq!(code, 2, "{err}");
    drop(task);
    let out = fails(&["source", "reconcile", "repo", "-n", n, "--timeout", "2"]);
    assert!(out.contains("did not handle the request within 2 s"), "{out}");
    ns.delete().await;
}

async fn app_where(ns: &TestNamespace, what: &str, f: impl Fn(&App) -> bool) -> App {
    let api = ns.api::<App>();
    wait_for(what, T, || {
        let api = api.clone();
        let f = &f;
        async move { api.get("web").await.ok().filter(f) }
    })
    .await
}

/// `n` instances wanted and running, and no deployment in progress (state Running).
fn running(a: &App, n: i32) -> bool {
    a.spec.instances == Some(n)
        && a.status.as_ref().is_some_and(|s| s.running == Some(n) && s.state.as_deref() == Some("Running"))
}

async fn records(ns: &TestNamespace) -> Vec<ControllerRevision> {
    ns.api::<ControllerRevision>().list(&ListParams::default().labels("dromos.io/app=web")).await.unwrap().items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn app_verbs_scale_kill_version_and_roll_back_an_app() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "cli-app").await;
    let n = ns.name.as_str();
    let group = format!("g{}", unique_suffix());
    let mut nodes = NodeSpec::new("cliapp", 3);
    nodes.labels.insert("testgroup".into(), group.clone());
    let _nodes = FakeNodes::create(&c, &nodes).await;
    let (_apps, _sched, _task) = run_apps_and_scheduler(
        &c,
        &ns.name,
        dromos::operators::scheduler::Options { offers: false, ..Default::default() },
    );
    let spec = json!({"cmd": "sleep 1000", "instances": 1, "cpus": 0.01, "mem": 16,
        "constraints": [["testgroup", "IS", group]]});
    ns.api::<App>().create(&PostParams::default(), &app_object("web", spec)).await.unwrap();
    let first = app_where(&ns, "1 instance, deployed", |a| {
        running(a, 1) && a.status.as_ref().is_some_and(|s| s.version.is_some())
    })
    .await;
    let v1 = first.status.unwrap().version.unwrap();

    // scale
    let out = ok(&["app", "scale", "web", "3", "-n", n]);
    assert!(out.contains("instances 1 -> 3"), "{out}");
    let a = app_where(&ns, "3 instances", |a| running(a, 3)).await;
    assert_eq!(a.status.unwrap().version.as_deref(), Some(v1.as_str()), "scaling keeps the version");
    let (code, _, err) = dromos(&["app", "scale", "web", "-1", "-n", n]);
    assert_eq!(code, 2, "a negative count is refused by the parser: {err}");
    assert!(fails(&["app", "scale", "nope", "2", "-n", n]).contains(&format!("App {n}/nope not found")));

    // list and status, every format.
    let out = ok(&["app", "list", "-n", n]);
    let row = out.lines().find(|l| l.contains(" web ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("Running") && row.contains(&v1) && row.ends_with("yes"), "{out}");
    let out = ok(&["app", "list", "-n", n, "-o", "wide"]);
    let header = out.lines().next().unwrap();
    assert!(header.contains("RESTARTS") && header.contains("SOURCE") && header.ends_with("MESSAGE"), "{out}");
    assert_eq!(json_of(&ok(&["app", "list", "-n", n, "-o", "json"]))["items"][0]["spec"]["instances"], 3);
    assert_eq!(yaml_of(&ok(&["app", "list", "-n", n, "-o", "yaml"]))["items"][0]["metadata"]["name"], "web");
    let all = json_of(&ok(&["app", "list", "-A", "-o", "json"]));
    let found = all["items"].as_array().unwrap().iter().any(|a| a["metadata"]["namespace"] == n);
    assert!(found, "-A lists the App of {n}");
    let rows = json_of(&ok(&["status", "-n", n, "-o", "json"]));
    assert_eq!((rows[0]["kind"].as_str(), rows[0]["healthy"].as_bool()), (Some("App"), Some(true)), "{rows}");
    assert_eq!(yaml_of(&ok(&["status", "-n", n, "-o", "yaml"]))[0]["version"], v1.as_str());
    let out = ok(&["status", "-n", n, "-o", "wide"]);
    assert!(out.contains("READY SINCE") && out.contains(&v1), "{out}");

    // why, every format.
    let why = json_of(&ok(&["app", "why", "web", "-n", n, "-o", "json"]));
    assert_eq!((why["instances"].as_i64(), why["pods"].as_array().map(Vec::len)), (Some(3), Some(3)), "{why}");
    assert_eq!(yaml_of(&ok(&["app", "why", "web", "-n", n, "-o", "yaml"]))["placementMode"], "exact");
    assert!(ok(&["app", "why", "web", "-n", n, "-o", "wide"]).contains("POD IP"));
    assert!(!ok(&["app", "why", "web", "-n", n]).contains("POD IP"));

    // A new version is recorded; versions lists both, newest first.
    let patch = json!({"spec": {"cmd": "sleep 2000"}});
    ns.api::<App>().patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let a = app_where(&ns, "version 2 rolled out", |a| {
        running(a, 3) && a.status.as_ref().and_then(|s| s.version.as_deref()).is_some_and(|v| v != v1)
    })
    .await;
    let v2 = a.status.unwrap().version.unwrap();
    let out = ok(&["app", "versions", "web", "-n", n]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with(&v2) && lines[1].ends_with("yes") && lines[2].starts_with(&v1), "{out}");
    assert!(ok(&["app", "versions", "web", "-n", n, "-o", "wide"]).contains("cmd sleep 2000"));
    let listed = json_of(&ok(&["app", "versions", "web", "-n", n, "-o", "json"]));
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(yaml_of(&ok(&["app", "versions", "web", "-n", n, "-o", "yaml"]))["items"][1]["revision"], 1);

    // rollback: to the previous version by default, instances kept; the record is renumbered.
    let out = ok(&["app", "rollback", "web", "-n", n]);
    assert!(out.contains(&format!("rolled back from version {v2} to {v1}")), "{out}");
    let a = app_where(&ns, "version 1 back", |a| {
        running(a, 3) && a.status.as_ref().and_then(|s| s.version.as_deref()) == Some(v1.as_str())
    })
    .await;
    assert_eq!(a.spec.cmd.as_deref(), Some("sleep 1000"));
    let rec = wait_for("version 1 renumbered", T, || async {
        records(&ns)
            .await
            .into_iter()
            .find(|r| r.revision == 3 && r.metadata.name.as_deref() == Some(&format!("web-{v1}")))
    })
    .await;
    assert_eq!(rec.data.unwrap().0.get("instances"), None, "records leave instances out");
    // --to a prefix, and refusals.
    let out = ok(&["app", "rollback", "web", "-n", n, "--to", &v2[..6]]);
    assert!(out.contains(&format!("to {v2}")), "{out}");
    assert_eq!(ns.api::<App>().get("web").await.unwrap().spec.cmd.as_deref(), Some("sleep 2000"));
    assert!(fails(&["app", "rollback", "web", "-n", n, "--to", &v2]).contains("is the current version already"));
    assert!(fails(&["app", "rollback", "web", "-n", n, "--to", "0000"]).contains("no recorded version `0000`"));
    assert!(fails(&["app", "rollback", "web", "-n", n, "--to", "../x"]).contains("is not a version"));

    // The history is bounded: 10 records whatever the number of versions.
    for i in 0..10 {
        let patch = json!({"spec": {"env": {"ROUND": i.to_string()}}});
        ns.api::<App>().patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        let want = 3 + i as i64 + 1 + 1;
        wait_for(&format!("revision {want} recorded"), T, || async {
            records(&ns).await.iter().any(|r| r.revision == want).then_some(())
        })
        .await;
    }
    // The operator records the new version first and prunes the oldest after it (never fewer
    // than 10 kept): right after the newest appears there may be 11 for a moment.
    let recs = wait_for("the history pruned to 10 records", T, || async {
        let recs = records(&ns).await;
        (recs.len() <= 10).then_some(recs)
    })
    .await;
    assert_eq!(recs.len(), 10, "{:?}", recs.iter().map(|r| (&r.metadata.name, r.revision)).collect::<Vec<_>>());
    assert!(recs.iter().any(|r| r.revision == 3 + 10 + 1), "the newest is kept");
    app_where(&ns, "the last version rolled out", |a| {
        running(a, 3) && a.status.as_ref().and_then(|s| s.deployment.as_ref()).is_none()
    })
    .await;

    // kill: every instance is replaced.
    let before: Vec<String> = pods(&ns).await;
    let out = ok(&["app", "kill", "web", "-n", n]);
    assert!(out.contains("killed 3 instance(s)") && out.contains("starts replacements"), "{out}");
    for p in &before {
        assert!(out.contains(p.as_str()), "{p} named: {out}");
    }
    wait_for("3 new instances", T, || async {
        let now = pods(&ns).await;
        (now.len() == 3 && now.iter().all(|p| !before.contains(p))).then_some(())
    })
    .await;

    // A GitOps-managed App: writes to its spec are refused without --force; kill is not.
    let label = json!({"metadata": {"labels": {"dromos.io/source": format!("{n}.repo")}}});
    ns.api::<App>().patch("web", &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
    let out = fails(&["app", "scale", "web", "2", "-n", n]);
    assert!(out.contains(&format!("managed by GitSource {n}/repo")) && out.contains("--force"), "{out}");
    assert!(fails(&["app", "rollback", "web", "-n", n]).contains("managed by GitSource"));
    assert!(fails(&["app", "kill", "web", "--scale", "-n", n]).contains("managed by GitSource"));
    assert_eq!(ns.api::<App>().get("web").await.unwrap().spec.instances, Some(3), "nothing written");
    let (code, _, err) = dromos(&["app", "kill", "web", "--force", "-n", n]);
    assert_eq!(code, 2, "--force belongs to --scale: {err}");
    let (code, out, err) = dromos(&["app", "scale", "web", "2", "-n", n, "--force"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("its next sync reverts this change"), "{err}");
    app_where(&ns, "2 instances", |a| running(a, 2)).await;
    // An autoscaled App keeps its live instances at every sync: scaling it is not refused.
    let ann = json!({"metadata": {"annotations": {"dromos.io/autoscaled": "true"}}});
    ns.api::<App>().patch("web", &PatchParams::default(), &Patch::Merge(&ann)).await.unwrap();
    let (code, out, err) = dromos(&["app", "scale", "web", "1", "-n", n]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("reverts"), "{err}");

    // kill --scale: no instance left, none started again.
    let (code, out, err) = dromos(&["app", "kill", "web", "--scale", "--force", "-n", n]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("and scaled to 0"), "{out}");
    let a = app_where(&ns, "suspended", |a| {
        a.spec.instances == Some(0) && a.status.as_ref().and_then(|s| s.state.as_deref()) == Some("Suspended")
    })
    .await;
    assert_eq!(a.status.unwrap().running, Some(0));
    wait_for("no pods", T, || async { pods(&ns).await.is_empty().then_some(()) }).await;
    ns.delete().await;
}

/// Names of the live (not terminating) pods of App web.
async fn pods(ns: &TestNamespace) -> Vec<String> {
    let list = ns.api::<Pod>().list(&ListParams::default().labels("dromos.io/app=web")).await.unwrap();
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

async fn job_where(ns: &TestNamespace, what: &str, f: impl Fn(&Job) -> bool) -> Job {
    let api = ns.api::<Job>();
    wait_for(what, T, || {
        let api = api.clone();
        let f = &f;
        async move { api.get("beat").await.ok().filter(f) }
    })
    .await
}

fn active(j: &Job) -> Vec<String> {
    j.status.iter().flat_map(|s| &s.runs).filter(|r| r.result == "Active").map(|r| r.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_verbs_list_history_and_kill_runs() {
    dromos_tests::init_tracing();
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "cli-job").await;
    let n = ns.name.as_str();
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (_m, task) =
        dromos_tests::operators(&c, ManagerOptions { scope, jobs: Some(Default::default()), ..Default::default() });
    // Runs whose pods no node fits stay active; a Chronos-style job would retry a failure twice.
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "beat"},
        "spec": {"schedule": "R1/2099-01-01T00:00:00Z/PT1H", "run": {"cmd": "sleep 60", "cpus": 0.01, "mem": 16,
            "placement": {"constraints": [{"attribute": "dromos.io/no-such-label", "operator": "IS", "value": "x"}]}}}
    }))
    .unwrap();
    ns.api::<Job>().create(&PostParams::default(), &job).await.unwrap();
    ok(&["job", "run", "beat", "-n", n]);
    job_where(&ns, "one active run", |j| active(j).len() == 1).await;
    ok(&["job", "run", "beat", "-n", n]);
    let j = job_where(&ns, "two active runs", |j| active(j).len() == 2).await;
    let ids = active(&j);

    // list, every format.
    let out = ok(&["job", "list", "-n", n]);
    let row = out.lines().find(|l| l.contains(" beat ")).unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[3..6], ["0", "0", "2"], "succeeded, failed, active: {out}");
    let header = ok(&["job", "list", "-n", n, "-o", "wide"]).lines().next().unwrap().to_string();
    assert!(header.contains("TRIGGER") && header.contains("LAST FAILURE"), "{header}");
    assert_eq!(json_of(&ok(&["job", "list", "-n", n, "-o", "json"]))["items"][0]["metadata"]["name"], "beat");
    assert_eq!(yaml_of(&ok(&["job", "list", "-n", n, "-o", "yaml"]))["kind"], "List");
    let all = ok(&["job", "list", "-A"]);
    assert!(all.lines().any(|l| l.starts_with(&format!("{n} ")) && l.contains(" beat ")), "-A: {all}");

    // kill one run by id: it fails as killed, its batch Job goes, the other runs on.
    let out = ok(&["job", "kill", "beat", &ids[0], "-n", n, "--timeout", "60"]);
    assert!(out.contains(&format!("killed 1 run(s): {}", ids[0])), "{out}");
    let j = ns.api::<Job>().get("beat").await.unwrap();
    assert_eq!(active(&j), vec![ids[1].clone()]);
    let rec = j.status.as_ref().unwrap().runs.iter().find(|r| r.id == ids[0]).unwrap().clone();
    assert_eq!(rec.result, "Failed");
    assert!(rec.message.as_deref().unwrap().starts_with("killed by request at "), "{rec:?}");
    wait_for("the killed run's batch Job deleted", T, || async {
        let jobs = ns.api::<BatchJob>().list(&ListParams::default()).await.ok()?;
        let names: Vec<String> = jobs.items.into_iter().filter_map(|j| j.metadata.name).collect();
        (!names.iter().any(|x| x.starts_with(&ids[0])) && names.iter().any(|x| x.starts_with(&ids[1]))).then_some(())
    })
    .await;
    assert!(fails(&["job", "kill", "beat", &ids[0], "-n", n]).contains("is not active: it failed"));
    assert!(fails(&["job", "kill", "beat", "beat-nosuch", "-n", n]).contains("has no run beat-nosuch"));
    assert!(fails(&["job", "kill", "nope", "-n", n]).contains(&format!("Job {n}/nope not found")));

    // history, every format.
    let out = ok(&["job", "history", "beat", "-n", n]);
    assert!(out.contains("killed by request at") && !out.contains("RETRY AT"), "{out}");
    assert!(ok(&["job", "history", "beat", "-n", n, "-o", "wide"]).contains("RETRY AT"));
    let status = json_of(&ok(&["job", "history", "beat", "-n", n, "-o", "json"]));
    assert_eq!(status["failureCount"], 1, "{status}");
    let status = yaml_of(&ok(&["job", "history", "beat", "-n", n, "-o", "yaml"]));
    assert_eq!(status["runs"].as_array().map(Vec::len), Some(2), "{status}");

    // kill every active run, then nothing is left to kill.
    let out = ok(&["job", "kill", "beat", "-n", n]);
    assert!(out.contains(&format!("killed 1 run(s): {}", ids[1])), "{out}");
    assert!(fails(&["job", "kill", "beat", "-n", n]).contains("has no active run"));
    // Not retried: still two failed runs and nothing active a few seconds on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let j = ns.api::<Job>().get("beat").await.unwrap();
    assert!(active(&j).is_empty(), "{:?}", j.status);
    assert_eq!(j.status.unwrap().failure_count, 2);

    // Without a controller the request times out and says so.
    ok(&["job", "run", "beat", "-n", n]);
    job_where(&ns, "a third active run", |j| active(j).len() == 1).await;
    drop(task);
    let out = fails(&["job", "kill", "beat", "-n", n, "--timeout", "2"]);
    assert!(out.contains("did not handle the kill request within 2 s"), "{out}");
    ns.delete().await;
}

//! What an operator of Dromos reads without a terminal: `dromos controller --log-format json`
//! writes one JSON object per line, and a reconcile's lines carry the object and its revision;
//! text logs carry no colour codes off a terminal; `/metrics` counts every operator's
//! reconciles and exposes the build.

use dromos_crds::{App, GitSource, Job, Package};
use dromos_tests::repo::commit;
use dromos_tests::{
    FakeNodes, NodeSpec, Running, TestNamespace, app_object, client, free_addr, http_get, install_crds, wait_for,
};
use git2::Repository;
use kube::api::PostParams;
use std::process::Command;
use std::time::Duration;

fn start(ns: &str, cache: &std::path::Path, log: &std::path::Path, addr: &str, format: &[&str]) -> Running {
    start_with(ns, cache, log, addr, &[&["--no-packages", "--no-scheduler"], format].concat())
}

fn start_with(ns: &str, cache: &std::path::Path, log: &std::path::Path, addr: &str, args: &[&str]) -> Running {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(dromos_tests::dromos_bin())
        .args(["controller", "--namespace", ns, "--allow-local-git", "--listen", addr])
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .env("RUST_LOG", "info,dromos=debug")
        .env_remove("NO_COLOR")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start dromos controller");
    Running(child)
}

#[tokio::test]
async fn json_logs_carry_object_and_revision_and_metrics_count_every_operator() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "observe").await;
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n";
    let head = commit(&repo, "main", &[("c.yaml", Some(cm))], "one").to_string();
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (json_log, addr) = (logs.path().join("json.log"), free_addr());
    let ctl = start(&ns.name, cache.path(), &json_log, &addr, &["--log-format", "json"]);

    let gs: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"},
        "spec": {"url": format!("file://{}", remote.path().display()), "interval": "1h"}
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let app = app_object("web", serde_json::json!({"cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16}));
    ns.api::<App>().create(&PostParams::default(), &app).await.unwrap();
    let sources = ns.api::<GitSource>();
    wait_for("the source applied", Duration::from_secs(60), || async {
        let s = sources.get("repo").await.ok()?.status?;
        s.last_applied_revision.filter(|r| r.contains(&head))
    })
    .await;

    // /metrics: reconciles of both operators, their durations and the build.
    let metrics =
        wait_for("reconciles of the App and GitSource operators counted", Duration::from_secs(30), || async {
            let (code, body) = http_get(&addr, "/metrics").await?;
            (code == 200
                && body.contains(r#"dromos_reconciles_total{operator="GitSource",result="success"}"#)
                && body.contains(r#"dromos_reconciles_total{operator="App",result="success"}"#))
            .then_some(body)
        })
        .await;
    assert!(metrics.contains(r#"dromos_reconcile_duration_seconds_count{operator="App"}"#), "{metrics}");
    assert!(metrics.contains("dromos_build_info{version=\""), "{metrics}");
    assert!(metrics.contains("dromos_sync_duration_seconds"), "the GitSource metrics are still there: {metrics}");
    assert_eq!(metrics.matches("# EOF").count(), 1, "{metrics}");
    drop(ctl);

    // Every line is a JSON object; reconcile lines name the object and the revision.
    let text = std::fs::read_to_string(&json_log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 3, "{text}");
    let in_reconcile = |object: String| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| {
                l["spans"].as_array().is_some_and(|spans| {
                    spans.iter().any(|s| s["name"] == "reconcile" && s["object"].as_str() == Some(object.as_str()))
                })
            })
            .collect()
    };
    let app_lines = in_reconcile(format!("App/{}/web", ns.name));
    assert!(!app_lines.is_empty(), "no line of the App's reconcile:\n{text}");
    assert!(
        app_lines.iter().any(|l| l["spans"].as_array().unwrap().iter().any(|s| s["revision"].is_string())),
        "the App's version is on its reconcile's lines:\n{text}"
    );
    // A GitSource's sync span names the source and, once fetched, the revision.
    let source = format!("{}/repo", ns.name);
    assert!(
        lines.iter().any(|l| l["spans"].as_array().is_some_and(|spans| spans.iter().any(|s| s["name"] == "sync"
            && s["source"].as_str() == Some(source.as_str())
            && s["revision"].as_str().is_some_and(|r| r.contains(&head))))),
        "the source and revision are on the sync's lines:\n{text}"
    );

    // Text logs to a file: no colour codes, with or without NO_COLOR.
    let (text_log, addr) = (logs.path().join("text.log"), free_addr());
    let ctl = start(&ns.name, cache.path(), &text_log, &addr, &[]);
    wait_for("the text controller serving", Duration::from_secs(30), || async { http_get(&addr, "/healthz").await })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(ctl);
    let text = std::fs::read_to_string(&text_log).unwrap();
    assert!(text.contains("dromos controller starting"), "{text}");
    assert!(!text.contains('\u{1b}'), "no ANSI escape in a log file:\n{text}");
    ns.delete().await;
}

/// The line of `family` with exactly `labels` in `text`, and its value.
fn value(text: &str, family: &str, labels: &str) -> Option<f64> {
    let head = format!("{family}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&head)).and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn object_state_and_scheduler_metrics_follow_what_each_kind_reports() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "objmetrics").await;
    let nodes = FakeNodes::create(&c, &NodeSpec::new("objmetrics", 1)).await;
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n";
    commit(&repo, "main", &[("c.yaml", Some(cm))], "one");
    let (cache, logs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let addr = free_addr();
    let ctl = start_with(&ns.name, cache.path(), &logs.path().join("ctl.log"), &addr, &[]);

    let gs: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"},
        "spec": {"url": format!("file://{}", remote.path().display()), "interval": "1h"}
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let mine = serde_json::json!([["hostname", "IS", nodes.names[0]]]);
    let web = app_object(
        "web",
        serde_json::json!({"cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16, "constraints": mine}),
    );
    let nowhere = serde_json::json!([["hostname", "LIKE", "no-such-node-.*"]]);
    let stuck = app_object(
        "stuck",
        serde_json::json!({"cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16, "constraints": nowhere}),
    );
    for a in [web, stuck] {
        ns.api::<App>().create(&PostParams::default(), &a).await.unwrap();
    }
    // A Job whose one run fails: its pod never fits, and a deleted pod fails the run.
    let job: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "backup"},
        "spec": {"schedule": "R1//PT1H", "retries": 0, "run": {"cmd": "false", "cpus": 0.01, "mem": 16,
                 "placement": {"constraints": [{"attribute": "dromos.io/no-such-label", "operator": "IS", "value": "x"}]}}}
    }))
    .unwrap();
    ns.api::<Job>().create(&PostParams::default(), &job).await.unwrap();
    let pkg: Package = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": "nothing"},
        "spec": {"name": "no-such-package"}
    }))
    .unwrap();
    ns.api::<Package>().create(&PostParams::default(), &pkg).await.unwrap();

    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = ns.api();
    let pod = wait_for("the Job's pod", Duration::from_secs(60), || async {
        let l = pods.list(&kube::api::ListParams::default().labels("dromos.io/job=backup")).await.ok()?;
        l.items.into_iter().next()
    })
    .await;
    pods.delete(&pod.metadata.name.unwrap(), &Default::default()).await.unwrap();

    let n = &ns.name;
    let obj = |name: &str| format!(r#"namespace="{n}",name="{name}""#);
    let text = wait_for("every kind's state on /metrics", Duration::from_secs(90), || async {
        let (code, body) = http_get(&addr, "/metrics").await?;
        let ok = code == 200
            && value(&body, "dromos_gitsource_ready", &obj("repo")) == Some(1.0)
            && value(&body, "dromos_app_instances", &format!(r#"{},state="running""#, obj("web"))) == Some(1.0)
            && value(&body, "dromos_app_placement_waiting", &obj("stuck")) == Some(1.0)
            && value(&body, "dromos_job_last_run_failed", &obj("backup")) == Some(1.0)
            && value(&body, "dromos_package_ready", &obj("nothing")) == Some(0.0);
        ok.then_some(body)
    })
    .await;
    assert_eq!(value(&text, "dromos_gitsource_objects", &obj("repo")), Some(1.0), "{text}");
    assert_eq!(value(&text, "dromos_gitsource_revision_stale", &obj("repo")), Some(0.0), "{text}");
    assert!(value(&text, "dromos_gitsource_last_sync_timestamp_seconds", &obj("repo")).is_some_and(|t| t > 1.7e9));
    assert_eq!(value(&text, "dromos_app_instances", &format!(r#"{},state="desired""#, obj("stuck"))), Some(1.0));
    assert_eq!(value(&text, "dromos_app_ready", &obj("stuck")), Some(0.0), "{text}");
    assert_eq!(value(&text, "dromos_job_runs_total", &format!(r#"{},result="failed""#, obj("backup"))), Some(1.0));
    assert!(value(&text, "dromos_job_last_failure_timestamp_seconds", &obj("backup")).is_some(), "{text}");
    assert_eq!(value(&text, "dromos_job_last_success_timestamp_seconds", &obj("backup")), None, "{text}");
    // The scheduler: the web instance placed, the stuck one waiting, declined for its LIKE.
    let placed = text.lines().find_map(|l| l.strip_prefix("dromos_scheduler_pods_placed_total ")).unwrap();
    assert!(placed.parse::<f64>().unwrap() >= 1.0, "{text}");
    let waiting = text.lines().find_map(|l| l.strip_prefix("dromos_scheduler_unplaceable_pods ")).unwrap();
    assert!(waiting.parse::<f64>().unwrap() >= 1.0, "{text}");
    assert!(
        value(&text, "dromos_scheduler_declined_offers", r#"reason="constraint LIKE""#).is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(text.contains("dromos_scheduler_placement_duration_seconds_count "), "{text}");
    assert!(value(&text, "dromos_reconciles_in_flight", r#"operator="Job""#).is_some(), "{text}");
    // Every object family has a sample here, but those that may not exist in the state these
    // objects are in (each checked by the unit tests of dromos_core::observe).
    let absent_by_state = [
        "job_last_success_timestamp_seconds", // the Job only failed
        "job_expected_interval_seconds",      // R1: no fire left
        "job_next_run_timestamp_seconds",     // R1: no fire left
        "job_last_run_start_delay_seconds",   // only once its run's attempt started
        "package_objects",                    // nothing installed
    ];
    for f in dromos_core::observe::FAMILIES {
        let name = format!("dromos_{}", f.name);
        let sample =
            if f.kind == dromos_core::observe::Type::Counter { format!("{name}_total{{") } else { format!("{name}{{") };
        let has = text.lines().any(|l| l.starts_with(&sample) && l.contains(&format!(r#"namespace="{n}""#)));
        assert!(has || absent_by_state.contains(&f.name), "{name} for this namespace:\n{text}");
        // The unplaceable App deploys for ever: its deployment's start is exposed.
        if f.name == "app_deployment_start_timestamp_seconds" {
            assert!(value(&text, &name, &obj("stuck")).is_some_and(|t| t > 1.7e9), "{text}");
        }
    }
    drop(ctl);
    nodes.delete().await;
    ns.delete().await;
}

/// `/readyz` answers 200 once the operators run and their watches have listed; `/healthz`
/// answers 503 naming the reconcile when one has run past `--stuck-after-secs` (here a sync
/// held by a remote that accepts and never answers, under a long fetch timeout).
#[tokio::test]
async fn healthz_fails_on_a_stuck_reconcile_and_readyz_follows_the_watches() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "probes").await;
    // Accepted, never read, never answered; the connections close with the test.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remote = listener.local_addr().unwrap();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let held2 = held.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            held2.lock().unwrap().push(conn);
        }
    });
    let (cache, logs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let addr = free_addr();
    let args = ["--no-packages", "--no-scheduler", "--stuck-after-secs", "10", "--fetch-timeout-secs", "3600"];
    let ctl = start_with(&ns.name, cache.path(), &logs.path().join("ctl.log"), &addr, &args);
    wait_for("/readyz 200", Duration::from_secs(30), || async {
        let (code, body) = http_get(&addr, "/readyz").await?;
        (code == 200 && body == "ready").then_some(())
    })
    .await;
    let (code, _) = http_get(&addr, "/healthz").await.unwrap();
    assert_eq!(code, 200, "alive before anything is stuck");

    let gs: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "silent"},
        "spec": {"url": format!("http://{remote}/repo.git"), "interval": "1h"}
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let body = wait_for("/healthz 503", Duration::from_secs(60), || async {
        let (code, body) = http_get(&addr, "/healthz").await?;
        (code == 503).then_some(body)
    })
    .await;
    let what = format!("reconcile of GitSource/{}/silent running for ", ns.name);
    assert!(body.starts_with("stuck: ") && body.contains(&what), "{body}");
    drop(ctl);
    held.lock().unwrap().clear();
    ns.delete().await;
}

//! What an operator of Dromos reads without a terminal: `dromos controller --log-format json`
//! writes one JSON object per line, and a reconcile's lines carry the object and its revision;
//! text logs carry no colour codes off a terminal; `/metrics` counts every operator's
//! reconciles and exposes the build.

use dromos_crds::{App, GitSource};
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, app_object, client, http_get, install_crds, wait_for};
use git2::Repository;
use kube::api::PostParams;
use std::process::{Child, Command};
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(ns: &str, cache: &std::path::Path, log: &std::path::Path, addr: &str, format: &[&str]) -> Running {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(dromos_tests::dromos_bin())
        .args([
            "controller",
            "--namespace",
            ns,
            "--allow-local-git",
            "--listen",
            addr,
            "--no-packages",
            "--no-scheduler",
        ])
        .arg("--cache-dir")
        .arg(cache)
        .args(format)
        .env("RUST_LOG", "info,dromos=debug")
        .env_remove("NO_COLOR")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start dromos controller");
    Running(child)
}

fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}")
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

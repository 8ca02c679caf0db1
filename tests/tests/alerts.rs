//! The alerts and the dashboard the chart ships (charts/dromos/files/alerts.yaml and
//! dashboard.json), with Prometheus and promtool built from the Go module proxy:
//! every alert passes its promtool unit tests (tests/alerts/alerts_test.yaml) and is complete
//! and documented; the dashboard's queries parse and name metrics the controller exposes; and
//! in a real Prometheus scraping a real controller, the rules load and DromosJobFailed fires
//! for a Job whose run failed.

use dromos_crds::Job;
use dromos_tests::prometheus::{alerts_file, alerts_test_file, dashboard_file, promtool_run};
use dromos_tests::{Running, TestNamespace, client, free_addr, http_get, install_crds, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

const RUNBOOK: &str = "https://github.com/dromos-io/dromos/blob/main/docs/operations.md";

fn yaml(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every rule of the chart's alerts file.
fn alert_rules() -> Vec<Value> {
    let file = yaml(&alerts_file());
    let groups = file["groups"].as_array().expect("groups");
    groups.iter().flat_map(|g| g["rules"].as_array().expect("rules").clone()).collect()
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_passes_its_promtool_unit_tests() {
    let rules = alert_rules();
    let check = promtool_run(&[OsStr::new("check"), OsStr::new("rules"), alerts_file().as_os_str()])
        .unwrap_or_else(|e| panic!("promtool check rules:\n{e}"));
    assert!(check.contains(&format!("SUCCESS: {} rules found", rules.len())), "{check}");
    // A wrong expression, label or annotation fails here: promtool compares every expected
    // alert exactly and exits non-zero.
    let test = promtool_run(&[OsStr::new("test"), OsStr::new("rules"), alerts_test_file().as_os_str()])
        .unwrap_or_else(|e| panic!("promtool test rules tests/alerts/alerts_test.yaml:\n{e}"));
    assert!(test.contains("SUCCESS"), "{test}");
}

/// Each alert has a `for`, a severity, a summary and a description naming what it is about,
/// a runbook section in docs/operations.md, and promtool cases where it fires and where it
/// stays quiet.
#[test]
fn every_alert_is_complete_documented_and_unit_tested() {
    let docs = std::fs::read_to_string(dromos_tests::chart::repo_root().join("docs/operations.md")).unwrap();
    let anchors: BTreeSet<String> =
        docs.lines().filter_map(|l| l.strip_prefix("### ").or_else(|| l.strip_prefix("## "))).map(anchor).collect();
    let rules = alert_rules();
    assert!(rules.len() >= 9, "{rules:#?}");
    for r in &rules {
        let name = r["alert"].as_str().expect("an alerting rule");
        assert!(r["for"].as_str().is_some_and(|f| !f.is_empty()), "{name}: no `for`");
        let severity = r["labels"]["severity"].as_str();
        assert!(matches!(severity, Some("warning" | "critical")), "{name}: severity {severity:?}");
        let a = &r["annotations"];
        for key in ["summary", "description"] {
            assert!(a[key].as_str().is_some_and(|t| !t.is_empty()), "{name}: no {key}");
        }
        if r["expr"].as_str().unwrap().contains("by (namespace, name)") {
            for key in ["summary", "description"] {
                assert!(
                    a[key].as_str().unwrap().contains("{{ $labels.namespace }}/{{ $labels.name }}"),
                    "{name}: the {key} names the object"
                );
            }
        }
        let slug = name.to_lowercase();
        assert_eq!(a["runbook_url"].as_str(), Some(format!("{RUNBOOK}#{slug}").as_str()), "{name}");
        assert!(anchors.contains(&slug), "docs/operations.md has no section `### {name}`");
    }

    let tests = yaml(&alerts_test_file());
    assert_eq!(tests["rule_files"], serde_json::json!(["../../charts/dromos/files/alerts.yaml"]), "the chart's file");
    let cases: Vec<&Value> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap().iter())
        .collect();
    for r in &rules {
        let name = r["alert"].as_str().unwrap();
        let of = |firing: bool| {
            cases
                .iter()
                .any(|c| c["alertname"] == name && c["exp_alerts"].as_array().is_some_and(|a| a.is_empty() != firing))
        };
        assert!(of(true), "{name}: no promtool case where it fires");
        assert!(of(false), "{name}: no promtool case where it stays quiet");
    }
}

/// Every `dromos_*` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bdromos_[a-z_]+").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

/// Names a query may use, from the controller's metrics catalogue (held equal to what
/// `/metrics` exposes by the controller's own tests): counters with `_total`, histograms'
/// `_bucket`, `_sum` and `_count`.
fn exposed_names() -> BTreeSet<String> {
    let catalogue = dromos::metrics::reference_markdown();
    let mut names = BTreeSet::new();
    for line in catalogue.lines().filter(|l| l.starts_with("| `dromos_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        names.insert(name.to_string());
        if cells[2] == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }
    assert!(names.contains("dromos_job_last_run_failed"), "{catalogue}");
    names
}

#[test]
fn the_alerts_and_the_dashboard_query_only_exposed_metrics() {
    let exposed = exposed_names();
    let rules = std::fs::read_to_string(alerts_file()).unwrap();
    let dashboard = std::fs::read_to_string(dashboard_file()).unwrap();
    for (what, text) in [("files/alerts.yaml", &rules), ("files/dashboard.json", &dashboard)] {
        let unknown: Vec<String> = metric_names(text).difference(&exposed).cloned().collect();
        assert!(unknown.is_empty(), "{what} queries metrics the controller does not expose: {unknown:?}");
    }
}

/// The dashboard's queries parse in Prometheus (checked by promtool as recording rules, with
/// the Grafana variables replaced), every panel reads the `datasource` variable, ids are unique
/// and panels do not overlap.
#[test]
fn the_dashboard_queries_parse() {
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(dashboard_file()).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let ids: BTreeSet<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "unique panel ids");
    // No two panels share a cell of Grafana's 24-column grid.
    let mut cells = BTreeSet::new();
    for p in panels {
        let g = &p["gridPos"];
        let (x, y, w, h) =
            (g["x"].as_u64().unwrap(), g["y"].as_u64().unwrap(), g["w"].as_u64().unwrap(), g["h"].as_u64().unwrap());
        assert!(x + w <= 24, "{} is wider than the grid", p["title"]);
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(cells.insert(cell), "{} overlaps another panel at {cell:?}", p["title"]);
        }
    }
    let mut rules = Vec::new();
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            let expr = t["expr"].as_str().unwrap().replace("$__rate_interval", "5m").replace("$namespace", ".*");
            assert!(!expr.contains('$'), "an unknown variable in {expr}");
            rules.push(serde_json::json!({"record": format!("dashboard:panel_{}_{}", p["id"], t["refId"].as_str().unwrap()), "expr": expr}));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.json");
    let groups = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(&file, serde_json::to_string(&groups).unwrap()).unwrap();
    let out = promtool_run(&[OsStr::new("check"), OsStr::new("rules"), file.as_os_str()])
        .unwrap_or_else(|e| panic!("a dashboard query does not parse:\n{e}"));
    assert!(out.contains(&format!("SUCCESS: {} rules found", rules.len())), "{out}");
}

/// The chart's alerts with every `for:` set to 0s, so an alert fires on the first evaluation
/// that finds its condition (the file itself is what the chart ships; only the durations
/// change). Panics unless exactly one `for:` per rule was rewritten.
fn without_for_durations(rules: &str, count: usize) -> String {
    let re = regex::Regex::new(r"(?m)^(\s+for:) \S+$").unwrap();
    assert_eq!(re.find_iter(rules).count(), count, "one `for:` line per rule");
    re.replace_all(rules, "${1} 0s").into_owned()
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET path` of the Prometheus HTTP API: its `data`.
async fn api(addr: &str, path: &str) -> Option<Value> {
    let (code, body) = http_get(addr, path).await?;
    let v: Value = serde_json::from_str(&body).ok()?;
    (code == 200 && v["status"] == "success").then(|| v["data"].clone())
}

/// The alerts Prometheus holds (pending or firing) named `alert` for the object `ns/name`.
async fn alerts_of(addr: &str, alert: &str, ns: &str, name: &str) -> Option<Vec<Value>> {
    let data = api(addr, "/api/v1/alerts").await?;
    Some(
        data["alerts"]
            .as_array()?
            .iter()
            .filter(|a| {
                a["labels"]["alertname"] == alert && a["labels"]["namespace"] == ns && a["labels"]["name"] == name
            })
            .cloned()
            .collect(),
    )
}

/// A real Prometheus scrapes a real `dromos controller` every second and evaluates the chart's
/// alerts (with `for: 0s`) every second: every rule loads and evaluates cleanly, and a Job
/// whose run fails fires DromosJobFailed naming it.
#[tokio::test]
async fn a_failing_job_fires_dromos_job_failed_in_a_real_prometheus() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "alerts").await;
    let dir = tempfile::tempdir().unwrap();

    let (metrics_addr, prom_addr) = (free_addr(), free_addr());
    let log = std::fs::File::create(dir.path().join("controller.log")).unwrap();
    let _controller = Running(
        Command::new(dromos_tests::dromos_bin())
            .args(["controller", "--namespace", &ns.name, "--listen", &metrics_addr, "--no-packages", "--no-scheduler"])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("RUST_LOG", "info")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dromos controller"),
    );

    let rules = alert_rules();
    let names: BTreeSet<String> = rules.iter().map(|r| r["alert"].as_str().unwrap().to_string()).collect();
    let text = std::fs::read_to_string(alerts_file()).unwrap();
    std::fs::write(dir.path().join("alerts.yaml"), without_for_durations(&text, rules.len())).unwrap();
    // The ServiceMonitor's settings: the object's namespace label stays as exposed.
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         rule_files: [alerts.yaml]\n\
         scrape_configs:\n  - job_name: dromos\n    honor_labels: true\n    static_configs: [{{targets: ['{metrics_addr}']}}]\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let prom_log = dir.path().join("prometheus.log");
    let out = std::fs::File::create(&prom_log).unwrap();
    let _prometheus = Running(
        Command::new(dromos_tests::prometheus::prometheus())
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start prometheus"),
    );
    let prom_logs = || std::fs::read_to_string(&prom_log).unwrap_or_default();

    // Every rule loaded from the file and evaluated without error.
    wait_for("every rule loaded and evaluated", Duration::from_secs(120), || async {
        let data = api(&prom_addr, "/api/v1/rules").await?;
        let loaded: Vec<&Value> =
            data["groups"].as_array()?.iter().flat_map(|g| g["rules"].as_array().into_iter().flatten()).collect();
        let seen: BTreeSet<String> = loaded.iter().filter_map(|r| r["name"].as_str().map(String::from)).collect();
        assert!(seen.is_subset(&names), "rules not in the chart's file: {seen:?}");
        for r in &loaded {
            assert_eq!(r["type"], "alerting", "{r}");
            assert!(r["health"] != "err", "rule {} fails: {}\n{}", r["name"], r["lastError"], prom_logs());
        }
        (seen == names && loaded.iter().all(|r| r["health"] == "ok")).then_some(())
    })
    .await;

    // A Job whose one run fails: its pod fits no node and is deleted, which fails the run.
    let job: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "nightly"},
        "spec": {"schedule": "R1//PT1H", "retries": 0, "run": {
            "cmd": "false", "cpus": 0.01, "mem": 16,
            "placement": {"constraints": [{"attribute": "dromos.io/no-such-label", "operator": "IS", "value": "x"}]}
        }}
    }))
    .unwrap();
    ns.api::<Job>().create(&PostParams::default(), &job).await.unwrap();

    // Before the failure Prometheus holds the Job's series at 0 and no alert for it.
    let query = format!(
        "/api/v1/query?query={}",
        encode(&format!(r#"dromos_job_last_run_failed{{namespace="{}",name="nightly"}}"#, ns.name))
    );
    wait_for("the Job's last_run_failed scraped at 0", Duration::from_secs(60), || async {
        let data = api(&prom_addr, &query).await?;
        (data["result"].as_array()?.first()?["value"][1] == "0").then_some(())
    })
    .await;
    let early = alerts_of(&prom_addr, "DromosJobFailed", &ns.name, "nightly").await.expect("the alerts API answers");
    assert!(early.is_empty(), "an alert before any run failed: {early:?}");

    let pods = ns.api::<Pod>();
    let list = wait_for("the run's pod", Duration::from_secs(60), || async {
        let l = pods.list(&ListParams::default().labels("dromos.io/job=nightly")).await.ok()?;
        (!l.items.is_empty()).then_some(l)
    })
    .await;
    for p in list.items {
        pods.delete(&p.metadata.name.unwrap(), &DeleteParams::default()).await.unwrap();
    }
    let jobs = ns.api::<Job>();
    wait_for("the run failed", Duration::from_secs(60), || async {
        jobs.get("nightly").await.ok()?.status.filter(|s| s.failure_count == 1).map(|_| ())
    })
    .await;

    let firing = wait_for("DromosJobFailed firing for the Job", Duration::from_secs(120), || async {
        let alerts = alerts_of(&prom_addr, "DromosJobFailed", &ns.name, "nightly").await?;
        alerts.into_iter().find(|a| a["state"] == "firing")
    })
    .await;
    assert_eq!(firing["labels"]["severity"], "warning", "{firing}");
    let description = firing["annotations"]["description"].as_str().unwrap();
    assert!(description.contains(&format!("Job {}/nightly failed", ns.name)), "{description}");
    assert_eq!(firing["annotations"]["runbook_url"], format!("{RUNBOOK}#dromosjobfailed"));
    // The controller is scraped: the alert about it is not firing.
    let all = api(&prom_addr, "/api/v1/alerts").await.unwrap();
    let down: Vec<&Value> = all["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "DromosControllerDown" && a["state"] == "firing")
        .collect();
    assert!(down.is_empty(), "{down:?}");
    ns.delete().await;
}

//! OTLP trace export of `dromos controller --otlp-endpoint` against a collector stand-in: an
//! HTTP server on 127.0.0.1 decoding what the OTLP/HTTP protobuf protocol sends to
//! `/v1/traces`. A reconcile becomes a `reconcile` span of the service `dromos` carrying the
//! object; spans still queued when the controller stops are flushed; a collector that refuses
//! is logged and costs nothing else, and export resumes when it accepts again.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use dromos_crds::App;
use dromos_tests::{Running, TestNamespace, app_object, client, free_addr, http_get, install_crds, wait_for};
use kube::api::PostParams;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A span as received: its name, the resource's and its own string attributes.
#[derive(Clone, Debug)]
struct Received {
    name: String,
    service: Option<String>,
    attributes: Vec<(String, String)>,
    error: bool,
}

impl Received {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Collector {
    /// Answer 400 (a permanent failure for the exporter) instead of accepting.
    refuse: AtomicBool,
    spans: Mutex<Vec<Received>>,
    /// The content type of every request, accepted or refused.
    requests: Mutex<Vec<String>>,
}

fn text(v: &Option<AnyValue>) -> Option<String> {
    match v.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn strings(attrs: &[KeyValue]) -> Vec<(String, String)> {
    attrs.iter().filter_map(|kv| Some((kv.key.clone(), text(&kv.value)?))).collect()
}

async fn traces(State(c): State<Arc<Collector>>, headers: HeaderMap, body: Bytes) -> (StatusCode, Vec<u8>) {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    c.requests.lock().unwrap().push(content_type.to_string());
    if c.refuse.load(Ordering::Relaxed) {
        return (StatusCode::BAD_REQUEST, Vec::new());
    }
    let req = ExportTraceServiceRequest::decode(body).expect("an OTLP ExportTraceServiceRequest");
    let mut spans = c.spans.lock().unwrap();
    for rs in req.resource_spans {
        let resource = rs.resource.map(|r| strings(&r.attributes)).unwrap_or_default();
        let service = resource.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.clone());
        for ss in rs.scope_spans {
            for s in ss.spans {
                // Status code 2 is STATUS_CODE_ERROR.
                let error = s.status.as_ref().is_some_and(|st| st.code == 2);
                spans.push(Received {
                    name: s.name,
                    service: service.clone(),
                    attributes: strings(&s.attributes),
                    error,
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse: everything accepted.
    (StatusCode::OK, Vec::new())
}

/// The collector stand-in on a free loopback port; its base URL.
async fn collector() -> (Arc<Collector>, String) {
    let state = Arc::new(Collector::default());
    let app = axum::Router::new().route("/v1/traces", axum::routing::post(traces)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

/// `dromos controller` confined to `ns` with `--otlp-endpoint endpoint`; the Apps operator
/// only (no packages, no scheduler: the App's pods need not run for it to be reconciled).
fn start(
    ns: &str,
    endpoint: &str,
    addr: &str,
    cache: &std::path::Path,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Running {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(dromos_tests::dromos_bin())
        .args(["controller", "--namespace", ns, "--listen", addr, "--no-packages", "--no-scheduler"])
        .args(["--otlp-endpoint", endpoint])
        .arg("--cache-dir")
        .arg(cache)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start dromos controller");
    Running(child)
}

/// Waits until the controller at `addr` has counted a successful App reconcile.
async fn app_reconciled(addr: &str) {
    wait_for("an App reconcile counted on /metrics", Duration::from_secs(60), || async {
        let (code, body) = http_get(addr, "/metrics").await?;
        (code == 200 && body.contains(r#"dromos_reconciles_total{operator="App",result="success"}"#)).then_some(())
    })
    .await;
}

fn reconcile_of<'a>(spans: &'a [Received], object: &str) -> Option<&'a Received> {
    spans.iter().find(|s| s.name == "reconcile" && s.attr("object") == Some(object))
}

/// With a schedule delay of an hour nothing is exported while the controller runs: the
/// reconcile spans arrive because SIGTERM flushes them, with the object and the service name.
#[tokio::test]
async fn reconcile_spans_reach_the_collector_and_are_flushed_at_shutdown() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "otlp").await;
    let (collector, url) = collector().await;
    let dirs = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let log = dirs.path().join("controller.log");
    let mut ctl = start(&ns.name, &url, &addr, dirs.path(), &log, &[("OTEL_BSP_SCHEDULE_DELAY", "3600000")]);

    let app = app_object("web", serde_json::json!({"cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16}));
    ns.api::<App>().create(&PostParams::default(), &app).await.unwrap();
    app_reconciled(&addr).await;
    assert_eq!(collector.requests.lock().unwrap().len(), 0, "exported before the schedule delay or shutdown");

    let status = Command::new("kill").args(["-TERM", &ctl.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        let exit = ctl.0.wait();
        (ctl, exit)
    });
    // A liveness bound, not a speed target: the controller stops and flushes.
    let (_ctl, exit) =
        tokio::time::timeout(Duration::from_secs(60), exit).await.expect("the controller stopped").unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(exit.unwrap().success(), "controller exit:\n{logs}");

    let spans = collector.spans.lock().unwrap().clone();
    let object = format!("App/{}/web", ns.name);
    let span = reconcile_of(&spans, &object)
        .unwrap_or_else(|| panic!("no reconcile span of {object} among {spans:#?}\ncontroller log:\n{logs}"));
    assert_eq!(span.service.as_deref(), Some("dromos"), "{span:?}");
    assert!(span.attr("revision").is_some(), "the App's version is an attribute: {span:?}");
    assert!(!span.error, "a successful reconcile is no error span: {span:?}");
    assert!(!logs.contains("OTLP trace export failed"), "{logs}");
    let requests = collector.requests.lock().unwrap().clone();
    assert!(requests.iter().all(|t| t == "application/x-protobuf"), "OTLP/HTTP with protobuf bodies: {requests:?}");
    ns.delete().await;
}

/// A collector that refuses is logged once and the controller goes on reconciling; when it
/// accepts again, export resumes (said at info level).
#[tokio::test]
async fn a_refusing_collector_is_logged_and_export_resumes() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "otlpfail").await;
    let (collector, url) = collector().await;
    collector.refuse.store(true, Ordering::Relaxed);
    let dirs = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let log = dirs.path().join("controller.log");
    let _ctl = start(&ns.name, &url, &addr, dirs.path(), &log, &[("OTEL_BSP_SCHEDULE_DELAY", "100")]);

    let app = app_object("web", serde_json::json!({"cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16}));
    ns.api::<App>().create(&PostParams::default(), &app).await.unwrap();
    app_reconciled(&addr).await;
    wait_for("the failed export logged", Duration::from_secs(60), || async {
        std::fs::read_to_string(&log).ok().filter(|l| l.contains("OTLP trace export failed")).map(|_| ())
    })
    .await;
    assert!(http_get(&addr, "/healthz").await.is_some_and(|(code, _)| code == 200), "the controller still serves");

    // Accepting again: a reconcile after that (a scale of the App) arrives.
    collector.refuse.store(false, Ordering::Relaxed);
    let patch = serde_json::json!({"spec": {"instances": 2}});
    ns.api::<App>().patch("web", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    let object = format!("App/{}/web", ns.name);
    wait_for("a reconcile span after the collector accepts again", Duration::from_secs(60), || async {
        reconcile_of(&collector.spans.lock().unwrap(), &object).map(|_| ())
    })
    .await;
    wait_for("the recovery logged", Duration::from_secs(30), || async {
        std::fs::read_to_string(&log).ok().filter(|l| l.contains("OTLP trace export works again")).map(|_| ())
    })
    .await;
    let logs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logs.matches("OTLP trace export failed").count(), 1, "one warning however many batches failed:\n{logs}");
    ns.delete().await;
}

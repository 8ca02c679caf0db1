//! Notifiers against the real control plane, with receivers on 127.0.0.1 that record every
//! request: a signed webhook, Slack and Teams payloads from a GitSource that fails and
//! recovers, GitHub and GitLab commit statuses for the revisions a GitSource applied or
//! failed to apply, a receiver that fails before it answers (retried), a rate limit, a restart
//! that sends nothing twice, an App's finished deployment (chosen by its labels), a failed
//! Package install and Job run, a Notifier refused without a ServiceAccount, and a Secret the
//! Notifier's ServiceAccount may not read. Each test runs its own operators scoped to its
//! namespace; the retry and rate-limit cases publish their Events as the operators do.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use dromos::operators::manager::ManagerOptions;
use dromos::operators::notifier;
use dromos_crds::{GitSource, Notifier};
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds, wait_for};
use git2::Repository;
use hmac::{Mac, digest::KeyInit};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::PostParams;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} sent no JSON ({e}): {:?}", self.path, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A receiver on 127.0.0.1: records every request and answers 200, or first the failures set
/// for a path.
#[derive(Clone, Default)]
struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
    failures: Arc<Mutex<HashMap<String, Vec<u16>>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let r = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(record).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, base)
    }

    /// Answers the next requests to `path` with these codes, in order, then 200.
    fn fail_first(&self, path: &str, codes: &[u16]) {
        self.failures.lock().unwrap().insert(path.into(), codes.to_vec());
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.log.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// The requests to `path` once `f` holds of them.
    async fn wait(&self, path: &str, what: &str, f: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        wait_for(&format!("{path}: {what}"), T, || async {
            let got = self.at(path);
            f(&got).then_some(got)
        })
        .await
    }
}

/// Records the request. `/silent` never answers; `/huge` answers 200 with 16 MiB.
async fn record(State(r): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> (StatusCode, Vec<u8>) {
    let path = uri.path().to_string();
    r.log.lock().unwrap().push(Received { path: path.clone(), headers, body });
    match path.as_str() {
        "/silent" => std::future::pending().await,
        "/huge" => return (StatusCode::OK, vec![b'x'; 16 << 20]),
        _ => {}
    }
    let mut failures = r.failures.lock().unwrap();
    match failures.get_mut(&path) {
        Some(codes) if !codes.is_empty() => (StatusCode::from_u16(codes.remove(0)).unwrap(), vec![]),
        _ => (StatusCode::OK, vec![]),
    }
}

/// The events a JSON webhook got, in order.
fn events_of(got: &[Received]) -> Vec<String> {
    got.iter().map(|r| r.json()["event"].as_str().unwrap_or_default().to_string()).collect()
}

fn options() -> notifier::Options {
    notifier::Options { retry_base: Duration::from_millis(100), ..Default::default() }
}

/// The Notifier operator (and the GitSource operator, with `git`) scoped to `ns`.
fn operators(
    c: &kube::Client,
    ns: &TestNamespace,
    git: Option<&std::path::Path>,
) -> (Arc<notifier::Context>, dromos_tests::Task) {
    dromos_tests::init_tracing();
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        gitsource: git.map(dromos_tests::gitsource_options),
        notifier: Some(options()),
        ..Default::default()
    };
    let (m, task) = dromos_tests::operators(c, opts);
    (m.context().expect("the Notifier operator"), task)
}

/// A ServiceAccount `name` that may `get` the Secrets listed (none: no Secret at all).
async fn service_account(ns: &TestNamespace, name: &str, secrets: &[&str]) {
    let pp = PostParams::default();
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    ns.api::<ServiceAccount>().create(&pp, &sa).await.unwrap();
    if secrets.is_empty() {
        return;
    }
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": secrets, "verbs": ["get"]}]
    }))
    .unwrap();
    ns.api::<Role>().create(&pp, &role).await.unwrap();
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns.name}]
    }))
    .unwrap();
    ns.api::<RoleBinding>().create(&pp, &rb).await.unwrap();
}

async fn secret(ns: &TestNamespace, name: &str, data: Value) {
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data})).unwrap();
    ns.api::<Secret>().create(&PostParams::default(), &s).await.unwrap();
}

async fn create_notifier(ns: &TestNamespace, name: &str, spec: Value) {
    let n: Notifier = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Notifier", "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    ns.api::<Notifier>()
        .create(&PostParams::default(), &n)
        .await
        .unwrap_or_else(|e| panic!("create Notifier {name}: {e}"));
}

/// The Notifier once `f` holds of it.
async fn notifier_where(ns: &TestNamespace, name: &str, what: &str, f: impl Fn(&Notifier) -> bool) -> Notifier {
    let api = ns.api::<Notifier>();
    wait_for(&format!("Notifier {name}: {what}"), T, || async {
        let n = api.get(name).await.ok()?;
        f(&n).then_some(n)
    })
    .await
}

fn ready(n: &Notifier) -> Option<(String, String, String)> {
    let c = n.status.as_ref()?.common.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the operator has checked the Notifier and found it usable: from then on its
/// store holds it, and Events reach it.
async fn ready_notifier(ns: &TestNamespace, name: &str) {
    notifier_where(ns, name, "Ready", |n| ready(n).is_some_and(|(s, _, _)| s == "True")).await;
}

async fn create_source(ns: &TestNamespace, name: &str, spec: Value) {
    let gs: GitSource = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.expect("create GitSource");
}

/// A Warning Event about a GitSource `name` published as the GitSource operator does.
async fn publish(
    c: &kube::Client,
    ns: &TestNamespace,
    reporter: &str,
    kind: &str,
    name: &str,
    reason: &str,
    note: &str,
) {
    let recorder = Recorder::new(c.clone(), Reporter { controller: reporter.into(), instance: None });
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("dromos.io/v1alpha1".into()),
        kind: Some(kind.into()),
        namespace: Some(ns.name.clone()),
        name: Some(name.into()),
        ..Default::default()
    };
    let ev = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Sync".into(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.expect("publish Event");
}

const INVALID_APP: &str = "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  instances: -1\n";
const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: \"1\"\n";

#[tokio::test]
async fn a_failed_sync_and_its_recovery_reach_a_signed_webhook_slack_and_teams() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-chat").await;
    let (rx, base) = Receiver::start().await;
    service_account(&ns, "notifier", &["hook", "chat"]).await;
    secret(&ns, "hook", json!({"hmacKey": "s3cret-key"})).await;
    // Chat webhook URLs are credentials: from the Secret.
    secret(&ns, "chat", json!({"address": format!("{base}/slack")})).await;
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let bad = commit(&repo, "main", &[("app.yaml", Some(INVALID_APP))], "an invalid App");
    let cache = tempfile::tempdir().unwrap();
    let (ctx, _task) = operators(&c, &ns, Some(cache.path()));
    let events = json!(["SyncFailed", "SyncRecovered"]);
    create_notifier(
        &ns,
        "hook",
        json!({"events": events, "serviceAccountName": "notifier",
        "target": {"type": "webhook", "address": format!("{base}/hook"), "secretRef": {"name": "hook"}}}),
    )
    .await;
    create_notifier(
        &ns,
        "slack",
        json!({"events": events, "serviceAccountName": "notifier",
        "sources": [{"kind": "GitSource", "name": "repo"}],
        "target": {"type": "slack", "secretRef": {"name": "chat"}}}),
    )
    .await;
    create_notifier(
        &ns,
        "teams",
        json!({"events": events, "target": {"type": "teams", "address": format!("{base}/teams")}}),
    )
    .await;
    // Another object's events never reach a Notifier that names only `repo`.
    create_notifier(
        &ns,
        "other",
        json!({"events": events, "sources": [{"kind": "GitSource", "name": "other"}],
        "target": {"type": "webhook", "address": format!("{base}/other")}}),
    )
    .await;
    for n in ["hook", "slack", "teams", "other"] {
        ready_notifier(&ns, n).await;
    }

    create_source(&ns, "repo", json!({"url": format!("file://{}", remote.path().display()), "interval": "1s"})).await;
    let got = rx.wait("/hook", "SyncFailed", |g| events_of(g).contains(&"SyncFailed".to_string())).await;
    let failed = got.iter().find(|r| r.json()["event"] == "SyncFailed").unwrap();
    let body = failed.json();
    assert_eq!(body["object"], json!({"kind": "GitSource", "namespace": ns.name, "name": "repo"}));
    assert_eq!(body["reason"], "ValidationFailed");
    assert_eq!(body["revision"], format!("main@sha1:{bad}"));
    assert_eq!(body["notifier"], format!("{}/hook", ns.name));
    // The receiver checks the signature as the docs tell it to.
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"s3cret-key").unwrap();
    mac.update(&failed.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(failed.header("x-dromos-signature"), Some(format!("sha256={expected}").as_str()));
    assert_eq!(failed.header("content-type"), Some("application/json"));

    let good = commit(&repo, "main", &[("app.yaml", None), ("cm.yaml", Some(CM))], "fixed");
    let got = rx.wait("/hook", "SyncRecovered", |g| events_of(g).contains(&"SyncRecovered".to_string())).await;
    assert_eq!(events_of(&got), ["SyncFailed", "SyncRecovered"], "each once, in order");
    assert_eq!(got[1].json()["revision"], format!("main@sha1:{good}"));

    let slack = rx.wait("/slack", "two messages", |g| g.len() >= 2).await;
    let (s0, s1) = (slack[0].json(), slack[1].json());
    assert!(s0["text"].as_str().unwrap().starts_with(&format!("SyncFailed GitSource {}/repo: ", ns.name)), "{s0}");
    assert_eq!(s0["attachments"][0]["color"], "danger");
    assert_eq!(s1["attachments"][0]["color"], "good");
    assert_eq!(s1["attachments"][0]["fields"][1]["value"], format!("main@sha1:{good}"));
    assert!(slack[0].header("x-dromos-signature").is_none(), "no key, no signature");
    let teams = rx.wait("/teams", "two cards", |g| g.len() >= 2).await;
    let card = teams[0].json();
    assert_eq!((card["@type"].as_str(), card["themeColor"].as_str()), (Some("MessageCard"), Some("D70000")));
    assert_eq!(card["title"], format!("SyncFailed GitSource {}/repo", ns.name));
    assert_eq!(teams[1].json()["themeColor"], "2EB886");

    let hook = notifier_where(&ns, "hook", "2 sent", |n| n.status.as_ref().is_some_and(|s| s.sent == 2)).await;
    let st = hook.status.unwrap();
    assert_eq!((st.failed, st.rate_limited), (0, 0));
    assert!(st.last_sent_time.is_some() && st.last_event_time.is_some());
    assert!(rx.at("/other").is_empty(), "a Notifier of another source got {:?}", events_of(&rx.at("/other")));
    let metrics = dromos::metrics::encode();
    assert!(metrics.contains(r#"dromos_notifications_total{type="slack",result="sent"}"#), "{metrics}");
    assert!(ctx.sent.load(std::sync::atomic::Ordering::Relaxed) >= 6);
    ns.delete().await;
}

#[tokio::test]
async fn commit_statuses_reach_github_and_gitlab_for_the_revisions_a_source_tried() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-status").await;
    let (rx, base) = Receiver::start().await;
    service_account(&ns, "notifier", &["api-token"]).await;
    secret(&ns, "api-token", json!({"token": "t0ken"})).await;
    // Served over HTTP at <server>/acme/shop.git: GitHub's repository derives from that URL.
    let served = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(served.path().join("acme/shop.git")).unwrap();
    let bad = commit(&repo, "main", &[("app.yaml", Some(INVALID_APP))], "an invalid App");
    let server = dromos_tests::githttp::GitHttpServer::start(served.path(), "git", "pw");
    secret(&ns, "git", json!({"username": "git", "password": "pw"})).await;
    let cache = tempfile::tempdir().unwrap();
    let (_ctx, _task) = operators(&c, &ns, Some(cache.path()));
    let events = json!(["SyncFailed", "SyncSucceeded"]);
    create_notifier(
        &ns,
        "github",
        json!({"events": events, "serviceAccountName": "notifier",
        "target": {"type": "github", "address": format!("{base}/gh"), "secretRef": {"name": "api-token"}}}),
    )
    .await;
    create_notifier(&ns, "gitlab", json!({"events": events, "serviceAccountName": "notifier",
        "target": {"type": "gitlab", "address": base, "repository": "group/sub/shop", "secretRef": {"name": "api-token"}}})).await;
    ready_notifier(&ns, "github").await;
    ready_notifier(&ns, "gitlab").await;

    let url = format!("http://{}/acme/shop.git", server.addr);
    create_source(&ns, "shop", json!({"url": url, "interval": "1s", "secretRef": {"name": "git"}})).await;
    let gh_bad = format!("/gh/repos/acme/shop/statuses/{bad}");
    let got = rx.wait(&gh_bad, "a failure status", |g| !g.is_empty()).await;
    let body = got[0].json();
    assert_eq!(body["state"], "failure");
    assert_eq!(body["context"], format!("dromos/{}/shop", ns.name));
    assert!(body["description"].as_str().unwrap().starts_with("SyncFailed: "), "{body}");
    assert!(body["description"].as_str().unwrap().chars().count() <= 140);
    assert_eq!(got[0].header("authorization"), Some("Bearer t0ken"));
    let gl_bad = format!("/api/v4/projects/group%2Fsub%2Fshop/statuses/{bad}");
    let got = rx.wait(&gl_bad, "a failed status", |g| !g.is_empty()).await;
    assert_eq!(got[0].json()["state"], "failed");
    assert_eq!(got[0].json()["name"], format!("dromos/{}/shop", ns.name));
    assert_eq!(got[0].header("private-token"), Some("t0ken"));

    let good = commit(&repo, "main", &[("app.yaml", None), ("cm.yaml", Some(CM))], "fixed");
    let got = rx.wait(&format!("/gh/repos/acme/shop/statuses/{good}"), "a success status", |g| !g.is_empty()).await;
    assert_eq!(got[0].json()["state"], "success");
    let got =
        rx.wait(&format!("/api/v4/projects/group%2Fsub%2Fshop/statuses/{good}"), "a success", |g| !g.is_empty()).await;
    assert_eq!(got[0].json()["state"], "success");
    ns.delete().await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_a_burst_is_rate_limited_and_a_restart_sends_nothing_twice() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-retry").await;
    let (rx, base) = Receiver::start().await;
    rx.fail_first("/flaky", &[503, 502]);
    rx.fail_first("/refusing", &[401]);
    let (ctx, task) = operators(&c, &ns, None);
    let failed = json!(["SyncFailed", "JobLate"]);
    let repo = json!([{"kind": "GitSource"}]);
    create_notifier(
        &ns,
        "flaky",
        json!({"events": failed, "sources": repo, "target": {"type": "webhook", "address": format!("{base}/flaky")}}),
    )
    .await;
    create_notifier(&ns, "refusing", json!({"events": failed, "sources": repo, "target": {"type": "webhook", "address": format!("{base}/refusing")}})).await;
    create_notifier(
        &ns,
        "limited",
        json!({"events": failed, "rateLimitPerMinute": 1,
        "sources": [{"kind": "Job"}], "target": {"type": "slack", "address": format!("{base}/limited")}}),
    )
    .await;
    for n in ["flaky", "refusing", "limited"] {
        ready_notifier(&ns, n).await;
    }

    // Retried through two server errors; a refusal is not retried.
    publish(&c, &ns, "dromos", "GitSource", "repo", "FetchFailed", "unreachable; the last applied revision stays live")
        .await;
    let got = rx.wait("/flaky", "3 attempts", |g| g.len() >= 3).await;
    assert!(got.iter().all(|r| r.body == got[0].body), "every attempt sends the same body");
    let flaky = notifier_where(&ns, "flaky", "1 sent", |n| n.status.as_ref().is_some_and(|s| s.sent == 1)).await;
    assert_eq!(flaky.status.unwrap().failed, 0);
    let refusing =
        notifier_where(&ns, "refusing", "1 failed", |n| n.status.as_ref().is_some_and(|s| s.failed == 1)).await;
    let error = refusing.status.unwrap().last_error.unwrap();
    assert!(error.contains("answered 401") && error.contains("not retried"), "{error}");
    assert_eq!(rx.at("/refusing").len(), 1);

    // Three late runs of Jobs within a minute: one message, two counted as rate-limited.
    for job in ["a", "b", "c"] {
        publish(&c, &ns, "dromos-jobs", "Job", job, "RunMissed", &format!("{job}-1: missed: due 20 min ago")).await;
    }
    let limited = notifier_where(&ns, "limited", "1 sent, 2 rate-limited", |n| {
        n.status.as_ref().is_some_and(|s| s.sent + s.rate_limited == 3)
    })
    .await;
    let st = limited.status.unwrap();
    assert_eq!((st.sent, st.rate_limited), (1, 2), "{st:?}");
    assert_eq!(rx.at("/limited").len(), 1);
    assert!(rx.at("/limited")[0].json()["text"].as_str().unwrap().starts_with(&format!("JobLate Job {}/a", ns.name)));
    assert!(ctx.rate_limited.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    let metrics = dromos::metrics::encode();
    assert!(metrics.contains(r#"dromos_notifications_total{type="slack",result="rate_limited"}"#), "{metrics}");

    // A restart lists every Event again: only the new one is sent (the old ones were handled
    // before it, in order, had they been sent again).
    drop(task);
    let (_ctx, _task) = operators(&c, &ns, None);
    publish(&c, &ns, "dromos", "GitSource", "repo", "ApplyFailed", "after the restart").await;
    let got =
        rx.wait("/flaky", "the new event", |g| g.iter().any(|r| r.json()["message"] == "after the restart")).await;
    let messages: Vec<String> =
        got.iter().map(|r| r.json()["message"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(messages.len(), 4, "3 attempts of the first, then the new one only: {messages:?}");
    ns.delete().await;
}

#[tokio::test]
async fn a_failed_package_install_is_a_failed_plan_step_and_lockdown_refuses_a_notifier_without_identity() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-pkg").await;
    let (rx, base) = Receiver::start().await;
    dromos_tests::init_tracing();
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        packages: Some(Default::default()),
        notifier: Some(options()),
        identity: dromos_core::tenancy::IdentityRules { require_service_account: true, ..Default::default() },
        ..Default::default()
    };
    let (_m, _task) = dromos_tests::operators(&c, opts);
    service_account(&ns, "notifier", &[]).await;
    create_notifier(
        &ns,
        "anonymous",
        json!({"events": ["PlanStepFailed"],
        "target": {"type": "webhook", "address": format!("{base}/anonymous")}}),
    )
    .await;
    let n = notifier_where(&ns, "anonymous", "refused", |n| ready(n).is_some_and(|(s, _, _)| s == "False")).await;
    let (_, reason, message) = ready(&n).unwrap();
    assert_eq!(reason, "ServiceAccountRequired", "{message}");
    assert!(message.contains("this Notifier names none in spec.serviceAccountName; nothing is sent"), "{message}");
    create_notifier(
        &ns,
        "installs",
        json!({"events": ["PlanStepFailed"], "serviceAccountName": "notifier",
        "sources": [{"kind": "Package"}], "target": {"type": "webhook", "address": format!("{base}/installs")}}),
    )
    .await;
    ready_notifier(&ns, "installs").await;

    // The Package operator refuses a package its catalog does not have (as its
    // ServiceAccount: lockdown holds for Packages too).
    let pkg: dromos_crds::Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": "ghost"},
        "spec": {"name": "no-such-package", "serviceAccountName": "notifier"}
    }))
    .unwrap();
    ns.api::<dromos_crds::Package>().create(&PostParams::default(), &pkg).await.unwrap();
    let got = rx.wait("/installs", "PlanStepFailed", |g| !g.is_empty()).await;
    let body = got[0].json();
    assert_eq!(body["event"], "PlanStepFailed");
    assert_eq!(body["object"], json!({"kind": "Package", "namespace": ns.name, "name": "ghost"}));
    assert_eq!(body["reason"], "PackageNotFound", "{body}");
    // The refused Notifier counted the same event as a failure and sent nothing.
    let n = notifier_where(&ns, "anonymous", "1 failed", |n| n.status.as_ref().is_some_and(|s| s.failed == 1)).await;
    assert!(n.status.unwrap().last_error.unwrap().contains("serviceAccountName"));
    assert!(rx.at("/anonymous").is_empty());
    ns.delete().await;
}

#[tokio::test]
async fn a_job_run_that_never_starts_is_a_failed_job() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-job").await;
    let (rx, base) = Receiver::start().await;
    dromos_tests::init_tracing();
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        jobs: Some(Default::default()),
        notifier: Some(options()),
        ..Default::default()
    };
    let (_m, _task) = dromos_tests::operators(&c, opts);
    create_notifier(
        &ns,
        "runs",
        json!({"events": ["JobFailed", "JobLate"], "sources": [{"kind": "Job", "name": "stuck"}],
        "target": {"type": "teams", "address": format!("{base}/runs")}}),
    )
    .await;
    ready_notifier(&ns, "runs").await;
    // No node has the label: its pod never starts, and after maxLaunchDelay the run fails.
    let nowhere = json!({"constraints": [{"attribute": "dromos.io/no-such-label", "operator": "IS", "value": "x"}]});
    let job: dromos_crds::Job = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "stuck"},
        "spec": {"run": {"cmd": "true", "cpus": 0.01, "mem": 16, "placement": nowhere, "maxLaunchDelay": 2}}
    }))
    .unwrap();
    ns.api::<dromos_crds::Job>().create(&PostParams::default(), &job).await.unwrap();
    dromos::operators::jobs::request_run(&c, &ns.name, "stuck").await.expect("request a run");
    let got = rx.wait("/runs", "JobFailed", |g| !g.is_empty()).await;
    let card = got[0].json();
    assert_eq!(card["title"], format!("JobFailed Job {}/stuck", ns.name));
    assert_eq!(card["themeColor"], "D70000");
    assert_eq!(card["sections"][0]["facts"][0], json!({"name": "Reason", "value": "MaxLaunchDelayExceeded"}));
    ns.delete().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_or_answers_too_much_neither_hangs_nor_stops_the_others() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-bounds").await;
    let (rx, base) = Receiver::start().await;
    dromos_tests::init_tracing();
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        notifier: Some(notifier::Options { timeout: Duration::from_secs(1), attempts: 2, ..options() }),
        ..Default::default()
    };
    let (_m, _task) = dromos_tests::operators(&c, opts);
    for path in ["silent", "huge", "fine"] {
        create_notifier(
            &ns,
            path,
            json!({"events": ["SyncFailed"],
            "target": {"type": "webhook", "address": format!("{base}/{path}")}}),
        )
        .await;
        ready_notifier(&ns, path).await;
    }
    publish(&c, &ns, "dromos", "GitSource", "repo", "FetchFailed", "unreachable").await;
    // A silent receiver holds up only its own Notifier.
    rx.wait("/fine", "the notification", |g| g.len() == 1).await;
    let huge = notifier_where(&ns, "huge", "1 sent", |n| n.status.as_ref().is_some_and(|s| s.sent == 1)).await;
    assert_eq!(huge.status.unwrap().failed, 0, "a 200 is a delivery, whatever follows it");
    let silent = notifier_where(&ns, "silent", "1 failed", |n| n.status.as_ref().is_some_and(|s| s.failed == 1)).await;
    let error = silent.status.unwrap().last_error.unwrap();
    assert!(error.contains("no answer within 1 s") && error.contains("gave up after 2 attempts"), "{error}");
    assert_eq!(rx.at("/silent").len(), 2);
    ns.delete().await;
}

#[tokio::test]
async fn a_secret_the_service_account_may_not_read_is_a_clear_status_error() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-secret").await;
    let (rx, base) = Receiver::start().await;
    service_account(&ns, "no-secrets", &[]).await;
    secret(&ns, "hook", json!({"hmacKey": "k"})).await;
    let (_ctx, _task) = operators(&c, &ns, None);
    create_notifier(
        &ns,
        "hook",
        json!({"events": ["SyncFailed"], "serviceAccountName": "no-secrets",
        "target": {"type": "webhook", "address": format!("{base}/hook"), "secretRef": {"name": "hook"}}}),
    )
    .await;
    let n = notifier_where(&ns, "hook", "refused", |n| ready(n).is_some_and(|(s, _, _)| s == "False")).await;
    let (_, reason, message) = ready(&n).unwrap();
    assert_eq!(reason, "SecretUnreadable");
    let who = format!("ServiceAccount {}/no-secrets", ns.name);
    assert!(message.contains(&format!("Secret hook (spec.target.secretRef) cannot be read as {who}")), "{message}");
    assert!(message.contains(r#"secrets "hook" is forbidden"#), "{message}");
    let stalled = n.status.unwrap().common.conditions.into_iter().find(|c| c.type_ == "Stalled").unwrap();
    assert_eq!(stalled.status, "True");

    // An event meanwhile fails the same way, counted, and nothing unsigned leaves.
    publish(&c, &ns, "dromos", "GitSource", "repo", "FetchFailed", "unreachable").await;
    let n = notifier_where(&ns, "hook", "1 failed", |n| n.status.as_ref().is_some_and(|s| s.failed == 1)).await;
    assert!(n.status.unwrap().last_error.unwrap().contains("cannot be read as"));
    assert!(rx.at("/hook").is_empty());
    ns.delete().await;
}

#[tokio::test]
async fn a_finished_deployment_of_an_app_selected_by_its_labels_is_sent() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "notify-app").await;
    let (rx, base) = Receiver::start().await;
    let (_ctx, _task) = operators(&c, &ns, None);
    let (_apps, _sched, _workloads) = dromos_tests::run_apps_and_scheduler(&c, &ns.name, Default::default());
    create_notifier(
        &ns,
        "deploys",
        json!({"events": ["DeploymentFinished", "DeploymentFailed"],
        "sources": [{"kind": "App", "matchLabels": {"team": "web"}}],
        "target": {"type": "webhook", "address": format!("{base}/deploys")}}),
    )
    .await;
    ready_notifier(&ns, "deploys").await;
    let mut app = dromos_tests::app_object("web", json!({"cmd": "sleep 3600", "instances": 1, "cpus": 0.1, "mem": 32}));
    app.metadata.labels = Some([("team".to_string(), "web".to_string())].into());
    ns.api::<dromos_crds::App>().create(&PostParams::default(), &app).await.unwrap();
    let got = rx.wait("/deploys", "DeploymentFinished", |g| !g.is_empty()).await;
    let body = got[0].json();
    assert_eq!(body["event"], "DeploymentFinished");
    assert_eq!(body["object"], json!({"kind": "App", "namespace": ns.name, "name": "web"}));
    assert_eq!(body["severity"], "info");
    ns.delete().await;
}

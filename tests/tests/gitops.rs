//! The GitSource controller against the real control plane, with real Git repositories made
//! in temp dirs: bootstrap, change, invalid commit, prune, deletion guard, no-op resync with
//! zero writes, unreachable remote. Each test runs its own controller scoped to its namespace.

use dromos::operators::gitsource::{Context, Options};
use dromos::operators::manager::ManagerOptions;
use dromos_crds::GitSource;
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds, wait_for};
use git2::Repository;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

const APP: &str = "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  cmd: sleep 3600\n  instances: 2\n  cpus: 0.1\n  mem: 64\n";

struct Harness {
    ns: TestNamespace,
    remote: tempfile::TempDir,
    repo: Repository,
    ctx: Arc<Context>,
    task: dromos_tests::Task,
    cache: tempfile::TempDir,
    client: kube::Client,
    opts: Options,
}

impl Harness {
    async fn new(prefix: &str, files: &[(&str, Option<&str>)]) -> Self {
        dromos_tests::init_tracing();
        let c = client().await;
        install_crds(&c).await;
        let ns = TestNamespace::new(&c, prefix).await;
        let remote = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(remote.path()).unwrap();
        commit(&repo, "main", files, "initial");
        let cache = tempfile::tempdir().unwrap();
        let opts = dromos_tests::gitsource_options(cache.path());
        let (ctx, task) = start(&c, &ns, &opts);
        Self { ns, remote, repo, ctx, task, cache, client: c, opts }
    }

    /// Kills the controller (mid-whatever) and starts a fresh one with the options `change` makes.
    fn restart(&mut self, change: impl FnOnce(&mut Options)) {
        self.task.0.abort();
        change(&mut self.opts);
        (self.ctx, self.task) = start(&self.client, &self.ns, &self.opts);
    }

    async fn create_source(&self, extra: serde_json::Value) {
        let mut spec = serde_json::json!({"url": format!("file://{}", self.remote.path().display()), "interval": "1s"});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        let gs: GitSource = serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"}, "spec": spec
        }))
        .unwrap();
        self.ns.api::<GitSource>().create(&PostParams::default(), &gs).await.expect("create GitSource");
    }

    async fn status_where(&self, what: &str, f: impl Fn(&GitSource) -> bool) -> GitSource {
        let api = self.ns.api::<GitSource>();
        wait_for(what, T, || async {
            let gs = api.get("repo").await.ok()?;
            f(&gs).then_some(gs)
        })
        .await
    }

    async fn ready_at(&self, commit: git2::Oid) -> GitSource {
        self.ready_at_within(commit, T).await
    }

    async fn ready_at_within(&self, commit: git2::Oid, timeout: Duration) -> GitSource {
        let rev = format!("main@sha1:{commit}");
        let api = self.ns.api::<GitSource>();
        wait_for(&format!("Ready at {rev}"), timeout, || async {
            let gs = api.get("repo").await.ok()?;
            let s = gs.status.as_ref();
            (s.and_then(|s| s.last_applied_revision.as_deref()) == Some(rev.as_str())
                && condition(&gs, "Ready") == Some(("True".into(), "Succeeded".into())))
            .then_some(gs)
        })
        .await
    }

    async fn stop(self) {
        self.task.0.abort();
        self.ns.delete().await;
    }
}

/// Aborts the controller task when the test ends, also by panic.
/// The GitSource operator alone, scoped to the test's namespace, through the manager.
fn start(c: &kube::Client, ns: &TestNamespace, opts: &Options) -> (Arc<Context>, dromos_tests::Task) {
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (m, task) =
        dromos_tests::operators(c, ManagerOptions { scope, gitsource: Some(opts.clone()), ..Default::default() });
    (m.context().expect("the GitSource operator"), task)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn condition(gs: &GitSource, t: &str) -> Option<(String, String)> {
    gs.status.as_ref()?.common.conditions.iter().find(|c| c.type_ == t).map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test]
async fn converges_applies_changes_refuses_invalid_commits_prunes_and_resyncs_without_writes() {
    let h = Harness::new(
        "gitops",
        &[("cms/a.yaml", Some(&cm("a", "1"))), ("cms/b.yaml", Some(&cm("b", "1"))), ("apps/web.yaml", Some(APP))],
    )
    .await;
    let c1 = h.repo.refname_to_id("refs/heads/main").unwrap();
    h.create_source(serde_json::json!({})).await;
    let gs = h.ready_at(c1).await;
    let cms = h.ns.api::<ConfigMap>();
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["value"], "1");
    let app = h.ns.api::<dromos_crds::App>().get("web").await.expect("the App is applied");
    assert_eq!(app.spec.instances, Some(2));
    // Its Deployment is the App operator's to create (tests/tests/apps.rs), not the sync's.
    assert!(h.ns.api::<Deployment>().get_opt("web").await.unwrap().is_none());
    let inv = gs.status.as_ref().unwrap().inventory.clone();
    assert!(inv.contains(&format!("v1|ConfigMap|{}|b", h.ns.name)), "{inv:?}");
    assert_eq!(gs.status.as_ref().unwrap().common.observed_generation, gs.metadata.generation);

    // A change is applied.
    let c2 = commit(&h.repo, "main", &[("cms/a.yaml", Some(&cm("a", "2")))], "change a");
    h.ready_at(c2).await;
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["value"], "2");

    // An invalid commit applies nothing, prunes nothing and says why.
    let bad = APP.replace("instances: 2", "instancess: 3");
    let c3 = commit(
        &h.repo,
        "main",
        &[("apps/web.yaml", Some(&bad)), ("cms/a.yaml", Some(&cm("a", "3"))), ("cms/b.yaml", None)],
        "broken",
    );
    let gs = h
        .status_where("ValidationFailed", |gs| {
            condition(gs, "Ready") == Some(("False".into(), "ValidationFailed".into()))
        })
        .await;
    let s = gs.status.unwrap();
    assert_eq!(s.last_attempted_revision, Some(format!("main@sha1:{c3}")));
    assert_eq!(s.last_applied_revision, Some(format!("main@sha1:{c2}")));
    assert_eq!((s.diagnostics[0].file.as_str(), s.diagnostics[0].line), ("apps/web.yaml", 7));
    assert!(s.diagnostics[0].message.contains("instancess"), "{:?}", s.diagnostics);
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["value"], "2", "nothing applied");
    assert!(cms.get_opt("b").await.unwrap().is_some(), "nothing pruned");

    // Fixing it applies the revision and prunes the deleted file's object.
    let c4 = commit(&h.repo, "main", &[("apps/web.yaml", Some(APP))], "fix");
    let gs = h.ready_at(c4).await;
    assert!(cms.get_opt("b").await.unwrap().is_none(), "b was pruned");
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["value"], "3");
    assert!(!gs.status.unwrap().inventory.iter().any(|e| e.ends_with("|b")));

    // No-op resyncs write nothing: several reconciles, zero mutating requests.
    let writes = h.ctx.writes.load(Ordering::SeqCst);
    let reconciles = h.ctx.reconciles.load(Ordering::SeqCst);
    wait_for("3 more reconciles", T, || async {
        (h.ctx.reconciles.load(Ordering::SeqCst) >= reconciles + 3).then_some(())
    })
    .await;
    assert_eq!(h.ctx.writes.load(Ordering::SeqCst), writes, "a no-op resync must not write");
    h.stop().await;
}

/// Files that are not manifests (a Helm chart, a kustomization, drafts a `.dromosignore`
/// names) are skipped, and the GitSource's status lists each with the rule that skipped it;
/// a revision without them clears the list.
/// A source above about 6,000 objects records its inventory packed (listed, it would not fit in
/// the one object that holds it), and prunes from it.
#[tokio::test]
async fn a_long_inventory_is_packed_and_prunes() {
    const FILES: usize = 70;
    let texts: Vec<(String, String)> = (0..FILES)
        .map(|f| {
            let text: String = (0..100)
                .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{f:02}-{i:02}\ndata:\n  value: \"1\"\n"))
                .collect();
            (format!("cms/part-{f:02}.yaml"), text)
        })
        .collect();
    let files: Vec<(&str, Option<&str>)> = texts.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let h = Harness::new("packed", &files).await;
    let c1 = h.repo.refname_to_id("refs/heads/main").unwrap();
    h.create_source(serde_json::json!({})).await;
    let long = Duration::from_secs(300);
    let s = h.ready_at_within(c1, long).await.status.unwrap();
    assert!(s.inventory.is_empty(), "listed: {} entries", s.inventory.len());
    assert!(s.inventory_packed.as_ref().is_some_and(|p| p.len() < 768 * 1024));
    assert_eq!(s.inventory_count, Some(7_000));
    let entries = dromos_core::gitsource::inventory_entries(&s).unwrap();
    assert_eq!(entries.len(), 7_000);
    assert!(entries.contains(&format!("v1|ConfigMap|{}|cm-69-99", h.ns.name)));

    // A file leaves the repository: its 100 objects are pruned, from the packed inventory.
    let c2 = commit(&h.repo, "main", &[("cms/part-00.yaml", None)], "drop one file");
    let s = h.ready_at_within(c2, long).await.status.unwrap();
    assert_eq!(s.inventory_count, Some(6_900));
    assert_eq!(s.last_sync.as_ref().map(|l| l.pruned), Some(100));
    let cms = h.ns.api::<ConfigMap>();
    assert!(cms.get_opt("cm-00-00").await.unwrap().is_none(), "pruned");
    assert!(cms.get_opt("cm-01-00").await.unwrap().is_some(), "kept");
    h.stop().await;
}

#[tokio::test]
async fn skipped_files_are_listed_in_the_status() {
    let a = cm("a", "1");
    let h = Harness::new(
        "skipped",
        &[
            ("a.yaml", Some(a.as_str())),
            ("chart/Chart.yaml", Some("apiVersion: v2\nname: c\nversion: 1.0.0\n")),
            ("kustomization.yaml", Some("resources: [a.yaml]\n")),
            ("drafts/b.yaml", Some("kind: [\n")),
            (".dromosignore", Some("drafts/\n")),
        ],
    )
    .await;
    h.create_source(serde_json::json!({})).await;
    let gs = h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    assert_eq!(
        gs.status.unwrap().skipped,
        [
            ".dromosignore: .dromosignore files hold rules, not manifests",
            "chart/Chart.yaml: default rule `Chart.yaml`",
            "drafts/b.yaml: .dromosignore:1 `drafts/`",
            "kustomization.yaml: default rule `kustomization.yaml`",
        ]
    );
    let next = commit(
        &h.repo,
        "main",
        &[("chart/Chart.yaml", None), ("kustomization.yaml", None), ("drafts/b.yaml", None), (".dromosignore", None)],
        "only manifests",
    );
    let gs = h.ready_at(next).await;
    assert!(gs.status.unwrap().skipped.is_empty(), "the list is cleared");
    h.stop().await;
}

#[tokio::test]
async fn the_deletion_guard_holds_a_mass_delete() {
    let files: Vec<(String, String)> = (0..4).map(|i| (format!("cm{i}.yaml"), cm(&format!("c{i}"), "x"))).collect();
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let h = Harness::new("guard", &refs).await;
    h.create_source(serde_json::json!({})).await;
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    commit(&h.repo, "main", &[("cm1.yaml", None), ("cm2.yaml", None), ("cm3.yaml", None)], "delete most");
    let gs = h
        .status_where("DeletionGuard", |gs| condition(gs, "Ready") == Some(("False".into(), "DeletionGuard".into())))
        .await;
    let msg = gs.status.unwrap().common.conditions.iter().find(|c| c.type_ == "Ready").unwrap().message.clone();
    assert!(msg.contains("3 of 4"), "{msg}");
    let cms = h.ns.api::<ConfigMap>();
    for i in 0..4 {
        assert!(cms.get_opt(&format!("c{i}")).await.unwrap().is_some(), "c{i} must survive");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_unreachable_remote_keeps_the_last_applied_state_and_reports_it() {
    let h = Harness::new("unreach", &[("a.yaml", Some(&cm("a", "1")))]).await;
    h.create_source(serde_json::json!({})).await;
    let c1 = h.repo.refname_to_id("refs/heads/main").unwrap();
    h.ready_at(c1).await;
    std::fs::remove_dir_all(h.remote.path()).unwrap();
    let gs = h
        .status_where("FetchFailed", |gs| condition(gs, "Ready") == Some(("False".into(), "FetchFailed".into())))
        .await;
    assert_eq!(gs.status.unwrap().last_applied_revision, Some(format!("main@sha1:{c1}")));
    assert!(h.ns.api::<ConfigMap>().get_opt("a").await.unwrap().is_some());
    let events: Api<k8s_openapi::api::events::v1::Event> = h.ns.api();
    wait_for("a FetchFailed event", T, || async {
        let l = events.list(&Default::default()).await.ok()?;
        l.items.iter().any(|e| e.reason.as_deref() == Some("FetchFailed")).then_some(())
    })
    .await;
    h.stop().await;
}

/// A remote that accepts connections and never answers: the fetch is abandoned at the fetch
/// timeout with `FetchTimeout`, the next attempts of that repository fail fast the same way,
/// and another source of the same controller goes on syncing meanwhile.
#[tokio::test]
async fn a_remote_that_never_answers_times_out_and_holds_nobody_else() {
    let mut h = Harness::new("silent", &[("a.yaml", Some(&cm("a", "1")))]).await;
    h.restart(|o| o.fetch_timeout = Duration::from_secs(2));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    /// Closes the held connections when dropped (also when the test panics), and every later
    /// one at once: that ends the fetch threads waiting on them, which the test's runtime
    /// waits for when it shuts down.
    #[derive(Default)]
    struct Conns {
        open: Vec<std::net::TcpStream>,
        closed: bool,
    }
    struct Held(std::sync::Arc<std::sync::Mutex<Conns>>);
    impl Drop for Held {
        fn drop(&mut self) {
            let mut c = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            c.closed = true;
            c.open.clear();
        }
    }
    let held = Held(Default::default());
    let held2 = held.0.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut c = held2.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !c.closed {
                c.open.push(conn); // accepted, never read, never answered
            }
        }
    });
    let silent: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "silent"},
        "spec": {"url": format!("http://{addr}/repo.git"), "interval": "1s"}
    }))
    .unwrap();
    h.ns.api::<GitSource>().create(&PostParams::default(), &silent).await.unwrap();
    h.create_source(serde_json::json!({})).await;
    let c1 = h.repo.refname_to_id("refs/heads/main").unwrap();
    let api = h.ns.api::<GitSource>();
    let gs = wait_for("the silent remote timed out", T, || async {
        let gs = api.get("silent").await.ok()?;
        (condition(&gs, "Ready") == Some(("False".into(), "FetchTimeout".into()))).then_some(gs)
    })
    .await;
    let ready = gs.status.unwrap().common.conditions.into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert!(ready.message.contains("within 2s"), "{}", ready.message);
    // The other source was never held up.
    h.ready_at(c1).await;
    let c2 = commit(&h.repo, "main", &[("a.yaml", Some(&cm("a", "2")))], "two");
    h.ready_at(c2).await;
    assert!(!held.0.lock().unwrap().open.is_empty(), "the controller did connect");
    h.stop().await;
}

/// Sends one HTTP/1.1 request to the controller's server; returns (status, body).
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: dromos\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn github_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[tokio::test]
async fn a_signed_push_webhook_triggers_an_immediate_sync_and_metrics_are_served() {
    let h = Harness::new("hook", &[("a.yaml", Some(&cm("a", "1")))]).await;
    // Polling is slow on purpose: only the webhook can make the next revision appear quickly.
    h.create_source(serde_json::json!({"interval": "1h"})).await;
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;

    let state = Arc::new(dromos::http::HttpState {
        metrics: h.ctx.metrics.clone(),
        objects: Default::default(),
        stuck_after: std::time::Duration::from_secs(900),
        ready: std::sync::atomic::AtomicBool::new(false),
        webhook_secret: Some("s3cret".into()),
        client: client().await,
        scope: dromos::scope::Scope::namespace(h.ns.name.clone()),
        trigger: h.ctx.trigger.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = AbortOnDrop(tokio::spawn({
        let state = state.clone();
        async move {
            let _ = axum::serve(listener, dromos::http::router(state)).await;
        }
    }));

    let c2 = commit(&h.repo, "main", &[("a.yaml", Some(&cm("a", "2")))], "change");
    let payload = serde_json::json!({"ref": "refs/heads/main", "repository": {"clone_url": format!("file://{}", h.remote.path().display())}}).to_string();
    let (code, _) = http(
        addr,
        "POST",
        "/hook",
        &[("X-GitHub-Event", "push".into()), ("X-Hub-Signature-256", github_signature("wrong", &payload))],
        &payload,
    )
    .await;
    assert_eq!(code, 401, "a bad signature is refused");
    // A replica that does not run the operators (a follower) is not ready and takes no webhook.
    let signed =
        [("X-GitHub-Event", "push".to_string()), ("X-Hub-Signature-256", github_signature("s3cret", &payload))];
    assert_eq!(http(addr, "GET", "/readyz", &[], "").await.0, 503);
    let (code, body) = http(addr, "POST", "/hook", &signed, &payload).await;
    assert_eq!(code, 503, "{body}");
    state.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(http(addr, "GET", "/readyz", &[], "").await.0, 200);
    let (code, body) = http(
        addr,
        "POST",
        "/hook",
        &[("X-GitHub-Event", "push".into()), ("X-Hub-Signature-256", github_signature("s3cret", &payload))],
        &payload,
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert!(body.contains("triggered 1 source"), "{body}");
    h.ready_at(c2).await;
    assert_eq!(h.ns.api::<ConfigMap>().get("a").await.unwrap().data.unwrap()["value"], "2");

    assert_eq!(http(addr, "GET", "/healthz", &[], "").await, (200, "ok".to_string()));
    let (code, metrics) = http(addr, "GET", "/metrics", &[], "").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("dromos_webhooks_total 1"), "{metrics}");
    assert!(metrics.contains("dromos_sync_duration_seconds_count{source="), "{metrics}");
    assert!(metrics.contains("dromos_objects_applied_total{source="), "{metrics}");
    drop(server);
    h.stop().await;
}

async fn drift_case(self_heal: bool) {
    let h = Harness::new(if self_heal { "drift" } else { "nodrift" }, &[("a.yaml", Some(&cm("a", "1")))]).await;
    // Polling is slow on purpose: only the drift watch can react within the test.
    h.create_source(serde_json::json!({"interval": "1h", "selfHeal": self_heal})).await;
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    let cms = h.ns.api::<ConfigMap>();
    // Like `kubectl edit`: another field manager changes a field Dromos manages.
    let edit = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"value": "edited"}});
    cms.patch("a", &kube::api::PatchParams::apply("kubectl-edit").force(), &kube::api::Patch::Apply(&edit))
        .await
        .unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = h.ns.api();
    let reason = if self_heal { "DriftCorrected" } else { "DriftDetected" };
    wait_for(reason, Duration::from_secs(30), || async {
        let l = events.list(&Default::default()).await.ok()?;
        l.items.iter().any(|e| e.reason.as_deref() == Some(reason)).then_some(())
    })
    .await;
    let value = cms.get("a").await.unwrap().data.unwrap()["value"].clone();
    assert_eq!(value, if self_heal { "1" } else { "edited" });
    h.stop().await;
}

#[tokio::test]
async fn drift_is_reverted_within_seconds() {
    drift_case(true).await;
}

#[tokio::test]
async fn drift_is_only_reported_when_self_heal_is_off() {
    drift_case(false).await;
}

/// The count of completed reconciles once none has completed for 3 s.
async fn settle(ctx: &Context, what: &str) -> usize {
    let start = std::time::Instant::now();
    let mut last = (ctx.reconciles.load(Ordering::SeqCst), std::time::Instant::now());
    loop {
        let now = ctx.reconciles.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        if last.1.elapsed() > Duration::from_secs(3) {
            return now;
        }
        assert!(start.elapsed() < T, "{what}: reconciles still completing after {T:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A sync's own writes (creations, updates, deletions) and its own status write start no
/// second sync; a change by anyone else does, once.
#[tokio::test]
async fn a_syncs_own_writes_start_no_second_sync() {
    let files: Vec<(String, String)> = (0..10).map(|i| (format!("c{i}.yaml"), cm(&format!("c{i}"), "1"))).collect();
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(f, c)| (f.as_str(), Some(c.as_str()))).collect();
    let h = Harness::new("ownwrites", &refs).await;
    // Polling is slow on purpose: only the drift watch, status changes and the test's own
    // requests can start a reconcile.
    h.create_source(serde_json::json!({"interval": "1h"})).await;
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    // The drift watch starts after the first sync, and its first list has the source look once
    // more (what changed before the watch began); then nothing moves.
    let before = settle(&h.ctx, "the reconciles after the first sync").await;

    // Three changed, two added, two removed: one reconcile applies and prunes them.
    let mut change: Vec<(String, Option<String>)> =
        (0..3).map(|i| (format!("c{i}.yaml"), Some(cm(&format!("c{i}"), "2")))).collect();
    change.extend((10..12).map(|i| (format!("c{i}.yaml"), Some(cm(&format!("c{i}"), "1")))));
    change.extend((8..10).map(|i| (format!("c{i}.yaml"), None)));
    let change: Vec<(&str, Option<&str>)> = change.iter().map(|(f, c)| (f.as_str(), c.as_deref())).collect();
    let c2 = commit(&h.repo, "main", &change, "change, add, remove");
    // As `dromos source reconcile` asks (the interval is an hour).
    dromos::status::request_source_reconcile(&h.client, &h.ns.name, "repo", false).await.unwrap();
    h.ready_at(c2).await;
    let cms = h.ns.api::<ConfigMap>();
    assert!(cms.get_opt("c9").await.unwrap().is_none() && cms.get_opt("c11").await.unwrap().is_some());
    let after_commit = settle(&h.ctx, "the reconciles after the commit").await;
    assert_eq!(after_commit, before + 1, "the commit's sync alone: its own writes and status start no other");

    // Someone else's edit is drift: exactly one reconcile reverts it.
    let edit = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c5"}, "data": {"value": "edited"}});
    cms.patch("c5", &kube::api::PatchParams::apply("kubectl-edit").force(), &kube::api::Patch::Apply(&edit))
        .await
        .unwrap();
    wait_for("c5 reverted", T, || async { (cms.get("c5").await.ok()?.data?["value"] == "1").then_some(()) }).await;
    let after_drift = settle(&h.ctx, "the reconciles after the drift").await;
    assert_eq!(after_drift, after_commit + 1, "one reconcile for the edit, none for its own revert");
    h.stop().await;
}

#[tokio::test]
async fn a_controller_killed_mid_sync_converges_after_restart_with_nothing_lost_or_duplicated() {
    let body: String = (0..300).map(|i| format!("---\n{}", cm(&format!("c{i}"), "x"))).collect();
    let mut h = Harness::new("killed", &[("all.yaml", Some(&body))]).await;
    // One write at a time so the sync takes long enough to be interrupted.
    h.restart(|o| o.write_concurrency = 1);
    h.create_source(serde_json::json!({})).await;
    let cms = h.ns.api::<ConfigMap>();
    let lp = kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=dromos");
    let partial = wait_for("the first objects of the sync", T, || async {
        let n = cms.list(&lp).await.ok()?.items.len();
        (n > 0).then_some(n)
    })
    .await;
    h.restart(|o| o.write_concurrency = 16);
    let after_kill = cms.list(&lp).await.unwrap().items.len();
    assert!(partial < 300 && after_kill < 300, "the sync must be interrupted midway ({after_kill} of 300 applied)");
    let gs = h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    assert_eq!(cms.list(&lp).await.unwrap().items.len(), 300);
    let inv = gs.status.unwrap().inventory;
    let unique: std::collections::BTreeSet<&String> = inv.iter().collect();
    assert_eq!((inv.len(), unique.len()), (300, 300));
    h.stop().await;
}

#[tokio::test]
async fn a_suspended_source_applies_nothing_until_resumed() {
    let h = Harness::new("suspend", &[("a.yaml", Some(&cm("a", "1")))]).await;
    h.create_source(serde_json::json!({"suspend": true})).await;
    h.status_where("Suspended", |gs| condition(gs, "Ready").is_some_and(|c| c.1 == "Suspended")).await;
    assert!(h.ns.api::<ConfigMap>().get_opt("a").await.unwrap().is_none());
    let patch = serde_json::json!({"spec": {"suspend": false}});
    h.ns.api::<GitSource>()
        .patch("repo", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await
        .unwrap();
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    assert!(h.ns.api::<ConfigMap>().get_opt("a").await.unwrap().is_some());
    h.stop().await;
}

#[tokio::test]
async fn prune_keeps_protected_kinds_and_objects_marked_prune_disabled() {
    let keep = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  annotations: {dromos.io/prune: disabled}\ndata: {value: \"1\"}\n";
    let pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n";
    let h = Harness::new(
        "keep",
        &[
            ("a.yaml", Some(&cm("a", "1"))),
            ("c.yaml", Some(&cm("c", "1"))),
            ("d.yaml", Some(&cm("d", "1"))),
            ("keep.yaml", Some(keep)),
            ("pvc.yaml", Some(pvc)),
        ],
    )
    .await;
    h.create_source(serde_json::json!({})).await;
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    let gone = commit(&h.repo, "main", &[("c.yaml", None), ("keep.yaml", None), ("pvc.yaml", None)], "remove three");
    let gs = h.ready_at(gone).await;
    let cms = h.ns.api::<ConfigMap>();
    assert!(cms.get_opt("c").await.unwrap().is_none(), "a plain object is pruned");
    assert!(cms.get_opt("keep").await.unwrap().is_some(), "dromos.io/prune: disabled keeps it");
    let claims = h.ns.api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>();
    let claim = claims.get_opt("data").await.unwrap().expect("a claim is a protected kind: kept");
    assert!(claim.metadata.deletion_timestamp.is_none());
    let inv = gs.status.unwrap().inventory;
    assert!(
        !inv.iter().any(|e| e.ends_with("|keep") || e.ends_with("|data")),
        "kept objects leave the inventory: {inv:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_local_repository_is_refused_without_the_flag_and_nothing_is_fetched() {
    let mut h = Harness::new("nolocal", &[("a.yaml", Some(&cm("a", "1")))]).await;
    // As `dromos controller` without --allow-local-git.
    h.restart(|o| o.allow_file_urls = false);
    h.create_source(serde_json::json!({})).await;
    let gs = h
        .status_where("URLNotAllowed", |gs| condition(gs, "Ready") == Some(("False".into(), "URLNotAllowed".into())))
        .await;
    assert_eq!(condition(&gs, "Stalled"), Some(("True".into(), "URLNotAllowed".into())));
    let s = gs.status.unwrap();
    let ready = s.common.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert!(ready.message.contains("--allow-local-git"), "{}", ready.message);
    assert_eq!(s.last_applied_revision, None);
    assert!(h.ns.api::<ConfigMap>().get_opt("a").await.unwrap().is_none(), "nothing applied");
    assert_eq!(std::fs::read_dir(h.cache.path()).unwrap().count(), 0, "nothing fetched");
    h.stop().await;
}

#[tokio::test]
async fn credentials_in_a_url_never_reach_status_events_logs_or_metrics() {
    const TOKEN: &str = "S3CRETTOKEN";
    let h = Harness::new("redact", &[("a.yaml", Some(&cm("a", "1")))]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The listener is dropped: nothing listens on that port.
    let url = format!("https://bot:{TOKEN}@127.0.0.1:{port}/repo.git");
    h.create_source(serde_json::json!({"url": url})).await;
    let gs = h
        .status_where("FetchFailed", |gs| condition(gs, "Ready") == Some(("False".into(), "FetchFailed".into())))
        .await;
    let server = format!("127.0.0.1:{port}");
    let status = serde_json::to_string(&gs.status).unwrap();
    assert!(status.contains(&format!("{server}/repo.git")), "the message names the repository: {status}");
    let events: Api<k8s_openapi::api::events::v1::Event> = h.ns.api();
    let events = wait_for("a FetchFailed event", T, || async {
        let l = events.list(&Default::default()).await.ok()?;
        l.items.iter().any(|e| e.reason.as_deref() == Some("FetchFailed")).then(|| serde_json::to_string(&l).unwrap())
    })
    .await;
    let logs = wait_for("the failed fetch in the logs", T, || async {
        let logs = dromos_tests::captured_logs();
        logs.lines().any(|l| l.contains(&h.ns.name) && l.contains(&server)).then_some(logs)
    })
    .await;
    let metrics = h.ctx.metrics.encode();
    assert!(metrics.contains("FetchFailed"), "{metrics}");
    for (what, text) in [("status", &status), ("Events", &events), ("logs", &logs), ("metrics", &metrics)] {
        assert!(!text.contains(TOKEN), "the token is in the {what}: {text}");
    }
    h.stop().await;
}

#[tokio::test]
async fn a_commit_that_respells_a_number_is_applied() {
    let h = Harness::new("respell", &[("a.yaml", Some(&cm("a", "1.10"))), ("b.yaml", Some(&cm("b", "1000")))]).await;
    h.create_source(serde_json::json!({})).await;
    h.ready_at(h.repo.refname_to_id("refs/heads/main").unwrap()).await;
    let cms = h.ns.api::<ConfigMap>();
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["value"], "1.10");
    // Equal as numbers, different as strings: a ConfigMap stores what it is given.
    let c2 = commit(&h.repo, "main", &[("a.yaml", Some(&cm("a", "1.1"))), ("b.yaml", Some(&cm("b", "1k")))], "respell");
    h.ready_at(c2).await;
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["value"], "1.1");
    assert_eq!(cms.get("b").await.unwrap().data.unwrap()["value"], "1k");
    h.stop().await;
}

/// The plan's model of the server's quantity normalisation, checked against the server.
#[tokio::test]
async fn the_api_server_stores_quantities_as_the_plan_models_them() {
    use k8s_openapi::api::core::v1::ResourceQuota;
    let c = client().await;
    let ns = TestNamespace::new(&c, "quantity").await;
    let written = [
        "1.10",
        "1000",
        "0.50",
        "1024Mi",
        "1.5Gi",
        "0.5Ki",
        "1000Ki",
        "1e3",
        "1000e0",
        "1E3",
        "12.",
        ".5",
        "1536Mi",
        "1073741824",
        "3.001P",
        "1e21",
    ];
    // A dry run returns the object as the server would store it, and stores nothing.
    let dry = PostParams { dry_run: true, ..Default::default() };
    for w in written {
        let rq: ResourceQuota = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"requests.memory": w}}
        }))
        .unwrap();
        let stored = ns.api::<ResourceQuota>().create(&dry, &rq).await.expect("dry-run quota");
        let got = stored.spec.unwrap().hard.unwrap()["requests.memory"].0.clone();
        assert_eq!(Some(got), dromos_core::plan::canonical_quantity(w), "{w}");
    }
    ns.delete().await;
}

/// Admission refuses intervals and periods outside their bounds (decision 0040). Other test
/// binaries may re-apply their own CRDs to the shared cluster meanwhile: each try applies ours
/// first, and a dry run creates nothing.
#[tokio::test]
async fn admission_refuses_intervals_and_periods_out_of_bounds() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "bounds").await;
    let dry = PostParams { dry_run: true, ..Default::default() };
    let gs = |interval: &str| -> GitSource {
        serde_json::from_value(serde_json::json!({"apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
            "metadata": {"name": "g"}, "spec": {"url": "https://example.com/r.git", "interval": interval}}))
        .unwrap()
    };
    let job = |schedule: &str| -> dromos_crds::Job {
        serde_json::from_value(serde_json::json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Job",
            "metadata": {"name": "j"}, "spec": {"run": {"cmd": "true"}, "schedule": schedule}}))
        .unwrap()
    };
    let (gss, jobs) = (ns.api::<GitSource>(), ns.api::<dromos_crds::Job>());
    wait_for("out-of-bounds values refused, bounds accepted", T, || async {
        install_crds(&c).await;
        for bad in ["1ms", "999ms", "25h", "99999999999999999999h"] {
            gss.create(&dry, &gs(bad)).await.err()?;
        }
        for bad in ["R//PT0.0001S", "R//PT0S", "R/2026-01-01T00:00:00Z/P0DT0H0M0.5S"] {
            jobs.create(&dry, &job(bad)).await.err()?;
        }
        gss.create(&dry, &gs("1s")).await.ok()?;
        gss.create(&dry, &gs("24h")).await.ok()?;
        jobs.create(&dry, &job("R//PT1S")).await.ok()?;
        jobs.create(&dry, &job("R//P1DT0.5S")).await.ok()?;
        Some(())
    })
    .await;
    ns.delete().await;
}

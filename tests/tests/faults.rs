//! The fault-injection suite: the controller against the real control plane while its parts
//! fail. API errors (500, 429), slow answers and an API server that stops answering, through a
//! fault proxy (`dromos_tests::faultproxy`); watches cut and expired while objects drift; the
//! API server and etcd restarted mid-sync (`tests/cluster/restart`); the `dromos controller`
//! process SIGKILLed mid-apply and started again; two replicas with a leader change during a
//! webhook burst.
//!
//! After each: no object lost, none duplicated, no Job run started twice, the state converges,
//! and the time to recover is printed as a `fault:` line (RELIABILITY.md quotes them). The
//! tests restart shared components, so they take turns (`serial`).

use dromos::operators::gitsource::Options;
use dromos::operators::manager::ManagerOptions;
use dromos_crds::GitSource;
use dromos_tests::faultproxy::{Fault, FaultProxy};
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds, wait_for};
use git2::Repository;
use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(180);

/// One fault test at a time: they restart components every test shares.
fn serial() -> std::fs::File {
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/dromos-faults.lock")
        .expect("open /tmp/dromos-faults.lock");
    f.lock().expect("lock /tmp/dromos-faults.lock");
    f
}

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

/// `n` ConfigMap files `cms/c<i>.yaml` with `value`.
fn cms(range: std::ops::Range<usize>, value: &str) -> Vec<(String, Option<String>)> {
    range.map(|i| (format!("cms/c{i}.yaml"), Some(cm(&format!("c{i}"), value)))).collect()
}

fn refs(files: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    files.iter().map(|(p, t)| (p.as_str(), t.as_deref())).collect()
}

fn report(scenario: &str, figures: &str) {
    println!("fault: {scenario}: {figures}");
    eprintln!("fault: {scenario}: {figures}");
}

/// A test namespace, a bare repository and what reads the cluster's state.
struct Setup {
    admin: kube::Client,
    ns: TestNamespace,
    remote: tempfile::TempDir,
    repo: Repository,
    cache: tempfile::TempDir,
}

impl Setup {
    async fn new(prefix: &str, files: &[(String, Option<String>)]) -> Self {
        dromos_tests::init_tracing();
        let admin = client().await;
        install_crds(&admin).await;
        let ns = TestNamespace::new(&admin, prefix).await;
        let remote = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(remote.path()).unwrap();
        commit(&repo, "main", &refs(files), "initial");
        Self { admin, ns, remote, repo, cache: tempfile::tempdir().unwrap() }
    }

    fn url(&self) -> String {
        format!("file://{}", self.remote.path().display())
    }

    fn head(&self) -> git2::Oid {
        self.repo.refname_to_id("refs/heads/main").unwrap()
    }

    fn commit(&self, files: &[(String, Option<String>)], msg: &str) -> git2::Oid {
        commit(&self.repo, "main", &refs(files), msg)
    }

    async fn create_source(&self, extra: serde_json::Value) {
        let mut spec = serde_json::json!({"url": self.url(), "interval": "1s"});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        let gs: GitSource = serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"}, "spec": spec
        }))
        .unwrap();
        self.ns.api::<GitSource>().create(&PostParams::default(), &gs).await.expect("create GitSource");
    }

    /// The in-process GitSource operator, scoped to the namespace, talking through `c`, writing
    /// at most `qps` objects per second (0: unlimited) so that a fault can land mid-sync.
    fn operator(&self, c: &kube::Client, qps: f64) -> dromos_tests::Task {
        let opts = Options {
            limiter: (qps > 0.0).then(|| std::sync::Arc::new(dromos::ratelimit::Limiter::new(qps, 10))),
            ..dromos_tests::gitsource_options(self.cache.path())
        };
        let scope = dromos::scope::Scope::namespace(self.ns.name.clone());
        dromos_tests::operators(c, ManagerOptions { scope, gitsource: Some(opts), ..Default::default() }).1
    }

    /// Waits (reading with the admin client, whatever the fault) until the source is Ready at
    /// `commit`; returns how long that took.
    async fn ready_at(&self, commit: git2::Oid, timeout: Duration) -> Duration {
        let start = Instant::now();
        let rev = format!("main@sha1:{commit}");
        let api = self.ns.api::<GitSource>();
        wait_for(&format!("Ready at {rev}"), timeout, || async {
            let gs = api.get("repo").await.ok()?;
            let s = gs.status.as_ref()?;
            let ready = s.common.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
            (ready && s.last_applied_revision.as_deref() == Some(rev.as_str())).then_some(())
        })
        .await;
        start.elapsed()
    }

    /// The ConfigMaps of the namespace by name, with their `value` (the API server's own
    /// `kube-root-ca.crt` left out).
    async fn configmaps(&self) -> BTreeMap<String, String> {
        let list = self.ns.api::<ConfigMap>().list(&ListParams::default()).await.expect("list ConfigMaps");
        list.items
            .into_iter()
            .filter(|c| c.metadata.name.as_deref() != Some("kube-root-ca.crt"))
            .map(|c| {
                let v = c.data.and_then(|d| d.get("value").cloned()).unwrap_or_default();
                (c.metadata.name.unwrap_or_default(), v)
            })
            .collect()
    }

    /// Exactly the ConfigMaps `c<i>` for `range` with `value` exist (nothing lost, nothing
    /// extra), and the source's inventory names exactly them.
    async fn assert_exactly(&self, range: std::ops::Range<usize>, value: &str) {
        let want: BTreeMap<String, String> = range.map(|i| (format!("c{i}"), value.to_string())).collect();
        assert_eq!(self.configmaps().await, want);
        let gs = self.ns.api::<GitSource>().get("repo").await.unwrap();
        let mut inv = gs.status.unwrap().inventory;
        inv.sort();
        let mut expected: Vec<String> = want.keys().map(|n| format!("v1|ConfigMap|{}|{n}", self.ns.name)).collect();
        expected.sort();
        assert_eq!(inv, expected, "the inventory names exactly what exists");
    }
}

#[tokio::test]
async fn api_errors_slow_answers_and_a_silent_api_server_delay_syncs_but_lose_nothing() {
    let _turn = serial();
    let s = Setup::new("fault-api", &cms(0..60, "1")).await;
    let proxy = FaultProxy::start(s.admin.clone()).await;
    let _op = s.operator(&proxy.client(), 0.0);

    // Fault-free floor: the first sync and a change of 20 objects. Times include the wait for
    // the next poll (interval 1 s).
    let start = Instant::now();
    s.create_source(serde_json::json!({})).await;
    s.ready_at(s.head(), T).await;
    let cold = start.elapsed();
    s.assert_exactly(0..60, "1").await;
    let c = s.commit(&cms(0..20, "2"), "change 20");
    let floor = s.ready_at(c, T).await;

    // Every third request fails, alternately 500 and 429 (Retry-After: 1).
    proxy.set(Fault::Errors { every: 3, statuses: vec![500, 429] });
    let mut files = cms(0..20, "3");
    files.extend((50..60).map(|i| (format!("cms/c{i}.yaml"), None)));
    let c = s.commit(&files, "change 20, delete 10");
    let errors = s.ready_at(c, T).await;
    let injected = proxy.injected();
    assert!(injected > 0, "the proxy injected errors");
    proxy.set(Fault::Pass);
    let want: BTreeMap<String, String> =
        (0..50).map(|i| (format!("c{i}"), if i < 20 { "3" } else { "1" }.to_string())).collect();
    assert_eq!(s.configmaps().await, want);

    // Every answer 400 ms late.
    proxy.set(Fault::Slow(Duration::from_millis(400)));
    let c = s.commit(&cms(0..50, "4"), "change all");
    let slow = s.ready_at(c, T).await;
    proxy.set(Fault::Pass);
    s.assert_exactly(0..50, "4").await;

    // The API server stops answering for 15 s while a commit waits; then answers again.
    proxy.set(Fault::Blackhole);
    let c = s.commit(&cms(0..50, "5"), "change all again");
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(s.configmaps().await.get("c0").map(String::as_str), Some("4"), "nothing passes a silent API server");
    proxy.set(Fault::Pass);
    let after_silence = s.ready_at(c, T).await;
    s.assert_exactly(0..50, "5").await;

    report(
        "api errors",
        &format!(
            "cold sync of 60 {:.1}s; change of 20 fault-free {:.1}s; 30 changes with every 3rd request failing ({injected} injected 500/429) {:.1}s; 50 changes with 400 ms answers {:.1}s; converged {:.1}s after a 15 s silence ended",
            cold.as_secs_f64(),
            floor.as_secs_f64(),
            errors.as_secs_f64(),
            slow.as_secs_f64(),
            after_silence.as_secs_f64()
        ),
    );
    s.ns.delete().await;
}

#[tokio::test]
async fn cut_and_expired_watches_never_hide_drift() {
    let _turn = serial();
    let s = Setup::new("fault-watch", &cms(0..5, "1")).await;
    let proxy = FaultProxy::start(s.admin.clone()).await;
    let _op = s.operator(&proxy.client(), 0.0);
    // Polling is slow on purpose: only the drift watch can react within the test.
    s.create_source(serde_json::json!({"interval": "1h"})).await;
    s.ready_at(s.head(), T).await;
    let api = s.ns.api::<ConfigMap>();
    let healed = |name: &'static str| {
        let api = api.clone();
        async move {
            wait_for(&format!("{name} restored to 1"), Duration::from_secs(60), || async {
                let c = api.get_opt(name).await.ok()??;
                (c.data?.get("value")? == "1").then_some(())
            })
            .await
        }
    };
    let edit = |name: &str| serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": "edited"}});
    let kubectl = kube::api::PatchParams::apply("kubectl-edit").force();

    // Cut: every open watch ends with a transport error, then objects drift.
    proxy.cut_watches();
    let start = Instant::now();
    api.delete("c0", &DeleteParams::default()).await.unwrap();
    api.patch("c1", &kubectl, &kube::api::Patch::Apply(&edit("c1"))).await.unwrap();
    healed("c0").await;
    healed("c1").await;
    let after_cut = start.elapsed();
    assert!(proxy.watches_cut() > 0, "watches were open and cut");

    // Expired: watches end with 410 Gone and cannot list again until the outage ends; the
    // objects drift meanwhile, so only the new list shows it (a deletion shows as an absence).
    proxy.set(Fault::WatchOutage);
    proxy.expire_watches();
    tokio::time::sleep(Duration::from_secs(2)).await;
    api.delete("c2", &DeleteParams::default()).await.unwrap();
    api.patch("c3", &kubectl, &kube::api::Patch::Apply(&edit("c3"))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let start = Instant::now();
    proxy.set(Fault::Pass);
    healed("c2").await;
    healed("c3").await;
    let after_outage = start.elapsed();
    s.assert_exactly(0..5, "1").await;

    report(
        "watches",
        &format!(
            "drift healed {:.1}s after every watch was cut; drift made during a 7 s watch outage that began with 410 Gone healed {:.1}s after it ended",
            after_cut.as_secs_f64(),
            after_outage.as_secs_f64()
        ),
    );
    s.ns.delete().await;
}

/// Restarts a control plane component with `tests/cluster/restart`; returns (down, ready) s.
fn restart(component: &str, extra: &[&str]) -> (f64, f64) {
    let script = dromos_tests::chart::repo_root().join("tests/cluster/restart");
    let out = std::process::Command::new(&script)
        .arg(component)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(out.status.success(), "{} {component} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().expect("restart prints seconds"));
    (it.next().expect("down"), it.next().expect("ready"))
}

async fn restart_mid_sync(component: &str, prefix: &str) {
    let _turn = serial();
    let s = Setup::new(prefix, &cms(0..300, "1")).await;
    // 100 writes/s: the 300 objects take 3 s, and the restart lands in the middle.
    let _op = s.operator(&s.admin, 100.0);
    s.create_source(serde_json::json!({})).await;
    // Mid-sync: some objects applied, most not.
    let api = s.ns.api::<ConfigMap>();
    wait_for("the sync under way", T, || async {
        let n = api.list_metadata(&ListParams::default()).await.ok()?.items.len();
        (n > 20).then_some(())
    })
    .await;
    let before = s.configmaps().await.len();
    let start = Instant::now();
    let (down, ready) = restart(component, &["--down-for", "3"]);
    s.ready_at(s.head(), T).await;
    let converged = start.elapsed();
    s.assert_exactly(0..300, "1").await;
    // And it keeps working: a change after the restart is applied.
    let c = s.commit(&cms(0..300, "2"), "change all");
    let next = s.ready_at(c, T).await;
    s.assert_exactly(0..300, "2").await;
    report(
        &format!("{component} restart"),
        &format!(
            "killed with {before} of 300 applied, down {down:.1}s, serving again {ready:.1}s after the kill; sync converged {:.1}s after the kill; the next change of 300 took {:.1}s",
            converged.as_secs_f64(),
            next.as_secs_f64()
        ),
    );
    s.ns.delete().await;
}

#[tokio::test]
async fn an_api_server_restart_mid_sync_is_survived() {
    restart_mid_sync("kube-apiserver", "fault-apiserver").await;
}

#[tokio::test]
async fn an_etcd_restart_mid_sync_is_survived() {
    restart_mid_sync("etcd", "fault-etcd").await;
}

/// A `dromos controller` process; SIGKILLed when dropped.
struct Controller {
    child: std::process::Child,
    addr: String,
    log: PathBuf,
}

impl Controller {
    fn start(bin: &Path, ns: &str, cache: &Path, log: PathBuf, extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let out = std::fs::File::options().create(true).append(true).open(&log).unwrap();
        let child = std::process::Command::new(bin)
            .args(["controller", "--namespace", ns, "--allow-local-git", "--listen", &addr])
            .arg("--cache-dir")
            .arg(cache)
            .args(["--no-packages", "--no-apps", "--no-scheduler"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("HOSTNAME", format!("replica-{port}"))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start dromos controller");
        Self { child, addr, log }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.1 request to `addr`; returns the status code (0: no connection).
async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await else {
        return 0;
    };
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out)).await;
    out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Every batch/v1 Job of Dromos Job `job`: (scheduled time, attempt names) of each run.
async fn runs_by_fire(admin: &kube::Client, ns: &str, job: &str) -> BTreeMap<String, Vec<String>> {
    let api: Api<BatchJob> = Api::namespaced(admin.clone(), ns);
    let list = api.list(&ListParams::default().labels(&format!("dromos.io/job={job}"))).await.unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for j in list.items {
        let ann = j.metadata.annotations.clone().unwrap_or_default();
        let fire = ann.get("dromos.io/scheduled-time").cloned().unwrap_or_else(|| format!("{ann:?}"));
        out.entry(fire).or_default().push(j.metadata.name.unwrap_or_default());
    }
    out
}

#[tokio::test]
async fn a_controller_killed_mid_apply_converges_on_restart_and_starts_no_run_twice() {
    let _turn = serial();
    let bin = dromos_tests::dromos_bin();
    let s = Setup::new("fault-kill", &cms(0..300, "1")).await;
    // A Job firing every 3 s, running across the kill.
    let beat: dromos_crds::Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "beat"},
        "spec": {"schedule": "R//PT3S", "run": {"cmd": "true"}}
    }))
    .unwrap();
    s.ns.api::<dromos_crds::Job>().create(&PostParams::default(), &beat).await.unwrap();
    let logs = tempfile::tempdir().unwrap();
    // 50 requests/s: the 300 objects take 6 s, and the kill lands in the middle.
    let slow = ["--qps", "50", "--burst", "10"];
    let mut ctl = Controller::start(&bin, &s.ns.name, s.cache.path(), logs.path().join("first.log"), &slow);
    s.create_source(serde_json::json!({})).await;
    let api = s.ns.api::<ConfigMap>();
    wait_for("the sync under way", T, || async {
        let n = api.list_metadata(&ListParams::default()).await.ok()?.items.len();
        (n > 30).then_some(())
    })
    .await;
    ctl.kill();
    let killed_at = Instant::now();
    let at_kill = s.configmaps().await;
    let applied = at_kill.len();
    let gs = s.ns.api::<GitSource>().get("repo").await.unwrap();
    let inventory_at_kill = gs.status.map(|s| s.inventory.len()).unwrap_or(0);
    assert!(
        applied < 300 && inventory_at_kill == 0,
        "killed mid-apply: {applied} applied, {inventory_at_kill} recorded"
    );
    let runs_at_kill = runs_by_fire(&s.admin, &s.ns.name, "beat").await.len();
    // While it is down, a quarter of the objects it applied (and never recorded) leave Git
    // (the deletion guard weighs them against the labelled objects found, and allows half).
    let gone: Vec<String> = at_kill.keys().take((applied / 4).max(1)).cloned().collect();
    let deletions: Vec<(String, Option<String>)> = gone.iter().map(|n| (format!("cms/{n}.yaml"), None)).collect();
    let c = s.commit(&deletions, "delete some applied before the kill");
    tokio::time::sleep(Duration::from_secs(4)).await;

    let ctl2 = Controller::start(&bin, &s.ns.name, s.cache.path(), logs.path().join("second.log"), &[]);
    s.ready_at(c, T).await;
    let converged = killed_at.elapsed();
    let want: BTreeMap<String, String> =
        (0..300).map(|i| format!("c{i}")).filter(|n| !gone.contains(n)).map(|n| (n, "1".to_string())).collect();
    assert_eq!(s.configmaps().await, want, "all applied, and the objects that left Git pruned though never recorded");

    // Runs: one per fire, one attempt each, before and after the kill.
    let runs = wait_for("runs of beat after the restart", T, || async {
        let r = runs_by_fire(&s.admin, &s.ns.name, "beat").await;
        (r.len() >= runs_at_kill + 2).then_some(r)
    })
    .await;
    assert!(runs_at_kill >= 1, "the Job ran before the kill");
    for (fire, attempts) in &runs {
        assert_eq!(attempts.len(), 1, "fire {fire} started {attempts:?}");
    }
    let job = s.ns.api::<dromos_crds::Job>().get("beat").await.unwrap();
    let history = job.status.map(|s| s.runs).unwrap_or_default();
    let mut fires: Vec<_> = history.iter().filter_map(|r| r.scheduled_time.clone()).collect();
    let n = fires.len();
    fires.sort();
    fires.dedup();
    assert_eq!(fires.len(), n, "a fire recorded twice in the history: {history:#?}");
    report(
        "controller SIGKILL",
        &format!(
            "killed with {applied} of 300 applied (none recorded), {} of them removed from Git meanwhile; restarted 4 s later; converged and pruned {:.1}s after the kill; {} runs of a 3 s Job ({runs_at_kill} before the kill), one attempt each",
            gone.len(),
            converged.as_secs_f64(),
            runs.len()
        ),
    );
    drop(ctl2);
    s.ns.delete().await;
}

#[tokio::test]
async fn a_leader_change_during_a_webhook_burst_loses_no_commit() {
    let _turn = serial();
    let bin = dromos_tests::dromos_bin();
    let s = Setup::new("fault-leader", &cms(0..10, "0")).await;
    let logs = tempfile::tempdir().unwrap();
    let secret = "fault-secret";
    let lease = ["--leader-elect", "--lease-namespace", s.ns.name.as_str(), "--webhook-secret", secret];
    let cache2 = tempfile::tempdir().unwrap();
    let mut replicas = vec![
        Controller::start(&bin, &s.ns.name, s.cache.path(), logs.path().join("a.log"), &lease),
        Controller::start(&bin, &s.ns.name, cache2.path(), logs.path().join("b.log"), &lease),
    ];
    // Polling is slow on purpose: commits arrive through webhooks.
    s.create_source(serde_json::json!({"interval": "30s"})).await;
    s.ready_at(s.head(), T).await;
    let leader = |replicas: &Vec<Controller>| {
        let addrs: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
        async move {
            for (i, a) in addrs.iter().enumerate() {
                if http(a, "GET", "/readyz", &[], "").await == 200 {
                    return Some(i);
                }
            }
            None
        }
    };
    let first = wait_for("a leader", T, || leader(&replicas)).await;
    let payload = serde_json::json!({"ref": "refs/heads/main", "repository": {"clone_url": s.url()}}).to_string();

    // A burst: commits 300 ms apart, each announced to every replica as a forge would send it
    // to a Service (only the ready replica takes it). The leader is killed after the 8th; the
    // burst goes on until the new leader has taken 5 webhooks.
    let mut accepted = 0;
    let mut refused = 0;
    let mut accepted_after = 0;
    let mut took_over = None;
    let mut killed_at = None;
    let mut last = s.head();
    let mut k = 0;
    while k < 20 || accepted_after < 5 {
        k += 1;
        assert!(k < 200, "no replica took webhooks after the leader was killed");
        last = s.commit(&cms(0..10, &k.to_string()), &format!("burst {k}"));
        for r in &replicas {
            match http(&r.addr, "POST", "/hook", &[("X-Gitlab-Token", secret)], &payload).await {
                202 if killed_at.is_some() => {
                    accepted += 1;
                    accepted_after += 1;
                    took_over.get_or_insert_with(|| killed_at.map(|t: Instant| t.elapsed()).unwrap_or_default());
                }
                202 => accepted += 1,
                _ => refused += 1,
            }
        }
        if k == 8 {
            replicas[first].kill();
            killed_at = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let killed_at = killed_at.unwrap();
    let second = wait_for("a new leader", T, || leader(&replicas)).await;
    assert_ne!(first, second, "the killed replica cannot lead");
    let took_over = took_over.expect("the new leader took a webhook");
    s.ready_at(last, T).await;
    let converged = killed_at.elapsed();
    let want: BTreeMap<String, String> = (0..10).map(|i| (format!("c{i}"), k.to_string())).collect();
    assert_eq!(s.configmaps().await, want, "the last commit is applied, nothing lost or extra");
    let survivor = &replicas[second];
    assert!(survivor.logs().contains("acquired leadership"), "{}", survivor.logs());
    report(
        "leader change",
        &format!(
            "{k} commits with webhooks, leader SIGKILLed after the 8th: {accepted} webhooks accepted ({accepted_after} by the new leader), {refused} refused (follower or dead); the new leader took its first webhook {:.1}s and applied the last commit {:.1}s after the kill (lease 15 s)",
            took_over.as_secs_f64(),
            converged.as_secs_f64()
        ),
    );
    drop(replicas);
    s.ns.delete().await;
}

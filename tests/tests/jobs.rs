//! The Job controller against the real control plane: KWOK runs the pods of batch/v1 Jobs
//! (its `pod/fast` stages complete a Job's running pod at once; a pod no node fits stays
//! Pending). Each test runs its own job controller scoped to its own namespace.

use dromos::operators::jobs::{self, Context as JobContext};
use dromos_crds::Job;
use dromos_crds::job::JobRunRecord;
use dromos_tests::{TestNamespace, client, install_crds, wait_for};
use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The Job controller alone, scoped to the test's namespace, through the manager.
fn start(c: &kube::Client, ns: &TestNamespace) -> (Arc<JobContext>, dromos_tests::Task) {
    use dromos::operators::manager::ManagerOptions;
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (m, task) =
        dromos_tests::operators(c, ManagerOptions { scope, jobs: Some(Default::default()), ..Default::default() });
    (m.context().expect("the Job controller"), task)
}

struct Harness {
    ns: TestNamespace,
    ctx: Arc<JobContext>,
    task: dromos_tests::Task,
    client: kube::Client,
}

impl Harness {
    async fn new(prefix: &str) -> Self {
        dromos_tests::init_tracing();
        let c = client().await;
        install_crds(&c).await;
        let ns = TestNamespace::new(&c, prefix).await;
        let (ctx, task) = start(&c, &ns);
        Self { ns, ctx, task, client: c }
    }

    async fn create(&self, name: &str, spec: serde_json::Value) {
        let mut spec = spec;
        spec["run"]
            .as_object_mut()
            .expect("spec.run")
            .extend([("cpus".to_string(), json!(0.01)), ("mem".to_string(), json!(16))]);
        let job: Job = serde_json::from_value(json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": name}, "spec": spec
        }))
        .expect("job");
        self.ns
            .api::<Job>()
            .create(&PostParams::default(), &job)
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
    }

    async fn job_where(&self, name: &str, what: &str, timeout: u64, f: impl Fn(&Job) -> bool) -> Job {
        let api = self.ns.api::<Job>();
        let last = std::sync::Mutex::new(None::<Job>);
        let waited = tokio::time::timeout(
            Duration::from_secs(timeout),
            wait_for(&format!("{name}: {what}"), Duration::from_secs(timeout + 5), || async {
                let j = api.get(name).await.ok()?;
                *last.lock().unwrap() = Some(j.clone());
                f(&j).then_some(j)
            }),
        )
        .await;
        match waited {
            Ok(j) => j,
            Err(_) => {
                let status = last.lock().unwrap().as_ref().and_then(|j| j.status.clone());
                panic!("timed out after {timeout} s waiting for {name}: {what}; last status: {status:#?}")
            }
        }
    }

    async fn batch_jobs(&self, job: &str) -> Vec<BatchJob> {
        self.ns
            .api::<BatchJob>()
            .list(&ListParams::default().labels(&format!("dromos.io/job={job}")))
            .await
            .expect("list batch jobs")
            .items
    }

    async fn stop(self) {
        self.task.0.abort();
        self.ns.delete().await;
    }
}

fn runs(j: &Job) -> Vec<JobRunRecord> {
    j.status.as_ref().map(|s| s.runs.clone()).unwrap_or_default()
}

fn succeeded(j: &Job) -> i64 {
    j.status.as_ref().map(|s| s.success_count).unwrap_or(0)
}

fn time(s: &Option<String>) -> chrono::DateTime<chrono::Utc> {
    dromos_core::runs::parse_time(s.as_deref().expect("time set")).expect("RFC 3339")
}

/// A placement no node satisfies: the run's pod stays Pending.
fn nowhere() -> serde_json::Value {
    json!({"constraints": [{"attribute": "dromos.io/no-such-label", "operator": "IS", "value": "x"}]})
}

#[tokio::test]
async fn an_r3_interval_with_an_empty_start_runs_three_times_and_stops() {
    let h = Harness::new("job-r3").await;
    h.create("tick", json!({"schedule": "R3//PT10S", "run": {"cmd": "date"}})).await;
    let j = h.job_where("tick", "3 successful runs", 90, |j| succeeded(j) == 3).await;
    let mut scheduled: Vec<_> = runs(&j).iter().map(|r| time(&r.scheduled_time)).collect();
    scheduled.sort();
    assert_eq!(scheduled.len(), 3, "{:#?}", runs(&j));
    assert_eq!((scheduled[1] - scheduled[0]).num_seconds(), 10);
    assert_eq!((scheduled[2] - scheduled[1]).num_seconds(), 10);
    let status = j.status.clone().unwrap();
    assert_eq!(status.next_run_time, None);
    assert_eq!(status.last_result.as_deref(), Some("Succeeded"));
    // Past where a fourth fire would be, nothing more ran.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let j = h.ns.api::<Job>().get("tick").await.unwrap();
    assert_eq!(runs(&j).len(), 3, "{:#?}", runs(&j));
    assert_eq!(h.batch_jobs("tick").await.len(), 3);
    let ready = status.common.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "ScheduleComplete"));
    h.stop().await;
}

#[tokio::test]
async fn a_chain_of_parents_runs_in_order() {
    let h = Harness::new("job-chain").await;
    // Children first: they wait for completions after their own creation.
    h.create("c", json!({"parents": ["b"], "run": {"cmd": "echo c"}})).await;
    h.create("b", json!({"dependencies": [{"id": "a"}], "run": {"cmd": "echo b"}})).await;
    h.create("a", json!({"schedule": "R1//PT1H", "run": {"cmd": "echo a"}})).await;
    let c = h.job_where("c", "one successful run", 60, |j| succeeded(j) == 1).await;
    let a = h.ns.api::<Job>().get("a").await.unwrap();
    let b = h.ns.api::<Job>().get("b").await.unwrap();
    let (ra, rb, rc) = (&runs(&a)[0], &runs(&b)[0], &runs(&c)[0]);
    assert_eq!(runs(&b).len(), 1);
    assert_eq!(rb.trigger.as_deref(), Some("dependencies"));
    assert!(time(&ra.finish_time) <= time(&rb.created_time), "a finished before b started: {ra:?} {rb:?}");
    assert!(time(&rb.finish_time) <= time(&rc.created_time), "b finished before c started: {rb:?} {rc:?}");
    assert_eq!(
        c.status.as_ref().unwrap().consumed_parents.keys().cloned().collect::<Vec<_>>(),
        vec![format!("{}/b", h.ns.name)]
    );
    h.stop().await;
}

#[tokio::test]
async fn forbid_skips_a_fire_while_a_run_is_active() {
    let h = Harness::new("job-forbid").await;
    // Chronos jobs do not overlap by default (`concurrent: false`); the first run's pod never
    // starts, so it is still active at the second fire.
    h.create("slow", json!({"schedule": "R2//PT5S", "run": {"cmd": "sleep 60", "placement": nowhere()}})).await;
    let j = h.job_where("slow", "a skipped run", 30, |j| runs(j).iter().any(|r| r.result == "Skipped")).await;
    let r = runs(&j);
    assert_eq!(r.len(), 2, "{r:#?}");
    let skipped = r.iter().find(|r| r.result == "Skipped").unwrap();
    let active = r.iter().find(|r| r.result == "Active").unwrap();
    assert!(skipped.message.as_deref().unwrap().contains("FORBID"), "{skipped:?}");
    assert!(skipped.message.as_deref().unwrap().contains(&active.id), "{skipped:?}");
    assert_eq!(h.batch_jobs("slow").await.len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_failed_parent_triggers_children_only_with_soft_error() {
    let h = Harness::new("job-soft").await;
    let parent = |soft: bool| json!({"schedule": "R1//PT1H", "retries": 0, "softError": soft, "run": {"cmd": "false", "placement": nowhere()}});
    h.create("child-soft", json!({"parents": ["soft"], "run": {"cmd": "true"}})).await;
    h.create("child-hard", json!({"parents": ["hard"], "run": {"cmd": "true"}})).await;
    h.create("soft", parent(true)).await;
    h.create("hard", parent(false)).await;
    // Fail both parents' runs: a pod deleted before it finished fails its batch Job.
    let pods: Api<Pod> = h.ns.api();
    for p in ["soft", "hard"] {
        let list = wait_for(&format!("pod of {p}"), Duration::from_secs(30), || async {
            let l = pods.list(&ListParams::default().labels(&format!("dromos.io/job={p}"))).await.ok()?;
            (!l.items.is_empty()).then_some(l)
        })
        .await;
        for pod in list.items {
            pods.delete(&pod.metadata.name.unwrap(), &DeleteParams::default()).await.expect("delete pod");
        }
    }
    for p in ["soft", "hard"] {
        let j = h.job_where(p, "a failed run", 60, |j| j.status.as_ref().is_some_and(|s| s.failure_count == 1)).await;
        assert_eq!(runs(&j)[0].result, "Failed");
    }
    let child = h.job_where("child-soft", "a successful run", 60, |j| succeeded(j) == 1).await;
    assert_eq!(runs(&child)[0].trigger.as_deref(), Some("dependencies"));
    // The child of the parent without softError waits.
    let hard = h.ns.api::<Job>().get("child-hard").await.unwrap();
    assert!(runs(&hard).is_empty(), "{:#?}", runs(&hard));
    let ready = hard.status.as_ref().unwrap().common.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.message, format!("waiting for {}/hard", h.ns.name));
    h.stop().await;
}

#[tokio::test]
async fn a_manual_run_starts_now_and_shows_in_the_history() {
    let h = Harness::new("job-manual").await;
    h.create("adhoc", json!({"run": {"cmd": "echo hi"}})).await;
    h.job_where("adhoc", "status written", 30, |j| j.status.is_some()).await;
    let req = jobs::request_run(&h.client, &h.ns.name, "adhoc").await.expect("request run");
    let j = h.job_where("adhoc", "a successful manual run", 60, |j| succeeded(j) == 1).await;
    let r = &runs(&j)[0];
    assert_eq!(r.trigger.as_deref(), Some("manual"));
    assert_eq!(j.status.as_ref().unwrap().last_manual_request.as_deref(), Some(req.as_str()));
    assert!(r.start_time.is_some() && r.finish_time.is_some(), "{r:?}");
    let table = jobs::history_table(&j);
    assert!(table.contains(&r.id) && table.contains("Succeeded") && table.contains("manual"), "{table}");
    // The same request is not run twice; a new request is a new run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(runs(&h.ns.api::<Job>().get("adhoc").await.unwrap()).len(), 1);
    tokio::time::sleep(Duration::from_millis(5)).await;
    jobs::request_run(&h.client, &h.ns.name, "adhoc").await.expect("request run");
    h.job_where("adhoc", "a second run", 60, |j| succeeded(j) == 2).await;
    assert_eq!(h.batch_jobs("adhoc").await.len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_run_that_misses_its_starting_deadline_fails_with_the_reason() {
    let h = Harness::new("job-deadline").await;
    h.create(
        "stuck",
        json!({
            "schedules": [{"cron": "* * * * *", "startingDeadlineSeconds": 60, "concurrencyPolicy": "FORBID"}],
            "run": {"cmd": "true", "placement": nowhere()}
        }),
    )
    .await;
    let j = h.job_where("stuck", "a failed run", 150, |j| runs(j).iter().any(|r| r.result == "Failed")).await;
    let failed = runs(&j).into_iter().find(|r| r.result == "Failed").unwrap();
    let msg = failed.message.clone().unwrap();
    assert!(
        msg.starts_with("StartingDeadlineExceeded: attempt 1 did not start within startingDeadlineSeconds (60 s)"),
        "{msg}"
    );
    assert!(msg.contains("affinity") || msg.contains("selector"), "the scheduler's reason is quoted: {msg}");
    assert!(time(&failed.finish_time) - time(&failed.created_time) >= chrono::Duration::seconds(60));
    let ready = j.status.as_ref().unwrap().common.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "LastRunFailed"));
    // Its batch Job is deleted, so the pending pod goes too.
    let name = failed.id.clone();
    let api: Api<BatchJob> = h.ns.api();
    wait_for(&format!("{name} deleted"), Duration::from_secs(30), || async {
        api.get_opt(&name).await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(h.ctx.reconciles.load(std::sync::atomic::Ordering::Relaxed) > 0);
    h.stop().await;
}

#[tokio::test]
async fn after_controller_downtime_one_catch_up_run_replaces_the_missed_fires() {
    let mut h = Harness::new("job-down").await;
    h.create("beat", json!({"schedule": "R//PT10S", "run": {"cmd": "true"}})).await;
    h.job_where("beat", "a successful run", 30, |j| succeeded(j) >= 1).await;
    h.task.0.abort();
    let stopped = chrono::Utc::now();
    // Two or three fires pass while no controller runs.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let restarted = chrono::Utc::now();
    (h.ctx, h.task) = start(&h.client, &h.ns);
    let j = h
        .job_where("beat", "a catch-up run", 30, |j| {
            runs(j).iter().any(|r| r.message.as_deref().is_some_and(|m| m.starts_with("catch-up run")))
        })
        .await;
    // Exactly one run is due inside the outage, and it was created after the restart.
    let in_outage: Vec<JobRunRecord> = runs(&j)
        .into_iter()
        .filter(|r| {
            let s = time(&r.scheduled_time);
            s > stopped && s <= restarted
        })
        .collect();
    assert_eq!(in_outage.len(), 1, "{:#?}", runs(&j));
    assert!(in_outage[0].message.as_deref().unwrap_or("").starts_with("catch-up run"), "{:?}", in_outage[0]);
    assert!(time(&in_outage[0].created_time) >= restarted);
    h.stop().await;
}

#[tokio::test]
async fn the_run_of_every_example_job_is_accepted_by_the_api_server() {
    let h = Harness::new("job-examples").await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples");
    let files = dromos::fsread::fetch_tree(&root, 8 << 20).expect("read examples").files;
    let tree = dromos_core::check_tree(&files, &Default::default());
    assert!(tree.is_valid(), "{:?}", tree.diagnostics);
    let mut checked = 0;
    for m in &tree.manifests {
        let dromos_core::Typed::Job(job) = &m.typed else { continue };
        let attempt = dromos_core::runs::NewAttempt {
            name: format!("{}-1795482960", dromos_core::runs::run_base(&m.name)),
            run: format!("{}-1795482960", dromos_core::runs::run_base(&m.name)),
            attempt: 1,
            trigger: dromos_core::runs::RunTrigger::Schedule,
            scheduled: Some(chrono::Utc::now()),
        };
        // Rendered into the test namespace: the run's shape is what the API server checks.
        let obj = dromos_core::translate::render_run(&h.ns.name, &m.name, job, &attempt, None, &Default::default());
        h.ns.api::<BatchJob>()
            .create(&PostParams { dry_run: true, ..Default::default() }, &obj)
            .await
            .unwrap_or_else(|e| panic!("{}: the API server refuses the run: {e}", m.file));
        checked += 1;
    }
    assert!(checked >= 4, "the examples hold {checked} jobs");
    h.stop().await;
}

#[tokio::test]
async fn a_failed_attempt_is_retried_after_a_backoff_until_retries_run_out() {
    let h = Harness::new("job-retry").await;
    h.create("flaky", json!({"schedule": "R1//PT1H", "retries": 1, "run": {"cmd": "false", "placement": nowhere()}}))
        .await;
    let pods: Api<Pod> = h.ns.api();
    // Fail each attempt by deleting its Pending pod.
    let fail_attempt = |job_name: String| {
        let pods = pods.clone();
        async move {
            let list = wait_for(&format!("pod of {job_name}"), Duration::from_secs(40), || async {
                let l = pods
                    .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job_name}")))
                    .await
                    .ok()?;
                (!l.items.is_empty()).then_some(l)
            })
            .await;
            for pod in list.items {
                pods.delete(&pod.metadata.name.unwrap(), &DeleteParams::default()).await.expect("delete pod");
            }
        }
    };
    let j = h.job_where("flaky", "a run", 30, |j| !runs(j).is_empty()).await;
    let run = runs(&j)[0].id.clone();
    fail_attempt(run.clone()).await;
    let j = h.job_where("flaky", "a retry planned", 30, |j| runs(j)[0].retry_time.is_some()).await;
    let r = &runs(&j)[0];
    assert_eq!(r.result, "Active");
    assert!(r.message.as_deref().unwrap().starts_with("attempt 1 failed (BackoffLimitExceeded"), "{r:?}");
    // The second attempt is its own batch Job, 10 s after the first failed.
    fail_attempt(format!("{run}-2")).await;
    let j = h.job_where("flaky", "the run failed", 60, |j| runs(j)[0].result == "Failed").await;
    let r = &runs(&j)[0];
    assert_eq!(r.attempts, 2, "{r:?}");
    assert!(r.message.as_deref().unwrap().starts_with("attempt 2 failed"), "{r:?}");
    let names: Vec<String> = h.batch_jobs("flaky").await.into_iter().filter_map(|b| b.metadata.name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let second = h.ns.api::<BatchJob>().get(&format!("{run}-2")).await.unwrap();
    let first = h.ns.api::<BatchJob>().get(&run).await.unwrap();
    let created = |b: &BatchJob| b.metadata.creation_timestamp.as_ref().unwrap().0.as_second();
    assert!(created(&second) - created(&first) >= 10, "backoff between attempts");
    assert_eq!(j.status.as_ref().unwrap().failure_count, 1);
    h.stop().await;
}

/// Many Jobs fire in the same second: their runs are created first and their status writes
/// and events wait (the controller's write-behind); afterwards every Job records its run and
/// every run has exactly one RunStarted and one RunSucceeded event.
#[tokio::test]
async fn jobs_firing_together_record_every_run_and_event_once() {
    use chrono::SubsecRound;
    let h = Harness::new("job-burst").await;
    let n = 40;
    let start = (chrono::Utc::now() + chrono::Duration::seconds(20)).trunc_subsecs(0);
    let schedule = format!("R1/{}/PT1M", start.format("%Y-%m-%dT%H:%M:%SZ"));
    for i in 0..n {
        h.create(&format!("burst-{i}"), json!({"schedule": schedule, "run": {"cmd": "true"}})).await;
    }
    assert!(
        chrono::Utc::now() < start,
        "creating {n} Jobs took past their fire at {start}; the test needs them all first"
    );
    for i in 0..n {
        let j = h.job_where(&format!("burst-{i}"), "one successful run", 120, |j| succeeded(j) == 1).await;
        let r = runs(&j);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!((r[0].trigger.as_deref(), time(&r[0].scheduled_time)), (Some("schedule"), start), "{r:#?}");
        assert_eq!(h.batch_jobs(&format!("burst-{i}")).await.len(), 1);
    }
    assert!(
        h.ctx.deferrals.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "{n} Jobs fired together and no status write waited for the run creations"
    );
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(h.client.clone(), &h.ns.name);
    let count = |list: &[k8s_openapi::api::core::v1::Event], job: &str, reason: &str| {
        list.iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(job) && e.reason.as_deref() == Some(reason))
            .map(|e| e.count.unwrap_or(1).max(e.series.as_ref().and_then(|s| s.count).unwrap_or(1)))
            .sum::<i32>()
    };
    let listed = wait_for("a RunSucceeded event for every Job", Duration::from_secs(60), || async {
        let list = events.list(&ListParams::default()).await.ok()?.items;
        (0..n).all(|i| count(&list, &format!("burst-{i}"), "RunSucceeded") >= 1).then_some(list)
    })
    .await;
    for i in 0..n {
        let job = format!("burst-{i}");
        assert_eq!(
            (count(&listed, &job, "RunStarted"), count(&listed, &job, "RunSucceeded")),
            (1, 1),
            "events of {job}"
        );
    }
    assert_eq!(h.ctx.deferred_len(), 0, "status writes still waiting after the burst");
    h.stop().await;
}

//! Benchmark: 1,000 Jobs due in the same minute; delay from the scheduled time until each
//! run's batch/v1 Job exists.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench jobs_due      # args: COUNT [CONCURRENCY], default 1000 16
//!
//! The job controller runs in-process against the local control plane. COUNT Jobs with the
//! same cron fire (the first whole minute at least 60 s ahead, UTC) are created first; a watch
//! on batch/v1 Jobs records when each run object is first seen, so a delay includes the watch
//! latency (an upper bound of the time the object exists).

use dromos::operators::{jobs, manager};
use dromos_crds::Job;
use dromos_tests::{TestNamespace, client, install_crds};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job as BatchJob;
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The allocator of the `dromos` binary (controller/src/main.rs): the operators measured here run
/// in this process as they would in `dromos controller`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    // --raw: no controller; the bench itself creates the run objects at the fire, as fast as
    // CONCURRENCY requests at once allow (the floor the control plane sets).
    let raw = std::env::args().any(|a| a == "--raw");
    let count = args.first().copied().unwrap_or(1000);
    let concurrency = args.get(1).copied().unwrap_or(16) as u16;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
    rt.block_on(run(count, concurrency, raw));
}

/// Sets up the namespace and the controller, creates the Jobs, waits for their runs and
/// reports the delays.
async fn run(count: usize, concurrency: u16, raw: bool) {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "bench-due").await;
    let (ctx, task) = start_controller(&c, &ns, concurrency, raw);
    let (due_secs, due, cron) = next_fire();
    println!("{count} jobs, cron `{cron}` UTC, due at {due}, controller concurrency {concurrency}");

    // Watch run objects from now on.
    let seen = watch_runs(ns.api::<BatchJob>(), count);
    let created = create_jobs(&ns, count, &cron).await;
    let left = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    println!("{:.1} s left before the fire", left.as_secs_f64());

    if raw {
        tokio::time::sleep(left).await;
        create_runs_raw(&ns, created, due, due_secs, concurrency).await;
    } else {
        drop(created);
    }
    let first = tokio::time::timeout(left + Duration::from_secs(180), seen).await.expect("runs appear").unwrap();
    report_delays(&first, due);
    if !raw {
        println!(
            "controller: {} reconciles, {} writes, {} status writes deferred behind run creations",
            ctx.reconciles.load(std::sync::atomic::Ordering::Relaxed),
            ctx.writes.load(std::sync::atomic::Ordering::Relaxed),
            ctx.deferrals.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    task.abort();
    ns.delete().await;
}

/// The Job controller scoped to `ns`. With `raw` it is built (its counters stay at zero) but
/// never run.
fn start_controller(
    c: &kube::Client,
    ns: &TestNamespace,
    concurrency: u16,
    raw: bool,
) -> (Arc<jobs::Context>, tokio::task::JoinHandle<()>) {
    let opts = manager::ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        jobs: Some(jobs::Options { concurrency, ..Default::default() }),
        ..Default::default()
    };
    let mut m = manager::Manager::start(c.clone(), opts);
    let ctx = m.context::<jobs::Context>().expect("the Job controller");
    let runner = m.runner();
    let task = tokio::spawn(async move {
        if !raw {
            runner.await
        }
    });
    (ctx, task)
}

/// The first whole minute at least 60 s ahead (UTC): its Unix seconds, the time and the cron
/// expression that fires then.
fn next_fire() -> (i64, chrono::DateTime<chrono::Utc>, String) {
    let now = chrono::Utc::now();
    let due_secs = (now.timestamp() + 60 + 59) / 60 * 60;
    let due = chrono::DateTime::from_timestamp(due_secs, 0).unwrap();
    let cron = format!("{} {} * * *", due.format("%M"), due.format("%H"));
    (due_secs, due, cron)
}

/// Watches batch/v1 Jobs and records when each is first seen, until `count` are.
fn watch_runs(
    api: kube::Api<BatchJob>,
    count: usize,
) -> tokio::task::JoinHandle<HashMap<String, chrono::DateTime<chrono::Utc>>> {
    tokio::spawn(async move {
        let mut first: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
        let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
        while let Ok(Some(j)) = stream.try_next().await {
            let name = j.metadata.name.unwrap_or_default();
            first.entry(name).or_insert_with(chrono::Utc::now);
            if first.len() >= count {
                break;
            }
        }
        first
    })
}

/// Creates the Jobs `due-0` .. `due-{count - 1}` with schedule `cron`, 32 requests at once.
async fn create_jobs(ns: &TestNamespace, count: usize, cron: &str) -> Vec<Job> {
    let jobs = ns.api::<Job>();
    let t = std::time::Instant::now();
    let created: Vec<Job> = futures::stream::iter(0..count)
        .map(|i| {
            let jobs = jobs.clone();
            let cron = cron.to_string();
            async move {
                let job: Job = serde_json::from_value(serde_json::json!({
                    "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": format!("due-{i}")},
                    "spec": {"schedules": [{"cron": cron}], "run": {"cmd": "true", "cpus": 0.001, "mem": 1}}
                }))
                .unwrap();
                jobs.create(&PostParams::default(), &job).await.expect("create job")
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    println!("created {count} Jobs in {:.1} s", t.elapsed().as_secs_f64());
    created
}

/// `--raw`: creates the run object of every Job at the fire, `concurrency` requests at once.
async fn create_runs_raw(
    ns: &TestNamespace,
    created: Vec<Job>,
    due: chrono::DateTime<chrono::Utc>,
    due_secs: i64,
    concurrency: u16,
) {
    let count = created.len();
    let batch = ns.api::<BatchJob>();
    let t = std::time::Instant::now();
    futures::stream::iter(created)
        .map(|job| {
            let batch = batch.clone();
            let name = job.metadata.name.clone().unwrap_or_default();
            async move {
                let attempt = dromos_core::runs::NewAttempt {
                    name: format!("{name}-{due_secs}"),
                    run: format!("{name}-{due_secs}"),
                    attempt: 1,
                    trigger: dromos_core::runs::RunTrigger::Schedule,
                    scheduled: Some(due),
                };
                let ns = job.metadata.namespace.clone().unwrap_or_default();
                let obj = dromos_core::translate::render_run(
                    &ns,
                    &name,
                    &job,
                    &attempt,
                    job.metadata.uid.as_deref(),
                    &Default::default(),
                );
                batch.create(&PostParams::default(), &obj).await.expect("create run")
            }
        })
        .buffer_unordered(concurrency as usize)
        .collect::<Vec<_>>()
        .await;
    println!("raw: {count} run objects created in {:.1} s", t.elapsed().as_secs_f64());
}

/// Prints the delays from the scheduled time `due` until each run was first seen.
fn report_delays(first: &HashMap<String, chrono::DateTime<chrono::Utc>>, due: chrono::DateTime<chrono::Utc>) {
    let mut delays: Vec<f64> = first.values().map(|t| (*t - due).num_milliseconds() as f64).collect();
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| delays[((delays.len() as f64 * p).ceil() as usize).clamp(1, delays.len()) - 1];
    println!(
        "runs created: {} ; delay after the scheduled time: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, min {:.0} ms",
        delays.len(),
        pct(0.50),
        pct(0.99),
        delays[delays.len() - 1],
        delays[0]
    );
}

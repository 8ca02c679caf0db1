//! `dromos package test` (I/O): a package version's life on a real cluster, as its author's
//! `test.yaml` says. Lint; install it in a namespace of its own (from a Git repository made of
//! the package's directory, as a GitSource would serve it) with the Package operator running in
//! this process; wait for the deploy plan; run the smoke checks as Jobs; change the options and
//! wait for the update plan, checking it restarted one instance at a time where its phases are
//! serial; run the checks again; uninstall; report each stage with its time.

use anyhow::{Context, Result, bail};
use dromos_core::package::{self, PackageVersion};
use dromos_core::service::test_spec::{self, PackageTest};
use dromos_crds::Package;
use dromos_crds::package::{ElementStatus, PlanStatus};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What `dromos package test` was asked.
#[derive(Debug)]
pub struct TestArgs<'a> {
    /// Repository directory.
    pub root: &'a Path,
    /// Package name.
    pub name: &'a str,
    /// Version (default: the newest).
    pub version: Option<&'a str>,
    /// Namespace to use (created and deleted unless it exists); default: a fresh one.
    pub namespace: Option<String>,
    /// Leave the namespace and what is in it for a look afterwards.
    pub keep: bool,
}

/// One stage's outcome.
struct Stage {
    name: String,
    ok: bool,
    seconds: f64,
    note: String,
}

/// Runs the test; prints progress and the report to `out`. Exit 0 when every stage passed.
pub async fn run(args: TestArgs<'_>, out: &mut dyn Write) -> Result<ExitCode> {
    let repo = crate::packages::read_repo(args.root)?;
    let pkg = repo.find(args.name, args.version).map_err(anyhow::Error::msg)?.clone();
    let test_path = args.root.join(&pkg.dir).join(test_spec::TEST_FILE);
    let test_text = std::fs::read_to_string(&test_path)
        .with_context(|| format!("{}: every package test starts from this file", test_path.display()))?;
    let findings = package::lint::lint(&pkg, Some(&test_text));
    for f in &findings {
        writeln!(out, "{}: {}: {}", if f.error { "error" } else { "warning" }, f.file, f.message)?;
    }
    if findings.iter().any(|f| f.error) {
        writeln!(out, "lint failed: nothing installed")?;
        return Ok(ExitCode::from(1));
    }
    let test = test_spec::parse(&test_path.display().to_string(), &test_text).map_err(|d| {
        anyhow::anyhow!(
            "{}",
            d.iter().map(|d| format!("{}:{}: {}", d.file, d.line, d.message)).collect::<Vec<_>>().join("\n")
        )
    })?;
    let cluster = crate::apiclient::connect().await?;
    let client = cluster.client.clone();
    writeln!(out, "testing {} {} on {}", pkg.meta.name, pkg.meta.version, cluster.described)?;

    let ns = args.namespace.clone().unwrap_or_else(|| format!("pkgtest-{}-{}", pkg.meta.name, suffix()));
    let created_ns = ensure_namespace(&client, &ns).await?;
    let remote = tempfile::tempdir()?;
    let files = crate::packages::package_files(args.root, &pkg.dir)?;
    git_repository(remote.path(), &files)?;
    let cache = tempfile::tempdir()?;
    let opts = crate::operators::manager::ManagerOptions {
        scope: crate::scope::Scope::namespace(ns.clone()),
        packages: Some(crate::operators::packages::Options {
            concurrency: 1,
            cache_dir: cache.path().to_path_buf(),
            allow_file_urls: true,
        }),
        ..Default::default()
    };
    let mut manager = crate::operators::manager::Manager::start(client.clone(), opts);
    let operators = tokio::spawn(manager.runner());

    // Interrupted: the namespace is still cleaned up.
    let result = tokio::select! {
        r = stages(&client, &ns, &pkg, &test, remote.path(), out) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    operators.abort();
    let mut stages = result
        .unwrap_or_else(|e| vec![Stage { name: "setup".into(), ok: false, seconds: 0.0, note: format!("{e:#}") }]);
    if !args.keep && created_ns {
        let t = Instant::now();
        let gone = Api::<Namespace>::all(client.clone()).delete(&ns, &DeleteParams::background()).await;
        stages.push(Stage {
            name: "delete namespace".into(),
            ok: gone.is_ok(),
            seconds: t.elapsed().as_secs_f64(),
            note: gone.err().map(|e| e.to_string()).unwrap_or_else(|| ns.clone()),
        });
    } else {
        writeln!(out, "kept namespace {ns}")?;
    }
    let width = stages.iter().map(|s| s.name.len()).max().unwrap_or(5).max(5);
    writeln!(out, "\n{:<width$} {:<6} {:>8}  NOTE", "STAGE", "RESULT", "SECONDS")?;
    for s in &stages {
        writeln!(out, "{:<width$} {:<6} {:>8.1}  {}", s.name, if s.ok { "pass" } else { "FAIL" }, s.seconds, s.note)?;
    }
    let ok = stages.iter().all(|s| s.ok);
    writeln!(out, "\n{} {}: {}", pkg.meta.name, pkg.meta.version, if ok { "passed" } else { "FAILED" })?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn stages(
    client: &Client,
    ns: &str,
    pkg: &PackageVersion,
    test: &PackageTest,
    remote: &Path,
    out: &mut dyn Write,
) -> Result<Vec<Stage>> {
    let timeout = Duration::from_secs(test.timeout_seconds.into());
    let name = pkg.meta.name.as_str();
    let mut stages = vec![];
    let gs: dromos_crds::GitSource = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "package-test"},
        "spec": {"url": format!("file://{}", remote.display()), "suspend": true}
    }))?;
    Api::<dromos_crds::GitSource>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &gs)
        .await
        .context("creating the GitSource (are the Dromos CRDs installed? `dromos crds --apply`)")?;
    let packages: Api<Package> = Api::namespaced(client.clone(), ns);
    let body: Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": name},
        "spec": {"name": name, "version": pkg.meta.version, "options": test.install,
                 "repository": {"gitSource": "package-test", "path": "pkgs"}}
    }))?;
    packages.create(&PostParams::default(), &body).await.context("creating the Package")?;

    // 1. deploy
    let t = Instant::now();
    writeln!(out, "install: Package {ns}/{name}, waiting for the deploy plan")?;
    let deployed = wait_plan(&packages, name, "deploy", None, timeout, out).await;
    let failed = deployed.is_err();
    stages.push(stage("deploy plan", t, deployed.map(|p| steps_note(&p))));
    if failed {
        return Ok(stages);
    }
    checks(client, ns, name, test, timeout, "checks after deploy", &mut stages, out).await;

    // 2. update
    let t = Instant::now();
    let options = package::options::merge(&test.install, &test.update);
    let before: Vec<String> = service_pods(client, ns, name).await?.iter().filter_map(|p| p.uid()).collect();
    let patch = json!({"spec": {"options": options}});
    packages.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    writeln!(out, "update: options changed, waiting for the update plan")?;
    let updated = wait_plan(&packages, name, "update", Some(&before), timeout, out).await;
    let verdict = match updated {
        Ok(p) => {
            let pods = service_pods(client, ns, name).await?;
            let kept: Vec<String> =
                pods.iter().filter(|x| x.uid().is_some_and(|u| before.contains(&u))).map(|x| x.name_any()).collect();
            if kept.is_empty() {
                one_at_a_time(&pods, &p).map(|()| format!("every pod replaced; {}", steps_note(&p)))
            } else {
                Err(anyhow::anyhow!("pods not restarted by the update: {}", kept.join(", ")))
            }
        }
        Err(e) => Err(e),
    };
    stages.push(stage("update plan", t, verdict));
    checks(client, ns, name, test, timeout, "checks after update", &mut stages, out).await;

    // 3. uninstall
    let t = Instant::now();
    packages.delete(name, &DeleteParams::foreground()).await?;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let gone = wait(timeout, || async {
        let left =
            sets.list(&ListParams::default().labels(&format!("{}={name}", package::LABEL_INSTANCE))).await.ok()?;
        let pkg_left = packages.get_opt(name).await.ok()?;
        (left.items.is_empty() && pkg_left.is_none()).then_some(())
    })
    .await
    .map(|()| "the Package and its StatefulSets are gone".to_string());
    stages.push(stage("uninstall", t, gone));
    Ok(stages)
}

fn stage(name: &str, t: Instant, r: Result<String>) -> Stage {
    let seconds = t.elapsed().as_secs_f64();
    match r {
        Ok(note) => Stage { name: name.into(), ok: true, seconds, note },
        Err(e) => Stage { name: name.into(), ok: false, seconds, note: format!("{e:#}") },
    }
}

/// Waits until plan `plan` of the Package is complete and the Package Ready; with `replaced`,
/// also until no pod of those uids is left (an update plan exists only once the operator saw
/// the change). Prints each step as it completes.
async fn wait_plan(
    api: &Api<Package>,
    name: &str,
    plan: &str,
    replaced: Option<&[String]>,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<PlanStatus> {
    let start = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    let mut last_news = Instant::now();
    let mut last_said = String::new();
    loop {
        let pkg = api.get(name).await?;
        // Quiet for a while: say what the plan waits for, and why the pods it waits for are not
        // ready (an unbound claim, an image that does not pull).
        if last_news.elapsed() > Duration::from_secs(15) {
            let waiting = waiting_for(api, &pkg, plan).await;
            if waiting != last_said {
                writeln!(out, "  waiting: {waiting}")?;
                last_said = waiting;
            }
            last_news = Instant::now();
        }
        let status = pkg.status.clone().unwrap_or_default();
        if let Some(p) = status.plans.iter().find(|p| p.name == plan) {
            for ph in &p.phases {
                for s in &ph.steps {
                    if s.status == ElementStatus::Complete && seen.insert(s.name.clone()) {
                        last_news = Instant::now();
                        writeln!(
                            out,
                            "  {plan} {}/{} complete ({:.1}s)",
                            ph.name,
                            s.name,
                            start.elapsed().as_secs_f64()
                        )?;
                    }
                }
            }
            if p.status == ElementStatus::Error {
                bail!("{}", p.message.clone().unwrap_or_else(|| format!("plan {plan} failed")));
            }
            let ready = status.common.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                && status.common.observed_generation == pkg.metadata.generation;
            let fresh = match replaced {
                None => true,
                Some(old) => p
                    .phases
                    .iter()
                    .flat_map(|ph| ph.steps.iter())
                    .all(|s| s.replaced.as_deref().is_none_or(|u| old.contains(&u.to_string()))),
            };
            if p.status == ElementStatus::Complete && ready && fresh && (replaced.is_none() || !seen.is_empty()) {
                return Ok(p.clone());
            }
        }
        if start.elapsed() > timeout {
            let why = status
                .common
                .conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .map(|c| format!("{}: {}", c.reason, c.message))
                .unwrap_or_default();
            bail!("plan {plan} not complete after {}s ({why})", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What plan `plan` of `pkg` waits for: its starting steps with their messages, and the state
/// of pods that are not ready.
async fn waiting_for(api: &Api<Package>, pkg: &Package, plan: &str) -> String {
    let status = pkg.status.clone().unwrap_or_default();
    let mut parts: Vec<String> = status
        .plans
        .iter()
        .filter(|p| p.name == plan)
        .flat_map(|p| p.phases.iter().flat_map(|ph| ph.steps.iter()))
        .filter(|s| s.status == ElementStatus::Starting)
        .map(|s| format!("step {} ({})", s.name, s.message.clone().unwrap_or_else(|| "starting".into())))
        .collect();
    if parts.is_empty() {
        parts.push(format!("plan {plan} to start"));
    }
    let ns = pkg.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(api.clone().into_client(), &ns);
    let lp = ListParams::default().labels(&format!("{}={}", package::LABEL_INSTANCE, pkg.name_any()));
    for p in pods.list(&lp).await.map(|l| l.items).unwrap_or_default() {
        let st = p.status.clone().unwrap_or_default();
        let unready = st.conditions.iter().flatten().find(|c| c.status != "True" && c.message.is_some());
        if let Some(c) = unready {
            parts.push(format!(
                "pod {} {}: {}",
                p.name_any(),
                st.phase.unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ));
        }
    }
    parts.join("; ")
}

/// In each serial phase of `plan`, every instance's pod was created only once the one before
/// it was ready: the update restarted one instance at a time.
fn one_at_a_time(pods: &[Pod], plan: &PlanStatus) -> Result<()> {
    use dromos_core::service::render::LABEL_POD;
    let ready_at = |p: &Pod| {
        let c = p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True")?;
        c.last_transition_time.as_ref().map(|t| t.0)
    };
    for ph in &plan.phases {
        let serial = dromos_core::service::spec::Strategy::parse(&ph.strategy).is_some_and(|s| s.is_serial());
        if !serial {
            continue;
        }
        let mut steps: Vec<&Pod> = ph
            .steps
            .iter()
            .filter_map(|s| {
                pods.iter().find(|p| {
                    p.labels().get(LABEL_POD) == Some(&s.pod)
                        && p.labels().get(dromos_core::service::render::LABEL_INDEX) == Some(&s.index.to_string())
                })
            })
            .collect();
        steps.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        for w in steps.windows(2) {
            let (Some(ready), Some(created)) = (ready_at(w[0]), w[1].metadata.creation_timestamp.as_ref().map(|t| t.0))
            else {
                bail!("phase {}: pods {} and {} have no times to compare", ph.name, w[0].name_any(), w[1].name_any());
            };
            // Second precision: created in the second it became ready is in order.
            if created.as_second() < ready.as_second() {
                bail!(
                    "phase {}: {} was created at {created} before {} was ready at {ready}",
                    ph.name,
                    w[1].name_any(),
                    w[0].name_any()
                );
            }
        }
    }
    Ok(())
}

fn steps_note(p: &PlanStatus) -> String {
    p.phases
        .iter()
        .map(|ph| format!("{} ({}, {} steps)", ph.name, ph.strategy, ph.steps.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn service_pods(client: &Client, ns: &str, name: &str) -> Result<Vec<Pod>> {
    let lp = ListParams::default().labels(&format!("{}={name}", package::LABEL_INSTANCE));
    Ok(Api::<Pod>::namespaced(client.clone(), ns).list(&lp).await?.items)
}

/// Runs every check as a Job (one attempt) and waits for it; a check whose pod ran on a KWOK
/// node completed without running anything, and says so.
#[allow(clippy::too_many_arguments)]
async fn checks(
    client: &Client,
    ns: &str,
    name: &str,
    test: &PackageTest,
    timeout: Duration,
    label: &str,
    stages: &mut Vec<Stage>,
    out: &mut dyn Write,
) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let round = stages.len();
    for c in &test.checks {
        let t = Instant::now();
        let job_name = format!("check-{}-{round}", c.name);
        let _ = writeln!(out, "{label}: {} ({})", c.name, c.cmd);
        let body: Job = match serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job_name},
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": timeout.as_secs(), "ttlSecondsAfterFinished": 600,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [{
                         "name": "check", "image": c.image, "command": ["sh", "-c", c.cmd],
                         "env": [{"name": "SERVICE_NAME", "value": name}, {"name": "SERVICE_DOMAIN", "value": format!("{ns}.svc")}]}]}}}
        })) {
            Ok(b) => b,
            Err(e) => {
                stages.push(stage(&format!("{label}: {}", c.name), t, Err(e.into())));
                continue;
            }
        };
        let r = async {
            jobs.create(&PostParams::default(), &body).await?;
            let done = wait(timeout, || async {
                let j = jobs.get(&job_name).await.ok()?;
                let conds = j.status?.conditions?;
                conds
                    .iter()
                    .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
                    .map(|c| c.type_.clone())
            })
            .await?;
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            let pod = pods
                .list(&ListParams::default().labels(&format!("job-name={job_name}")))
                .await?
                .items
                .into_iter()
                .next();
            let node = pod.as_ref().and_then(|p| p.spec.as_ref()?.node_name.clone());
            let kwok = match &node {
                Some(n) => Api::<Node>::all(client.clone())
                    .get_opt(n)
                    .await?
                    .is_some_and(|n| n.annotations().get("kwok.x-k8s.io/node").map(String::as_str) == Some("fake")),
                None => false,
            };
            if done == "Failed" {
                let logs = match &pod {
                    Some(p) => pods.logs(&p.name_any(), &Default::default()).await.unwrap_or_default(),
                    None => String::new(),
                };
                let tail: String =
                    logs.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
                bail!("job {job_name} failed: {tail}");
            }
            Ok(if kwok {
                format!("not executed: its pod ran on KWOK node {}", node.unwrap_or_default())
            } else {
                format!("exit 0 on {}", node.unwrap_or_default())
            })
        }
        .await;
        stages.push(stage(&format!("{label}: {}", c.name), t, r));
    }
}

async fn wait<T, F, Fut>(timeout: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("still waiting after {}s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Creates the namespace unless it exists: whether this run created it.
async fn ensure_namespace(client: &Client, ns: &str) -> Result<bool> {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(ns).await?.is_some() {
        return Ok(false);
    }
    let body: Namespace =
        serde_json::from_value(json!({"metadata": {"name": ns, "labels": {"dromos.io/package-test": "true"}}}))?;
    api.create(&PostParams::default(), &body).await.with_context(|| format!("creating namespace {ns}"))?;
    Ok(true)
}

fn suffix() -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:06x}", (n ^ u128::from(std::process::id())) & 0xff_ffff)
}

/// A repository at `dir` whose `main` holds `files` (path, bytes) in one commit.
fn git_repository(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let repo = git2::Repository::init_bare(dir)?;
    let mut index = git2::Index::new()?;
    for (path, bytes) in files {
        let id = repo.blob(bytes)?;
        index.add(&crate::git::blob_entry(path, 0o100644, id, bytes.len()))?;
    }
    let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
    let sig = git2::Signature::now("dromos package test", "package-test@dromos.io")?;
    repo.commit(Some("refs/heads/main"), &sig, &sig, "package under test", &tree, &[])?;
    repo.set_head("refs/heads/main")?;
    Ok(())
}

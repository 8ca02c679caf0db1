//! `dromos job list | run | history | kill`: list Jobs, request a run, print recent runs, or
//! stop active runs (I/O: the cluster of the selected kubeconfig context).

use super::args::{JobCommand, ListScope};
use super::block_on;
use super::output::{structured, table};
use anyhow::{Context, Result, bail};
use dromos_core::runs;
use dromos_crds::Job;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use std::process::ExitCode;
use std::time::Duration;

/// Runs one job subcommand against the cluster.
pub(crate) fn run(command: JobCommand) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let client = cluster.client.clone();
        match command {
            JobCommand::Run { name, namespace } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                let req = crate::operators::jobs::request_run(&client, &namespace, &name).await?;
                println!(
                    "requested a run of job {namespace}/{name} on {} ({req}); follow it with `dromos job history {name} -n {namespace}`",
                    cluster.described
                );
            }
            JobCommand::History { name, namespace, output } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                let job = get(&cluster, &namespace, &name).await?;
                let status = serde_json::to_value(job.status.clone().unwrap_or_default())?;
                match structured(output, &status) {
                    Some(text) => print!("{text}"),
                    None => print!("{}", crate::operators::jobs::history_table_with(&job, output.wide())),
                }
            }
            JobCommand::List { scope } => list(&cluster, &scope).await?,
            JobCommand::Kill { name, run, namespace, timeout } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                return kill(&cluster, &namespace, &name, run.as_deref(), Duration::from_secs(timeout)).await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn get(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<Job> {
    super::objects::get(cluster, ns, name).await
}

async fn list(cluster: &crate::apiclient::Cluster, scope: &ListScope) -> Result<()> {
    let items: Vec<Job> = super::objects::list(cluster, scope).await?;
    super::objects::print_list(&items, scope, jobs_table)
}

/// The table of `dromos job list`.
pub(crate) fn jobs_table(items: &[Job], wide: bool) -> String {
    let mut header = vec!["NAMESPACE", "NAME", "STATE", "SUCCEEDED", "FAILED", "ACTIVE", "NEXT RUN"];
    if wide {
        header.extend(["TRIGGER", "LAST SUCCESS", "LAST FAILURE", "MESSAGE"]);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|j| {
            let st = j.status.clone().unwrap_or_default();
            let ready = st.common.conditions.iter().find(|c| c.type_ == dromos_crds::condition::READY);
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let mut row = vec![
                j.namespace().unwrap_or_default(),
                j.name_any(),
                ready.map(|c| c.reason.clone()).unwrap_or_else(|| "Unknown".into()),
                st.success_count.to_string(),
                st.failure_count.to_string(),
                st.runs.iter().filter(|r| r.result == "Active").count().to_string(),
                o(&st.next_run_time),
            ];
            if wide {
                row.extend([
                    o(&st.trigger),
                    o(&st.last_success_time),
                    o(&st.last_failure_time),
                    ready.map(|c| c.message.clone()).unwrap_or_default(),
                ]);
            }
            row
        })
        .collect();
    let mut out = table(&header, &rows);
    if items.is_empty() {
        out.push_str("(no Jobs)\n");
    }
    out
}

/// Asks the Job controller to stop `run` (or every active run) and waits until it has.
async fn kill(
    cluster: &crate::apiclient::Cluster,
    ns: &str,
    name: &str,
    run: Option<&str>,
    timeout: Duration,
) -> Result<ExitCode> {
    let job = get(cluster, ns, name).await?;
    let st = job.status.clone().unwrap_or_default();
    let targets: Vec<String> = match run {
        Some(id) => match st.runs.iter().find(|r| r.id == id) {
            Some(r) if r.result == "Active" => vec![id.to_string()],
            Some(r) => bail!("run {id} of job {ns}/{name} is not active: it {}", r.result.to_lowercase()),
            None => bail!(
                "job {ns}/{name} has no run {id}; recent runs: {}",
                st.runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        },
        None => st.runs.iter().filter(|r| r.result == "Active").map(|r| r.id.clone()).collect(),
    };
    if targets.is_empty() {
        bail!("job {ns}/{name} has no active run to kill");
    }
    let at = runs::fmt_time(
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap_or_default(),
    );
    let value = runs::kill_request_value(&at, run);
    let patch = serde_json::json!({"metadata": {"annotations": {runs::KILL_REQUEST_ANNOTATION: value}}});
    Api::<Job>::namespaced(cluster.client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("requesting a kill of job {ns}/{name}"))?;
    eprintln!(
        "requested a kill of {} on {}; waiting up to {} s for the job controller",
        match run {
            Some(r) => format!("run {r} of job {ns}/{name}"),
            None => format!("every active run of job {ns}/{name} ({})", targets.join(", ")),
        },
        cluster.described,
        timeout.as_secs()
    );
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = get(cluster, ns, name).await?;
        let st = job.status.clone().unwrap_or_default();
        if st.last_kill_request.as_deref() == Some(value.as_str()) {
            let why = format!("killed by request at {at}");
            let killed: Vec<&str> = st
                .runs
                .iter()
                .filter(|r| targets.contains(&r.id) && r.message.as_deref() == Some(why.as_str()))
                .map(|r| r.id.as_str())
                .collect();
            if killed.is_empty() {
                bail!("job {ns}/{name}: the controller found nothing to kill (the runs ended first)");
            }
            println!("job {ns}/{name}: killed {} run(s): {}", killed.len(), killed.join(", "));
            return Ok(ExitCode::SUCCESS);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "job {ns}/{name}: the job controller did not handle the kill request within {} s (is `dromos \
                 controller` running for namespace {ns}?); the request stays and is handled when it runs",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

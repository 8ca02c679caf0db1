//! `dromos job run` and `dromos job history` (I/O): a manual run request and the history table.

use super::*;

/// Asks the controller for a manual run of a Job (`dromos job run`): sets the
/// `dromos.io/run-requested` annotation to the current time. Returns the request value.
pub async fn request_run(client: &Client, namespace: &str, name: &str) -> anyhow::Result<String> {
    let api: Api<Job> = Api::namespaced(client.clone(), namespace);
    let value = runs::fmt_time(DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default());
    let patch = serde_json::json!({"metadata": {"annotations": {runs::RUN_REQUEST_ANNOTATION: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| match e {
        kube::Error::Api(ae) if ae.code == 404 => anyhow::anyhow!("job {namespace}/{name} not found"),
        // The API error stays in the chain: the web UI answers with its status code.
        e => anyhow::Error::new(e).context(format!("requesting a run of {namespace}/{name}")),
    })?;
    Ok(value)
}

/// The run history of a Job as a table (`dromos job history`).
pub fn history_table(job: &Job) -> String {
    history_table_with(job, false)
}

/// [`history_table`]; `wide` adds each run's creation time and the time of its next attempt.
pub fn history_table_with(job: &Job, wide: bool) -> String {
    let s = job.status.clone().unwrap_or_default();
    let mut out = format!(
        "{}/{}  trigger: {}  next: {}  succeeded: {}  failed: {}\n",
        job.namespace().unwrap_or_default(),
        job.name_any(),
        s.trigger.as_deref().unwrap_or("-"),
        s.next_run_time.as_deref().unwrap_or("-"),
        s.success_count,
        s.failure_count
    );
    let rows: Vec<Vec<String>> = s
        .runs
        .iter()
        .map(|r| {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let mut row = vec![r.id.clone(), o(&r.trigger), o(&r.scheduled_time), o(&r.start_time), o(&r.finish_time)];
            if wide {
                row.extend([o(&r.created_time), o(&r.retry_time)]);
            }
            row.extend([r.result.clone(), r.attempts.to_string(), o(&r.message)]);
            row
        })
        .collect();
    let mut header = vec!["RUN", "TRIGGER", "SCHEDULED", "STARTED", "FINISHED"];
    if wide {
        header.extend(["CREATED", "RETRY AT"]);
    }
    header.extend(["RESULT", "ATTEMPTS", "MESSAGE"]);
    out.push_str(&crate::cli::output::table(&header, &rows));
    if rows.is_empty() {
        out.push_str("(no runs yet)\n");
    }
    out
}

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
        e => anyhow::anyhow!("requesting a run of {namespace}/{name}: {e}"),
    })?;
    Ok(value)
}

/// The run history of a Job as a table (`dromos job history`).
pub fn history_table(job: &Job) -> String {
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
    let rows: Vec<[String; 8]> = s
        .runs
        .iter()
        .map(|r| {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [
                r.id.clone(),
                o(&r.trigger),
                o(&r.scheduled_time),
                o(&r.start_time),
                o(&r.finish_time),
                r.result.clone(),
                r.attempts.to_string(),
                o(&r.message),
            ]
        })
        .collect();
    let header = ["RUN", "TRIGGER", "SCHEDULED", "STARTED", "FINISHED", "RESULT", "ATTEMPTS", "MESSAGE"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header.to_vec()));
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push_str("(no runs yet)\n");
    }
    out
}

//! `dromos status` and `dromos app restart` (I/O): read Apps, Jobs and Packages and print one
//! table, or ask the App operator for a restart.

use anyhow::{Context, Result};
use dromos_crds::{App, Job, Package};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

/// One line of `dromos status`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// App, Job or Package.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Running, Deploying, Waiting, ... (Apps), or the Ready condition's reason.
    pub state: String,
    /// Instances (Apps), runs (Jobs) or version (Packages).
    pub detail: String,
    /// Ready (or deliberately idle, like a suspended App).
    pub healthy: bool,
    /// What it waits for or why it is not ready.
    pub message: String,
}

fn ready_condition(status: &Value) -> (Option<bool>, String, String) {
    let c = status["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    match c {
        Some(c) => (
            Some(c["status"] == "True"),
            c["reason"].as_str().unwrap_or("").to_string(),
            c["message"].as_str().unwrap_or("").to_string(),
        ),
        None => (None, String::new(), String::new()),
    }
}

/// A row for an App.
pub fn app_row(app: &App) -> Row {
    let status = app.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default();
    let (ready, _, message) = ready_condition(&status);
    let n = |k: &str| status[k].as_i64().unwrap_or(0);
    Row {
        kind: "App",
        namespace: app.namespace().unwrap_or_default(),
        name: app.name_any(),
        state: status["state"].as_str().unwrap_or("Unknown").to_string(),
        detail: format!(
            "{}/{} running, {} healthy{}",
            n("running"),
            app.spec.instances.unwrap_or(1),
            n("healthy"),
            if n("unhealthy") > 0 { format!(", {} unhealthy", n("unhealthy")) } else { String::new() }
        ),
        healthy: ready == Some(true),
        message: status["waitingFor"].as_str().map(str::to_string).unwrap_or(message),
    }
}

fn other_row(kind: &'static str, ns: String, name: String, status: &Value, detail: String) -> Row {
    let (ready, reason, message) = ready_condition(status);
    Row {
        kind,
        namespace: ns,
        name,
        state: if reason.is_empty() { "Unknown".into() } else { reason },
        detail,
        healthy: ready == Some(true),
        message,
    }
}

/// Reads Apps, Jobs and Packages of one namespace or all.
pub async fn collect(client: &Client, namespace: Option<&str>) -> Result<Vec<Row>> {
    fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let lp = ListParams::default();
    let mut rows = Vec::new();
    for a in api::<App>(client, namespace).list(&lp).await.context("listing Apps (are the CRDs installed?)")? {
        rows.push(app_row(&a));
    }
    for j in api::<Job>(client, namespace).list(&lp).await.context("listing Jobs")? {
        let s = j.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default();
        let detail = format!(
            "{} ok, {} failed{}",
            s["successCount"].as_i64().unwrap_or(0),
            s["failureCount"].as_i64().unwrap_or(0),
            s["nextRunTime"].as_str().map(|t| format!(", next {t}")).unwrap_or_default()
        );
        rows.push(other_row("Job", j.namespace().unwrap_or_default(), j.name_any(), &s, detail));
    }
    for p in api::<Package>(client, namespace).list(&lp).await.context("listing Packages")? {
        let s = p.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default();
        let detail =
            format!("{} {}", p.spec.name, s["installedVersion"].as_str().or(p.spec.version.as_deref()).unwrap_or("-"));
        rows.push(other_row("Package", p.namespace().unwrap_or_default(), p.name_any(), &s, detail));
    }
    Ok(rows)
}

/// Formats rows as an aligned table.
pub fn table(rows: &[Row]) -> String {
    let header = ["KIND", "NAMESPACE", "NAME", "STATE", "INSTANCES / RUNS", "READY", "MESSAGE"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.kind.to_string(),
                r.namespace.clone(),
                r.name.clone(),
                r.state.clone(),
                r.detail.clone(),
                if r.healthy { "yes".into() } else { "no".into() },
                r.message.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (i, v) in c.iter().enumerate() {
            widths[i] = widths[i].max(v.chars().count());
        }
    }
    let mut out = String::new();
    let line = |vals: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i + 1 == vals.len() {
                l.push_str(v);
            } else {
                l.push_str(&format!("{v:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for c in &cells {
        line(c.iter().map(String::as_str).collect(), &mut out);
    }
    if rows.is_empty() {
        out.push_str("(no Apps, Jobs or Packages)\n");
    }
    out
}

/// Asks the App operator to replace every instance of an App: sets the `dromos.io/restart`
/// annotation to the current time. Returns that time.
pub async fn restart_app(client: &Client, namespace: &str, name: &str) -> Result<String> {
    let api: Api<App> = Api::namespaced(client.clone(), namespace);
    api.get(name).await.with_context(|| format!("App {namespace}/{name}"))?;
    let at = dromos_core::time::fmt_time(dromos_core::time::whole_seconds(chrono::Utc::now()));
    let patch = serde_json::json!({"metadata": {"annotations": {dromos_core::translate::RESTART_ANNOTATION: at}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("annotating App {namespace}/{name}"))?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns_and_says_when_it_is_empty() {
        let rows = vec![
            Row {
                kind: "App",
                namespace: "shop".into(),
                name: "web".into(),
                state: "Waiting".into(),
                detail: "0/3 running, 0 healthy".into(),
                healthy: false,
                message: "waiting for shop/db: 1 of 3 healthy".into(),
            },
            Row {
                kind: "Job",
                namespace: "ops".into(),
                name: "backup-nightly".into(),
                state: "Scheduled".into(),
                detail: "4 ok, 0 failed".into(),
                healthy: true,
                message: String::new(),
            },
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "KIND  NAMESPACE  NAME            STATE      INSTANCES / RUNS        READY  MESSAGE");
        assert_eq!(
            lines[1],
            "App   shop       web             Waiting    0/3 running, 0 healthy  no     waiting for shop/db: 1 of 3 healthy"
        );
        assert_eq!(lines[2], "Job   ops        backup-nightly  Scheduled  4 ok, 0 failed          yes");
        assert!(table(&[]).contains("(no Apps, Jobs or Packages)"));
    }
}

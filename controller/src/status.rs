//! `dromos status`, `dromos app restart` and `dromos source suspend|resume|reconcile` (I/O):
//! read Apps, Jobs and Packages and print one table, ask the App operator for a restart, or
//! the GitSource operator for a reconcile. The web UI's actions call the same functions.

use anyhow::{Context, Result};
use dromos_crds::{App, Job, Package};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

/// One line of `dromos status` (`-o json|yaml` prints these, field names in camelCase).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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
    /// The App's running version, the Package's installed version (empty for Jobs): `-o wide`.
    pub version: String,
    /// When the Ready condition last changed (RFC 3339; empty without one): `-o wide`.
    pub since: String,
}

/// The Ready condition of a status: (status, reason, message, last transition time).
fn ready_condition(status: &Value) -> (Option<bool>, String, String, String) {
    let c = status["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let s = |c: &Value, k: &str| c[k].as_str().unwrap_or("").to_string();
    match c {
        Some(c) => (Some(c["status"] == "True"), s(c, "reason"), s(c, "message"), s(c, "lastTransitionTime")),
        None => (None, String::new(), String::new(), String::new()),
    }
}

/// A row for an App.
pub fn app_row(app: &App) -> Row {
    let status = app.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default();
    let (ready, _, message, since) = ready_condition(&status);
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
        version: status["version"].as_str().unwrap_or("").to_string(),
        since,
    }
}

fn other_row(kind: &'static str, ns: String, name: String, status: &Value, detail: String, version: String) -> Row {
    let (ready, reason, message, since) = ready_condition(status);
    Row {
        kind,
        namespace: ns,
        name,
        state: if reason.is_empty() { "Unknown".into() } else { reason },
        detail,
        healthy: ready == Some(true),
        message,
        version,
        since,
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
        rows.push(other_row("Job", j.namespace().unwrap_or_default(), j.name_any(), &s, detail, String::new()));
    }
    for p in api::<Package>(client, namespace).list(&lp).await.context("listing Packages")? {
        let s = p.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default();
        let detail =
            format!("{} {}", p.spec.name, s["installedVersion"].as_str().or(p.spec.version.as_deref()).unwrap_or("-"));
        let version = s["installedVersion"].as_str().unwrap_or("").to_string();
        rows.push(other_row("Package", p.namespace().unwrap_or_default(), p.name_any(), &s, detail, version));
    }
    Ok(rows)
}

/// Formats rows as an aligned table.
pub fn table(rows: &[Row]) -> String {
    table_with(rows, false)
}

/// Formats rows as an aligned table; `wide` adds the version and the time of the last Ready
/// change.
pub fn table_with(rows: &[Row], wide: bool) -> String {
    let mut header = vec!["KIND", "NAMESPACE", "NAME", "STATE", "INSTANCES / RUNS", "READY"];
    if wide {
        header.extend(["VERSION", "READY SINCE"]);
    }
    header.push("MESSAGE");
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![
                r.kind.to_string(),
                r.namespace.clone(),
                r.name.clone(),
                r.state.clone(),
                r.detail.clone(),
                if r.healthy { "yes".into() } else { "no".into() },
            ];
            if wide {
                let dash = |s: &str| if s.is_empty() { "-".to_string() } else { s.to_string() };
                c.extend([dash(&r.version), dash(&r.since)]);
            }
            c.push(r.message.clone());
            c
        })
        .collect();
    let mut out = crate::cli::output::table(&header, &cells);
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

/// Asks the GitSource operator for a reconcile (with `resume`, also sets `spec.suspend:
/// false`): sets the `dromos.io/reconcile-requested` annotation to the current time in
/// milliseconds (two requests within a second stay distinct). Returns that value, which the
/// operator copies to `status.lastHandledReconcileAt` once it has handled the request.
pub async fn request_source_reconcile(client: &Client, namespace: &str, name: &str, resume: bool) -> Result<String> {
    use dromos_core::gitsource::RECONCILE_REQUEST_ANNOTATION;
    let value = dromos_core::time::fmt_time(
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap_or_default(),
    );
    let mut patch = serde_json::json!({"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: value}}});
    if resume {
        patch["spec"] = serde_json::json!({"suspend": false});
    }
    Api::<dromos_crds::GitSource>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("requesting a reconcile of GitSource {namespace}/{name}"))?;
    Ok(value)
}

/// Suspends a GitSource (`spec.suspend: true`): its last applied revision stays and drift is
/// not reverted until it is resumed.
pub async fn suspend_source(client: &Client, namespace: &str, name: &str) -> Result<()> {
    Api::<dromos_crds::GitSource>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"suspend": true}})))
        .await
        .with_context(|| format!("suspending GitSource {namespace}/{name}"))?;
    Ok(())
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
                version: "3f9a1c2e5b".into(),
                since: "2026-12-05T01:00:00Z".into(),
            },
            Row {
                kind: "Job",
                namespace: "ops".into(),
                name: "backup-nightly".into(),
                state: "Scheduled".into(),
                detail: "4 ok, 0 failed".into(),
                healthy: true,
                message: String::new(),
                version: String::new(),
                since: String::new(),
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
        let wide = table_with(&rows, true);
        let lines: Vec<&str> = wide.lines().collect();
        assert!(lines[0].contains("READY  VERSION     READY SINCE           MESSAGE"), "{wide}");
        assert!(lines[1].contains("no     3f9a1c2e5b  2026-12-05T01:00:00Z  waiting for"), "{wide}");
        assert!(lines[2].contains("yes    -           -"), "{wide}");
    }
}

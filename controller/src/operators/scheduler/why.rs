//! `dromos app why` (I/O to read, pure to explain): placement mode, the decline summary and
//! every instance of an App.

use super::*;

/// `dromos app why`: reads the App and its pods and explains them.
pub async fn why(client: &Client, ns: &str, name: &str) -> anyhow::Result<String> {
    let (app, pods) = why_inputs(client, ns, name).await?;
    Ok(why_text(&app, &pods))
}

/// The App and its pods, as `dromos app why` reads them.
pub async fn why_inputs(client: &Client, ns: &str, name: &str) -> anyhow::Result<(App, Vec<Pod>)> {
    use anyhow::Context;
    let app = Api::<App>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .with_context(|| format!("reading app {ns}/{name}"))?
        .with_context(|| format!("app {ns}/{name} not found"))?;
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&kube::api::ListParams::default().labels(&format!("{APP_LABEL}={name}")))
        .await
        .with_context(|| format!("listing the pods of app {ns}/{name}"))?
        .items;
    Ok((app, pods))
}

/// One instance of an App as `dromos app why` shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// Pod name.
    pub instance: String,
    /// Waiting, Pending, Running (ready), Terminating, ...
    pub state: String,
    /// Node, `-` when not placed.
    pub node: String,
    /// The App version the instance runs.
    pub version: String,
    /// Why it waits, when it does.
    pub why: String,
    /// Pod IP, `-` when none yet.
    pub pod_ip: String,
}

/// Every instance of an App, sorted by name.
pub fn instances(pods: &[Pod]) -> Vec<Instance> {
    let mut rows: Vec<Instance> = pods
        .iter()
        .map(|p| {
            let spec = p.spec.as_ref();
            let st = p.status.clone().unwrap_or_default();
            let node = spec.and_then(|s| s.node_name.clone());
            let ready = st.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
            let state = if p.metadata.deletion_timestamp.is_some() {
                "Terminating".to_string()
            } else if node.is_none() {
                "Waiting".to_string()
            } else {
                let phase = st.phase.clone().unwrap_or_else(|| "Pending".into());
                if phase == "Running" && ready { "Running (ready)".into() } else { phase }
            };
            let why = if node.is_some() {
                String::new()
            } else if let Some(c) =
                st.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled" && c.status == "False")
            {
                c.message.clone().unwrap_or_default()
            } else if spec.and_then(|s| s.scheduler_name.as_deref()) == Some(SCHEDULER_NAME) {
                "no acceptable offer (see above)".into()
            } else {
                "not scheduled yet".into()
            };
            let version = p.annotations().get(VERSION_ANNOTATION).cloned().unwrap_or_default();
            Instance {
                instance: p.name_any(),
                state,
                node: node.unwrap_or_else(|| "-".into()),
                version,
                why,
                pod_ip: st.pod_ip.clone().unwrap_or_else(|| "-".into()),
            }
        })
        .collect();
    rows.sort();
    rows
}

/// `dromos app why -o json|yaml`: the App's wanted and running instances, placement mode,
/// the scheduler's placement status, what it waits for, and every instance.
pub fn why_value(app: &App, pods: &[Pod]) -> serde_json::Value {
    let status = app.status.clone().unwrap_or_default();
    let exact = app.spec.placement_mode.unwrap_or_default() == dromos_crds::app::PlacementMode::Exact;
    serde_json::json!({
        "app": format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any()),
        "instances": app.spec.instances.unwrap_or(1),
        "running": status.running.unwrap_or(0),
        "placementMode": if exact { "exact" } else { "native" },
        "placement": status.placement,
        "waitingFor": status.waiting_for,
        "pods": instances(pods),
    })
}

/// The text of `dromos app why`: placement mode, the decline summary and every instance.
pub fn why_text(app: &App, pods: &[Pod]) -> String {
    why_text_with(app, pods, false)
}

/// [`why_text`]; `wide` adds each instance's pod IP.
pub fn why_text_with(app: &App, pods: &[Pod], wide: bool) -> String {
    use std::fmt::Write;
    let ns = app.namespace().unwrap_or_default();
    let status = app.status.clone().unwrap_or_default();
    let mode = app.spec.placement_mode.unwrap_or_default();
    let exact = mode == dromos_crds::app::PlacementMode::Exact;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "app {ns}/{}: {} instance(s) wanted, {} running, placement {} ({})",
        app.name_any(),
        app.spec.instances.unwrap_or(1),
        status.running.unwrap_or(0),
        if exact { "exact" } else { "native" },
        if exact { "Dromos scheduler" } else { "kube-scheduler" }
    );
    match status.placement.as_ref().filter(|p| p.waiting > 0) {
        Some(p) => {
            let _ = writeln!(out, "not placed: {}", p.message.as_deref().unwrap_or(""));
            let width = p.declined.keys().map(String::len).max().unwrap_or(0);
            let mut declined: Vec<_> = p.declined.iter().collect();
            declined.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, n) in declined {
                let _ = writeln!(out, "  {reason:width$}  {n} offer(s) declined");
            }
        }
        None if exact => {
            let _ = writeln!(out, "no instance is waiting for an offer");
        }
        None => {}
    }
    if let Some(w) = &status.waiting_for {
        let _ = writeln!(out, "waiting for: {w}");
    }
    let rows = instances(pods);
    if rows.is_empty() {
        let _ = writeln!(out, "no instances");
        return out;
    }
    let mut head = vec!["INSTANCE", "STATE", "NODE", "VERSION"];
    if wide {
        head.push("POD IP");
    }
    head.push("WHY");
    let cells: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![r.instance.as_str(), r.state.as_str(), r.node.as_str(), r.version.as_str()];
            if wide {
                c.push(r.pod_ip.as_str());
            }
            c.push(r.why.as_str());
            c
        })
        .collect();
    out.push_str(&crate::cli::output::table(&head, &cells));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_explains_the_declines_and_every_instance() {
        let app: App = serde_json::from_value(json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "App",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"cmd": "sleep 1", "instances": 3, "constraints": [["hostname", "UNIQUE"]]},
            "status": {"running": 1, "placement": {
                "waiting": 2,
                "message": "2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3",
                "declined": {"UNIQUE hostname": 4, "insufficient mem": 3}
            }}
        }))
        .unwrap();
        let pod = |name: &str, node: Option<&str>, phase: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": name, "annotations": {VERSION_ANNOTATION: "abc"}},
                "spec": {"containers": [], "schedulerName": "dromos", "nodeName": node},
                "status": {"phase": phase}
            }))
            .unwrap()
        };
        let pods = [pod("web-2", None, "Pending"), pod("web-1", Some("n1"), "Running"), pod("web-3", None, "Pending")];
        let text = why_text(&app, &pods);
        assert_eq!(
            text,
            "app shop/web: 3 instance(s) wanted, 1 running, placement exact (Dromos scheduler)\n\
             not placed: 2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3\n\
             \x20 UNIQUE hostname   4 offer(s) declined\n\
             \x20 insufficient mem  3 offer(s) declined\n\
             INSTANCE  STATE    NODE  VERSION  WHY\n\
             web-1     Running  n1    abc\n\
             web-2     Waiting  -     abc      no acceptable offer (see above)\n\
             web-3     Waiting  -     abc      no acceptable offer (see above)\n"
        );
    }
}

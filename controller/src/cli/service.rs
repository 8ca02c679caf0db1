//! `dromos service plan | pod | endpoints`: the plans, pods and endpoints of a service package
//! (I/O: the cluster of the selected kubeconfig context). Plan commands are requests the
//! Package operator applies once (annotation `dromos.io/plan-command` with a fresh id).

use super::args::{PlanTarget, ServiceCommand, ServicePlanCommand, ServicePodCommand};
use super::block_on;
use super::output::{ListFormat, structured, table};
use anyhow::{Context, Result, bail};
use dromos_core::service::{observe, plan, render};
use dromos_crds::Package;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use std::process::ExitCode;

/// Runs one service subcommand against the cluster.
pub(crate) fn run(command: ServiceCommand) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let ns = |n: Option<String>| n.unwrap_or_else(|| cluster.namespace.clone());
        match command {
            ServiceCommand::Plan { command } => match command {
                ServicePlanCommand::Show { name, plan, namespace, output } => {
                    let pkg = get(&cluster, &ns(namespace), &name).await?;
                    show(&pkg, plan.as_deref(), output)?;
                }
                ServicePlanCommand::Pause(t) => request(&cluster, ns(t.namespace.clone()), &t, "pause").await?,
                ServicePlanCommand::Resume(t) => request(&cluster, ns(t.namespace.clone()), &t, "resume").await?,
                ServicePlanCommand::ForceComplete(t) => {
                    request(&cluster, ns(t.namespace.clone()), &t, "force-complete").await?
                }
                ServicePlanCommand::Restart(t) => request(&cluster, ns(t.namespace.clone()), &t, "restart").await?,
                ServicePlanCommand::Start { name, plan, namespace } => {
                    let t = PlanTarget { name, plan, phase: None, step: None, namespace };
                    request(&cluster, ns(t.namespace.clone()), &t, "start").await?
                }
            },
            ServiceCommand::Pod { command } => match command {
                ServicePodCommand::List { name, namespace, output } => {
                    let pods = pods_of(&cluster, &ns(namespace), &name).await?;
                    match structured(output, &serde_json::to_value(&pods)?) {
                        Some(text) => print!("{text}"),
                        None => print!("{}", pods_table(&pods, output.wide())),
                    }
                }
                ServicePodCommand::Status { name, instance, namespace, output } => {
                    let n = ns(namespace);
                    let pod = pod_name(&cluster, &n, &name, &instance).await?;
                    let pkg = get(&cluster, &n, &name).await?;
                    let live = Api::<Pod>::namespaced(cluster.client.clone(), &n).get(&pod).await?;
                    let status = pod_status(&pkg, &live);
                    match structured(output, &status) {
                        Some(text) => print!("{text}"),
                        None => print!("{}", status_text(&status)),
                    }
                }
                ServicePodCommand::Restart { name, instance, namespace } => {
                    let n = ns(namespace);
                    let pod = pod_name(&cluster, &n, &name, &instance).await?;
                    Api::<Pod>::namespaced(cluster.client.clone(), &n).delete(&pod, &Default::default()).await?;
                    println!("restarting {instance} of {n}/{name}: pod {pod} deleted, it comes back with its volumes");
                }
                ServicePodCommand::Replace { name, instance, namespace } => {
                    let n = ns(namespace);
                    let pod = pod_name(&cluster, &n, &name, &instance).await?;
                    let body = serde_json::json!({"metadata": {"annotations": {observe::ANN_REPLACE: "true"}}});
                    Api::<Pod>::namespaced(cluster.client.clone(), &n)
                        .patch(&pod, &PatchParams::default(), &Patch::Merge(&body))
                        .await?;
                    println!(
                        "replacing {instance} of {n}/{name}: the recovery plan deletes pod {pod} and its volumes; \
                         follow it with `dromos service plan show {name} recovery -n {n}`"
                    );
                }
            },
            ServiceCommand::Endpoints { name, namespace, output } => {
                let n = ns(namespace);
                let pkg = get(&cluster, &n, &name).await?;
                endpoints(&cluster, &pkg, output).await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn get(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<Package> {
    super::objects::get(cluster, ns, name).await
}

fn show(pkg: &Package, only: Option<&str>, output: ListFormat) -> Result<()> {
    let plans = pkg.status.clone().unwrap_or_default().plans;
    let plans: Vec<_> = plans.into_iter().filter(|p| only.is_none_or(|o| o == p.name)).collect();
    if plans.is_empty() {
        match only {
            Some(p) => bail!("{} has no plan {p:?}", pkg.name_any()),
            None => bail!("{} has no plans: its package version has no service specification", pkg.name_any()),
        }
    }
    if let Some(text) = structured(output, &serde_json::to_value(&plans)?) {
        print!("{text}");
        return Ok(());
    }
    for p in &plans {
        let strategy = if matches!(p.name.as_str(), "recovery" | "decommission") { "parallel" } else { "serial" };
        print!("{}", plan::tree(p, strategy));
    }
    Ok(())
}

async fn request(cluster: &crate::apiclient::Cluster, ns: String, t: &PlanTarget, verb: &str) -> Result<()> {
    let pkg = get(cluster, &ns, &t.name).await?;
    let mut target = t.plan.clone();
    if let Some(phase) = &t.phase {
        target = format!("{target}/{phase}");
        if let Some(step) = &t.step {
            target = format!("{target}/{step}");
        }
    }
    // Refuse what the operator would refuse, before writing anything.
    let mut plans = pkg.status.clone().unwrap_or_default().plans;
    let id = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default().to_string();
    let text = format!("{id} {verb} {target}");
    let (_, cmd) = observe::parse_command(&text).map_err(anyhow::Error::msg)?;
    if cmd.verb == plan::Verb::Start {
        // Which plans a package has is in its specification, which the operator renders: it
        // refuses an unknown one with a PlanCommandRefused Event.
        if plans.iter().any(|p| p.name == cmd.plan && p.status != dromos_crds::package::ElementStatus::Complete) {
            bail!("{ns}/{}: plan {} is running; restart it instead", t.name, cmd.plan);
        }
    } else {
        plan::command(&mut plans, &cmd).map_err(anyhow::Error::msg).context(format!("{ns}/{}", t.name))?;
    }
    let body = serde_json::json!({"metadata": {"annotations": {observe::ANN_COMMAND: text}}});
    Api::<Package>::namespaced(cluster.client.clone(), &ns)
        .patch(&t.name, &PatchParams::default(), &Patch::Merge(&body))
        .await?;
    println!(
        "requested {verb} {target} of {ns}/{} on {}; follow it with `dromos service plan show {} -n {ns}`",
        t.name, cluster.described, t.name
    );
    Ok(())
}

async fn pods_of(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<Vec<Pod>> {
    let selector = format!("{}={name},{}", dromos_core::package::LABEL_INSTANCE, render::LABEL_POD);
    let mut pods =
        Api::<Pod>::namespaced(cluster.client.clone(), ns).list(&ListParams::default().labels(&selector)).await?.items;
    pods.sort_by_key(|p| p.name_any());
    Ok(pods)
}

async fn pod_name(cluster: &crate::apiclient::Cluster, ns: &str, name: &str, instance: &str) -> Result<String> {
    let pod = format!("{name}-{instance}");
    if !pods_of(cluster, ns, name).await?.iter().any(|p| p.name_any() == pod) {
        bail!("{ns}/{name} has no instance {instance} (pod {pod}); see `dromos service pod list {name} -n {ns}`");
    }
    Ok(pod)
}

/// `dromos service pod status` as data: the instance's pod, tasks, claims and steps.
fn pod_status(pkg: &Package, pod: &Pod) -> serde_json::Value {
    let labels = pod.labels();
    let pod_type = labels.get(render::LABEL_POD).cloned().unwrap_or_default();
    let index: u32 = labels.get(render::LABEL_INDEX).and_then(|i| i.parse().ok()).unwrap_or(0);
    let status = pod.status.clone().unwrap_or_default();
    let revision = pod.annotations().get(render::ANN_REVISION).cloned().unwrap_or_default();
    let plans = pkg.status.clone().unwrap_or_default().plans;
    let target = plans
        .iter()
        .flat_map(|p| p.phases.iter().flat_map(|ph| ph.steps.iter()))
        .filter(|s| s.pod == pod_type && !s.target.is_empty())
        .map(|s| s.target.clone())
        .next_back()
        .unwrap_or_default();
    let task = |c: &k8s_openapi::api::core::v1::ContainerStatus, goal: &str| {
        let state = c.state.as_ref().map_or("unknown".to_string(), |s| {
            if s.running.is_some() {
                "running".into()
            } else if let Some(t) = &s.terminated {
                format!("exited {}", t.exit_code)
            } else if let Some(w) = &s.waiting {
                format!("waiting: {}", w.reason.clone().unwrap_or_default())
            } else {
                "unknown".into()
            }
        });
        let last = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| format!("exit {} ({})", t.exit_code, t.reason.clone().unwrap_or_default()));
        serde_json::json!({"task": c.name, "goal": goal, "ready": c.ready, "state": state,
                           "restarts": c.restart_count, "lastExit": last})
    };
    let mut tasks: Vec<serde_json::Value> =
        status.init_container_statuses.iter().flatten().map(|c| task(c, "ONCE or FINISHED")).collect();
    tasks.extend(status.container_statuses.iter().flatten().map(|c| task(c, "RUNNING")));
    let claims: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone()))
        .collect();
    let mut steps: Vec<serde_json::Value> = vec![];
    for p in &plans {
        for ph in &p.phases {
            for st in ph.steps.iter().filter(|st| st.pod == pod_type && st.index == index) {
                steps.push(serde_json::json!({"plan": p.name, "phase": ph.name, "step": st.name,
                                              "status": st.status, "message": st.message}));
            }
        }
    }
    serde_json::json!({
        "instance": format!("{pod_type}-{index}"), "pod": pod.name_any(), "uid": pod.uid(),
        "node": pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        "phase": status.phase, "ready": status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True"),
        "revision": revision, "targetRevision": target,
        "replace": pod.annotations().contains_key(observe::ANN_REPLACE),
        "tasks": tasks, "claims": claims, "steps": steps,
    })
}

fn status_text(v: &serde_json::Value) -> String {
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for (label, key) in
        [("instance", "instance"), ("pod", "pod"), ("node", "node"), ("phase", "phase"), ("ready", "ready")]
    {
        out.push_str(&format!("{label:<10} {}\n", s(key)));
    }
    let current =
        if v["revision"] == v["targetRevision"] { "current" } else { "stale: an update step will restart it" };
    out.push_str(&format!("{:<10} {} ({current})\n", "revision", s("revision")));
    if v["replace"] == true {
        out.push_str("replace    requested: the recovery plan replaces it\n");
    }
    let rows: Vec<Vec<String>> = v["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let f = |k: &str| t[k].as_str().map(String::from).unwrap_or_else(|| t[k].to_string());
            vec![
                f("task"),
                f("goal"),
                f("ready"),
                f("state"),
                f("restarts"),
                t["lastExit"].as_str().unwrap_or("-").into(),
            ]
        })
        .collect();
    out.push_str(&format!("\n{}", table(&["TASK", "GOAL", "READY", "STATE", "RESTARTS", "LAST EXIT"], &rows)));
    let claims: Vec<&str> = v["claims"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
    out.push_str(&format!("\nclaims     {}\n", if claims.is_empty() { "-".to_string() } else { claims.join(", ") }));
    let steps: Vec<Vec<String>> = v["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|st| {
            let f = |k: &str| st[k].as_str().map(String::from).unwrap_or_else(|| "-".into());
            vec![f("plan"), f("phase"), f("step"), f("status"), f("message")]
        })
        .collect();
    if !steps.is_empty() {
        out.push_str(&format!("\n{}", table(&["PLAN", "PHASE", "STEP", "STATUS", "MESSAGE"], &steps)));
    }
    out
}

/// The table of `dromos service pod list`.
fn pods_table(pods: &[Pod], wide: bool) -> String {
    let mut header = vec!["POD TYPE", "INDEX", "NAME", "READY", "NODE", "RESTARTS"];
    if wide {
        header.extend(["REVISION", "REPLACE"]);
    }
    let observed = observe::instances(pods, None, &Default::default());
    let rows: Vec<Vec<String>> = pods
        .iter()
        .map(|p| {
            let labels = p.labels();
            let key = (
                labels.get(render::LABEL_POD).cloned().unwrap_or_default(),
                labels.get(render::LABEL_INDEX).and_then(|i| i.parse().ok()).unwrap_or(0),
            );
            let inst = observed.get(&key).cloned().unwrap_or_default();
            let status = p.status.clone().unwrap_or_default();
            let restarts: i32 = status.container_statuses.iter().flatten().map(|c| c.restart_count).sum();
            let mut row = vec![
                key.0.clone(),
                key.1.to_string(),
                p.name_any(),
                if inst.ready { "true".into() } else { "false".into() },
                p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_else(|| "-".into()),
                restarts.to_string(),
            ];
            if wide {
                row.push(inst.revision.clone());
                row.push(if p.annotations().contains_key(observe::ANN_REPLACE) {
                    "requested".into()
                } else {
                    "-".into()
                });
            }
            row
        })
        .collect();
    table(&header, &rows)
}

async fn endpoints(cluster: &crate::apiclient::Cluster, pkg: &Package, output: ListFormat) -> Result<()> {
    let ns = pkg.namespace().unwrap_or_default();
    let name = pkg.name_any();
    let selector = format!("{}={name}", dromos_core::package::LABEL_INSTANCE);
    let services = Api::<Service>::namespaced(cluster.client.clone(), &ns)
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    let pods = pods_of(cluster, &ns, &name).await?;
    let mut out = vec![];
    for svc in services.iter().filter(|s| s.labels().contains_key(render::LABEL_POD)) {
        let pod_type = svc.labels()[render::LABEL_POD].clone();
        let ports: Vec<(String, i32)> = svc
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .filter(|p| p.name.as_deref() != Some("none"))
            .map(|p| (p.name.clone().unwrap_or_default(), p.port))
            .collect();
        let mut addresses = vec![];
        for p in pods.iter().filter(|p| p.labels().get(render::LABEL_POD) == Some(&pod_type)) {
            let host = format!("{}.{}.{ns}.svc", p.name_any(), svc.name_any());
            for (port_name, port) in &ports {
                addresses.push(serde_json::json!({"instance": p.name_any(), "port": port_name, "address": format!("{host}:{port}")}));
            }
        }
        out.push(serde_json::json!({"podType": pod_type, "service": svc.name_any(), "endpoints": addresses}));
    }
    if out.is_empty() {
        bail!("{ns}/{name} has no service pod types");
    }
    if let Some(text) = structured(output, &serde_json::Value::Array(out.clone())) {
        print!("{text}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .flat_map(|t| {
            let pod_type = t["podType"].as_str().unwrap_or_default().to_string();
            t["endpoints"].as_array().cloned().unwrap_or_default().into_iter().map(move |e| {
                vec![
                    pod_type.clone(),
                    e["instance"].as_str().unwrap_or_default().into(),
                    e["port"].as_str().unwrap_or_default().into(),
                    e["address"].as_str().unwrap_or_default().into(),
                ]
            })
        })
        .collect();
    print!("{}", table(&["POD TYPE", "INSTANCE", "PORT", "ADDRESS"], &rows));
    Ok(())
}

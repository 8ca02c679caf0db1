//! `dromos app list | why | restart | scale | kill | versions | rollback` and `dromos status`:
//! one App, or the health of every App, Job and Package (I/O: the cluster of the selected
//! kubeconfig context).

use super::args::{AppAction, ListScope, Target};
use super::block_on;
use super::objects::list_value;
use super::output::{ListFormat, structured, table};
use anyhow::{Context, Result, bail};
use dromos_core::appstate::versions::{self, Recorded};
use dromos_crds::App;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use std::process::ExitCode;

/// Runs one app subcommand against the cluster.
pub(crate) fn run(action: AppAction) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let client = &cluster.client;
        let ns_of = |t: &Target| t.namespace.clone().unwrap_or_else(|| cluster.namespace.clone());
        match action {
            AppAction::List { scope } => list(&cluster, &scope).await?,
            AppAction::Why { name, namespace, output } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                let (app, pods) = crate::operators::scheduler::why_inputs(client, &namespace, &name).await?;
                match structured(output, &crate::operators::scheduler::why_value(&app, &pods)) {
                    Some(text) => print!("{text}"),
                    None => print!("{}", crate::operators::scheduler::why_text_with(&app, &pods, output.wide())),
                }
            }
            AppAction::Restart { name, namespace } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                let at = crate::status::restart_app(client, &namespace, &name).await?;
                println!(
                    "app {namespace}/{name} on {}: restart requested at {at}; `dromos status -n {namespace}` shows the rollout",
                    cluster.described
                );
            }
            AppAction::Scale { target, instances, force } => {
                let ns = ns_of(&target);
                let app = get(&cluster, &ns, &target.name).await?;
                let note = guard(&app, force, !autoscaled(&app))?;
                let before = app.spec.instances.unwrap_or(1);
                scale(&cluster, &ns, &target.name, instances).await?;
                println!(
                    "app {ns}/{} on {}: instances {before} -> {instances}; `dromos status -n {ns}` shows the deployment",
                    target.name, cluster.described
                );
                print_note(note);
            }
            AppAction::Kill { target, scale: to_zero, force } => {
                let ns = ns_of(&target);
                let app = get(&cluster, &ns, &target.name).await?;
                let note = if to_zero { guard(&app, force, true)? } else { None };
                if to_zero {
                    scale(&cluster, &ns, &target.name, 0).await?;
                }
                let killed = kill_instances(&cluster, &ns, &target.name).await?;
                println!(
                    "app {ns}/{} on {}: killed {} instance(s){}",
                    target.name,
                    cluster.described,
                    killed.len(),
                    if to_zero {
                        " and scaled to 0 (`dromos app scale` starts it again)".to_string()
                    } else {
                        "; the App's workload starts replacements".to_string()
                    }
                );
                for k in killed {
                    println!("  {k}");
                }
                print_note(note);
            }
            AppAction::Versions { target, output } => {
                let ns = ns_of(&target);
                let app = get(&cluster, &ns, &target.name).await?;
                let records = recorded_versions(&cluster, &app).await?;
                let current = current_version(&app)?;
                match structured(output, &list_value(&records)?) {
                    Some(text) => print!("{text}"),
                    None => print!("{}", versions_table(&records, &current, output.wide())),
                }
            }
            AppAction::Rollback { target, to, force } => {
                let ns = ns_of(&target);
                let app = get(&cluster, &ns, &target.name).await?;
                let note = guard(&app, force, true)?;
                let records = recorded_versions(&cluster, &app).await?;
                let current = current_version(&app)?;
                let recorded: Vec<Recorded> = records.iter().map(recorded).collect();
                let target_rec = versions::rollback_target(&recorded, &current, to.as_deref())
                    .map_err(|e| anyhow::anyhow!("app {ns}/{}: {e}", target.name))?;
                let record = records.iter().find(|r| r.name_any() == target_rec.name).expect("a listed record");
                rollback(&cluster, app, record).await?;
                println!(
                    "app {ns}/{} on {}: rolled back from version {current} to {} (instances kept); `dromos status -n {ns}` shows the deployment",
                    target.name, cluster.described, target_rec.version
                );
                print_note(note);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn get(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<App> {
    super::objects::get(cluster, ns, name).await
}

/// Whether a sync keeps this App's live instances (`dromos.io/autoscaled: "true"`, decision
/// 0045): then scaling it is not reverted.
fn autoscaled(app: &App) -> bool {
    app.annotations().get(dromos_core::plan::AUTOSCALED_ANNOTATION).map(String::as_str) == Some("true")
}

/// Who reverts a direct write to `app`: the GitSource, local sync or Package its
/// `dromos.io/source` label names.
fn manager(app: &App) -> Option<String> {
    let source = app.labels().get(dromos_core::plan::SOURCE_LABEL)?;
    Some(match source.split_once('.') {
        Some(("local", dir)) => format!("the `dromos sync` of directory {dir} (label dromos.io/source={source})"),
        Some((pkg, name)) if pkg.starts_with("pkg_") => {
            format!("Package {}/{name} (label dromos.io/source={source})", &pkg["pkg_".len()..])
        }
        Some((ns, name)) => format!("GitSource {ns}/{name} (label dromos.io/source={source})"),
        None => format!("the source `{source}` (label dromos.io/source)"),
    })
}

/// Refuses a write to the spec of an App that a source manages unless `force`; with `force`,
/// the note to print after the write. `reverted`: whether the source's next sync undoes it.
fn guard(app: &App, force: bool, reverted: bool) -> Result<Option<String>> {
    let Some(who) = manager(app).filter(|_| reverted) else { return Ok(None) };
    let id = format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any());
    if !force {
        bail!(
            "app {id} is managed by {who}: its next sync reverts a direct change; change it in Git, or pass --force \
             to write it anyway until then"
        );
    }
    Ok(Some(format!(
        "note: app {id} is managed by {who}; its next sync reverts this change (within seconds when it heals drift)"
    )))
}

fn print_note(note: Option<String>) {
    if let Some(n) = note {
        eprintln!("{n}");
    }
}

async fn scale(cluster: &crate::apiclient::Cluster, ns: &str, name: &str, instances: i32) -> Result<()> {
    let patch = serde_json::json!({"spec": {"instances": instances}});
    Api::<App>::namespaced(cluster.client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("scaling App {ns}/{name} on {}", cluster.described))?;
    Ok(())
}

/// Deletes every pod of the App (Marathon's kill); returns their names.
async fn kill_instances(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<Vec<String>> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let lp = ListParams::default().labels(&format!("{}={name}", dromos_core::translate::APP_LABEL));
    let list = pods.list(&lp).await.with_context(|| format!("listing the instances of App {ns}/{name}"))?;
    let mut killed = vec![];
    for p in list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        match pods.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => killed.push(p.name_any()),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("killing instance {}", p.name_any())),
        }
    }
    killed.sort();
    Ok(killed)
}

/// The App's current version: the hash the operator computes of its spec, read the same way.
fn current_version(app: &App) -> Result<String> {
    let opts =
        dromos_core::LoadOptions { default_namespace: app.namespace().unwrap_or_default(), ..Default::default() };
    let tree = dromos_core::check_live("App", &serde_json::to_value(app)?, &opts);
    let m = tree.manifests.first().context("the App does not load as a manifest")?;
    Ok(dromos_core::translate::app_version(&m.value["spec"]))
}

/// The version records of an App (its ControllerRevisions), newest first.
async fn recorded_versions(cluster: &crate::apiclient::Cluster, app: &App) -> Result<Vec<ControllerRevision>> {
    let ns = app.namespace().unwrap_or_default();
    let uid = app.uid().unwrap_or_default();
    let lp = ListParams::default().labels(&format!("{}={}", dromos_core::translate::APP_LABEL, app.name_any()));
    let mut items: Vec<ControllerRevision> = Api::<ControllerRevision>::namespaced(cluster.client.clone(), &ns)
        .list(&lp)
        .await
        .with_context(|| format!("listing the recorded versions of App {ns}/{}", app.name_any()))?
        .items
        .into_iter()
        .filter(|r| r.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
        .collect();
    items.sort_by_key(|r| std::cmp::Reverse(r.revision));
    Ok(items)
}

fn recorded(r: &ControllerRevision) -> Recorded {
    Recorded {
        name: r.name_any(),
        version: r.labels().get(versions::VERSION_LABEL).cloned().unwrap_or_default(),
        revision: r.revision,
    }
}

/// The table of `dromos app versions`; `wide` adds what each version runs.
fn versions_table(records: &[ControllerRevision], current: &str, wide: bool) -> String {
    let mut header = vec!["VERSION", "REVISION", "RECORDED", "CURRENT"];
    if wide {
        header.push("RUNS");
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let rec = recorded(r);
            let mut row = vec![
                rec.version.clone(),
                rec.revision.to_string(),
                r.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default(),
                if rec.version == current { "yes".into() } else { String::new() },
            ];
            if wide {
                let data = r.data.as_ref().map(|d| d.0.clone()).unwrap_or_default();
                let runs = data["container"]["docker"]["image"]
                    .as_str()
                    .map(|i| format!("image {i}"))
                    .or_else(|| data["cmd"].as_str().map(|c| format!("cmd {c}")))
                    .unwrap_or_else(|| "-".into());
                row.push(runs);
            }
            row
        })
        .collect();
    let mut out = table(&header, &rows);
    if records.is_empty() {
        out.push_str("(no versions recorded: the App operator records each version it deploys)\n");
    }
    out
}

/// Replaces the App's spec with the recorded one, keeping its instances; an update guarded by
/// the resourceVersion read, so a change made meanwhile is not overwritten.
async fn rollback(cluster: &crate::apiclient::Cluster, mut app: App, record: &ControllerRevision) -> Result<()> {
    let ns = app.namespace().unwrap_or_default();
    let name = app.name_any();
    let mut spec = record.data.as_ref().map(|d| d.0.clone()).context("the version record holds no spec")?;
    spec["instances"] = serde_json::json!(app.spec.instances.unwrap_or(1));
    app.spec = serde_json::from_value(spec)
        .with_context(|| format!("version record {} is not an App spec", record.name_any()))?;
    app.status = None;
    Api::<App>::namespaced(cluster.client.clone(), &ns)
        .replace(&name, &PostParams::default(), &app)
        .await
        .with_context(|| format!("rolling back App {ns}/{name} on {}", cluster.described))?;
    Ok(())
}

async fn list(cluster: &crate::apiclient::Cluster, scope: &ListScope) -> Result<()> {
    let items: Vec<App> = super::objects::list(cluster, scope).await?;
    super::objects::print_list(&items, scope, apps_table)
}

/// The table of `dromos app list`.
pub(crate) fn apps_table(items: &[App], wide: bool) -> String {
    let mut header = vec!["NAMESPACE", "NAME", "STATE", "INSTANCES", "RUNNING", "HEALTHY", "VERSION", "READY"];
    if wide {
        header.extend(["STAGED", "UNHEALTHY", "RESTARTS", "DEPLOYMENT", "SOURCE", "MESSAGE"]);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|a| {
            let st = a.status.clone().unwrap_or_default();
            let n = |v: Option<i32>| v.unwrap_or(0).to_string();
            let row = crate::status::app_row(a);
            let mut cells = vec![
                a.namespace().unwrap_or_default(),
                a.name_any(),
                st.state.clone().unwrap_or_else(|| "Unknown".into()),
                a.spec.instances.unwrap_or(1).to_string(),
                n(st.running),
                n(st.healthy),
                st.version.clone().unwrap_or_else(|| "-".into()),
                if row.healthy { "yes".into() } else { "no".into() },
            ];
            if wide {
                cells.extend([
                    n(st.staged),
                    n(st.unhealthy),
                    n(st.restarts),
                    st.deployment
                        .as_ref()
                        .map(|d| format!("{} {}", d.reason, d.progress.clone().unwrap_or_default()))
                        .unwrap_or_else(|| "-".into()),
                    a.labels().get(dromos_core::plan::SOURCE_LABEL).cloned().unwrap_or_else(|| "-".into()),
                    row.message,
                ]);
            }
            cells
        })
        .collect();
    let mut out = table(&header, &rows);
    if items.is_empty() {
        out.push_str("(no Apps)\n");
    }
    out
}

/// `dromos status`: the table of Apps, Jobs and Packages; exit 3 when one is not healthy.
/// Rows of `namespace`, of the context's namespace when none is named, or of every namespace
/// with `all`.
pub(crate) fn status(namespace: Option<String>, all: bool, output: ListFormat) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let namespace = if all { None } else { Some(namespace.unwrap_or_else(|| cluster.namespace.clone())) };
        let rows = crate::status::collect(&cluster.client, namespace.as_deref())
            .await
            .with_context(|| format!("reading Apps, Jobs and Packages on {}", cluster.described))?;
        match structured(output, &serde_json::to_value(&rows)?) {
            Some(text) => print!("{text}"),
            None => print!("{}", crate::status::table_with(&rows, output.wide())),
        }
        Ok(if rows.iter().all(|r| r.healthy) { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

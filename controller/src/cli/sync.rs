//! `dromos sync` and `dromos plan`: apply a directory to the cluster of the current kubeconfig,
//! or show what applying it would change (I/O: reads files, the cluster or a snapshot).

use super::args::{PlanFormat, SourceArgs};
use super::{block_on, limiter};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

impl SourceArgs {
    fn name_for(&self, path: &std::path::Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            let n = path
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "default".into());
            n.to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
                .collect()
        })
    }

    fn settings(&self, name: &str) -> crate::sync::SyncSettings {
        crate::sync::SyncSettings {
            source: format!("local.{name}"),
            force: self.force,
            force_owned: true,
            plan: dromos_core::plan::PlanOptions {
                prune: !self.no_prune,
                max_delete_fraction: self.max_delete_fraction,
                allow_mass_delete: self.allow_mass_delete,
            },
            concurrency: self.concurrency,
            default_namespace: self.default_namespace.clone(),
            limiter: limiter(self.qps, self.burst),
            scope: crate::scope::Scope::All,
            written: None,
        }
    }
}

/// `dromos sync`: one sync (exit 1 on failures or a guard refusal), or one on every change with
/// `--watch`.
pub(crate) fn run(path: PathBuf, source: SourceArgs, watch: bool, debounce_ms: u64) -> Result<ExitCode> {
    let name = source.name_for(&path);
    let settings = source.settings(&name);
    let store = crate::local::InventoryStore { namespace: source.inventory_namespace.clone(), name };
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        eprintln!("syncing {} to {}", path.display(), cluster.described);
        let client = cluster.client;
        if watch {
            crate::local::watch_dir(&client, &path, &store, &settings, std::time::Duration::from_millis(debounce_ms))
                .await?;
            return Ok(ExitCode::SUCCESS);
        }
        let mut resolver = crate::sync::Resolver::default();
        let outcome = crate::local::sync_dir(&client, &mut resolver, &path, &store, &settings).await?;
        println!("{}", crate::local::describe(&outcome));
        Ok(if outcome.failures.is_empty() && !outcome.blocked() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// `dromos plan`: exit 0 no changes, 2 changes, 1 a guard refusal.
pub(crate) fn plan(
    path: PathBuf,
    source: SourceArgs,
    snapshot: Option<PathBuf>,
    output: PlanFormat,
    rendered: Option<dromos_core::RenderOptions>,
) -> Result<ExitCode> {
    let name = source.name_for(&path);
    let settings = source.settings(&name);
    let prepared = crate::local::prepare_dir(&path, &settings.default_namespace)?;
    let skipped = prepared.tree.skipped.clone();
    let (mut plan, native) = match snapshot {
        Some(file) => plan_snapshot(&file, prepared, &settings, rendered.as_ref())?,
        None => plan_cluster(&source, name, prepared, &settings, rendered.as_ref())?,
    };
    plan.skipped = skipped;
    let text = match output {
        PlanFormat::Text => {
            dromos_core::plan::report::text(&plan)
                + &native.as_ref().map(dromos_core::plan::native::text).unwrap_or_default()
        }
        PlanFormat::Markdown => {
            dromos_core::plan::report::markdown(&plan, &format!("dromos plan: {}", path.display()))
                + &native.as_ref().map(dromos_core::plan::native::markdown).unwrap_or_default()
        }
        PlanFormat::Json => {
            let mut v = dromos_core::plan::report::json(&plan);
            if let Some(n) = &native {
                v["rendered"] = dromos_core::plan::native::json(n);
            }
            serde_json::to_string_pretty(&v)? + "\n"
        }
    };
    print!("{text}");
    Ok(if matches!(plan.guard, dromos_core::plan::Guard::Blocked { .. }) {
        ExitCode::from(1)
    } else if plan.is_noop() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

type Planned = (dromos_core::plan::Plan, Option<dromos_core::plan::native::Native>);

/// Plans against a snapshot file of live objects: the desired objects are stamped and given
/// the default namespace here, as a live plan does before comparing.
fn plan_snapshot(
    file: &Path,
    prepared: dromos_core::prepare::Prepared,
    settings: &crate::sync::SyncSettings,
    rendered: Option<&dromos_core::RenderOptions>,
) -> Result<Planned> {
    let (snapshot, inventory) = crate::local::snapshot(file, &settings.source)?;
    let mut desired = prepared.objects;
    for d in &mut desired {
        dromos_core::plan::stamp(d, &settings.source);
        let group =
            d["apiVersion"].as_str().unwrap_or("").rsplit_once('/').map(|x| x.0.to_string()).unwrap_or_default();
        let kind = d["kind"].as_str().unwrap_or("").to_string();
        if d["metadata"]["namespace"].is_null() && !dromos_core::load::is_cluster_scoped(&group, &kind) {
            d["metadata"]["namespace"] = serde_json::Value::String(settings.default_namespace.clone());
        }
    }
    let live = dromos_core::plan::observe(&mut desired, snapshot.values().cloned());
    let plan = dromos_core::plan::plan_sync(&desired, &live, &inventory, &prepared.levels, &settings.plan);
    let native = rendered.map(|r| crate::native::against_snapshot(&plan, &desired, &snapshot, r));
    Ok((plan, native))
}

/// Plans against the cluster of the current kubeconfig and the source's inventory there.
fn plan_cluster(
    source: &SourceArgs,
    name: String,
    prepared: dromos_core::prepare::Prepared,
    settings: &crate::sync::SyncSettings,
    rendered: Option<&dromos_core::RenderOptions>,
) -> Result<Planned> {
    block_on(async {
        let client = crate::apiclient::infer().await?;
        let store = crate::local::InventoryStore { namespace: source.inventory_namespace.clone(), name };
        let inventory = store.load(&client).await?;
        let mut resolver = crate::sync::Resolver::default();
        let (plan, desired, _) =
            crate::sync::plan_live(&client, &mut resolver, prepared.objects, &prepared.levels, &inventory, settings)
                .await?;
        let native = match rendered {
            Some(r) => Some(crate::native::against_cluster(&client, &plan, &desired, r).await),
            None => None,
        };
        anyhow::Ok((plan, native))
    })
}

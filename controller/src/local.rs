//! `dromos sync DIR` and `dromos plan DIR` (I/O): a working directory synced to a cluster,
//! once or on every save, and the plan of a tree against a cluster or a snapshot file.
//!
//! A local source is named `local.<name>`; its inventory lives in the ConfigMap
//! `dromos-inventory-<name>` (key `inventory`, one `apiVersion|kind|namespace|name` per line),
//! written only when it changes so a no-op resync makes zero writes.

use crate::fsread;
use crate::sync::{self, Resolver, SyncOutcome, SyncSettings};
use anyhow::{Context, Result};
use dromos_core::plan::{self, ObjRef};
use dromos_core::{LoadOptions, diag};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Where a local source keeps its inventory.
#[derive(Clone, Debug)]
pub struct InventoryStore {
    /// Namespace of the ConfigMap.
    pub namespace: String,
    /// Source name.
    pub name: String,
}

impl InventoryStore {
    fn cm_name(&self) -> String {
        format!("dromos-inventory-{}", self.name)
    }

    /// Reads the inventory (empty when the ConfigMap does not exist).
    pub async fn load(&self, client: &Client) -> Result<Vec<ObjRef>> {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &self.namespace);
        let Some(cm) = api.get_opt(&self.cm_name()).await? else { return Ok(vec![]) };
        let data = cm.data.unwrap_or_default();
        let listed: Vec<String> =
            data.get("inventory").map(|t| t.lines().map(str::to_string).collect()).unwrap_or_default();
        let entries = dromos_core::plan::stored::entries(&listed, data.get("inventory.packed").map(String::as_str))
            .map_err(|e| anyhow::anyhow!("ConfigMap {}/{}: inventory.packed: {e}", self.namespace, self.cm_name()))?;
        Ok(sync::parse_inventory(entries.iter().map(String::as_str)))
    }

    /// Writes the inventory if it differs from `old`; returns whether it wrote. Listed under
    /// `inventory` while small, packed under `inventory.packed` when long
    /// ([`dromos_core::plan::stored`]).
    pub async fn save(&self, client: &Client, old: &[ObjRef], new: &[ObjRef]) -> Result<bool> {
        let sorted = |v: &[ObjRef]| {
            let mut l: Vec<String> = v.iter().map(ObjRef::encode).collect();
            l.sort();
            l.dedup();
            l
        };
        if sorted(new) == sorted(old) {
            return Ok(false);
        }
        let data = match dromos_core::plan::stored::store(new).map_err(|e| anyhow::anyhow!("{e}"))? {
            dromos_core::plan::stored::Stored::Inline(entries) => json!({"inventory": entries.join("\n")}),
            dromos_core::plan::stored::Stored::Packed(p) => json!({"inventory.packed": p}),
        };
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &self.namespace);
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.cm_name(), "namespace": self.namespace,
                         "labels": {"app.kubernetes.io/managed-by": "dromos", "dromos.io/inventory-of": format!("local.{}", self.name)}},
            "data": data
        });
        api.patch(&self.cm_name(), &PatchParams::apply(sync::FIELD_MANAGER).force(), &Patch::Apply(&cm)).await?;
        Ok(true)
    }
}

pub use dromos_core::prepare::Prepared;

/// Loads, validates and renders a directory ([`dromos_core::prepare`]). On invalid input
/// returns the rendered diagnostics as the error, so nothing is applied.
pub fn prepare_dir(path: &Path, default_namespace: &str) -> Result<Prepared> {
    let files = fsread::fetch_tree(path, 8 << 20).with_context(|| format!("reading {}", path.display()))?;
    let opts = LoadOptions {
        default_namespace: default_namespace.to_string(),
        threads: crate::threads(),
        ..Default::default()
    };
    dromos_core::prepare::prepare(&files.files, files.diagnostics, &opts).map_err(|tree| {
        let text = diag::render_text(&tree.diagnostics, |f| {
            files.files.iter().find(|x| x.path == f).and_then(|x| std::str::from_utf8(&x.bytes).ok())
        });
        anyhow::anyhow!("{} is invalid; nothing was applied\n{text}", path.display())
    })
}

/// Prints a one-line summary of a sync.
pub fn describe(o: &SyncOutcome) -> String {
    let mut s = format!(
        "applied {}, unchanged {}, pruned {}, failed {}; {} writes, {} reads, {} ms",
        o.applied,
        o.plan.count(plan::Action::Unchanged),
        o.pruned,
        o.failures.len(),
        o.writes,
        o.reads,
        o.duration.as_millis()
    );
    if !o.plan.kept.is_empty() {
        let kept: Vec<String> =
            o.plan.kept.iter().map(|(k, why)| format!("{} ({})", k.display(), why.explain())).collect();
        s.push_str(&format!("\n  kept, not deleted: {}", kept.join(", ")));
    }
    for f in &o.plan.skipped {
        s.push_str(&format!("\n  skipped {} ({})", f.path, f.rule));
    }
    if o.blocked() {
        s = format!("refused: {}", plan::report::text(&o.plan).lines().last().unwrap_or_default());
    }
    for f in &o.failures {
        s.push_str(&format!("\n  {} {}: {}", f.reason, f.obj.display(), f.message));
    }
    s
}

/// Syncs a directory once.
pub async fn sync_dir(
    client: &Client,
    resolver: &mut Resolver,
    path: &Path,
    store: &InventoryStore,
    settings: &SyncSettings,
) -> Result<SyncOutcome> {
    let mut prepared = prepare_dir(path, &settings.default_namespace)?;
    // The loaded manifests (values, typed forms, field positions: several times the rendered
    // objects) are not needed by the sync.
    drop(std::mem::take(&mut prepared.tree.manifests));
    let inventory = store.load(client).await?;
    let mut outcome = sync::sync(client, resolver, prepared.objects, &prepared.levels, &inventory, settings).await?;
    outcome.plan.skipped = prepared.tree.skipped;
    if !outcome.blocked() {
        store.save(client, &inventory, &outcome.inventory).await?;
    }
    Ok(outcome)
}

/// Syncs on every change under `path`, debounced.
pub async fn watch_dir(
    client: &Client,
    path: &Path,
    store: &InventoryStore,
    settings: &SyncSettings,
    debounce: Duration,
) -> Result<()> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(path, RecursiveMode::Recursive)?;
    let mut resolver = Resolver::default();
    loop {
        match sync_dir(client, &mut resolver, path, store, settings).await {
            Ok(o) => eprintln!("[{}] {}", chrono::Utc::now().format("%H:%M:%S"), describe(&o)),
            Err(e) => eprintln!("[{}] {e:#}", chrono::Utc::now().format("%H:%M:%S")),
        }
        // Wait for a change, then for a quiet period.
        if rx.recv().await.is_none() {
            return Ok(());
        }
        loop {
            match tokio::time::timeout(debounce, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return Ok(()),
                Err(_) => break,
            }
        }
    }
}

/// Live objects and inventory of a source from a snapshot file (YAML stream or List of live
/// objects, e.g. `kubectl get ... -o yaml`): objects carrying the source's label are live and
/// make up the inventory.
pub fn snapshot(path: &Path, source: &str) -> Result<(std::collections::HashMap<plan::Key, Value>, Vec<ObjRef>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let docs = dromos_core::yaml::parse_documents(&text, Default::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut objects = vec![];
    for d in docs {
        match d.value.get("items").and_then(Value::as_array) {
            Some(items) if d.value["kind"].as_str().is_some_and(|k| k.ends_with("List")) => {
                objects.extend(items.iter().cloned())
            }
            _ => objects.push(d.value),
        }
    }
    let ours: Vec<Value> =
        objects.into_iter().filter(|o| o["metadata"]["labels"][plan::SOURCE_LABEL] == source).collect();
    let inventory = ours.iter().filter_map(ObjRef::of).collect();
    Ok((plan::index_live(ours), inventory))
}

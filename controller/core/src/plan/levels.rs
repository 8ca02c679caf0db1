//! Apply order (pure): dependency depth of Apps and the wave of every desired object.

use crate::load::{Manifest, Typed};
use crate::translate::APP_LABEL;
use crate::validate::app_id;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Dependency depth of every App (0 = depends on nothing), keyed by (namespace, name).
pub fn app_levels(manifests: &[Manifest]) -> HashMap<(String, String), u32> {
    let mut ids: HashMap<String, (String, String)> = HashMap::new();
    let mut deps: HashMap<(String, String), Vec<String>> = HashMap::new();
    for m in manifests {
        if let Typed::App(app) = &m.typed {
            let key = (m.namespace.clone().unwrap_or_default(), m.name.clone());
            let id = app_id(m, app);
            let group = id.rsplit_once('/').map(|(g, _)| g.to_string()).unwrap_or_default();
            ids.insert(id.clone(), key.clone());
            ids.insert(crate::ids::id_of(&key.0, &key.1), key.clone());
            let resolved = app
                .spec
                .dependencies
                .iter()
                .filter_map(|d| crate::ids::parse_id(d, Some(if group.is_empty() { "/" } else { &group })).ok())
                .map(|segs| format!("/{}", segs.join("/")))
                .collect();
            deps.insert(key, resolved);
        }
    }
    fn depth(
        k: &(String, String),
        deps: &HashMap<(String, String), Vec<String>>,
        ids: &HashMap<String, (String, String)>,
        memo: &mut HashMap<(String, String), u32>,
        guard: &mut BTreeSet<(String, String)>,
    ) -> u32 {
        if let Some(d) = memo.get(k) {
            return *d;
        }
        if !guard.insert(k.clone()) {
            return 0; // a cycle; validation reports it
        }
        let d = deps
            .get(k)
            .map(|ds| {
                ds.iter().filter_map(|id| ids.get(id)).map(|t| depth(t, deps, ids, memo, guard) + 1).max().unwrap_or(0)
            })
            .unwrap_or(0);
        guard.remove(k);
        memo.insert(k.clone(), d);
        d
    }
    let mut memo = HashMap::new();
    let keys: Vec<_> = deps.keys().cloned().collect();
    for k in keys {
        depth(&k, &deps, &ids, &mut memo, &mut BTreeSet::new());
    }
    memo
}

pub(super) fn wave_of(obj: &Value, levels: &HashMap<(String, String), u32>) -> u32 {
    let kind = obj["kind"].as_str().unwrap_or("");
    match kind {
        "Namespace" => return 0,
        "CustomResourceDefinition" => return 1,
        _ => {}
    }
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("").to_string();
    let app = if kind == "App" && obj["apiVersion"] == "dromos.io/v1alpha1" {
        obj["metadata"]["name"].as_str().map(str::to_string)
    } else {
        obj["metadata"]["labels"][APP_LABEL].as_str().map(str::to_string)
    };
    match app.and_then(|a| levels.get(&(ns, a))) {
        Some(l) => 3 + l,
        None => 2,
    }
}

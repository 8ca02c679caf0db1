//! Apply order (pure): dependency depth of Apps and the wave of every desired object.

use crate::translate::APP_LABEL;
use serde_json::Value;
use std::collections::HashMap;

/// Dependency depth of every App: one definition, in the App model.
pub use crate::app::levels as app_levels;

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

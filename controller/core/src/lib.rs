//! Dromos core: load, validate, translate, plan, place and schedule math.
//!
//! Everything here is pure: inputs are file names and bytes, a `now` and a seed; outputs are
//! values. No tokio, kube client, git2, notify, clock or file system. The `dromos` binary
//! gathers inputs, calls these functions and performs the effects.

pub mod app;
pub mod appstate;
pub mod conditions;
pub mod constraints;
pub mod decision;
pub mod diag;
pub mod fields;
pub mod gitsource;
pub mod giturl;
pub mod ids;
pub mod import;
pub mod install;
pub mod lease;
pub mod load;
pub mod notify;
pub mod observe;
pub mod outcome;
pub mod package;
pub mod placement;
pub mod plan;
pub mod prepare;
pub mod render;
pub mod runs;
pub mod schedule;
pub mod schema;
pub mod service;
pub mod tenancy;
pub mod time;
pub mod translate;
pub mod ui;
pub mod validate;
pub mod verify;
pub mod watchdog;
pub mod yaml;

pub use diag::{Diagnostic, Pos, Severity};
pub use load::{LoadOptions, Loaded, Manifest, SourceFile, Typed};
pub use render::Rendered;
pub use translate::RenderOptions;

/// A loaded and validated tree.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// Every identified document.
    pub manifests: Vec<Manifest>,
    /// Errors and warnings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Files not read as manifests, each with the rule that skipped it (`load::ignore`).
    pub skipped: Vec<load::SkippedFile>,
}

impl Tree {
    /// True when nothing blocks applying the tree.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads and validates a tree: every diagnostic of every file, in one pass.
pub fn check_tree(files: &[SourceFile], opts: &LoadOptions) -> Tree {
    let loaded = load::load_files(files, opts);
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(validate::validate_manifests(&loaded.manifests));
    diag::sort_diagnostics(&mut diagnostics);
    Tree { manifests: loaded.manifests, diagnostics, skipped: loaded.skipped }
}

/// Loads and validates one object read from the cluster (an App applied with `kubectl`, say):
/// the same schema and object rules as a file in Git, without the rules that relate several
/// objects (the cluster is the judge of those). `label` names it in diagnostics.
pub fn check_live(label: &str, object: &serde_json::Value, opts: &LoadOptions) -> Tree {
    let mut doc = serde_json::json!({
        "apiVersion": object["apiVersion"],
        "kind": object["kind"],
        "metadata": {"name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"]},
        "spec": object["spec"],
    });
    if let Some(a) = object["metadata"]["annotations"].as_object() {
        doc["metadata"]["annotations"] = serde_json::Value::Object(a.clone());
    }
    let file = SourceFile { path: format!("{label}.json"), bytes: serde_json::to_vec_pretty(&doc).unwrap_or_default() };
    let loaded = load::load_files(std::slice::from_ref(&file), opts);
    let mut diagnostics = loaded.diagnostics;
    for m in &loaded.manifests {
        diagnostics.extend(validate::validate_object(m));
    }
    diag::sort_diagnostics(&mut diagnostics);
    Tree { manifests: loaded.manifests, diagnostics, skipped: vec![] }
}

//! The one path from files to objects to sync (pure): load and validate every file, add the
//! reader's own diagnostics (files skipped for size or encoding) and, where the caller has
//! package repositories, the Package checks ([`check_packages`]); sort; and for a valid tree compute the App
//! dependency levels and render the objects to apply. `dromos validate`/`render`, `dromos
//! sync`/`plan` and the GitSource operator all go through here.

use crate::package::Repositories;
use crate::{Diagnostic, LoadOptions, RenderOptions, SourceFile, Tree, diag, plan, render};
use serde_json::Value;
use std::collections::HashMap;

/// Loads and validates `files`. `read` holds the diagnostics of reading them (the file reader
/// skips what it cannot read and says so).
pub fn check(files: &[SourceFile], read: Vec<Diagnostic>, opts: &LoadOptions) -> Tree {
    let mut tree = crate::check_tree(files, opts);
    tree.diagnostics.extend(read);
    diag::sort_diagnostics(&mut tree.diagnostics);
    tree
}

/// Adds the checks of the tree's Packages: each is expanded against `packages` (the built-in
/// catalog and the repositories the caller could read) and its errors are reported.
pub fn check_packages(tree: &mut Tree, packages: &Repositories) {
    let render_opts = RenderOptions { packages: packages.clone(), ..Default::default() };
    tree.diagnostics.extend(render::package_diagnostics(&tree.manifests, &render_opts));
    diag::sort_diagnostics(&mut tree.diagnostics);
}

/// A valid tree rendered for a sync.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The loaded tree (its diagnostics are warnings only).
    pub tree: Tree,
    /// Objects to apply (Apps, Jobs and Packages as themselves; operators expand them).
    pub objects: Vec<Value>,
    /// App dependency depths, `(namespace, name)` -> depth.
    pub levels: HashMap<(String, String), u32>,
}

/// [`check`], then for a valid tree the objects and levels of a sync; an invalid tree is
/// returned as the error (nothing of it may be applied).
pub fn prepare(files: &[SourceFile], read: Vec<Diagnostic>, opts: &LoadOptions) -> Result<Prepared, Tree> {
    let tree = check(files, read, opts);
    if !tree.is_valid() {
        return Err(tree);
    }
    let levels = plan::app_levels(&tree.manifests);
    let objects = render::sync_objects(&tree.manifests, &RenderOptions::default()).objects;
    Ok(Prepared { tree, objects, levels })
}

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
    /// The loaded tree (its diagnostics are warnings only). Its manifests' values have moved
    /// into `objects` and are `null`, but for CustomResourceDefinitions.
    pub tree: Tree,
    /// Objects to apply (Apps, Jobs and Packages as themselves; operators expand them).
    pub objects: Vec<Value>,
    /// App dependency depths, `(namespace, name)` -> depth.
    pub levels: HashMap<(String, String), u32>,
}

/// [`check`], then for a valid tree the objects and levels of a sync; an invalid tree is
/// returned as the error (nothing of it may be applied).
/// A tree whose objects' inventory could not be recorded ([`plan::stored`]) is invalid too: a
/// sync could apply it but never prune it.
pub fn prepare(files: &[SourceFile], read: Vec<Diagnostic>, opts: &LoadOptions) -> Result<Prepared, Tree> {
    let mut tree = check(files, read, opts);
    if !tree.is_valid() {
        return Err(tree);
    }
    let levels = plan::app_levels(&tree.manifests);
    let objects = render::take_sync_objects(&mut tree.manifests, &RenderOptions::default()).objects;
    if let Err(e) = plan::stored::store(&plan::next_inventory(&objects, &[]))
        && let Some(first) = tree.manifests.first()
    {
        tree.diagnostics.push(
            Diagnostic::error("inventory-too-large", &first.file, first.pos, "", format!("this revision: {e}"))
                .with_hint("a GitSource or `dromos sync` records what it applied in one object; each source can record more than 200,000 objects with short, regular names, and about 5,000 with 253-character names that share no pattern"),
        );
        diag::sort_diagnostics(&mut tree.diagnostics);
        return Err(tree);
    }
    Ok(Prepared { tree, objects, levels })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ConfigMaps with 253-character names no pattern shares.
    fn tree(n: usize) -> Vec<SourceFile> {
        let mut text = String::new();
        for name in plan::stored::patternless_names(0x2545_F491_4F6C_DD1D, 253, n) {
            text.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: n}}\n"));
        }
        vec![SourceFile { path: "many.yaml".into(), bytes: text.into_bytes() }]
    }

    #[test]
    fn a_revision_whose_inventory_cannot_be_recorded_is_invalid() {
        assert!(prepare(&tree(100), vec![], &LoadOptions::default()).is_ok());
        let refused = prepare(&tree(7_000), vec![], &LoadOptions::default()).expect_err("refused");
        let d = refused.diagnostics.iter().find(|d| d.code == "inventory-too-large").expect("the diagnostic");
        assert_eq!((d.file.as_str(), d.line), ("many.yaml", 2));
        assert!(d.message.contains("7000 objects"), "{}", d.message);
    }
}

//! Dromos core: load, validate, translate, plan, place and schedule math.
//!
//! Everything here is pure: inputs are file names and bytes, a `now` and a seed; outputs are
//! values. No tokio, kube client, git2, notify, clock or file system. The `dromos` binary
//! gathers inputs, calls these functions and performs the effects.

pub mod constraints;
pub mod diag;
pub mod ids;
pub mod load;
pub mod plan;
pub mod render;
pub mod runs;
pub mod schedule;
pub mod schema;
pub mod translate;
pub mod validate;
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
    Tree { manifests: loaded.manifests, diagnostics }
}

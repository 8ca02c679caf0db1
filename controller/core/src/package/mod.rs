//! Package repositories: reading, option resolution, rendering and version changes (pure).
//!
//! Two layouts are read from the files of a repository (paths relative to its root):
//!
//! - **Universe**, as DC/OS wrote it:
//!   `packages/<L>/<name>/<revision>/{package.json, config.json, marathon.json.mustache, resource.json}`.
//!   `config.json` is the option schema (draft 4), `marathon.json.mustache` renders one Marathon
//!   app, which becomes a Dromos App. The newest version is the highest revision.
//! - **Dromos**: `<name>/<version>/{package.yaml, options.schema.json, templates/*.yaml.mustache}`.
//!   `package.yaml` holds name, version, description, maintainer, tags, upgradesFrom and
//!   downgradesTo; each template renders one or more YAML documents (Dromos or Kubernetes
//!   objects), in file name order. The newest version is the highest by numeric segments.
//!
//! Templates see the resolved options at the root and `resource` (`resource.json`, or
//! `resource.json` beside `package.yaml`) as one more top-level name.

mod expand;
mod health;
pub mod lint;
pub mod mustache;
pub mod options;
mod read;
pub mod scaffold;
mod scalars;

pub use expand::{
    ANN_OPTIONS, ANN_SOURCE, ANN_VERSION, ExpandError, Instance, LABEL_INSTANCE, LABEL_PACKAGE, RenderError,
    RenderedPackage, complete_objects, expand_complete, expand_package, render, service_objects, service_revisions,
    source_label,
};
pub use health::{health, health_after_apply};
pub use read::read_repository;

use crate::load::SourceFile;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub use options::OptionError;

/// The service specification of a Dromos-layout package version, beside `package.yaml`: a
/// template rendered with the options like the others, then read as a
/// [`crate::service::ServiceSpec`] whose pod types the Package operator runs by plans.
pub const SERVICE_FILE: &str = "service.yaml.mustache";

/// Which layout a package version was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `packages/<L>/<name>/<revision>/package.json` and friends.
    Universe,
    /// `<name>/<version>/package.yaml` and friends.
    Dromos,
}

/// Package metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Who maintains it.
    pub maintainer: String,
    /// Search tags.
    pub tags: Vec<String>,
    /// Versions an installed package may be upgraded from to this one (`*` for any).
    pub upgrades_from: Vec<String>,
    /// Versions this one may be downgraded to (`*` for any).
    pub downgrades_to: Vec<String>,
}

/// One version of one package.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageVersion {
    /// Layout it was read from.
    pub layout: Layout,
    /// Directory in the repository.
    pub dir: String,
    /// Universe revision (the `<revision>` directory), for ordering.
    pub revision: Option<u64>,
    /// Metadata.
    pub meta: Meta,
    /// Option schema (`Null` when the package has none).
    pub schema: Value,
    /// `resource.json` (`Null` when absent).
    pub resource: Value,
    /// Templates: file name relative to `dir`, and text.
    pub templates: Vec<(String, String)>,
}

/// A problem found while reading a repository: the file and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RepoProblem {
    /// File path.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Every package version of a repository, sorted by name then oldest to newest.
#[derive(Clone, Debug, Default)]
pub struct Repository {
    /// Package versions.
    pub versions: Vec<PackageVersion>,
    /// Problems of package directories that could not be read (those are left out).
    pub problems: Vec<RepoProblem>,
}

/// The strings of a JSON array (anything else: none).
fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

/// Compares versions by their numeric and text segments (`1.10.0` after `1.9.2`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in s.chars() {
            if !cur.is_empty() && (c.is_ascii_digit() != cur.chars().all(|x| x.is_ascii_digit())) {
                out.push(std::mem::take(&mut cur));
            }
            if c.is_ascii_alphanumeric() {
                cur.push(c)
            } else if !cur.is_empty() {
                out.push(std::mem::take(&mut cur))
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    };
    let (xa, xb) = (split(a), split(b));
    for (x, y) in xa.iter().zip(&xb) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    xa.len().cmp(&xb.len())
}

fn order(a: &PackageVersion, b: &PackageVersion) -> Ordering {
    match (a.revision, b.revision) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => compare_versions(&a.meta.version, &b.meta.version),
    }
}

impl Repository {
    /// Package names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.versions.iter().map(|v| v.meta.name.as_str()).collect();
        n.dedup();
        n
    }

    /// Versions of one package, oldest first.
    pub fn versions_of(&self, name: &str) -> Vec<&PackageVersion> {
        self.versions.iter().filter(|v| v.meta.name == name).collect()
    }

    /// One version of a package, or the newest when `version` is `None`.
    pub fn find(&self, name: &str, version: Option<&str>) -> Result<&PackageVersion, String> {
        let all = self.versions_of(name);
        if all.is_empty() {
            return Err(format!("no package `{name}` in the repository"));
        }
        match version {
            None => Ok(all[all.len() - 1]),
            Some(v) => all.iter().copied().find(|p| p.meta.version == v).ok_or_else(|| {
                let have: Vec<&str> = all.iter().map(|p| p.meta.version.as_str()).collect();
                format!("package `{name}` has no version `{v}` (versions: {})", have.join(", "))
            }),
        }
    }
}

/// Whether an installed package may change from `from` to `to`: the same version always;
/// otherwise `to.upgradesFrom` must list `from`'s version (or `*`), or `from.downgradesTo` must
/// list `to`'s version (or `*`), as Cosmos decides.
pub fn check_version_change(from: &Meta, to: &Meta) -> Result<(), String> {
    if from.version == to.version {
        return Ok(());
    }
    let lists = |l: &[String], v: &str| l.iter().any(|x| x == v || x == "*");
    if lists(&to.upgrades_from, &from.version) || lists(&from.downgrades_to, &to.version) {
        return Ok(());
    }
    Err(format!(
        "{} {} cannot change to {}: {} does not list {} in upgradesFrom ({}) and {} does not list {} in downgradesTo ({})",
        from.name,
        from.version,
        to.version,
        to.version,
        from.version,
        if to.upgrades_from.is_empty() { "empty".to_string() } else { to.upgrades_from.join(", ") },
        from.version,
        to.version,
        if from.downgrades_to.is_empty() { "empty".to_string() } else { from.downgrades_to.join(", ") },
    ))
}

/// Where a Package's repository comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RepoRef {
    /// The catalog built into Dromos (no `repository`, or `builtin: true`).
    Builtin,
    /// A directory of a Git tree: of the named GitSource, or (`None`) of the repository the
    /// Package manifest itself comes from.
    Path {
        /// GitSource in the Package's namespace.
        git_source: Option<String>,
        /// Directory relative to the repository root (`.` or empty for the root).
        path: String,
    },
}

impl std::fmt::Display for RepoRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepoRef::Builtin => write!(f, "builtin"),
            RepoRef::Path { git_source: Some(g), path } => write!(f, "gitsource/{g}:{path}"),
            RepoRef::Path { git_source: None, path } => write!(f, "{path}"),
        }
    }
}

/// The repository a Package spec names.
pub fn repo_ref(spec: &dromos_crds::package::PackageSpec) -> RepoRef {
    match &spec.repository {
        None => RepoRef::Builtin,
        Some(r) if r.builtin == Some(true) => RepoRef::Builtin,
        Some(r) if r.git_source.is_none() && r.path.is_none() => RepoRef::Builtin,
        Some(r) => RepoRef::Path {
            git_source: r.git_source.clone(),
            path: r.path.clone().unwrap_or_default().trim_matches('/').to_string(),
        },
    }
}

/// Files of a tree below `dir` (`""` or `.` for all), with paths made relative to it.
pub fn files_under(files: &[SourceFile], dir: &str) -> Vec<SourceFile> {
    let dir = dir.trim_matches('/');
    if dir.is_empty() || dir == "." {
        return files.to_vec();
    }
    files
        .iter()
        .filter_map(|f| {
            let rest = f.path.strip_prefix(dir)?.strip_prefix('/')?;
            Some(SourceFile { path: rest.to_string(), bytes: f.bytes.clone() })
        })
        .collect()
}

/// Repositories a render may read: the built-in catalog and repositories by [`RepoRef`].
#[derive(Clone, Debug, Default)]
pub struct Repositories {
    /// The built-in catalog.
    pub builtin: std::sync::Arc<Repository>,
    /// Other repositories.
    pub others: BTreeMap<RepoRef, std::sync::Arc<Repository>>,
}

impl Repositories {
    /// The repository of a reference, when it was provided.
    pub fn get(&self, r: &RepoRef) -> Option<&Repository> {
        match r {
            RepoRef::Builtin => Some(&self.builtin),
            other => self.others.get(other).map(|a| &**a),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

//! Loading a manifest tree from file names and bytes (pure).
//!
//! The shell reads files (from a directory or a Git tree) and hands them here. Every YAML or
//! JSON document becomes a [`Manifest`]: Dromos kinds are checked against their CRD schema and
//! parsed into their typed form; any other apiVersion/kind passes through untouched. All
//! problems of the tree are collected, not only the first.

mod document;
pub mod ignore;

pub use ignore::{IGNORE_FILE, SkippedFile, is_loader_input};

use crate::diag::{Diagnostic, Pos};
use crate::yaml::{self, Budget, PathIndex};
use dromos_crds::{App, GitSource, Job, Offer, Package};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One input file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path relative to the tree root, with `/` separators.
    pub path: String,
    /// Raw content.
    pub bytes: Vec<u8>,
}

/// Loader settings.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Files larger than this are refused.
    pub max_file_bytes: usize,
    /// YAML budgets per file.
    pub budget: Budget,
    /// YAML nodes of the whole revision (every file, aliases expanded): what a revision may
    /// hold in memory once parsed (about 120 bytes a node, decision 0040), whatever its files' sizes.
    pub max_total_nodes: usize,
    /// Namespace of namespaced Dromos objects that name none.
    pub default_namespace: String,
    /// Worker threads for parsing (the shell passes the machine's parallelism).
    pub threads: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 8 * 1024 * 1024,
            budget: Budget::default(),
            max_total_nodes: 2_000_000,
            default_namespace: "default".into(),
            threads: 1,
        }
    }
}

/// The typed form of a Dromos manifest. Boxed: a tree holds one `Manifest` per document,
/// most of them `Other`, and an unboxed App would make each of them as large as an App.
#[derive(Clone, Debug)]
pub enum Typed {
    /// dromos.io App.
    App(Box<App>),
    /// dromos.io Job.
    Job(Box<Job>),
    /// dromos.io Package.
    Package(Box<Package>),
    /// dromos.io GitSource.
    GitSource(Box<GitSource>),
    /// dromos.io Offer.
    Offer(Box<Offer>),
    /// dromos.io SourcePolicy.
    SourcePolicy(Box<dromos_crds::SourcePolicy>),
    /// dromos.io Notifier.
    Notifier(Box<dromos_crds::Notifier>),
    /// Any other Kubernetes object, applied as written.
    Other,
    /// A Dromos object whose structure is invalid (diagnostics say why).
    Invalid,
}

/// One document of the tree.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// File it came from.
    pub file: String,
    /// 0-based document index in the file.
    pub doc: usize,
    /// Where the document starts.
    pub pos: Pos,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (resolved for Dromos kinds; as written for others).
    pub namespace: Option<String>,
    /// Name (resolved from `spec.id` when `metadata.name` is absent).
    pub name: String,
    /// The document, with `metadata.name`/`namespace` filled in for Dromos kinds.
    pub value: Value,
    /// Field positions.
    pub index: PathIndex,
    /// Typed form.
    pub typed: Typed,
}

impl Manifest {
    /// API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
    }

    /// `kind/namespace/name` or `kind/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// Position of a field path in the source.
    pub fn pos_of(&self, path: &str) -> Pos {
        self.index.pos(path)
    }

    /// An error on a field of this manifest.
    pub fn error(&self, code: &'static str, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, &self.file, self.pos_of(path), path, message)
    }

    /// A warning on a field of this manifest.
    pub fn warning(&self, code: &'static str, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(code, &self.file, self.pos_of(path), path, message)
    }
}

/// The result of loading a tree.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Every document that could be identified.
    pub manifests: Vec<Manifest>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
    /// Files not read as manifests, with the rule that skipped them ([`ignore`]), by path.
    pub skipped: Vec<SkippedFile>,
}

/// True for file names the loader reads: `*.yaml`, `*.yml`, `*.json`.
pub fn is_manifest_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")
}

/// Kinds Dromos knows to be cluster-scoped when they appear as plain objects.
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Namespace" | "Node" | "PersistentVolume")
            | ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("storage.k8s.io", "StorageClass" | "CSIDriver" | "VolumeAttachment")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("admissionregistration.k8s.io", _)
            | ("apiregistration.k8s.io", "APIService")
            | ("networking.k8s.io", "IngressClass")
            | ("node.k8s.io", "RuntimeClass")
            | ("dromos.io", "Offer" | "SourcePolicy")
    )
}

/// The OpenAPI schema of a Dromos kind's CRD, as JSON, computed once.
pub fn crd_schema(kind: &str) -> Option<&'static Value> {
    static SCHEMAS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            dromos_crds::crds()
                .into_iter()
                .filter_map(|crd| {
                    let kind = crd.spec.names.kind.clone();
                    let schema = crd.spec.versions.into_iter().next()?.schema?.open_api_v3_schema?;
                    Some((kind, serde_json::to_value(schema).ok()?))
                })
                .collect()
        })
        .get(kind)
}

/// Directories holding a package version (`package.json` or `package.yaml`): everything under
/// them belongs to a package repository and is not loaded as a manifest.
pub fn package_dirs(files: &[SourceFile]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| {
            let (dir, name) = f.path.rsplit_once('/').unwrap_or(("", f.path.as_str()));
            (name == "package.json" || name == "package.yaml").then(|| dir.to_string())
        })
        .collect()
}

fn in_package_dir(path: &str, dirs: &[String]) -> bool {
    dirs.iter().any(|d| d.is_empty() || path.strip_prefix(d.as_str()).is_some_and(|r| r.starts_with('/')))
}

/// Loads every file. Files are processed in the order given; callers sort them.
pub fn load_files(files: &[SourceFile], opts: &LoadOptions) -> Loaded {
    let mut out = Loaded::default();
    // Package repositories may live beside the manifests; their files are not manifests.
    let packages = package_dirs(files);
    let (rules, problems) = ignore::Rules::of(files);
    out.diagnostics.extend(problems);
    let mut kept: Vec<&SourceFile> = Vec::with_capacity(files.len());
    for f in files.iter().filter(|f| !in_package_dir(&f.path, &packages)) {
        match rules.rule_of(&f.path) {
            Some(rule) => out.skipped.push(SkippedFile { path: f.path.clone(), rule }),
            None => kept.push(f),
        }
    }
    let files = &kept[..];
    let skip_without_kind = rules.skip_without_kind();
    let threads = opts.threads.clamp(1, 64).min(files.len().max(1));
    // Nodes parsed so far across the revision (files on other threads may overshoot the total
    // by at most one file's budget each).
    let used = std::sync::atomic::AtomicUsize::new(0);
    let used = &used;
    if threads == 1 {
        for f in files {
            load_file(f, opts, skip_without_kind, used, &mut out);
        }
    } else {
        // Files are independent: parse contiguous chunks in parallel, merge in input order.
        let chunk = files.len().div_ceil(threads);
        let parts: Vec<Loaded> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut out = Loaded::default();
                        for f in part {
                            load_file(f, opts, skip_without_kind, used, &mut out);
                        }
                        out
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("loader thread panicked")).collect()
        });
        for p in parts {
            out.manifests.extend(p.manifests);
            out.diagnostics.extend(p.diagnostics);
            out.skipped.extend(p.skipped);
        }
    }
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    check_duplicates(&mut out);
    out
}

fn load_file(
    f: &SourceFile,
    opts: &LoadOptions,
    skip_without_kind: Option<&str>,
    used: &std::sync::atomic::AtomicUsize,
    out: &mut Loaded,
) {
    let file_err = |code, msg: String| Diagnostic::error(code, &f.path, Pos { line: 0, col: 0 }, "", msg);
    if f.bytes.len() > opts.max_file_bytes {
        out.diagnostics.push(
            file_err(
                "file-too-large",
                format!("file is {} bytes, more than the limit of {}", f.bytes.len(), opts.max_file_bytes),
            )
            .with_hint("split it into several files"),
        );
        return;
    }
    let text = match std::str::from_utf8(&f.bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &f.bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let col = good.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            out.diagnostics.push(
                Diagnostic::error(
                    "invalid-utf8",
                    &f.path,
                    Pos { line, col },
                    "",
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                )
                .with_hint("save the file as UTF-8"),
            );
            return;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let left = opts.max_total_nodes.saturating_sub(used.load(std::sync::atomic::Ordering::Relaxed));
    let budget = Budget { max_nodes: opts.budget.max_nodes.min(left), ..opts.budget };
    let by_total = budget.max_nodes < opts.budget.max_nodes;
    let docs = match yaml::parse_documents_counted(text, budget) {
        Ok((d, nodes)) => {
            used.fetch_add(nodes, std::sync::atomic::Ordering::Relaxed);
            d
        }
        Err(e) => {
            let hint = match e.code {
                "yaml-budget" if by_total => Some(format!(
                    "the revision as a whole holds more than {} YAML nodes; split it into several sources",
                    opts.max_total_nodes
                )),
                "yaml-budget" => Some("the file is too large or too deeply nested after expanding anchors".into()),
                _ => None,
            };
            let mut d = Diagnostic::error(e.code, &f.path, e.pos, "", e.message);
            if let Some(h) = hint {
                d = d.with_hint(h);
            }
            out.diagnostics.push(d);
            return;
        }
    };
    if let Some(at) = skip_without_kind
        && ignore::has_no_kind(&docs.iter().map(|d| &d.value).collect::<Vec<_>>())
    {
        let rule = format!("no document has an apiVersion or a kind (`#! {}` at {at})", ignore::SKIP_WITHOUT_KIND);
        out.skipped.push(SkippedFile { path: f.path.clone(), rule });
        return;
    }
    for (i, doc) in docs.into_iter().enumerate() {
        if let Some(m) = document::load_document(&f.path, i, doc, opts, &mut out.diagnostics) {
            out.manifests.push(m);
        }
    }
}

fn check_duplicates(out: &mut Loaded) {
    let mut seen: BTreeMap<(String, String, Option<String>, String), usize> = BTreeMap::new();
    for (i, m) in out.manifests.iter().enumerate() {
        let key = (m.group().to_string(), m.kind.clone(), m.namespace.clone(), m.name.clone());
        if let Some(&first) = seen.get(&key) {
            let a = &out.manifests[first];
            let id_note = |m: &Manifest| {
                m.value
                    .pointer("/spec/id")
                    .and_then(Value::as_str)
                    .map(|id| format!(" (id `{id}`)"))
                    .unwrap_or_default()
            };
            out.diagnostics.push(
                Diagnostic::error(
                    "duplicate-object",
                    &m.file,
                    m.pos,
                    "",
                    format!("{}{} is defined twice", m.display(), id_note(m)),
                )
                .with_hint(format!("first defined at {}:{}{}", a.file, a.pos.line, id_note(a))),
            );
        } else {
            seen.insert(key, i);
        }
    }
}

#[cfg(test)]
mod tests;

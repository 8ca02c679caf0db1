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

pub mod install;
pub mod mustache;
pub mod options;

use crate::import::{self, Flavor, ImportOptions, Input};
use crate::load::SourceFile;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub use options::OptionError;

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

fn text(f: &SourceFile) -> Result<&str, RepoProblem> {
    std::str::from_utf8(&f.bytes).map_err(|_| RepoProblem { file: f.path.clone(), message: "not UTF-8 text".into() })
}

fn json_file(f: &SourceFile) -> Result<Value, RepoProblem> {
    serde_json::from_str(text(f)?)
        .map_err(|e| RepoProblem { file: f.path.clone(), message: format!("not valid JSON: {e}") })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

fn meta_from(v: &Value, file: &str) -> Result<Meta, RepoProblem> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let need = |k: &str| {
        s(k).ok_or_else(|| RepoProblem { file: file.into(), message: format!("`{k}` (a string) is required") })
    };
    Ok(Meta {
        name: need("name")?,
        version: need("version")?,
        description: s("description").unwrap_or_default(),
        maintainer: s("maintainer").unwrap_or_default(),
        tags: strings(&v["tags"]),
        upgrades_from: strings(&v["upgradesFrom"]),
        downgrades_to: strings(&v["downgradesTo"]),
    })
}

/// Reads a repository from its files (paths relative to its root).
pub fn read_repository(files: &[SourceFile]) -> Repository {
    let mut dirs: BTreeMap<String, BTreeMap<String, &SourceFile>> = BTreeMap::new();
    for f in files {
        let p = f.path.trim_start_matches("./");
        let segs: Vec<&str> = p.split('/').collect();
        // Universe: packages/<L>/<name>/<revision>/<file>
        if segs.len() == 5 && segs[0] == "packages" {
            dirs.entry(segs[..4].join("/")).or_default().insert(segs[4].to_string(), f);
        } else if segs.len() >= 3 && segs[0] != "packages" {
            // Dromos: <name>/<version>/<file or templates/...>
            dirs.entry(segs[..2].join("/")).or_default().insert(segs[2..].join("/"), f);
        }
    }
    let mut repo = Repository::default();
    for (dir, files) in dirs {
        let read = if files.contains_key("package.json") {
            read_universe(&dir, &files)
        } else if files.contains_key("package.yaml") {
            read_dromos(&dir, &files)
        } else {
            continue;
        };
        match read {
            Ok(v) => repo.versions.push(v),
            Err(p) => repo.problems.push(p),
        }
    }
    repo.versions.sort_by(|a, b| a.meta.name.cmp(&b.meta.name).then_with(|| order(a, b)));
    repo
}

fn read_universe(dir: &str, files: &BTreeMap<String, &SourceFile>) -> Result<PackageVersion, RepoProblem> {
    let pj = files["package.json"];
    let meta = meta_from(&json_file(pj)?, &pj.path)?;
    let revision = dir.rsplit('/').next().and_then(|r| r.parse().ok());
    let schema = files.get("config.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let resource = files.get("resource.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let mut templates = Vec::new();
    if let Some(f) = files.get("marathon.json.mustache") {
        templates.push(("marathon.json.mustache".to_string(), text(f)?.to_string()));
    }
    Ok(PackageVersion { layout: Layout::Universe, dir: dir.into(), revision, meta, schema, resource, templates })
}

fn read_dromos(dir: &str, files: &BTreeMap<String, &SourceFile>) -> Result<PackageVersion, RepoProblem> {
    let py = files["package.yaml"];
    let docs = crate::yaml::parse_documents(text(py)?, crate::yaml::Budget::default())
        .map_err(|e| RepoProblem { file: py.path.clone(), message: format!("not valid YAML: {}", e.message) })?;
    let doc = docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null);
    let meta = meta_from(&doc, &py.path)?;
    let schema = files.get("options.schema.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let resource = files.get("resource.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let mut templates = Vec::new();
    for (name, f) in files {
        if name.starts_with("templates/") && name.ends_with(".mustache") {
            templates.push((name.clone(), text(f)?.to_string()));
        }
    }
    if templates.is_empty() {
        return Err(RepoProblem { file: py.path.clone(), message: "the package has no templates/*.mustache".into() });
    }
    Ok(PackageVersion { layout: Layout::Dromos, dir: dir.into(), revision: None, meta, schema, resource, templates })
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

/// Why a package did not render.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Options refused by the schema.
    #[error("invalid options:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Options(Vec<OptionError>),
    /// A template that does not parse, or output that is not what the layout requires.
    #[error("{file}: {message}")]
    Template {
        /// Template file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// A rendered package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderedPackage {
    /// Options after defaults.
    pub options: Value,
    /// Objects (Dromos or Kubernetes manifests), in template order.
    pub objects: Vec<Value>,
    /// What the Marathon conversion did not carry over (Universe layout).
    pub warnings: Vec<String>,
}

/// Labels and annotations standing for Cosmos' `DCOS_PACKAGE_*` labels.
pub const LABEL_PACKAGE: &str = "dromos.io/package";
/// Annotation: package version (`DCOS_PACKAGE_VERSION`).
pub const ANN_VERSION: &str = "dromos.io/package-version";
/// Annotation: repository and package directory (`DCOS_PACKAGE_SOURCE`).
pub const ANN_SOURCE: &str = "dromos.io/package-source";
/// Annotation: the user's options as base64 JSON (`DCOS_PACKAGE_OPTIONS`).
pub const ANN_OPTIONS: &str = "dromos.io/package-options";

/// Label naming the Package object (instance) a rendered object belongs to.
pub const LABEL_INSTANCE: &str = "dromos.io/package-instance";

/// The installed instance a package is rendered for.
#[derive(Clone, Copy, Debug)]
pub struct Instance<'a> {
    /// Namespace of the Package, and of rendered objects that name none.
    pub namespace: &'a str,
    /// Name of the Package object; Dromos-layout templates read it as `{{instance.name}}`.
    pub name: &'a str,
    /// Names the repository in the source annotation.
    pub source: &'a str,
}

/// Renders a package version with the user's options for one instance.
pub fn render(pkg: &PackageVersion, user: &Value, inst: &Instance) -> Result<RenderedPackage, RenderError> {
    let (namespace, source) = (inst.namespace, inst.source);
    let draft = match pkg.layout {
        Layout::Universe => options::DefaultDraft::Draft4,
        Layout::Dromos => options::DefaultDraft::Latest,
    };
    let user = if user.is_null() { Value::Object(Map::new()) } else { user.clone() };
    let resolved = if pkg.schema.is_null() {
        user.clone()
    } else {
        options::resolve(&pkg.schema, &user, draft).map_err(RenderError::Options)?
    };
    let mut context = match &resolved {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    context.insert("resource".into(), pkg.resource.clone());
    if pkg.layout == Layout::Dromos {
        context.insert(
            "instance".into(),
            json!({"name": inst.name, "namespace": inst.namespace, "version": pkg.meta.version}),
        );
    }
    let context = Value::Object(context);
    let mut out = RenderedPackage { options: resolved, ..Default::default() };
    for (file, src) in &pkg.templates {
        let tpl_err = |message: String| RenderError::Template { file: format!("{}/{file}", pkg.dir), message };
        let tpl = mustache::Template::parse(src).map_err(|e| tpl_err(e.to_string()))?;
        let text = tpl.render(&context);
        match pkg.layout {
            Layout::Universe => {
                let app: Value =
                    serde_json::from_str(&text).map_err(|e| tpl_err(format!("rendered text is not JSON: {e}")))?;
                if !app.is_object() {
                    return Err(tpl_err("rendered JSON must be one object (a Marathon app)".into()));
                }
                let input = Input { name: format!("{}/{file}", pkg.dir), text };
                let imported =
                    import::import(Flavor::Marathon, &[input], &ImportOptions { default_namespace: namespace.into() })
                        .map_err(|errs| {
                            tpl_err(
                                errs.iter()
                                    .map(|e| format!("{}: {}", e.path, e.message))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            )
                        })?;
                out.warnings
                    .extend(imported.report.entries.iter().map(|e| format!("{}: {}: {}", e.object, e.path, e.why)));
                out.objects.extend(imported.objects.into_iter().map(|o| o.value));
            }
            Layout::Dromos => {
                let docs = crate::yaml::parse_documents(&text, crate::yaml::Budget::default())
                    .map_err(|e| tpl_err(format!("rendered text is not YAML: {} at {:?}", e.message, e.pos)))?;
                out.objects.extend(docs.into_iter().map(|d| d.value).filter(|v| !v.is_null()));
            }
        }
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&user).unwrap_or_default());
    for o in &mut out.objects {
        if !o.is_object() {
            continue;
        }
        let api = o["apiVersion"].as_str().unwrap_or_default().to_string();
        let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_string();
        let cluster = crate::load::is_cluster_scoped(&group, o["kind"].as_str().unwrap_or_default());
        let md = o.as_object_mut().map(|m| m.entry("metadata").or_insert_with(|| json!({}))).filter(|m| m.is_object());
        let Some(md) = md else { continue };
        if md.get("namespace").is_none() && !cluster {
            md["namespace"] = json!(namespace);
        }
        if !md.get("labels").is_some_and(Value::is_object) {
            md["labels"] = json!({});
        }
        md["labels"][LABEL_PACKAGE] = json!(pkg.meta.name);
        md["labels"][LABEL_INSTANCE] = json!(inst.name);
        if !md.get("annotations").is_some_and(Value::is_object) {
            md["annotations"] = json!({});
        }
        md["annotations"][ANN_VERSION] = json!(pkg.meta.version);
        md["annotations"][ANN_SOURCE] = json!(format!("{source}#{}", pkg.dir));
        md["annotations"][ANN_OPTIONS] = json!(encoded);
    }
    Ok(out)
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

/// Why a Package could not be expanded: the status reason and the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The repository is not available.
    #[error("package repository {0} is not available")]
    NoRepository(RepoRef),
    /// No such package or version.
    #[error("{0}")]
    NotFound(String),
    /// Options refused or a template that fails.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl ExpandError {
    /// Stable reason (condition reason, Event reason).
    pub fn reason(&self) -> &'static str {
        match self {
            ExpandError::NoRepository(_) => "RepositoryUnavailable",
            ExpandError::NotFound(_) => "PackageNotFound",
            ExpandError::Render(RenderError::Options(_)) => "InvalidOptions",
            ExpandError::Render(RenderError::Template { .. }) => "TemplateFailed",
        }
    }
}

/// Expands one Package object: finds its version in `repo` (the newest when the spec names
/// none) and renders it with its options. The operator and `dromos render` both call this.
pub fn expand_package<'r>(
    spec: &dromos_crds::package::PackageSpec,
    namespace: &str,
    name: &str,
    repo: &'r Repository,
) -> Result<(&'r PackageVersion, RenderedPackage), ExpandError> {
    let pkg = repo.find(&spec.name, spec.version.as_deref()).map_err(ExpandError::NotFound)?;
    let source = repo_ref(spec).to_string();
    let user = spec.options.clone().unwrap_or(Value::Null);
    let out = render(pkg, &user, &Instance { namespace, name, source: &source })?;
    Ok((pkg, out))
}

/// The `dromos.io/source` label value of objects a Package renders: `pkg_<ns>.<name>`
/// (`_` never occurs in a namespace, so it cannot be mistaken for a GitSource's
/// `<ns>.<name>`); long values are shortened with a hash to fit the 63-character limit.
pub fn source_label(namespace: &str, name: &str) -> String {
    let full = format!("pkg_{namespace}.{name}");
    if full.len() <= 63 {
        return full;
    }
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(full.as_bytes());
    let hex: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &full[..50]).trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// Health of one rendered object from its live JSON (`None`: not found).
/// Deployments, StatefulSets and DaemonSets are ready when the controller observed the
/// current generation and every replica is updated and ready; Dromos Apps and Jobs when
/// their Ready condition is True for the current generation; anything else exists.
pub fn health(kind: &str, live: Option<&Value>) -> (&'static str, Option<String>) {
    let Some(live) = live else { return ("Missing", Some("not found".into())) };
    let generation = live["metadata"]["generation"].as_i64().unwrap_or(0);
    let st = &live["status"];
    let observed = st["observedGeneration"].as_i64().unwrap_or(0) >= generation;
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let workload = |want: i64, updated: i64, ready: i64| {
        if !observed {
            ("Progressing", Some("the controller has not observed the latest spec".to_string()))
        } else if updated < want || ready < want {
            ("Progressing", Some(format!("{ready}/{want} ready, {updated}/{want} updated")))
        } else {
            ("Ready", None)
        }
    };
    match kind {
        "Deployment" => {
            let want = live["spec"]["replicas"].as_i64().unwrap_or(1);
            if n(&st["replicas"]) > want {
                return ("Progressing", Some(format!("{} old replica(s) still running", n(&st["replicas"]) - want)));
            }
            workload(want, n(&st["updatedReplicas"]), n(&st["availableReplicas"]).min(n(&st["readyReplicas"])))
        }
        "StatefulSet" => {
            let want = live["spec"]["replicas"].as_i64().unwrap_or(1);
            let updated = if st["updateRevision"].is_string() && st["updateRevision"] != st["currentRevision"] {
                n(&st["updatedReplicas"])
            } else {
                n(&st["updatedReplicas"]).max(n(&st["currentReplicas"]))
            };
            workload(want, updated, n(&st["readyReplicas"]))
        }
        "DaemonSet" => {
            let want = n(&st["desiredNumberScheduled"]);
            workload(want, n(&st["updatedNumberScheduled"]), n(&st["numberReady"]))
        }
        "App" | "Job" if live["apiVersion"].as_str().is_some_and(|a| a.starts_with("dromos.io/")) => {
            let conds = st["conditions"].as_array().cloned().unwrap_or_default();
            let ready = conds.iter().find(|c| c["type"] == "Ready");
            match ready {
                Some(c)
                    if c["status"] == "True"
                        && c["observedGeneration"].as_i64().unwrap_or(generation) >= generation =>
                {
                    ("Ready", None)
                }
                Some(c) => ("Progressing", c["message"].as_str().map(str::to_string)),
                None => ("Progressing", Some("no status yet".into())),
            }
        }
        _ => ("Exists", None),
    }
}

/// [`health`] of an object read from a watch cache right after an apply returned
/// `applied_generation`: a cached copy of an older generation still describes the previous
/// spec (its status may say every replica is ready, for the old pods), so it is Progressing
/// until the cache has caught up.
pub fn health_after_apply(
    kind: &str,
    live: Option<&Value>,
    applied_generation: Option<i64>,
) -> (&'static str, Option<String>) {
    let cached = live.and_then(|v| v["metadata"]["generation"].as_i64());
    match (cached, applied_generation) {
        (Some(c), Some(a)) if c < a => ("Progressing", Some(format!("waiting to observe generation {a}"))),
        _ => health(kind, live),
    }
}

#[cfg(test)]
mod tests;

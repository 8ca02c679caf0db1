//! Loading a manifest tree from file names and bytes (pure).
//!
//! The shell reads files (from a directory or a Git tree) and hands them here. Every YAML or
//! JSON document becomes a [`Manifest`]: Dromos kinds are checked against their CRD schema and
//! parsed into their typed form; any other apiVersion/kind passes through untouched. All
//! problems of the tree are collected, not only the first.

use crate::diag::{Diagnostic, Pos, closest};
use crate::ids;
use crate::schema;
use crate::yaml::{self, Budget, PathIndex};
use dromos_crds::{App, GitSource, Job, Offer, Package};
use serde::de::DeserializeOwned;
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
            default_namespace: "default".into(),
            threads: 1,
        }
    }
}

/// The typed form of a Dromos manifest.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Typed {
    /// dromos.io App.
    App(App),
    /// dromos.io Job.
    Job(Job),
    /// dromos.io Package.
    Package(Package),
    /// dromos.io GitSource.
    GitSource(GitSource),
    /// dromos.io Offer.
    Offer(Offer),
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
            | ("dromos.io", "Offer")
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

const METADATA_FIELDS: [&str; 6] = ["name", "namespace", "labels", "annotations", "generateName", "finalizers"];

/// Loads every file. Files are processed in the order given; callers sort them.
pub fn load_files(files: &[SourceFile], opts: &LoadOptions) -> Loaded {
    let mut out = Loaded::default();
    // Package repositories may live beside the manifests; their files are not manifests.
    let skipped = package_dirs(files);
    let kept: Vec<SourceFile>;
    let files = if skipped.is_empty() {
        files
    } else {
        kept = files.iter().filter(|f| !in_package_dir(&f.path, &skipped)).cloned().collect();
        &kept[..]
    };
    let threads = opts.threads.clamp(1, 64).min(files.len().max(1));
    if threads == 1 {
        for f in files {
            load_file(f, opts, &mut out);
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
                            load_file(f, opts, &mut out);
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
        }
    }
    check_duplicates(&mut out);
    out
}

fn load_file(f: &SourceFile, opts: &LoadOptions, out: &mut Loaded) {
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
    let docs = match yaml::parse_documents(text, opts.budget) {
        Ok(d) => d,
        Err(e) => {
            let hint = match e.code {
                "yaml-budget" => Some("the file is too large or too deeply nested after expanding anchors"),
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
    for (i, doc) in docs.into_iter().enumerate() {
        if let Some(m) = load_document(&f.path, i, doc, opts, &mut out.diagnostics) {
            out.manifests.push(m);
        }
    }
}

fn load_document(
    file: &str,
    doc_index: usize,
    doc: yaml::Document,
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<Manifest> {
    let yaml::Document { mut value, index, pos } = doc;
    let err = |code, path: &str, msg: String| Diagnostic::error(code, file, index.pos(path), path, msg);
    let Some(obj) = value.as_object() else {
        diags.push(err("not-an-object", "", "a manifest must be a mapping with apiVersion, kind and metadata".into()));
        return None;
    };
    // Kubernetes List documents (kubectl get -o yaml) are not expanded: ask for one per object.
    let api_version = match obj.get("apiVersion") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            diags.push(err("wrong-type", "apiVersion", "apiVersion must be a non-empty string".into()));
            return None;
        }
        None => {
            diags.push(
                err("missing-field", "", "missing `apiVersion`".into())
                    .with_hint("e.g. `apiVersion: dromos.io/v1alpha1`"),
            );
            return None;
        }
    };
    let kind = match obj.get("kind") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            diags.push(err("wrong-type", "kind", "kind must be a non-empty string".into()));
            return None;
        }
        None => {
            diags.push(err("missing-field", "", "missing `kind`".into()).with_hint("e.g. `kind: App`"));
            return None;
        }
    };
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let dromos = group == dromos_crds::GROUP;
    let mut local = Vec::new();

    // metadata
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Object(Default::default()));
    let Some(meta) = meta.as_object() else {
        diags.push(err("wrong-type", "metadata", "metadata must be a mapping".into()));
        return None;
    };
    if dromos {
        for k in meta.keys() {
            if !METADATA_FIELDS.contains(&k.as_str()) {
                let mut d = err("unknown-field", &format!("metadata.{k}"), format!("unknown field `{k}` in metadata"));
                d = match closest(k, METADATA_FIELDS) {
                    Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                    None => d.with_hint(format!("known fields: {}", METADATA_FIELDS.join(", "))),
                };
                local.push(d);
            }
        }
        for map in ["labels", "annotations"] {
            match meta.get(map) {
                None => {}
                Some(Value::Object(m)) => {
                    for (k, v) in m {
                        if !v.is_string() {
                            let p = format!("metadata.{map}[{k:?}]");
                            local.push(
                                err("wrong-type", &p, format!("{map} values must be strings, found {v}"))
                                    .with_hint(format!("quote it: \"{}\"", v.to_string().trim_matches('"'))),
                            );
                        }
                    }
                }
                Some(_) => local.push(err(
                    "wrong-type",
                    &format!("metadata.{map}"),
                    format!("metadata.{map} must be a mapping"),
                )),
            }
        }
    }
    let meta_name = meta.get("name").and_then(Value::as_str).map(str::to_string);
    let meta_ns = meta.get("namespace").and_then(Value::as_str).map(str::to_string);
    if meta.get("name").is_some_and(|v| !v.is_string()) {
        local.push(err("wrong-type", "metadata.name", "metadata.name must be a string".into()));
    }

    let known_kind = dromos && dromos_crds::KINDS.contains(&kind.as_str());
    if dromos && !known_kind {
        let mut d = err("unknown-kind", "kind", format!("`{kind}` is not a dromos.io kind"));
        if let Some(c) = closest(&kind, dromos_crds::KINDS) {
            d = d.with_hint(format!("did you mean `{c}`?"));
        } else {
            d = d.with_hint(format!("dromos.io kinds: {}", dromos_crds::KINDS.join(", ")));
        }
        diags.push(d);
        diags.extend(local);
        return None;
    }
    if dromos && api_version != dromos_crds::API_VERSION {
        local.push(
            err("unknown-version", "apiVersion", format!("`{api_version}` is not served"))
                .with_hint(format!("use `{}`", dromos_crds::API_VERSION)),
        );
    }

    // Resolve namespace and name; ids (App/Job spec.id) can supply both.
    let mut namespace = meta_ns.clone();
    let mut name = meta_name.clone();
    if known_kind
        && (kind == "App" || kind == "Job")
        && let Some(id) = obj.get("spec").and_then(|s| s.get("id")).and_then(Value::as_str)
    {
        let parsed = if kind == "App" { ids::parse_id(id, None) } else { ids::parse_job_id(id) };
        match parsed {
            Err(e) => local.push(err("invalid-id", "spec.id", e)),
            Ok(segs) => {
                let loc = ids::location_of(&segs);
                if let Some(ns) = &loc.namespace {
                    match &meta_ns {
                        Some(m) if m != ns => local.push(
                            err(
                                "id-mismatch",
                                "spec.id",
                                format!("id `{id}` maps to namespace `{ns}` but metadata.namespace is `{m}`"),
                            )
                            .with_hint("drop metadata.namespace or make the first id segment match it"),
                        ),
                        _ => namespace = Some(ns.clone()),
                    }
                }
                match &meta_name {
                    Some(m) if *m != loc.name => local.push(
                        err(
                            "id-mismatch",
                            "spec.id",
                            format!("id `{id}` maps to name `{}` but metadata.name is `{m}`", loc.name),
                        )
                        .with_hint("drop metadata.name or make them agree (see ARCHITECTURE.md, ids)"),
                    ),
                    _ => name = Some(loc.name),
                }
            }
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        local.push(err("missing-field", "metadata", "missing `metadata.name`".into()).with_hint(
            if kind == "App" || kind == "Job" { "set metadata.name or spec.id" } else { "set metadata.name" },
        ));
        diags.extend(local);
        return None;
    };
    if known_kind {
        if kind == "Offer" {
            if namespace.is_some() {
                local.push(err(
                    "cluster-scoped",
                    "metadata.namespace",
                    "Offer is cluster-scoped and takes no namespace".into(),
                ));
            }
            namespace = None;
        } else if namespace.is_none() {
            namespace = Some(opts.default_namespace.clone());
        }
        if let Err(e) = ids::check_dns_label(&name) {
            local.push(err("invalid-name", if meta_name.is_some() { "metadata.name" } else { "spec.id" }, e));
        }
        if let Some(ns) = &namespace
            && let Err(e) = ids::check_dns_label(ns)
        {
            local.push(err("invalid-name", if meta_ns.is_some() { "metadata.namespace" } else { "spec.id" }, e));
        }
        // Write the resolved location into the document so what is applied is unambiguous.
        let m = value.as_object_mut().expect("checked above");
        let meta = m.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("name".into(), Value::String(name.clone()));
            if let Some(ns) = &namespace {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
    }

    let mut typed = Typed::Other;
    if known_kind {
        let root = value.as_object_mut().expect("checked above");
        if root.contains_key("status") {
            local.push(err(
                "status-ignored",
                "status",
                "status is written by Dromos; the value here is ignored".into(),
            ));
            if let Some(d) = local.last_mut() {
                d.severity = crate::diag::Severity::Warning;
            }
            root.remove("status");
        }
        for k in root.keys() {
            if !["apiVersion", "kind", "metadata", "spec"].contains(&k.as_str()) {
                let mut d = err("unknown-field", k, format!("unknown top-level field `{k}`"));
                if let Some(c) = closest(k, ["apiVersion", "kind", "metadata", "spec"]) {
                    d = d.with_hint(format!("did you mean `{c}`?"));
                }
                local.push(d);
            }
        }
        let schema = crd_schema(&kind).expect("every known kind has a CRD");
        let spec_schema = &schema["properties"]["spec"];
        let spec_required = schema["required"].as_array().is_some_and(|r| r.iter().any(|v| v == "spec"));
        match root.get_mut("spec") {
            None if spec_required || !spec_schema.is_null() => {
                local.push(err("missing-field", "", "missing `spec`".into()));
            }
            None => {}
            Some(spec) => {
                schema::strip_nulls(spec);
                let mut issues = Vec::new();
                schema::check(spec, spec_schema, "spec", &mut issues);
                for i in issues {
                    let mut d = err(i.code, &i.path, i.message);
                    if let Some(h) = i.hint {
                        d = d.with_hint(h);
                    }
                    local.push(d);
                }
            }
        }
        // Parse the typed form even after structural errors, so semantic rules still run and
        // every problem of the document is reported in one pass; serde ignores unknown fields.
        let structurally_ok = !local.iter().any(Diagnostic::is_error);
        let parsed = match kind.as_str() {
            "App" => parse_typed::<App>(&value).map(Typed::App),
            "Job" => parse_typed::<Job>(&value).map(Typed::Job),
            "Package" => parse_typed::<Package>(&value).map(Typed::Package),
            "GitSource" => parse_typed::<GitSource>(&value).map(Typed::GitSource),
            "Offer" => parse_typed::<Offer>(&value).map(Typed::Offer),
            _ => unreachable!("known kinds are listed in KINDS"),
        };
        typed = match parsed {
            Ok(t) => t,
            Err((path, msg)) => {
                if structurally_ok {
                    local.push(err("invalid-value", &path, msg));
                }
                Typed::Invalid
            }
        };
    }
    diags.extend(local);
    Some(Manifest {
        file: file.to_string(),
        doc: doc_index,
        pos,
        api_version,
        kind,
        namespace,
        name,
        value,
        index,
        typed,
    })
}

fn parse_typed<T: DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let msg = e.into_inner().to_string();
        let msg = if msg.contains("did not match any variant of untagged enum") {
            "value has the wrong shape (see `kubectl explain` for this field)".to_string()
        } else {
            msg
        };
        (path, msg)
    })
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
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)]) -> Loaded {
        let files: Vec<SourceFile> =
            files.iter().map(|(p, t)| SourceFile { path: p.to_string(), bytes: t.as_bytes().to_vec() }).collect();
        load_files(&files, &LoadOptions::default())
    }

    #[test]
    fn an_app_with_an_id_gets_namespace_and_name() {
        let l = load(&[(
            "a.yaml",
            "apiVersion: dromos.io/v1alpha1\nkind: App\nspec:\n  id: /shop/web/frontend\n  cmd: sleep 1\n",
        )]);
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        let m = &l.manifests[0];
        assert_eq!((m.namespace.as_deref(), m.name.as_str()), (Some("shop"), "web-frontend"));
        assert!(matches!(m.typed, Typed::App(_)));
        assert_eq!(m.value["metadata"]["namespace"], "shop");
    }

    #[test]
    fn unknown_fields_name_the_closest_known_one() {
        let l = load(&[(
            "apps/web.yaml",
            "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  cmd: x\n  instancess: 3\n  healthChecks:\n    - protocoll: HTTP\n",
        )]);
        let d: Vec<_> = l.diagnostics.iter().map(|d| (d.line, d.column, d.field.as_str(), d.hint.clone())).collect();
        assert_eq!(
            d,
            vec![
                (7, 3, "spec.instancess", Some("did you mean `instances`?".into())),
                (9, 7, "spec.healthChecks[0].protocoll", Some("did you mean `protocol`?".into())),
            ]
        );
        // The typed form is still available so semantic rules run too.
        assert!(matches!(l.manifests[0].typed, Typed::App(_)));
    }

    #[test]
    fn other_kinds_pass_through() {
        let l = load(&[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {a: b}\nwhatever: 1\n",
        )]);
        assert!(l.diagnostics.is_empty());
        assert!(matches!(l.manifests[0].typed, Typed::Other));
    }

    #[test]
    fn duplicates_report_both_places() {
        let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n";
        let l = load(&[("a.yaml", doc), ("b.yaml", &format!("---\n{doc}"))]);
        assert_eq!(l.diagnostics.len(), 1);
        let d = &l.diagnostics[0];
        assert_eq!((d.file.as_str(), d.line), ("b.yaml", 2));
        assert_eq!(d.hint.as_deref(), Some("first defined at a.yaml:1"));
    }

    #[test]
    fn id_collisions_are_duplicates() {
        let a = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web-frontend, cmd: x}\n";
        let b = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web/frontend, cmd: x}\n";
        let l = load(&[("a.yaml", a), ("b.yaml", b)]);
        assert_eq!(l.diagnostics.len(), 1, "{:?}", l.diagnostics);
        assert!(l.diagnostics[0].message.contains("/shop/web/frontend"));
        assert!(l.diagnostics[0].hint.as_deref().unwrap().contains("/shop/web-frontend"));
    }

    #[test]
    fn file_problems_are_reported_per_file() {
        let files = vec![
            SourceFile { path: "bad.yaml".into(), bytes: b"a: 1\n\xff\xfe\n".to_vec() },
            SourceFile { path: "big.yaml".into(), bytes: vec![b'#'; 100] },
            SourceFile { path: "syntax.yaml".into(), bytes: b"a: [1,\n".to_vec() },
        ];
        let opts = LoadOptions { max_file_bytes: 50, ..Default::default() };
        let l = load_files(&files, &opts);
        let codes: Vec<_> = l.diagnostics.iter().map(|d| (d.file.as_str(), d.code, d.line)).collect();
        assert_eq!(codes[0], ("bad.yaml", "invalid-utf8", 2));
        assert_eq!(codes[1], ("big.yaml", "file-too-large", 0));
        assert_eq!(codes[2].1, "yaml-syntax");
    }

    #[test]
    fn unknown_dromos_kinds_get_a_hint() {
        let l = load(&[("a.yaml", "apiVersion: dromos.io/v1alpha1\nkind: Ap\nmetadata: {name: a}\n")]);
        assert_eq!(l.diagnostics[0].hint.as_deref(), Some("did you mean `App`?"));
    }

    #[test]
    fn id_must_agree_with_metadata() {
        let l = load(&[(
            "a.yaml",
            "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {name: web, namespace: prod}\nspec: {id: /shop/web, cmd: x}\n",
        )]);
        assert_eq!(l.diagnostics.len(), 1);
        assert_eq!(l.diagnostics[0].code, "id-mismatch");
        assert_eq!(l.diagnostics[0].line, 4);
    }
}

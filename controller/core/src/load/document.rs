//! Loading one parsed YAML document into a [`Manifest`] (pure).
//!
//! A pipeline: header (apiVersion, kind) -> metadata -> kind -> location (namespace, name,
//! from metadata or a Marathon id) -> schema check and typed form. Each step pushes its problems
//! in document order; a step that leaves nothing to load stops the pipeline.

use super::{LoadOptions, Manifest, Typed, crd_schema};
use crate::diag::{Diagnostic, closest};
use crate::ids;
use crate::schema;
use crate::yaml::{self, PathIndex};
use dromos_crds::{App, GitSource, Job, Offer, Package, SourcePolicy};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

const METADATA_FIELDS: [&str; 6] = ["name", "namespace", "labels", "annotations", "generateName", "finalizers"];
const TOP_LEVEL_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];

/// Where diagnostics of one document point.
struct At<'a> {
    file: &'a str,
    index: &'a PathIndex,
}

impl At<'_> {
    fn err(&self, code: &'static str, path: &str, msg: String) -> Diagnostic {
        Diagnostic::error(code, self.file, self.index.pos(path), path, msg)
    }
}

pub(super) fn load_document(
    file: &str,
    doc_index: usize,
    doc: yaml::Document,
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<Manifest> {
    let yaml::Document { mut value, index, pos } = doc;
    let at = At { file, index: &index };
    let (api_version, kind) = header(&at, &value, diags)?;
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let dromos = group == dromos_crds::GROUP;
    let mut local = Vec::new();

    // metadata
    let meta = value.get("metadata").cloned().unwrap_or(Value::Object(Map::new()));
    let meta = match &meta {
        Value::Object(m) => m,
        _ => {
            diags.push(at.err("wrong-type", "metadata", "metadata must be a mapping".into()));
            return None;
        }
    };
    if dromos {
        check_metadata(&at, meta, &mut local);
    }
    let meta_name = meta.get("name").and_then(Value::as_str).map(str::to_string);
    let meta_ns = meta.get("namespace").and_then(Value::as_str).map(str::to_string);
    if meta.get("name").is_some_and(|v| !v.is_string()) {
        local.push(at.err("wrong-type", "metadata.name", "metadata.name must be a string".into()));
    }

    // kind
    let known_kind = dromos && dromos_crds::KINDS.contains(&kind.as_str());
    if dromos && !known_kind {
        diags.push(unknown_kind(&at, &kind));
        diags.extend(local);
        return None;
    }
    if dromos && api_version != dromos_crds::API_VERSION {
        local.push(
            at.err("unknown-version", "apiVersion", format!("`{api_version}` is not served"))
                .with_hint(format!("use `{}`", dromos_crds::API_VERSION)),
        );
    }

    // location
    let id =
        value.pointer("/spec/id").and_then(Value::as_str).filter(|_| known_kind && (kind == "App" || kind == "Job"));
    let (name, mut namespace) = match id {
        Some(id) => from_id(&at, &kind, id, meta_name.clone(), meta_ns.clone(), &mut local),
        None => (meta_name.clone(), meta_ns.clone()),
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        local.push(at.err("missing-field", "metadata", "missing `metadata.name`".into()).with_hint(
            if kind == "App" || kind == "Job" { "set metadata.name or spec.id" } else { "set metadata.name" },
        ));
        diags.extend(local);
        return None;
    };

    let mut typed = Typed::Other;
    if known_kind {
        let located = Located { kind: &kind, name: &name, from_meta: (meta_name.is_some(), meta_ns.is_some()) };
        namespace = settle_location(&at, &located, namespace, opts, &mut value, &mut local);
        typed = check_and_parse(&at, &kind, &mut value, &mut local);
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

/// apiVersion and kind. Kubernetes List documents (kubectl get -o yaml) are not expanded: ask
/// for one per object.
fn header(at: &At, value: &Value, diags: &mut Vec<Diagnostic>) -> Option<(String, String)> {
    let Some(obj) = value.as_object() else {
        let msg = "a manifest must be a mapping with apiVersion, kind and metadata";
        diags.push(at.err("not-an-object", "", msg.into()));
        return None;
    };
    let api_version = match obj.get("apiVersion") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            diags.push(at.err("wrong-type", "apiVersion", "apiVersion must be a non-empty string".into()));
            return None;
        }
        None => {
            diags.push(
                at.err("missing-field", "", "missing `apiVersion`".into())
                    .with_hint("e.g. `apiVersion: dromos.io/v1alpha1`"),
            );
            return None;
        }
    };
    let kind = match obj.get("kind") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            diags.push(at.err("wrong-type", "kind", "kind must be a non-empty string".into()));
            return None;
        }
        None => {
            diags.push(at.err("missing-field", "", "missing `kind`".into()).with_hint("e.g. `kind: App`"));
            return None;
        }
    };
    Some((api_version, kind))
}

/// Metadata of a dromos.io object: known fields only, string labels and annotations.
fn check_metadata(at: &At, meta: &Map<String, Value>, local: &mut Vec<Diagnostic>) {
    for k in meta.keys() {
        if !METADATA_FIELDS.contains(&k.as_str()) {
            let mut d = at.err("unknown-field", &format!("metadata.{k}"), format!("unknown field `{k}` in metadata"));
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
                            at.err("wrong-type", &p, format!("{map} values must be strings, found {v}"))
                                .with_hint(format!("quote it: \"{}\"", v.to_string().trim_matches('"'))),
                        );
                    }
                }
            }
            Some(_) => local.push(at.err(
                "wrong-type",
                &format!("metadata.{map}"),
                format!("metadata.{map} must be a mapping"),
            )),
        }
    }
}

fn unknown_kind(at: &At, kind: &str) -> Diagnostic {
    let d = at.err("unknown-kind", "kind", format!("`{kind}` is not a dromos.io kind"));
    match closest(kind, dromos_crds::KINDS) {
        Some(c) => d.with_hint(format!("did you mean `{c}`?")),
        None => d.with_hint(format!("dromos.io kinds: {}", dromos_crds::KINDS.join(", "))),
    }
}

/// Name and namespace of an App or Job with a `spec.id`: the id supplies both, and must agree
/// with metadata where metadata sets them.
fn from_id(
    at: &At,
    kind: &str,
    id: &str,
    meta_name: Option<String>,
    meta_ns: Option<String>,
    local: &mut Vec<Diagnostic>,
) -> (Option<String>, Option<String>) {
    let (mut name, mut namespace) = (meta_name.clone(), meta_ns.clone());
    let parsed = if kind == "App" { ids::parse_id(id, None) } else { ids::parse_job_id(id) };
    let segs = match parsed {
        Err(e) => {
            local.push(at.err("invalid-id", "spec.id", e));
            return (name, namespace);
        }
        Ok(segs) => segs,
    };
    let loc = ids::location_of(&segs);
    if let Some(ns) = &loc.namespace {
        match &meta_ns {
            Some(m) if m != ns => local.push(
                at.err(
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
            at.err(
                "id-mismatch",
                "spec.id",
                format!("id `{id}` maps to name `{}` but metadata.name is `{m}`", loc.name),
            )
            .with_hint(
                "drop metadata.name or make them agree (see docs/decisions/0005-ids-map-to-namespace-and-name.md)",
            ),
        ),
        _ => name = Some(loc.name),
    }
    (name, namespace)
}

/// A Dromos object's resolved name, and whether metadata (rather than `spec.id`) set its
/// (name, namespace): diagnostics point at the field that set them.
struct Located<'a> {
    kind: &'a str,
    name: &'a str,
    from_meta: (bool, bool),
}

/// Scope and DNS rules of a Dromos object's location; writes the resolved location into the
/// document so what is applied is unambiguous. Returns the namespace.
fn settle_location(
    at: &At,
    o: &Located,
    mut namespace: Option<String>,
    opts: &LoadOptions,
    value: &mut Value,
    local: &mut Vec<Diagnostic>,
) -> Option<String> {
    if o.kind == "Offer" || o.kind == "SourcePolicy" {
        if namespace.is_some() {
            local.push(at.err(
                "cluster-scoped",
                "metadata.namespace",
                format!("{} is cluster-scoped and takes no namespace", o.kind),
            ));
        }
        namespace = None;
    } else if namespace.is_none() {
        namespace = Some(opts.default_namespace.clone());
    }
    if let Err(e) = ids::check_dns_label(o.name) {
        local.push(at.err("invalid-name", if o.from_meta.0 { "metadata.name" } else { "spec.id" }, e));
    }
    if let Some(ns) = &namespace
        && let Err(e) = ids::check_dns_label(ns)
    {
        local.push(at.err("invalid-name", if o.from_meta.1 { "metadata.namespace" } else { "spec.id" }, e));
    }
    let m = value.as_object_mut().expect("checked by header");
    let meta = m.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("name".into(), Value::String(o.name.to_string()));
        if let Some(ns) = &namespace {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
    }
    namespace
}

/// Top-level fields and the spec against the CRD schema, then the typed form.
fn check_and_parse(at: &At, kind: &str, value: &mut Value, local: &mut Vec<Diagnostic>) -> Typed {
    let root = value.as_object_mut().expect("checked by header");
    if root.contains_key("status") {
        let mut d = at.err("status-ignored", "status", "status is written by Dromos; the value here is ignored".into());
        d.severity = crate::diag::Severity::Warning;
        local.push(d);
        root.remove("status");
    }
    for k in root.keys() {
        if !TOP_LEVEL_FIELDS.contains(&k.as_str()) {
            let mut d = at.err("unknown-field", k, format!("unknown top-level field `{k}`"));
            if let Some(c) = closest(k, TOP_LEVEL_FIELDS) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            }
            local.push(d);
        }
    }
    let schema = crd_schema(kind).expect("every known kind has a CRD");
    let spec_schema = &schema["properties"]["spec"];
    let spec_required = schema["required"].as_array().is_some_and(|r| r.iter().any(|v| v == "spec"));
    match root.get_mut("spec") {
        None if spec_required || !spec_schema.is_null() => {
            local.push(at.err("missing-field", "", "missing `spec`".into()));
        }
        None => {}
        Some(spec) => {
            schema::strip_nulls(spec);
            let mut issues = Vec::new();
            schema::check(spec, spec_schema, "spec", &mut issues);
            for i in issues {
                let mut d = at.err(i.code, &i.path, i.message);
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
    let parsed = match kind {
        "App" => parse_typed::<App>(value).map(|x| Typed::App(Box::new(x))),
        "Job" => parse_typed::<Job>(value).map(|x| Typed::Job(Box::new(x))),
        "Package" => parse_typed::<Package>(value).map(|x| Typed::Package(Box::new(x))),
        "GitSource" => parse_typed::<GitSource>(value).map(|x| Typed::GitSource(Box::new(x))),
        "Offer" => parse_typed::<Offer>(value).map(|x| Typed::Offer(Box::new(x))),
        "SourcePolicy" => parse_typed::<SourcePolicy>(value).map(|x| Typed::SourcePolicy(Box::new(x))),
        "Notifier" => parse_typed::<dromos_crds::Notifier>(value).map(|n| Typed::Notifier(Box::new(n))),
        _ => unreachable!("known kinds are listed in KINDS"),
    };
    match parsed {
        Ok(t) => t,
        Err((path, msg)) => {
            if structurally_ok {
                local.push(at.err("invalid-value", &path, msg));
            }
            Typed::Invalid
        }
    }
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

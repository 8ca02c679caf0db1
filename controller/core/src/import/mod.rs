//! Importing DC/OS definitions into Dromos manifests (pure).
//!
//! Input is JSON text with a file name: Marathon apps, groups, pods and app lists; Metronome
//! jobs and schedules; Chronos jobs; Cosmos package installs. Output is one manifest per
//! object (kind App, Job or Package) with the relative path it is written to, plus a
//! [`Report`] naming, field by field, everything that was dropped or approximated, why, and
//! what to do instead.
//!
//! What is carried is decided by the CRD schema itself ([`carry`]): a field survives only if
//! the Dromos kind has it, so an import can never write a field `dromos validate` refuses.
//! Conversions that need meaning (deprecated Marathon fields, group dependencies, pods, Chronos
//! schedules) are done by hand in the per-system modules before the schema walk.

mod chronos;
mod cosmos;
mod marathon;
mod metronome;
pub mod report;
#[cfg(test)]
pub(crate) mod tests;

pub use report::{Effect, Entry, Report};

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Which system the input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Marathon apps, groups, pods, app lists (`GET /v2/groups`, `/v2/apps`, `/v2/pods`).
    Marathon,
    /// Metronome jobs (`GET /v1/jobs?embed=schedules`) and schedule files.
    Metronome,
    /// Chronos jobs (`GET /v1/scheduler/jobs`), scheduled and dependent.
    Chronos,
    /// Cosmos package installs (`POST /package/install` bodies) or Marathon apps of packages.
    Package,
}

/// One input document.
#[derive(Clone, Debug)]
pub struct Input {
    /// Name shown in the report and in errors (a path as the user gave it, or a URL).
    pub name: String,
    /// JSON text.
    pub text: String,
}

/// Import settings.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Namespace of objects whose id does not name one (one-segment ids, Chronos jobs).
    pub default_namespace: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { default_namespace: "default".into() }
    }
}

/// One imported object.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// `App`, `Job` or `Package`.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Input it came from.
    pub source: String,
    /// JSON path of the object in that input.
    pub source_path: String,
    /// Comment lines written above the document (without `# `).
    pub comments: Vec<String>,
    /// The manifest.
    pub value: Value,
}

impl Imported {
    /// Where the object is written, relative to the output directory:
    /// `<namespace>/<name>.<kind>.yaml` with the kind in lower case.
    pub fn path(&self) -> String {
        format!("{}/{}.{}.yaml", self.namespace, self.name, self.kind.to_ascii_lowercase())
    }

    /// `Kind namespace/name`.
    pub fn display(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }

    /// The YAML text of the file: comment lines, then the manifest. Comments quote input text
    /// (a Chronos job's name, a package name): each of their lines is a comment line of its own,
    /// so a line break in them cannot end the comment and add YAML to the file, and characters
    /// YAML cannot hold (NUL, other control characters) are written as `\u{..}` escapes.
    pub fn to_yaml(&self) -> String {
        let mut s = String::new();
        for c in &self.comments {
            for line in c.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
                s.push_str("# ");
                for ch in line.chars() {
                    if ch != '\t' && (ch.is_control() || matches!(ch, '\u{feff}' | '\u{fffe}' | '\u{ffff}')) {
                        s.extend(ch.escape_unicode());
                    } else {
                        s.push(ch);
                    }
                }
                s.push('\n');
            }
        }
        s.push_str(&serde_saphyr::to_string(&self.value).expect("JSON values serialise to YAML"));
        s
    }
}

/// An input that cannot be imported: the file, the JSON path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {path}: {message}")]
pub struct ImportError {
    /// Input name.
    pub file: String,
    /// JSON path (`$` for the document, `$.apps[0].id`), or `line:column` for syntax errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Everything an import produced.
#[derive(Clone, Debug, Default)]
pub struct Import {
    /// Objects, sorted by output path.
    pub objects: Vec<Imported>,
    /// What was not carried over.
    pub report: Report,
}

/// Converts every input. Errors (unreadable JSON, a value of the wrong type, an id that
/// cannot be mapped, two objects with one name) are all collected; when there is any, no
/// object is returned.
pub fn import(flavor: Flavor, inputs: &[Input], opts: &ImportOptions) -> Result<Import, Vec<ImportError>> {
    let mut st = State::default();
    let mut docs = Vec::new();
    for input in inputs {
        match serde_json::from_str::<Value>(&input.text) {
            Ok(v) => docs.push((input.name.clone(), v)),
            Err(e) => st.errors.push(ImportError {
                file: input.name.clone(),
                path: format!("{}:{}", e.line(), e.column()),
                message: format!("not valid JSON: {e}"),
            }),
        }
    }
    match flavor {
        Flavor::Marathon => marathon::import_all(&docs, opts, &mut st),
        Flavor::Metronome => metronome::import_all(&docs, opts, &mut st),
        Flavor::Chronos => chronos::import_all(&docs, opts, &mut st),
        Flavor::Package => {
            // Cosmos install bodies, and Marathon apps (those labelled as packages become
            // Packages, the rest Apps), in one pass so dependencies still resolve.
            let (cosmos_docs, marathon_docs): (Vec<_>, Vec<_>) =
                docs.into_iter().partition(|(_, v)| cosmos::is_install(v));
            let (marathon_docs, other): (Vec<_>, Vec<_>) = marathon_docs
                .into_iter()
                .partition(|(_, v)| v.is_array() || v.get("id").is_some() || v.get("apps").is_some());
            for (file, v) in other {
                let what = if v.get("packagingVersion").is_some() {
                    "a Universe package definition, not an install: Packages name it with spec.name and spec.repository"
                } else {
                    "neither a Cosmos install body {packageName, packageVersion, options, appId} nor a Marathon app"
                };
                st.error(&file, "$", format!("this is {what}"));
            }
            cosmos::import_all(&cosmos_docs, opts, &mut st);
            marathon::import_all(&marathon_docs, opts, &mut st);
        }
    }
    st.finish()
}

/// Accumulates objects, losses and errors across inputs.
#[derive(Debug, Default)]
pub(crate) struct State {
    objects: Vec<Imported>,
    report: Report,
    errors: Vec<ImportError>,
}

impl State {
    fn push(&mut self, o: Imported) {
        self.objects.push(o);
    }

    fn error(&mut self, file: &str, path: &str, message: impl Into<String>) {
        self.errors.push(ImportError { file: file.into(), path: path.into(), message: message.into() });
    }

    fn finish(mut self) -> Result<Import, Vec<ImportError>> {
        // Two objects written to one file would silently lose one of them.
        let mut seen: BTreeMap<String, &Imported> = BTreeMap::new();
        let mut clashes = Vec::new();
        for o in &self.objects {
            if let Some(first) = seen.get(&o.path()) {
                clashes.push(ImportError {
                    file: o.source.clone(),
                    path: o.source_path.clone(),
                    message: format!(
                        "{} is also imported from {} {}; both would be written to {}",
                        o.display(),
                        first.source,
                        first.source_path,
                        o.path()
                    ),
                });
            } else {
                seen.insert(o.path(), o);
            }
        }
        self.errors.extend(clashes);
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        self.objects.sort_by_key(|o| o.path());
        self.report.sort();
        Ok(Import { objects: self.objects, report: self.report })
    }
}

/// One object being imported: its kind, the input and JSON path it is read from, and the
/// namespace and name it is written to.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub kind: &'static str,
    pub file: &'a str,
    pub path: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl<'a> Origin<'a> {
    /// The conversion context of this object (`Kind namespace/name` in the report).
    pub fn cx<'s>(&self, reasons: &'static [Reason], st: &'s mut State) -> Cx<'s>
    where
        'a: 's,
    {
        Cx {
            file: self.file,
            object: format!("{} {}/{}", self.kind, self.namespace, self.name),
            reasons,
            kind: self.kind,
            st,
        }
    }

    /// Records the imported object with its `spec` and the comment lines above it.
    pub fn emit(&self, comments: Vec<String>, spec: Value, st: &mut State) {
        st.push(Imported {
            kind: self.kind,
            namespace: self.namespace.into(),
            name: self.name.into(),
            source: self.file.into(),
            source_path: self.path.into(),
            comments,
            value: manifest(self.kind, self.namespace, self.name, spec),
        });
    }
}

/// An App or Job converted but not yet emitted: its dependencies (absolute id and the JSON
/// path they came from) resolve only once every input is read. `extra` is what the
/// converter keeps besides.
pub(crate) struct Pending<X> {
    pub file: String,
    pub path: String,
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub spec: Map<String, Value>,
    pub deps: Vec<(String, String)>,
    pub extra: X,
}

impl<X> Pending<X> {
    pub fn origin(&self, kind: &'static str) -> Origin<'_> {
        Origin { kind, file: &self.file, path: &self.path, namespace: &self.namespace, name: &self.name }
    }
}

/// Context of one object being converted: where it comes from and where losses go.
pub(crate) struct Cx<'a> {
    pub file: &'a str,
    /// `Kind namespace/name`, for the report.
    pub object: String,
    /// Reasons and advice for fields the kind does not have, by relative path (indices
    /// removed, e.g. `container.docker.credential`); the last matching suffix wins.
    pub reasons: &'static [Reason],
    /// Kind name used in generic reasons.
    pub kind: &'static str,
    pub st: &'a mut State,
}

/// Why a field is not carried and what to do instead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reason {
    pub field: &'static str,
    pub effect: Effect,
    pub why: &'static str,
    pub instead: &'static str,
}

/// A [`Reason`] (short, for the tables of the converters).
pub(crate) const fn reason(field: &'static str, effect: Effect, why: &'static str, instead: &'static str) -> Reason {
    Reason { field, effect, why, instead }
}

impl Cx<'_> {
    pub fn loss(
        &mut self,
        effect: Effect,
        path: &str,
        value: Option<&Value>,
        why: impl Into<String>,
        instead: impl Into<String>,
    ) {
        self.st.report.entries.push(Entry {
            file: self.file.to_string(),
            path: path.to_string(),
            object: self.object.clone(),
            effect,
            value: value.map(short),
            why: why.into(),
            instead: instead.into(),
        });
    }

    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        let file = self.file.to_string();
        self.st.error(&file, path, message);
    }

    /// Records a field the kind has no place for, unless it holds nothing.
    pub fn drop_field(&mut self, path: &str, rel: &str, v: &Value) {
        if is_empty(v) {
            return;
        }
        let reason = self.reasons.iter().rev().find(|r| rel == r.field || rel.ends_with(&format!(".{}", r.field)));
        match reason {
            Some(r) => self.loss(r.effect, path, Some(v), r.why, r.instead),
            None => {
                let why = format!("the Dromos {} has no field for `{}`", self.kind, rel);
                self.loss(Effect::Dropped, path, Some(v), why, "set it by other means if it matters, or leave it out")
            }
        }
    }
}

/// True for values that carry nothing: null, `""`, `[]`, `{}`, `false`.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// A short rendering of a value for the report.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}...", s.chars().take(57).collect::<String>()) } else { s }
}

/// `base.key`, or `base["odd key"]`.
pub(crate) fn key(base: &str, k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        format!("{base}.{k}")
    } else {
        format!("{base}[{k:?}]")
    }
}

/// `base[i]`.
pub(crate) fn idx(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// `rel.k` for the index-free relative path used to look up reasons.
fn rel_key(rel: &str, k: &str) -> String {
    if rel.is_empty() { k.to_string() } else { format!("{rel}.{k}") }
}

/// The OpenAPI schema of `spec` (or a sub-path such as `run`) of a Dromos kind.
pub(crate) fn spec_schema(kind: &str, sub: &[&str]) -> &'static Value {
    let mut s = &crate::load::crd_schema(kind).expect("Dromos kinds have schemas")["properties"]["spec"];
    for p in sub {
        s = &s["properties"][*p];
    }
    s
}

/// Carries `v` into `out.<dest>`, `props` being the schema properties of `out`.
pub(crate) fn put(out: &mut Map<String, Value>, props: &Value, dest: &str, v: &Value, src: &str, cx: &mut Cx) {
    if let Some(c) = carry(v, &props[dest], src, dest, cx) {
        out.insert(dest.into(), c);
    }
}

/// Keeps what `schema` knows of `v` and records everything else as dropped. Values of the
/// wrong type are errors; numbers and booleans where a string is expected become strings,
/// and whole floats where an integer is expected become integers (both lossless).
pub(crate) fn carry(v: &Value, schema: &Value, path: &str, rel: &str, cx: &mut Cx) -> Option<Value> {
    if v.is_null() {
        return None;
    }
    let Some(s) = schema.as_object() else { return Some(v.clone()) };
    let preserve = s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false);
    let wrong = |cx: &mut Cx, expected: &str| {
        cx.error(path, format!("expected {expected}, found {}", short(v)));
        None
    };
    match s.get("type").and_then(Value::as_str) {
        None if preserve => Some(v.clone()),
        Some("object") => {
            let Some(obj) = v.as_object() else { return wrong(cx, "an object") };
            let props = s.get("properties").and_then(Value::as_object);
            let additional = s.get("additionalProperties").filter(|a| a.is_object());
            let mut out = Map::new();
            for (k, val) in obj {
                let p = key(path, k);
                let r = rel_key(rel, k);
                if let Some(sub) = props.and_then(|m| m.get(k)) {
                    if let Some(c) = carry(val, sub, &p, &r, cx) {
                        out.insert(k.clone(), c);
                    }
                } else if let Some(sub) = additional {
                    if let Some(c) = carry(val, sub, &p, rel, cx) {
                        out.insert(k.clone(), c);
                    }
                } else if preserve {
                    out.insert(k.clone(), val.clone());
                } else {
                    cx.drop_field(&p, &r, val);
                }
            }
            Some(Value::Object(out))
        }
        Some("array") => {
            let Some(items) = v.as_array() else { return wrong(cx, "a list") };
            let item_schema = s.get("items").unwrap_or(&Value::Null);
            Some(Value::Array(
                items.iter().enumerate().filter_map(|(i, it)| carry(it, item_schema, &idx(path, i), rel, cx)).collect(),
            ))
        }
        Some("string") => {
            let text = match v {
                Value::String(t) => t.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return wrong(cx, "a string"),
            };
            if let Some(allowed) = s.get("enum").and_then(Value::as_array)
                && !allowed.iter().any(|a| a.as_str() == Some(text.as_str()))
            {
                let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                cx.error(path, format!("`{text}` is not one of {}", names.join(", ")));
                return None;
            }
            Some(Value::String(text))
        }
        Some("integer") => match v.as_f64() {
            Some(_) if v.is_i64() || v.is_u64() => Some(v.clone()),
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(Value::from(f as i64)),
            _ => wrong(cx, "an integer"),
        },
        Some("number") => {
            if v.is_number() {
                Some(v.clone())
            } else {
                wrong(cx, "a number")
            }
        }
        Some("boolean") => {
            if v.is_boolean() {
                Some(v.clone())
            } else {
                wrong(cx, "true or false")
            }
        }
        _ => Some(v.clone()),
    }
}

/// Re-reads a carried spec through its typed form so fields come out in the order the CRD
/// declares them (stable, readable output), then back to JSON.
pub(crate) fn canonical<T: serde::de::DeserializeOwned + serde::Serialize>(
    spec: Value,
    path: &str,
    cx: &mut Cx,
) -> Option<Value> {
    match serde_path_to_error::deserialize::<_, T>(&spec) {
        Ok(t) => {
            let mut v = serde_json::to_value(t).expect("CRD types serialise");
            whole_numbers(&mut v);
            Some(v)
        }
        Err(e) => {
            let p = e.path().to_string();
            cx.error(&if p == "." { path.to_string() } else { format!("{path}.{p}") }, e.into_inner().to_string());
            None
        }
    }
}

/// Writes whole floats (`4096.0`, from `f64` fields) as integers, as users write them.
fn whole_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(whole_numbers),
        Value::Object(o) => o.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// A Dromos manifest: apiVersion, kind, metadata, spec.
pub(crate) fn manifest(kind: &str, namespace: &str, name: &str, spec: Value) -> Value {
    serde_json::json!({
        "apiVersion": dromos_crds::API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// Lower-case DNS label from free text (Chronos job names, package service names):
/// other characters become `-`, runs of `-` collapse, at most 63 characters.
pub(crate) fn dns_label(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t: String = out.trim_matches('-').chars().take(63).collect();
    t.trim_end_matches('-').to_string()
}

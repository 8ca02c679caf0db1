//! Cosmos package installs and Marathon apps of packages to Packages (pure).
//!
//! Input format: the body of Cosmos `POST /package/install`,
//! `{"packageName": "kafka", "packageVersion": "2.9.0-3.4.0", "options": {...}, "appId": "/data/kafka"}`
//! (or a JSON array of them). `appId` gives namespace and name by the id rule; without it the
//! name is `options.service.name` (the Universe convention), else the package name.
//! A Marathon app carrying `DCOS_PACKAGE_NAME` is what Cosmos rendered: it becomes a Package
//! with `DCOS_PACKAGE_VERSION` and the options decoded from `DCOS_PACKAGE_OPTIONS` (base64 JSON).

use super::{Effect, ImportOptions, Origin, State, canonical, carry, dns_label, idx, key, spec_schema};
use crate::ids;
use base64::Engine as _;
use dromos_crds::PackageSpec;
use serde_json::{Map, Value, json};

/// True for a Cosmos install body (or a list of them).
pub(super) fn is_install(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("packageName"),
        Value::Array(a) => !a.is_empty() && a.iter().all(|x| x.get("packageName").is_some()),
        _ => false,
    }
}

pub(super) fn import_all(docs: &[(String, Value)], opts: &ImportOptions, st: &mut State) {
    for (file, v) in docs {
        match v {
            Value::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    install(file, it, &idx("$", i), opts, st);
                }
            }
            _ => install(file, v, "$", opts, st),
        }
    }
}

fn install(file: &str, v: &Value, path: &str, opts: &ImportOptions, st: &mut State) {
    let Some(m) = v.as_object() else {
        return st.error(file, path, "expected a Cosmos install body (a JSON object with packageName)");
    };
    let Some(package) = m.get("packageName").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return st.error(file, &key(path, "packageName"), "packageName must be a non-empty string");
    };
    let (namespace, name) = match m.get("appId") {
        Some(Value::String(app_id)) => match ids::parse_id(app_id, Some("/")) {
            Ok(segs) => {
                let loc = ids::location_of(&segs);
                (loc.namespace.unwrap_or_else(|| opts.default_namespace.clone()), loc.name)
            }
            Err(e) => return st.error(file, &key(path, "appId"), e),
        },
        Some(_) => return st.error(file, &key(path, "appId"), "appId must be a string"),
        None => {
            let service = v.pointer("/options/service/name").and_then(Value::as_str).map(dns_label);
            let n = service.filter(|s| !s.is_empty()).unwrap_or_else(|| dns_label(package));
            if n.is_empty() {
                return st.error(file, &key(path, "packageName"), "no Kubernetes name can be made from it");
            }
            (opts.default_namespace.clone(), n)
        }
    };
    let origin = Origin { kind: "Package", file, path, namespace: &namespace, name: &name };
    let mut cx = origin.cx(&[], st);
    let schema = spec_schema("Package", &[]);
    let mut spec = Map::new();
    for (k, v) in m {
        let p = key(path, k);
        let dest = match k.as_str() {
            "packageName" => "name",
            "packageVersion" => "version",
            "options" => "options",
            "appId" => continue,
            _ => {
                cx.drop_field(&p, k, v);
                continue;
            }
        };
        if let Some(c) = carry(v, &schema["properties"][dest], &p, dest, &mut cx) {
            spec.insert(dest.into(), c);
        }
    }
    let Some(spec) = canonical::<PackageSpec>(Value::Object(spec), path, &mut cx) else { return };
    let version = m.get("packageVersion").and_then(Value::as_str).map(|v| format!(" {v}")).unwrap_or_default();
    origin.emit(vec![format!("Cosmos install of {package}{version} from {file} {path}")], spec, st);
}

/// Universe repositories Dromos' built-in catalog stands for.
fn is_default_universe(url: &str) -> bool {
    url.contains("universe.mesosphere.com") || url.contains("downloads.mesosphere.com/universe")
}

/// A Marathon app rendered by Cosmos, back to the Package it came from.
pub(super) fn from_marathon_app(
    file: &str,
    a: &Map<String, Value>,
    path: &str,
    id: &str,
    namespace: &str,
    name: &str,
    st: &mut State,
) {
    let origin = Origin { kind: "Package", file, path, namespace, name };
    let mut cx = origin.cx(&[], st);
    let labels = a.get("labels").and_then(Value::as_object).cloned().unwrap_or_default();
    let lp = key(path, "labels");
    let label = |k: &str| labels.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let package = label("DCOS_PACKAGE_NAME").unwrap_or_default().to_string();
    let mut spec = Map::new();
    spec.insert("name".into(), json!(package));
    if let Some(v) = label("DCOS_PACKAGE_VERSION") {
        spec.insert("version".into(), json!(v));
    }
    if let Some(encoded) = label("DCOS_PACKAGE_OPTIONS") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("not base64: {e}"))
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| format!("not JSON: {e}")));
        match decoded {
            Ok(v @ Value::Object(_)) => {
                spec.insert("options".into(), v);
            }
            Ok(other) => cx.loss(
                Effect::Dropped,
                &key(&lp, "DCOS_PACKAGE_OPTIONS"),
                Some(&other),
                "package options must be a JSON object",
                "write spec.options by hand from the options used at install",
            ),
            Err(e) => cx.loss(
                Effect::Dropped,
                &key(&lp, "DCOS_PACKAGE_OPTIONS"),
                Some(&json!(encoded)),
                format!("the options label cannot be read: {e}"),
                "write spec.options by hand from the options used at install",
            ),
        }
    }
    if let Some(src) = label("DCOS_PACKAGE_SOURCE")
        && !is_default_universe(src)
    {
        cx.loss(
            Effect::Approximated,
            &key(&lp, "DCOS_PACKAGE_SOURCE"),
            Some(&json!(src)),
            "the package came from a private repository; the Package uses the built-in catalog",
            "put the repository's package in a Git repository and set spec.repository.gitSource",
        );
    }
    cx.loss(
        Effect::Note,
        path,
        None,
        format!("Marathon app {id} is the rendering of package `{package}`; the Package keeps name, version and options, from which the workload is rendered"),
        "changes made to the app outside the package (scaling, edited env) are not options: add them to spec.options",
    );
    let Some(spec) = canonical::<PackageSpec>(Value::Object(spec), path, &mut cx) else { return };
    origin.emit(vec![format!("package {package} installed as Marathon app {id}, from {file} {path}")], spec, st);
}

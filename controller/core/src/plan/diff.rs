//! Comparing desired with live objects (pure): the semantic subset test, quantities where
//! the API server normalises them, Secret data, and the unified diff of the fields Dromos sets.

use super::quantity::canonical;
use serde_json::Value;

/// True when every field of `desired` has the same value in `live` (extra live fields, such
/// as defaults and fields of other managers, are ignored). Strings compare exactly, except at
/// the paths where the API server stores quantities in canonical form (`normalised_at`):
/// there `1024Mi` == `1Gi` and `1.10` == `1100m`. Numbers compare by value, and an empty list
/// or map equals an absent one.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    let at = Object::of(desired);
    if desired["kind"] == "Secret" && desired.get("stringData").is_some() {
        let mut d = desired.clone();
        if let Some(sd) = d.as_object_mut().and_then(|o| o.remove("stringData")) {
            let data =
                d.as_object_mut().expect("object").entry("data").or_insert_with(|| Value::Object(Default::default()));
            if let (Some(data), Some(sd)) = (data.as_object_mut(), sd.as_object()) {
                for (k, v) in sd {
                    data.insert(k.clone(), Value::String(base64(v.as_str().unwrap_or("").as_bytes())));
                }
            }
        }
        return sub(&d, live, at, &mut Vec::new());
    }
    sub(desired, live, at, &mut Vec::new())
}

/// The group and kind of the object being compared: they say where quantities are normalised.
#[derive(Clone, Copy)]
struct Object<'a> {
    group: &'a str,
    kind: &'a str,
}

impl<'a> Object<'a> {
    fn of(v: &'a Value) -> Self {
        let api_version = v["apiVersion"].as_str().unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Object { group, kind: v["kind"].as_str().unwrap_or("") }
    }
}

/// `path` holds the keys from the object's root to `d` (list positions are not part of it).
fn sub<'a>(d: &'a Value, l: &Value, at: Object<'_>, path: &mut Vec<&'a str>) -> bool {
    match (d, l) {
        (Value::Object(dm), Value::Object(lm)) => dm.iter().all(|(k, dv)| match lm.get(k) {
            Some(lv) => {
                path.push(k);
                let same = sub(dv, lv, at, path);
                path.pop();
                same
            }
            None => is_empty(dv),
        }),
        (Value::Object(dm), Value::Null) => dm.is_empty(),
        (Value::Array(da), Value::Array(la)) => {
            da.len() == la.len() && da.iter().zip(la).all(|(a, b)| sub(a, b, at, path))
        }
        (Value::Array(da), Value::Null) => da.is_empty(),
        (Value::Number(a), Value::Number(b)) => number_eq(a, b),
        (Value::String(a), Value::String(b)) => a == b || (normalised_at(at, path) && same_quantity(a, b)),
        // `cpu: 1` written as a number is stored as the quantity string `"1"`.
        (Value::Number(a), Value::String(b)) => normalised_at(at, path) && same_quantity(&a.to_string(), b),
        (a, b) => a == b,
    }
}

/// Integers compare exactly (beyond 2^53 an `f64` would merge neighbours), other numbers by
/// value (`1` == `1.0`).
fn number_eq(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

fn same_quantity(a: &str, b: &str) -> bool {
    matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// Values the API server omits (Go's `omitempty`): absent live means equal.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
    }
}

/// Quantity fields of a pod spec (Go `resource.Quantity`), relative to the spec. A pattern is
/// keys joined by `/`; `*` is any key and `a|b` either.
const POD_SPEC: [&str; 5] = [
    "containers|initContainers|ephemeralContainers/resources/requests|limits/*",
    "resources/requests|limits/*",
    "overhead/*",
    "volumes/emptyDir/sizeLimit",
    "volumes/ephemeral/volumeClaimTemplate/spec/resources/requests|limits/*",
];

/// True when the API server stores the string at `path` of an `at` object as a canonical
/// quantity (it parses the field into a `resource.Quantity` and writes it back), so two
/// spellings of one quantity there are the same stored value. Everywhere else, including
/// every field of Dromos' own resources and of other custom resources (stored as written),
/// strings must be equal.
fn normalised_at(at: Object<'_>, path: &[&str]) -> bool {
    let pod_spec: &[&str] = match (at.group, at.kind) {
        ("", "Pod") => &["spec"],
        ("", "PodTemplate") => &["template", "spec"],
        ("", "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => &["spec", "template", "spec"],
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &[],
    };
    if !pod_spec.is_empty()
        && let Some(rest) = path.strip_prefix(pod_spec)
        && POD_SPEC.iter().any(|p| matches_pattern(p, rest))
    {
        return true;
    }
    let own: &[&str] = match (at.group, at.kind) {
        ("apps", "StatefulSet") => &["spec/volumeClaimTemplates/spec/resources/requests|limits/*"],
        ("", "PersistentVolumeClaim") => &["spec/resources/requests|limits/*"],
        ("", "PersistentVolume") => &["spec/capacity/*"],
        ("", "ResourceQuota") => &["spec/hard/*"],
        ("", "LimitRange") => &["spec/limits/max|min|default|defaultRequest|maxLimitRequestRatio/*"],
        ("", "Node") => &["status/capacity|allocatable/*"],
        _ => &[],
    };
    own.iter().any(|p| matches_pattern(p, path))
}

fn matches_pattern(pattern: &str, path: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    parts.len() == path.len() && parts.iter().zip(path).all(|(p, k)| *p == "*" || p.split('|').any(|a| a == *k))
}

/// Standard base64 with padding (Secret `data` values).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Projects `live` onto the fields present in `desired`, so a diff shows only what Dromos sets.
fn project<'a>(desired: &'a Value, live: &Value, at: Object<'_>, path: &mut Vec<&'a str>) -> Value {
    match (desired, live) {
        (Value::Object(dm), Value::Object(lm)) => {
            let mut out = serde_json::Map::new();
            for (k, dv) in dm {
                if let Some(lv) = lm.get(k) {
                    path.push(k);
                    out.insert(k.clone(), project(dv, lv, at, path));
                    path.pop();
                }
            }
            Value::Object(out)
        }
        (Value::Array(da), Value::Array(la)) if da.len() == la.len() => {
            Value::Array(da.iter().zip(la).map(|(d, l)| project(d, l, at, path)).collect())
        }
        // Equal as stored (`1Gi` live, `1024Mi` desired in a container's limits): no change.
        (d, l) if sub(d, l, at, path) => d.clone(),
        (_, l) => l.clone(),
    }
}

/// A unified diff (live -> desired) of the fields Dromos sets.
pub fn diff_text(desired: &Value, live: &Value) -> String {
    let before =
        serde_saphyr::to_string(&project(desired, live, Object::of(desired), &mut Vec::new())).unwrap_or_default();
    let after = serde_saphyr::to_string(desired).unwrap_or_default();
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(2)
        .header("live", "desired")
        .to_string()
}

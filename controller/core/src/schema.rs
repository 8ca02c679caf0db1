//! Structural checks of a document against the CRD's OpenAPI schema (pure).
//!
//! The schema is the one `dromos crds` writes, generated from the types in `dromos-crds`, so
//! what the loader accepts is exactly what the API server accepts. Unlike serde, the walk does
//! not stop at the first problem: every unknown field, wrong type and missing field of a
//! document is reported, each with its path and, for unknown fields, the closest known name.

use crate::diag::closest;
use crate::yaml::{join_index, join_key};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// A structural problem, before it is given a file and position.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaIssue {
    /// Field path.
    pub path: String,
    /// Stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Suggestion.
    pub hint: Option<String>,
}

fn issue(path: &str, code: &'static str, message: String) -> SchemaIssue {
    SchemaIssue { path: path.to_string(), code, message, hint: None }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 { format!("{}...", s.chars().take(37).collect::<String>()) } else { s }
}

/// Checks `value` against `schema` (an OpenAPI v3 schema as JSON) and appends every issue.
pub fn check(value: &Value, schema: &Value, path: &str, out: &mut Vec<SchemaIssue>) {
    let Some(s) = schema.as_object() else { return };
    if value.is_null() {
        // The API server drops nulls of non-nullable fields; Dromos treats them as absent.
        return;
    }
    if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool).unwrap_or(false) {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(issue(path, "wrong-type", format!("expected an integer or a string, found {}", type_name(value))));
        }
        return;
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") => check_object(value, s, path, out),
        Some("array") => check_array(value, s, path, out),
        Some("string") => check_string(value, s, path, out),
        Some("integer") => {
            let parses = value.as_str().is_some_and(|t| t.parse::<i64>().is_ok());
            check_numeric(value, s, path, out, value.is_i64() || value.is_u64(), "an integer", parses);
        }
        Some("number") => {
            let parses = value.as_str().is_some_and(|t| t.parse::<f64>().is_ok());
            check_numeric(value, s, path, out, value.is_number(), "a number", parses);
        }
        Some("boolean") if !value.is_boolean() => check_boolean(value, path, out),
        _ => {}
    }
}

/// The issue for a value of the wrong type, naming what was expected and what was found.
fn wrong_type(path: &str, expected: &str, value: &Value) -> SchemaIssue {
    issue(path, "wrong-type", format!("expected {expected}, found {} ({})", type_name(value), short(value)))
}

/// A mapping: each member against its property (or `additionalProperties`), unknown members
/// with the closest known name, then the required members.
fn check_object(value: &Value, s: &serde_json::Map<String, Value>, path: &str, out: &mut Vec<SchemaIssue>) {
    let Some(obj) = value.as_object() else {
        out.push(wrong_type(path, "a mapping", value));
        return;
    };
    let preserve = s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false);
    let props = s.get("properties").and_then(Value::as_object);
    let additional = s.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in obj {
        let p = join_key(path, k);
        if let Some(sub) = props.and_then(|m| m.get(k)) {
            check(v, sub, &p, out);
        } else if let Some(sub) = additional {
            check(v, sub, &p, out);
        } else if !preserve {
            out.push(unknown_field(&p, k, props));
        }
    }
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if obj.get(r).is_none_or(Value::is_null) {
                out.push(issue(path, "missing-field", format!("missing required field `{r}`")));
            }
        }
    }
}

/// The issue for an unknown member `k`, hinting at the closest known name or listing them all.
fn unknown_field(path: &str, k: &str, props: Option<&serde_json::Map<String, Value>>) -> SchemaIssue {
    let mut i = issue(path, "unknown-field", format!("unknown field `{k}`"));
    if let Some(props) = props {
        i.hint = Some(match closest(k, props.keys().map(String::as_str)) {
            Some(c) => format!("did you mean `{c}`?"),
            None => {
                let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
                names.sort_unstable();
                format!("known fields here: {}", names.join(", "))
            }
        });
    }
    i
}

/// A list: its length bounds, then every item against `items`.
fn check_array(value: &Value, s: &serde_json::Map<String, Value>, path: &str, out: &mut Vec<SchemaIssue>) {
    let Some(items) = value.as_array() else {
        out.push(wrong_type(path, "a list", value));
        return;
    };
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        out.push(issue(path, "too-short", format!("expected at least {min} items, found {}", items.len())));
    }
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        out.push(issue(path, "too-long", format!("expected at most {max} items, found {}", items.len())));
    }
    if let Some(item_schema) = s.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item, item_schema, &join_index(path, i), out);
        }
    }
}

/// A string: its type (hinting to quote a scalar), then `enum` and `pattern`.
fn check_string(value: &Value, s: &serde_json::Map<String, Value>, path: &str, out: &mut Vec<SchemaIssue>) {
    let Some(text) = value.as_str() else {
        let mut i = wrong_type(path, "a string", value);
        if !value.is_object() && !value.is_array() {
            i.hint = Some(format!("quote it: \"{}\"", value.to_string().trim_matches('"')));
        }
        out.push(i);
        return;
    };
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| a.as_str() == Some(text))
    {
        let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        let mut i = issue(path, "invalid-value", format!("`{text}` is not one of {}", names.join(", ")));
        if let Some(c) = closest(text, names.iter().copied()) {
            i.hint = Some(format!("did you mean `{c}`?"));
        }
        out.push(i);
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str)
        && let Some(re) = compiled(pattern)
        && !re.is_match(text)
    {
        out.push(issue(path, "invalid-value", format!("`{text}` does not match `{pattern}`")));
    }
}

/// Patterns kept compiled ([`compiled`]).
const PATTERNS_MAX: usize = 512;
static PATTERNS: LazyLock<Mutex<HashMap<String, Option<regex::Regex>>>> = LazyLock::new(Default::default);

/// A schema's `pattern`, compiled once per process (the operators check every App and Job
/// they reconcile against the same few patterns); `None` when it does not compile. Package
/// schemas bring patterns of their own, so the cache is bounded: it starts over when full.
fn compiled(pattern: &str) -> Option<regex::Regex> {
    let lock = || PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(re) = lock().get(pattern) {
        return re.clone();
    }
    let re = regex::Regex::new(pattern).ok();
    let mut cache = lock();
    if cache.len() >= PATTERNS_MAX {
        cache.clear();
    }
    cache.insert(pattern.to_string(), re.clone());
    re
}

/// An integer or a number: `is_type` says whether `value` has the type (`expected` names it);
/// a quoted value that `parses` as one gets the hint to remove the quotes. Then the range.
fn check_numeric(
    value: &Value,
    s: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<SchemaIssue>,
    is_type: bool,
    expected: &str,
    parses: bool,
) {
    if is_type {
        check_range(value, s, path, out);
        return;
    }
    let mut i = wrong_type(path, expected, value);
    if parses {
        i.hint = Some("remove the quotes".into());
    }
    out.push(i);
}

/// A value that is not a boolean; YAML 1.1 spellings of one get a hint.
fn check_boolean(value: &Value, path: &str, out: &mut Vec<SchemaIssue>) {
    let mut i = wrong_type(path, "a boolean", value);
    if let Some(t) = value.as_str() {
        let lower = t.to_ascii_lowercase();
        if ["yes", "on", "y"].contains(&lower.as_str()) {
            i.hint = Some("write `true` (YAML 1.2 reads `yes`/`on` as strings)".into());
        } else if ["no", "off", "n"].contains(&lower.as_str()) {
            i.hint = Some("write `false` (YAML 1.2 reads `no`/`off` as strings)".into());
        }
    }
    out.push(i);
}

fn check_range(value: &Value, s: &serde_json::Map<String, Value>, path: &str, out: &mut Vec<SchemaIssue>) {
    let Some(v) = value.as_f64() else { return };
    if let Some(min) = s.get("minimum").and_then(Value::as_f64)
        && v < min
    {
        out.push(issue(path, "out-of-range", format!("{v} is below the minimum {min}")));
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64)
        && v > max
    {
        out.push(issue(path, "out-of-range", format!("{v} is above the maximum {max}")));
    }
}

/// Removes `null` members recursively, so `"cmd": null` (common in exported Marathon JSON)
/// means the same as an absent field.
pub fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_are_compiled_once_and_the_cache_stays_bounded() {
        let a = compiled("^[a-z]+$").expect("compiles");
        assert!(a.is_match("web") && !a.is_match("Web"));
        // The second lookup is the cached regex, with the same answers.
        let b = compiled("^[a-z]+$").expect("cached");
        assert_eq!(a.as_str(), b.as_str());
        assert!(b.is_match("web") && !b.is_match("Web"));
        // A pattern that does not compile is remembered as such, and checks nothing.
        assert!(compiled("(").is_none() && compiled("(").is_none());
        // Many distinct patterns (a package's schemas) never grow it past its bound.
        for i in 0..1_200 {
            assert!(compiled(&format!("^p{i}$")).expect("compiles").is_match(&format!("p{i}")));
        }
        let cache = super::PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
        assert!(cache.len() <= super::PATTERNS_MAX, "{} patterns cached", cache.len());
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "instances": {"type": "integer", "minimum": 0},
                "cpus": {"type": "number"},
                "enabled": {"type": "boolean"},
                "policy": {"type": "string", "enum": ["ALLOW", "FORBID"]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "items": {"type": "array", "maxItems": 2, "items": {"type": "string"}}
            }
        })
    }

    #[test]
    fn reports_every_issue_at_once() {
        let v = json!({
            "instancess": 3, "cpus": "0.5", "enabled": "yes", "policy": "FORBIDD",
            "labels": {"a": 1}, "free": {"x": {"y": 1}}, "items": ["a", "b", "c"]
        });
        let mut out = vec![];
        check(&v, &schema(), "spec", &mut out);
        let got: Vec<(&str, &str)> = out.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            got,
            vec![
                ("spec.instancess", "unknown-field"),
                ("spec.cpus", "wrong-type"),
                ("spec.enabled", "wrong-type"),
                ("spec.policy", "invalid-value"),
                ("spec.labels.a", "wrong-type"),
                ("spec.items", "too-long"),
                ("spec", "missing-field"),
            ]
        );
        assert_eq!(out[0].hint.as_deref(), Some("did you mean `instances`?"));
        assert_eq!(out[1].hint.as_deref(), Some("remove the quotes"));
        assert!(out[2].hint.as_deref().unwrap().contains("true"));
        assert_eq!(out[3].hint.as_deref(), Some("did you mean `FORBID`?"));
    }

    #[test]
    fn ranges_are_checked() {
        let mut out = vec![];
        check(&json!({"name": "a", "instances": -1}), &schema(), "", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].code, "out-of-range");
    }

    #[test]
    fn nulls_are_absent() {
        let mut v = json!({"a": null, "b": [{"c": null, "d": 1}]});
        strip_nulls(&mut v);
        assert_eq!(v, json!({"b": [{"d": 1}]}));
    }
}

//! Package options: schema defaults merged under the user's options, then JSON Schema
//! validation with the `jsonschema` crate.

use serde_json::{Map, Value};

/// One option that the schema refuses, or whose value would change the structure of a
/// rendered template (rule `template`, no schema path).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}{}", rule_suffix(rule, schema_path))]
pub struct OptionError {
    /// Option path, dotted: `kafka.broker.count`; `(options)` for the whole object.
    pub path: String,
    /// Schema keyword that failed: `required`, `type`, `maximum`, ...
    pub rule: String,
    /// JSON pointer of the rule in the schema: `/properties/kafka/properties/count/maximum`
    /// (empty when the rule is not the schema's).
    pub schema_path: String,
    /// What is wrong, as the validator says it.
    pub message: String,
}

fn rule_suffix(rule: &str, schema_path: &str) -> String {
    if schema_path.is_empty() { String::new() } else { format!(" (schema rule `{rule}` at {schema_path})") }
}

/// The defaults a schema declares, as an options object: every `default` of every property,
/// nested objects included (an object property without a `default` of its own gets the
/// defaults of its properties). `Null` when the schema declares none.
pub fn schema_defaults(schema: &Value) -> Value {
    if let Some(d) = schema.get("default") {
        // An object default is completed with its properties' defaults.
        if let (Value::Object(_), Value::Object(_)) = (d, property_defaults(schema)) {
            return merge(&property_defaults(schema), d);
        }
        return d.clone();
    }
    property_defaults(schema)
}

fn property_defaults(schema: &Value) -> Value {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Value::Null;
    };
    let mut out = Map::new();
    for (k, s) in props {
        let d = schema_defaults(s);
        if !d.is_null() {
            out.insert(k.clone(), d);
        }
    }
    if out.is_empty() { Value::Null } else { Value::Object(out) }
}

/// `over` merged onto `base`: objects merge key by key, recursively; anything else in `over`
/// replaces what `base` has (lists are replaced whole, as Cosmos does).
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let merged = match m.get(k) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                m.insert(k.clone(), merged);
            }
            Value::Object(m)
        }
        (b, Value::Null) => b.clone(),
        (_, o) => o.clone(),
    }
}

/// Which JSON Schema draft applies when a schema does not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultDraft {
    /// Universe `config.json`: draft 4 (its `"$schema": "http://json-schema.org/schema#"` names
    /// no draft).
    Draft4,
    /// Dromos packages: the validator's own default (2020-12) unless `$schema` says otherwise.
    Latest,
}

/// The options after merging `user` over the schema defaults, or every error of the result.
pub fn resolve(schema: &Value, user: &Value, draft: DefaultDraft) -> Result<Value, Vec<OptionError>> {
    let defaults = schema_defaults(schema);
    let base = if defaults.is_null() { Value::Object(Map::new()) } else { defaults };
    let merged = merge(&base, user);
    validate(schema, &merged, draft).map(|()| merged)
}

/// Validates options against a schema. A schema that is itself invalid is one error at
/// `(schema)`.
pub fn validate(schema: &Value, options: &Value, draft: DefaultDraft) -> Result<(), Vec<OptionError>> {
    let mut schema = schema.clone();
    let known = schema.get("$schema").and_then(Value::as_str).is_some_and(|s| {
        s.contains("draft-04")
            || s.contains("draft-06")
            || s.contains("draft-07")
            || s.contains("2019-09")
            || s.contains("2020-12")
    });
    let mut opts = jsonschema::options();
    if !known {
        if let Some(m) = schema.as_object_mut() {
            m.remove("$schema");
        }
        if draft == DefaultDraft::Draft4 {
            opts = opts.with_draft(jsonschema::Draft::Draft4);
        }
    }
    let validator = opts.build(&schema).map_err(|e| {
        vec![OptionError {
            path: "(schema)".into(),
            rule: "schema".into(),
            schema_path: e.schema_path().as_str().to_string(),
            message: format!("the option schema is not valid: {e}"),
        }]
    })?;
    let mut errors: Vec<OptionError> = validator
        .iter_errors(options)
        .map(|e| {
            let pointer = e.instance_path().as_str().to_string();
            let mut path = pointer_to_dotted(&pointer);
            // A missing required property is reported at its parent; name the property itself.
            if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
                let p = property.as_str().map(str::to_string).unwrap_or_else(|| property.to_string());
                path = if path == "(options)" { p } else { format!("{path}.{p}") };
            }
            OptionError {
                path,
                rule: e.kind().keyword().to_string(),
                schema_path: e.schema_path().as_str().to_string(),
                message: e.to_string(),
            }
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| (&a.path, &a.rule).cmp(&(&b.path, &b.rule)));
    errors.dedup();
    Err(errors)
}

fn pointer_to_dotted(pointer: &str) -> String {
    if pointer.is_empty() {
        return "(options)".into();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// One documented option of a schema.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionDoc {
    /// Dotted path.
    pub path: String,
    /// JSON type(s), `|`-joined; empty when the schema names none.
    pub kind: String,
    /// Default after merging nested defaults (`None` when there is none).
    pub default: Option<Value>,
    /// Description.
    pub description: String,
    /// Whether the parent object requires it.
    pub required: bool,
}

/// Every option of a schema, depth first in the schema's order: objects with properties are
/// listed and then their properties.
pub fn describe(schema: &Value) -> Vec<OptionDoc> {
    let mut out = Vec::new();
    walk(schema, "", &mut out);
    out
}

fn walk(schema: &Value, prefix: &str, out: &mut Vec<OptionDoc>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    let required = super::strings(&schema["required"]);
    for (k, s) in props {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let kind = match &s["type"] {
            Value::String(t) => t.clone(),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("|"),
            _ => String::new(),
        };
        let d = schema_defaults(s);
        out.push(OptionDoc {
            path: path.clone(),
            kind,
            default: (!d.is_null()).then_some(d),
            description: s["description"].as_str().unwrap_or_default().to_string(),
            required: required.contains(k),
        });
        walk(s, &path, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "service": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "default": "kafka"},
                        "user": {"type": "string", "default": "nobody"}
                    },
                    "required": ["name"]
                },
                "brokers": {
                    "type": "object",
                    "properties": {
                        "count": {"type": "integer", "minimum": 1, "maximum": 9, "default": 3},
                        "cpus": {"type": "number", "default": 1.0},
                        "disk": {"type": "object", "default": {"size": 5000}, "properties": {"type": {"type": "string", "default": "ROOT"}}}
                    }
                },
                "secret": {"type": "string"}
            },
            "required": ["service", "secret"]
        })
    }

    #[test]
    fn defaults_merge_under_user_options_at_every_depth() {
        let got = resolve(&schema(), &json!({"brokers": {"count": 5}, "secret": "s"}), DefaultDraft::Latest).unwrap();
        assert_eq!(
            got,
            json!({
                "service": {"name": "kafka", "user": "nobody"},
                "brokers": {"count": 5, "cpus": 1.0, "disk": {"size": 5000, "type": "ROOT"}},
                "secret": "s"
            })
        );
    }

    #[test]
    fn missing_required_option_names_its_path_and_rule() {
        let errs = resolve(&schema(), &json!({}), DefaultDraft::Latest).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].path.as_str(), errs[0].rule.as_str()), ("secret", "required"));
        let nested = json!({"type": "object", "properties": {"a": {"type": "object", "required": ["b"]}}});
        let errs = validate(&nested, &json!({"a": {}}), DefaultDraft::Latest).unwrap_err();
        assert_eq!((errs[0].path.as_str(), errs[0].rule.as_str()), ("a.b", "required"));
    }

    #[test]
    fn wrong_type_and_out_of_range_name_the_option_path() {
        let errs =
            resolve(&schema(), &json!({"secret": "s", "brokers": {"count": 10, "cpus": "two"}}), DefaultDraft::Draft4)
                .unwrap_err();
        let got: Vec<_> = errs.iter().map(|e| (e.path.as_str(), e.rule.as_str())).collect();
        assert_eq!(got, vec![("brokers.count", "maximum"), ("brokers.cpus", "type")]);
        assert_eq!(errs[0].schema_path, "/properties/brokers/properties/count/maximum");
        assert!(errs[0].to_string().starts_with("brokers.count: "), "{}", errs[0]);
        let low =
            resolve(&schema(), &json!({"secret": "s", "brokers": {"count": 0}}), DefaultDraft::Draft4).unwrap_err();
        assert_eq!((low[0].path.as_str(), low[0].rule.as_str()), ("brokers.count", "minimum"));
    }

    #[test]
    fn describe_lists_nested_options_with_defaults_and_required() {
        let docs = describe(&schema());
        let paths: Vec<_> = docs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "service",
                "service.name",
                "service.user",
                "brokers",
                "brokers.count",
                "brokers.cpus",
                "brokers.disk",
                "brokers.disk.type",
                "secret"
            ]
        );
        let count = &docs[4];
        assert_eq!((count.kind.as_str(), count.default.clone(), count.required), ("integer", Some(json!(3)), false));
        assert!(docs[1].required && docs[8].required && docs[8].default.is_none());
        assert_eq!(docs[6].default, Some(json!({"size": 5000, "type": "ROOT"})));
    }

    #[test]
    fn pattern_enum_max_length_and_bounds_are_enforced_in_every_draft() {
        let s = json!({
            "type": "object",
            "properties": {
                "image": {"type": "string", "pattern": "^[a-z0-9./:-]+$", "maxLength": 12},
                "mode": {"enum": ["fast", "safe"]},
                "ratio": {"type": "number", "minimum": 0.5, "maximum": 2}
            }
        });
        let good = json!({"image": "nginx:1.27", "mode": "safe", "ratio": 2});
        for draft in [DefaultDraft::Draft4, DefaultDraft::Latest] {
            assert!(validate(&s, &good, draft).is_ok(), "{draft:?}");
            let bad = json!({"image": "a\"\nb", "mode": "yolo", "ratio": 0.1});
            let got: Vec<_> = validate(&s, &bad, draft).unwrap_err().into_iter().map(|e| (e.path, e.rule)).collect();
            let want = [("image", "pattern"), ("mode", "enum"), ("ratio", "minimum")];
            assert_eq!(got, want.map(|(p, r)| (p.to_string(), r.to_string())), "{draft:?}");
            let long = validate(&s, &json!({"image": "registry.example/x", "ratio": 3}), draft).unwrap_err();
            let got: Vec<_> = long.iter().map(|e| (e.path.as_str(), e.rule.as_str())).collect();
            assert_eq!(got, vec![("image", "maxLength"), ("ratio", "maximum")], "{draft:?}");
            // A pattern is not anchored by the schema: `$` must not let a trailing line through.
            assert!(validate(&s, &json!({"image": "nginx\n"}), draft).is_err(), "{draft:?}");
        }
    }

    #[test]
    fn universe_schema_uri_is_read_as_draft4() {
        let mut s = schema();
        s["$schema"] = json!("http://json-schema.org/schema#");
        assert!(resolve(&s, &json!({"secret": "x"}), DefaultDraft::Draft4).is_ok());
    }
}

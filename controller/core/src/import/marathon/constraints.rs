//! Marathon placement constraints to the App kind's (pure): app constraints
//! `[field, OP, value?]` and pod constraints `{fieldName, operator, value}`; each one Dromos
//! cannot read is reported and left out.

use crate::constraints::{Operator, parse_constraint};
use crate::import::{Cx, Effect, idx};
use serde_json::{Value, json};

/// Marathon constraints `[field, OP, value?]` (numbers become strings, a trailing empty value
/// is dropped); each one Dromos cannot read is reported and left out.
pub(super) fn convert_constraints(v: &Value, path: &str, cx: &mut Cx) -> Vec<Value> {
    each(v, path, "constraints must be a list of [field, OPERATOR, value?]", cx, |c, p, cx, out| {
        let parts: Option<Vec<String>> = c.as_array().map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        });
        let Some(mut parts) = parts else {
            cx.error(p, "a constraint must be a list [field, OPERATOR, value?]");
            return;
        };
        if parts.len() == 3 && parts[2].is_empty() {
            parts.pop();
        }
        if parts.len() >= 2
            && Operator::parse(&parts[1]).is_none()
            && Operator::parse(&parts[1].to_ascii_uppercase()).is_some()
        {
            parts[1] = parts[1].to_ascii_uppercase();
        }
        push_constraint(parts, p, c, cx, out);
    })
}

/// Pod constraints are objects `{fieldName, operator, value}`.
pub(super) fn pod_constraints(v: &Value, path: &str, cx: &mut Cx) -> Vec<Value> {
    each(v, path, "constraints must be a list", cx, |c, p, cx, out| {
        if c.is_array() {
            out.extend(convert_constraints(&json!([c]), p, cx));
            return;
        }
        let field = c.get("fieldName").and_then(Value::as_str);
        let op = c.get("operator").and_then(Value::as_str);
        let (Some(field), Some(op)) = (field, op) else {
            cx.error(p, "a pod constraint needs `fieldName` and `operator`");
            return;
        };
        let mut parts = vec![field.to_string(), op.to_ascii_uppercase()];
        match c.get("value") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => parts.push(s.clone()),
            Some(other) => parts.push(other.to_string()),
        }
        push_constraint(parts, p, c, cx, out);
    })
}

/// Calls `one` with each constraint of the list `v` and its JSON path; anything but a list
/// (or null) is the error `not_a_list`.
fn each(
    v: &Value,
    path: &str,
    not_a_list: &str,
    cx: &mut Cx,
    mut one: impl FnMut(&Value, &str, &mut Cx, &mut Vec<Value>),
) -> Vec<Value> {
    let Some(list) = v.as_array() else {
        if !v.is_null() {
            cx.error(path, not_a_list);
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        one(c, &idx(path, i), cx, &mut out);
    }
    out
}

fn push_constraint(parts: Vec<String>, p: &str, original: &Value, cx: &mut Cx, out: &mut Vec<Value>) {
    match parse_constraint(&parts) {
        Ok(_) => out.push(json!(parts)),
        Err(e) => cx.loss(
            Effect::Dropped,
            p,
            Some(original),
            e.message,
            e.hint.unwrap_or_else(|| "rewrite the constraint with a supported operator and value".into()),
        ),
    }
}

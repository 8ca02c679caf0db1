//! Scalars under the YAML 1.2 core schema (pure): strings, integers, floats, booleans, null.

use saphyr_parser::ScalarStyle;
use serde_json::{Number, Value};

/// Resolves a scalar with the YAML 1.2 core schema (JSON-compatible). Quoted and block scalars
/// are strings; `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` tags are honoured.
pub(super) fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("tag:yaml.org,2002:str") | Some("!!str") => return Value::String(text.to_string()),
        Some("tag:yaml.org,2002:null") | Some("!!null") => return Value::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain && tag.is_none() {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n.into());
    }
    if let Some(f) = parse_float(text)
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    // .inf and .nan have no JSON form; keep the text so the schema check reports it.
    Value::String(text.to_string())
}

fn parse_int(t: &str) -> Option<i64> {
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = digits.strip_prefix("0x") {
        if t.starts_with(['-', '+']) {
            return None;
        }
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        if t.starts_with(['-', '+']) {
            return None;
        }
        i64::from_str_radix(o, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn parse_float(t: &str) -> Option<f64> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(if t.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if matches!(body, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let bytes = body.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int_part = digits(&mut i);
    let mut frac = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if int_part == 0 && frac == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

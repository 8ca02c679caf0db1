//! Comparing desired with live objects (pure): the semantic subset test, quantities, Secret
//! data, and the unified diff of the fields Dromos sets.

use serde_json::Value;

/// True when every field of `desired` has the same value in `live` (extra live fields, such
/// as defaults and fields of other managers, are ignored). Quantities compare by value
/// (`1024Mi` == `1Gi`), numbers numerically, and an empty list or map equals an absent one.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
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
        return sub(&d, live);
    }
    sub(desired, live)
}

fn sub(d: &Value, l: &Value) -> bool {
    match (d, l) {
        (Value::Object(dm), Value::Object(lm)) => dm.iter().all(|(k, dv)| match lm.get(k) {
            Some(lv) => sub(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Object(dm), Value::Null) => dm.is_empty(),
        (Value::Array(da), Value::Array(la)) => da.len() == la.len() && da.iter().zip(la).all(|(a, b)| sub(a, b)),
        (Value::Array(da), Value::Null) => da.is_empty(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => a == b || quantity_eq(a, b),
        (a, b) => a == b,
    }
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

/// Parses a Kubernetes quantity into its value (`500m` -> 0.5, `1Gi` -> 1073741824).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    Some(n * mult)
}

fn quantity_eq(a: &str, b: &str) -> bool {
    // Only strings that look like quantities on both sides: `1Gi` vs `1024Mi`.
    match (parse_quantity(a), parse_quantity(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(1.0),
        _ => false,
    }
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
fn project(desired: &Value, live: &Value) -> Value {
    match (desired, live) {
        (Value::Object(dm), Value::Object(lm)) => {
            let mut out = serde_json::Map::new();
            for (k, dv) in dm {
                if let Some(lv) = lm.get(k) {
                    out.insert(k.clone(), project(dv, lv));
                }
            }
            Value::Object(out)
        }
        (Value::Array(da), Value::Array(la)) if da.len() == la.len() => {
            Value::Array(da.iter().zip(la).map(|(d, l)| project(d, l)).collect())
        }
        // Equal by value (`1Gi` live, `1024Mi` desired): show no change.
        (d, l) if sub(d, l) => d.clone(),
        (_, l) => l.clone(),
    }
}

/// A unified diff (live -> desired) of the fields Dromos sets.
pub fn diff_text(desired: &Value, live: &Value) -> String {
    let before = serde_saphyr::to_string(&project(desired, live)).unwrap_or_default();
    let after = serde_saphyr::to_string(desired).unwrap_or_default();
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(2)
        .header("live", "desired")
        .to_string()
}

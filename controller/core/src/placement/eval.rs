//! Evaluation of one constraint against one offer, as Marathon's `Constraints.scala` (pure).
//!
//! This is the plain, per-offer form, kept close to the upstream rules so it can be read next
//! to them; the engine in `mod.rs` evaluates the same rules on indexed value ids.

use super::NodeOffer;
use crate::constraints::{Constraint, Operator};

/// Formats a Mesos scalar attribute as Marathon compares it: Java
/// `NumberFormat.getInstance()` in the `en_US` locale, i.e. pattern `#,##0.###` with half-even
/// rounding of the exact binary value: `1.2345` -> `1.234`, `0.0625` -> `0.062`, `2.50` ->
/// `2.5`, `1234.5` -> `1,234.5`.
pub fn format_scalar(x: f64) -> String {
    // `{:.3}` rounds the exact binary value half to even, as java.text.DecimalFormat does.
    let fixed = format!("{:.3}", x.abs());
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::with_capacity(int.len() + int.len() / 3 + 5);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let negative = x.is_sign_negative() && (int != "0" || !frac.is_empty());
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{frac}") }
}

/// True when a label value is what Mesos parses as a scalar attribute: digits with an optional
/// fraction and exponent (`4`, `1.5`, `1e3`). Everything else is text.
fn is_scalar(v: &str) -> bool {
    let (mantissa, exp) = match v.find(['e', 'E']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    digits(int) && ((frac.is_empty() && !mantissa.ends_with('.')) || digits(frac)) && exp_ok
}

/// A node label value as Marathon would compare the attribute: scalars formatted by
/// [`format_scalar`], text as-is.
pub fn label_value(v: &str) -> String {
    if is_scalar(v)
        && let Ok(x) = v.parse::<f64>()
    {
        return format_scalar(x);
    }
    v.to_string()
}

/// Which part of a node a constraint field reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum FieldKey {
    Hostname,
    Zone,
    Region,
    Label(String),
}

pub(super) fn field_key(c: &Constraint) -> FieldKey {
    match c.field.as_str() {
        "hostname" | "@hostname" => FieldKey::Hostname,
        "@zone" => FieldKey::Zone,
        "@region" => FieldKey::Region,
        _ => FieldKey::Label(c.label.clone()),
    }
}

pub(super) fn read_field(offer: &NodeOffer, key: &FieldKey) -> Option<String> {
    match key {
        FieldKey::Hostname => Some(offer.hostname.clone()),
        FieldKey::Zone => offer.zone.clone(),
        FieldKey::Region => offer.region.clone(),
        FieldKey::Label(l) => offer.attributes.get(l).map(|v| label_value(v)),
    }
}

/// The value of a constraint field on an offer, as Marathon reads it; None when missing.
/// `hostname`/`@hostname` read [`NodeOffer::hostname`], `@zone`/`@region` the fault domain
/// (text), anything else the node label named by the constraint (scalars formatted).
pub fn attribute_value(offer: &NodeOffer, c: &Constraint) -> Option<String> {
    read_field(offer, &field_key(c))
}

/// The number of instances a value may hold under `GROUP_BY n` with `target` instances in
/// all, given its current count and how many values already hold more than the base share.
/// Each value gets `target / n`; `target % n` values may get one more.
pub(super) fn group_by_accepts(
    n: u32,
    target: usize,
    used_values: usize,
    value_used: bool,
    count: usize,
    above_base: usize,
) -> bool {
    let n = n as usize;
    if !value_used && used_values >= n {
        return false;
    }
    let base = target / n;
    let rem = target % n;
    if count < base {
        true
    } else if count == base {
        above_base < rem
    } else {
        false
    }
}

/// Whether `offer` meets `c` given the field values of the instances already placed (`placed`,
/// oldest first; None for an instance whose node lacks the field) and the app's instance count
/// `target` (placed plus pending; used by GROUP_BY).
pub fn meets_constraint(c: &Constraint, offer: &NodeOffer, placed: &[Option<String>], target: usize) -> bool {
    let Some(v) = attribute_value(offer, c) else {
        // A missing field fails every operator except UNLIKE.
        return c.op == Operator::Unlike;
    };
    let value = c.value.as_deref().unwrap_or("");
    let same = |p: &Option<String>| p.as_deref() == Some(v.as_str());
    match c.op {
        Operator::Like => c.regex.as_ref().is_some_and(|r| r.is_match(&v)),
        Operator::Unlike => c.regex.as_ref().is_some_and(|r| !r.is_match(&v)),
        Operator::Is => v == value,
        Operator::Cluster => match &c.value {
            Some(x) => v == *x,
            None => placed.first().is_none_or(same),
        },
        Operator::Unique => !placed.iter().any(same),
        Operator::MaxPer => placed.iter().filter(|p| same(p)).count() < c.count.unwrap_or(1) as usize,
        Operator::GroupBy => {
            let n = c.count.unwrap_or(1);
            let mut counts: std::collections::HashMap<&str, usize> = Default::default();
            for p in placed.iter().flatten() {
                *counts.entry(p.as_str()).or_default() += 1;
            }
            let base = target / n as usize;
            let above = counts.values().filter(|&&k| k > base).count();
            let count = counts.get(v.as_str()).copied().unwrap_or(0);
            group_by_accepts(n, target, counts.len(), counts.contains_key(v.as_str()), count, above)
        }
    }
}

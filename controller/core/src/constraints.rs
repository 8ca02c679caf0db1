//! Marathon placement constraints: parsing, validation and native Kubernetes forms (pure).
//!
//! Attribute names map to node labels by one rule (docs/dcos/constraints.md):
//! `hostname`/`@hostname` -> `kubernetes.io/hostname`, `@zone` -> `topology.kubernetes.io/zone`,
//! `@region` -> `topology.kubernetes.io/region`, anything else -> the node label of that name.
//!
//! Native mode renders the exact Kubernetes form where one exists (docs/dcos/constraints.md) and a
//! warning naming the constraint for every approximation. Exact placement of the rest is the
//! job of the Dromos scheduler (offers).

use crate::diag::closest;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinity, PodAffinityTerm,
    PodAntiAffinity, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use regex::Regex;
use std::collections::BTreeMap;

/// Constraint operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// No two instances share a value.
    Unique,
    /// All instances on one value (given, or the first one placed).
    Cluster,
    /// Spread over at most n values, evenly.
    GroupBy,
    /// The value matches a regex (whole value).
    Like,
    /// The value does not match a regex; nodes without the attribute pass.
    Unlike,
    /// At most n instances per value.
    MaxPer,
    /// The value equals the given one.
    Is,
}

/// Every operator name, as written in manifests.
pub const OPERATOR_NAMES: [&str; 7] = ["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"];

impl Operator {
    /// Parses an operator name (exact, upper case as Marathon requires).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UNIQUE" => Self::Unique,
            "CLUSTER" => Self::Cluster,
            "GROUP_BY" => Self::GroupBy,
            "LIKE" => Self::Like,
            "UNLIKE" => Self::Unlike,
            "MAX_PER" => Self::MaxPer,
            "IS" => Self::Is,
            _ => return None,
        })
    }

    /// The manifest name.
    pub fn name(self) -> &'static str {
        OPERATOR_NAMES[self as usize]
    }
}

/// A parsed constraint.
#[derive(Clone, Debug)]
pub struct Constraint {
    /// The attribute as written (`hostname`, `@zone`, `rack`).
    pub field: String,
    /// The node label it reads.
    pub label: String,
    /// Operator.
    pub op: Operator,
    /// Value, when given.
    pub value: Option<String>,
    /// Compiled whole-value regex for LIKE/UNLIKE.
    pub regex: Option<Regex>,
    /// Numeric value of GROUP_BY and MAX_PER.
    pub count: Option<u32>,
}

impl Constraint {
    /// `[field, OP, value]` as text.
    pub fn display(&self) -> String {
        match &self.value {
            Some(v) => format!("[{}, {}, {}]", self.field, self.op.name(), v),
            None => format!("[{}, {}]", self.field, self.op.name()),
        }
    }
}

/// The node label an attribute name reads.
pub fn attribute_label(field: &str) -> String {
    match field {
        "hostname" | "@hostname" => "kubernetes.io/hostname".into(),
        "@zone" => "topology.kubernetes.io/zone".into(),
        "@region" => "topology.kubernetes.io/region".into(),
        other => other.to_string(),
    }
}

fn label_key_ok(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| crate::ids::check_dns_subdomain(p).is_ok());
    name_ok && prefix_ok
}

/// True when `v` can be a label value (which node affinity can compare against).
pub fn label_value_ok(v: &str) -> bool {
    v.len() <= 63
        && (v.is_empty()
            || (v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())))
}

/// A constraint problem: the index inside the triple (for the field path) and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstraintError {
    /// 0 field, 1 operator, 2 value.
    pub part: usize,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

fn cerr(part: usize, message: String, hint: Option<String>) -> ConstraintError {
    ConstraintError { part, message, hint }
}

/// Compiles a Marathon regex with Java `String.matches` semantics (whole value). The regex must
/// compile on its own first: otherwise a value such as `a)|(?:.*` closes the wrapping group and
/// compiles to `^(?:a)|(?:.*)$`, which matches every value.
pub fn compile_whole(re: &str) -> Result<Regex, String> {
    Regex::new(re).and_then(|_| Regex::new(&format!("^(?:{re})$"))).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_string();
        if detail.contains("look-around") {
            format!("regex `{re}` uses look-around, which Dromos does not support: {last}")
        } else {
            format!("regex `{re}` does not compile: {last}")
        }
    })
}

/// Parses and validates one `[field, OPERATOR, value?]` triple.
pub fn parse_constraint(parts: &[String]) -> Result<Constraint, ConstraintError> {
    if !(2..=3).contains(&parts.len()) {
        return Err(cerr(
            0,
            format!("a constraint has 2 or 3 parts, found {}", parts.len()),
            Some("write [field, OPERATOR] or [field, OPERATOR, value]".into()),
        ));
    }
    let field = parts[0].trim().to_string();
    if field.is_empty() {
        return Err(cerr(
            0,
            "constraint field is empty".into(),
            Some("e.g. `hostname`, `@zone` or a node label".into()),
        ));
    }
    let label = attribute_label(&field);
    if !label_key_ok(&label) {
        return Err(cerr(
            0,
            format!("`{field}` cannot be a node label name"),
            Some("node label names are `[prefix/]name` with letters, digits, `-`, `_`, `.`".into()),
        ));
    }
    let Some(op) = Operator::parse(&parts[1]) else {
        let upper = parts[1].to_ascii_uppercase().replace([' ', '-'], "_");
        let hint = match Operator::parse(&upper).map(Operator::name).or_else(|| closest(&parts[1], OPERATOR_NAMES)) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("operators: {}", OPERATOR_NAMES.join(", ")),
        };
        return Err(cerr(1, format!("unknown constraint operator `{}`", parts[1]), Some(hint)));
    };
    let value = parts.get(2).cloned();
    let mut c = Constraint { field, label, op, value: value.clone(), regex: None, count: None };
    let need_value = |what: &str| cerr(1, format!("{} needs a value: {what}", op.name()), None);
    match op {
        Operator::Unique => {
            if value.is_some() {
                return Err(cerr(2, "UNIQUE takes no value".into(), Some(format!("write [{}, UNIQUE]", c.field))));
            }
        }
        Operator::Cluster => {
            if value.as_deref() == Some("") {
                return Err(cerr(
                    2,
                    "CLUSTER value is empty".into(),
                    Some("omit it to keep all instances on the first value placed".into()),
                ));
            }
        }
        Operator::GroupBy | Operator::MaxPer => {
            let Some(v) = value else {
                let mut e = need_value("a positive whole number");
                if op == Operator::GroupBy {
                    e.message = "GROUP_BY needs the number of groups; without it Marathon divides by zero".into();
                    e.hint = Some(format!("e.g. [{}, GROUP_BY, \"3\"]", c.field));
                }
                return Err(e);
            };
            match v.trim().parse::<u32>() {
                Ok(n) if n > 0 => c.count = Some(n),
                _ => return Err(cerr(2, format!("{} value `{v}` must be a positive whole number", op.name()), None)),
            }
        }
        Operator::Like | Operator::Unlike => {
            let Some(v) = value else { return Err(need_value("a regular expression")) };
            c.regex = Some(compile_whole(&v).map_err(|m| {
                cerr(2, m, Some("Marathon regexes match the whole value (Java String.matches)".into()))
            })?);
        }
        Operator::Is => {
            if value.is_none() {
                return Err(need_value("the attribute value"));
            }
        }
    }
    Ok(c)
}

/// A constraint of a list that does not parse: where it is and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstraintProblem {
    /// Its index in the list (`spec.constraints[index]`).
    pub index: usize,
    /// Field path of the offending part: `spec.constraints[i][part]`, or `spec.constraints[i]`
    /// when the part is missing.
    pub field: String,
    /// What is wrong, and what to do.
    pub error: ConstraintError,
}

impl std::fmt::Display for ConstraintProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.error.message)
    }
}

/// Every constraint of a list (an App's `spec.constraints`), parsed: those that parse with
/// their index, and a problem for each of the others. Nothing is dropped silently.
#[derive(Clone, Debug, Default)]
pub struct ParsedConstraints {
    /// The constraints that parse, with their index in the list.
    pub ok: Vec<(usize, Constraint)>,
    /// One problem per constraint that does not.
    pub problems: Vec<ConstraintProblem>,
}

impl ParsedConstraints {
    /// All constraints when every one parses, else every problem.
    pub fn into_result(self) -> Result<Vec<Constraint>, Vec<ConstraintProblem>> {
        if self.problems.is_empty() { Ok(self.ok.into_iter().map(|(_, c)| c).collect()) } else { Err(self.problems) }
    }
}

/// Parses every `[field, OPERATOR, value?]` triple of a list (field paths under
/// `spec.constraints`).
pub fn parse_constraints(all: &[Vec<String>]) -> ParsedConstraints {
    let mut out = ParsedConstraints::default();
    for (index, parts) in all.iter().enumerate() {
        match parse_constraint(parts) {
            Ok(c) => out.ok.push((index, c)),
            Err(error) => {
                let field = if error.part < parts.len() {
                    format!("spec.constraints[{index}][{}]", error.part)
                } else {
                    format!("spec.constraints[{index}]")
                };
                out.problems.push(ConstraintProblem { index, field, error });
            }
        }
    }
    out
}

/// If a regex is a plain literal or an alternation of literals, the values it matches.
pub fn literal_alternatives(re: &str) -> Option<Vec<String>> {
    let re = re
        .strip_prefix("(?:")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| re.strip_prefix('(').and_then(|r| r.strip_suffix(')')))
        .unwrap_or(re);
    let mut out = Vec::new();
    for alt in re.split('|') {
        let mut lit = String::new();
        let mut chars = alt.chars();
        while let Some(ch) = chars.next() {
            match ch {
                // `\<` and `\>` are word boundaries to the regex crate, not characters.
                '\\' => match chars.next() {
                    Some(e) if e.is_ascii_punctuation() && !matches!(e, '<' | '>') => lit.push(e),
                    _ => return None,
                },
                '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
                other => lit.push(other),
            }
        }
        out.push(lit);
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The native scheduling form of an app's constraints, with warnings for approximations.
#[derive(Clone, Debug, Default)]
pub struct NativePlacement {
    /// Required node selector expressions (ANDed).
    pub node_requirements: Vec<NodeSelectorRequirement>,
    /// Required pod affinity terms.
    pub pod_affinity: Vec<PodAffinityTerm>,
    /// Required pod anti-affinity terms.
    pub pod_anti_affinity: Vec<PodAffinityTerm>,
    /// Spread constraints.
    pub spread: Vec<TopologySpreadConstraint>,
    /// (constraint index, message) for each approximation.
    pub warnings: Vec<(usize, String)>,
}

impl NativePlacement {
    /// The Affinity object, or None when nothing is required.
    pub fn affinity(&self) -> Option<Affinity> {
        let node_affinity = (!self.node_requirements.is_empty()).then(|| NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(self.node_requirements.clone()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        });
        let pod_affinity = (!self.pod_affinity.is_empty()).then(|| PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(self.pod_affinity.clone()),
            ..Default::default()
        });
        let pod_anti_affinity = (!self.pod_anti_affinity.is_empty()).then(|| PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(self.pod_anti_affinity.clone()),
            ..Default::default()
        });
        if node_affinity.is_none() && pod_affinity.is_none() && pod_anti_affinity.is_none() {
            return None;
        }
        Some(Affinity { node_affinity, pod_affinity, pod_anti_affinity })
    }
}

fn req(key: &str, op: &str, values: Option<Vec<String>>) -> NodeSelectorRequirement {
    NodeSelectorRequirement { key: key.to_string(), operator: op.to_string(), values }
}

/// Renders constraints natively. `selector` selects the app's own pods.
pub fn render_native(constraints: &[Constraint], selector: &BTreeMap<String, String>) -> NativePlacement {
    let mut out = NativePlacement::default();
    let self_term = |key: &str| PodAffinityTerm {
        label_selector: Some(LabelSelector { match_labels: Some(selector.clone()), ..Default::default() }),
        // Count only the current version's pods, as Marathon does during upgrades.
        match_label_keys: Some(vec!["pod-template-hash".into()]),
        topology_key: key.to_string(),
        ..Default::default()
    };
    let exists = |out: &mut NativePlacement, key: &str| {
        if key != "kubernetes.io/hostname"
            && !out.node_requirements.iter().any(|r| r.key == key && r.operator == "Exists")
        {
            out.node_requirements.push(req(key, "Exists", None));
        }
    };
    for (i, c) in constraints.iter().enumerate() {
        let key = c.label.as_str();
        match c.op {
            Operator::Unique => {
                exists(&mut out, key);
                out.pod_anti_affinity.push(self_term(key));
            }
            Operator::MaxPer if c.count == Some(1) => {
                exists(&mut out, key);
                out.pod_anti_affinity.push(self_term(key));
            }
            Operator::MaxPer => {
                exists(&mut out, key);
                out.warnings.push((i, format!("{} has no exact Kubernetes form: at most {} per value is not enforced natively; the Dromos scheduler enforces it exactly", c.display(), c.count.unwrap_or(0))));
            }
            Operator::Cluster | Operator::Is => match &c.value {
                Some(v) => {
                    if !label_value_ok(v) {
                        out.warnings.push((
                            i,
                            format!(
                                "{}: `{v}` cannot be a node label value, so no node can match natively",
                                c.display()
                            ),
                        ));
                    }
                    out.node_requirements.push(req(key, "In", Some(vec![v.clone()])));
                }
                None => {
                    exists(&mut out, key);
                    out.pod_affinity.push(self_term(key));
                    out.warnings.push((i, format!("{} is approximated by pod affinity to the app itself; the Dromos scheduler enforces it exactly", c.display())));
                }
            },
            Operator::GroupBy => {
                exists(&mut out, key);
                out.spread.push(TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: key.to_string(),
                    when_unsatisfiable: "DoNotSchedule".into(),
                    label_selector: Some(LabelSelector { match_labels: Some(selector.clone()), ..Default::default() }),
                    match_label_keys: Some(vec!["pod-template-hash".into()]),
                    ..Default::default()
                });
                out.warnings.push((i, format!("{} is approximated by a topology spread with maxSkew 1 (the group limit of {} values is not enforced natively); the Dromos scheduler enforces it exactly", c.display(), c.count.unwrap_or(0))));
            }
            Operator::Like | Operator::Unlike => {
                let v = c.value.clone().unwrap_or_default();
                match literal_alternatives(&v) {
                    Some(values) => {
                        if c.op == Operator::Like {
                            out.node_requirements.push(req(key, "In", Some(values)));
                        } else {
                            // NotIn also matches nodes without the label, as UNLIKE does.
                            out.node_requirements.push(req(key, "NotIn", Some(values)));
                        }
                    }
                    None => {
                        if c.op == Operator::Like {
                            exists(&mut out, key);
                        }
                        out.warnings.push((i, format!("{}: regex needs expansion against live node labels; not enforced natively, the Dromos scheduler enforces it exactly", c.display())));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(parts: &[&str]) -> Result<Constraint, ConstraintError> {
        parse_constraint(&parts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn attribute_names_map_to_labels() {
        assert_eq!(attribute_label("hostname"), "kubernetes.io/hostname");
        assert_eq!(attribute_label("@hostname"), "kubernetes.io/hostname");
        assert_eq!(attribute_label("@zone"), "topology.kubernetes.io/zone");
        assert_eq!(attribute_label("@region"), "topology.kubernetes.io/region");
        assert_eq!(attribute_label("rack"), "rack");
    }

    #[test]
    fn arity_and_values_are_checked() {
        assert!(c(&["hostname", "UNIQUE"]).is_ok());
        assert_eq!(c(&["hostname", "UNIQUE", "x"]).unwrap_err().part, 2);
        assert!(c(&["@zone", "GROUP_BY"]).unwrap_err().message.contains("divides by zero"));
        assert!(c(&["@zone", "GROUP_BY", "0"]).is_err());
        assert_eq!(c(&["@zone", "GROUP_BY", "3"]).unwrap().count, Some(3));
        assert!(c(&["rack", "MAX_PER", "two"]).is_err());
        assert!(c(&["rack", "LIKE"]).is_err());
        assert!(c(&["rack", "LIKE", "rack-[0-9"]).unwrap_err().message.contains("does not compile"));
        assert!(c(&["rack", "LIKE", "(?=a)b"]).is_err());
        assert!(c(&["rack", "IS"]).is_err());
        assert!(c(&["", "IS", "a"]).is_err());
        assert!(c(&["rack", "CLUSTER"]).is_ok());
    }

    #[test]
    fn unknown_operators_get_a_hint() {
        let e = c(&["hostname", "unique"]).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `UNIQUE`?"));
        let e = c(&["hostname", "GROUPBY"]).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `GROUP_BY`?"));
    }

    /// Found by the fuzz suite (`like_regexes_match_the_whole_value`, shrunk to `(?i)\d)(`): a
    /// value that closes the wrapping group compiled, and `a)|(?:.*` matched every value.
    #[test]
    fn a_regex_cannot_close_the_whole_value_group() {
        for re in ["a)|(?:.*", "(?i)\\d)(", "x)(y"] {
            assert!(compile_whole(re).is_err(), "{re}");
            assert_eq!(c(&["rack", "LIKE", re]).unwrap_err().part, 2, "{re}");
        }
    }

    #[test]
    fn like_matches_the_whole_value() {
        let k = c(&["rack", "LIKE", "rack-[1-3]"]).unwrap();
        let re = k.regex.unwrap();
        assert!(re.is_match("rack-2"));
        assert!(!re.is_match("rack-22"));
        assert!(!re.is_match("xrack-2"));
    }

    #[test]
    fn literal_alternatives_expand() {
        assert_eq!(literal_alternatives("a|b|a"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(
            literal_alternatives("(us-east-1a|us-east-1b)"),
            Some(vec!["us-east-1a".into(), "us-east-1b".into()])
        );
        assert_eq!(literal_alternatives("rack\\.1"), Some(vec!["rack.1".into()]));
        assert_eq!(literal_alternatives("rack-[0-9]"), None);
        // Found by the fuzz suite (`literal_alternatives_are_exactly_what_the_regex_matches`):
        // `\<` was read as the value `<`, but it is a word boundary, which matches no value.
        assert_eq!(literal_alternatives("\\<"), None);
        assert_eq!(literal_alternatives("a\\>"), None);
    }

    #[test]
    fn native_forms() {
        let sel = BTreeMap::from([("dromos.io/app".to_string(), "web".to_string())]);
        let cs: Vec<Constraint> = [
            vec!["hostname", "UNIQUE"],
            vec!["@zone", "LIKE", "eu-1a|eu-1b"],
            vec!["rack", "UNLIKE", "r9"],
            vec!["@zone", "GROUP_BY", "3"],
            vec!["tier", "IS", "gold"],
            vec!["rack", "MAX_PER", "2"],
        ]
        .iter()
        .map(|p| c(p).unwrap())
        .collect();
        let n = render_native(&cs, &sel);
        let exprs: Vec<(String, String)> =
            n.node_requirements.iter().map(|r| (r.key.clone(), r.operator.clone())).collect();
        assert_eq!(
            exprs,
            vec![
                ("topology.kubernetes.io/zone".into(), "In".into()),
                ("rack".into(), "NotIn".into()),
                ("topology.kubernetes.io/zone".into(), "Exists".into()),
                ("tier".into(), "In".into()),
                ("rack".into(), "Exists".into()),
            ]
        );
        assert_eq!(n.pod_anti_affinity.len(), 1);
        assert_eq!(n.pod_anti_affinity[0].topology_key, "kubernetes.io/hostname");
        assert_eq!(n.spread.len(), 1);
        let warned: Vec<usize> = n.warnings.iter().map(|w| w.0).collect();
        assert_eq!(warned, vec![3, 5]);
        assert!(n.affinity().is_some());
    }

    #[test]
    fn a_list_reports_every_constraint_that_does_not_parse() {
        let list: Vec<Vec<String>> =
            [vec!["hostname", "UNIQUE"], vec!["rack", "unique"], vec!["@zone", "GROUP_BY"], vec!["tier", "IS", "gold"]]
                .iter()
                .map(|p| p.iter().map(|s| s.to_string()).collect())
                .collect();
        let parsed = parse_constraints(&list);
        let ok: Vec<(usize, String)> = parsed.ok.iter().map(|(i, c)| (*i, c.display())).collect();
        assert_eq!(ok, vec![(0, "[hostname, UNIQUE]".to_string()), (3, "[tier, IS, gold]".to_string())]);
        let fields: Vec<&str> = parsed.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["spec.constraints[1][1]", "spec.constraints[2][1]"]);
        assert_eq!(parsed.problems[0].to_string(), "spec.constraints[1][1]: unknown constraint operator `unique`");
        assert_eq!(parsed.clone().into_result().unwrap_err().len(), 2);
        let good = parse_constraints(&list[..1]).into_result().unwrap();
        assert_eq!(good.iter().map(Constraint::display).collect::<Vec<_>>(), ["[hostname, UNIQUE]"]);
        // A part past the end of the triple names the whole constraint.
        let short = parse_constraints(&[vec![]]);
        assert_eq!(short.problems[0].field, "spec.constraints[0]");
    }
}

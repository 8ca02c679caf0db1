//! Marathon/Metronome ids and Kubernetes names (pure).
//!
//! The rule, documented in ARCHITECTURE.md:
//! * an id is an absolute path of segments `[a-z0-9]([a-z0-9-.]*[a-z0-9])?` (`/shop/web/frontend`);
//!   Metronome's dotted ids (`ops.backup`) are read as paths (`/ops/backup`);
//! * with two or more segments, the first is the namespace and the rest, joined by `-`, the name:
//!   `/shop/web/frontend` -> namespace `shop`, name `web-frontend`;
//! * with one segment, the segment is the name and the namespace is the manifest's
//!   (`metadata.namespace`, else the default namespace);
//! * dots inside a segment become `-` in the name, since Services need DNS-1035 labels.
//!
//! Distinct ids can map to one name (`/shop/web-frontend`, `/shop/web/frontend`); the loader
//! reports such collisions with both places.

use regex::Regex;
use std::sync::OnceLock;

fn segment_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z0-9]([a-z0-9\-.]*[a-z0-9])?$").expect("static regex"))
}

fn dns_label_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$").expect("static regex"))
}

fn dns_subdomain_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z0-9]([a-z0-9\-.]*[a-z0-9])?$").expect("static regex"))
}

/// A Kubernetes location derived from an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Namespace, when the id determines it.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

/// Parses a Marathon id into its segments. Relative ids are accepted when `base` (the group
/// of the referring object, e.g. `/shop/web`) is given; `..` steps up one group.
pub fn parse_id(id: &str, base: Option<&str>) -> Result<Vec<String>, String> {
    if id.is_empty() {
        return Err("id is empty".into());
    }
    let mut segments: Vec<String> = if id.starts_with('/') {
        Vec::new()
    } else if let Some(base) = base {
        base.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
    } else {
        return Err(format!("id `{id}` must be absolute (start with `/`)"));
    };
    for seg in id.split('/').filter(|s| !s.is_empty()) {
        match seg {
            "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(format!("id `{id}` leaves the root group"));
                }
            }
            s if segment_re().is_match(s) => segments.push(s.to_string()),
            s => {
                return Err(format!(
                    "segment `{s}` of id `{id}` must be lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
                ));
            }
        }
    }
    if segments.is_empty() {
        return Err(format!("id `{id}` names the root group, not an app"));
    }
    Ok(segments)
}

/// Reads a Metronome job id (`ops.backup`, or a path) into segments.
pub fn parse_job_id(id: &str) -> Result<Vec<String>, String> {
    if id.contains('/') {
        return parse_id(if id.starts_with('/') { id.to_string() } else { format!("/{id}") }.as_str(), None);
    }
    let segs: Vec<String> = id.split('.').map(str::to_string).collect();
    for s in &segs {
        if !dns_label_re().is_match(s) {
            return Err(format!("segment `{s}` of job id `{id}` must be lowercase letters, digits and `-`"));
        }
    }
    Ok(segs)
}

/// Maps id segments to a location by the rule in the module docs.
pub fn location_of(segments: &[String]) -> Location {
    let clean = |s: &str| s.replace('.', "-");
    match segments {
        [one] => Location { namespace: None, name: clean(one) },
        [ns, rest @ ..] => {
            Location { namespace: Some(clean(ns)), name: rest.iter().map(|s| clean(s)).collect::<Vec<_>>().join("-") }
        }
        [] => Location { namespace: None, name: String::new() },
    }
}

/// The canonical absolute id of an object at a location: `/namespace/name`.
pub fn id_of(namespace: &str, name: &str) -> String {
    format!("/{namespace}/{name}")
}

/// Checks a DNS-1123 label (namespaces, Service names): at most 63 characters.
pub fn check_dns_label(s: &str) -> Result<(), String> {
    if s.len() > 63 {
        return Err(format!("`{s}` is longer than 63 characters"));
    }
    if !dns_label_re().is_match(s) {
        return Err(format!(
            "`{s}` must be lowercase letters, digits and `-`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain (most object names): at most 253 characters.
pub fn check_dns_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err(format!("`{s}` is longer than 253 characters"));
    }
    if !dns_subdomain_re().is_match(s) {
        return Err(format!(
            "`{s}` must be lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(id: &str) -> Location {
        location_of(&parse_id(id, None).unwrap())
    }

    #[test]
    fn ids_map_to_namespace_and_name() {
        assert_eq!(loc("/shop/web/frontend"), Location { namespace: Some("shop".into()), name: "web-frontend".into() });
        assert_eq!(loc("/shop/db"), Location { namespace: Some("shop".into()), name: "db".into() });
        assert_eq!(loc("/web"), Location { namespace: None, name: "web".into() });
        assert_eq!(loc("/prod/api.v2"), Location { namespace: Some("prod".into()), name: "api-v2".into() });
    }

    #[test]
    fn colliding_ids_share_a_location() {
        assert_eq!(loc("/shop/web-frontend"), loc("/shop/web/frontend"));
    }

    #[test]
    fn relative_ids_resolve_against_the_group() {
        assert_eq!(parse_id("db", Some("/shop/web")).unwrap(), vec!["shop", "web", "db"]);
        assert_eq!(parse_id("../db", Some("/shop/web")).unwrap(), vec!["shop", "db"]);
        assert!(parse_id("../../..", Some("/shop")).is_err());
        assert!(parse_id("db", None).unwrap_err().contains("absolute"));
    }

    #[test]
    fn bad_segments_are_rejected() {
        assert!(parse_id("/Shop/web", None).is_err());
        assert!(parse_id("/shop/-web", None).is_err());
        assert!(parse_id("/", None).is_err());
    }

    #[test]
    fn metronome_ids_are_dotted_paths() {
        assert_eq!(parse_job_id("ops.backup").unwrap(), vec!["ops", "backup"]);
        assert_eq!(parse_job_id("/ops/backup").unwrap(), vec!["ops", "backup"]);
        assert!(parse_job_id("Ops.backup").is_err());
    }

    #[test]
    fn dns_checks() {
        assert!(check_dns_label("web-1").is_ok());
        assert!(check_dns_label("web.1").is_err());
        assert!(check_dns_label(&"a".repeat(64)).is_err());
        assert!(check_dns_subdomain("web.1").is_ok());
    }
}

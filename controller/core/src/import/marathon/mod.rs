//! Marathon apps, groups, pods and app lists to Apps (and Packages) (pure).
//!
//! Ids inside a group are canonicalised against the group's id, as Marathon does
//! (`GroupConversion`): relative app ids, app dependencies, child group ids and the group's
//! own dependencies. A group's dependencies are inherited by every app and pod under it; a
//! dependency on a group becomes a dependency on each App in that group, since Dromos
//! dependencies name Apps.

mod app;
mod constraints;
mod pod;
mod reasons;

use super::{Cx, Effect, ImportOptions, State, idx, key};
use crate::ids;
use dromos_crds::AppSpec;
use reasons::REASONS;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Read-only fields of Marathon API responses: state, not definition.
const APP_STATE: &[&str] = &[
    "version",
    "versionInfo",
    "tasksStaged",
    "tasksRunning",
    "tasksHealthy",
    "tasksUnhealthy",
    "deployments",
    "tasks",
    "lastTaskFailure",
    "taskStats",
    "readinessCheckResults",
    "storeUrls",
    "status",
    "instances_status",
];

/// An App waiting for dependency resolution (own and inherited dependencies); `extra` is true
/// for a pod.
type Pending = super::Pending<bool>;

#[derive(Default)]
struct Walk {
    apps: Vec<Pending>,
    groups: BTreeSet<String>,
}

/// Imports Marathon documents: each is an app, a pod, a group (or the root group), an app
/// list `{"apps": [...]}`, `{"app": {...}}`, or a JSON array of any of these.
pub(super) fn import_all(docs: &[(String, Value)], opts: &ImportOptions, st: &mut State) {
    let mut w = Walk::default();
    for (file, v) in docs {
        match v {
            Value::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    let path = idx("$", i);
                    item(&Site { file, path: &path, group: "/", inherited: &[], opts }, it, &mut w, st);
                }
            }
            _ => item(&Site { file, path: "$", group: "/", inherited: &[], opts }, v, &mut w, st),
        }
    }
    resolve(w, st);
}

/// Where an item of the walk sits: its input, its JSON path, the group it is in and the
/// dependencies it inherits from that group and the ones around it.
#[derive(Clone, Copy)]
struct Site<'a> {
    file: &'a str,
    path: &'a str,
    group: &'a str,
    inherited: &'a [(String, String)],
    opts: &'a ImportOptions,
}

fn item(s: &Site, v: &Value, w: &mut Walk, st: &mut State) {
    let Some(m) = v.as_object() else {
        st.error(s.file, s.path, "expected a Marathon app, pod or group (a JSON object)");
        return;
    };
    if let Some(inner) = m.get("app").filter(|a| a.is_object()) {
        return item(&Site { path: &key(s.path, "app"), ..*s }, inner, w, st);
    }
    let is_group = ["apps", "groups", "pods"].iter().any(|k| m.get(*k).is_some_and(Value::is_array));
    if is_group {
        group(s, m, w, st);
    } else if m.contains_key("containers") {
        pod::pod(s, m, w, st);
    } else {
        app::app(s, m, w, st);
    }
}

fn abs(segs: &[String]) -> String {
    format!("/{}", segs.join("/"))
}

/// A group: its own fields, then its apps, pods and groups, which inherit its dependencies.
fn group(s: &Site, g: &Map<String, Value>, w: &mut Walk, st: &mut State) {
    let (file, path) = (s.file, s.path);
    // An app list has no id: it is the root group.
    let gid = match g.get("id") {
        None => "/".to_string(),
        Some(Value::String(id)) if id.trim_matches('/').is_empty() => "/".to_string(),
        Some(Value::String(id)) => match ids::parse_id(id, Some(s.group)) {
            Ok(segs) => abs(&segs),
            Err(e) => return st.error(file, &key(path, "id"), e),
        },
        Some(_) => return st.error(file, &key(path, "id"), "group id must be a string"),
    };
    w.groups.insert(gid.clone());
    let mut deps = s.inherited.to_vec();
    let mut cx = Cx { file, object: format!("group {gid}"), reasons: REASONS, kind: "App", st };
    for (k, v) in g {
        let p = key(path, k);
        match k.as_str() {
            "id" | "apps" | "groups" | "pods" | "version" | "versionInfo" => {}
            "enforceRole" => {}
            "dependencies" => deps.extend(parse_deps(v, &p, &gid, &mut cx)),
            _ => cx.drop_field(&p, "group", v),
        }
    }
    for (field, f) in [("apps", 0), ("pods", 1), ("groups", 2)] {
        let Some(list) = g.get(field) else { continue };
        let Some(list) = list.as_array() else {
            st.error(file, &key(path, field), format!("`{field}` must be a list"));
            continue;
        };
        for (i, it) in list.iter().enumerate() {
            let p = idx(&key(path, field), i);
            let Some(m) = it.as_object() else {
                st.error(file, &p, "expected a JSON object");
                continue;
            };
            let child = Site { path: &p, group: &gid, inherited: &deps, ..*s };
            match f {
                0 => app::app(&child, m, w, st),
                1 => pod::pod(&child, m, w, st),
                _ => group(&child, m, w, st),
            }
        }
    }
}

/// Resolves an app or pod id against its group and maps it to a location: (absolute id,
/// namespace, name).
fn locate(s: &Site, m: &Map<String, Value>, st: &mut State) -> Option<(String, String, String)> {
    let Some(id) = m.get("id").and_then(Value::as_str) else {
        st.error(s.file, &key(s.path, "id"), "missing `id` (a string)");
        return None;
    };
    match ids::parse_id(id, Some(s.group)) {
        Ok(segs) => {
            let loc = ids::location_of(&segs);
            Some((abs(&segs), loc.namespace.unwrap_or_else(|| s.opts.default_namespace.clone()), loc.name))
        }
        Err(e) => {
            st.error(s.file, &key(s.path, "id"), e);
            None
        }
    }
}

/// The start of an app or pod: its location, its report context and its own dependencies,
/// then the ones inherited from its groups. The spec is filled in by the caller.
fn start<'a>(s: &Site<'a>, m: &Map<String, Value>, pod: bool, st: &'a mut State) -> Option<(Pending, Cx<'a>)> {
    let (id, namespace, name) = locate(s, m, st)?;
    let mut cx = Cx { file: s.file, object: format!("App {namespace}/{name}"), reasons: REASONS, kind: "App", st };
    let mut deps = m
        .get("dependencies")
        .map(|v| parse_deps(v, &key(s.path, "dependencies"), s.group, &mut cx))
        .unwrap_or_default();
    deps.extend(s.inherited.iter().cloned());
    let (file, path) = (s.file.into(), s.path.into());
    Some((Pending { file, path, id, namespace, name, spec: Map::new(), deps, extra: pod }, cx))
}

/// Dependency ids of an app, pod or group, resolved against `base` (the group they are in,
/// or the group itself for a group's own dependencies), with the JSON path of each.
fn parse_deps(v: &Value, path: &str, base: &str, cx: &mut Cx) -> Vec<(String, String)> {
    let mut deps = Vec::new();
    match v.as_array() {
        Some(list) => {
            for (i, d) in list.iter().enumerate() {
                let dp = idx(path, i);
                match d.as_str().map(|d| ids::parse_id(d, Some(base))) {
                    Some(Ok(segs)) => deps.push((abs(&segs), dp)),
                    Some(Err(e)) => cx.loss(Effect::Dropped, &dp, Some(d), e, "write the dependency as an absolute id"),
                    None => cx.error(&dp, "a dependency must be a string id"),
                }
            }
        }
        None if v.is_null() => {}
        None => cx.error(path, "dependencies must be a list of ids"),
    }
    deps
}

/// True for a Marathon app Cosmos installed: it becomes a Package.
/// Marathon's launch back-off (`backoffSeconds`, `backoffFactor`, `maxLaunchDelaySeconds`, or
/// a pod's `scheduling.backoff` with `field` its key there) is not carried: Dromos refuses it,
/// because the kubelet's restart back-off applies and no pod field changes it. Marathon's
/// defaults are only a note (every app read from Marathon's API carries them).
fn drop_backoff(field: &str, v: &Value, path: &str, cx: &mut Cx) {
    let default = match field {
        "backoffSeconds" | "backoff" => &[1.0][..],
        "backoffFactor" => &[1.15][..],
        _ => &[300.0, 3600.0][..],
    };
    let is_default = v.as_f64().is_some_and(|f| default.iter().any(|d| (f - d).abs() < 1e-9));
    let why = "the kubelet restarts a crashed container in place with its own back-off (10 s doubling to \
               5 min); no App field sets Marathon's launch delay";
    if is_default {
        cx.loss(Effect::Note, path, Some(v), format!("{why} (this is Marathon's default)"), "nothing");
    } else {
        cx.loss(
            Effect::Dropped,
            path,
            Some(v),
            why,
            "nothing can set it per App; check that the kubelet's back-off suits the service",
        );
    }
}

fn is_package(m: &Map<String, Value>) -> bool {
    m.get("labels").and_then(|l| l.get("DCOS_PACKAGE_NAME")).and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// Resolves dependencies against everything imported and emits the Apps.
fn resolve(w: Walk, st: &mut State) {
    let app_ids: BTreeSet<String> = w.apps.iter().map(|a| a.id.clone()).collect();
    let mut in_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in &w.groups {
        let prefix = if g == "/" { "/".to_string() } else { format!("{g}/") };
        in_group.insert(g, app_ids.iter().filter(|id| id.starts_with(&prefix)).map(String::as_str).collect());
    }
    for a in &w.apps {
        let origin = a.origin("App");
        let mut cx = origin.cx(REASONS, st);
        let mut deps: Vec<String> = Vec::new();
        for (d, src) in &a.deps {
            let targets: Vec<&str> = if app_ids.contains(d) {
                vec![d.as_str()]
            } else if let Some(members) = in_group.get(d.as_str()) {
                members.iter().copied().filter(|m| *m != a.id && !m.starts_with(&format!("{}/", a.id))).collect()
            } else {
                cx.loss(
                    Effect::Dropped,
                    src,
                    Some(&json!(d)),
                    format!("dependency `{d}` is not an app, pod or group among the imported definitions"),
                    "import it in the same run (e.g. the whole root group), then add the dependency back",
                );
                continue;
            };
            for t in targets {
                if t != a.id && !deps.iter().any(|x| x == t) {
                    deps.push(t.to_string());
                }
            }
        }
        let mut spec = a.spec.clone();
        if !deps.is_empty() {
            spec.insert("dependencies".into(), json!(deps));
        }
        let mut spec_with_id = Map::new();
        spec_with_id.insert("id".into(), json!(a.id));
        spec_with_id.extend(spec);
        let Some(spec) = super::canonical::<AppSpec>(Value::Object(spec_with_id), &a.path, &mut cx) else { continue };
        let what = if a.extra { "Marathon pod" } else { "Marathon app" };
        origin.emit(vec![format!("{what} {} from {} {}", a.id, a.file, a.path)], spec, st);
    }
}

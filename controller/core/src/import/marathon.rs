//! Marathon apps, groups, pods and app lists to Apps (and Packages) (pure).
//!
//! Ids inside a group are canonicalised against the group's id, as Marathon does
//! (`GroupConversion`): relative app ids, app dependencies, child group ids and the group's
//! own dependencies. A group's dependencies are inherited by every app and pod under it; a
//! dependency on a group becomes a dependency on each App in that group, since Dromos
//! dependencies name Apps.

use super::{Cx, Effect, ImportOptions, Imported, Reason, State, carry, idx, key, manifest, spec_schema};
use crate::constraints::{Operator, parse_constraint};
use crate::ids;
use dromos_crds::AppSpec;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

use super::reason as r;

/// Fields of Marathon apps and pods that the App kind does not have, and what to do.
pub(super) const REASONS: &[Reason] = &[
    r(
        "executor",
        Effect::Dropped,
        "custom Mesos executors do not exist on Kubernetes",
        "run what the executor did inside the container, or as a sidecar",
    ),
    r(
        "tty",
        Effect::Dropped,
        "the App kind has no terminal setting",
        "programs that need a TTY need a patch on the rendered container (`tty: true`)",
    ),
    r(
        "check",
        Effect::Dropped,
        "Mesos checks (which report but never kill) have no App field",
        "use a readiness check, or a health check with maxConsecutiveFailures 0",
    ),
    r(
        "container.docker.credential",
        Effect::Dropped,
        "Mesos registry credentials have no App field",
        "create a docker-registry Secret and name it in container.docker.pullConfig.secret",
    ),
    r(
        "container.appc",
        Effect::Dropped,
        "AppC images are not run by Kubernetes",
        "publish the image as an OCI/Docker image and set container.docker.image",
    ),
    r(
        "container.linuxInfo",
        Effect::Dropped,
        "Mesos Linux capabilities, seccomp and IPC settings have no App field",
        "set a securityContext with a patch on the rendered workload",
    ),
    r(
        "container.docker.network",
        Effect::Dropped,
        "unknown Docker network mode",
        "set `networks` (host, container or container/bridge)",
    ),
    r(
        "container.volumes.persistent.constraints",
        Effect::Dropped,
        "constraints on which Mesos disk holds a persistent volume have no equivalent",
        "pick the disk through a StorageClass and set persistent.storageClass",
    ),
    r(
        "container.volumes.persistent.profileName",
        Effect::Dropped,
        "DC/OS storage profiles are not Kubernetes objects",
        "set persistent.storageClass to the StorageClass that matches the profile",
    ),
    r(
        "residency",
        Effect::Approximated,
        "a StatefulSet pod keeps its volume claim and Kubernetes decides when it moves; Marathon's relaunch escalation and task-lost behaviour have no equivalent",
        "use a storage class with WaitForFirstConsumer binding and check the StatefulSet's behaviour on node loss",
    ),
    r(
        "ipAddress.groups",
        Effect::Dropped,
        "Mesos network security groups have no App field",
        "write a NetworkPolicy for the namespace",
    ),
    r(
        "ipAddress.discovery",
        Effect::Dropped,
        "discovery information beyond port numbers, names and protocols has no App field",
        "check the generated container.portMappings",
    ),
    r("container.portMappings.networkNames", Effect::Note, "port mappings apply to the pod's one network", "nothing"),
    r(
        "scaling.maxInstances",
        Effect::Dropped,
        "the App kind has no upper bound for scaling",
        "add a HorizontalPodAutoscaler with maxReplicas if something scales the App",
    ),
    r("scaling.kind", Effect::Dropped, "only fixed scaling exists", "set `instances`"),
    r(
        "executorResources",
        Effect::Note,
        "resources of the Mesos executor: Kubernetes runs no executor per pod",
        "nothing; the containers' resources are carried",
    ),
    r("legacySharedCgroups", Effect::Note, "Mesos cgroup layout; Kubernetes limits each container", "nothing"),
    r(
        "containers.image.pullConfig",
        Effect::Dropped,
        "pod containers have no registry credential field",
        "add an imagePullSecret to the namespace's default ServiceAccount",
    ),
    r(
        "containers.image.kind",
        Effect::Note,
        "images are pulled by the container runtime whatever their kind",
        "nothing",
    ),
    r(
        "containers.exec.overrideEntrypoint",
        Effect::Note,
        "a shell command always replaces the entrypoint, argv is passed as the command",
        "check the rendered container's command and args",
    ),
    r("containers.endpoints.networkNames", Effect::Note, "endpoints apply to the pod's one network", "nothing"),
    r(
        "containers.lifecycle",
        Effect::Dropped,
        "container lifecycle settings other than killGracePeriodSeconds have no App field",
        "set them with a patch on the rendered workload",
    ),
    r(
        "containers.tty",
        Effect::Dropped,
        "the App kind has no terminal setting",
        "programs that need a TTY need a patch on the rendered container (`tty: true`)",
    ),
    r(
        "containers.check",
        Effect::Dropped,
        "Mesos checks (which report but never kill) have no App field",
        "use a health check with maxConsecutiveFailures 0, or a readiness probe",
    ),
    r(
        "group",
        Effect::Dropped,
        "groups are not Dromos objects: their apps, pods and dependencies are imported, other group fields are not",
        "nothing, unless the field mattered to a tool around Marathon",
    ),
];

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

/// An App waiting for dependency resolution.
struct Pending {
    file: String,
    path: String,
    id: String,
    namespace: String,
    name: String,
    spec: Map<String, Value>,
    /// Own and inherited dependencies: absolute id and the JSON path they came from.
    deps: Vec<(String, String)>,
    pod: bool,
}

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
                    item(file, it, &idx("$", i), "/", &[], opts, &mut w, st);
                }
            }
            _ => item(file, v, "$", "/", &[], opts, &mut w, st),
        }
    }
    resolve(w, st);
}

#[allow(clippy::too_many_arguments)]
fn item(
    file: &str,
    v: &Value,
    path: &str,
    group: &str,
    inherited: &[(String, String)],
    opts: &ImportOptions,
    w: &mut Walk,
    st: &mut State,
) {
    let Some(m) = v.as_object() else {
        st.error(file, path, "expected a Marathon app, pod or group (a JSON object)");
        return;
    };
    if let Some(inner) = m.get("app").filter(|a| a.is_object()) {
        return item(file, inner, &key(path, "app"), group, inherited, opts, w, st);
    }
    let is_group = ["apps", "groups", "pods"].iter().any(|k| m.get(*k).is_some_and(Value::is_array));
    if is_group {
        self::group(file, m, path, group, inherited, opts, w, st);
    } else if m.contains_key("containers") {
        pod(file, m, path, group, inherited, opts, w, st);
    } else {
        app(file, m, path, group, inherited, opts, w, st);
    }
}

fn abs(segs: &[String]) -> String {
    format!("/{}", segs.join("/"))
}

#[allow(clippy::too_many_arguments)]
fn group(
    file: &str,
    g: &Map<String, Value>,
    path: &str,
    parent: &str,
    inherited: &[(String, String)],
    opts: &ImportOptions,
    w: &mut Walk,
    st: &mut State,
) {
    // An app list has no id: it is the root group.
    let gid = match g.get("id") {
        None => "/".to_string(),
        Some(Value::String(s)) if s.trim_matches('/').is_empty() => "/".to_string(),
        Some(Value::String(s)) => match ids::parse_id(s, Some(parent)) {
            Ok(segs) => abs(&segs),
            Err(e) => return st.error(file, &key(path, "id"), e),
        },
        Some(_) => return st.error(file, &key(path, "id"), "group id must be a string"),
    };
    w.groups.insert(gid.clone());
    let mut deps = inherited.to_vec();
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
            match f {
                0 => app(file, m, &p, &gid, &deps, opts, w, st),
                1 => pod(file, m, &p, &gid, &deps, opts, w, st),
                _ => self::group(file, m, &p, &gid, &deps, opts, w, st),
            }
        }
    }
}

/// Resolves an app or pod id against its group and maps it to a location.
fn locate(
    file: &str,
    m: &Map<String, Value>,
    path: &str,
    group: &str,
    opts: &ImportOptions,
    st: &mut State,
) -> Option<(String, String, String)> {
    let Some(id) = m.get("id").and_then(Value::as_str) else {
        st.error(file, &key(path, "id"), "missing `id` (a string)");
        return None;
    };
    match ids::parse_id(id, Some(group)) {
        Ok(segs) => {
            let loc = ids::location_of(&segs);
            Some((abs(&segs), loc.namespace.unwrap_or_else(|| opts.default_namespace.clone()), loc.name))
        }
        Err(e) => {
            st.error(file, &key(path, "id"), e);
            None
        }
    }
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

/// An object's own dependencies, then the ones inherited from its groups.
fn own_deps(
    m: &Map<String, Value>,
    path: &str,
    group: &str,
    inherited: &[(String, String)],
    cx: &mut Cx,
) -> Vec<(String, String)> {
    let mut deps =
        m.get("dependencies").map(|v| parse_deps(v, &key(path, "dependencies"), group, cx)).unwrap_or_default();
    deps.extend(inherited.iter().cloned());
    deps
}

fn is_package(m: &Map<String, Value>) -> bool {
    m.get("labels").and_then(|l| l.get("DCOS_PACKAGE_NAME")).and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

#[allow(clippy::too_many_arguments)]
fn app(
    file: &str,
    a: &Map<String, Value>,
    path: &str,
    group: &str,
    inherited: &[(String, String)],
    opts: &ImportOptions,
    w: &mut Walk,
    st: &mut State,
) {
    let Some((id, namespace, name)) = locate(file, a, path, group, opts, st) else { return };
    if is_package(a) {
        super::cosmos::from_marathon_app(file, a, path, &id, &namespace, &name, st);
        return;
    }
    let mut cx = Cx { file, object: format!("App {namespace}/{name}"), reasons: REASONS, kind: "App", st };
    let deps = own_deps(a, path, group, inherited, &mut cx);
    let mut m = a.clone();
    for k in APP_STATE.iter().chain(["id", "dependencies"].iter()) {
        m.remove(*k);
    }
    if matches!(m.get("executor").and_then(Value::as_str), Some("" | "//cmd")) {
        m.remove("executor");
    }
    // Marathon refuses cmd together with args; the API examples still show both.
    if m.get("cmd").is_some_and(|c| !c.is_null()) && m.get("args").is_some_and(|a| !a.is_null()) {
        let args = m.remove("args");
        cx.loss(
            Effect::Dropped,
            &key(path, "args"),
            args.as_ref(),
            "Marathon refuses `cmd` together with `args`; `cmd` is kept",
            "use `args` alone (image entrypoint) or fold the arguments into `cmd`",
        );
    }
    let mut moved: Vec<(&str, Value, String)> = Vec::new();

    // Networking: `networks` if given, else the deprecated `ipAddress` and
    // `container.docker.network`.
    let docker_network = m
        .get_mut("container")
        .and_then(Value::as_object_mut)
        .and_then(|c| c.get_mut("docker"))
        .and_then(Value::as_object_mut)
        .and_then(|d| d.remove("network"));
    let docker_mappings = m
        .get_mut("container")
        .and_then(Value::as_object_mut)
        .and_then(|c| c.get_mut("docker"))
        .and_then(Value::as_object_mut)
        .and_then(|d| d.remove("portMappings"));
    let ip_address = m.remove("ipAddress").filter(|v| !v.is_null());
    let has_networks = m.get("networks").and_then(Value::as_array).is_some_and(|n| !n.is_empty());
    let mut ip_ports: Option<Value> = None;
    if !has_networks {
        if let Some(ip) = &ip_address {
            let p = key(path, "ipAddress");
            let mut net = Map::new();
            net.insert("mode".into(), json!("container"));
            if let Some(n) = ip.get("networkName").filter(|n| !n.is_null()) {
                net.insert("name".into(), n.clone());
            }
            if let Some(l) = ip.get("labels").filter(|l| !super::is_empty(l)) {
                net.insert("labels".into(), l.clone());
            }
            m.insert("networks".into(), json!([net]));
            if let Some(ports) = ip.get("discovery").and_then(|d| d.get("ports")).and_then(Value::as_array) {
                let mappings: Vec<Value> = ports
                    .iter()
                    .map(|dp| {
                        let mut pm = Map::new();
                        if let Some(n) = dp.get("number") {
                            pm.insert("containerPort".into(), n.clone());
                        }
                        for f in ["name", "protocol", "labels"] {
                            if let Some(v) = dp.get(f).filter(|v| !super::is_empty(v)) {
                                pm.insert(f.into(), v.clone());
                            }
                        }
                        Value::Object(pm)
                    })
                    .collect();
                if !mappings.is_empty() {
                    ip_ports = Some(Value::Array(mappings));
                }
            }
            if let Some(obj) = ip.as_object() {
                for (k, v) in obj {
                    if !["networkName", "labels", "discovery"].contains(&k.as_str()) {
                        cx.drop_field(&key(&p, k), &format!("ipAddress.{k}"), v);
                    }
                }
            }
        } else if let Some(net) = docker_network.as_ref().and_then(Value::as_str) {
            let np = key(&key(&key(path, "container"), "docker"), "network");
            match net {
                "HOST" => {}
                "BRIDGE" => {
                    m.insert("networks".into(), json!([{"mode": "container/bridge"}]));
                }
                "USER" => {
                    m.insert("networks".into(), json!([{"mode": "container"}]));
                }
                "NONE" => {
                    m.insert("networks".into(), json!([{"mode": "container/bridge"}]));
                    cx.loss(
                        Effect::Approximated,
                        &np,
                        docker_network.as_ref(),
                        "a Kubernetes pod always has a network; the App gets the pod network",
                        "add a NetworkPolicy denying all traffic to the App's pods",
                    );
                }
                _ => cx.drop_field(&np, "container.docker.network", docker_network.as_ref().unwrap_or(&Value::Null)),
            }
        }
    }
    let host = m
        .get("networks")
        .and_then(Value::as_array)
        .is_none_or(|n| n.iter().all(|n| n.get("mode").and_then(Value::as_str).unwrap_or("host") == "host"));

    // Ports: `container.docker.portMappings` -> `container.portMappings`; `ports` ->
    // `portDefinitions` in host mode (elsewhere Marathon reports service ports there).
    let dm_path = key(&key(&key(path, "container"), "docker"), "portMappings");
    if let Some(pm) = docker_mappings.filter(|v| !super::is_empty(v)) {
        let has_modern = m.get("container").and_then(|c| c.get("portMappings")).is_some_and(|p| !p.is_null());
        if host {
            cx.loss(
                Effect::Note,
                &dm_path,
                Some(&pm),
                "Marathon ignores Docker port mappings with host networking",
                "nothing; host-mode ports come from portDefinitions",
            );
        } else if !has_modern {
            moved.push(("container.portMappings", pm, dm_path.clone()));
        }
    }
    if let Some(pm) = ip_ports
        && m.get("container").and_then(|c| c.get("portMappings")).is_none_or(Value::is_null)
        && !moved.iter().any(|(k, _, _)| *k == "container.portMappings")
    {
        moved.push(("container.portMappings", pm, key(&key(&key(path, "ipAddress"), "discovery"), "ports")));
    }
    let ports = m.remove("ports");
    if host {
        if !m.contains_key("portDefinitions")
            && let Some(list) = ports.as_ref().and_then(Value::as_array)
        {
            m.insert("portDefinitions".into(), Value::Array(list.iter().map(|p| json!({"port": p})).collect()));
        }
    } else if let Some(pd) = m.remove("portDefinitions").filter(|v| !super::is_empty(v)) {
        cx.loss(
            Effect::Note,
            &key(path, "portDefinitions"),
            Some(&pd),
            "Marathon uses portDefinitions only with host networking",
            "nothing; the container's port mappings are carried",
        );
    }

    // `uris` -> `fetch`.
    if let Some(uris) = m.remove("uris").filter(|v| !super::is_empty(v)) {
        match uris.as_array() {
            Some(list) => {
                let mut fetch = m.get("fetch").and_then(Value::as_array).cloned().unwrap_or_default();
                fetch.extend(list.iter().map(|u| json!({"uri": u})));
                m.insert("fetch".into(), Value::Array(fetch));
            }
            None => cx.error(&key(path, "uris"), "uris must be a list of strings"),
        }
    }

    // Environment values must be strings or {secret}; Marathon stores strings.
    if let Some(env) = m.get_mut("env").and_then(Value::as_object_mut) {
        for v in env.values_mut() {
            if v.is_number() || v.is_boolean() {
                *v = Value::String(v.to_string());
            }
        }
    }
    fix_checks(&mut m, path, &mut cx);
    let constraints = m.remove("constraints");

    let schema = spec_schema("App", &[]);
    let Some(Value::Object(mut spec)) = carry(&Value::Object(m), schema, path, "", &mut cx) else { return };
    for (dest, v, src) in moved {
        let (parent, field) = dest.split_once('.').expect("moved fields are nested");
        if let Some(c) = carry(&v, &schema["properties"][parent]["properties"][field], &src, dest, &mut cx) {
            let e = spec.entry(parent).or_insert_with(|| json!({}));
            if let Some(o) = e.as_object_mut() {
                o.insert(field.into(), c);
            }
        }
    }
    if let Some(c) = constraints {
        let cs = convert_constraints(&c, &key(path, "constraints"), &mut cx);
        if !cs.is_empty() {
            spec.insert("constraints".into(), Value::Array(cs));
        }
    }
    clean_volumes(&mut spec, path, &mut cx);
    w.apps.push(Pending { file: file.into(), path: path.into(), id, namespace, name, spec, deps, pod: false });
}

/// COMMAND checks ignore ports and paths; timeouts must be below intervals in Dromos.
fn fix_checks(m: &mut Map<String, Value>, path: &str, cx: &mut Cx) {
    if let Some(list) = m.get_mut("healthChecks").and_then(Value::as_array_mut) {
        for (i, hc) in list.iter_mut().enumerate() {
            let Some(h) = hc.as_object_mut() else { continue };
            let p = idx(&key(path, "healthChecks"), i);
            let proto = h.get("protocol").and_then(Value::as_str).unwrap_or("HTTP").to_string();
            if proto == "COMMAND" {
                for f in ["path", "portIndex", "port"] {
                    h.remove(f);
                }
            } else {
                h.remove("command");
                if h.get("port").is_some_and(|p| !p.is_null()) {
                    h.remove("portIndex");
                }
                if !proto.contains("HTTP") {
                    h.remove("path");
                }
            }
            clamp_timeout(h, 60, 20, &p, cx);
        }
    }
    if let Some(list) = m.get_mut("readinessChecks").and_then(Value::as_array_mut) {
        for (i, rc) in list.iter_mut().enumerate() {
            if let Some(h) = rc.as_object_mut() {
                clamp_timeout(h, 30, 10, &idx(&key(path, "readinessChecks"), i), cx);
            }
        }
    }
}

fn clamp_timeout(h: &mut Map<String, Value>, interval_default: i64, timeout_default: i64, path: &str, cx: &mut Cx) {
    let interval = h.get("intervalSeconds").and_then(Value::as_i64).unwrap_or(interval_default);
    let timeout = h.get("timeoutSeconds").and_then(Value::as_i64).unwrap_or(timeout_default);
    if timeout >= interval && interval > 1 {
        h.insert("timeoutSeconds".into(), json!(interval - 1));
        cx.loss(
            Effect::Approximated,
            &key(path, "timeoutSeconds"),
            Some(&json!(timeout)),
            format!("Dromos needs timeoutSeconds below intervalSeconds ({interval}); set to {}", interval - 1),
            "check that the shorter timeout suits the endpoint, or raise intervalSeconds",
        );
    }
}

/// Marathon constraints `[field, OP, value?]` (numbers become strings, a trailing empty value
/// is dropped); each one Dromos cannot read is reported and left out.
pub(super) fn convert_constraints(v: &Value, path: &str, cx: &mut Cx) -> Vec<Value> {
    let Some(list) = v.as_array() else {
        if !v.is_null() {
            cx.error(path, "constraints must be a list of [field, OPERATOR, value?]");
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let p = idx(path, i);
        let parts: Option<Vec<String>> = c.as_array().map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        });
        let Some(mut parts) = parts else {
            cx.error(&p, "a constraint must be a list [field, OPERATOR, value?]");
            continue;
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
        push_constraint(parts, &p, c, cx, &mut out);
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

/// Volumes that lost their only source (an unsupported kind) are left out and reported.
fn clean_volumes(spec: &mut Map<String, Value>, path: &str, cx: &mut Cx) {
    let Some(vols) = spec.get_mut("container").and_then(|c| c.get_mut("volumes")).and_then(Value::as_array_mut) else {
        return;
    };
    let mut i = 0;
    vols.retain(|v| {
        let keep = ["hostPath", "persistent", "external", "secret"].iter().any(|k| v.get(*k).is_some());
        if !keep {
            cx.loss(
                Effect::Dropped,
                &idx(&key(&key(path, "container"), "volumes"), i),
                Some(v),
                "the volume has no host path, persistent, external or secret source the App kind knows",
                "mount the data with a Kubernetes volume in a patch, or use a persistent volume",
            );
        }
        i += 1;
        keep
    });
}

#[allow(clippy::too_many_arguments)]
fn pod(
    file: &str,
    p: &Map<String, Value>,
    path: &str,
    group: &str,
    inherited: &[(String, String)],
    opts: &ImportOptions,
    w: &mut Walk,
    st: &mut State,
) {
    let Some((id, namespace, name)) = locate(file, p, path, group, opts, st) else { return };
    let mut cx = Cx { file, object: format!("App {namespace}/{name}"), reasons: REASONS, kind: "App", st };
    let deps = own_deps(p, path, group, inherited, &mut cx);
    let schema = spec_schema("App", &[]);
    let props = &schema["properties"];
    let mut spec = Map::new();
    let put = |spec: &mut Map<String, Value>, dest: &str, v: &Value, src: &str, cx: &mut Cx| {
        if let Some(c) = carry(v, &props[dest], src, dest, cx) {
            spec.insert(dest.into(), c);
        }
    };
    let pod_env = p.get("environment").cloned().unwrap_or(Value::Null);
    let pod_user = p.get("user").and_then(Value::as_str).map(str::to_string);
    let mut grace: Vec<(f64, Value, String)> = Vec::new();
    for (k, v) in p {
        let kp = key(path, k);
        match k.as_str() {
            "id" | "dependencies" | "environment" | "containers" => {}
            s if APP_STATE.contains(&s) => {}
            "labels" | "user" | "secrets" | "volumes" | "networks" | "role" => put(&mut spec, k, v, &kp, &mut cx),
            "scaling" => {
                for (sk, sv) in v.as_object().into_iter().flatten() {
                    let sp = key(&kp, sk);
                    match sk.as_str() {
                        "instances" => put(&mut spec, "instances", sv, &sp, &mut cx),
                        "kind" if sv.as_str() == Some("fixed") => {}
                        _ => cx.drop_field(&sp, &format!("scaling.{sk}"), sv),
                    }
                }
            }
            "scheduling" => {
                for (sk, sv) in v.as_object().into_iter().flatten() {
                    let sp = key(&kp, sk);
                    match sk.as_str() {
                        "backoff" => {
                            for (bk, bv) in sv.as_object().into_iter().flatten() {
                                let bp = key(&sp, bk);
                                match bk.as_str() {
                                    "backoff" => put(&mut spec, "backoffSeconds", bv, &bp, &mut cx),
                                    "backoffFactor" => put(&mut spec, "backoffFactor", bv, &bp, &mut cx),
                                    "maxLaunchDelay" => put(&mut spec, "maxLaunchDelaySeconds", bv, &bp, &mut cx),
                                    _ => cx.drop_field(&bp, &format!("scheduling.backoff.{bk}"), bv),
                                }
                            }
                        }
                        "upgrade" => put(&mut spec, "upgradeStrategy", sv, &sp, &mut cx),
                        "killSelection" | "unreachableStrategy" => put(&mut spec, sk, sv, &sp, &mut cx),
                        "placement" => {
                            for (pk, pv) in sv.as_object().into_iter().flatten() {
                                let pp = key(&sp, pk);
                                match pk.as_str() {
                                    "acceptedResourceRoles" => put(&mut spec, pk, pv, &pp, &mut cx),
                                    "constraints" => {
                                        let cs = pod_constraints(pv, &pp, &mut cx);
                                        if !cs.is_empty() {
                                            spec.insert("constraints".into(), Value::Array(cs));
                                        }
                                    }
                                    _ => cx.drop_field(&pp, &format!("scheduling.placement.{pk}"), pv),
                                }
                            }
                        }
                        _ => cx.drop_field(&sp, &format!("scheduling.{sk}"), sv),
                    }
                }
            }
            _ => cx.drop_field(&kp, k, v),
        }
    }
    let mut containers = Vec::new();
    let cschema = &props["containers"]["items"];
    for (i, c) in p.get("containers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let cp = idx(&key(path, "containers"), i);
        let Some(cm) = c.as_object() else {
            cx.error(&cp, "a pod container must be a JSON object");
            continue;
        };
        let mut cm = cm.clone();
        // Pod-level environment applies to every container; the container's own wins.
        if let Some(penv) = pod_env.as_object() {
            let mut env = penv.clone();
            if let Some(own) = cm.get("environment").and_then(Value::as_object) {
                env.extend(own.clone());
            }
            if !env.is_empty() {
                cm.insert("environment".into(), Value::Object(env));
            }
        }
        if let Some(lc) = cm.remove("lifecycle") {
            if let Some(g) = lc.get("killGracePeriodSeconds").and_then(Value::as_f64) {
                grace.push((
                    g,
                    lc["killGracePeriodSeconds"].clone(),
                    key(&key(&cp, "lifecycle"), "killGracePeriodSeconds"),
                ));
            }
            if let Some(o) = lc.as_object() {
                for (lk, lv) in o {
                    if lk != "killGracePeriodSeconds" {
                        cx.drop_field(&key(&key(&cp, "lifecycle"), lk), "containers.lifecycle", lv);
                    }
                }
            }
        }
        if let Some(u) = cm.remove("user").filter(|u| !u.is_null()) {
            if pod_user.is_none() && !spec.contains_key("user") && u.is_string() {
                spec.insert("user".into(), u);
            } else if u.as_str() != spec.get("user").and_then(Value::as_str) {
                cx.loss(
                    Effect::Dropped,
                    &key(&cp, "user"),
                    Some(&u),
                    "the App kind has one user for the whole pod",
                    "set runAsUser on this container with a patch",
                );
            }
        }
        if let Some(Value::Object(out)) = carry(&Value::Object(cm), cschema, &cp, "containers", &mut cx) {
            containers.push(Value::Object(out));
        }
    }
    spec.insert("containers".into(), Value::Array(containers));
    if let Some((first, _, _)) = grace.first() {
        spec.insert("taskKillGracePeriodSeconds".into(), json!(grace.iter().map(|g| g.0).fold(*first, f64::max)));
        if grace.iter().any(|g| g.0 != *first) {
            for (_, original, gp) in &grace {
                cx.loss(
                    Effect::Approximated,
                    gp,
                    Some(original),
                    "Kubernetes has one termination grace period per pod; the longest is used",
                    "nothing, unless a container must be killed sooner",
                );
            }
        }
    }
    w.apps.push(Pending { file: file.into(), path: path.into(), id, namespace, name, spec, deps, pod: true });
}

/// Pod constraints are objects `{fieldName, operator, value}`.
fn pod_constraints(v: &Value, path: &str, cx: &mut Cx) -> Vec<Value> {
    let Some(list) = v.as_array() else {
        if !v.is_null() {
            cx.error(path, "constraints must be a list");
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let p = idx(path, i);
        if c.is_array() {
            out.extend(convert_constraints(&json!([c]), &p, cx));
            continue;
        }
        let field = c.get("fieldName").and_then(Value::as_str);
        let op = c.get("operator").and_then(Value::as_str);
        let (Some(field), Some(op)) = (field, op) else {
            cx.error(&p, "a pod constraint needs `fieldName` and `operator`");
            continue;
        };
        let mut parts = vec![field.to_string(), op.to_ascii_uppercase()];
        match c.get("value") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => parts.push(s.clone()),
            Some(other) => parts.push(other.to_string()),
        }
        push_constraint(parts, &p, c, cx, &mut out);
    }
    out
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
        let mut cx =
            Cx { file: &a.file, object: format!("App {}/{}", a.namespace, a.name), reasons: REASONS, kind: "App", st };
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
        let what = if a.pod { "Marathon pod" } else { "Marathon app" };
        st.push(Imported {
            kind: "App",
            namespace: a.namespace.clone(),
            name: a.name.clone(),
            source: a.file.clone(),
            source_path: a.path.clone(),
            comments: vec![format!("{what} {} from {} {}", a.id, a.file, a.path)],
            value: manifest("App", &a.namespace, &a.name, spec),
        });
    }
}

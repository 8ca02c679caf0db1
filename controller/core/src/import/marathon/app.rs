//! One Marathon app to an App spec (pure): deprecated fields take their modern form
//! (networking, ports, `uris`), health checks fit Dromos' rules, then the schema walk.

use super::constraints::convert_constraints;
use super::{APP_STATE, Site, Walk, drop_backoff, is_package, start};
use crate::import::{Cx, Effect, State, carry, idx, is_empty, key, spec_schema};
use serde_json::{Map, Value, json};

/// A field moved to a new place before the schema walk: destination (`parent.field`), value,
/// and the JSON path it came from.
type Moved = (&'static str, Value, String);

pub(super) fn app(s: &Site, a: &Map<String, Value>, w: &mut Walk, st: &mut State) {
    let path = s.path;
    if is_package(a) {
        if let Some((id, namespace, name)) = super::locate(s, a, st) {
            crate::import::cosmos::from_marathon_app(s.file, a, path, &id, &namespace, &name, st);
        }
        return;
    }
    let Some((mut pending, mut cx)) = start(s, a, false, st) else { return };
    let mut m = a.clone();
    strip(&mut m, path, &mut cx);
    let (docker_mappings, ip_ports) = networks(&mut m, path, &mut cx);
    let moved = ports(&mut m, path, docker_mappings, ip_ports, &mut cx);

    // `uris` -> `fetch`.
    if let Some(uris) = m.remove("uris").filter(|v| !is_empty(v)) {
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
    pending.spec = spec;
    w.apps.push(pending);
}

/// State, the id and dependencies (taken already), the default executor, and `args` beside
/// `cmd`.
fn strip(m: &mut Map<String, Value>, path: &str, cx: &mut Cx) {
    for k in APP_STATE.iter().chain(["id", "dependencies"].iter()) {
        m.remove(*k);
    }
    for f in ["backoffSeconds", "backoffFactor", "maxLaunchDelaySeconds"] {
        if let Some(v) = m.remove(f).filter(|v| !v.is_null()) {
            drop_backoff(f, &v, &key(path, f), cx);
        }
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
}

/// Networking: `networks` if given, else the deprecated `ipAddress` and
/// `container.docker.network`. Returns the deprecated `container.docker.portMappings` and the
/// port mappings `ipAddress.discovery` stands for.
fn networks(m: &mut Map<String, Value>, path: &str, cx: &mut Cx) -> (Option<Value>, Option<Value>) {
    let mut docker = |field: &str| {
        m.get_mut("container")
            .and_then(Value::as_object_mut)
            .and_then(|c| c.get_mut("docker"))
            .and_then(Value::as_object_mut)
            .and_then(|d| d.remove(field))
    };
    let docker_network = docker("network");
    let docker_mappings = docker("portMappings");
    let ip_address = m.remove("ipAddress").filter(|v| !v.is_null());
    let has_networks = m.get("networks").and_then(Value::as_array).is_some_and(|n| !n.is_empty());
    let mut ip_ports: Option<Value> = None;
    if has_networks {
        return (docker_mappings, ip_ports);
    }
    if let Some(ip) = &ip_address {
        ip_ports = ip_network(m, ip, &key(path, "ipAddress"), cx);
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
    (docker_mappings, ip_ports)
}

/// The deprecated `ipAddress` becomes a container network; its discovery ports are returned
/// as port mappings.
fn ip_network(m: &mut Map<String, Value>, ip: &Value, p: &str, cx: &mut Cx) -> Option<Value> {
    let mut ip_ports = None;
    let mut net = Map::new();
    net.insert("mode".into(), json!("container"));
    if let Some(n) = ip.get("networkName").filter(|n| !n.is_null()) {
        net.insert("name".into(), n.clone());
    }
    if let Some(l) = ip.get("labels").filter(|l| !is_empty(l)) {
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
                    if let Some(v) = dp.get(f).filter(|v| !is_empty(v)) {
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
                cx.drop_field(&key(p, k), &format!("ipAddress.{k}"), v);
            }
        }
    }
    ip_ports
}

/// Ports: `container.docker.portMappings` -> `container.portMappings`; `ports` ->
/// `portDefinitions` in host mode (elsewhere Marathon reports service ports there).
fn ports(
    m: &mut Map<String, Value>,
    path: &str,
    docker_mappings: Option<Value>,
    ip_ports: Option<Value>,
    cx: &mut Cx,
) -> Vec<Moved> {
    let mut moved: Vec<Moved> = Vec::new();
    let host = m
        .get("networks")
        .and_then(Value::as_array)
        .is_none_or(|n| n.iter().all(|n| n.get("mode").and_then(Value::as_str).unwrap_or("host") == "host"));
    let dm_path = key(&key(&key(path, "container"), "docker"), "portMappings");
    if let Some(pm) = docker_mappings.filter(|v| !is_empty(v)) {
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
    } else if let Some(pd) = m.remove("portDefinitions").filter(|v| !is_empty(v)) {
        cx.loss(
            Effect::Note,
            &key(path, "portDefinitions"),
            Some(&pd),
            "Marathon uses portDefinitions only with host networking",
            "nothing; the container's port mappings are carried",
        );
    }
    moved
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

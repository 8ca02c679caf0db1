//! Validation of an App's networks and ports (pure).

use crate::app::{is_host_networking, port_names};
use crate::diag::Diagnostic;
use crate::ids;
use crate::load::Manifest;
use dromos_crds::app::App;
use std::collections::{BTreeMap, BTreeSet};

/// Network modes, and which port fields go with them.
pub(super) fn check_networks(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let modes: Vec<&str> = s.networks.iter().map(|n| n.mode.as_deref().unwrap_or("host")).collect();
    for (i, mode) in modes.iter().enumerate() {
        if !["host", "container", "container/bridge"].contains(mode) {
            out.push(m.error(
                "invalid-value",
                &format!("spec.networks[{i}].mode"),
                format!("network mode `{mode}` is not host, container or container/bridge"),
            ));
        }
    }
    if modes.contains(&"host") && modes.len() > 1 {
        out.push(m.error(
            "invalid-networks",
            "spec.networks",
            "host networking cannot be combined with other networks",
        ));
    }
    if modes.iter().filter(|m| **m == "container/bridge").count() > 1
        || (modes.contains(&"container/bridge") && modes.contains(&"container"))
    {
        out.push(m.error(
            "invalid-networks",
            "spec.networks",
            "bridge networking cannot be combined with other networks",
        ));
    }
    let host = is_host_networking(app);
    if host && s.container.as_ref().is_some_and(|c| c.port_mappings.as_ref().is_some_and(|p| !p.is_empty())) {
        out.push(
            m.error(
                "ports-for-network",
                "spec.container.portMappings",
                "portMappings need container or container/bridge networking",
            )
            .with_hint("use `portDefinitions` with host networking, or add `networks: [{mode: container/bridge}]`"),
        );
    }
    if !host && s.port_definitions.as_ref().is_some_and(|p| !p.is_empty()) {
        out.push(
            m.error("ports-for-network", "spec.portDefinitions", "portDefinitions are only for host networking")
                .with_hint("use `container.portMappings`"),
        );
    }
    if s.port_definitions.is_some() && s.ports.is_some() {
        out.push(m.error(
            "ports-twice",
            "spec.ports",
            "`ports` (deprecated) and `portDefinitions` are mutually exclusive",
        ));
    }
}

/// Port names, numbers, protocols and VIP labels.
pub(super) fn check_ports(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let names = port_names(app);
    let mut seen = BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(n) = n {
            if !seen.insert(n.clone()) {
                out.push(m.error(
                    "duplicate-name",
                    &port_path(app, i, "name"),
                    format!("port name `{n}` is used twice"),
                ));
            }
            if let Err(e) = ids::check_dns_label(n) {
                out.push(m.error("invalid-name", &port_path(app, i, "name"), format!("port name {e}")));
            }
        }
    }
    let check_port = |v: Option<i32>, p: String, out: &mut Vec<Diagnostic>| {
        if let Some(v) = v
            && !(0..=65535).contains(&v)
        {
            out.push(m.error("out-of-range", &p, format!("port {v} is outside 0-65535")));
        }
    };
    if let Some(pd) = &s.port_definitions {
        for (i, p) in pd.iter().enumerate() {
            check_port(p.port, format!("spec.portDefinitions[{i}].port"), out);
            check_protocol(m, p.protocol.as_deref(), &format!("spec.portDefinitions[{i}].protocol"), out);
            check_vip_labels(m, &p.labels, &format!("spec.portDefinitions[{i}].labels"), out);
        }
    }
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        for (i, p) in pm.iter().enumerate() {
            check_port(p.container_port, format!("spec.container.portMappings[{i}].containerPort"), out);
            check_port(p.host_port, format!("spec.container.portMappings[{i}].hostPort"), out);
            check_port(p.service_port, format!("spec.container.portMappings[{i}].servicePort"), out);
            check_protocol(m, p.protocol.as_deref(), &format!("spec.container.portMappings[{i}].protocol"), out);
            check_vip_labels(m, &p.labels, &format!("spec.container.portMappings[{i}].labels"), out);
            if p.container_port.unwrap_or(0) == 0 && p.host_port.is_none() {
                out.push(m.error(
                    "invalid-port",
                    &format!("spec.container.portMappings[{i}].containerPort"),
                    "a port mapping without a hostPort needs a non-zero containerPort",
                ));
            }
        }
    }
    if s.require_ports == Some(true)
        && let Some(pd) = &s.port_definitions
        && pd.iter().any(|p| p.port.unwrap_or(0) == 0)
    {
        out.push(m.error("invalid-port", "spec.requirePorts", "requirePorts needs every port to be non-zero"));
    }
}

pub(super) fn port_path(app: &App, i: usize, field: &str) -> String {
    let s = &app.spec;
    if !s.containers.is_empty() {
        let mut n = i;
        for (ci, c) in s.containers.iter().enumerate() {
            if n < c.endpoints.len() {
                return format!("spec.containers[{ci}].endpoints[{n}].{field}");
            }
            n -= c.endpoints.len();
        }
    }
    if s.container.as_ref().and_then(|c| c.port_mappings.as_ref()).is_some() {
        return format!("spec.container.portMappings[{i}].{field}");
    }
    format!("spec.portDefinitions[{i}].{field}")
}

fn check_protocol(m: &Manifest, proto: Option<&str>, path: &str, out: &mut Vec<Diagnostic>) {
    if let Some(p) = proto
        && !["tcp", "udp", "udp,tcp", "tcp,udp"].contains(&p)
    {
        out.push(m.error("invalid-value", path, format!("protocol `{p}` is not tcp, udp or udp,tcp")));
    }
}

fn check_vip_labels(m: &Manifest, labels: &BTreeMap<String, String>, path: &str, out: &mut Vec<Diagnostic>) {
    for (k, v) in labels {
        if k.starts_with("VIP_") {
            let ok = v.rsplit_once(':').is_some_and(|(name, port)| {
                !name.trim_start_matches('/').is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                out.push(m.error(
                    "invalid-vip",
                    &crate::yaml::join_key(path, k),
                    format!("VIP label `{v}` must be `name:port` or `/name:port`"),
                ));
            }
        }
    }
}

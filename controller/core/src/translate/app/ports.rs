//! An App's ports as the pod sees them (pure): Marathon's port definitions, port mappings and
//! pod endpoints resolved to container ports, with "port 0" given a fixed number.

use crate::app::{is_host_networking, port_names};
use dromos_crds::app::App;
use k8s_openapi::api::core::v1::ContainerPort;
use std::collections::BTreeMap;

/// A resolved port of an App.
#[derive(Clone, Debug)]
pub(super) struct PortInfo {
    /// Port name, when it has one.
    pub name: Option<String>,
    /// Port inside the container.
    pub container_port: i32,
    /// Port on the node, when one is required.
    pub host_port: Option<i32>,
    /// TCP or UDP.
    pub protocol: String,
    /// The VIP (`VIP_n` label): Service name and port.
    pub vip: Option<(String, i32)>,
}

/// First port assigned to Marathon "port 0" (pick one) ports, which Kubernetes cannot pick.
pub const DYNAMIC_PORT_BASE: i32 = 10000;

/// The VIP a port's labels name (`VIP_0: /name:port`).
pub(super) fn parse_vip(labels: &BTreeMap<String, String>) -> Option<(String, i32)> {
    labels.iter().find(|(k, _)| k.starts_with("VIP_")).and_then(|(_, v)| {
        let (name, port) = v.rsplit_once(':')?;
        let name = name.trim_start_matches('/').replace(['/', '.', '_'], "-").to_ascii_lowercase();
        Some((name, port.parse().ok()?))
    })
}

/// The container ports of resolved ports (none when there are none).
pub(super) fn container_ports(ports: &[PortInfo]) -> Option<Vec<ContainerPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|p| ContainerPort {
                name: p.name.clone(),
                container_port: p.container_port,
                host_port: p.host_port,
                protocol: Some(p.protocol.clone()),
                host_ip: None,
            })
            .collect()
    })
}

pub(super) fn protocol_of(p: Option<&str>) -> String {
    match p {
        Some(p) if p.starts_with("udp") && !p.contains("tcp") => "UDP".into(),
        _ => "TCP".into(),
    }
}

/// The ports of an App in app form (host ports, port definitions or port mappings).
pub(super) fn app_ports(app: &App) -> Vec<PortInfo> {
    let s = &app.spec;
    let names = port_names(app);
    let dynamic = |i: usize| DYNAMIC_PORT_BASE + i as i32;
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        return pm
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let host = p.host_port.filter(|h| *h > 0);
                let cp = p.container_port.filter(|c| *c > 0).or(host).unwrap_or(dynamic(i));
                PortInfo {
                    name: names[i].clone(),
                    container_port: cp,
                    host_port: host,
                    protocol: protocol_of(p.protocol.as_deref()),
                    vip: parse_vip(&p.labels),
                }
            })
            .collect();
    }
    if !is_host_networking(app) {
        return vec![];
    }
    let require = s.require_ports.unwrap_or(false);
    if let Some(pd) = &s.port_definitions {
        return pd
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let port = p.port.filter(|p| *p > 0).unwrap_or(dynamic(i));
                PortInfo {
                    name: names[i].clone(),
                    container_port: port,
                    host_port: require.then_some(port),
                    protocol: protocol_of(p.protocol.as_deref()),
                    vip: parse_vip(&p.labels),
                }
            })
            .collect();
    }
    let ports: Vec<i32> = s.ports.clone().unwrap_or_else(|| vec![0]);
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let port = if *p > 0 { *p } else { dynamic(i) };
            PortInfo {
                name: names.get(i).cloned().flatten(),
                container_port: port,
                host_port: require.then_some(port),
                protocol: "TCP".into(),
                vip: None,
            }
        })
        .collect()
}

/// The endpoints of each container of an App in pod form; "port 0" ones numbered on from
/// [`DYNAMIC_PORT_BASE`] across all containers.
pub(super) fn pod_ports(app: &App) -> Vec<Vec<PortInfo>> {
    let mut n = 0usize;
    let mut out = Vec::new();
    for c in &app.spec.containers {
        let mut ports = Vec::new();
        for e in &c.endpoints {
            let cp = e
                .container_port
                .filter(|p| *p > 0)
                .or(e.host_port.filter(|p| *p > 0))
                .unwrap_or(DYNAMIC_PORT_BASE + n as i32);
            n += 1;
            ports.push(PortInfo {
                name: Some(e.name.clone()),
                container_port: cp,
                host_port: e.host_port.filter(|p| *p > 0),
                protocol: protocol_of(e.protocol.first().map(String::as_str)),
                vip: parse_vip(&e.labels),
            });
        }
        out.push(ports);
    }
    out
}

/// The container port of the port named `name`, else the first dynamic port.
pub(super) fn port_named(ports: &[PortInfo], name: &str) -> i32 {
    ports.iter().find(|p| p.name.as_deref() == Some(name)).map(|p| p.container_port).unwrap_or(DYNAMIC_PORT_BASE)
}

//! Nodes and their bound pods -> Mesos-style offers (pure).
//!
//! * total = node `status.allocatable` (else `capacity`): `cpu` in cores, `memory` and
//!   `ephemeral-storage` in MiB, GPUs = `nvidia.com/gpu` + `amd.com/gpu`;
//! * free = total minus the effective requests of the non-terminal pods bound to the node
//!   (`spec.nodeName`, phase not Succeeded/Failed, terminating pods included: they still hold
//!   their resources). A container's request falls back to its limit, as the API server
//!   defaults it; the effective pod request is Kubernetes': max(sum of containers plus
//!   sidecars, each init container plus the sidecars started before it) plus `overhead`;
//! * free host ports = the node's port ranges ([`PORTS_ANNOTATION`], default
//!   [`DEFAULT_PORTS`]) minus every `hostPort` of those pods, whatever the protocol (a Mesos
//!   port resource has none);
//! * roles: the values of the label and of `NoSchedule`/`NoExecute` taints with key
//!   [`ROLE_KEY`] (`dromos.io/role=R`, the convention `translate` renders tolerations for);
//! * schedulable: false when `spec.unschedulable` (cordoned) or when the node has a
//!   `NoSchedule`/`NoExecute` taint with any other key (control plane, not-ready, ...): no App
//!   tolerates those, so such a node offers nothing. The role taint is not such a taint: it is
//!   the reservation, tolerated by the apps that accept the role.

use super::{NodeOffer, Resources};
use crate::plan::parse_quantity;
use crate::translate::ROLE_KEY;
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::{BTreeMap, HashMap};

/// Node annotation that overrides the host ports a node offers: `31000-32000,40000-40100`
/// (the Mesos form `[31000-32000,40000-40100]` and single ports `8080` are accepted too).
pub const PORTS_ANNOTATION: &str = "dromos.io/ports";

/// Host ports a node offers when it has no [`PORTS_ANNOTATION`] (inclusive).
pub const DEFAULT_PORTS: (u16, u16) = (1025, 32000);

const MIB: f64 = 1024.0 * 1024.0;
const GPU_RESOURCES: [&str; 2] = ["nvidia.com/gpu", "amd.com/gpu"];

fn resources_of(map: Option<&BTreeMap<String, Quantity>>) -> Resources {
    let q = |k: &str| map.and_then(|m| m.get(k)).and_then(|q| parse_quantity(&q.0)).unwrap_or(0.0);
    Resources {
        cpus: q("cpu"),
        mem: q("memory") / MIB,
        disk: q("ephemeral-storage") / MIB,
        gpus: GPU_RESOURCES.iter().map(|k| q(k)).sum(),
    }
}

fn add(a: Resources, b: Resources) -> Resources {
    Resources { cpus: a.cpus + b.cpus, mem: a.mem + b.mem, disk: a.disk + b.disk, gpus: a.gpus + b.gpus }
}

fn max(a: Resources, b: Resources) -> Resources {
    Resources { cpus: a.cpus.max(b.cpus), mem: a.mem.max(b.mem), disk: a.disk.max(b.disk), gpus: a.gpus.max(b.gpus) }
}

fn container_request(c: &Container) -> Resources {
    let Some(r) = &c.resources else { return Resources::default() };
    let req = resources_of(r.requests.as_ref());
    let lim = resources_of(r.limits.as_ref());
    let pick = |k: &str, rq: f64, lm: f64| {
        let explicit = r.requests.as_ref().is_some_and(|m| match k {
            "gpus" => GPU_RESOURCES.iter().any(|g| m.contains_key(*g)),
            other => m.contains_key(other),
        });
        if explicit { rq } else { lm }
    };
    Resources {
        cpus: pick("cpu", req.cpus, lim.cpus),
        mem: pick("memory", req.mem, lim.mem),
        disk: pick("ephemeral-storage", req.disk, lim.disk),
        gpus: pick("gpus", req.gpus, lim.gpus),
    }
}

/// The effective resource request of a pod, as the Kubernetes scheduler computes it.
pub fn pod_request(pod: &Pod) -> Resources {
    let Some(spec) = &pod.spec else { return Resources::default() };
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_request(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = add(sidecars, r);
            init_peak = max(init_peak, sidecars);
        } else {
            init_peak = max(init_peak, add(sidecars, r));
        }
    }
    let regular = spec.containers.iter().map(container_request).fold(sidecars, add);
    add(max(regular, init_peak), resources_of(spec.overhead.as_ref()))
}

fn pod_host_ports(pod: &Pod) -> Vec<u16> {
    let Some(spec) = &pod.spec else { return vec![] };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| p.host_port)
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
        .collect()
}

/// Parses a ports annotation: `31000-32000,40000`, optionally in brackets.
pub fn parse_port_ranges(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
    let mut out = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let port = |x: &str| match x.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("`{}` is not a port (1-65535)", x.trim())),
        };
        let (a, b) = (port(a)?, port(b)?);
        if a > b {
            return Err(format!("range `{part}` ends before it begins"));
        }
        out.push((a, b));
    }
    if out.is_empty() {
        return Err("no port range given".into());
    }
    Ok(normalize_ranges(out))
}

/// Sorts and merges overlapping or adjacent ranges.
pub(super) fn normalize_ranges(mut r: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    r.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Removes one port from sorted disjoint ranges; false when it was not free.
pub(super) fn remove_port(ranges: &mut Vec<(u16, u16)>, p: u16) -> bool {
    let Some(i) = ranges.iter().position(|&(a, b)| a <= p && p <= b) else { return false };
    let (a, b) = ranges[i];
    match (p == a, p == b) {
        (true, true) => {
            ranges.remove(i);
        }
        (true, false) => ranges[i].0 = p + 1,
        (false, true) => ranges[i].1 = p - 1,
        (false, false) => {
            ranges[i].1 = p - 1;
            ranges.insert(i + 1, (p + 1, b));
        }
    }
    true
}

fn node_offer(node: &Node, pods: &[&Pod]) -> NodeOffer {
    let name = node.metadata.name.clone().unwrap_or_default();
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let status = node.status.as_ref();
    let total = resources_of(status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref())));
    let mut problems = Vec::new();
    let mut free_ports = match node.metadata.annotations.as_ref().and_then(|a| a.get(PORTS_ANNOTATION)) {
        None => vec![DEFAULT_PORTS],
        Some(v) => parse_port_ranges(v).unwrap_or_else(|e| {
            problems.push(format!(
                "node {name}: annotation {PORTS_ANNOTATION} `{v}`: {e}; offering the default {}-{}",
                DEFAULT_PORTS.0, DEFAULT_PORTS.1
            ));
            vec![DEFAULT_PORTS]
        }),
    };
    let mut free = total;
    for pod in pods {
        let r = pod_request(pod);
        free = Resources {
            cpus: free.cpus - r.cpus,
            mem: free.mem - r.mem,
            disk: free.disk - r.disk,
            gpus: free.gpus - r.gpus,
        };
        for p in pod_host_ports(pod) {
            remove_port(&mut free_ports, p);
        }
    }
    let spec = node.spec.as_ref();
    let taints = spec.and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let hard = |effect: &str| effect == "NoSchedule" || effect == "NoExecute";
    let mut roles: Vec<String> = labels.get(ROLE_KEY).cloned().into_iter().collect();
    roles.extend(taints.iter().filter(|t| t.key == ROLE_KEY && hard(&t.effect)).filter_map(|t| t.value.clone()));
    roles.sort();
    roles.dedup();
    let schedulable = !spec.and_then(|s| s.unschedulable).unwrap_or(false)
        && !taints.iter().any(|t| t.key != ROLE_KEY && hard(&t.effect));
    NodeOffer {
        hostname: labels.get("kubernetes.io/hostname").cloned().unwrap_or_else(|| name.clone()),
        region: labels.get("topology.kubernetes.io/region").cloned(),
        zone: labels.get("topology.kubernetes.io/zone").cloned(),
        node: name,
        attributes: labels,
        total,
        free,
        free_ports,
        roles,
        schedulable,
        problems,
    }
}

/// Every node as an offer, including those nothing may be placed on (`schedulable: false`),
/// in the order of `nodes`. Pass this to [`super::Offers::new`] so that instances running on
/// cordoned nodes still count for the constraints.
pub fn known_nodes_from_nodes<N: std::borrow::Borrow<Node>, P: std::borrow::Borrow<Pod>>(
    nodes: &[N],
    pods: &[P],
) -> Vec<NodeOffer> {
    let mut bound: HashMap<&str, Vec<&Pod>> = HashMap::new();
    for p in pods.iter().map(std::borrow::Borrow::borrow) {
        let terminal = matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.as_deref())
            && !terminal
        {
            bound.entry(n).or_default().push(p);
        }
    }
    nodes
        .iter()
        .map(std::borrow::Borrow::borrow)
        .map(|n: &Node| {
            node_offer(n, bound.get(n.metadata.name.as_deref().unwrap_or("")).map(Vec::as_slice).unwrap_or(&[]))
        })
        .collect()
}

/// The schedulable nodes as offers (see the module doc for every rule).
pub fn offers_from_nodes(nodes: &[Node], pods: &[Pod]) -> Vec<NodeOffer> {
    known_nodes_from_nodes(nodes, pods).into_iter().filter(|o| o.schedulable).collect()
}

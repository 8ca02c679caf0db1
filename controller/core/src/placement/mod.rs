//! Exact Marathon placement on Mesos-style offers (pure): offers + constraints -> decisions.
//!
//! Dromos keeps Marathon's placement semantics by treating every schedulable Kubernetes node
//! as a Mesos offer ([`NodeOffer`], built by [`offers_from_nodes`]) and evaluating the app's
//! constraints exactly as Marathon's `Constraints.scala` did (docs/dcos/constraints.md). No I/O, no clock; the only randomness is the `seed` argument, so the same input
//! and seed always give the same placement.
//!
//! * [`place_app`] / [`place_all`] choose a node for each pending instance and consume the
//!   chosen resources in [`Offers`];
//! * [`Declines`] says, for an app that could not be fully placed, how many offers were
//!   declined for which reason (Marathon's launch-queue statistics);
//! * [`kill_order`] orders instances for scale-down (constraint balance first, then
//!   `killSelection`).

mod eval;
mod kill;
mod nodes;
pub mod requests;
#[cfg(test)]
mod tests;

pub use eval::{attribute_value, format_scalar, label_value, meets_constraint};
pub use kill::kill_order;
pub use nodes::{
    DEFAULT_PORTS, PORTS_ANNOTATION, known_nodes_from_nodes, offers_from_nodes, parse_port_ranges, pod_request,
};

use crate::constraints::{Constraint, Operator};
use eval::{FieldKey, field_key, group_by_accepts, read_field};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

/// Mesos scalar resources. CPUs in cores, memory and disk in MiB, GPUs whole or fractional.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resources {
    /// CPUs (cores).
    pub cpus: f64,
    /// Memory in MiB.
    pub mem: f64,
    /// Disk (ephemeral storage) in MiB.
    pub disk: f64,
    /// GPUs.
    pub gpus: f64,
}

/// One node seen as a Mesos offer: its attributes, reserved roles and free resources.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeOffer {
    /// Node name (what a Binding targets).
    pub node: String,
    /// Label `kubernetes.io/hostname`, else the node name: the `hostname` field of constraints.
    pub hostname: String,
    /// Label `topology.kubernetes.io/region`: the `@region` field.
    pub region: Option<String>,
    /// Label `topology.kubernetes.io/zone`: the `@zone` field.
    pub zone: Option<String>,
    /// Node labels as-is; constraint fields read them through
    /// [`crate::constraints::attribute_label`].
    pub attributes: BTreeMap<String, String>,
    /// Allocatable resources.
    pub total: Resources,
    /// Allocatable minus the requests of non-terminal pods bound to the node.
    pub free: Resources,
    /// Free host ports as inclusive ranges, sorted and disjoint.
    pub free_ports: Vec<(u16, u16)>,
    /// Roles the node is reserved for; empty means unreserved (Mesos role `*`).
    pub roles: Vec<String>,
    /// False for a node no instance may be placed on (cordoned, tainted for everyone). Such
    /// nodes are still useful in [`Offers`]: instances already running there count for
    /// UNIQUE, MAX_PER, GROUP_BY and CLUSTER. [`offers_from_nodes`] returns only schedulable
    /// nodes; [`known_nodes_from_nodes`] returns all.
    pub schedulable: bool,
    /// Problems found while reading the node (a bad ports annotation, say), for events/logs.
    pub problems: Vec<String>,
}

/// One app to place: per-instance resources, ports, roles, constraints, what is placed.
#[derive(Clone, Debug, Default)]
pub struct AppRequest {
    /// `namespace/name`, for messages and the seeded tie-break.
    pub app: String,
    /// Resources per instance.
    pub resources: Resources,
    /// Requested host ports; 0 means any free port.
    pub host_ports: Vec<u16>,
    /// Marathon `acceptedResourceRoles`; empty means `*` plus `role` (as `translate` renders).
    pub accepted_roles: Vec<String>,
    /// The app's Mesos role (`role`), when set.
    pub role: Option<String>,
    /// Constraints, ANDed.
    pub constraints: Vec<Constraint>,
    /// Node names of the instances of the CURRENT version already placed, oldest first (the
    /// first one decides CLUSTER without a value). Old versions are not passed.
    pub placed: Vec<String>,
    /// Instances to place now.
    pub pending: usize,
}

/// One placed instance: its node and the host ports it got (in `host_ports` order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Node name.
    pub node: String,
    /// Host ports, one per requested port, in request order.
    pub ports: Vec<u16>,
}

/// The outcome of placing one app.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppPlacement {
    /// Placed instances, in placement order.
    pub assigned: Vec<Assignment>,
    /// Instances that found no acceptable offer.
    pub unplaced: usize,
    /// Why offers were declined, when `unplaced > 0` (empty otherwise).
    pub declines: Declines,
}

/// Why an offer was declined for an instance. The first failing check names the reason; checks
/// run in Marathon's funnel order: role, constraints (in app order), cpus, mem, disk, gpus,
/// ports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclineReason {
    /// Not enough free CPUs.
    InsufficientCpus,
    /// Not enough free memory.
    InsufficientMem,
    /// Not enough free disk.
    InsufficientDisk,
    /// Not enough free GPUs.
    InsufficientGpus,
    /// A requested host port is taken, or too few free ports.
    InsufficientPorts,
    /// The constraint (displayed as `UNIQUE hostname`, `GROUP_BY @zone 3`) is not met.
    Constraint(String),
    /// The node is reserved for roles the app does not accept (or is unreserved and the app
    /// does not accept `*`).
    RoleNotAccepted,
}

impl DeclineReason {
    /// Text used in summaries: `insufficient mem`, `UNIQUE hostname`, `role not accepted`.
    pub fn label(&self) -> String {
        match self {
            Self::InsufficientCpus => "insufficient cpus".into(),
            Self::InsufficientMem => "insufficient mem".into(),
            Self::InsufficientDisk => "insufficient disk".into(),
            Self::InsufficientGpus => "insufficient gpus".into(),
            Self::InsufficientPorts => "insufficient ports".into(),
            Self::Constraint(c) => c.clone(),
            Self::RoleNotAccepted => "role not accepted".into(),
        }
    }
}

/// Offers declined per reason for the last attempt to place an app's next instance: each
/// offer counted once, under its first failing reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declines {
    /// (reason, offers) sorted by count, highest first, then by funnel order.
    pub by_reason: Vec<(DeclineReason, usize)>,
}

impl DeclineReason {
    /// Position in Marathon's funnel; constraints keep their app order after the role.
    fn funnel(&self) -> u8 {
        match self {
            Self::RoleNotAccepted => 0,
            Self::Constraint(_) => 1,
            Self::InsufficientCpus => 2,
            Self::InsufficientMem => 3,
            Self::InsufficientDisk => 4,
            Self::InsufficientGpus => 5,
            Self::InsufficientPorts => 6,
        }
    }
}

impl Declines {
    /// Total offers declined.
    pub fn offers(&self) -> usize {
        self.by_reason.iter().map(|(_, n)| n).sum()
    }

    /// Offers declined for `reason`.
    pub fn count(&self, reason: &DeclineReason) -> usize {
        self.by_reason.iter().find(|(r, _)| r == reason).map_or(0, |(_, n)| *n)
    }

    /// `2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3`;
    /// `1 instance waiting: no offers` when nothing was offered; `no instances waiting` for 0.
    pub fn summary(&self, waiting: usize) -> String {
        if waiting == 0 {
            return "no instances waiting".into();
        }
        let head = format!("{waiting} instance{} waiting", if waiting == 1 { "" } else { "s" });
        let total = self.offers();
        if total == 0 {
            return format!("{head}: no offers");
        }
        let parts: Vec<String> = self.by_reason.iter().map(|(r, n)| format!("{} {n}", r.label())).collect();
        format!("{head}: {total} offer{} declined: {}", if total == 1 { "" } else { "s" }, parts.join(", "))
    }

    fn from_counts(order: &[DeclineReason], counts: Vec<usize>) -> Self {
        let mut by_reason: Vec<(usize, DeclineReason, usize)> = order
            .iter()
            .cloned()
            .zip(counts)
            .enumerate()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(i, (r, n))| (i, r, n))
            .collect();
        by_reason.sort_by_key(|(i, r, n)| (Reverse(*n), r.funnel(), *i));
        Self { by_reason: by_reason.into_iter().map(|(_, r, n)| (r, n)).collect() }
    }
}

/// The display of a constraint in decline reasons: `UNIQUE hostname`, `GROUP_BY @zone 3`.
pub fn constraint_label(c: &Constraint) -> String {
    match &c.value {
        Some(v) => format!("{} {} {}", c.op.name(), c.field, v),
        None => format!("{} {}", c.op.name(), c.field),
    }
}

/// The values of one constraint field over all offers, interned: `ids[offer]` is the value id.
#[derive(Clone, Debug, Default)]
struct FieldIndex {
    ids: Vec<Option<u32>>,
    names: Vec<String>,
}

/// An index over offers that consumes resources as instances are assigned. Field values are
/// interned per constraint field on first use, so constraint state is kept per value id, not
/// per offer.
#[derive(Clone, Debug, Default)]
pub struct Offers {
    offers: Vec<NodeOffer>,
    by_node: HashMap<String, usize>,
    node_hash: Vec<u64>,
    fields: HashMap<FieldKey, Arc<FieldIndex>>,
}

impl Offers {
    /// Indexes offers by node name (the last one wins on duplicates).
    pub fn new(offers: Vec<NodeOffer>) -> Self {
        let by_node = offers.iter().enumerate().map(|(i, o)| (o.node.clone(), i)).collect();
        let node_hash = offers.iter().map(|o| fnv(o.node.as_bytes())).collect();
        Self { offers, by_node, node_hash, fields: HashMap::new() }
    }

    /// The offer of a node, with what is still free.
    pub fn get(&self, node: &str) -> Option<&NodeOffer> {
        self.by_node.get(node).map(|&i| &self.offers[i])
    }

    /// Every offer, in input order.
    pub fn all(&self) -> &[NodeOffer] {
        &self.offers
    }

    fn field(&mut self, key: &FieldKey) -> Arc<FieldIndex> {
        if !self.fields.contains_key(key) {
            let mut by_name: HashMap<String, u32> = HashMap::new();
            let mut idx = FieldIndex::default();
            for o in &self.offers {
                let id = read_field(o, key).map(|v| {
                    *by_name.entry(v).or_insert_with_key(|v| {
                        idx.names.push(v.clone());
                        (idx.names.len() - 1) as u32
                    })
                });
                idx.ids.push(id);
            }
            self.fields.insert(key.clone(), Arc::new(idx));
        }
        Arc::clone(&self.fields[key])
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn mix(mut z: u64) -> u64 {
    // splitmix64 finalizer
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Slack for float comparisons of resources (requests are at most milli-precise).
const EPS: f64 = 1e-9;

/// The effective accepted roles: `acceptedResourceRoles`, or `*` plus the app's role when
/// empty (Marathon's default, and what `translate` renders as tolerations).
pub fn effective_roles(req: &AppRequest) -> Vec<String> {
    if req.accepted_roles.is_empty() {
        let mut a = vec!["*".to_string()];
        if let Some(r) = req.role.as_deref().filter(|r| *r != "*") {
            a.push(r.to_string());
        }
        a
    } else {
        req.accepted_roles.clone()
    }
}

/// Whether an offer's reservation is usable by an app accepting `accepted` roles: an
/// unreserved node needs `*`; a reserved node needs one of its roles.
pub fn role_accepted(offer: &NodeOffer, accepted: &[String]) -> bool {
    if offer.roles.is_empty() {
        accepted.iter().any(|r| r == "*")
    } else {
        offer.roles.iter().any(|r| accepted.contains(r))
    }
}

/// An app's host-port request, digested once per app: the fixed ports (sorted) and how many
/// dynamic ones (0) it wants.
struct PortNeed {
    fixed: Vec<u16>,
    any: usize,
    /// The same fixed port asked twice: no offer can satisfy it.
    duplicate: bool,
}

impl PortNeed {
    fn new(wanted: &[u16]) -> Self {
        let mut fixed: Vec<u16> = wanted.iter().copied().filter(|&p| p != 0).collect();
        let any = wanted.len() - fixed.len();
        fixed.sort_unstable();
        let duplicate = fixed.windows(2).any(|w| w[0] == w[1]);
        Self { fixed, any, duplicate }
    }

    fn fits(&self, free: &[(u16, u16)]) -> bool {
        if self.duplicate || !self.fixed.iter().all(|&p| free.iter().any(|&(a, b)| a <= p && p <= b)) {
            return false;
        }
        self.any == 0 || {
            let want = self.fixed.len() + self.any;
            let mut have = 0usize;
            free.iter().any(|&(a, b)| {
                have += usize::from(b - a) + 1;
                have >= want
            })
        }
    }
}

/// Takes the requested ports (0 = lowest free port) out of `free`; call only after
/// [`PortNeed::fits`].
fn take_ports(free: &mut Vec<(u16, u16)>, wanted: &[u16]) -> Vec<u16> {
    for &p in wanted.iter().filter(|&&p| p != 0) {
        nodes::remove_port(free, p);
    }
    wanted
        .iter()
        .map(|&p| {
            if p != 0 {
                return p;
            }
            let q = free[0].0;
            nodes::remove_port(free, q);
            q
        })
        .collect()
}

/// Live state of one constraint while an app is placed.
struct CState<'a> {
    c: &'a Constraint,
    /// Interned field values of every offer (shared with [`Offers`], never copied).
    field: Arc<FieldIndex>,
    /// Instances per value id (UNIQUE, MAX_PER, GROUP_BY).
    counts: Vec<usize>,
    /// GROUP_BY: values holding at least one instance, and values above the base share.
    used: usize,
    above: usize,
    /// CLUSTER without value: the value of the first placed instance (None inside: it lacks
    /// the field, so nothing can join it).
    first: Option<Option<u32>>,
    /// LIKE/UNLIKE/IS/CLUSTER v: verdict per value id (0 unknown, 1 pass, 2 fail).
    verdict: Vec<u8>,
}

impl CState<'_> {
    fn accepts(&mut self, offer: usize, target: usize) -> bool {
        let Some(v) = self.field.ids[offer] else { return self.c.op == Operator::Unlike };
        let v = v as usize;
        match self.c.op {
            Operator::Like | Operator::Unlike | Operator::Is | Operator::Cluster
                if self.c.op != Operator::Cluster || self.c.value.is_some() =>
            {
                if self.verdict[v] == 0 {
                    let name = &self.field.names[v];
                    let ok = match self.c.op {
                        Operator::Like => self.c.regex.as_ref().is_some_and(|r| r.is_match(name)),
                        Operator::Unlike => self.c.regex.as_ref().is_some_and(|r| !r.is_match(name)),
                        _ => self.c.value.as_deref() == Some(name.as_str()),
                    };
                    self.verdict[v] = if ok { 1 } else { 2 };
                }
                self.verdict[v] == 1
            }
            Operator::Cluster => self.first.is_none_or(|f| f == Some(v as u32)),
            Operator::Unique => self.counts[v] == 0,
            Operator::MaxPer => self.counts[v] < self.c.count.unwrap_or(1) as usize,
            Operator::GroupBy => group_by_accepts(
                self.c.count.unwrap_or(1),
                target,
                self.used,
                self.counts[v] > 0,
                self.counts[v],
                self.above,
            ),
            _ => unreachable!("every operator is matched above"),
        }
    }

    fn record(&mut self, offer: usize, target: usize) {
        let id = self.field.ids[offer];
        if self.first.is_none() {
            self.first = Some(id);
        }
        let Some(v) = id else { return };
        let v = v as usize;
        self.counts[v] += 1;
        if self.counts[v] == 1 {
            self.used += 1;
        }
        if self.c.op == Operator::GroupBy && self.counts[v] == target / self.c.count.unwrap_or(1) as usize + 1 {
            self.above += 1;
        }
    }
}

/// The first reason an offer is declined for the next instance, in funnel order.
fn check(
    o: &NodeOffer,
    i: usize,
    req: &AppRequest,
    ports: &PortNeed,
    roles: &[String],
    states: &mut [CState<'_>],
    target: usize,
) -> Result<(), DeclineReason> {
    if !role_accepted(o, roles) {
        return Err(DeclineReason::RoleNotAccepted);
    }
    for s in states.iter_mut() {
        if !s.accepts(i, target) {
            return Err(DeclineReason::Constraint(constraint_label(s.c)));
        }
    }
    let (need, free) = (&req.resources, &o.free);
    if free.cpus + EPS < need.cpus {
        return Err(DeclineReason::InsufficientCpus);
    }
    if free.mem + EPS < need.mem {
        return Err(DeclineReason::InsufficientMem);
    }
    if free.disk + EPS < need.disk {
        return Err(DeclineReason::InsufficientDisk);
    }
    if free.gpus + EPS < need.gpus {
        return Err(DeclineReason::InsufficientGpus);
    }
    if !req.host_ports.is_empty() && !ports.fits(&o.free_ports) {
        return Err(DeclineReason::InsufficientPorts);
    }
    Ok(())
}

/// Allocation of the dominant of cpus and mem, in millionths (0 = idle, 1,000,000 = full).
fn load(o: &NodeOffer) -> u64 {
    let frac = |free: f64, total: f64| if total > 0.0 { 1.0 - free / total } else { 0.0 };
    let f = frac(o.free.cpus, o.total.cpus).max(frac(o.free.mem, o.total.mem)).clamp(0.0, 1.0);
    (f * 1e6).round() as u64
}

/// Places `req.pending` instances of one app, consuming their resources and ports in `offers`.
///
/// Each instance goes to the acceptable schedulable offer with the lowest load (dominant share
/// of cpus and mem allocated), ties broken by a hash of (seed, app, node). Within one call
/// every check is monotone (resources only shrink, constraint counts only grow), so an offer
/// declined once is never looked at again for this app: the cost is O(offers log offers)
/// plus O(log offers) per instance.
pub fn place_app(offers: &mut Offers, req: &AppRequest, seed: u64) -> AppPlacement {
    let mut out = AppPlacement::default();
    if req.pending == 0 {
        return out;
    }
    let target = req.placed.len() + req.pending;
    let roles = effective_roles(req);
    let placed: Vec<usize> = req.placed.iter().filter_map(|n| offers.by_node.get(n).copied()).collect();
    let mut states: Vec<CState<'_>> = req
        .constraints
        .iter()
        .map(|c| {
            let field = offers.field(&field_key(c));
            let nv = field.names.len();
            CState { c, field, counts: vec![0; nv], used: 0, above: 0, first: None, verdict: vec![0; nv] }
        })
        .collect();
    for &i in &placed {
        for s in &mut states {
            s.record(i, target);
        }
    }
    let app_hash = mix(seed ^ fnv(req.app.as_bytes()));
    let tie = |i: usize, h: &[u64]| mix(app_hash ^ h[i]);
    let ports = PortNeed::new(&req.host_ports);
    let candidates: Vec<Reverse<(u64, u64, usize)>> = offers
        .offers
        .iter()
        .enumerate()
        .filter(|&(i, o)| o.schedulable && check(o, i, req, &ports, &roles, &mut states, target).is_ok())
        .map(|(i, o)| Reverse((load(o), tie(i, &offers.node_hash), i)))
        .collect();
    let mut heap = BinaryHeap::from(candidates);
    while out.assigned.len() < req.pending {
        let Some(Reverse((_, _, i))) = heap.pop() else { break };
        if check(&offers.offers[i], i, req, &ports, &roles, &mut states, target).is_err() {
            continue;
        }
        let o = &mut offers.offers[i];
        let r = &req.resources;
        o.free.cpus -= r.cpus;
        o.free.mem -= r.mem;
        o.free.disk -= r.disk;
        o.free.gpus -= r.gpus;
        let ports = take_ports(&mut o.free_ports, &req.host_ports);
        for s in &mut states {
            s.record(i, target);
        }
        out.assigned.push(Assignment { node: o.node.clone(), ports });
        heap.push(Reverse((load(&offers.offers[i]), tie(i, &offers.node_hash), i)));
    }
    out.unplaced = req.pending - out.assigned.len();
    if out.unplaced > 0 {
        let mut order: Vec<DeclineReason> = vec![DeclineReason::RoleNotAccepted];
        order.extend(req.constraints.iter().map(|c| DeclineReason::Constraint(constraint_label(c))));
        order.extend([
            DeclineReason::InsufficientCpus,
            DeclineReason::InsufficientMem,
            DeclineReason::InsufficientDisk,
            DeclineReason::InsufficientGpus,
            DeclineReason::InsufficientPorts,
        ]);
        let mut counts = vec![0usize; order.len()];
        for (i, o) in offers.offers.iter().enumerate() {
            if !o.schedulable {
                continue;
            }
            if let Err(r) = check(o, i, req, &ports, &roles, &mut states, target) {
                // Two constraints may display alike; the first position is the one checked.
                if let Some(k) = order.iter().position(|x| *x == r) {
                    counts[k] += 1;
                }
            }
        }
        out.declines = Declines::from_counts(&order, counts);
    }
    out
}

/// Places several apps in order, each seeing the resources the previous ones consumed. Each
/// app's tie-break hash mixes in its name, so apps do not all prefer the same nodes.
pub fn place_all(offers: &mut Offers, reqs: &[AppRequest], seed: u64) -> Vec<AppPlacement> {
    reqs.iter().map(|r| place_app(offers, r, seed)).collect()
}

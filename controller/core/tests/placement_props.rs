//! Property tests of the placement engine: every placement it makes is replayed against a
//! plain reference model of each Marathon operator (written independently, simple loops), and
//! resources and host ports are never oversubscribed.

use dromos_core::constraints::{Constraint, parse_constraint};
use dromos_core::placement::{AppRequest, NodeOffer, Offers, Resources, place_all};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

const CONSTRAINTS: &[&[&str]] = &[
    &["rack", "UNIQUE"],
    &["hostname", "UNIQUE"],
    &["rack", "CLUSTER"],
    &["rack", "CLUSTER", "r1"],
    &["@zone", "GROUP_BY", "2"],
    &["rack", "GROUP_BY", "3"],
    &["rack", "GROUP_BY", "1"],
    &["rack", "MAX_PER", "2"],
    &["@zone", "MAX_PER", "3"],
    &["rack", "LIKE", "r[01]"],
    &["rack", "UNLIKE", "r0"],
    &["@zone", "IS", "a"],
    &["hostname", "LIKE", "n[0-3]"],
    &["size", "IS", "1.5"],
    &["size", "LIKE", "2"],
];

fn constraint(i: usize) -> Constraint {
    parse_constraint(&CONSTRAINTS[i].iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

#[derive(Clone, Debug)]
struct NodeSpec {
    rack: Option<u8>,
    zone: Option<u8>,
    size: Option<u8>,
    cpus: u8,
    mem: u16,
    ports: u8,
    public: bool,
    schedulable: bool,
}

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        proptest::option::weighted(0.8, 0u8..3),
        proptest::option::weighted(0.8, 0u8..2),
        proptest::option::of(0u8..3),
        0u8..8,
        0u16..1024,
        0u8..4,
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.9),
    )
        .prop_map(|(rack, zone, size, cpus, mem, ports, public, schedulable)| NodeSpec {
            rack,
            zone,
            size,
            cpus,
            mem,
            ports,
            public,
            schedulable,
        })
}

fn build(i: usize, s: &NodeSpec) -> NodeOffer {
    let mut attributes = BTreeMap::new();
    if let Some(r) = s.rack {
        attributes.insert("rack".to_string(), format!("r{r}"));
    }
    if let Some(z) = s.size {
        // "1.50" reads as the scalar 1.5; "2.0" as 2; "x" stays text.
        attributes.insert("size".to_string(), ["1.50", "2.0", "x"][z as usize].to_string());
    }
    let total = Resources { cpus: 4.0, mem: 1024.0, disk: 100.0, gpus: 1.0 };
    let free = Resources { cpus: f64::from(s.cpus) * 0.5, mem: f64::from(s.mem), disk: 100.0, gpus: 1.0 };
    NodeOffer {
        node: format!("n{i}"),
        hostname: format!("n{i}"),
        region: None,
        zone: s.zone.map(|z| ["a", "b"][z as usize].to_string()),
        attributes,
        total,
        free,
        free_ports: if s.ports == 0 { vec![] } else { vec![(100, 100 + u16::from(s.ports) - 1)] },
        roles: if s.public { vec!["slave_public".into()] } else { vec![] },
        schedulable: s.schedulable,
        problems: vec![],
    }
}

#[derive(Clone, Debug)]
struct AppSpec {
    constraints: Vec<usize>,
    placed: Vec<usize>,
    pending: usize,
    cpus: u8,
    mem: u16,
    ports: Vec<u16>,
    roles: u8,
}

fn app_spec(nodes: usize) -> impl Strategy<Value = AppSpec> {
    (
        proptest::collection::vec(0..CONSTRAINTS.len(), 0..3),
        proptest::collection::vec(0..nodes, 0..4),
        0usize..9,
        1u8..4,
        0u16..300,
        proptest::sample::select(vec![vec![], vec![0], vec![100], vec![0, 101], vec![0, 0]]),
        0u8..3,
    )
        .prop_map(|(constraints, placed, pending, cpus, mem, ports, roles)| AppSpec {
            constraints,
            placed,
            pending,
            cpus,
            mem,
            ports,
            roles,
        })
}

fn request(name: &str, a: &AppSpec) -> AppRequest {
    AppRequest {
        app: name.into(),
        resources: Resources { cpus: f64::from(a.cpus) * 0.5, mem: f64::from(a.mem), disk: 10.0, gpus: 0.0 },
        host_ports: a.ports.clone(),
        accepted_roles: match a.roles {
            0 => vec![],
            1 => vec!["slave_public".into()],
            _ => vec!["*".into(), "slave_public".into()],
        },
        role: None,
        constraints: a.constraints.iter().map(|&i| constraint(i)).collect(),
        placed: a.placed.iter().map(|i| format!("n{i}")).collect(),
        pending: a.pending,
    }
}

// ---- reference model: plain loops, no indexes -------------------------------------------

/// Java `#,##0.###` of a label that is a plain decimal, for the fixtures used here.
fn ref_value(n: &NodeOffer, field: &str) -> Option<String> {
    match field {
        "hostname" => Some(n.hostname.clone()),
        "@zone" => n.zone.clone(),
        f => n.attributes.get(f).map(|v| match v.as_str() {
            "1.50" => "1.5".to_string(),
            "2.0" => "2".to_string(),
            other => other.to_string(),
        }),
    }
}

fn whole_match(re: &str, v: &str) -> bool {
    regex::Regex::new(&format!("^(?:{re})$")).unwrap().is_match(v)
}

/// Does node `n` meet constraint `c` with instances already on `placed` (values, oldest first)
/// and `target` instances in all?
fn ref_meets(c: &Constraint, n: &NodeOffer, placed: &[Option<String>], target: usize) -> bool {
    let op = c.op.name();
    let Some(v) = ref_value(n, &c.field) else { return op == "UNLIKE" };
    let arg = c.value.clone().unwrap_or_default();
    let mut same = 0;
    for p in placed {
        if p.as_deref() == Some(v.as_str()) {
            same += 1;
        }
    }
    match op {
        "UNIQUE" => same == 0,
        "IS" => v == arg,
        "LIKE" => whole_match(&arg, &v),
        "UNLIKE" => !whole_match(&arg, &v),
        "MAX_PER" => same < arg.parse::<usize>().unwrap(),
        "CLUSTER" if c.value.is_some() => v == arg,
        "CLUSTER" => match placed.first() {
            None => true,
            Some(first) => first.as_deref() == Some(v.as_str()),
        },
        "GROUP_BY" => {
            let groups: usize = arg.parse().unwrap();
            let mut counts: HashMap<String, usize> = HashMap::new();
            for p in placed.iter().flatten() {
                *counts.entry(p.clone()).or_insert(0) += 1;
            }
            if !counts.contains_key(&v) && counts.len() >= groups {
                return false;
            }
            let share = target / groups;
            let extra = target % groups;
            let mut others_over = 0;
            for (k, cnt) in &counts {
                if *k != v && *cnt > share {
                    others_over += 1;
                }
            }
            let mine = counts.get(&v).copied().unwrap_or(0);
            let limit = if others_over < extra { share + 1 } else { share };
            mine < limit
        }
        other => panic!("operator {other}"),
    }
}

fn ref_role_ok(n: &NodeOffer, req: &AppRequest) -> bool {
    let accepted = if req.accepted_roles.is_empty() { vec!["*".to_string()] } else { req.accepted_roles.clone() };
    if n.roles.is_empty() { accepted.contains(&"*".to_string()) } else { n.roles.iter().any(|r| accepted.contains(r)) }
}

fn ref_ports_ok(free: &[u16], wanted: &[u16]) -> bool {
    let mut left: Vec<u16> = free.to_vec();
    for &p in wanted.iter().filter(|&&p| p != 0) {
        match left.iter().position(|&q| q == p) {
            Some(i) => {
                left.remove(i);
            }
            None => return false,
        }
    }
    left.len() >= wanted.iter().filter(|&&p| p == 0).count()
}

fn ref_fits(n: &NodeOffer, free: &Resources, ports: &[u16], req: &AppRequest) -> bool {
    let r = &req.resources;
    n.schedulable
        && ref_role_ok(n, req)
        && free.cpus + 1e-9 >= r.cpus
        && free.mem + 1e-9 >= r.mem
        && free.disk + 1e-9 >= r.disk
        && free.gpus + 1e-9 >= r.gpus
        && ref_ports_ok(ports, &req.host_ports)
}

fn expand(ranges: &[(u16, u16)]) -> Vec<u16> {
    ranges.iter().flat_map(|&(a, b)| a..=b).collect()
}

/// Replays one app's placement against the reference; returns the per-node state after it.
fn check_app(
    nodes: &[NodeOffer],
    free: &mut HashMap<String, Resources>,
    ports: &mut HashMap<String, Vec<u16>>,
    req: &AppRequest,
    out: &dromos_core::placement::AppPlacement,
) -> Result<(), TestCaseError> {
    let by_name: HashMap<&str, &NodeOffer> = nodes.iter().map(|n| (n.node.as_str(), n)).collect();
    let target = req.placed.len() + req.pending;
    let mut placed_nodes: Vec<String> = req.placed.clone();
    prop_assert_eq!(out.assigned.len() + out.unplaced, req.pending);
    for a in &out.assigned {
        let n = by_name[a.node.as_str()];
        let f = free[&a.node];
        prop_assert!(ref_fits(n, &f, &ports[&a.node], req), "{} does not fit on {:?}", req.app, a.node);
        for c in &req.constraints {
            let vals: Vec<Option<String>> =
                placed_nodes.iter().map(|p| by_name.get(p.as_str()).and_then(|pn| ref_value(pn, &c.field))).collect();
            prop_assert!(ref_meets(c, n, &vals, target), "{} on {} breaks {}", req.app, a.node, c.display());
        }
        // Ports: the fixed ones as asked, all distinct and free.
        prop_assert_eq!(a.ports.len(), req.host_ports.len());
        for (&want, &got) in req.host_ports.iter().zip(&a.ports) {
            prop_assert!(want == 0 || want == got);
            let left = ports.get_mut(&a.node).unwrap();
            let i = left.iter().position(|&q| q == got);
            prop_assert!(i.is_some(), "port {} on {} is not free", got, a.node);
            left.remove(i.unwrap());
        }
        let f = free.get_mut(&a.node).unwrap();
        f.cpus -= req.resources.cpus;
        f.mem -= req.resources.mem;
        f.disk -= req.resources.disk;
        f.gpus -= req.resources.gpus;
        prop_assert!(f.cpus > -1e-6 && f.mem > -1e-6 && f.disk > -1e-6 && f.gpus > -1e-6, "oversubscribed {}", a.node);
        placed_nodes.push(a.node.clone());
    }
    if out.unplaced > 0 {
        // Nothing acceptable was left behind.
        for n in nodes {
            let ok = ref_fits(n, &free[&n.node], &ports[&n.node], req)
                && req.constraints.iter().all(|c| {
                    let vals: Vec<Option<String>> = placed_nodes
                        .iter()
                        .map(|p| by_name.get(p.as_str()).and_then(|pn| ref_value(pn, &c.field)))
                        .collect();
                    ref_meets(c, n, &vals, target)
                });
            prop_assert!(!ok, "{} gave up although {} was acceptable", req.app, n.node);
        }
        let schedulable = nodes.iter().filter(|n| n.schedulable).count();
        prop_assert_eq!(out.declines.offers(), schedulable);
    } else {
        prop_assert!(out.declines.by_reason.is_empty());
    }
    Ok(())
}

fn scenario() -> impl Strategy<Value = (Vec<NodeSpec>, Vec<AppSpec>, u64)> {
    proptest::collection::vec(node_spec(), 1..9).prop_flat_map(|ns| {
        let n = ns.len();
        (Just(ns), proptest::collection::vec(app_spec(n), 1..4), any::<u64>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn placements_match_the_reference_model((specs, apps, seed) in scenario()) {
        let nodes: Vec<NodeOffer> = specs.iter().enumerate().map(|(i, s)| build(i, s)).collect();
        let reqs: Vec<AppRequest> = apps.iter().enumerate().map(|(i, a)| request(&format!("ns/app{i}"), a)).collect();
        let mut offers = Offers::new(nodes.clone());
        let outs = place_all(&mut offers, &reqs, seed);
        let mut free: HashMap<String, Resources> = nodes.iter().map(|n| (n.node.clone(), n.free)).collect();
        let mut ports: HashMap<String, Vec<u16>> = nodes.iter().map(|n| (n.node.clone(), expand(&n.free_ports))).collect();
        for (req, out) in reqs.iter().zip(&outs) {
            check_app(&nodes, &mut free, &mut ports, req, out)?;
        }
        // What the index says is left matches the replay.
        for n in &nodes {
            let o = offers.get(&n.node).unwrap();
            prop_assert!((o.free.cpus - free[&n.node].cpus).abs() < 1e-6);
            prop_assert!((o.free.mem - free[&n.node].mem).abs() < 1e-6);
            prop_assert_eq!(expand(&o.free_ports), ports[&n.node].clone());
        }
        // Deterministic for the same input and seed.
        let again = place_all(&mut Offers::new(nodes.clone()), &reqs, seed);
        prop_assert_eq!(outs, again);
    }
}

//! Table tests of the placement engine against the edge cases of Marathon's Constraints.scala.

use super::*;
use crate::constraints::parse_constraint;
use dromos_crds::app::KillSelection;
use serde_json::json;

fn con(parts: &[&str]) -> Constraint {
    parse_constraint(&parts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("valid constraint")
}

fn node(name: &str, labels: &[(&str, &str)]) -> NodeOffer {
    let attributes: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let res = Resources { cpus: 8.0, mem: 8192.0, disk: 10240.0, gpus: 0.0 };
    NodeOffer {
        node: name.into(),
        hostname: name.into(),
        region: attributes.get("topology.kubernetes.io/region").cloned(),
        zone: attributes.get("topology.kubernetes.io/zone").cloned(),
        attributes,
        total: res,
        free: res,
        free_ports: vec![(31000, 32000)],
        roles: vec![],
        schedulable: true,
        problems: vec![],
    }
}

fn app(constraints: Vec<Constraint>, placed: &[&str], pending: usize) -> AppRequest {
    AppRequest {
        app: "ns/web".into(),
        resources: Resources { cpus: 0.1, mem: 32.0, disk: 0.0, gpus: 0.0 },
        constraints,
        placed: placed.iter().map(|s| s.to_string()).collect(),
        pending,
        ..Default::default()
    }
}

fn nodes_of(p: &AppPlacement) -> Vec<String> {
    let mut v: Vec<String> = p.assigned.iter().map(|a| a.node.clone()).collect();
    v.sort();
    v
}

/// Count of assigned instances per value of `label` (node name -> label via `offers`).
fn per_value(offers: &Offers, p: &AppPlacement, placed: &[&str], label: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for n in p.assigned.iter().map(|a| a.node.as_str()).chain(placed.iter().copied()) {
        let v = offers.get(n).unwrap().attributes.get(label).cloned().unwrap_or_default();
        *m.entry(v).or_default() += 1;
    }
    m
}

#[test]
fn missing_attribute_fails_every_operator_but_unlike() {
    let bare = node("n1", &[]);
    let cases: &[(&[&str], bool)] = &[
        (&["rack", "UNIQUE"], false),
        (&["rack", "CLUSTER"], false),
        (&["rack", "CLUSTER", "r1"], false),
        (&["rack", "GROUP_BY", "2"], false),
        (&["rack", "MAX_PER", "2"], false),
        (&["rack", "LIKE", ".*"], false),
        (&["rack", "IS", "r1"], false),
        (&["rack", "UNLIKE", "r1"], true),
        (&["rack", "UNLIKE", ".*"], true),
        (&["@zone", "UNIQUE"], false),
        (&["@region", "UNLIKE", "eu"], true),
    ];
    for (parts, want) in cases {
        let c = con(parts);
        assert_eq!(meets_constraint(&c, &bare, &[], 3), *want, "reference: {parts:?}");
        let mut offers = Offers::new(vec![bare.clone()]);
        let p = place_app(&mut offers, &app(vec![c], &[], 1), 7);
        assert_eq!(p.assigned.len(), usize::from(*want), "engine: {parts:?}");
    }
}

#[test]
fn scalar_attributes_compare_formatted() {
    for (x, want) in [
        (1.2345, "1.234"),
        (1.2355, "1.236"),
        (0.0625, "0.062"),
        (0.1875, "0.188"),
        (2.5, "2.5"),
        (3.0, "3"),
        (1234.5, "1,234.5"),
        (1234567.0, "1,234,567"),
        (0.0004, "0"),
    ] {
        assert_eq!(format_scalar(x), want, "{x}");
    }
    for (label, want) in
        [("2.50", "2.5"), ("007", "7"), ("1e3", "1,000"), ("1.2345", "1.234"), ("rack-1", "rack-1"), ("1.2.3", "1.2.3")]
    {
        assert_eq!(label_value(label), want, "{label}");
    }
    let n = node("n1", &[("disk-gb", "2.50")]);
    assert!(meets_constraint(&con(&["disk-gb", "IS", "2.5"]), &n, &[], 1));
    assert!(!meets_constraint(&con(&["disk-gb", "IS", "2.50"]), &n, &[], 1));
    assert!(meets_constraint(&con(&["disk-gb", "LIKE", "2\\.5"]), &n, &[], 1));
    // Hostname, zone and region are text, never reformatted.
    let h = node("10.5", &[("topology.kubernetes.io/zone", "1.50")]);
    assert!(meets_constraint(&con(&["hostname", "IS", "10.5"]), &h, &[], 1));
    assert!(meets_constraint(&con(&["@zone", "IS", "1.50"]), &h, &[], 1));
}

#[test]
fn like_and_unlike_match_the_whole_value() {
    let cases = [
        ("rack-[1-3]", "rack-2", true),
        ("rack-[1-3]", "rack-22", false),
        ("rack-[1-3]", "xrack-2", false),
        ("rack", "rack-1", false),
        ("rack.*", "rack-1", true),
        ("a|b", "a", true),
        ("a|b", "ab", false),
    ];
    for (re, v, like) in cases {
        let n = node("n1", &[("rack", v)]);
        assert_eq!(meets_constraint(&con(&["rack", "LIKE", re]), &n, &[], 1), like, "LIKE {re} on {v}");
        assert_eq!(meets_constraint(&con(&["rack", "UNLIKE", re]), &n, &[], 1), !like, "UNLIKE {re} on {v}");
    }
}

#[test]
fn unique_hostname_declines_with_counts() {
    let mut offers = Offers::new((1..=3).map(|i| node(&format!("n{i}"), &[])).collect());
    let p = place_app(&mut offers, &app(vec![con(&["hostname", "UNIQUE"])], &["n2"], 3), 1);
    assert_eq!(nodes_of(&p), vec!["n1", "n3"]);
    assert_eq!(p.unplaced, 1);
    assert_eq!(p.declines.count(&DeclineReason::Constraint("UNIQUE hostname".into())), 3);
    assert_eq!(p.declines.summary(p.unplaced), "1 instance waiting: 3 offers declined: UNIQUE hostname 3");
}

#[test]
fn cluster_with_value_is_equality() {
    let mut offers = Offers::new(vec![node("a", &[("rack", "r1")]), node("b", &[("rack", "r2")])]);
    let p = place_app(&mut offers, &app(vec![con(&["rack", "CLUSTER", "r2"])], &[], 3), 1);
    assert_eq!(nodes_of(&p), vec!["b", "b", "b"]);
}

#[test]
fn cluster_without_value_follows_the_first_placed_instance() {
    let nodes = || {
        Offers::new(vec![
            node("a1", &[("rack", "r1")]),
            node("a2", &[("rack", "r1")]),
            node("b1", &[("rack", "r2")]),
            node("c1", &[]),
        ])
    };
    // Already placed on r2 (first placed decides, later ones do not).
    let mut offers = nodes();
    let p = place_app(&mut offers, &app(vec![con(&["rack", "CLUSTER"])], &["b1", "a1"], 2), 1);
    assert_eq!(nodes_of(&p), vec!["b1", "b1"]);
    // Nothing placed: the first instance picks, the rest follow it.
    for seed in 0..10 {
        let mut offers = nodes();
        let p = place_app(&mut offers, &app(vec![con(&["rack", "CLUSTER"])], &[], 3), seed);
        let vals = per_value(&offers, &p, &[], "rack");
        assert_eq!(vals.len(), 1, "seed {seed}: {vals:?}");
        assert!(!vals.contains_key(""), "a node without the attribute never qualifies");
    }
    // The first placed instance is on a node without the field: nothing can join it.
    let mut offers = nodes();
    let p = place_app(&mut offers, &app(vec![con(&["rack", "CLUSTER"])], &["c1"], 1), 1);
    assert_eq!(p.unplaced, 1);
}

fn zones(n: usize, per_zone: usize) -> Vec<NodeOffer> {
    let mut out = vec![];
    for z in 0..n {
        for k in 0..per_zone {
            out.push(node(&format!("z{z}-{k}"), &[("zone", &format!("z{z}"))]));
        }
    }
    out
}

#[test]
fn group_by_quotas_with_remainders() {
    // (zones, GROUP_BY n, pending) -> sorted per-value counts.
    let cases: &[(usize, &str, usize, &[usize])] = &[
        (3, "3", 7, &[2, 2, 3]),
        (3, "3", 6, &[2, 2, 2]),
        (3, "3", 4, &[1, 1, 2]),
        (3, "2", 5, &[2, 3]),
        (4, "2", 4, &[2, 2]),
        (2, "3", 2, &[1, 1]),
    ];
    for &(nz, n, pending, want) in cases {
        let mut offers = Offers::new(zones(nz, 3));
        let p = place_app(&mut offers, &app(vec![con(&["zone", "GROUP_BY", n])], &[], pending), 3);
        let mut counts: Vec<usize> = per_value(&offers, &p, &[], "zone").into_values().collect();
        counts.sort();
        assert_eq!(counts, want, "{nz} zones, GROUP_BY {n}, {pending} instances");
        assert_eq!(p.unplaced, 0);
    }
    // Fewer values than groups: each value holds only its share, the rest waits.
    let mut offers = Offers::new(zones(2, 3));
    let p = place_app(&mut offers, &app(vec![con(&["zone", "GROUP_BY", "3"])], &[], 4), 3);
    assert_eq!((p.assigned.len(), p.unplaced), (3, 1));
    assert_eq!(p.declines.count(&DeclineReason::Constraint("GROUP_BY zone 3".into())), 6);
}

#[test]
fn group_by_counts_placed_instances() {
    // 3 already on z0 (over its share of 6/3 = 2): the 3 new ones go to z1 and z2 only.
    let mut offers = Offers::new(zones(3, 2));
    let placed = ["z0-0", "z0-1", "z0-0"];
    let p = place_app(&mut offers, &app(vec![con(&["zone", "GROUP_BY", "3"])], &placed, 3), 5);
    let counts = per_value(&offers, &p, &placed, "zone");
    assert_eq!(counts["z0"], 3);
    assert_eq!(counts["z1"] + counts["z2"], 3);
    assert!(counts["z1"] <= 2 && counts["z2"] <= 2);
    // Placed on z0 and z1 with GROUP_BY 2: a third value is never used.
    let mut offers = Offers::new(zones(3, 2));
    let placed = ["z0-0", "z1-0"];
    let p = place_app(&mut offers, &app(vec![con(&["zone", "GROUP_BY", "2"])], &placed, 4), 5);
    let counts = per_value(&offers, &p, &placed, "zone");
    assert_eq!(counts, BTreeMap::from([("z0".into(), 3), ("z1".into(), 3)]));
}

#[test]
fn max_per_counts_existing_instances() {
    let mut offers =
        Offers::new(vec![node("a", &[("rack", "r1")]), node("b", &[("rack", "r1")]), node("c", &[("rack", "r2")])]);
    let p = place_app(&mut offers, &app(vec![con(&["rack", "MAX_PER", "2"])], &["a", "b"], 3), 1);
    assert_eq!(nodes_of(&p), vec!["c", "c"]);
    assert_eq!(p.unplaced, 1);
    assert_eq!(p.declines.summary(1), "1 instance waiting: 3 offers declined: MAX_PER rack 2 3");
}

#[test]
fn is_compares_strings() {
    let mut offers = Offers::new(vec![node("a", &[("tier", "gold")]), node("b", &[("tier", "Gold")])]);
    let p = place_app(&mut offers, &app(vec![con(&["tier", "IS", "gold"])], &[], 2), 1);
    assert_eq!(nodes_of(&p), vec!["a", "a"]);
}

#[test]
fn constraints_are_anded_and_declined_in_funnel_order() {
    let mut reserved = node("r", &[("rack", "r1")]);
    reserved.roles = vec!["slave_public".into()];
    let mut small = node("s", &[("rack", "r1")]);
    small.free.mem = 16.0;
    let mut no_ports = node("p", &[("rack", "r1")]);
    no_ports.free_ports = vec![];
    let offers_v = vec![reserved, small, no_ports, node("x", &[("rack", "r9")]), node("y", &[])];
    let mut offers = Offers::new(offers_v);
    let mut req = app(vec![con(&["rack", "LIKE", "r[0-5]"]), con(&["hostname", "UNIQUE"])], &[], 1);
    req.host_ports = vec![0];
    let p = place_app(&mut offers, &req, 1);
    assert_eq!(p.unplaced, 1);
    assert_eq!(
        p.declines.summary(1),
        "1 instance waiting: 5 offers declined: LIKE rack r[0-5] 2, role not accepted 1, insufficient mem 1, insufficient ports 1"
    );
}

#[test]
fn roles_follow_marathon() {
    let mut public = node("pub", &[]);
    public.roles = vec!["slave_public".into()];
    let mut dev = node("dev", &[]);
    dev.roles = vec!["dev".into()];
    let all = || Offers::new(vec![node("plain", &[]), public.clone(), dev.clone()]);
    let run = |accepted: &[&str], role: Option<&str>| {
        let mut req = app(vec![], &[], 30);
        req.accepted_roles = accepted.iter().map(|s| s.to_string()).collect();
        req.role = role.map(String::from);
        let mut offers = all();
        let mut n = nodes_of(&place_app(&mut offers, &req, 1));
        n.dedup();
        n
    };
    assert_eq!(run(&[], None), vec!["plain"]);
    assert_eq!(run(&[], Some("dev")), vec!["dev", "plain"]);
    assert_eq!(run(&["slave_public"], None), vec!["pub"]);
    assert_eq!(run(&["*", "slave_public"], None), vec!["plain", "pub"]);
    assert_eq!(run(&["dev"], Some("dev")), vec!["dev"]);
}

#[test]
fn resources_and_ports_are_consumed() {
    let mut n = node("a", &[]);
    n.free = Resources { cpus: 1.0, mem: 1024.0, disk: 0.0, gpus: 0.0 };
    n.free_ports = vec![(8080, 8082)];
    let mut offers = Offers::new(vec![n]);
    let mut req = app(vec![], &[], 3);
    req.resources.cpus = 0.3;
    req.host_ports = vec![8081, 0];
    let p = place_app(&mut offers, &req, 1);
    assert_eq!(p.assigned.len(), 1, "8081 can be taken once");
    assert_eq!(p.assigned[0].ports, vec![8081, 8080]);
    assert_eq!(offers.get("a").unwrap().free_ports, vec![(8082, 8082)]);
    assert!((offers.get("a").unwrap().free.cpus - 0.7).abs() < 1e-9);
    assert_eq!(p.declines.summary(2), "2 instances waiting: 1 offer declined: insufficient ports 1");
    let mut req = app(vec![], &[], 5);
    req.resources.cpus = 0.3;
    let p = place_app(&mut offers, &req, 1);
    assert_eq!((p.assigned.len(), p.unplaced), (2, 3));
    assert_eq!(p.declines.summary(3), "3 instances waiting: 1 offer declined: insufficient cpus 1");
}

#[test]
fn spreads_to_the_least_allocated_node_and_is_deterministic() {
    let mk = || Offers::new((0..4).map(|i| node(&format!("n{i}"), &[])).collect());
    let mut offers = mk();
    let p = place_app(&mut offers, &app(vec![], &[], 8), 42);
    assert_eq!(nodes_of(&p), vec!["n0", "n0", "n1", "n1", "n2", "n2", "n3", "n3"]);
    let again = place_app(&mut mk(), &app(vec![], &[], 8), 42);
    assert_eq!(p, again);
    // The seed only breaks ties: some seeds start elsewhere.
    let firsts: std::collections::BTreeSet<String> =
        (0..16).map(|s| place_app(&mut mk(), &app(vec![], &[], 1), s).assigned[0].node.clone()).collect();
    assert!(firsts.len() > 1, "{firsts:?}");
}

#[test]
fn place_all_sees_earlier_apps() {
    let mut n = node("a", &[]);
    n.free.cpus = 1.0;
    let mut offers = Offers::new(vec![n]);
    let mut a = app(vec![], &[], 1);
    a.resources.cpus = 0.6;
    let mut b = a.clone();
    b.app = "ns/other".into();
    let out = place_all(&mut offers, &[a, b], 1);
    assert_eq!((out[0].unplaced, out[1].unplaced), (0, 1));
}

#[test]
fn unschedulable_nodes_count_but_take_nothing() {
    let mut cordoned = node("c", &[("rack", "r1")]);
    cordoned.schedulable = false;
    let mut offers = Offers::new(vec![cordoned, node("a", &[("rack", "r1")]), node("b", &[("rack", "r2")])]);
    let p = place_app(&mut offers, &app(vec![con(&["rack", "UNIQUE"])], &["c"], 2), 1);
    assert_eq!(nodes_of(&p), vec!["b"]);
    assert_eq!(p.declines.summary(1), "1 instance waiting: 2 offers declined: UNIQUE rack 2");
}

#[test]
fn summary_formats() {
    let d = Declines {
        by_reason: vec![(DeclineReason::Constraint("UNIQUE hostname".into()), 4), (DeclineReason::InsufficientMem, 3)],
    };
    assert_eq!(d.summary(2), "2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3");
    assert_eq!(Declines::default().summary(1), "1 instance waiting: no offers");
    assert_eq!(d.summary(0), "no instances waiting");
}

fn inst(pod: &str, node: &str, t: i64) -> (String, String, i64) {
    (pod.into(), node.into(), t)
}

#[test]
fn kill_order_follows_kill_selection() {
    let offers = Offers::new(vec![node("a", &[])]);
    let is = [inst("p1", "a", 10), inst("p2", "a", 30), inst("p3", "a", 20)];
    assert_eq!(kill_order(&is, &offers, &[], KillSelection::YoungestFirst), vec!["p2", "p3", "p1"]);
    assert_eq!(kill_order(&is, &offers, &[], KillSelection::OldestFirst), vec!["p1", "p3", "p2"]);
}

#[test]
fn kill_order_balances_group_by_first() {
    let offers = Offers::new(zones(3, 1));
    let is = [
        inst("a1", "z0-0", 1),
        inst("a2", "z0-0", 2),
        inst("a3", "z0-0", 3),
        inst("a4", "z0-0", 4),
        inst("b1", "z1-0", 50),
        inst("c1", "z2-0", 60),
    ];
    let order = kill_order(&is, &offers, &[con(&["zone", "GROUP_BY", "3"])], KillSelection::YoungestFirst);
    // z0 holds 4 against 1 and 1: its youngest go first until balanced, then youngest overall.
    assert_eq!(&order[..3], &["a4", "a3", "a2"]);
    assert_eq!(order.len(), 6);
    let order = kill_order(&is, &offers, &[con(&["zone", "GROUP_BY", "3"])], KillSelection::OldestFirst);
    assert_eq!(&order[..3], &["a1", "a2", "a3"]);
}

#[test]
fn kill_order_removes_max_per_excess_first() {
    let offers = Offers::new(vec![node("a", &[("rack", "r1")]), node("b", &[("rack", "r2")])]);
    let is = [inst("old-a", "a", 1), inst("mid-a", "a", 2), inst("new-b", "b", 9), inst("old-a2", "a", 0)];
    let order = kill_order(&is, &offers, &[con(&["rack", "MAX_PER", "2"])], KillSelection::YoungestFirst);
    assert_eq!(order[0], "mid-a", "r1 holds 3 > 2: its youngest goes first");
    assert_eq!(order[1], "new-b");
}

fn node_json(name: &str, extra: serde_json::Value) -> k8s_openapi::api::core::v1::Node {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": format!("{name}.host"), "topology.kubernetes.io/zone": "z1", "rack": "r1"}},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "2", "pods": "110"}}
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("node fixture")
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (a, b) => *a = b,
    }
}

fn pod_json(v: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(v).expect("pod fixture")
}

#[test]
fn offers_from_nodes_subtracts_bound_pods() {
    let nodes = [
        node_json("n1", json!({})),
        node_json("n2", json!({"metadata": {"labels": {"kubernetes.io/hostname": null}}})),
    ];
    let pods = [
        pod_json(json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1", "containers": [
            {"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}, "ports": [{"containerPort": 80, "hostPort": 8080}]},
            {"name": "d", "resources": {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}}}
        ]}, "status": {"phase": "Running"}})),
        // The init container's peak is bigger than the containers' sum.
        pod_json(json!({"metadata": {"name": "b"}, "spec": {"nodeName": "n1",
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2", "ephemeral-storage": "1Gi"}}}],
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]}, "status": {"phase": "Pending"}})),
        pod_json(json!({"metadata": {"name": "done"}, "spec": {"nodeName": "n1", "containers": [
            {"name": "c", "resources": {"requests": {"cpu": "3"}}}]}, "status": {"phase": "Succeeded"}})),
        pod_json(json!({"metadata": {"name": "unbound"}, "spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": "3"}}}]}})),
    ];
    let offers = offers_from_nodes(&nodes, &pods);
    assert_eq!(offers.len(), 2);
    let n1 = &offers[0];
    assert_eq!(n1.hostname, "n1.host");
    assert_eq!(n1.zone.as_deref(), Some("z1"));
    assert_eq!(n1.attributes["rack"], "r1");
    assert_eq!(n1.total, Resources { cpus: 4.0, mem: 8192.0, disk: 102400.0, gpus: 2.0 });
    assert!((n1.free.cpus - 0.5).abs() < 1e-9, "{:?}", n1.free);
    assert!((n1.free.mem - (8192.0 - 256.0 - 1024.0)).abs() < 1e-9);
    assert!((n1.free.disk - (102400.0 - 1024.0)).abs() < 1e-9);
    assert!((n1.free.gpus - 1.0).abs() < 1e-9);
    assert_eq!(n1.free_ports, vec![(1025, 8079), (8081, 32000)]);
    assert!(n1.roles.is_empty() && n1.schedulable && n1.problems.is_empty());
    assert_eq!(offers[1].hostname, "n2", "no hostname label: the node name");
    assert_eq!(offers[1].free, offers[1].total);
}

#[test]
fn offers_from_nodes_skips_and_reserves() {
    let nodes = [
        node_json("cordoned", json!({"spec": {"unschedulable": true}})),
        node_json(
            "cp",
            json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
        ),
        node_json("soft", json!({"spec": {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}})),
        node_json(
            "public",
            json!({"metadata": {"labels": {"dromos.io/role": "slave_public"}},
            "spec": {"taints": [{"key": "dromos.io/role", "value": "slave_public", "effect": "NoSchedule"}]}}),
        ),
        node_json("ports", json!({"metadata": {"annotations": {"dromos.io/ports": "[31000-32000,8080]"}}})),
        node_json("badports", json!({"metadata": {"annotations": {"dromos.io/ports": "9-2"}}})),
    ];
    let known = known_nodes_from_nodes::<_, k8s_openapi::api::core::v1::Pod>(&nodes, &[]);
    assert_eq!(known.len(), 6);
    assert!(!known[0].schedulable && !known[1].schedulable);
    let offers = offers_from_nodes(&nodes, &[]);
    let names: Vec<&str> = offers.iter().map(|o| o.node.as_str()).collect();
    assert_eq!(names, vec!["soft", "public", "ports", "badports"]);
    assert_eq!(offers[1].roles, vec!["slave_public"]);
    assert_eq!(offers[2].free_ports, vec![(8080, 8080), (31000, 32000)]);
    assert_eq!(offers[3].free_ports, vec![DEFAULT_PORTS]);
    assert!(offers[3].problems[0].contains("dromos.io/ports `9-2`"), "{:?}", offers[3].problems);
}

#[test]
fn port_ranges_parse() {
    assert_eq!(parse_port_ranges("1-3,2-5, 9"), Ok(vec![(1, 5), (9, 9)]));
    assert!(parse_port_ranges("0-5").is_err());
    assert!(parse_port_ranges("abc").is_err());
    assert!(parse_port_ranges("").is_err());
}

//! Benchmark: the placement engine alone, 100,000 instances over 10,000 offers.
//!
//!     cargo bench -p dromos-core --bench placement      # args: APPS INSTANCES NODES, default 1000 100 10000
//!
//! Nodes: 10 zones (`@zone`), 200 racks (label `rack`), 32 cpus and 128 GiB each. Apps, in
//! turn: `[hostname, UNIQUE]`; `[@zone, GROUP_BY, 3]`; `[rack, MAX_PER, 2]`;
//! `[rack, LIKE, rack-1[0-9]{2}]` with `[hostname, UNIQUE]`; each 0.25 cpus, 256 MiB and
//! one dynamic host port. One `place_all` over every app (each app sees what the previous ones
//! took); prints the wall time of each of 3 runs on fresh offers, and the best.

use dromos_core::constraints::parse_constraint;
use dromos_core::placement::{AppRequest, NodeOffer, Offers, Resources, place_all};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let apps = args.first().copied().unwrap_or(1000);
    let per_app = args.get(1).copied().unwrap_or(100);
    let node_count = args.get(2).copied().unwrap_or(10_000);

    let nodes: Vec<NodeOffer> = (0..node_count)
        .map(|i| {
            let zone = format!("zone-{}", i % 10);
            let attributes = BTreeMap::from([
                ("kubernetes.io/hostname".to_string(), format!("node-{i}")),
                ("topology.kubernetes.io/zone".to_string(), zone.clone()),
                ("rack".to_string(), format!("rack-{}", i % 200)),
            ]);
            let total = Resources { cpus: 32.0, mem: 131_072.0, disk: 512_000.0, gpus: 0.0 };
            NodeOffer {
                node: format!("node-{i}"),
                hostname: format!("node-{i}"),
                region: Some("region-1".into()),
                zone: Some(zone),
                attributes,
                total,
                free: total,
                free_ports: vec![(1025, 32000)],
                roles: vec![],
                schedulable: true,
                problems: vec![],
            }
        })
        .collect();
    let c = |p: &[&str]| parse_constraint(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let reqs: Vec<AppRequest> = (0..apps)
        .map(|i| AppRequest {
            app: format!("bench/app-{i}"),
            resources: Resources { cpus: 0.25, mem: 256.0, disk: 0.0, gpus: 0.0 },
            host_ports: vec![0],
            constraints: match i % 4 {
                0 => vec![c(&["hostname", "UNIQUE"])],
                1 => vec![c(&["@zone", "GROUP_BY", "3"])],
                2 => vec![c(&["rack", "MAX_PER", "2"])],
                _ => vec![c(&["rack", "LIKE", "rack-1[0-9]{2}"]), c(&["hostname", "UNIQUE"])],
            },
            pending: per_app,
            ..Default::default()
        })
        .collect();

    let mut times = Vec::new();
    for run in 1..=3 {
        let mut offers = Offers::new(nodes.clone());
        let start = Instant::now();
        let out = place_all(&mut offers, &reqs, run);
        let took = start.elapsed();
        let placed: usize = out.iter().map(|p| p.assigned.len()).sum();
        let unplaced: usize = out.iter().map(|p| p.unplaced).sum();
        println!(
            "run {run}: {placed} instances placed ({unplaced} unplaced) over {node_count} offers, {apps} apps: {:.3} s",
            took.as_secs_f64()
        );
        assert_eq!(unplaced, 0, "the benchmark cluster fits every instance");
        times.push(took.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!("best {:.3} s, median {:.3} s", times[0], times[1]);
}

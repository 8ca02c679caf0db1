//! What the Dromos scheduler asks the engine (pure): pending pods grouped per App version into
//! [`AppRequest`]s, oldest first as Marathon's launch queue; the placement status each App gets
//! from the results; and which pods need a new `pod-deletion-cost` to keep the kill order. The
//! scheduler (`controller/src/operators/scheduler/`) gathers pods, nodes and Apps from its
//! caches, calls these, and binds and patches.

use super::{AppPlacement, AppRequest, NodeOffer, Offers, kill_order, pod_request};
use crate::constraints::Constraint;
use crate::translate::{APP_LABEL, RESTART_ANNOTATION, SCHEDULER_NAME, VERSION_ANNOTATION};
use dromos_crds::App;
use dromos_crds::app::{KillSelection, PlacementStatus};
use k8s_openapi::api::core::v1::Pod;
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

fn name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or_default()
}

fn namespace(p: &Pod) -> &str {
    p.metadata.namespace.as_deref().unwrap_or_default()
}

fn app_of(p: &Pod) -> Option<&str> {
    p.metadata.labels.as_ref()?.get(APP_LABEL).map(String::as_str)
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec.as_ref()?.node_name.as_deref()
}

/// Succeeded or Failed.
pub fn terminal(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Live: neither being deleted nor finished.
fn live(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none() && !terminal(p)
}

/// The pod's revision: the App version and restart stamped on its template.
pub fn revision(p: &Pod) -> String {
    let ann = p.metadata.annotations.as_ref();
    let get = |k: &str| ann.and_then(|a| a.get(k)).map(String::as_str);
    crate::appstate::revision(get(VERSION_ANNOTATION).unwrap_or(""), get(RESTART_ANNOTATION))
}

/// Creation time, Unix seconds (0 when unknown).
pub fn created(p: &Pod) -> i64 {
    p.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or(0)
}

/// The host ports a pod asks for (0 and unset left out).
pub fn host_ports(p: &Pod) -> Vec<u16> {
    let Some(spec) = p.spec.as_ref() else { return vec![] };
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| port.host_port.filter(|h| *h > 0).and_then(|h| u16::try_from(h).ok()))
        .collect()
}

/// Pods of this scheduler waiting for a node.
fn pending(p: &Pod) -> bool {
    let spec = p.spec.as_ref();
    spec.and_then(|s| s.scheduler_name.as_deref()) == Some(SCHEDULER_NAME) && node_of(p).is_none() && live(p)
}

/// Bound live pods of one App (of one revision when `rev` is given), oldest first.
/// The live pods bound to a node, by (namespace, App): built once per cycle, so finding an
/// App's placed instances does not scan every pod of the cluster for each App.
type Bound<'a> = HashMap<(&'a str, &'a str), Vec<&'a Pod>>;

fn bound_index<'a>(view: &[&'a Pod]) -> Bound<'a> {
    let mut index: Bound<'a> = HashMap::new();
    for p in view.iter().copied().filter(|p| node_of(p).is_some() && live(p)) {
        if let Some(app) = app_of(p) {
            index.entry((namespace(p), app)).or_default().push(p);
        }
    }
    index
}

/// The bound live pods of one App (of one revision, if given), oldest first.
fn bound<'a>(index: &Bound<'a>, ns: &str, app: &str, rev: Option<&str>) -> Vec<&'a Pod> {
    let mut v: Vec<&Pod> =
        index.get(&(ns, app)).into_iter().flatten().copied().filter(|p| rev.is_none_or(|r| revision(p) == r)).collect();
    v.sort_by_key(|p| (created(p), name(p).to_string()));
    v
}

/// The pending pods of one App version, oldest first, and what to ask the engine for them.
#[derive(Debug)]
pub struct Batch<'a> {
    /// The App's namespace.
    pub namespace: String,
    /// The App's name.
    pub app: String,
    /// Pods to place, in the order the engine's assignments come back.
    pub pods: Vec<&'a Pod>,
}

/// An App whose pods cannot be placed because its spec does not parse (its pods stay pending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The App's namespace.
    pub namespace: String,
    /// The App's name.
    pub app: String,
    /// Pods waiting.
    pub waiting: usize,
    /// What is wrong.
    pub message: String,
}

/// Groups the pending pods of `view` that `in_scope` accepts per (namespace, App, revision),
/// oldest pending pod first, and builds a request for each group whose App `app` finds.
/// `constraints` parses an App's constraints; an App whose constraints do not parse is
/// returned in the third list, never placed without them.
pub fn build<'a, P: Borrow<Pod>>(
    view: &'a [P],
    in_scope: impl Fn(&Pod) -> bool,
    app: impl Fn(&str, &str) -> Option<std::sync::Arc<App>>,
    constraints: impl Fn(&App) -> Result<Vec<Constraint>, String>,
) -> (Vec<AppRequest>, Vec<Batch<'a>>, Vec<Invalid>) {
    let view: Vec<&'a Pod> = view.iter().map(Borrow::borrow).collect();
    let placed = bound_index(&view);
    let mut groups: BTreeMap<(String, String, String), Vec<&Pod>> = BTreeMap::new();
    for p in view.iter().copied().filter(|p| pending(p) && in_scope(p)) {
        if let Some(a) = app_of(p) {
            groups.entry((namespace(p).to_string(), a.to_string(), revision(p))).or_default().push(p);
        }
    }
    let mut ordered: Vec<_> = groups.into_iter().collect();
    // Oldest pending pod first, as Marathon's launch queue.
    ordered.sort_by_key(|(k, v)| (v.iter().map(|p| created(p)).min().unwrap_or(0), k.clone()));
    let (mut reqs, mut batches, mut invalid) = (vec![], vec![], vec![]);
    for ((ns, app_name, rev), mut waiting) in ordered {
        let Some(a) = app(&ns, &app_name) else { continue };
        let constraints = match constraints(&a) {
            Ok(c) => c,
            Err(message) => {
                invalid.push(Invalid { namespace: ns, app: app_name, waiting: waiting.len(), message });
                continue;
            }
        };
        waiting.sort_by_key(|p| (created(p), name(p).to_string()));
        let first = waiting[0];
        reqs.push(AppRequest {
            app: format!("{ns}/{app_name}"),
            resources: pod_request(first),
            host_ports: host_ports(first),
            accepted_roles: a.spec.accepted_resource_roles.clone(),
            role: a.spec.role.clone(),
            constraints,
            placed: bound(&placed, &ns, &app_name, Some(&rev))
                .iter()
                .filter_map(|p| node_of(p).map(String::from))
                .collect(),
            pending: waiting.len(),
        });
        batches.push(Batch { namespace: ns, app: app_name, pods: waiting });
    }
    (reqs, batches, invalid)
}

/// `status.placement` of each App with instances left waiting: how many, the decline counts
/// by reason, and the engine's summaries (or why its spec cannot be placed).
pub fn placement_status(
    batches: &[Batch<'_>],
    results: &[AppPlacement],
    invalid: &[Invalid],
) -> BTreeMap<(String, String), PlacementStatus> {
    // Per App: instances waiting, offers declined per reason, the summaries of its revisions.
    type Waiting = (usize, BTreeMap<String, i64>, Vec<String>);
    let mut out: BTreeMap<(String, String), Waiting> = BTreeMap::new();
    for (b, result) in batches.iter().zip(results) {
        if result.unplaced > 0 {
            let e = out.entry((b.namespace.clone(), b.app.clone())).or_default();
            e.0 += result.unplaced;
            for (reason, n) in &result.declines.by_reason {
                *e.1.entry(reason.label()).or_default() += *n as i64;
            }
            e.2.push(result.declines.summary(result.unplaced));
        }
    }
    for i in invalid {
        let e = out.entry((i.namespace.clone(), i.app.clone())).or_default();
        e.0 += i.waiting;
        *e.1.entry("InvalidSpec".into()).or_default() += i.waiting as i64;
        e.2.push(i.message.clone());
    }
    out.into_iter()
        .map(|(k, (waiting, declined, summaries))| {
            (k, PlacementStatus { waiting: waiting as i64, message: Some(summaries.join("; ")), declined })
        })
        .collect()
}

/// `(namespace, pod, cost)` for every pod whose `pod-deletion-cost` annotation (`current`)
/// must change so the ReplicaSet removes pods in the App's kill order: OLDEST_FIRST, or
/// GROUP_BY balance (YOUNGEST_FIRST without GROUP_BY is the ReplicaSet's own order).
pub fn kill_order_costs<P: Borrow<Pod>>(
    view: &[P],
    known: &[NodeOffer],
    apps: &[std::sync::Arc<App>],
    constraints: impl Fn(&App) -> Result<Vec<Constraint>, String>,
    current: impl Fn(&Pod) -> Option<String>,
) -> Vec<(String, String, String)> {
    // Most Apps keep the ReplicaSet's own order: they are passed over before any index is
    // built (a cycle runs this for every App; the scheduler ran it many times a second).
    let ordered: Vec<(&App, Vec<Constraint>, KillSelection)> = apps
        .iter()
        .filter_map(|app| {
            let selection = app.spec.kill_selection.unwrap_or(KillSelection::YoungestFirst);
            let group_by = app.spec.constraints.iter().any(|c| c.get(1).is_some_and(|op| op == "GROUP_BY"));
            if selection == KillSelection::YoungestFirst && !group_by {
                return None;
            }
            let constraints = constraints(app).ok()?;
            Some((&**app, constraints, selection))
        })
        .collect();
    if ordered.is_empty() {
        return Vec::new();
    }
    let view: Vec<&Pod> = view.iter().map(Borrow::borrow).collect();
    let placed = bound_index(&view);
    let offers = Offers::new(known.to_vec());
    let mut patches = Vec::new();
    for (app, constraints, selection) in ordered {
        let ns = app.metadata.namespace.clone().unwrap_or_default();
        let pods = bound(&placed, &ns, app.metadata.name.as_deref().unwrap_or_default(), None);
        if pods.len() < 2 {
            continue;
        }
        let instances: Vec<(String, String, i64)> = pods
            .iter()
            .map(|p| {
                let start = p.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.as_second());
                (name(p).to_string(), node_of(p).unwrap_or_default().to_string(), start.unwrap_or_else(|| created(p)))
            })
            .collect();
        let order = kill_order(&instances, &offers, &constraints, selection);
        let by_name: HashMap<&str, &Pod> = pods.iter().map(|p| (name(p), *p)).collect();
        for (cost, pod) in order.iter().enumerate() {
            let Some(p) = by_name.get(pod.as_str()) else { continue };
            let want = cost.to_string();
            if current(p).as_ref() != Some(&want) {
                patches.push((ns.clone(), pod.clone(), want));
            }
        }
    }
    patches
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn pod(name: &str, app: &str, version: &str, created: &str, node: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created,
                         "labels": {(APP_LABEL): app}, "annotations": {(VERSION_ANNOTATION): version}},
            "spec": {"schedulerName": SCHEDULER_NAME, "nodeName": node,
                     "containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
        }))
        .unwrap()
    }

    fn app(name: &str, constraints: serde_json::Value) -> Arc<App> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "dromos.io/v1alpha1", "kind": "App",
                "metadata": {"name": name, "namespace": "ns"}, "spec": {"constraints": constraints}
            }))
            .unwrap(),
        )
    }

    fn parse(a: &App) -> Result<Vec<Constraint>, String> {
        crate::app::constraints_of(a)
    }

    #[test]
    fn pending_pods_are_grouped_per_app_version_oldest_first() {
        let view = vec![
            pod("web-2", "web", "v2", "2026-12-04T10:00:05Z", None),
            pod("web-1", "web", "v2", "2026-12-04T10:00:01Z", Some("n1")),
            pod("db-1", "db", "v1", "2026-12-04T10:00:00Z", None),
            pod("web-3", "web", "v2", "2026-12-04T10:00:02Z", None),
        ];
        let apps = |_: &str, n: &str| Some(app(n, json!([["hostname", "UNIQUE"]])));
        let (reqs, batches, invalid) = build(&view, |_| true, apps, parse);
        assert!(invalid.is_empty());
        assert_eq!(reqs.iter().map(|r| r.app.as_str()).collect::<Vec<_>>(), ["ns/db", "ns/web"], "oldest first");
        let names: Vec<&str> = batches[1].pods.iter().map(|p| name(p)).collect();
        assert_eq!(names, ["web-3", "web-2"]);
        assert_eq!(reqs[1].placed, ["n1"], "the bound pod of the same version");
        assert_eq!(reqs[1].pending, 2);
        assert_eq!(reqs[1].host_ports, [8080]);
        let (reqs, ..) = build(&view, |p| app_of(p) == Some("db"), apps, parse);
        assert_eq!(reqs.len(), 1, "out of scope pods are left alone");
    }

    #[test]
    fn an_app_whose_constraint_does_not_parse_is_reported_not_placed_without_it() {
        let view = vec![pod("web-1", "web", "v1", "2026-12-04T10:00:01Z", None)];
        let apps = |_: &str, n: &str| Some(app(n, json!([["hostname", "UNIQUE"], ["rack", "NEAR", "x"]])));
        let (reqs, batches, invalid) = build(&view, |_| true, apps, parse);
        assert!(reqs.is_empty() && batches.is_empty(), "no request without its constraints");
        assert_eq!(invalid.len(), 1);
        let status = placement_status(&batches, &[], &invalid);
        let s = &status[&("ns".to_string(), "web".to_string())];
        assert_eq!(s.waiting, 1);
        assert_eq!(s.declined.get("InvalidSpec"), Some(&1));
        assert!(s.message.as_deref().unwrap_or_default().contains(&invalid[0].message));
    }

    #[test]
    fn only_apps_with_their_own_kill_order_get_deletion_costs() {
        let node = |n: &str, rack: &str| -> k8s_openapi::api::core::v1::Node {
            serde_json::from_value(json!({
                "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "rack": rack}},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
            }))
            .unwrap()
        };
        let nodes = [node("n1", "r1"), node("n2", "r2")];
        let mut view = vec![];
        for a in ["young", "old", "grouped"] {
            view.push(pod(&format!("{a}-1"), a, "v1", "2026-12-04T10:00:01Z", Some("n1")));
            view.push(pod(&format!("{a}-2"), a, "v1", "2026-12-04T10:00:02Z", Some("n1")));
            view.push(pod(&format!("{a}-3"), a, "v1", "2026-12-04T10:00:03Z", Some("n2")));
        }
        let known = super::super::known_nodes_from_nodes(&nodes, &view);
        let with = |name: &str, spec: serde_json::Value| -> Arc<App> {
            Arc::new(
                serde_json::from_value(json!({
                    "apiVersion": "dromos.io/v1alpha1", "kind": "App",
                    "metadata": {"name": name, "namespace": "ns"}, "spec": spec
                }))
                .unwrap(),
            )
        };
        let apps = [
            with("young", json!({"constraints": [["rack", "MAX_PER", "3"]]})),
            with("old", json!({"killSelection": "OLDEST_FIRST"})),
            with("grouped", json!({"constraints": [["rack", "GROUP_BY", "2"]]})),
        ];
        let costs = kill_order_costs(&view, &known, &apps, parse, |_| None);
        let of = |app: &str| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> =
                costs.iter().filter(|c| c.1.starts_with(app)).map(|c| (c.1.clone(), c.2.clone())).collect();
            v.sort();
            v
        };
        assert!(of("young").is_empty(), "the ReplicaSet's own order: nothing written");
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
        };
        assert_eq!(of("old"), pairs(&[("old-1", "0"), ("old-2", "1"), ("old-3", "2")]), "oldest first");
        // GROUP_BY: the rack holding two instances loses one first (the youngest of them).
        assert_eq!(of("grouped")[1], ("grouped-2".to_string(), "0".to_string()), "{costs:?}");
        // A pod that already has its cost is not written again.
        let current = |p: &Pod| {
            p.metadata.name.as_deref().filter(|n| n.starts_with("old")).map(|n| (n.as_bytes()[4] - b'1').to_string())
        };
        assert!(kill_order_costs(&view, &known, &apps, parse, current).iter().all(|c| !c.1.starts_with("old")));
    }
}

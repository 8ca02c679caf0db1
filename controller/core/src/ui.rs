//! What the web UI shows, decided from objects already read (pure; `now` is an argument):
//! the health class of an App, whether a Job fails or is late, whether a GitSource is in sync,
//! resources offered and used per role and zone, the layers of the Chronos parent graph, and
//! the Package manifest a package form produces.

use crate::time::{Instant, parse_time};
use dromos_crds::condition::READY;
use dromos_crds::{App, GitSource, Job, Offer};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// How long past its next run time a Job without an active run counts as late.
pub const LATE_AFTER_SECS: i64 = 120;

fn ready_status(conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> Option<bool> {
    conds.iter().find(|c| c.type_ == READY).map(|c| c.status == "True")
}

/// The Overview's class of an App: `deploying` while a deployment is in progress, `healthy`
/// when Ready, `failing` when Ready is False, `unknown` before the operator wrote a status.
pub fn app_health(app: &App) -> &'static str {
    let Some(st) = &app.status else { return "unknown" };
    if st.deployment.is_some() {
        return "deploying";
    }
    match ready_status(&st.common.conditions) {
        Some(true) => "healthy",
        Some(false) => "failing",
        None => "unknown",
    }
}

/// The Overview's class of a Job at `now`: `failing` when its last finished run failed,
/// `late` when its next run time passed [`LATE_AFTER_SECS`] ago with no active run, else `ok`.
pub fn job_health(job: &Job, now: Instant) -> &'static str {
    let Some(st) = &job.status else { return "ok" };
    if st.last_result.as_deref() == Some("Failed") {
        return "failing";
    }
    let active = st.runs.iter().any(|r| r.result == "Active");
    let overdue =
        st.next_run_time.as_deref().and_then(parse_time).is_some_and(|t| (now - t).num_seconds() > LATE_AFTER_SECS);
    if overdue && !active && job.spec.disabled != Some(true) { "late" } else { "ok" }
}

/// Whether a GitSource is in sync: not suspended, Ready, and its last attempted revision is the
/// applied one. The reason when not.
pub fn source_sync(gs: &GitSource) -> Result<(), String> {
    if gs.spec.suspend == Some(true) {
        return Err("suspended".into());
    }
    let Some(st) = &gs.status else { return Err("not reconciled yet".into()) };
    match ready_status(&st.common.conditions) {
        Some(true) => {}
        Some(false) => {
            let c = st.common.conditions.iter().find(|c| c.type_ == READY);
            return Err(c.map(|c| format!("{}: {}", c.reason, c.message)).unwrap_or_default());
        }
        None => return Err("not reconciled yet".into()),
    }
    if st.last_attempted_revision.is_some() && st.last_attempted_revision != st.last_applied_revision {
        return Err(format!(
            "revision {} attempted, {} applied",
            st.last_attempted_revision.as_deref().unwrap_or("-"),
            st.last_applied_revision.as_deref().unwrap_or("-")
        ));
    }
    Ok(())
}

/// Resources of a group of offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    /// CPUs.
    pub cpus: f64,
    /// Memory (MiB).
    pub mem: f64,
    /// Disk (MiB).
    pub disk: f64,
    /// GPUs.
    pub gpus: i64,
}

/// Offered and used resources of the nodes of one role in one zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleZone {
    /// The role (`*` for unreserved nodes).
    pub role: String,
    /// The zone (`-` when the node names none).
    pub zone: String,
    /// Nodes offering.
    pub nodes: usize,
    /// Total offered.
    pub total: Resources,
    /// In use (total minus free).
    pub used: Resources,
}

/// Offers summed per role and zone, sorted by role then zone. A node with several roles
/// counts in each.
pub fn resources_by_role_zone(offers: &[Offer]) -> Vec<RoleZone> {
    let mut groups: BTreeMap<(String, String), RoleZone> = BTreeMap::new();
    for o in offers {
        let roles = if o.spec.roles.is_empty() { vec!["*".to_string()] } else { o.spec.roles.clone() };
        let zone = o.spec.zone.clone().unwrap_or_else(|| "-".into());
        for role in roles {
            let g = groups.entry((role.clone(), zone.clone())).or_insert_with(|| RoleZone {
                role,
                zone: zone.clone(),
                nodes: 0,
                total: Resources::default(),
                used: Resources::default(),
            });
            let (t, f) = (&o.spec.total, &o.spec.free);
            g.nodes += 1;
            g.total.cpus += t.cpus;
            g.total.mem += t.mem;
            g.total.disk += t.disk;
            g.total.gpus += t.gpus;
            g.used.cpus += (t.cpus - f.cpus).max(0.0);
            g.used.mem += (t.mem - f.mem).max(0.0);
            g.used.disk += (t.disk - f.disk).max(0.0);
            g.used.gpus += (t.gpus - f.gpus).max(0);
        }
    }
    groups.into_values().collect()
}

/// The parents of a Job as graph node ids (`namespace/name`): Chronos `parents` and Metronome
/// `dependencies`, resolved as the job controller resolves them: a Job of that name in the
/// namespace, a Job there whose `spec.id` is the reference, or a dotted or slashed id naming
/// namespace and name.
pub fn job_parents(job: &Job, namespace: &str, jobs: &[Job]) -> Vec<String> {
    let mut out: Vec<String> = job
        .spec
        .parents
        .iter()
        .chain(job.spec.dependencies.iter().map(|d| &d.id))
        .map(|r| resolve_parent(namespace, r, jobs))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn resolve_parent(ns: &str, r: &str, jobs: &[Job]) -> String {
    let here = |j: &&Job| j.metadata.namespace.as_deref() == Some(ns);
    if jobs.iter().filter(here).any(|j| j.metadata.name.as_deref() == Some(r)) {
        return format!("{ns}/{r}");
    }
    if let Some(j) = jobs.iter().filter(here).find(|j| j.spec.id.as_deref() == Some(r)) {
        return format!("{ns}/{}", j.metadata.name.as_deref().unwrap_or_default());
    }
    match crate::ids::parse_job_id(r) {
        Ok(segs) => {
            let loc = crate::ids::location_of(&segs);
            format!("{}/{}", loc.namespace.as_deref().unwrap_or(ns), loc.name)
        }
        Err(_) => format!("{ns}/{r}"),
    }
}

/// Layers of a dependency graph for drawing: a node's layer is one more than its deepest
/// parent's (roots are 0). Parents that are not nodes are ignored; nodes on a cycle get the
/// layer reached when the cycle is cut. Sorted by layer then id.
pub fn graph_layers(nodes: &BTreeMap<String, Vec<String>>) -> Vec<(String, usize)> {
    fn depth(
        id: &str,
        nodes: &BTreeMap<String, Vec<String>>,
        memo: &mut BTreeMap<String, usize>,
        path: &mut BTreeSet<String>,
    ) -> usize {
        if let Some(d) = memo.get(id) {
            return *d;
        }
        if !path.insert(id.to_string()) {
            return 0; // a cycle: cut here
        }
        let d = nodes
            .get(id)
            .into_iter()
            .flatten()
            .filter(|p| nodes.contains_key(p.as_str()))
            .map(|p| depth(p, nodes, memo, path) + 1)
            .max()
            .unwrap_or(0);
        path.remove(id);
        memo.insert(id.to_string(), d);
        d
    }
    let mut memo = BTreeMap::new();
    let mut out: Vec<(String, usize)> =
        nodes.keys().map(|id| (id.clone(), depth(id, nodes, &mut memo, &mut BTreeSet::new()))).collect();
    out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    out
}

/// The Package manifest a package form produces: the package, its version, where it is
/// installed and the options the user set (only those; defaults stay in the package).
pub fn package_manifest(name: &str, version: &str, metadata_name: &str, namespace: &str, options: &Value) -> Value {
    let mut spec = json!({"name": name, "version": version});
    if options.as_object().is_some_and(|o| !o.is_empty()) {
        spec["options"] = options.clone();
    }
    json!({
        "apiVersion": "dromos.io/v1alpha1",
        "kind": "Package",
        "metadata": {"name": metadata_name, "namespace": namespace},
        "spec": spec,
    })
}

/// `t` in the time zone `zone` (RFC 3339 with its offset, and the zone's abbreviation), or
/// `None` when the zone is unknown.
pub fn local_time(t: Instant, zone: &str) -> Option<String> {
    let tz = crate::schedule::parse_time_zone(zone).ok()?;
    let local = t.with_timezone(&tz);
    Some(format!("{} {}", local.format("%Y-%m-%d %H:%M:%S%:z"), local.format("%Z")))
}

/// Whether `s` is a DNS-1123 label (a namespace or object name the form may put in a manifest).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("fixture")
    }

    fn now() -> Instant {
        parse_time("2026-01-01T12:00:00Z").expect("time")
    }

    #[test]
    fn app_classes() {
        let base = json!({"metadata": {"name": "a", "namespace": "n"}, "spec": {}});
        let mut a: Value = base.clone();
        assert_eq!(app_health(&obj(a.clone())), "unknown");
        a["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "R", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
        assert_eq!(app_health(&obj(a.clone())), "healthy");
        a["status"]["conditions"][0]["status"] = json!("False");
        assert_eq!(app_health(&obj(a.clone())), "failing");
        a["status"]["deployment"] = json!({"version": "v", "reason": "Upgrade", "startedAt": "2026-01-01T00:00:00Z"});
        assert_eq!(app_health(&obj(a)), "deploying");
    }

    #[test]
    fn job_classes() {
        let j = |status: Value| -> Job {
            obj(json!({"metadata": {"name": "j", "namespace": "n"}, "spec": {"run": {}}, "status": status}))
        };
        assert_eq!(job_health(&j(json!({"lastResult": "Failed"})), now()), "failing");
        assert_eq!(job_health(&j(json!({"nextRunTime": "2026-01-01T11:50:00Z"})), now()), "late");
        assert_eq!(job_health(&j(json!({"nextRunTime": "2026-01-01T11:59:00Z"})), now()), "ok", "within the grace");
        let active =
            json!({"nextRunTime": "2026-01-01T11:50:00Z", "runs": [{"id": "r", "result": "Active", "attempts": 1}]});
        assert_eq!(job_health(&j(active), now()), "ok", "running now");
    }

    #[test]
    fn source_sync_reasons() {
        let g = |spec: Value, status: Value| -> GitSource {
            let mut s = json!({"url": "https://x/r.git"});
            for (k, v) in spec.as_object().into_iter().flatten() {
                s[k] = v.clone();
            }
            obj(json!({"metadata": {"name": "g", "namespace": "n"}, "spec": s, "status": status}))
        };
        let ready = json!([{"type": "Ready", "status": "True", "reason": "Applied", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
        assert!(
            source_sync(&g(
                json!({}),
                json!({"conditions": ready, "lastAppliedRevision": "a", "lastAttemptedRevision": "a"})
            ))
            .is_ok()
        );
        assert_eq!(source_sync(&g(json!({"suspend": true}), json!({}))), Err("suspended".into()));
        let behind = source_sync(&g(
            json!({}),
            json!({"conditions": ready, "lastAppliedRevision": "a", "lastAttemptedRevision": "b"}),
        ));
        assert!(behind.unwrap_err().contains("b attempted"));
    }

    #[test]
    fn offers_sum_per_role_and_zone() {
        let o = |node: &str, roles: Value, zone: &str, free_cpus: f64| -> Offer {
            obj(json!({"metadata": {"name": node}, "spec": {"nodeName": node, "roles": roles, "zone": zone,
                "total": {"cpus": 4.0, "mem": 1024.0, "disk": 0.0, "gpus": 0},
                "free": {"cpus": free_cpus, "mem": 512.0, "disk": 0.0, "gpus": 0}}}))
        };
        let out = resources_by_role_zone(&[
            o("a", json!([]), "z1", 1.0),
            o("b", json!([]), "z1", 4.0),
            o("c", json!(["db", "web"]), "z2", 2.0),
        ]);
        let keys: Vec<(&str, &str, usize)> = out.iter().map(|g| (g.role.as_str(), g.zone.as_str(), g.nodes)).collect();
        assert_eq!(keys, vec![("*", "z1", 2), ("db", "z2", 1), ("web", "z2", 1)]);
        assert_eq!(out[0].total.cpus, 8.0);
        assert_eq!(out[0].used.cpus, 3.0);
        assert_eq!(out[0].used.mem, 1024.0);
    }

    #[test]
    fn layers_follow_the_deepest_parent_and_survive_cycles() {
        let g: BTreeMap<String, Vec<String>> = [
            ("n/a", vec![]),
            ("n/b", vec!["n/a"]),
            ("n/c", vec!["n/a", "n/b"]),
            ("n/d", vec!["n/missing"]),
            ("n/x", vec!["n/y"]),
            ("n/y", vec!["n/x"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        let l: BTreeMap<String, usize> = graph_layers(&g).into_iter().collect();
        assert_eq!((l["n/a"], l["n/b"], l["n/c"], l["n/d"]), (0, 1, 2, 0));
        assert!(l["n/x"] <= 2 && l["n/y"] <= 2, "a cycle is cut: {l:?}");
    }

    #[test]
    fn parents_resolve_in_the_namespace() {
        let j: Job = obj(json!({"metadata": {"name": "j", "namespace": "n"},
            "spec": {"run": {}, "parents": ["a", "other/b", "ops.backup", "nightly"], "dependencies": [{"id": "a"}]}}));
        let named: Job =
            obj(json!({"metadata": {"name": "nightly-job", "namespace": "n"}, "spec": {"id": "nightly", "run": {}}}));
        let a: Job = obj(json!({"metadata": {"name": "a", "namespace": "n"}, "spec": {"run": {}}}));
        assert_eq!(
            job_parents(&j, "n", &[a, named]),
            vec!["n/a".to_string(), "n/nightly-job".into(), "ops/backup".into(), "other/b".into()]
        );
    }

    #[test]
    fn manifests_keep_only_set_options() {
        let m = package_manifest("kafka", "3.9.1", "events", "data", &json!({}));
        assert!(m["spec"].get("options").is_none());
        let m = package_manifest("kafka", "3.9.1", "events", "data", &json!({"brokers": {"count": 3}}));
        assert_eq!(m["spec"]["options"]["brokers"]["count"], 3);
        assert_eq!(m["metadata"]["namespace"], "data");
    }

    #[test]
    fn times_in_a_zone() {
        let t = parse_time("2026-07-01T00:30:00Z").expect("time");
        assert_eq!(local_time(t, "Europe/Paris").as_deref(), Some("2026-07-01 02:30:00+02:00 CEST"));
        assert_eq!(local_time(t, "Mars/Olympus"), None);
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("data-1"));
        for bad in ["", "-a", "a-", "A", "a_b", "a/b", &"x".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}

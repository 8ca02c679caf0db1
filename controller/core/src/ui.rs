//! What the web UI shows, decided from objects already read (pure; `now` is an argument):
//! the health class of an App, whether a Job fails or is late, whether a GitSource is in sync,
//! resources offered and used per role and zone, the layers of the Chronos parent graph, and
//! the Package manifest a package form produces.

use crate::outcome::Failure;
use crate::plan::{Action, ObjRef, Plan};
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
/// installed, the options the user set (only those; defaults stay in the package), and its
/// `spec.repository` unless null (the built-in catalog).
pub fn package_manifest(
    name: &str,
    version: &str,
    metadata_name: &str,
    namespace: &str,
    options: &Value,
    repository: &Value,
) -> Value {
    let mut spec = json!({"name": name, "version": version});
    if !repository.is_null() {
        spec["repository"] = repository.clone();
    }
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

/// Most objects whose diff the Sources page's plan shows; the others are listed without.
pub const PLAN_DIFFS: usize = 50;
/// Longest diff of one object shown (bytes); a longer one is cut, saying so.
pub const PLAN_DIFF_BYTES: usize = 64 << 10;

/// A created object's diff: its whole desired form, every line added.
fn creation_diff(desired: &Value) -> String {
    let after = serde_saphyr::to_string(desired).unwrap_or_default();
    similar::TextDiff::from_lines("", &after).unified_diff().context_radius(2).header("live", "desired").to_string()
}

fn cut(mut diff: String) -> String {
    if diff.len() > PLAN_DIFF_BYTES {
        let mut at = PLAN_DIFF_BYTES;
        while !diff.is_char_boundary(at) {
            at -= 1;
        }
        diff.truncate(at);
        diff.push_str(&format!("\n... (cut at {} KiB)\n", PLAN_DIFF_BYTES >> 10));
    }
    diff
}

/// The plan of a revision as the Sources page shows it: the summary, guard, kept and skipped
/// files of `dromos plan`'s JSON report, then one row per object created, updated or deleted
/// (unchanged ones are counted only) with its unified diff, live -> desired (`dromos plan`'s
/// diff of the fields Dromos sets; a created object's whole desired form), for the first
/// `max_diffs` changes; `diffsOmitted` counts the changes shown without one. `refused`: the
/// objects a sync would refuse to take.
pub fn plan_view(plan: &Plan, desired: &[Value], refused: &[Failure], max_diffs: usize) -> Value {
    let by_key: std::collections::HashMap<crate::plan::Key, &Value> =
        desired.iter().filter_map(|d| Some((ObjRef::of(d)?.key(), d))).collect();
    let mut changes = vec![];
    let mut omitted = 0usize;
    for s in plan.steps.iter().filter(|s| s.action != Action::Unchanged) {
        let diff = if changes.len() < max_diffs {
            match s.action {
                Action::Update => s.diff.clone().map(cut),
                _ => by_key.get(&s.obj.key()).map(|d| cut(creation_diff(d))),
            }
        } else {
            None
        };
        if diff.is_none() {
            omitted += 1;
        }
        let action = if s.action == Action::Create { "create" } else { "update" };
        changes.push(json!({"action": action, "object": s.obj.display(), "diff": diff}));
    }
    for o in &plan.prune {
        changes.push(json!({"action": "delete", "object": o.display(), "diff": null}));
    }
    let mut v = crate::plan::report::json(plan);
    if let Some(m) = v.as_object_mut() {
        m.remove("steps");
    }
    v["changes"] = json!(changes);
    v["diffsOmitted"] = json!(omitted);
    v["refused"] = json!(
        refused
            .iter()
            .map(|f| json!({"object": f.obj.display(), "reason": f.reason, "message": f.message}))
            .collect::<Vec<_>>()
    );
    v
}

/// Where the package form's patch puts a new Package: `<path>/packages/<name>.yaml` under the
/// GitSource's `spec.path` (the repository root when it has none).
pub fn package_file(source_path: Option<&str>, name: &str) -> String {
    let dir = source_path.map(|p| p.trim_matches('/')).unwrap_or("");
    if dir.is_empty() { format!("packages/{name}.yaml") } else { format!("{dir}/packages/{name}.yaml") }
}

/// A `git apply`-able patch setting the file `path` (relative to the repository root) to
/// `content`: a new file when `old` is `None`, else a change of `old`. `None` when the file
/// already holds exactly `content`.
pub fn file_patch(path: &str, old: Option<&str>, content: &str) -> Option<String> {
    if old == Some(content) {
        return None;
    }
    let diff = similar::TextDiff::from_lines(old.unwrap_or(""), content);
    let (from, mode) = match old {
        Some(_) => (format!("a/{path}"), String::new()),
        None => ("/dev/null".to_string(), "new file mode 100644\n".to_string()),
    };
    let body = diff.unified_diff().context_radius(3).header(&from, &format!("b/{path}")).to_string();
    Some(format!("diff --git a/{path} b/{path}\n{mode}{body}"))
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
        let m = package_manifest("kafka", "3.9.1", "events", "data", &json!({}), &Value::Null);
        assert!(m["spec"].get("options").is_none());
        let m = package_manifest("kafka", "3.9.1", "events", "data", &json!({"brokers": {"count": 3}}), &Value::Null);
        assert_eq!(m["spec"]["options"]["brokers"]["count"], 3);
        assert_eq!(m["metadata"]["namespace"], "data");
        let m = package_manifest(
            "greeter",
            "1.0.0",
            "hi",
            "team",
            &json!({}),
            &json!({"gitSource": "catalog", "path": "pkgs"}),
        );
        assert_eq!(m["spec"]["repository"], json!({"gitSource": "catalog", "path": "pkgs"}));
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

    #[test]
    fn a_plan_shows_each_change_with_its_diff_within_bounds() {
        let cm = |name: &str, v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "n"}, "data": {"k": v}});
        let mut desired = vec![cm("new", "1"), cm("changed", "2"), cm("same", "3")];
        let live = crate::plan::observe(&mut desired, [cm("changed", "1"), cm("same", "3"), cm("gone", "0")]);
        let inventory: Vec<ObjRef> =
            ["changed", "same", "gone"].iter().map(|n| ObjRef::of(&cm(n, "")).expect("ref")).collect();
        let plan = crate::plan::plan_sync(&desired, &live, &inventory, &Default::default(), &Default::default());
        let v = plan_view(&plan, &desired, &[], 10);
        assert_eq!(v["summary"], json!({"create": 1, "update": 1, "unchanged": 1, "delete": 1}));
        let changes = v["changes"].as_array().expect("changes");
        assert_eq!(changes.len(), 3, "{v}");
        let of = |o: &str| changes.iter().find(|c| c["object"] == o).unwrap_or_else(|| panic!("{o}: {v}"));
        let update = of("ConfigMap/n/changed");
        assert_eq!(update["action"], "update");
        let diff = update["diff"].as_str().expect("diff");
        assert!(diff.contains("-  k: '1'") || diff.contains("-  k: \"1\""), "{diff}");
        assert!(diff.contains("--- live") && diff.contains("+++ desired"), "{diff}");
        let create = of("ConfigMap/n/new")["diff"].as_str().expect("creation diff").to_string();
        assert!(create.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).count() == 0, "{create}");
        assert!(create.contains("+  name: new"), "{create}");
        assert_eq!(of("ConfigMap/n/gone")["action"], "delete");
        assert_eq!(v["diffsOmitted"], 0);
        // Beyond the bound: listed, without a diff.
        let v = plan_view(&plan, &desired, &[], 1);
        assert_eq!(v["diffsOmitted"], 1, "{v}");
        assert_eq!(v["changes"].as_array().expect("changes").len(), 3);
    }

    #[test]
    fn package_patches_add_or_change_one_file() {
        assert_eq!(package_file(Some("/clusters/prod/"), "kafka"), "clusters/prod/packages/kafka.yaml");
        assert_eq!(package_file(None, "kafka"), "packages/kafka.yaml");
        assert_eq!(package_file(Some(""), "kafka"), "packages/kafka.yaml");
        let add = file_patch("p/packages/k.yaml", None, "a: 1\nb: 2\n").expect("patch");
        assert!(add.starts_with("diff --git a/p/packages/k.yaml b/p/packages/k.yaml\nnew file mode 100644\n--- /dev/null\n+++ b/p/packages/k.yaml\n"), "{add}");
        assert!(add.contains("+a: 1\n+b: 2\n"), "{add}");
        let change = file_patch("k.yaml", Some("a: 1\nb: 2\n"), "a: 1\nb: 3\n").expect("patch");
        assert!(change.contains("--- a/k.yaml\n+++ b/k.yaml\n") && change.contains("-b: 2\n+b: 3\n"), "{change}");
        assert_eq!(file_patch("k.yaml", Some("a: 1\n"), "a: 1\n"), None);
    }
}

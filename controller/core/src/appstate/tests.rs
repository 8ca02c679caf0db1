//! Tests of the App operator's decisions: observations in, status and events out.

use super::*;
use crate::time::Instant;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

const T0: &str = "2026-11-24T10:00:00Z";
const T1: &str = "2026-11-24T10:05:00Z";

fn at(s: &str) -> Instant {
    crate::time::parse_time(s).unwrap()
}

fn pod(rev: &str, phase: &str, ready: bool) -> PodInfo {
    PodInfo { name: format!("p-{rev}"), revision: rev.into(), phase: phase.into(), ready, ..Default::default() }
}

fn workload(rev: &str, n: i32) -> WorkloadInfo {
    WorkloadInfo { revision: rev.into(), observed: true, replicas: n, failed: None }
}

fn obs(instances: i32, version: &str) -> Observed {
    Observed {
        generation: Some(1),
        instances,
        revision: version.into(),
        version: version.into(),
        now: at(T0),
        ..Default::default()
    }
}

fn cond<'a>(s: &'a AppStatus, t: &str) -> &'a Condition {
    s.common.conditions.iter().find(|c| c.type_ == t).unwrap()
}

#[test]
fn a_new_app_starts_a_create_deployment() {
    let a = assess(None, &obs(3, "v1"));
    assert!(a.apply);
    assert_eq!(a.status.state.as_deref(), Some("Deploying"));
    let d = a.status.deployment.as_ref().unwrap();
    assert_eq!((d.reason.as_str(), d.version.as_str(), d.started_at.as_str()), ("Create", "v1", T0));
    assert_eq!(d.progress.as_deref(), Some("0 of 3 instances at the new version, 0 healthy"));
    assert_eq!(a.events[0].reason, "DeploymentStarted");
    assert_eq!(cond(&a.status, "Ready").status, "False");
    assert_eq!(cond(&a.status, "Reconciling").status, "True");
}

#[test]
fn an_app_read_before_its_first_status_write_is_still_being_created() {
    // The workload is applied and rolling out, but the App in the cache has no status yet.
    let mut o = obs(3, "v1");
    o.workload = Some(workload("v1", 3));
    o.pods = vec![pod("v1", "Running", true), pod("v1", "Pending", false)];
    let a = assess(None, &o);
    assert_eq!(a.status.deployment.as_ref().unwrap().reason, "Create");
}

#[test]
fn a_rolled_out_healthy_app_is_running_and_the_deployment_is_recorded() {
    let first = assess(None, &obs(2, "v1"));
    let mut o = obs(2, "v1");
    o.now = at(T1);
    o.workload = Some(workload("v1", 2));
    o.pods = vec![pod("v1", "Running", true), pod("v1", "Running", true)];
    let a = assess(Some(&first.status), &o);
    assert_eq!(a.status.state.as_deref(), Some("Running"));
    assert_eq!(a.status.version.as_deref(), Some("v1"));
    assert!(a.status.deployment.is_none());
    let last = a.status.last_deployment.as_ref().unwrap();
    assert_eq!((last.started_at.as_str(), last.finished_at.as_deref()), (T0, Some(T1)));
    assert_eq!(last.result.as_deref(), Some("Succeeded"));
    assert_eq!(a.events.iter().map(|e| e.reason).collect::<Vec<_>>(), ["DeploymentFinished"]);
    assert_eq!((a.status.running, a.status.healthy, a.status.unhealthy), (Some(2), Some(2), Some(0)));
    assert_eq!(cond(&a.status, "Ready").status, "True");

    // The same observation later changes nothing: no status write, no event.
    let mut later = o.clone();
    later.now = at("2026-11-24T11:00:00Z");
    let b = assess(Some(&a.status), &later);
    assert_eq!(b.status, a.status);
    assert!(b.events.is_empty());
}

#[test]
fn an_upgrade_reports_progress_and_supersedes_nothing_until_done() {
    let mut running = obs(2, "v1");
    running.workload = Some(workload("v1", 2));
    running.pods = vec![pod("v1", "Running", true), pod("v1", "Running", true)];
    let prev = assess(Some(&assess(None, &running).status), &running).status;
    assert_eq!(prev.state.as_deref(), Some("Running"));
    let mut o = obs(2, "v2");
    o.workload = Some(workload("v2", 2));
    o.pods = vec![pod("v1", "Running", true), pod("v2", "Running", true), pod("v2", "Pending", false)];
    let a = assess(Some(&prev), &o);
    let d = a.status.deployment.as_ref().unwrap();
    assert_eq!(d.reason, "Upgrade");
    assert_eq!(d.progress.as_deref(), Some("2 of 2 instances at the new version, 1 healthy"));
    assert_eq!(a.status.version.as_deref(), Some("v1"), "the running version until the rollout ends");
    assert_eq!((a.status.staged, a.status.running, a.status.healthy), (Some(1), Some(2), Some(2)));
    assert!(a.events[0].message.contains("from version v1 to v2"), "{:?}", a.events);
}

#[test]
fn dependencies_hold_the_app_and_say_what_they_wait_for() {
    let mut o = obs(1, "v1");
    o.dependencies = vec![
        Dependency { key: "shop/db".into(), state: DependencyState::NotReady { healthy: 1, instances: 3 } },
        Dependency { key: "shop/cache".into(), state: DependencyState::Ready },
        Dependency { key: "shop/queue".into(), state: DependencyState::Missing },
    ];
    let a = assess(None, &o);
    assert!(!a.apply);
    assert_eq!(a.status.state.as_deref(), Some("Waiting"));
    assert_eq!(
        a.status.waiting_for.as_deref(),
        Some("waiting for shop/db: 1 of 3 healthy; waiting for shop/queue: no such App")
    );
    assert_eq!(cond(&a.status, "Ready").reason, "WaitingForDependencies");
    assert!(a.events.iter().any(|e| e.reason == "WaitingForDependencies"));
    // Once ready, the App is applied.
    o.dependencies.iter_mut().for_each(|d| d.state = DependencyState::Ready);
    let b = assess(Some(&a.status), &o);
    assert!(b.apply);
    assert_eq!(b.status.waiting_for, Some("1 instance(s) to become healthy".into()));
    assert_eq!(b.status.state.as_deref(), Some("Deploying"));
}

#[test]
fn scaling_keeps_the_version_and_is_reported() {
    let mut o = obs(2, "v1");
    o.workload = Some(workload("v1", 2));
    o.pods = vec![pod("v1", "Running", true), pod("v1", "Running", true)];
    let prev = assess(Some(&assess(None, &o).status), &o).status;
    let mut s = obs(3, "v1");
    s.workload = Some(workload("v1", 3));
    s.pods = vec![pod("v1", "Running", true), pod("v1", "Running", true), pod("v1", "Pending", false)];
    let a = assess(Some(&prev), &s);
    assert_eq!(a.status.deployment.as_ref().unwrap().reason, "Scale");
    let reasons: Vec<_> = a.events.iter().map(|e| e.reason).collect();
    assert_eq!(reasons, ["DeploymentStarted", "Scaled"]);
    assert_eq!(a.events[1].message, "scaled from 2 to 3 instances");
}

#[test]
fn suspending_is_ready_with_zero_instances() {
    let mut o = obs(0, "v1");
    o.workload = Some(workload("v1", 0));
    let a = assess(Some(&assess(None, &o).status), &o);
    assert_eq!(a.status.state.as_deref(), Some("Suspended"));
    assert_eq!(cond(&a.status, "Ready").status, "True");
}

#[test]
fn a_restart_is_a_deployment_and_is_recorded_when_done() {
    let mut o = obs(1, "v1");
    o.workload = Some(workload("v1", 1));
    o.pods = vec![pod("v1", "Running", true)];
    let prev = assess(Some(&assess(None, &o).status), &o).status;
    let mut r = obs(1, "v1");
    r.restart = Some("2026-11-24T10:01:00Z".into());
    r.revision = revision("v1", r.restart.as_deref());
    r.workload = Some(workload("v1", 1));
    r.pods = vec![pod("v1", "Running", true)];
    let a = assess(Some(&prev), &r);
    assert_eq!(a.status.deployment.as_ref().unwrap().reason, "Restart");
    assert_eq!(a.status.restarted_at, None);
    r.workload = Some(workload(&r.revision.clone(), 1));
    r.pods = vec![pod(&r.revision.clone(), "Running", true)];
    let b = assess(Some(&a.status), &r);
    assert_eq!(b.status.state.as_deref(), Some("Running"));
    assert_eq!(b.status.restarted_at.as_deref(), Some("2026-11-24T10:01:00Z"));
    assert_eq!(b.status.last_deployment.as_ref().unwrap().reason, "Restart");
}

#[test]
fn unplaceable_instances_and_invalid_specs_are_explained() {
    let mut o = obs(2, "v1");
    o.workload = Some(workload("v1", 2));
    let mut p = pod("v1", "Pending", false);
    p.unschedulable = Some("0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector.".into());
    o.pods = vec![p.clone(), p];
    let a = assess(None, &o);
    assert_eq!(
        a.status.waiting_for.as_deref(),
        Some(
            "2 instance(s) cannot be placed: 0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector."
        )
    );
    // Exact placement: the Dromos scheduler's decline summary explains the wait.
    let prev = AppStatus {
        placement: Some(dromos_crds::app::PlacementStatus {
            waiting: 2,
            message: Some("2 instances waiting: 3 offers declined: UNIQUE hostname 3".into()),
            declined: [("UNIQUE hostname".to_string(), 3)].into(),
        }),
        ..Default::default()
    };
    let mut o = obs(2, "v1");
    o.workload = Some(workload("v1", 2));
    o.pods = vec![pod("v1", "Pending", false), pod("v1", "Pending", false)];
    let c = assess(Some(&prev), &o);
    assert_eq!(
        c.status.waiting_for.as_deref(),
        Some("2 instance(s) cannot be placed: 2 instances waiting: 3 offers declined: UNIQUE hostname 3")
    );
    assert_eq!(cond(&c.status, "Ready").reason, "Unplaceable");
    assert_eq!(c.status.placement, prev.placement, "the operator carries the scheduler's field over");
    let mut bad = obs(1, "v1");
    bad.problems = vec!["spec.args: `cmd` and `args` are mutually exclusive".into()];
    let b = assess(None, &bad);
    assert!(!b.apply);
    assert_eq!(b.status.state.as_deref(), Some("Stalled"));
    assert_eq!(cond(&b.status, "Stalled").status, "True");
}

#[test]
fn an_instance_restarted_after_failing_its_health_check_is_counted_and_named_once() {
    let mut o = obs(2, "v1");
    o.workload = Some(workload("v1", 2));
    o.pods = vec![pod("v1", "Running", true), PodInfo { name: "p-b".into(), ..pod("v1", "Running", true) }];
    let healthy = assess(None, &o);
    let healthy = assess(Some(&healthy.status), &o);
    assert_eq!(healthy.status.restarts, Some(0));

    // The kubelet killed p-b's container after its failed health checks and started it again.
    o.pods[1].restarts = 1;
    o.pods[1].last_exit = Some("exit code 143 (Error)".into());
    let a = assess(Some(&healthy.status), &o);
    assert_eq!(a.status.restarts, Some(1));
    let e = a.events.iter().find(|e| e.reason == "InstanceRestarted").expect("an InstanceRestarted event");
    assert!(e.warning);
    assert_eq!(
        e.message,
        "restarted in place after a failed health check or an exit: p-b (1 restart, last ended with exit code 143 (Error))"
    );

    // Seen again: no new event. A first status (after an operator restart) reports none either.
    assert!(assess(Some(&a.status), &o).events.iter().all(|e| e.reason != "InstanceRestarted"));
    assert!(assess(None, &o).events.iter().all(|e| e.reason != "InstanceRestarted"));
}

#[test]
fn instances_coming_up_wait_to_be_written_together_and_the_end_of_the_deployment_does_not() {
    use std::time::Duration;
    let ms = Duration::from_millis;
    let up = |healthy: usize, prev: &AppStatus| {
        let mut o = obs(4, "v1");
        o.workload = Some(workload("v1", 4));
        o.pods = (0..4).map(|i| pod("v1", "Running", i < healthy)).collect();
        for (i, p) in o.pods.iter_mut().enumerate() {
            p.name = format!("p-{i}");
        }
        assess(Some(prev), &o)
    };
    let first = assess(None, &obs(4, "v1"));
    assert_eq!(status_wait(None, &first, None), None, "the first status is written at once");
    let one = up(1, &first.status).status;
    let two = up(2, &one);
    assert!(two.events.is_empty(), "{:?}", two.events);
    assert_eq!(two.status.state.as_deref(), Some("Deploying"));
    assert_ne!(one, two.status);
    // A count changed 300 ms after the last write: it waits out the rest of the second.
    assert_eq!(status_wait(Some(&one), &two, Some(ms(300))), Some(ms(700)));
    // Past the second, or never written by this process: at once.
    assert_eq!(status_wait(Some(&one), &two, Some(ms(1_000))), None);
    assert_eq!(status_wait(Some(&one), &two, None), None);
    // All healthy: Running and Ready are written at once, whenever the last write was.
    let all = up(4, &two.status);
    assert_eq!(all.status.state.as_deref(), Some("Running"));
    assert_eq!(status_wait(Some(&two.status), &all, Some(ms(10))), None);
    // A change that is not a count (a problem) does not wait either, nor one with an event.
    let mut broken = two.clone();
    broken.status.problems = vec!["spec.cmd: required".into()];
    assert_eq!(status_wait(Some(&two.status), &broken, Some(ms(10))), None);
    let mut told = two.clone();
    told.events.push(AppEvent { warning: true, reason: "InstanceRestarted", message: String::new() });
    assert_eq!(status_wait(Some(&one), &told, Some(ms(10))), None);
}

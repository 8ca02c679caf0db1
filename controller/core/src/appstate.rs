//! What the App operator decides and reports, as a pure function of what it observed.
//!
//! The shell gathers the App, its workload (Deployment or StatefulSet), its pods and the state
//! of the Apps it depends on; [`assess`] says whether the rendered objects may be applied now
//! (Marathon's dependency rule), and computes the status (instance counts, the running and last
//! deployment, conditions) and the events to record. Time is an input (`now`, RFC 3339).

use crate::ids;
use dromos_crds::app::{AppDeployment, AppStatus};
use dromos_crds::condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// One pod of the App, as the shell read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodInfo {
    /// Pod name.
    pub name: String,
    /// Revision of the template it was created from ([`revision`]).
    pub revision: String,
    /// Pending, Running, Succeeded, Failed or Unknown.
    pub phase: String,
    /// The Ready condition is True.
    pub ready: bool,
    /// The pod is being deleted.
    pub terminating: bool,
    /// Why the scheduler could not place it (the PodScheduled=False message).
    pub unschedulable: Option<String>,
    /// A container waits in CrashLoopBackOff (Marathon's "delayed").
    pub crash_looping: bool,
}

/// The App's workload (Deployment or StatefulSet), as the shell read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadInfo {
    /// Revision of its pod template ([`revision`]).
    pub revision: String,
    /// The workload controller has seen the latest template (`observedGeneration >= generation`).
    pub observed: bool,
    /// Pods wanted.
    pub replicas: i32,
    /// Pods at the current template.
    pub updated: i32,
    /// Pods ready.
    pub ready: i32,
    /// Pods existing (all templates).
    pub current: i32,
    /// The rollout is stuck (Deployment's ProgressDeadlineExceeded), with the message.
    pub failed: Option<String>,
}

/// State of one dependency.
#[derive(Clone, Debug, PartialEq)]
pub enum DependencyState {
    /// No App with that id exists.
    Missing,
    /// It exists but is not deployed and healthy.
    NotReady {
        /// Healthy instances.
        healthy: i32,
        /// Instances wanted.
        instances: i32,
    },
    /// Deployed and healthy.
    Ready,
}

/// A dependency of the App.
#[derive(Clone, Debug, PartialEq)]
pub struct Dependency {
    /// `namespace/name`.
    pub key: String,
    /// Its state.
    pub state: DependencyState,
}

/// What the shell observed for one App.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `metadata.generation` of the App.
    pub generation: Option<i64>,
    /// Instances wanted (spec, default 1).
    pub instances: i32,
    /// Revision the rendered template has ([`revision`] of the spec version and restart).
    pub revision: String,
    /// Spec version (hash).
    pub version: String,
    /// The restart requested through the `dromos.io/restart` annotation.
    pub restart: Option<String>,
    /// The workload, when it exists.
    pub workload: Option<WorkloadInfo>,
    /// The App's pods.
    pub pods: Vec<PodInfo>,
    /// Its dependencies.
    pub dependencies: Vec<Dependency>,
    /// Problems of the spec (validation errors): nothing is applied.
    pub problems: Vec<String>,
    /// The App is being deleted.
    pub deleting: bool,
    /// RFC 3339 time of the observation.
    pub now: String,
}

/// An event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppEvent {
    /// Warning (true) or Normal.
    pub warning: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// Human message.
    pub message: String,
}

/// The operator's decision for one App.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// Apply the rendered objects now.
    pub apply: bool,
    /// The new status.
    pub status: AppStatus,
    /// Events to record.
    pub events: Vec<AppEvent>,
}

/// The revision of a pod template: the spec version, and the restart when there was one.
pub fn revision(version: &str, restart: Option<&str>) -> String {
    match restart {
        Some(r) if !r.is_empty() => format!("{version}@{r}"),
        _ => version.to_string(),
    }
}

/// Resolves an App's dependency ids to `(namespace, name)` by the id rule of [`crate::ids`]:
/// relative ids against the App's group, one-segment ids in the App's namespace.
pub fn resolve_dependencies(app_id: &str, namespace: &str, deps: &[String]) -> Vec<Result<(String, String), String>> {
    let group = match app_id.rsplit_once('/') {
        Some((g, _)) if !g.is_empty() => g.to_string(),
        _ => "/".to_string(),
    };
    deps.iter()
        .map(|d| {
            let segs = ids::parse_id(d, Some(&group))?;
            let loc = ids::location_of(&segs);
            Ok((loc.namespace.unwrap_or_else(|| namespace.to_string()), loc.name))
        })
        .collect()
}

fn waiting_text(deps: &[Dependency]) -> Option<String> {
    let parts: Vec<String> = deps
        .iter()
        .filter_map(|d| match &d.state {
            DependencyState::Ready => None,
            DependencyState::Missing => Some(format!("waiting for {}: no such App", d.key)),
            DependencyState::NotReady { healthy, instances } => {
                Some(format!("waiting for {}: {healthy} of {instances} healthy", d.key))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn set_condition(
    conds: &mut Vec<Condition>,
    prev: &[Condition],
    t: &str,
    status: bool,
    reason: &str,
    msg: &str,
    obs: &Observed,
) {
    let status = if status { "True" } else { "False" };
    let last = prev
        .iter()
        .find(|c| c.type_ == t && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(obs.now.parse().unwrap_or_default()));
    conds.push(Condition {
        type_: t.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: msg.to_string(),
        observed_generation: obs.generation,
        last_transition_time: last,
    });
}

/// Decides and reports. `prev` is the status written last time.
pub fn assess(prev: Option<&AppStatus>, obs: &Observed) -> Assessment {
    let prev_default = AppStatus::default();
    let prev = prev.unwrap_or(&prev_default);
    let mut events = Vec::new();
    let mut st = AppStatus {
        instances: Some(obs.instances),
        version: prev.version.clone(),
        restarted_at: prev.restarted_at.clone(),
        last_deployment: prev.last_deployment.clone(),
        // Written by the Dromos scheduler only: carried over unchanged.
        placement: prev.placement.clone(),
        ..Default::default()
    };
    st.common.observed_generation = obs.generation;

    // Counts, over every live pod of every version, as Marathon counted tasks.
    let live: Vec<&PodInfo> = obs.pods.iter().filter(|p| !p.terminating).collect();
    let staged = live.iter().filter(|p| p.phase == "Pending").count() as i32;
    let running = live.iter().filter(|p| p.phase == "Running").count() as i32;
    let healthy = live.iter().filter(|p| p.phase == "Running" && p.ready).count() as i32;
    st.staged = Some(staged);
    st.running = Some(running);
    st.healthy = Some(healthy);
    st.unhealthy = Some(running - healthy);

    if !obs.problems.is_empty() {
        st.problems = obs.problems.clone();
        let msg = format!("the spec is invalid: {}", obs.problems.join("; "));
        st.state = Some("Stalled".into());
        let mut conds = Vec::new();
        set_condition(&mut conds, &prev.common.conditions, condition::READY, false, "InvalidSpec", &msg, obs);
        set_condition(&mut conds, &prev.common.conditions, condition::RECONCILING, false, "InvalidSpec", "", obs);
        set_condition(&mut conds, &prev.common.conditions, condition::STALLED, true, "InvalidSpec", &msg, obs);
        st.common.conditions = conds;
        st.deployment = prev.deployment.clone();
        if prev.problems != obs.problems {
            events.push(AppEvent { warning: true, reason: "InvalidSpec", message: msg });
        }
        return Assessment { apply: false, status: st, events };
    }

    let waiting = waiting_text(&obs.dependencies);
    let apply = waiting.is_none() && !obs.deleting;
    let workload = obs.workload.as_ref();
    let at_target = workload.is_some_and(|w| w.revision == obs.revision);
    let rolled_out = at_target
        && workload.is_some_and(|w| {
            w.observed && w.replicas == obs.instances && w.updated >= obs.instances && w.ready >= obs.instances
        })
        && live.len() as i32 == obs.instances
        && live.iter().all(|p| p.revision == obs.revision);
    let complete = rolled_out && healthy >= obs.instances;

    // The deployment: started when the target revision is not rolled out, finished when it is.
    let target_changed = prev.deployment.as_ref().is_none_or(|d| revision_of(d) != obs.revision);
    if complete {
        if let Some(d) = &prev.deployment {
            let mut done = d.clone();
            done.finished_at = Some(obs.now.clone());
            done.result = Some(if revision_of(d) == obs.revision { "Succeeded" } else { "Superseded" }.into());
            done.progress = None;
            done.waiting_for = None;
            events.push(AppEvent {
                warning: false,
                reason: "DeploymentFinished",
                message: format!("{} to version {} finished: {} instances healthy", d.reason, obs.version, healthy),
            });
            st.last_deployment = Some(done);
        }
        if st.version.as_deref() != Some(obs.version.as_str()) {
            st.version = Some(obs.version.clone());
        }
        if obs.restart.is_some() {
            st.restarted_at = obs.restart.clone();
        }
    } else if !obs.deleting {
        // No version ever completed: still the App's creation, even when the workload already
        // exists (a reconcile may read the App before its own last status write).
        let reason = if prev.version.is_none() {
            "Create"
        } else if prev.version.as_deref() != Some(obs.version.as_str()) {
            "Upgrade"
        } else if prev.instances.is_some_and(|i| i != obs.instances) {
            "Scale"
        } else if obs.restart.is_some() && obs.restart != prev.restarted_at {
            "Restart"
        } else {
            "Recovery"
        };
        let mut d = match prev.deployment.as_ref().filter(|_| !target_changed) {
            Some(d) => d.clone(),
            None => {
                if let Some(old) = &prev.deployment {
                    let mut sup = old.clone();
                    sup.finished_at = Some(obs.now.clone());
                    sup.result = Some("Superseded".into());
                    sup.progress = None;
                    sup.waiting_for = None;
                    st.last_deployment = Some(sup);
                }
                if reason != "Recovery" {
                    events.push(AppEvent {
                        warning: false,
                        reason: "DeploymentStarted",
                        message: deployment_message(reason, prev, obs),
                    });
                }
                AppDeployment {
                    version: obs.version.clone(),
                    reason: reason.into(),
                    started_at: obs.now.clone(),
                    ..Default::default()
                }
            }
        };
        d.version = obs.version.clone();
        d.restart = obs.restart.clone();
        let updated_healthy =
            live.iter().filter(|p| p.revision == obs.revision && p.phase == "Running" && p.ready).count();
        let updated = live.iter().filter(|p| p.revision == obs.revision).count();
        d.progress =
            Some(format!("{updated} of {} instances at the new version, {updated_healthy} healthy", obs.instances));
        let pending: Vec<&&PodInfo> = live.iter().filter(|p| p.unschedulable.is_some()).collect();
        d.waiting_for = if let Some(w) = &waiting {
            Some(w.clone())
        } else if let Some(p) = prev.placement.as_ref().filter(|p| p.waiting > 0) {
            Some(format!("{} instance(s) cannot be placed: {}", p.waiting, p.message.clone().unwrap_or_default()))
        } else if let Some(p) = pending.first() {
            Some(format!(
                "{} instance(s) cannot be placed: {}",
                pending.len(),
                p.unschedulable.clone().unwrap_or_default()
            ))
        } else if let Some(f) = workload.and_then(|w| w.failed.clone()) {
            Some(f)
        } else if updated_healthy < obs.instances as usize {
            Some(format!("{} instance(s) to become healthy", obs.instances as usize - updated_healthy))
        } else {
            Some("old instances to stop".into())
        };
        st.deployment = Some(d);
    }

    if prev.instances.is_some_and(|i| i != obs.instances) {
        events.push(AppEvent {
            warning: false,
            reason: "Scaled",
            message: format!("scaled from {} to {} instances", prev.instances.unwrap_or(0), obs.instances),
        });
    }
    let failed = workload.and_then(|w| w.failed.clone());
    if failed.is_some() && prev.common.conditions.iter().all(|c| c.reason != "ProgressDeadlineExceeded") {
        events.push(AppEvent {
            warning: true,
            reason: "DeploymentFailed",
            message: failed.clone().unwrap_or_default(),
        });
    }
    if let Some(w) = &waiting
        && prev.waiting_for.as_deref() != Some(w.as_str())
    {
        events.push(AppEvent { warning: false, reason: "WaitingForDependencies", message: w.clone() });
    }
    st.waiting_for = waiting.clone().or_else(|| st.deployment.as_ref().and_then(|d| d.waiting_for.clone()));

    // State and conditions.
    let crash = live.iter().any(|p| p.crash_looping);
    let (state, ready, reconciling, stalled, reason, msg) = if obs.deleting {
        ("Deleting", false, true, false, "Deleting", "stopping instances".to_string())
    } else if let Some(f) = failed {
        ("Stalled", false, false, true, "ProgressDeadlineExceeded", f)
    } else if let Some(w) = waiting.clone().filter(|_| !complete || st.version.as_deref() != Some(&obs.version)) {
        ("Waiting", false, true, false, "WaitingForDependencies", w)
    } else if complete && obs.instances == 0 {
        ("Suspended", true, false, false, "Suspended", "suspended: 0 instances".to_string())
    } else if complete {
        ("Running", true, false, false, "Healthy", format!("{healthy} of {} instances healthy", obs.instances))
    } else if crash {
        (
            "Delayed",
            false,
            true,
            false,
            "Delayed",
            "instances keep failing; restarts are delayed (CrashLoopBackOff)".to_string(),
        )
    } else {
        let d = st.deployment.as_ref();
        let msg = format!(
            "{}: {}",
            d.and_then(|d| d.progress.clone()).unwrap_or_default(),
            d.and_then(|d| d.waiting_for.clone()).unwrap_or_default()
        );
        let unplaced = prev.placement.as_ref().is_some_and(|p| p.waiting > 0);
        ("Deploying", false, true, false, if unplaced { "Unplaceable" } else { "Deploying" }, msg)
    };
    st.state = Some(state.into());
    let mut conds = Vec::new();
    let pc = &prev.common.conditions;
    set_condition(&mut conds, pc, condition::READY, ready, reason, &msg, obs);
    set_condition(
        &mut conds,
        pc,
        condition::RECONCILING,
        reconciling,
        if reconciling { reason } else { "Idle" },
        if reconciling { &msg } else { "" },
        obs,
    );
    set_condition(
        &mut conds,
        pc,
        condition::STALLED,
        stalled,
        if stalled { reason } else { "Progressing" },
        if stalled { &msg } else { "" },
        obs,
    );
    st.common.conditions = conds;
    Assessment { apply, status: st, events }
}

fn revision_of(d: &AppDeployment) -> String {
    revision(&d.version, d.restart.as_deref())
}

fn deployment_message(reason: &str, prev: &AppStatus, obs: &Observed) -> String {
    match reason {
        "Create" => format!("deploying version {} with {} instances", obs.version, obs.instances),
        "Scale" => format!("scaling from {} to {} instances", prev.instances.unwrap_or(0), obs.instances),
        "Restart" => format!("restarting {} instances ({})", obs.instances, obs.restart.clone().unwrap_or_default()),
        _ => {
            format!("upgrading from version {} to {}", prev.version.clone().unwrap_or_else(|| "-".into()), obs.version)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2026-11-24T10:00:00Z";
    const T1: &str = "2026-11-24T10:05:00Z";

    fn pod(rev: &str, phase: &str, ready: bool) -> PodInfo {
        PodInfo { name: format!("p-{rev}"), revision: rev.into(), phase: phase.into(), ready, ..Default::default() }
    }

    fn workload(rev: &str, n: i32) -> WorkloadInfo {
        WorkloadInfo {
            revision: rev.into(),
            observed: true,
            replicas: n,
            updated: n,
            ready: n,
            current: n,
            failed: None,
        }
    }

    fn obs(instances: i32, version: &str) -> Observed {
        Observed {
            generation: Some(1),
            instances,
            revision: version.into(),
            version: version.into(),
            now: T0.into(),
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
        o.workload = Some(WorkloadInfo { updated: 1, ..workload("v1", 3) });
        o.pods = vec![pod("v1", "Running", true), pod("v1", "Pending", false)];
        let a = assess(None, &o);
        assert_eq!(a.status.deployment.as_ref().unwrap().reason, "Create");
    }

    #[test]
    fn a_rolled_out_healthy_app_is_running_and_the_deployment_is_recorded() {
        let first = assess(None, &obs(2, "v1"));
        let mut o = obs(2, "v1");
        o.now = T1.into();
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
        later.now = "2026-11-24T11:00:00Z".into();
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
        o.workload = Some(WorkloadInfo { updated: 1, ..workload("v2", 2) });
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
        o.workload = Some(WorkloadInfo { ready: 0, ..workload("v1", 2) });
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
        o.workload = Some(WorkloadInfo { ready: 0, ..workload("v1", 2) });
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
    fn dependency_ids_resolve_like_marathon() {
        let r = resolve_dependencies(
            "/shop/web/frontend",
            "shop",
            &["../db".into(), "/shop/cache".into(), "api".into(), "/ops/queue/main".into()],
        );
        let got: Vec<_> = r.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                ("shop".to_string(), "db".to_string()),
                ("shop".into(), "cache".into()),
                ("shop".into(), "web-api".into()),
                ("ops".into(), "queue-main".into())
            ]
        );
    }
}

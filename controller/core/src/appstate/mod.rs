//! What the App operator decides and reports, as a pure function of what it observed.
//!
//! The shell gathers the App, its workload (Deployment or StatefulSet), its pods and the state
//! of the Apps it depends on; [`assess`] says whether the rendered objects may be applied now
//! (Marathon's dependency rule), and computes the status (instance counts, the running and last
//! deployment, conditions) and the events to record. Time is an input (`now`). Pure.
//! [`deployment`] follows the deployment from start to finish.

mod deployment;
pub mod versions;

/// Dependency resolution is the App model's; re-exported for the App operator.
pub use crate::app::resolve_dependencies;

use crate::conditions::{Standard, condition, standard};
use crate::time::{Instant, fmt_time};
use chrono::SubsecRound;
use dromos_crds::app::{AppDeployment, AppStatus};
use dromos_crds::condition::{READY, RECONCILING, STALLED};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

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
    /// Restarts of its containers (the sum of their `restartCount`).
    pub restarts: i32,
    /// How the last restarted container ended, e.g. `exit code 143 (Error)`.
    pub last_exit: Option<String>,
}

/// The App's workload (Deployment or StatefulSet), as the shell read it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct WorkloadInfo {
    /// Revision of its pod template ([`revision`]).
    pub revision: String,
    /// The workload controller has seen the latest template (`observedGeneration >= generation`).
    pub observed: bool,
    /// Pods wanted (its spec). Its status counts are not read: they trail the pods the
    /// operator watches itself ([`deployment::is_complete`]).
    pub replicas: i32,
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
    /// Label selector of the App's pods (`dromos.io/app=NAME`), reported as `status.selector`.
    pub selector: String,
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
    /// Time of the observation.
    pub now: Instant,
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

/// A status time: RFC 3339 in whole seconds, like the conditions' `lastTransitionTime`.
fn stamp(now: Instant) -> String {
    fmt_time(now.trunc_subsecs(0))
}

/// Decides and reports. `prev` is the status written last time.
pub fn assess(prev: Option<&AppStatus>, obs: &Observed) -> Assessment {
    let prev_default = AppStatus::default();
    let prev = prev.unwrap_or(&prev_default);
    let mut st = carried_over(prev, obs);
    // Counts, over every live pod of every version, as Marathon counted tasks.
    let live: Vec<&PodInfo> = obs.pods.iter().filter(|p| !p.terminating).collect();
    let healthy = count(&mut st, &live);
    if !obs.problems.is_empty() {
        return invalid_spec(prev, obs, st);
    }

    let mut events = Vec::new();
    restart_events(prev, &st, &live, &mut events);
    let waiting = waiting_text(&obs.dependencies);
    let apply = waiting.is_none() && !obs.deleting;
    let complete = deployment::is_complete(obs, &live, healthy);
    if complete {
        deployment::finish(prev, obs, healthy, &mut st, &mut events);
    } else if !obs.deleting {
        let d = deployment::track(prev, obs, &live, waiting.as_deref(), &mut st, &mut events);
        st.deployment = Some(d);
    }
    let failed = obs.workload.as_ref().and_then(|w| w.failed.clone());
    change_events(prev, obs, failed.as_deref(), waiting.as_deref(), &mut events);
    st.waiting_for = waiting.clone().or_else(|| st.deployment.as_ref().and_then(|d| d.waiting_for.clone()));

    let v = verdict(prev, obs, &st, &live, healthy, complete, failed, waiting);
    st.state = Some(v.state.into());
    st.common.conditions = conditions_of(&v, &prev.common.conditions, obs);
    Assessment { apply, status: st, events }
}

/// The status fields kept from the last status, and the generation observed.
fn carried_over(prev: &AppStatus, obs: &Observed) -> AppStatus {
    let mut st = AppStatus {
        instances: Some(obs.instances),
        selector: Some(obs.selector.clone()),
        version: prev.version.clone(),
        restarted_at: prev.restarted_at.clone(),
        last_deployment: prev.last_deployment.clone(),
        // Written by the Dromos scheduler only: carried over unchanged.
        placement: prev.placement.clone(),
        ..Default::default()
    };
    st.common.observed_generation = obs.generation;
    st
}

/// Staged, running, healthy and unhealthy instances; returns the healthy ones.
fn count(st: &mut AppStatus, live: &[&PodInfo]) -> i32 {
    let staged = live.iter().filter(|p| p.phase == "Pending").count() as i32;
    let running = live.iter().filter(|p| p.phase == "Running").count() as i32;
    let healthy = live.iter().filter(|p| p.phase == "Running" && p.ready).count() as i32;
    st.replicas = Some(live.len() as i32);
    st.staged = Some(staged);
    st.running = Some(running);
    st.healthy = Some(healthy);
    st.unhealthy = Some(running - healthy);
    st.restarts = Some(live.iter().map(|p| p.restarts).sum());
    healthy
}

/// An `InstanceRestarted` warning when the live instances' restarts grew since the last status,
/// naming each restarted instance: Marathon reported the kill of an unhealthy task and its
/// replacement; the kubelet restarts the container in place, and only this count shows it.
fn restart_events(prev: &AppStatus, st: &AppStatus, live: &[&PodInfo], events: &mut Vec<AppEvent>) {
    let (Some(before), Some(now)) = (prev.restarts, st.restarts) else { return };
    if now <= before {
        return;
    }
    let which: Vec<String> = live
        .iter()
        .filter(|p| p.restarts > 0)
        .map(|p| {
            let last = p.last_exit.as_deref().map(|e| format!(", last ended with {e}")).unwrap_or_default();
            let times = if p.restarts == 1 { "1 restart".to_string() } else { format!("{} restarts", p.restarts) };
            format!("{} ({times}{last})", p.name)
        })
        .collect();
    events.push(AppEvent {
        warning: true,
        reason: "InstanceRestarted",
        message: format!("restarted in place after a failed health check or an exit: {}", which.join(", ")),
    });
}

/// An invalid spec: nothing is applied, the App is Stalled until the spec changes.
fn invalid_spec(prev: &AppStatus, obs: &Observed, mut st: AppStatus) -> Assessment {
    let mut events = Vec::new();
    st.problems = obs.problems.clone();
    let msg = format!("the spec is invalid: {}", obs.problems.join("; "));
    st.state = Some("Stalled".into());
    let s = Standard { ready: false, reconciling: false, stalled: true, reason: "InvalidSpec", message: &msg };
    st.common.conditions = standard(s, obs.generation, &prev.common.conditions, obs.now);
    st.deployment = prev.deployment.clone();
    if prev.problems != obs.problems {
        events.push(AppEvent { warning: true, reason: "InvalidSpec", message: msg });
    }
    Assessment { apply: false, status: st, events }
}

/// Events of changes since the last status: scaled, rollout failed, now waiting.
fn change_events(
    prev: &AppStatus,
    obs: &Observed,
    failed: Option<&str>,
    waiting: Option<&str>,
    events: &mut Vec<AppEvent>,
) {
    if prev.instances.is_some_and(|i| i != obs.instances) {
        events.push(AppEvent {
            warning: false,
            reason: "Scaled",
            message: format!("scaled from {} to {} instances", prev.instances.unwrap_or(0), obs.instances),
        });
    }
    if let Some(f) = failed
        && prev.common.conditions.iter().all(|c| c.reason != "ProgressDeadlineExceeded")
    {
        events.push(AppEvent { warning: true, reason: "DeploymentFailed", message: f.to_string() });
    }
    if let Some(w) = waiting
        && prev.waiting_for.as_deref() != Some(w)
    {
        events.push(AppEvent { warning: false, reason: "WaitingForDependencies", message: w.to_string() });
    }
}

/// The App's state and what its conditions say.
struct Verdict {
    state: &'static str,
    ready: bool,
    reconciling: bool,
    stalled: bool,
    reason: &'static str,
    message: String,
}

/// The state, first match wins: deleting, failed, waiting, suspended, running, delayed,
/// deploying.
#[allow(clippy::too_many_arguments)]
fn verdict(
    prev: &AppStatus,
    obs: &Observed,
    st: &AppStatus,
    live: &[&PodInfo],
    healthy: i32,
    complete: bool,
    failed: Option<String>,
    waiting: Option<String>,
) -> Verdict {
    let v = |state, ready, reconciling, stalled, reason, message| Verdict {
        state,
        ready,
        reconciling,
        stalled,
        reason,
        message,
    };
    let crash = live.iter().any(|p| p.crash_looping);
    if obs.deleting {
        v("Deleting", false, true, false, "Deleting", "stopping instances".to_string())
    } else if let Some(f) = failed {
        v("Stalled", false, false, true, "ProgressDeadlineExceeded", f)
    } else if let Some(w) = waiting.filter(|_| !complete || st.version.as_deref() != Some(&obs.version)) {
        v("Waiting", false, true, false, "WaitingForDependencies", w)
    } else if complete && obs.instances == 0 {
        v("Suspended", true, false, false, "Suspended", "suspended: 0 instances".to_string())
    } else if complete {
        v("Running", true, false, false, "Healthy", format!("{healthy} of {} instances healthy", obs.instances))
    } else if crash {
        let msg = "instances keep failing; restarts are delayed (CrashLoopBackOff)".to_string();
        v("Delayed", false, true, false, "Delayed", msg)
    } else {
        let d = st.deployment.as_ref();
        let msg = format!(
            "{}: {}",
            d.and_then(|d| d.progress.clone()).unwrap_or_default(),
            d.and_then(|d| d.waiting_for.clone()).unwrap_or_default()
        );
        let unplaced = prev.placement.as_ref().is_some_and(|p| p.waiting > 0);
        v("Deploying", false, true, false, if unplaced { "Unplaceable" } else { "Deploying" }, msg)
    }
}

/// Ready, Reconciling and Stalled; Reconciling says Idle and Stalled says Progressing while
/// they are False.
fn conditions_of(v: &Verdict, old: &[Condition], obs: &Observed) -> Vec<Condition> {
    let (generation, now, msg) = (obs.generation, obs.now, v.message.as_str());
    let side = |type_: &str, on: bool, off_reason: &str| {
        let (reason, message) = if on { (v.reason, msg) } else { (off_reason, "") };
        condition(type_, on, reason, message, generation, old, now)
    };
    vec![
        condition(READY, v.ready, v.reason, msg, generation, old, now),
        side(RECONCILING, v.reconciling, "Idle"),
        side(STALLED, v.stalled, "Progressing"),
    ]
}

fn revision_of(d: &AppDeployment) -> String {
    revision(&d.version, d.restart.as_deref())
}

#[cfg(test)]
mod tests;

/// How long a status change that only counts instances coming up may wait to be written
/// together with the changes that follow it ([`status_wait`]).
pub const STATUS_COALESCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a changed status is written now (`None`) or may wait (`Some(wait)`) to be merged
/// with the next changes: a deployment brings its instances up one pod event at a time, and a
/// write per event (staged 1, 2, 3, healthy 1, 2, ...) costs the API server more than what it
/// tells. Only a change of those counts (and of the texts that repeat them) waits, and at
/// most [`STATUS_COALESCE`] after the last write (`since_write`; `None`: never written). A new
/// state, a condition turning, a deployment starting or ending, a problem or a version is
/// written at once, so the App is reported healthy (Running, Ready) the moment it is.
/// An assessment with events is written at once too (its events tell of the change).
pub fn status_wait(
    prev: Option<&AppStatus>,
    next: &Assessment,
    since_write: Option<std::time::Duration>,
) -> Option<std::time::Duration> {
    let (prev, since) = (prev?, since_write?);
    if since >= STATUS_COALESCE || !next.events.is_empty() || progress_only(prev) != progress_only(&next.status) {
        return None;
    }
    Some(STATUS_COALESCE - since)
}

/// A status without what changes as instances come up: the counts, the deployment's progress,
/// what it waits for ("2 instance(s) to become healthy") and the condition messages that
/// repeat them.
fn progress_only(s: &AppStatus) -> AppStatus {
    let mut s = s.clone();
    (s.staged, s.running, s.healthy, s.unhealthy, s.replicas) = (None, None, None, None, None);
    s.waiting_for = None;
    if let Some(d) = s.deployment.as_mut() {
        (d.progress, d.waiting_for) = (None, None);
    }
    for c in &mut s.common.conditions {
        c.message.clear();
    }
    s
}

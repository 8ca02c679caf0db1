//! The deployment of an App (pure): started when the target revision is not rolled out,
//! followed with its progress and what it waits for, finished (or superseded) when it is.

use super::{AppEvent, Observed, PodInfo, revision_of, stamp};
use dromos_crds::app::{AppDeployment, AppStatus};

/// The target revision is rolled out to every instance and they are all healthy: the workload
/// controller has seen the target template and wants `instances` pods, and the live pods are
/// exactly those, at the target revision, healthy.
///
/// The counts are taken from the pods, never from the workload's status: those counts trail
/// the pods. At the end of a rolling update the Deployment reports the old instance still
/// ready until it stops, then a moment with one ready fewer before its ReplicaSet counts the
/// last new pod; a completeness read from them flips back after the deployment finished and
/// started a spurious `Recovery` one (a restart was recorded as a recovery this way).
pub(super) fn is_complete(obs: &Observed, live: &[&PodInfo], healthy: i32) -> bool {
    let controller_done =
        obs.workload.as_ref().is_some_and(|w| w.revision == obs.revision && w.observed && w.replicas == obs.instances);
    controller_done
        && live.len() as i32 == obs.instances
        && live.iter().all(|p| p.revision == obs.revision)
        && healthy >= obs.instances
}

/// A deployment ended now with `result`.
fn closed(d: &AppDeployment, obs: &Observed, result: &str) -> AppDeployment {
    let mut done = d.clone();
    done.finished_at = Some(stamp(obs.now));
    done.result = Some(result.into());
    done.progress = None;
    done.waiting_for = None;
    done
}

/// The rollout is complete: the running deployment is recorded as the last one, and the
/// version (and restart) it brought is now the App's.
pub(super) fn finish(prev: &AppStatus, obs: &Observed, healthy: i32, st: &mut AppStatus, events: &mut Vec<AppEvent>) {
    if let Some(d) = &prev.deployment {
        let result = if revision_of(d) == obs.revision { "Succeeded" } else { "Superseded" };
        events.push(AppEvent {
            warning: false,
            reason: "DeploymentFinished",
            message: format!("{} to version {} finished: {} instances healthy", d.reason, obs.version, healthy),
        });
        st.last_deployment = Some(closed(d, obs, result));
    }
    if st.version.as_deref() != Some(obs.version.as_str()) {
        st.version = Some(obs.version.clone());
    }
    if obs.restart.is_some() {
        st.restarted_at = obs.restart.clone();
    }
}

/// Why a deployment runs, by what changed since the last status.
fn reason_of(prev: &AppStatus, obs: &Observed) -> &'static str {
    // No version ever completed: still the App's creation, even when the workload already
    // exists (a reconcile may read the App before its own last status write).
    if prev.version.is_none() {
        "Create"
    } else if prev.version.as_deref() != Some(obs.version.as_str()) {
        "Upgrade"
    } else if prev.instances.is_some_and(|i| i != obs.instances) {
        "Scale"
    } else if obs.restart.is_some() && obs.restart != prev.restarted_at {
        "Restart"
    } else {
        "Recovery"
    }
}

/// The running deployment: the last one while its target is unchanged, else a new one (the
/// old one superseded), with its progress and what it waits for.
pub(super) fn track(
    prev: &AppStatus,
    obs: &Observed,
    live: &[&PodInfo],
    waiting: Option<&str>,
    st: &mut AppStatus,
    events: &mut Vec<AppEvent>,
) -> AppDeployment {
    let target_changed = prev.deployment.as_ref().is_none_or(|d| revision_of(d) != obs.revision);
    let reason = reason_of(prev, obs);
    let mut d = match prev.deployment.as_ref().filter(|_| !target_changed) {
        Some(d) => d.clone(),
        None => {
            if let Some(old) = &prev.deployment {
                st.last_deployment = Some(closed(old, obs, "Superseded"));
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
                started_at: stamp(obs.now),
                ..Default::default()
            }
        }
    };
    d.version = obs.version.clone();
    d.restart = obs.restart.clone();
    let updated_healthy = live.iter().filter(|p| p.revision == obs.revision && p.phase == "Running" && p.ready).count();
    let updated = live.iter().filter(|p| p.revision == obs.revision).count();
    d.progress =
        Some(format!("{updated} of {} instances at the new version, {updated_healthy} healthy", obs.instances));
    d.waiting_for = Some(waiting_for(prev, obs, live, waiting, updated_healthy));
    d
}

/// What the deployment waits for, first match wins: dependencies, placement (the Dromos
/// scheduler's summary, else kube-scheduler's), a failed rollout, health, old instances.
fn waiting_for(
    prev: &AppStatus,
    obs: &Observed,
    live: &[&PodInfo],
    waiting: Option<&str>,
    updated_healthy: usize,
) -> String {
    let pending: Vec<&&PodInfo> = live.iter().filter(|p| p.unschedulable.is_some()).collect();
    if let Some(w) = waiting {
        w.to_string()
    } else if let Some(p) = prev.placement.as_ref().filter(|p| p.waiting > 0) {
        format!("{} instance(s) cannot be placed: {}", p.waiting, p.message.clone().unwrap_or_default())
    } else if let Some(p) = pending.first() {
        format!("{} instance(s) cannot be placed: {}", pending.len(), p.unschedulable.clone().unwrap_or_default())
    } else if let Some(f) = obs.workload.as_ref().and_then(|w| w.failed.clone()) {
        f
    } else if updated_healthy < obs.instances as usize {
        format!("{} instance(s) to become healthy", obs.instances as usize - updated_healthy)
    } else {
        "old instances to stop".into()
    }
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

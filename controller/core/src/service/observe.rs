//! What the plans see of a service's pods (pure): each pod of a pod type as an [`Instance`],
//! and the commands operators give through the Package's annotation.

use super::plan::{Command, Decommission, Instance, Observed, Verb};
use super::render::{ANN_REVISION, LABEL_INDEX, LABEL_POD};
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeMap, BTreeSet};

/// Annotation on a Package carrying the latest plan command: `<id> <verb> <plan>[/<phase>[/<step>]]`
/// (`dromos service plan` writes it; the id makes each command apply once).
pub const ANN_COMMAND: &str = "dromos.io/plan-command";

/// Annotation on a service pod asking for its replacement (`dromos service pod replace`): the
/// recovery plan deletes it and its volumes, as for a pod whose node is lost.
pub const ANN_REPLACE: &str = "dromos.io/replace";

/// Annotation on a service pod whose decommission commands all exited 0 (value: its uid).
pub const ANN_DECOMMISSIONED: &str = "dromos.io/decommissioned";

/// Restarts of an init task after which its step fails (a ONCE or FINISHED task that keeps
/// failing will not fix itself).
pub const INIT_FAILURES: i32 = 3;

/// The instances of a service from its pods (those with the pod type and index labels).
/// `nodes` are the cluster's nodes when known (a pod bound to a node that is not among them has
/// lost it); `decommissions` what this controller knows of the decommission commands it ran,
/// by pod uid.
pub fn instances(
    pods: &[Pod],
    nodes: Option<&BTreeSet<String>>,
    decommissions: &BTreeMap<String, Decommission>,
) -> Observed {
    let mut out = Observed::new();
    for p in pods {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        let (Some(pod), Some(index)) = (labels.get(LABEL_POD), labels.get(LABEL_INDEX).and_then(|i| i.parse().ok()))
        else {
            continue;
        };
        let status = p.status.clone().unwrap_or_default();
        let ready = status.conditions.iter().flatten().find(|c| c.type_ == "Ready");
        let failed = status.init_container_statuses.iter().flatten().find_map(|c| {
            let term = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())?;
            (c.restart_count >= INIT_FAILURES && term.exit_code != 0)
                .then(|| format!("task {} exited {} ({} restarts)", c.name, term.exit_code, c.restart_count))
        });
        let uid = p.metadata.uid.clone().unwrap_or_default();
        let annotations = p.metadata.annotations.clone().unwrap_or_default();
        let node_gone = match (nodes, p.spec.as_ref().and_then(|s| s.node_name.as_deref())) {
            (Some(nodes), Some(node)) => !nodes.contains(node),
            _ => false,
        };
        let decommission = if annotations.get(ANN_DECOMMISSIONED) == Some(&uid) {
            Decommission::Done
        } else {
            decommissions.get(&uid).cloned().unwrap_or_default()
        };
        out.insert(
            (pod.clone(), index),
            Instance {
                exists: p.metadata.deletion_timestamp.is_none(),
                uid,
                decommission,
                revision: p
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(ANN_REVISION))
                    .cloned()
                    .unwrap_or_default(),
                ready: ready.is_some_and(|c| c.status == "True"),
                failed,
                // The node stopped reporting: the kubelet cannot say anything about the pod.
                lost: ready.is_some_and(|c| c.status == "Unknown")
                    || status.reason.as_deref() == Some("NodeLost")
                    || node_gone
                    || annotations.contains_key(ANN_REPLACE),
                node_gone,
            },
        );
    }
    out
}

/// Parses the command annotation: its id and the command.
pub fn parse_command(text: &str) -> Result<(String, Command), String> {
    let mut words = text.split_whitespace();
    let (Some(id), Some(verb), Some(target), None) = (words.next(), words.next(), words.next(), words.next()) else {
        return Err(format!("{ANN_COMMAND} {text:?}: expected `<id> <verb> <plan>[/<phase>[/<step>]]`"));
    };
    let verb = Verb::parse(verb).ok_or_else(|| {
        format!("{ANN_COMMAND}: unknown verb {verb:?} (pause, resume, force-complete, restart, start)")
    })?;
    let mut parts = target.splitn(3, '/');
    let plan = parts.next().unwrap_or_default().to_string();
    let phase = parts.next().filter(|s| !s.is_empty()).map(String::from);
    let step = parts.next().filter(|s| !s.is_empty()).map(String::from);
    Ok((id.to_string(), Command { plan, phase, step, verb }))
}

//! Where an App's pods may run (pure): its constraints, roles and unreachable strategy.
//!
//! Exact mode (the default): the Dromos scheduler places the pods against offers with every
//! constraint and role rule; the template keeps tolerations only. Native mode: kube-scheduler
//! with the compiled affinity and topology spread.

use super::Ctx;
use crate::app::Model;
use crate::constraints::{self, NativePlacement};
use crate::translate::ROLE_KEY;
use dromos_crds::app::{PlacementMode, UnreachableStrategy};
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Toleration};

/// The scheduling part of the pod template.
pub(super) struct Placement {
    /// Placed by the Dromos scheduler.
    pub exact: bool,
    /// Affinity and spread (native mode only).
    pub native: NativePlacement,
    /// Role and unreachable tolerations.
    pub tolerations: Vec<Toleration>,
}

/// The App's placement; constraints native mode cannot express exactly are warnings.
pub(super) fn placement(cx: &Ctx<'_>, warnings: &mut Vec<(String, String)>) -> Placement {
    let s = &cx.app.spec;
    let exact = s.placement_mode.unwrap_or_default() == PlacementMode::Exact;
    // Constraints that do not parse are validation's to report; the rest are rendered.
    let parsed = Model::of_manifest(cx.m, cx.app).parsed_constraints().ok;
    let list: Vec<constraints::Constraint> = parsed.iter().map(|(_, c)| c.clone()).collect();
    let mut native = if exact { NativePlacement::default() } else { constraints::render_native(&list, &cx.selector) };
    for (i, w) in native.warnings.drain(..) {
        // Named by the first constraint that reads the same (as written in the spec).
        let idx = parsed.iter().find(|(_, c)| c.display() == list[i].display()).map(|(j, _)| *j).unwrap_or(i);
        warnings.push((format!("spec.constraints[{idx}]"), w));
    }
    let (mut tolerations, only_roles) = role_scheduling(s.role.as_deref(), &s.accepted_resource_roles);
    if let Some(roles) = only_roles.filter(|_| !exact) {
        native.node_requirements.push(NodeSelectorRequirement {
            key: ROLE_KEY.into(),
            operator: "In".into(),
            values: Some(roles),
        });
    }
    tolerations.extend(unreachable_tolerations(s.unreachable_strategy.as_ref()));
    Placement { exact, native, tolerations }
}

/// Tolerations of the roles an App accepts, and the roles it is limited to (no `*`).
fn role_scheduling(role: Option<&str>, accepted: &[String]) -> (Vec<Toleration>, Option<Vec<String>>) {
    let accepted: Vec<String> = if accepted.is_empty() {
        let mut a = vec!["*".to_string()];
        if let Some(r) = role.filter(|r| *r != "*") {
            a.push(r.to_string());
        }
        a
    } else {
        accepted.to_vec()
    };
    let reserved: Vec<String> = accepted.iter().filter(|r| *r != "*").cloned().collect();
    let tolerations = reserved.iter().map(|r| crate::translate::role_toleration(r)).collect();
    // Without `*`, only nodes reserved for an accepted role qualify.
    let only = (!accepted.iter().any(|r| r == "*")).then_some(reserved);
    (tolerations, only)
}

/// Tolerations of unreachable and not-ready nodes: how long an instance survives on one.
fn unreachable_tolerations(us: Option<&UnreachableStrategy>) -> Vec<Toleration> {
    let seconds = match us {
        Some(UnreachableStrategy::Word(_)) => None,
        Some(UnreachableStrategy::Timeouts(t)) => Some(t.inactive_after_seconds.unwrap_or(0)),
        None => Some(0),
    };
    ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
        .iter()
        .map(|k| Toleration {
            key: Some(k.to_string()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: seconds,
            value: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_become_tolerations_and_affinity() {
        let (t, only) = role_scheduling(None, &["slave_public".into()]);
        assert_eq!(t.len(), 1);
        assert_eq!(only, Some(vec!["slave_public".to_string()]));
        let (t, only) = role_scheduling(Some("ops"), &[]);
        assert_eq!(t[0].value.as_deref(), Some("ops"));
        assert_eq!(only, None);
    }

    #[test]
    fn unreachable_strategy_sets_toleration_seconds() {
        let t = unreachable_tolerations(None);
        assert_eq!(t[0].toleration_seconds, Some(0));
        let t = unreachable_tolerations(Some(&UnreachableStrategy::Word("disabled".into())));
        assert_eq!(t[0].toleration_seconds, None);
    }
}

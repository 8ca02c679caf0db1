//! An App's workload (pure): the pod template, a Deployment with Marathon's upgrade strategy
//! or, for resident apps, a StatefulSet; and the disruption budget from
//! `minimumHealthCapacity`.

use super::Ctx;
use super::scheduling::Placement;
use crate::translate::pod::image_pull_secrets;
use crate::translate::{Expansion, RESTART_ANNOTATION, SCHEDULER_NAME, to_value, user_labels};
use dromos_crds::app::KillSelection;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, PodSpec, PodTemplateSpec, Volume};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The pod template: containers, volumes, placement, and the annotations that roll instances.
pub(super) fn pod_template(
    cx: &Ctx<'_>,
    containers: Vec<Container>,
    init: Vec<Container>,
    volumes: Vec<Volume>,
    placement: Placement,
) -> PodTemplateSpec {
    let (s, m) = (&cx.app.spec, cx.m);
    let Placement { exact, native, tolerations } = placement;
    let mut pod_labels = user_labels(&s.labels);
    pod_labels.extend(cx.labels.clone());
    let mut template_annotations = cx.annotations();
    if let Some(r) = m.value["metadata"]["annotations"][RESTART_ANNOTATION].as_str() {
        template_annotations.insert(RESTART_ANNOTATION.into(), r.to_string());
    }
    if s.kill_selection == Some(KillSelection::OldestFirst) {
        // The App operator keeps controller.kubernetes.io/pod-deletion-cost per pod so the
        // oldest instances go first; YOUNGEST_FIRST is the ReplicaSet default.
        template_annotations.insert("dromos.io/kill-selection".into(), "OLDEST_FIRST".into());
    }
    let pod_spec = PodSpec {
        containers,
        init_containers: (!init.is_empty()).then_some(init),
        volumes: Some(volumes),
        affinity: native.affinity(),
        topology_spread_constraints: (!native.spread.is_empty()).then(|| native.spread.clone()),
        tolerations: Some(tolerations),
        scheduler_name: exact.then(|| SCHEDULER_NAME.to_string()),
        image_pull_secrets: image_pull_secrets(s.container.as_ref().and_then(|c| c.docker.as_ref()), &s.secrets),
        termination_grace_period_seconds: s.task_kill_grace_period_seconds.map(|g| g.ceil() as i64),
        enable_service_links: Some(false),
        ..Default::default()
    };
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(template_annotations),
            ..Default::default()
        }),
        spec: Some(pod_spec),
    }
}

/// Marathon's upgrade strategy with its defaults (resident apps: 0.5 / 0): the capacities,
/// instances kept healthy, instances that may be down, and instances that may be added.
fn upgrade(cx: &Ctx<'_>) -> (f64, f64, i32, i32, i32) {
    let (s, resident, instances) = (&cx.app.spec, cx.resident, cx.instances);
    let us = s.upgrade_strategy.clone().unwrap_or_default();
    let (mhc_default, moc_default) = if resident { (0.5, 0.0) } else { (1.0, 1.0) };
    let mhc = us.minimum_health_capacity.unwrap_or(mhc_default);
    let moc = us.maximum_over_capacity.unwrap_or(moc_default);
    let min_healthy = (instances as f64 * mhc).ceil() as i32;
    let max_unavailable = (instances - min_healthy).max(0);
    let max_surge = (instances as f64 * moc).floor() as i32;
    (mhc, moc, min_healthy, max_unavailable, max_surge)
}

/// A StatefulSet (resident apps) or a Deployment.
pub(super) fn push_workload(
    cx: &Ctx<'_>,
    template: PodTemplateSpec,
    claims: Vec<PersistentVolumeClaim>,
    exp: &mut Expansion,
) {
    let (name, instances, selector, annotations) = (&cx.name, cx.instances, &cx.selector, cx.annotations());
    let resident = cx.resident;
    let (mhc, moc, _, max_unavailable, max_surge) = upgrade(cx);
    if resident {
        let sts = StatefulSet {
            metadata: ObjectMeta { annotations: Some(annotations.clone()), ..cx.meta(name) },
            spec: Some(StatefulSetSpec {
                replicas: Some(instances),
                selector: LabelSelector { match_labels: Some(selector.clone()), ..Default::default() },
                service_name: Some(name.clone()),
                pod_management_policy: Some("Parallel".into()),
                template,
                volume_claim_templates: Some(claims),
                ..Default::default()
            }),
            ..Default::default()
        };
        exp.objects.push(to_value(&sts));
    } else {
        let strategy = if mhc == 0.0 && moc == 0.0 {
            DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None }
        } else {
            // Kubernetes refuses 0/0; Marathon then still kills one old instance to progress.
            let (mu, ms) = if max_unavailable == 0 && max_surge == 0 { (1, 0) } else { (max_unavailable, max_surge) };
            DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(mu)),
                    max_surge: Some(IntOrString::Int(ms)),
                }),
            }
        };
        let dep = Deployment {
            metadata: ObjectMeta { annotations: Some(annotations.clone()), ..cx.meta(name) },
            spec: Some(DeploymentSpec {
                replicas: Some(instances),
                selector: LabelSelector { match_labels: Some(selector.clone()), ..Default::default() },
                strategy: Some(strategy),
                template,
                ..Default::default()
            }),
            ..Default::default()
        };
        exp.objects.push(to_value(&dep));
        if !claims.is_empty() {
            exp.warnings.push((
                "spec.volumes".into(),
                "persistent pod volumes need a StatefulSet; they are ignored on this Deployment".into(),
            ));
        }
    }
}

/// The disruption budget: `minimumHealthCapacity` of the instances stay up.
pub(super) fn push_disruption_budget(cx: &Ctx<'_>, exp: &mut Expansion) {
    let (name, instances, selector) = (&cx.name, cx.instances, cx.selector.clone());
    let (_, _, min_healthy, _, _) = upgrade(cx);
    if min_healthy > 0 && instances > 0 {
        let pdb = PodDisruptionBudget {
            metadata: cx.meta(name),
            spec: Some(PodDisruptionBudgetSpec {
                min_available: Some(IntOrString::Int(min_healthy)),
                selector: Some(LabelSelector { match_labels: Some(selector), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        exp.objects.push(to_value(&pdb));
    }
}

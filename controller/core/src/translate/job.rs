//! Translation of a Job (pure): the pod template of its runs, the PodTemplate `dromos render`
//! shows, and the batch/v1 Job of one attempt of a run.

use super::pod::{
    command_of, env_vars, fetch_container, field_env, image_pull_policy, image_pull_secrets, merge_env, plain_env,
    resources, sandbox_mount, sandbox_path, sandbox_volume, secret_ref,
};
use super::{
    Expansion, ID_ANNOTATION, JOB_LABEL, ROLE_KEY, RenderOptions, SANDBOX, base_labels, to_value, user_labels,
};
use crate::constraints;
use crate::load::Manifest;
use dromos_crds::job::{Job, JobRun};
use k8s_openapi::api::batch::v1::{Job as K8sJob, JobSpec as K8sJobSpec};
use k8s_openapi::api::core::v1::{
    Container, HostPathVolumeSource, KeyToPath, PodSpec, PodTemplate, PodTemplateSpec, SecretVolumeSource,
    SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The pod template of one run of a Job named `name` in `namespace`.
pub fn job_pod_template(namespace: Option<&str>, name: &str, job: &Job, opts: &RenderOptions) -> PodTemplateSpec {
    let r = &job.spec.run;
    let image = r.docker.as_ref().map(|d| d.image.clone()).or(r.ucr.as_ref().map(|u| u.image.id.clone()));
    let force = r.docker.as_ref().and_then(|d| d.force_pull_image).or(r.ucr.as_ref().and_then(|u| u.image.force_pull));
    let cpus = r.cpus.unwrap_or(1.0);
    let mem = r.mem.unwrap_or(128.0);
    let disk = r.disk.unwrap_or(0.0);
    let gpus = r.gpus.unwrap_or(0.0);
    let id = job.spec.id.clone().unwrap_or_else(|| format!("{}.{name}", namespace.unwrap_or("default")));
    let injected = vec![
        plain_env("METRONOME_JOB_ID", id.clone()),
        field_env("METRONOME_RUN_ID", "metadata.labels['batch.kubernetes.io/job-name']"),
        field_env("HOST", "spec.nodeName"),
        plain_env("MESOS_SANDBOX", SANDBOX),
    ];
    let (command, args, working_dir) = command_of(&r.cmd, &r.args, image.is_some());
    let (volumes, mounts) = run_volumes(r);
    let mut labels = base_labels("Job");
    labels.insert(JOB_LABEL.into(), name.to_string());
    labels.extend(user_labels(&job.spec.labels));
    let native = run_placement(r);
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            containers: vec![Container {
                name: "main".into(),
                image: Some(image.unwrap_or_else(|| opts.default_image.clone())),
                image_pull_policy: Some(image_pull_policy(force)),
                command,
                args,
                working_dir,
                env: Some(merge_env(injected, env_vars(&r.env, &r.secrets))),
                resources: Some(resources(cpus, mem, disk, gpus, None)),
                volume_mounts: Some(mounts),
                security_context: run_security_context(r),
                ..Default::default()
            }],
            init_containers: fetch_container(&r.artifacts, &opts.fetch_image).map(|c| vec![c]),
            volumes: Some(volumes),
            affinity: native.affinity(),
            tolerations: role_tolerations(&native),
            image_pull_secrets: image_pull_secrets(r.docker.as_ref(), &r.secrets),
            termination_grace_period_seconds: r.task_kill_grace_period_seconds.map(|g| g.ceil() as i64),
            enable_service_links: Some(false),
            ..Default::default()
        }),
    }
}

/// Privileged (`docker.privileged` or `ucr.privileged`) and a numeric `user` as runAsUser; a
/// user name is a render warning (Kubernetes needs a uid), as for Apps.
fn run_security_context(r: &JobRun) -> Option<SecurityContext> {
    let privileged =
        r.docker.as_ref().and_then(|d| d.privileged).or(r.ucr.as_ref().and_then(|u| u.privileged)).filter(|p| *p);
    let uid = r.user.as_deref().and_then(|u| u.parse::<i64>().ok());
    (privileged.is_some() || uid.is_some()).then(|| SecurityContext {
        privileged,
        run_as_user: uid,
        ..Default::default()
    })
}

/// The run's volumes (host paths and secrets) and their mounts, after the sandbox.
fn run_volumes(r: &JobRun) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = vec![sandbox_volume()];
    let mut mounts = vec![sandbox_mount()];
    for (i, v) in r.volumes.iter().enumerate() {
        let name = format!("vol-{i}");
        let path = sandbox_path(&v.container_path);
        if let Some(h) = &v.host_path {
            volumes.push(Volume {
                name: name.clone(),
                host_path: Some(HostPathVolumeSource { path: h.clone(), type_: None }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name,
                mount_path: path,
                read_only: (v.mode.as_deref() == Some("RO")).then_some(true),
                ..Default::default()
            });
        } else if let Some(sec) = &v.secret {
            let (secret_name, key) = secret_ref(sec, &r.secrets);
            let file = path.rsplit('/').next().unwrap_or("secret").to_string();
            volumes.push(Volume {
                name: name.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret_name),
                    items: Some(vec![KeyToPath { key, path: file.clone(), mode: None }]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name,
                mount_path: path,
                sub_path: Some(file),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }
    (volumes, mounts)
}

/// The node requirements of Metronome's constraints that have an exact native form.
fn run_placement(r: &JobRun) -> constraints::NativePlacement {
    let mut reqs = vec![];
    for c in r.placement.as_ref().map(|p| p.constraints.as_slice()).unwrap_or(&[]) {
        let key = constraints::attribute_label(&c.attribute);
        let v = c.value.clone().unwrap_or_default();
        let op = match c.operator.as_str() {
            "IS" | "EQ" => Some(("In", vec![v])),
            "LIKE" => constraints::literal_alternatives(&v).map(|vals| ("In", vals)),
            "UNLIKE" => constraints::literal_alternatives(&v).map(|vals| ("NotIn", vals)),
            _ => None,
        };
        if let Some((op, values)) = op {
            reqs.push(k8s_openapi::api::core::v1::NodeSelectorRequirement {
                key,
                operator: op.into(),
                values: Some(values),
            });
        }
    }
    constraints::NativePlacement { node_requirements: reqs, ..Default::default() }
}

/// Tolerations of the roles a run is pinned to (`dromos.io/role IS R`): nodes reserved for a
/// role carry its `NoSchedule` taint, and a run that may only go there must be let in.
fn role_tolerations(native: &constraints::NativePlacement) -> Option<Vec<Toleration>> {
    let roles: Vec<&String> = native
        .node_requirements
        .iter()
        .filter(|r| r.key == ROLE_KEY && r.operator == "In")
        .flat_map(|r| r.values.iter().flatten())
        .collect();
    (!roles.is_empty()).then(|| roles.into_iter().map(|r| super::role_toleration(r)).collect())
}

/// Renders a Job: its run template, a PodTemplate named `<job>-run` showing the pod of each
/// run. The Dromos job controller creates every run itself, as a batch/v1 Job made by
/// [`render_run`] from the same template (docs/dcos/jobs.md).
pub fn render_job(m: &Manifest, job: &Job, opts: &RenderOptions) -> Expansion {
    let mut exp = Expansion::default();
    let template = job_pod_template(m.namespace.as_deref(), &m.name, job, opts);
    let mut labels = base_labels("Job");
    labels.insert(JOB_LABEL.into(), m.name.clone());
    let r = &job.spec.run;
    if let Some(u) = r.user.as_deref().filter(|u| u.parse::<i64>().is_err()) {
        exp.warnings.push((
            "spec.run.user".into(),
            format!("user `{u}` is a name; Kubernetes needs a numeric uid, so the image's user is kept"),
        ));
    }
    if r.docker.as_ref().is_some_and(|d| !d.parameters.is_empty()) {
        exp.warnings.push((
            "spec.run.docker.parameters".into(),
            "docker parameters have no Kubernetes equivalent and are ignored".into(),
        ));
    }
    let constraints = r.placement.as_ref().map(|p| p.constraints.as_slice()).unwrap_or(&[]);
    for (i, c) in constraints.iter().enumerate() {
        let literal = constraints::literal_alternatives(c.value.as_deref().unwrap_or("")).is_some();
        if matches!(c.operator.as_str(), "LIKE" | "UNLIKE") && !literal {
            exp.warnings.push((
                format!("spec.run.placement.constraints[{i}]"),
                format!(
                    "{} `{}` needs expansion against live node labels; not enforced natively",
                    c.operator,
                    c.value.clone().unwrap_or_default()
                ),
            ));
        }
    }
    let pt = PodTemplate {
        metadata: ObjectMeta {
            name: Some(format!("{}-run", m.name)),
            namespace: m.namespace.clone(),
            labels: Some(labels),
            ..Default::default()
        },
        template: Some(template),
    };
    exp.objects.push(to_value(&pt));
    exp
}

/// The batch/v1 Job of one attempt of a run: the run template, no Kubernetes retries (the
/// job controller decides about further attempts), labels naming the Job and the run, and an
/// owner reference to the Job when its uid is given.
pub fn render_run(
    namespace: &str,
    name: &str,
    job: &Job,
    attempt: &crate::runs::NewAttempt,
    owner_uid: Option<&str>,
    opts: &RenderOptions,
) -> K8sJob {
    use crate::runs::{ATTEMPT_ANNOTATION, RUN_LABEL, SCHEDULED_ANNOTATION, TRIGGER_ANNOTATION, fmt_time};
    let mut template = job_pod_template(Some(namespace), name, job, opts);
    let mut labels = base_labels("Job");
    labels.insert(JOB_LABEL.into(), name.to_string());
    labels.insert(RUN_LABEL.into(), attempt.run.clone());
    if let Some(meta) = template.metadata.as_mut() {
        meta.labels.get_or_insert_with(BTreeMap::new).insert(RUN_LABEL.into(), attempt.run.clone());
    }
    let mut annotations = BTreeMap::from([
        (ATTEMPT_ANNOTATION.to_string(), attempt.attempt.to_string()),
        (TRIGGER_ANNOTATION.to_string(), attempt.trigger.as_str().to_string()),
    ]);
    if let Some(id) = &job.spec.id {
        annotations.insert(ID_ANNOTATION.into(), id.clone());
    }
    if let Some(s) = attempt.scheduled {
        annotations.insert(SCHEDULED_ANNOTATION.into(), fmt_time(s));
    }
    let owner = owner_uid.map(|uid| {
        vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "dromos.io/v1alpha1".into(),
            kind: "Job".into(),
            name: name.to_string(),
            uid: uid.to_string(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]
    });
    K8sJob {
        metadata: ObjectMeta {
            name: Some(attempt.name.clone()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: owner,
            ..Default::default()
        },
        spec: Some(K8sJobSpec { backoff_limit: Some(0), template, ..Default::default() }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(constraints: serde_json::Value) -> Job {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"run": {"cmd": "true", "placement": {"constraints": constraints}}}
        }))
        .unwrap()
    }

    #[test]
    fn pull_config_privileged_and_user_reach_the_run_pod() {
        let j: Job = serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"run": {"cmd": "true", "user": "1000",
                "ucr": {"image": {"id": "registry.example.com/batch:1"}, "privileged": true},
                "docker": {"image": "registry.example.com/batch:1", "pullConfig": {"secret": "pull"}},
                "secrets": {"pull": {"source": "ops/registry"}}}}
        }))
        .unwrap();
        let spec = job_pod_template(Some("ops"), "j", &j, &RenderOptions::default()).spec.unwrap();
        assert_eq!(spec.image_pull_secrets.unwrap()[0].name, "ops-registry");
        let sc = spec.containers[0].security_context.clone().unwrap();
        assert_eq!((sc.privileged, sc.run_as_user), (Some(true), Some(1000)));
        let plain = job(serde_json::json!([]));
        let spec = job_pod_template(Some("ns"), "j", &plain, &RenderOptions::default()).spec.unwrap();
        assert!(spec.image_pull_secrets.is_none() && spec.containers[0].security_context.is_none());
    }

    #[test]
    fn a_run_pinned_to_a_role_tolerates_that_roles_taint_and_no_other() {
        let pinned = job(serde_json::json!([{"attribute": "dromos.io/role", "operator": "IS", "value": "real"}]));
        let spec = job_pod_template(Some("ns"), "j", &pinned, &RenderOptions::default()).spec.unwrap();
        let t = spec.tolerations.unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].key.as_deref(), t[0].value.as_deref()), (Some(ROLE_KEY), Some("real")));
        assert_eq!(t[0].effect.as_deref(), Some("NoSchedule"));
        let req = &spec.affinity.unwrap().node_affinity.unwrap().required_during_scheduling_ignored_during_execution;
        assert_eq!(req.as_ref().unwrap().node_selector_terms[0].match_expressions.as_ref().unwrap()[0].key, ROLE_KEY);

        let rack = job(serde_json::json!([{"attribute": "rack", "operator": "IS", "value": "r1"}]));
        let spec = job_pod_template(Some("ns"), "j", &rack, &RenderOptions::default()).spec.unwrap();
        assert!(spec.tolerations.is_none());
    }
}

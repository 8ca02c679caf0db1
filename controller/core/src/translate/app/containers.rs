//! The containers of an App (pure): the one `main` container of the app form, or one per
//! pod container, with the fetch init containers and the volumes they mount.

use super::Ctx;
use super::env::env_name;
use super::ports::{container_ports, pod_ports};
use super::probes::{app_probes, pod_probe};
use super::volumes::{app_volumes, pod_volumes};
use crate::translate::pod::{
    command_of, env_vars, fetch_container, image_pull_policy, merge_env, plain_env, resources, sandbox_mount,
    sandbox_volume,
};
use dromos_crds::app::AppSpec;
use dromos_crds::common::DockerSpec;
use dromos_crds::common::FetchUri;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, Probe, SecurityContext, Volume, VolumeMount,
};

/// What the pod template is made of.
pub(super) struct PodParts {
    pub containers: Vec<Container>,
    pub init: Vec<Container>,
    pub volumes: Vec<Volume>,
    /// Claim templates of persistent volumes (a StatefulSet's).
    pub claims: Vec<PersistentVolumeClaim>,
}

/// The containers, init containers, volumes and claims of the App's pods.
pub(super) fn pod_parts(cx: &Ctx<'_>, injected: Vec<EnvVar>, warnings: &mut Vec<(String, String)>) -> PodParts {
    let s = &cx.app.spec;
    let mut parts = PodParts { containers: vec![], init: vec![], volumes: vec![sandbox_volume()], claims: vec![] };
    let mut fetch = s.fetch.clone();
    fetch.extend(s.uris.iter().map(|u| FetchUri {
        uri: u.clone(),
        extract: None,
        executable: None,
        cache: None,
        dest_path: None,
    }));
    if let Some(c) = fetch_container(&fetch, &cx.opts.fetch_image) {
        parts.init.push(c);
    }
    if s.containers.is_empty() {
        let (vols, mounts, pvcs) = app_volumes(cx.app, &s.secrets);
        parts.volumes.extend(vols);
        parts.claims = pvcs;
        parts.containers.push(main_container(cx, injected, mounts, warnings));
    } else {
        // Pod form: one Kubernetes container per Marathon pod container.
        let (vols, pvcs) = pod_volumes(s);
        parts.volumes.extend(vols);
        parts.claims = pvcs;
        pod_containers(cx, &injected, &mut parts);
    }
    parts
}

/// The `main` container of an App in app form.
fn main_container(
    cx: &Ctx<'_>,
    injected: Vec<EnvVar>,
    mounts: Vec<VolumeMount>,
    warnings: &mut Vec<(String, String)>,
) -> Container {
    let s = &cx.app.spec;
    let mut container_mounts = vec![sandbox_mount()];
    container_mounts.extend(mounts);
    let docker = s.container.as_ref().and_then(|c| c.docker.as_ref());
    let (command, args, working_dir) = command_of(&s.cmd, &s.args, cx.image.is_some());
    let (liveness, readiness, startup) = app_probes(s, &cx.ports, warnings);
    let user_env = env_vars(&s.env, &s.secrets);
    let security_context = security_context(s, docker, warnings);
    if docker.is_some_and(|d| !d.parameters.is_empty()) {
        warnings.push((
            "spec.container.docker.parameters".into(),
            "docker parameters have no Kubernetes equivalent and are ignored".into(),
        ));
    }
    Container {
        name: "main".into(),
        image: Some(cx.image.clone().unwrap_or_else(|| cx.opts.default_image.clone())),
        image_pull_policy: Some(image_pull_policy(docker.and_then(|d| d.force_pull_image))),
        command,
        args,
        working_dir,
        env: Some(merge_env(injected, user_env)),
        ports: container_ports(&cx.ports),
        resources: Some(resources(cx.cpus, cx.mem, cx.disk, cx.gpus, s.resource_limits.as_ref())),
        liveness_probe: liveness,
        readiness_probe: readiness,
        startup_probe: startup,
        volume_mounts: Some(container_mounts),
        security_context,
        ..Default::default()
    }
}

/// Privileged and a numeric `user`; a user name is a warning (Kubernetes needs a uid).
fn security_context(
    s: &AppSpec,
    docker: Option<&DockerSpec>,
    warnings: &mut Vec<(String, String)>,
) -> Option<SecurityContext> {
    let privileged = docker.and_then(|d| d.privileged).filter(|p| *p);
    let uid = s.user.as_deref().and_then(|u| u.parse::<i64>().ok());
    if s.user.as_deref().is_some_and(|u| u.parse::<i64>().is_err()) {
        warnings.push((
            "spec.user".into(),
            format!(
                "user `{}` is a name; Kubernetes needs a numeric uid, so the image's user is kept",
                s.user.clone().unwrap_or_default()
            ),
        ));
    }
    (privileged.is_some() || uid.is_some()).then(|| SecurityContext {
        privileged,
        run_as_user: uid,
        ..Default::default()
    })
}

/// One container per pod container, each with its endpoints, probe and fetch init container.
fn pod_containers(cx: &Ctx<'_>, injected: &[EnvVar], parts: &mut PodParts) {
    let s = &cx.app.spec;
    for (c, cports) in s.containers.iter().zip(pod_ports(cx.app)) {
        let r = c.resources.clone().unwrap_or_default();
        let mut env = injected.to_vec();
        for p in &cports {
            env.push(plain_env(
                &format!("ENDPOINT_{}", env_name(p.name.as_deref().unwrap_or(""))),
                p.container_port.to_string(),
            ));
        }
        let (command, args) = match c.exec.as_ref().map(|e| &e.command) {
            Some(cmd) if cmd.shell.is_some() => {
                (Some(vec!["/bin/sh".into(), "-c".into(), cmd.shell.clone().unwrap_or_default()]), None)
            }
            Some(cmd) => (cmd.argv.clone(), None),
            None => (None, None),
        };
        let mut mounts = vec![sandbox_mount()];
        for vm in &c.volume_mounts {
            mounts.push(VolumeMount {
                name: vm.name.clone(),
                mount_path: vm.mount_path.clone(),
                read_only: vm.read_only,
                ..Default::default()
            });
        }
        let probe = c.health_check.as_ref().map(|hc| pod_probe(hc, &cports));
        parts.containers.push(Container {
            name: c.name.clone(),
            image: Some(c.image.as_ref().map(|i| i.id.clone()).unwrap_or_else(|| cx.opts.default_image.clone())),
            image_pull_policy: Some(image_pull_policy(c.image.as_ref().and_then(|i| i.force_pull))),
            command,
            args,
            env: Some(merge_env(env, env_vars(&c.environment, &s.secrets))),
            ports: container_ports(&cports),
            resources: Some(resources(
                r.cpus.unwrap_or(0.1),
                r.mem.unwrap_or(32.0),
                r.disk.unwrap_or(0.0),
                r.gpus.unwrap_or(0.0),
                c.resource_limits.as_ref(),
            )),
            liveness_probe: probe
                .clone()
                .filter(|_| c.health_check.as_ref().is_some_and(|h| h.max_consecutive_failures.unwrap_or(3) > 0)),
            readiness_probe: probe.map(|p| Probe { failure_threshold: Some(1), ..p }),
            volume_mounts: Some(mounts),
            ..Default::default()
        });
        if let Some(fc) = fetch_container(&c.artifacts, &cx.opts.fetch_image) {
            parts.init.push(Container { name: format!("fetch-{}", c.name), ..fc });
        }
    }
}

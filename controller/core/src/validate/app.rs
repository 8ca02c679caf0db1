//! Validation of one App alone (pure): what runs, resources, environment and volumes,
//! upgrade and restart settings, placement. Ports live in [`super::ports`], health and
//! readiness checks in [`super::health`].

use super::{check_env, check_pull_config, check_resources, health, ports};
use crate::app::{Model, image, is_resident};
use crate::diag::Diagnostic;
use crate::ids;
use crate::load::Manifest;
use dromos_crds::app::{App, ResourceLimit, UnreachableStrategy};
use std::collections::BTreeSet;

/// Every rule of one App, section by section.
pub(super) fn validate_app(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    check_command(m, app, out);
    check_app_resources(m, app, out);
    ports::check_networks(m, app, out);
    ports::check_ports(m, app, out);
    check_env_and_secrets(m, app, out);
    check_volumes(m, app, out);
    health::check_health_checks(m, app, out);
    health::check_readiness_checks(m, app, out);
    check_upgrade(m, app, out);
    check_restarts(m, app, out);
    check_placement(m, app, out);
    check_autoscaled(m, out);
}

/// `dromos.io/autoscaled` is `"true"` or `"false"`: a typo must not silently let a sync fight
/// an autoscaler.
fn check_autoscaled(m: &Manifest, out: &mut Vec<Diagnostic>) {
    let key = crate::plan::AUTOSCALED_ANNOTATION;
    let v = &m.value["metadata"]["annotations"][key];
    if !v.is_null() && v.as_str() != Some("true") && v.as_str() != Some("false") {
        let path = crate::yaml::join_key("metadata.annotations", key);
        out.push(
            m.error("invalid-value", &path, format!("{key} is {v}; it must be \"true\" or \"false\""))
                .with_hint("\"true\" leaves spec.instances to the scale subresource (HPA, kubectl scale)"),
        );
    }
}

/// The id and what runs: `cmd`, `args`, an image, or pod containers.
fn check_command(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let pod_form = !s.containers.is_empty();
    if let Some(id) = &s.id
        && let Err(e) = ids::parse_id(id, None)
    {
        out.push(m.error("invalid-id", "spec.id", e));
    }
    // What runs.
    if s.cmd.is_some() && s.args.is_some() {
        out.push(
            m.error("cmd-and-args", "spec.args", "`cmd` and `args` are mutually exclusive")
                .with_hint("use `cmd` for a shell command, `args` for the image entrypoint's arguments"),
        );
    }
    if pod_form {
        check_pod_form(m, app, out);
    } else if s.cmd.is_none() && s.args.is_none() && image(app).is_none() {
        out.push(
            m.error("nothing-to-run", "spec", "an App needs `cmd`, `args` or a container image")
                .with_hint("add `container: {docker: {image: ...}}` or `cmd: ...`"),
        );
    }
    if s.args.is_some() && image(app).is_none() && !pod_form {
        out.push(m.error("args-without-image", "spec.args", "`args` needs a container image to pass them to"));
    }
}

/// The pod form: one entry of `containers` per container.
fn check_pod_form(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    for f in ["cmd", "args", "container"] {
        if m.value["spec"].get(f).is_some() {
            out.push(m.error(
                "pod-and-app",
                &format!("spec.{f}"),
                format!("`{f}` cannot be combined with `containers` (pod form)"),
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (i, c) in s.containers.iter().enumerate() {
        let p = format!("spec.containers[{i}]");
        if !names.insert(c.name.clone()) {
            out.push(m.error(
                "duplicate-name",
                &format!("{p}.name"),
                format!("container name `{}` is used twice", c.name),
            ));
        }
        if let Err(e) = ids::check_dns_label(&c.name) {
            out.push(m.error("invalid-name", &format!("{p}.name"), e));
        }
        if c.image.is_none() && c.exec.is_none() {
            out.push(m.error(
                "nothing-to-run",
                &p,
                format!("container `{}` needs an `image` or an `exec` command", c.name),
            ));
        }
        if let Some(cmd) = c.exec.as_ref().map(|e| &e.command)
            && cmd.shell.is_some() == cmd.argv.is_some()
        {
            out.push(m.error(
                "invalid-exec",
                &format!("{p}.exec.command"),
                "exec.command needs exactly one of `shell` and `argv`",
            ));
        }
        let r = c.resources.clone().unwrap_or_default();
        check_resources(m, &format!("{p}.resources"), r.cpus, r.mem, r.disk, r.gpus, out);
        check_env(m, &format!("{p}.environment"), &c.environment, &s.secrets, out);
        for (j, vm) in c.volume_mounts.iter().enumerate() {
            if !s.volumes.iter().any(|v| v.name == vm.name) {
                out.push(m.error(
                    "unknown-volume",
                    &format!("{p}.volumeMounts[{j}].name"),
                    format!("no pod volume named `{}`", vm.name),
                ));
            }
        }
        if let Some(hc) = &c.health_check {
            let set = [hc.http.is_some(), hc.tcp.is_some(), hc.exec.is_some()].iter().filter(|b| **b).count();
            if set != 1 {
                out.push(m.error(
                    "invalid-health-check",
                    &format!("{p}.healthCheck"),
                    "a pod health check needs exactly one of `http`, `tcp`, `exec`",
                ));
            }
            let ep = hc.http.as_ref().map(|h| &h.endpoint).or(hc.tcp.as_ref().map(|t| &t.endpoint));
            if let Some(ep) = ep
                && !c.endpoints.iter().any(|e| &e.name == ep)
            {
                out.push(m.error(
                    "unknown-endpoint",
                    &format!("{p}.healthCheck"),
                    format!("health check uses endpoint `{ep}`, which container `{}` does not declare", c.name),
                ));
            }
        }
    }
}

/// Instances, resources and resource limits.
fn check_app_resources(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let pod_form = !s.containers.is_empty();
    if let Some(n) = s.instances
        && n < 0
    {
        out.push(m.error("out-of-range", "spec.instances", "instances must be 0 or more"));
    }
    if !pod_form {
        check_resources(m, "spec", s.cpus, s.mem, s.disk, s.gpus, out);
    }
    if let Some(rl) = &s.resource_limits {
        for (field, limit, request, default) in [("cpus", &rl.cpus, s.cpus, 1.0), ("mem", &rl.mem, s.mem, 128.0)] {
            let p = format!("spec.resourceLimits.{field}");
            match limit {
                Some(ResourceLimit::Word(w)) if w != "unlimited" => {
                    out.push(m.error("invalid-value", &p, format!("`{w}` is not a number or \"unlimited\"")));
                }
                Some(ResourceLimit::Value(v)) if *v < request.unwrap_or(default) => {
                    out.push(m.error(
                        "out-of-range",
                        &p,
                        format!("limit {v} is below the requested {field} {}", request.unwrap_or(default)),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// `env` and `secrets`.
fn check_env_and_secrets(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    check_env(m, "spec.env", &s.env, &s.secrets, out);
    let docker = s.container.as_ref().and_then(|c| c.docker.as_ref());
    check_pull_config(m, "spec.container.docker", docker, &s.secrets, out);
    for (name, src) in &s.secrets {
        if src.source.trim().is_empty() {
            out.push(m.error("invalid-value", &format!("spec.secrets.{name}.source"), "secret source is empty"));
        }
    }
}

/// `container.volumes`.
fn check_volumes(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    if let Some(c) = &s.container {
        for (i, v) in c.volumes.iter().enumerate() {
            let p = format!("spec.container.volumes[{i}]");
            let kinds = [v.host_path.is_some(), v.persistent.is_some(), v.external.is_some(), v.secret.is_some()]
                .iter()
                .filter(|b| **b)
                .count();
            if kinds != 1 {
                out.push(m.error(
                    "invalid-volume",
                    &p,
                    "a volume needs exactly one of `hostPath`, `persistent`, `external`, `secret`",
                ));
            }
            if let Some(sec) = &v.secret
                && !s.secrets.contains_key(sec)
            {
                out.push(m.error(
                    "unknown-secret",
                    &format!("{p}.secret"),
                    format!("volume refers to secret `{sec}`, which is not declared in `secrets`"),
                ));
            }
            if let Some(pv) = &v.persistent {
                if pv.size <= 0.0 {
                    out.push(m.error(
                        "out-of-range",
                        &format!("{p}.persistent.size"),
                        "persistent volume size must be positive (MiB)",
                    ));
                }
                if v.container_path.contains('/') {
                    out.push(
                        m.error(
                            "invalid-volume",
                            &format!("{p}.containerPath"),
                            "a persistent volume's containerPath is relative to the sandbox and may not contain `/`",
                        )
                        .with_hint("Marathon mounts persistent volumes inside the sandbox, e.g. `containerPath: data`"),
                    );
                }
            }
            if let Some(mode) = &v.mode
                && mode != "RW"
                && mode != "RO"
            {
                out.push(m.error("invalid-value", &format!("{p}.mode"), format!("mode `{mode}` is not RW or RO")));
            }
        }
    }
}

/// The upgrade strategy, with the rules of resident and single-instance apps.
fn check_upgrade(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let us = s.upgrade_strategy.clone().unwrap_or_default();
    for (f, v) in
        [("minimumHealthCapacity", us.minimum_health_capacity), ("maximumOverCapacity", us.maximum_over_capacity)]
    {
        if let Some(v) = v
            && !(0.0..=1.0).contains(&v)
        {
            out.push(m.error(
                "out-of-range",
                &format!("spec.upgradeStrategy.{f}"),
                format!("{f} {v} must be between 0 and 1"),
            ));
        }
    }
    if is_resident(app)
        && let Some(moc) = us.maximum_over_capacity
        && moc != 0.0
    {
        out.push(
            m.error(
                "resident-upgrade",
                "spec.upgradeStrategy.maximumOverCapacity",
                "apps with persistent volumes must use maximumOverCapacity 0",
            )
            .with_hint("an instance keeps its volume, so no extra instance can start beside it"),
        );
    }
    if s.labels.contains_key("MARATHON_SINGLE_INSTANCE_APP") {
        if us.minimum_health_capacity != Some(0.0) || us.maximum_over_capacity != Some(0.0) {
            out.push(m.error(
                "single-instance",
                "spec.upgradeStrategy",
                "MARATHON_SINGLE_INSTANCE_APP needs upgradeStrategy {minimumHealthCapacity: 0, maximumOverCapacity: 0}",
            ));
        }
        if s.instances.unwrap_or(1) > 1 {
            out.push(m.error(
                "single-instance",
                "spec.instances",
                "MARATHON_SINGLE_INSTANCE_APP allows at most 1 instance",
            ));
        }
    }
}

/// Backoff, unreachable strategy, grace period, fetch.
fn check_restarts(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    // Marathon's launch delay has no Kubernetes form: the kubelet restarts a crashed container
    // in place with its own back-off, which no pod field changes. Refused rather than ignored.
    for (f, set) in [
        ("backoffSeconds", s.backoff_seconds.is_some()),
        ("backoffFactor", s.backoff_factor.is_some()),
        ("maxLaunchDelaySeconds", s.max_launch_delay_seconds.is_some()),
    ] {
        if set {
            out.push(
                m.error(
                    "unsupported-field",
                    &format!("spec.{f}"),
                    format!(
                        "{f} is not supported: the kubelet restarts a crashed instance in place with its own \
                         back-off (10 s, doubling up to 5 min), which no App field can change"
                    ),
                )
                .with_hint(format!("remove `{f}`; docs/dcos/apps.md, \"Restarts and back-off\", says what applies")),
            );
        }
    }
    if s.task_kill_grace_period_seconds.is_some_and(|v| v < 0.0) {
        out.push(m.error(
            "out-of-range",
            "spec.taskKillGracePeriodSeconds",
            "taskKillGracePeriodSeconds must be 0 or more",
        ));
    }
    match &s.unreachable_strategy {
        Some(UnreachableStrategy::Word(w)) if w != "disabled" => {
            out.push(m.error(
                "invalid-value",
                "spec.unreachableStrategy",
                format!("`{w}` is not \"disabled\" or {{inactiveAfterSeconds, expungeAfterSeconds}}"),
            ));
        }
        Some(UnreachableStrategy::Timeouts(t)) => {
            let inactive = t.inactive_after_seconds.unwrap_or(0);
            let expunge = t.expunge_after_seconds.unwrap_or(0);
            if inactive < 0 || expunge < 0 {
                out.push(m.error("out-of-range", "spec.unreachableStrategy", "timeouts must be 0 or more"));
            }
            if inactive > expunge {
                out.push(m.error(
                    "out-of-range",
                    "spec.unreachableStrategy.inactiveAfterSeconds",
                    format!("inactiveAfterSeconds {inactive} must not exceed expungeAfterSeconds {expunge}"),
                ));
            }
        }
        _ => {}
    }
    for (i, f) in s.fetch.iter().enumerate() {
        if f.uri.trim().is_empty() {
            out.push(m.error("invalid-value", &format!("spec.fetch[{i}].uri"), "uri is empty"));
        }
    }
}

/// Constraints, roles and dependencies.
fn check_placement(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let model = Model::of_manifest(m, app);
    for p in model.parsed_constraints().problems {
        let mut d = m.error("invalid-constraint", &p.field, p.error.message);
        if let Some(h) = p.error.hint {
            d = d.with_hint(h);
        }
        out.push(d);
    }
    for (i, r) in s.accepted_resource_roles.iter().enumerate() {
        if r.is_empty() {
            out.push(m.error("invalid-value", &format!("spec.acceptedResourceRoles[{i}]"), "role is empty"));
        }
    }
    if let Some(role) = &s.role
        && !s.accepted_resource_roles.is_empty()
        && !s.accepted_resource_roles.iter().any(|r| r == role || r == "*")
    {
        out.push(m.warning(
            "roles",
            "spec.acceptedResourceRoles",
            format!("acceptedResourceRoles excludes the app's own role `{role}` and `*`; no node can be used"),
        ));
    }
    for (i, d) in model.dependency_ids().into_iter().enumerate() {
        if let Err(e) = d {
            out.push(m.error("invalid-id", &format!("spec.dependencies[{i}]"), e));
        }
    }
}

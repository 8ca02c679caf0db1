//! Semantic validation of loaded manifests (pure).
//!
//! Rules come from Marathon's and Metronome's validators (DOMAIN.md). Each rule reports a
//! diagnostic on the field it concerns; cross-object rules (dependencies, cycles, parents)
//! run over the whole tree.

use crate::constraints::{self, parse_constraint};
use crate::diag::Diagnostic;
use crate::ids;
use crate::load::{Manifest, Typed};
use crate::schedule;
use dromos_crds::EnvValue;
use dromos_crds::app::{App, HealthProtocol, ResourceLimit, UnreachableStrategy};
use dromos_crds::job::Job;
use std::collections::{BTreeMap, BTreeSet};

/// Validates every manifest and the relations between them.
pub fn validate_manifests(manifests: &[Manifest]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        out.extend(validate_object(m));
    }
    validate_app_graph(manifests, &mut out);
    validate_job_graph(manifests, &mut out);
    out
}

/// The Marathon id of an App manifest (its `spec.id`, else `/namespace/name`).
pub fn app_id(m: &Manifest, app: &App) -> String {
    match &app.spec.id {
        Some(id) if id.starts_with('/') => id.clone(),
        _ => ids::id_of(m.namespace.as_deref().unwrap_or("default"), &m.name),
    }
}

/// The group of an id: `/shop/web/frontend` -> `/shop/web`.
fn group_of(id: &str) -> String {
    match id.rsplit_once('/') {
        Some((g, _)) if !g.is_empty() => g.to_string(),
        _ => "/".into(),
    }
}

/// Number of ports an App declares (host ports, port mappings or pod endpoints).
pub fn port_count(app: &App) -> usize {
    let s = &app.spec;
    if !s.containers.is_empty() {
        return s.containers.iter().map(|c| c.endpoints.len()).sum();
    }
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        return pm.len();
    }
    if let Some(pd) = &s.port_definitions {
        return pd.len();
    }
    if let Some(p) = &s.ports {
        return p.len();
    }
    if is_host_networking(app) { 1 } else { 0 }
}

/// Port names in declaration order (`None` for unnamed ports).
pub fn port_names(app: &App) -> Vec<Option<String>> {
    let s = &app.spec;
    if !s.containers.is_empty() {
        return s.containers.iter().flat_map(|c| c.endpoints.iter().map(|e| Some(e.name.clone()))).collect();
    }
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        return pm.iter().map(|p| p.name.clone()).collect();
    }
    if let Some(pd) = &s.port_definitions {
        return pd.iter().map(|p| p.name.clone()).collect();
    }
    if let Some(p) = &s.ports {
        return vec![None; p.len()];
    }
    if is_host_networking(app) { vec![Some("default".into())] } else { vec![] }
}

/// True when the App uses host networking (Marathon's default).
pub fn is_host_networking(app: &App) -> bool {
    app.spec.networks.is_empty() || app.spec.networks.iter().all(|n| n.mode.as_deref().unwrap_or("host") == "host")
}

/// True when the App has persistent volumes (a resident app).
pub fn is_resident(app: &App) -> bool {
    app.spec.container.as_ref().is_some_and(|c| c.volumes.iter().any(|v| v.persistent.is_some()))
        || app.spec.volumes.iter().any(|v| v.persistent.is_some())
}

fn image_of(app: &App) -> Option<&str> {
    app.spec.container.as_ref().and_then(|c| c.docker.as_ref()).map(|d| d.image.as_str()).filter(|i| !i.is_empty())
}

fn check_env(
    m: &Manifest,
    path: &str,
    env: &BTreeMap<String, EnvValue>,
    secrets: &BTreeMap<String, dromos_crds::common::SecretSource>,
    out: &mut Vec<Diagnostic>,
) {
    for (k, v) in env {
        let p = crate::yaml::join_key(path, k);
        if k.is_empty() || k.contains('=') {
            out.push(m.error("invalid-env", &p, format!("`{k}` is not a valid environment variable name")));
        }
        if let EnvValue::Secret { secret } = v
            && !secrets.contains_key(secret)
        {
            let mut d = m.error(
                "unknown-secret",
                &format!("{p}.secret"),
                format!("env `{k}` refers to secret `{secret}`, which is not declared in `secrets`"),
            );
            if let Some(c) = crate::diag::closest(secret, secrets.keys().map(String::as_str)) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            } else {
                d = d.with_hint(format!("add `secrets: {{{secret}: {{source: <secret-name>}}}}`"));
            }
            out.push(d);
        }
    }
}

fn validate_app(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
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
    } else if s.cmd.is_none() && s.args.is_none() && image_of(app).is_none() {
        out.push(
            m.error("nothing-to-run", "spec", "an App needs `cmd`, `args` or a container image")
                .with_hint("add `container: {docker: {image: ...}}` or `cmd: ...`"),
        );
    }
    if s.args.is_some() && image_of(app).is_none() && !pod_form {
        out.push(m.error("args-without-image", "spec.args", "`args` needs a container image to pass them to"));
    }

    // Resources.
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

    // Networking and ports.
    let modes: Vec<&str> = s.networks.iter().map(|n| n.mode.as_deref().unwrap_or("host")).collect();
    for (i, mode) in modes.iter().enumerate() {
        if !["host", "container", "container/bridge"].contains(mode) {
            out.push(m.error(
                "invalid-value",
                &format!("spec.networks[{i}].mode"),
                format!("network mode `{mode}` is not host, container or container/bridge"),
            ));
        }
    }
    if modes.contains(&"host") && modes.len() > 1 {
        out.push(m.error(
            "invalid-networks",
            "spec.networks",
            "host networking cannot be combined with other networks",
        ));
    }
    if modes.iter().filter(|m| **m == "container/bridge").count() > 1
        || (modes.contains(&"container/bridge") && modes.contains(&"container"))
    {
        out.push(m.error(
            "invalid-networks",
            "spec.networks",
            "bridge networking cannot be combined with other networks",
        ));
    }
    let host = is_host_networking(app);
    if host && s.container.as_ref().is_some_and(|c| c.port_mappings.as_ref().is_some_and(|p| !p.is_empty())) {
        out.push(
            m.error(
                "ports-for-network",
                "spec.container.portMappings",
                "portMappings need container or container/bridge networking",
            )
            .with_hint("use `portDefinitions` with host networking, or add `networks: [{mode: container/bridge}]`"),
        );
    }
    if !host && s.port_definitions.as_ref().is_some_and(|p| !p.is_empty()) {
        out.push(
            m.error("ports-for-network", "spec.portDefinitions", "portDefinitions are only for host networking")
                .with_hint("use `container.portMappings`"),
        );
    }
    if s.port_definitions.is_some() && s.ports.is_some() {
        out.push(m.error(
            "ports-twice",
            "spec.ports",
            "`ports` (deprecated) and `portDefinitions` are mutually exclusive",
        ));
    }
    let names = port_names(app);
    let mut seen = BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(n) = n {
            if !seen.insert(n.clone()) {
                out.push(m.error(
                    "duplicate-name",
                    &port_path(app, i, "name"),
                    format!("port name `{n}` is used twice"),
                ));
            }
            if let Err(e) = ids::check_dns_label(n) {
                out.push(m.error("invalid-name", &port_path(app, i, "name"), format!("port name {e}")));
            }
        }
    }
    let check_port = |v: Option<i32>, p: String, out: &mut Vec<Diagnostic>| {
        if let Some(v) = v
            && !(0..=65535).contains(&v)
        {
            out.push(m.error("out-of-range", &p, format!("port {v} is outside 0-65535")));
        }
    };
    if let Some(pd) = &s.port_definitions {
        for (i, p) in pd.iter().enumerate() {
            check_port(p.port, format!("spec.portDefinitions[{i}].port"), out);
            check_protocol(m, p.protocol.as_deref(), &format!("spec.portDefinitions[{i}].protocol"), out);
            check_vip_labels(m, &p.labels, &format!("spec.portDefinitions[{i}].labels"), out);
        }
    }
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        for (i, p) in pm.iter().enumerate() {
            check_port(p.container_port, format!("spec.container.portMappings[{i}].containerPort"), out);
            check_port(p.host_port, format!("spec.container.portMappings[{i}].hostPort"), out);
            check_port(p.service_port, format!("spec.container.portMappings[{i}].servicePort"), out);
            check_protocol(m, p.protocol.as_deref(), &format!("spec.container.portMappings[{i}].protocol"), out);
            check_vip_labels(m, &p.labels, &format!("spec.container.portMappings[{i}].labels"), out);
            if p.container_port.unwrap_or(0) == 0 && p.host_port.is_none() {
                out.push(m.error(
                    "invalid-port",
                    &format!("spec.container.portMappings[{i}].containerPort"),
                    "a port mapping without a hostPort needs a non-zero containerPort",
                ));
            }
        }
    }
    if s.require_ports == Some(true)
        && let Some(pd) = &s.port_definitions
        && pd.iter().any(|p| p.port.unwrap_or(0) == 0)
    {
        out.push(m.error("invalid-port", "spec.requirePorts", "requirePorts needs every port to be non-zero"));
    }

    // Environment and secrets.
    check_env(m, "spec.env", &s.env, &s.secrets, out);
    for (name, src) in &s.secrets {
        if src.source.trim().is_empty() {
            out.push(m.error("invalid-value", &format!("spec.secrets.{name}.source"), "secret source is empty"));
        }
    }
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

    // Health and readiness.
    let ports = port_count(app);
    let mut mesos_checks = 0;
    for (i, hc) in s.health_checks.iter().enumerate() {
        let p = format!("spec.healthChecks[{i}]");
        let proto = hc.protocol.unwrap_or(HealthProtocol::HTTP);
        let is_mesos =
            matches!(proto, HealthProtocol::MesosHttp | HealthProtocol::MesosHttps | HealthProtocol::MesosTcp);
        if is_mesos {
            mesos_checks += 1;
        }
        let is_http = matches!(
            proto,
            HealthProtocol::HTTP | HealthProtocol::HTTPS | HealthProtocol::MesosHttp | HealthProtocol::MesosHttps
        );
        match proto {
            HealthProtocol::COMMAND => {
                if hc.command.as_ref().is_none_or(|c| c.value.trim().is_empty()) {
                    out.push(m.error(
                        "invalid-health-check",
                        &p,
                        "a COMMAND health check needs `command: {value: ...}`",
                    ));
                }
                for f in ["path", "portIndex", "port"] {
                    if m.value["spec"]["healthChecks"][i].get(f).is_some() {
                        out.push(m.error(
                            "invalid-health-check",
                            &format!("{p}.{f}"),
                            format!("`{f}` does not apply to COMMAND health checks"),
                        ));
                    }
                }
            }
            _ => {
                if hc.command.is_some() {
                    out.push(m.error(
                        "invalid-health-check",
                        &format!("{p}.command"),
                        "`command` is only for COMMAND health checks",
                    ));
                }
                if !is_http && hc.path.is_some() {
                    out.push(m.error(
                        "invalid-health-check",
                        &format!("{p}.path"),
                        "`path` is only for HTTP(S) health checks",
                    ));
                }
                if hc.port.is_some() && hc.port_index.is_some() {
                    out.push(m.error(
                        "invalid-health-check",
                        &format!("{p}.port"),
                        "`port` and `portIndex` are mutually exclusive",
                    ));
                }
                if hc.port.is_none() {
                    let idx = hc.port_index.unwrap_or(0);
                    if idx < 0 || idx as usize >= ports {
                        out.push(
                            m.error(
                                "invalid-health-check",
                                &format!("{p}.portIndex"),
                                format!("portIndex {idx} is out of range: the app has {ports} port(s)"),
                            )
                            .with_hint("declare the port in portDefinitions/portMappings or use `port`"),
                        );
                    }
                }
            }
        }
        for (f, v, min) in [
            ("gracePeriodSeconds", hc.grace_period_seconds, 0),
            ("intervalSeconds", hc.interval_seconds, 1),
            ("timeoutSeconds", hc.timeout_seconds, 1),
            ("maxConsecutiveFailures", hc.max_consecutive_failures, 0),
            ("delaySeconds", hc.delay_seconds, 0),
        ] {
            if let Some(v) = v
                && v < min
            {
                out.push(m.error("out-of-range", &format!("{p}.{f}"), format!("{f} must be at least {min}")));
            }
        }
        let interval = hc.interval_seconds.unwrap_or(60);
        if hc.timeout_seconds.unwrap_or(20) >= interval {
            out.push(m.error(
                "out-of-range",
                &format!("{p}.timeoutSeconds"),
                format!("timeoutSeconds {} must be below intervalSeconds {interval}", hc.timeout_seconds.unwrap_or(20)),
            ));
        }
    }
    if mesos_checks > 1 {
        out.push(m.error("too-many-checks", "spec.healthChecks", "at most one MESOS_* health check per app"));
    }
    if s.readiness_checks.len() > 1 {
        out.push(m.error("too-many-checks", "spec.readinessChecks", "at most one readiness check per app"));
    }
    for (i, rc) in s.readiness_checks.iter().enumerate() {
        let p = format!("spec.readinessChecks[{i}]");
        let interval = rc.interval_seconds.unwrap_or(30);
        let timeout = rc.timeout_seconds.unwrap_or(10);
        if timeout >= interval {
            out.push(m.error(
                "out-of-range",
                &format!("{p}.timeoutSeconds"),
                format!("timeoutSeconds {timeout} must be below intervalSeconds {interval}"),
            ));
        }
        if let Some(proto) = &rc.protocol
            && proto != "HTTP"
            && proto != "HTTPS"
        {
            out.push(m.error(
                "invalid-value",
                &format!("{p}.protocol"),
                format!("readiness protocol `{proto}` is not HTTP or HTTPS"),
            ));
        }
        match &rc.port_name {
            Some(pn) if !names.iter().any(|n| n.as_deref() == Some(pn)) => {
                let known: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
                let mut d = m.error("unknown-port", &format!("{p}.portName"), format!("no port named `{pn}`"));
                if let Some(c) = crate::diag::closest(pn, known.iter().copied()) {
                    d = d.with_hint(format!("did you mean `{c}`?"));
                }
                out.push(d);
            }
            None if !names.iter().any(|n| n.as_deref() == Some("http-api")) => {
                out.push(m.error("missing-field", &p, "readiness check needs `portName`"));
            }
            _ => {}
        }
        if let Some(codes) = &rc.http_status_codes_for_ready
            && (codes.is_empty() || codes.iter().any(|c| !(100..=599).contains(c)))
        {
            out.push(m.error(
                "invalid-value",
                &format!("{p}.httpStatusCodesForReady"),
                "status codes must be non-empty and within 100-599",
            ));
        }
    }

    // Upgrade strategy.
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

    // Backoff, unreachable, grace period.
    if let Some(f) = s.backoff_factor
        && f < 1.0
    {
        out.push(m.error("out-of-range", "spec.backoffFactor", format!("backoffFactor {f} must be at least 1")));
    }
    for (f, v) in [
        ("backoffSeconds", s.backoff_seconds),
        ("maxLaunchDelaySeconds", s.max_launch_delay_seconds),
        ("taskKillGracePeriodSeconds", s.task_kill_grace_period_seconds),
    ] {
        if v.is_some_and(|v| v < 0.0) {
            out.push(m.error("out-of-range", &format!("spec.{f}"), format!("{f} must be 0 or more")));
        }
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

    // Constraints.
    for (i, parts) in s.constraints.iter().enumerate() {
        if let Err(e) = parse_constraint(parts) {
            let path = if e.part < parts.len() {
                format!("spec.constraints[{i}][{}]", e.part)
            } else {
                format!("spec.constraints[{i}]")
            };
            let mut d = m.error("invalid-constraint", &path, e.message);
            if let Some(h) = e.hint {
                d = d.with_hint(h);
            }
            out.push(d);
        }
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
    for (i, d) in s.dependencies.iter().enumerate() {
        if let Err(e) = ids::parse_id(d, Some(&group_of(&app_id(m, app)))) {
            out.push(m.error("invalid-id", &format!("spec.dependencies[{i}]"), e));
        }
    }
}

fn port_path(app: &App, i: usize, field: &str) -> String {
    let s = &app.spec;
    if !s.containers.is_empty() {
        let mut n = i;
        for (ci, c) in s.containers.iter().enumerate() {
            if n < c.endpoints.len() {
                return format!("spec.containers[{ci}].endpoints[{n}].{field}");
            }
            n -= c.endpoints.len();
        }
    }
    if s.container.as_ref().and_then(|c| c.port_mappings.as_ref()).is_some() {
        return format!("spec.container.portMappings[{i}].{field}");
    }
    format!("spec.portDefinitions[{i}].{field}")
}

fn check_protocol(m: &Manifest, proto: Option<&str>, path: &str, out: &mut Vec<Diagnostic>) {
    if let Some(p) = proto
        && !["tcp", "udp", "udp,tcp", "tcp,udp"].contains(&p)
    {
        out.push(m.error("invalid-value", path, format!("protocol `{p}` is not tcp, udp or udp,tcp")));
    }
}

fn check_vip_labels(m: &Manifest, labels: &BTreeMap<String, String>, path: &str, out: &mut Vec<Diagnostic>) {
    for (k, v) in labels {
        if k.starts_with("VIP_") {
            let ok = v.rsplit_once(':').is_some_and(|(name, port)| {
                !name.trim_start_matches('/').is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                out.push(m.error(
                    "invalid-vip",
                    &crate::yaml::join_key(path, k),
                    format!("VIP label `{v}` must be `name:port` or `/name:port`"),
                ));
            }
        }
    }
}

fn check_resources(
    m: &Manifest,
    base: &str,
    cpus: Option<f64>,
    mem: Option<f64>,
    disk: Option<f64>,
    gpus: Option<f64>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(c) = cpus
        && c < 0.001
    {
        out.push(m.error("out-of-range", &format!("{base}.cpus"), format!("cpus {c} is below the minimum 0.001")));
    }
    for (f, v) in [("mem", mem), ("disk", disk)] {
        if v.is_some_and(|v| v < 0.0) {
            out.push(m.error("out-of-range", &format!("{base}.{f}"), format!("{f} must be 0 or more (MiB)")));
        }
    }
    if let Some(g) = gpus
        && (g < 0.0 || g.fract() != 0.0)
    {
        out.push(m.error(
            "out-of-range",
            &format!("{base}.gpus"),
            format!("gpus {g} must be a whole number, 0 or more"),
        ));
    }
}

fn validate_job(m: &Manifest, job: &Job, out: &mut Vec<Diagnostic>) {
    let s = &job.spec;
    let r = &s.run;
    if let Some(id) = &s.id
        && let Err(e) = ids::parse_job_id(id)
    {
        out.push(m.error("invalid-id", "spec.id", e));
    }
    if r.cmd.is_some() && r.args.is_some() {
        out.push(m.error("cmd-and-args", "spec.run.args", "`cmd` and `args` are mutually exclusive"));
    }
    let image = r
        .docker
        .as_ref()
        .map(|d| d.image.as_str())
        .or(r.ucr.as_ref().map(|u| u.image.id.as_str()))
        .filter(|i| !i.is_empty());
    if r.cmd.is_none() && r.args.is_none() && image.is_none() {
        out.push(m.error(
            "nothing-to-run",
            "spec.run",
            "a job run needs `cmd`, `args` or an image (`docker` or `ucr`)",
        ));
    }
    if r.docker.is_some() && r.ucr.is_some() {
        out.push(m.error("invalid-value", "spec.run.ucr", "`docker` and `ucr` are mutually exclusive"));
    }
    check_resources(m, "spec.run", r.cpus, r.mem, r.disk, r.gpus, out);
    check_env(m, "spec.run.env", &r.env, &r.secrets, out);
    if let Some(pl) = &r.placement {
        for (i, c) in pl.constraints.iter().enumerate() {
            let p = format!("spec.run.placement.constraints[{i}]");
            match c.operator.as_str() {
                "IS" | "EQ" => {
                    if c.value.is_none() {
                        out.push(m.error("invalid-constraint", &p, format!("{} needs a value", c.operator)));
                    }
                }
                "LIKE" | "UNLIKE" => match &c.value {
                    None => out.push(m.error(
                        "invalid-constraint",
                        &p,
                        format!("{} needs a regular expression", c.operator),
                    )),
                    Some(v) => {
                        if let Err(e) = constraints::compile_whole(v) {
                            out.push(m.error("invalid-constraint", &format!("{p}.value"), e));
                        }
                    }
                },
                other => {
                    let mut d = m.error(
                        "invalid-constraint",
                        &format!("{p}.operator"),
                        format!("job constraint operator `{other}` is not IS, EQ, LIKE or UNLIKE"),
                    );
                    if let Some(c) = crate::diag::closest(other, ["IS", "EQ", "LIKE", "UNLIKE"]) {
                        d = d.with_hint(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    if let Some(rs) = &r.restart
        && rs.active_deadline_seconds.is_some_and(|v| v < 0)
    {
        out.push(m.error(
            "out-of-range",
            "spec.run.restart.activeDeadlineSeconds",
            "activeDeadlineSeconds must be 0 or more",
        ));
    }
    if r.max_launch_delay.is_some_and(|v| v < 1) {
        out.push(m.error("out-of-range", "spec.run.maxLaunchDelay", "maxLaunchDelay must be at least 1"));
    }
    // Schedules.
    if s.schedules.len() > 1 {
        out.push(
            m.error("too-many-schedules", "spec.schedules", "Metronome allows at most one schedule per job")
                .with_hint("split the job, or use one cron expression"),
        );
    }
    for (i, sc) in s.schedules.iter().enumerate() {
        let p = format!("spec.schedules[{i}]");
        if let Err(e) = schedule::parse_cron(&sc.cron) {
            out.push(m.error("invalid-cron", &format!("{p}.cron"), e));
        }
        if let Some(tz) = &sc.timezone
            && let Err(e) = schedule::parse_time_zone(tz)
        {
            let mut d = m.error("invalid-time-zone", &format!("{p}.timezone"), e);
            if let Some(c) = crate::diag::closest(tz, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            }
            out.push(d);
        }
        if let Some(d) = sc.starting_deadline_seconds
            && d < 60
        {
            out.push(m.error(
                "out-of-range",
                &format!("{p}.startingDeadlineSeconds"),
                format!("startingDeadlineSeconds {d} must be at least 60"),
            ));
        }
    }
    if let Some(sched) = &s.schedule {
        match schedule::parse_iso8601(sched) {
            Err(e) => out.push(m.error("invalid-schedule", "spec.schedule", e)),
            Ok(ri) if ri.period.seconds.fract() != 0.0 => out.push(
                m.error(
                    "invalid-schedule",
                    "spec.schedule",
                    format!("period of `{sched}` has a fraction of a second; runs are scheduled in whole seconds"),
                )
                .with_hint("use whole seconds, e.g. `PT1S`"),
            ),
            Ok(_) => {}
        }
        if !s.schedules.is_empty() {
            out.push(m.error(
                "two-schedules",
                "spec.schedule",
                "`schedule` (Chronos) and `schedules` (Metronome) are mutually exclusive",
            ));
        }
    } else if s.schedule_time_zone.is_some() {
        out.push(m.warning("unused-field", "spec.scheduleTimeZone", "scheduleTimeZone only applies to `schedule`"));
    }
    if let Some(tz) = &s.schedule_time_zone
        && let Err(e) = schedule::parse_time_zone(tz)
    {
        out.push(m.error("invalid-time-zone", "spec.scheduleTimeZone", e));
    }
    let scheduled = s.schedule.is_some() || !s.schedules.is_empty();
    let dependent = !s.dependencies.is_empty() || !s.parents.is_empty();
    if scheduled && dependent {
        let path = if !s.parents.is_empty() { "spec.parents" } else { "spec.dependencies" };
        out.push(
            m.error("schedule-and-dependencies", path, "a job runs on a schedule or after its dependencies, not both")
                .with_hint("remove the schedule, or the dependencies/parents"),
        );
    }
}

fn validate_gitsource(m: &Manifest, gs: &dromos_crds::GitSource, out: &mut Vec<Diagnostic>) {
    if let Some(r) = &gs.spec.git_ref {
        let n = [r.branch.is_some(), r.tag.is_some(), r.commit.is_some()].iter().filter(|b| **b).count();
        if n > 1 {
            out.push(m.error("invalid-ref", "spec.ref", "set only one of `branch`, `tag` and `commit`"));
        }
        if let Some(c) = &r.commit
            && (c.len() != 40 || !c.chars().all(|ch| ch.is_ascii_hexdigit()))
        {
            out.push(m.error("invalid-ref", "spec.ref.commit", "commit must be a full 40-character SHA-1"));
        }
    }
    let url = gs.spec.url.as_str();
    let known = ["https://", "http://", "ssh://", "file://"].iter().any(|p| url.starts_with(p))
        || (url.contains('@') && url.contains(':'));
    if !known {
        out.push(m.error(
            "invalid-url",
            "spec.url",
            format!("`{url}` is not an https://, ssh://, git@host:path or file:// URL"),
        ));
    }
    if let Some(p) = &gs.spec.path
        && p.split('/').any(|s| s == "..")
    {
        out.push(m.error("invalid-path", "spec.path", "path may not leave the repository (`..`)"));
    }
}

/// The rules of one object alone.
pub fn validate_object(m: &Manifest) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match &m.typed {
        Typed::App(app) => validate_app(m, app, &mut out),
        Typed::Job(job) => validate_job(m, job, &mut out),
        Typed::GitSource(gs) => validate_gitsource(m, gs, &mut out),
        _ => {}
    }
    out
}

/// Reports dependencies that resolve to no App and dependency cycles (with the whole path).
fn validate_app_graph(manifests: &[Manifest], out: &mut Vec<Diagnostic>) {
    let apps: Vec<(&Manifest, &App, String)> = manifests
        .iter()
        .filter_map(|m| match &m.typed {
            Typed::App(a) => Some((m, a, app_id(m, a))),
            _ => None,
        })
        .collect();
    // Ids and the canonical /namespace/name both resolve.
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (m, _, id)) in apps.iter().enumerate() {
        by_id.insert(id.clone(), i);
        by_id.insert(ids::id_of(m.namespace.as_deref().unwrap_or("default"), &m.name), i);
    }
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); apps.len()];
    for (i, (m, app, id)) in apps.iter().enumerate() {
        for (j, dep) in app.spec.dependencies.iter().enumerate() {
            let Ok(segs) = ids::parse_id(dep, Some(&group_of(id))) else { continue };
            let abs = format!("/{}", segs.join("/"));
            let loc = ids::location_of(&segs);
            let canonical = loc.namespace.as_ref().map(|ns| ids::id_of(ns, &loc.name));
            match by_id.get(&abs).or(canonical.as_ref().and_then(|c| by_id.get(c))) {
                Some(&t) => edges[i].push((t, j)),
                None => {
                    let known: Vec<&str> = apps.iter().map(|(_, _, id)| id.as_str()).collect();
                    let mut d = m.error(
                        "unknown-dependency",
                        &format!("spec.dependencies[{j}]"),
                        format!("dependency `{dep}` (resolved to `{abs}`) is not an App in this repository"),
                    );
                    if let Some(c) = crate::diag::closest(&abs, known.iter().copied()) {
                        d = d.with_hint(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    for cycle in find_cycles(&edges) {
        let (m, _, _) = &apps[cycle[0].0];
        let path: Vec<String> =
            cycle.iter().map(|(n, _)| apps[*n].2.clone()).chain(std::iter::once(apps[cycle[0].0].2.clone())).collect();
        out.push(m.error(
            "dependency-cycle",
            &format!("spec.dependencies[{}]", cycle[0].1),
            format!("dependency cycle: {}", path.join(" -> ")),
        ));
    }
}

/// Reports unknown parents/dependencies of Jobs and cycles in the job graph.
fn validate_job_graph(manifests: &[Manifest], out: &mut Vec<Diagnostic>) {
    let jobs: Vec<(&Manifest, &Job)> = manifests
        .iter()
        .filter_map(|m| match &m.typed {
            Typed::Job(j) => Some((m, j)),
            _ => None,
        })
        .collect();
    let mut by_key: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, (m, j)) in jobs.iter().enumerate() {
        let ns = m.namespace.clone().unwrap_or_default();
        by_key.insert((ns.clone(), m.name.clone()), i);
        if let Some(id) = &j.spec.id {
            by_key.insert((ns, id.clone()), i);
        }
    }
    let resolve = |m: &Manifest, r: &str| -> Option<usize> {
        let ns = m.namespace.clone().unwrap_or_default();
        if let Some(&i) = by_key.get(&(ns, r.to_string())) {
            return Some(i);
        }
        let segs = ids::parse_job_id(r).ok()?;
        let loc = ids::location_of(&segs);
        let ns = loc.namespace.or(m.namespace.clone()).unwrap_or_default();
        by_key.get(&(ns, loc.name)).copied()
    };
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); jobs.len()];
    for (i, (m, j)) in jobs.iter().enumerate() {
        let refs = j
            .spec
            .parents
            .iter()
            .map(|p| ("parents", p.as_str()))
            .chain(j.spec.dependencies.iter().map(|d| ("dependencies", d.id.as_str())));
        let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
        for (field, r) in refs {
            let k = counters.entry(field).or_default();
            let idx = *k;
            *k += 1;
            let path = if field == "parents" {
                format!("spec.parents[{idx}]")
            } else {
                format!("spec.dependencies[{idx}].id")
            };
            match resolve(m, r) {
                Some(t) if t == i => {
                    out.push(m.error("dependency-cycle", &path, format!("job `{}` depends on itself", m.name)))
                }
                Some(t) => edges[i].push((t, idx)),
                None => {
                    let mut d = m.error(
                        "unknown-dependency",
                        &path,
                        format!(
                            "`{r}` is not a Job in namespace `{}` of this repository",
                            m.namespace.as_deref().unwrap_or("")
                        ),
                    );
                    let known: Vec<&str> =
                        jobs.iter().filter(|(o, _)| o.namespace == m.namespace).map(|(o, _)| o.name.as_str()).collect();
                    if let Some(c) = crate::diag::closest(r, known.iter().copied()) {
                        d = d.with_hint(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    for cycle in find_cycles(&edges) {
        let (m, _) = jobs[cycle[0].0];
        let name = |i: usize| format!("{}/{}", jobs[i].0.namespace.as_deref().unwrap_or(""), jobs[i].0.name);
        let path: Vec<String> = cycle.iter().map(|(n, _)| name(*n)).chain(std::iter::once(name(cycle[0].0))).collect();
        let field = if jobs[cycle[0].0].1.spec.parents.is_empty() {
            format!("spec.dependencies[{}].id", cycle[0].1)
        } else {
            format!("spec.parents[{}]", cycle[0].1)
        };
        out.push(m.error("dependency-cycle", &field, format!("job dependency cycle: {}", path.join(" -> "))));
    }
}

/// Finds elementary cycles reachable by DFS, one per strongly connected back edge, each as
/// (node, edge index into that node's list) starting from its smallest node. Deterministic.
fn find_cycles(edges: &[Vec<(usize, usize)>]) -> Vec<Vec<(usize, usize)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Active,
        Done,
    }
    let mut state = vec![State::New; edges.len()];
    let mut cycles: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut stack: Vec<(usize, usize)> = Vec::new();
    fn dfs(
        n: usize,
        edges: &[Vec<(usize, usize)>],
        state: &mut [State],
        stack: &mut Vec<(usize, usize)>,
        cycles: &mut Vec<Vec<(usize, usize)>>,
    ) {
        state[n] = State::Active;
        for &(t, e) in &edges[n] {
            stack.push((n, e));
            match state[t] {
                State::New => dfs(t, edges, state, stack, cycles),
                State::Active => {
                    let start = stack.iter().position(|(s, _)| *s == t).unwrap_or(0);
                    let mut cyc: Vec<(usize, usize)> = stack[start..].to_vec();
                    let min = cyc.iter().enumerate().min_by_key(|(_, (n, _))| *n).map(|(i, _)| i).unwrap_or(0);
                    cyc.rotate_left(min);
                    if !cycles.contains(&cyc) {
                        cycles.push(cyc);
                    }
                }
                State::Done => {}
            }
            stack.pop();
        }
        state[n] = State::Done;
    }
    for n in 0..edges.len() {
        if state[n] == State::New {
            dfs(n, edges, &mut state, &mut stack, &mut cycles);
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadOptions, SourceFile, load_files};

    fn check(files: &[(&str, &str)]) -> Vec<Diagnostic> {
        let files: Vec<SourceFile> =
            files.iter().map(|(p, t)| SourceFile { path: p.to_string(), bytes: t.as_bytes().to_vec() }).collect();
        let l = load_files(&files, &LoadOptions::default());
        let mut d = l.diagnostics;
        d.extend(validate_manifests(&l.manifests));
        d
    }

    fn app(spec: &str) -> String {
        format!("apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {{name: a, namespace: n}}\nspec:\n{spec}")
    }

    fn codes(spec: &str) -> Vec<(&'static str, String)> {
        check(&[("a.yaml", &app(spec))]).into_iter().map(|d| (d.code, d.field)).collect()
    }

    #[test]
    fn a_valid_app_has_no_diagnostics() {
        assert_eq!(
            codes(
                "  cmd: python3 -m http.server $PORT0\n  instances: 2\n  healthChecks: [{protocol: HTTP, path: /}]\n"
            ),
            vec![]
        );
    }

    #[test]
    fn table_of_app_rules() {
        let cases: &[(&str, &str, &str)] = &[
            ("  cmd: x\n  args: [y]\n  container: {docker: {image: i}}\n", "cmd-and-args", "spec.args"),
            ("  instances: 1\n", "nothing-to-run", "spec"),
            ("  cmd: x\n  cpus: 0\n", "out-of-range", "spec.cpus"),
            ("  cmd: x\n  gpus: 1.5\n", "out-of-range", "spec.gpus"),
            ("  cmd: x\n  mem: -1\n", "out-of-range", "spec.mem"),
            ("  cmd: x\n  constraints: [[hostname, UNIQUE, x]]\n", "invalid-constraint", "spec.constraints[0][2]"),
            ("  cmd: x\n  constraints: [[\"@zone\", GROUP_BY]]\n", "invalid-constraint", "spec.constraints[0][1]"),
            ("  cmd: x\n  constraints: [[rack, LIKE, \"a[\"]]\n", "invalid-constraint", "spec.constraints[0][2]"),
            ("  cmd: x\n  constraints: [[rack, MAX_PER, \"0\"]]\n", "invalid-constraint", "spec.constraints[0][2]"),
            ("  cmd: x\n  constraints: [[rack, unique]]\n", "invalid-constraint", "spec.constraints[0][1]"),
            (
                "  cmd: x\n  upgradeStrategy: {minimumHealthCapacity: 1.5}\n",
                "out-of-range",
                "spec.upgradeStrategy.minimumHealthCapacity",
            ),
            (
                "  cmd: x\n  container: {volumes: [{containerPath: data, persistent: {size: 10}}]}\n  upgradeStrategy: {maximumOverCapacity: 0.5}\n",
                "resident-upgrade",
                "spec.upgradeStrategy.maximumOverCapacity",
            ),
            ("  cmd: x\n  healthChecks: [{protocol: COMMAND}]\n", "invalid-health-check", "spec.healthChecks[0]"),
            (
                "  cmd: x\n  healthChecks: [{protocol: TCP, path: /x}]\n",
                "invalid-health-check",
                "spec.healthChecks[0].path",
            ),
            (
                "  cmd: x\n  healthChecks: [{protocol: HTTP, portIndex: 3}]\n",
                "invalid-health-check",
                "spec.healthChecks[0].portIndex",
            ),
            (
                "  cmd: x\n  healthChecks: [{timeoutSeconds: 60, intervalSeconds: 30}]\n",
                "out-of-range",
                "spec.healthChecks[0].timeoutSeconds",
            ),
            (
                "  cmd: x\n  portDefinitions: [{port: 0, name: http}]\n  readinessChecks: [{portName: http, timeoutSeconds: 30, intervalSeconds: 30}]\n",
                "out-of-range",
                "spec.readinessChecks[0].timeoutSeconds",
            ),
            (
                "  cmd: x\n  portDefinitions: [{port: 0, name: http}]\n  readinessChecks: [{portName: htp}]\n",
                "unknown-port",
                "spec.readinessChecks[0].portName",
            ),
            ("  cmd: x\n  backoffFactor: 0.5\n", "out-of-range", "spec.backoffFactor"),
            (
                "  cmd: x\n  unreachableStrategy: {inactiveAfterSeconds: 600, expungeAfterSeconds: 60}\n",
                "out-of-range",
                "spec.unreachableStrategy.inactiveAfterSeconds",
            ),
            ("  cmd: x\n  unreachableStrategy: never\n", "invalid-value", "spec.unreachableStrategy"),
            ("  cmd: x\n  env: {A: {secret: nope}}\n", "unknown-secret", "spec.env.A.secret"),
            (
                "  cmd: x\n  container: {portMappings: [{containerPort: 80}]}\n",
                "ports-for-network",
                "spec.container.portMappings",
            ),
            (
                "  cmd: x\n  networks: [{mode: container/bridge}]\n  portDefinitions: [{port: 80}]\n",
                "ports-for-network",
                "spec.portDefinitions",
            ),
            (
                "  cmd: x\n  labels: {MARATHON_SINGLE_INSTANCE_APP: \"true\"}\n  instances: 2\n",
                "single-instance",
                "spec.upgradeStrategy",
            ),
            ("  cmd: x\n  resourceLimits: {cpus: 0.5}\n", "out-of-range", "spec.resourceLimits.cpus"),
            (
                "  cmd: x\n  portDefinitions: [{port: 80, labels: {VIP_0: nope}}]\n",
                "invalid-vip",
                "spec.portDefinitions[0].labels.VIP_0",
            ),
            ("  containers: [{name: a, exec: {command: {shell: x}}}]\n  cmd: y\n", "pod-and-app", "spec.cmd"),
            (
                "  containers: [{name: a, volumeMounts: [{name: v, mountPath: /v}], exec: {command: {shell: x}}}]\n",
                "unknown-volume",
                "spec.containers[0].volumeMounts[0].name",
            ),
        ];
        for (spec, code, field) in cases {
            let got = codes(spec);
            assert!(
                got.iter().any(|(c, f)| c == code && f == field),
                "spec:\n{spec}\nexpected {code} at {field}, got {got:?}"
            );
        }
    }

    #[test]
    fn resident_apps_default_to_zero_over_capacity() {
        assert_eq!(
            codes("  cmd: x\n  container: {volumes: [{containerPath: data, persistent: {size: 10}}]}\n"),
            vec![]
        );
    }

    #[test]
    fn dependencies_resolve_relative_to_the_group_and_cycles_show_the_path() {
        let a = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web, cmd: x, dependencies: [api]}\n";
        let b =
            "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/api, cmd: x, dependencies: [../shop/db]}\n";
        let c = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/db, cmd: x, dependencies: [/shop/web]}\n";
        let d = check(&[("a.yaml", a), ("b.yaml", b), ("c.yaml", c)]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "dependency-cycle");
        assert_eq!(d[0].message, "dependency cycle: /shop/web -> /shop/api -> /shop/db -> /shop/web");
        let d = check(&[("a.yaml", a)]);
        assert_eq!(d[0].code, "unknown-dependency");
        assert!(d[0].message.contains("/shop/api"));
    }

    fn job(name: &str, extra: &str) -> String {
        format!(
            "apiVersion: dromos.io/v1alpha1\nkind: Job\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  run: {{cmd: x}}\n{extra}"
        )
    }

    #[test]
    fn table_of_job_rules() {
        let cases: &[(&str, &str, &str)] = &[
            ("  schedules: [{cron: \"0 0 2 * * *\"}]\n", "invalid-cron", "spec.schedules[0].cron"),
            (
                "  schedules: [{cron: \"0 2 * * *\", timezone: Europe/Pariss}]\n",
                "invalid-time-zone",
                "spec.schedules[0].timezone",
            ),
            (
                "  schedules: [{cron: \"0 2 * * *\", startingDeadlineSeconds: 30}]\n",
                "out-of-range",
                "spec.schedules[0].startingDeadlineSeconds",
            ),
            (
                "  schedules: [{cron: \"0 2 * * *\", concurrencyPolicy: SOMETIMES}]\n",
                "invalid-value",
                "spec.schedules[0].concurrencyPolicy",
            ),
            ("  schedule: R/2026-01-01T00:00:00Z/1D\n", "invalid-schedule", "spec.schedule"),
            ("  schedule: R//PT0.5S\n", "invalid-schedule", "spec.schedule"),
            ("  schedule: R//PT1H\n  parents: [b]\n", "schedule-and-dependencies", "spec.parents"),
            ("  parents: [nope]\n", "unknown-dependency", "spec.parents[0]"),
            ("  parents: [a]\n", "dependency-cycle", "spec.parents[0]"),
            ("  schedules: [{cron: \"0 2 * * *\"}, {cron: \"0 3 * * *\"}]\n", "too-many-schedules", "spec.schedules"),
            ("  scheduleTimeZone: Nowhere/City\n  schedule: R//PT1H\n", "invalid-time-zone", "spec.scheduleTimeZone"),
        ];
        for (extra, code, field) in cases {
            let d = check(&[("a.yaml", &job("a", extra)), ("b.yaml", &job("b", ""))]);
            assert!(
                d.iter().any(|x| x.code == *code && x.field == *field),
                "{extra}: expected {code} at {field}, got {d:?}"
            );
        }
    }

    #[test]
    fn job_cycles_show_the_path() {
        let d = check(&[
            ("a.yaml", &job("a", "  parents: [b]\n")),
            ("b.yaml", &job("b", "  dependencies: [{id: ops.a}]\n")),
        ]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].message, "job dependency cycle: ops/a -> ops/b -> ops/a");
    }

    #[test]
    fn a_time_zone_typo_gets_a_hint() {
        let d = check(&[("a.yaml", &job("a", "  schedules: [{cron: \"0 2 * * *\", timezone: Europe/Pariss}]\n"))]);
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `Europe/Paris`?"));
    }
}

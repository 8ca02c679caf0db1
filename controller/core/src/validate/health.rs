//! Validation of an App's health and readiness checks (pure).

use crate::app::{port_count, port_names};
use crate::diag::Diagnostic;
use crate::load::Manifest;
use dromos_crds::app::{App, HealthProtocol};

/// `healthChecks`: protocol fields, port, timings; at most one MESOS_* check.
pub(super) fn check_health_checks(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
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
}

/// `readinessChecks`: at most one, timings, protocol, port name, status codes.
pub(super) fn check_readiness_checks(m: &Manifest, app: &App, out: &mut Vec<Diagnostic>) {
    let s = &app.spec;
    let names = port_names(app);
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
}

//! Probes of an App (pure): Marathon health checks become startup, liveness and readiness
//! probes; readiness checks replace the readiness probe; pod health checks are per container.

use super::ports::{DYNAMIC_PORT_BASE, PortInfo, port_named};
use dromos_crds::app::{AppSpec, HealthCheck, HealthProtocol, PodHealthCheck};
use k8s_openapi::api::core::v1::{ExecAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Liveness, readiness and startup probes.
pub(super) type Probes = (Option<Probe>, Option<Probe>, Option<Probe>);

/// The action of a Marathon health check, against the port it names.
fn health_probe(hc: &HealthCheck, ports: &[PortInfo]) -> Option<probe_kind::Kind> {
    let proto = hc.protocol.unwrap_or(HealthProtocol::HTTP);
    let port = || -> IntOrString {
        match hc.port {
            Some(p) => IntOrString::Int(p),
            None => {
                let idx = hc.port_index.unwrap_or(0).max(0) as usize;
                ports
                    .get(idx)
                    .map(|p| IntOrString::Int(p.container_port))
                    .unwrap_or(IntOrString::Int(DYNAMIC_PORT_BASE))
            }
        }
    };
    Some(match proto {
        HealthProtocol::HTTP | HealthProtocol::MesosHttp => probe_kind::Kind::Http(HTTPGetAction {
            path: Some(hc.path.clone().unwrap_or_else(|| "/".into())),
            port: port(),
            scheme: Some("HTTP".into()),
            ..Default::default()
        }),
        HealthProtocol::HTTPS | HealthProtocol::MesosHttps => probe_kind::Kind::Http(HTTPGetAction {
            path: Some(hc.path.clone().unwrap_or_else(|| "/".into())),
            port: port(),
            scheme: Some("HTTPS".into()),
            ..Default::default()
        }),
        HealthProtocol::TCP | HealthProtocol::MesosTcp => {
            probe_kind::Kind::Tcp(TCPSocketAction { port: port(), host: None })
        }
        HealthProtocol::COMMAND => probe_kind::Kind::Exec(ExecAction {
            command: Some(vec!["/bin/sh".into(), "-c".into(), hc.command.as_ref()?.value.clone()]),
        }),
    })
}

mod probe_kind {
    use super::*;
    pub enum Kind {
        Http(HTTPGetAction),
        Tcp(TCPSocketAction),
        Exec(ExecAction),
    }
    impl Kind {
        pub fn probe(&self) -> Probe {
            match self {
                Kind::Http(h) => Probe { http_get: Some(h.clone()), ..Default::default() },
                Kind::Tcp(t) => Probe { tcp_socket: Some(t.clone()), ..Default::default() },
                Kind::Exec(e) => Probe { exec: Some(e.clone()), ..Default::default() },
            }
        }
    }
}

/// Liveness, readiness and startup probes from Marathon health checks.
fn probes(hc: &HealthCheck, ports: &[PortInfo]) -> (Option<Probe>, Option<Probe>, Option<Probe>) {
    let Some(kind) = health_probe(hc, ports) else { return (None, None, None) };
    let interval = hc.interval_seconds.unwrap_or(60).max(1);
    let timeout = hc.timeout_seconds.unwrap_or(20).max(1);
    let grace = hc.grace_period_seconds.unwrap_or(300).max(0);
    let failures = hc.max_consecutive_failures.unwrap_or(3);
    let is_mesos =
        matches!(hc.protocol, Some(HealthProtocol::MesosHttp | HealthProtocol::MesosHttps | HealthProtocol::MesosTcp));
    let delay = if is_mesos { hc.delay_seconds.unwrap_or(15) } else { 0 };
    // The grace period ends at the first success, like Marathon's: a startup probe polling
    // every min(interval, 10)s for up to the grace period.
    let startup_period = interval.min(10);
    let startup = (grace > 0).then(|| Probe {
        period_seconds: Some(startup_period),
        timeout_seconds: Some(timeout.min(startup_period)),
        failure_threshold: Some(((grace + startup_period - 1) / startup_period).max(1)),
        initial_delay_seconds: (delay > 0).then_some(delay),
        ..kind.probe()
    });
    // maxConsecutiveFailures 0 means "never kill": no liveness probe.
    let liveness = (failures > 0).then(|| Probe {
        period_seconds: Some(interval),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failures),
        initial_delay_seconds: (delay > 0 && grace == 0).then_some(delay),
        ..kind.probe()
    });
    // Health also gates deployment steps and traffic: healthy == ready.
    let readiness = Some(Probe {
        period_seconds: Some(interval),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(1),
        ..kind.probe()
    });
    (liveness, readiness, startup)
}

/// The probes of an App in app form: its first health check, with the readiness probe
/// replaced by its readiness check when it has one. What cannot be honoured is a warning.
pub(super) fn app_probes(s: &AppSpec, ports: &[PortInfo], warnings: &mut Vec<(String, String)>) -> Probes {
    let (liveness, readiness, startup) =
        s.health_checks.first().map(|hc| probes(hc, ports)).unwrap_or((None, None, None));
    if s.health_checks.len() > 1 {
        warnings.push((
            "spec.healthChecks".into(),
            format!(
                "{} health checks: only the first becomes the liveness, readiness and startup probes",
                s.health_checks.len()
            ),
        ));
    }
    let readiness = match s.readiness_checks.first() {
        Some(rc) => {
            let port = rc.port_name.as_deref().unwrap_or("http-api");
            let p = port_named(ports, port);
            Some(Probe {
                http_get: Some(HTTPGetAction {
                    path: Some(rc.path.clone().unwrap_or_else(|| "/".into())),
                    port: IntOrString::Int(p),
                    scheme: Some(rc.protocol.clone().unwrap_or_else(|| "HTTP".into())),
                    ..Default::default()
                }),
                period_seconds: Some(rc.interval_seconds.unwrap_or(30)),
                timeout_seconds: Some(rc.timeout_seconds.unwrap_or(10)),
                failure_threshold: Some(1),
                ..Default::default()
            })
        }
        None => readiness,
    };
    if let Some(codes) = s.readiness_checks.first().and_then(|r| r.http_status_codes_for_ready.as_ref())
        && codes.iter().any(|c| !(200..400).contains(c))
    {
        warnings.push((
            "spec.readinessChecks[0].httpStatusCodesForReady".into(),
            "Kubernetes probes treat 200-399 as ready; other codes cannot be honoured".into(),
        ));
    }
    (liveness, readiness, startup)
}

/// The probe of a pod container's health check (before liveness or readiness thresholds).
pub(super) fn pod_probe(hc: &PodHealthCheck, ports: &[PortInfo]) -> Probe {
    let kind = if let Some(h) = &hc.http {
        Probe {
            http_get: Some(HTTPGetAction {
                path: Some(h.path.clone().unwrap_or_else(|| "/".into())),
                port: IntOrString::Int(port_named(ports, &h.endpoint)),
                scheme: Some(h.scheme.clone().unwrap_or_else(|| "HTTP".into())),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else if let Some(t) = &hc.tcp {
        Probe {
            tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(port_named(ports, &t.endpoint)), host: None }),
            ..Default::default()
        }
    } else {
        let cmd = hc.exec.as_ref().map(|e| &e.command);
        let command =
            cmd.and_then(|c| c.shell.clone().map(|s| vec!["/bin/sh".into(), "-c".into(), s]).or(c.argv.clone()));
        Probe { exec: Some(ExecAction { command }), ..Default::default() }
    };
    Probe {
        period_seconds: Some(hc.interval_seconds.unwrap_or(60)),
        timeout_seconds: Some(hc.timeout_seconds.unwrap_or(20)),
        failure_threshold: Some(hc.max_consecutive_failures.unwrap_or(3).max(1)),
        initial_delay_seconds: Some(
            hc.grace_period_seconds.unwrap_or(300).min(hc.delay_seconds.unwrap_or(15).max(0)).max(0),
        ),
        ..kind
    }
}

//! Translation of Apps and Jobs into native Kubernetes objects (pure).
//!
//! One function renders an App ([`render_app`]) and one a Job ([`render_job`]), whether for
//! `dromos render`, `dromos plan` or the operators. Defaults are Marathon's and Metronome's;
//! every mapping is listed in ARCHITECTURE.md ("Translation").

use crate::constraints::{self, parse_constraint};
use crate::load::Manifest;
use crate::validate::{app_id, is_host_networking, is_resident, port_names};
use dromos_crds::EnvValue;
use dromos_crds::app::{
    App, AppVolume, HealthCheck, HealthProtocol, KillSelection, PlacementMode, ResourceLimit, UnreachableStrategy,
};
use dromos_crds::common::{FetchUri, SecretSource};
use dromos_crds::job::Job;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{Job as K8sJob, JobSpec as K8sJobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction,
    HostPathVolumeSource, KeyToPath, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplate, PodTemplateSpec, Probe, ResourceRequirements,
    SecretKeySelector, SecretVolumeSource, SecurityContext, Service, ServicePort, ServiceSpec, TCPSocketAction,
    Toleration, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Label every generated object carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "dromos");
/// Selector label of an App's pods.
pub const APP_LABEL: &str = "dromos.io/app";
/// Label naming the Job that owns a run template or run.
pub const JOB_LABEL: &str = "dromos.io/job";
/// Labels naming the kind of the owning Dromos object.
pub const OWNER_KIND_LABEL: &str = "dromos.io/owner-kind";
/// Annotation holding the Marathon id.
pub const ID_ANNOTATION: &str = "dromos.io/id";
/// Annotation holding the rendered spec's version hash.
pub const VERSION_ANNOTATION: &str = "dromos.io/version";
/// Annotation on an App asking for its instances to be replaced (`dromos app restart`), copied
/// to the pod template so a change of value rolls the instances like a spec change.
pub const RESTART_ANNOTATION: &str = "dromos.io/restart";
/// Label/taint key marking nodes reserved for a Mesos role.
pub const ROLE_KEY: &str = "dromos.io/role";
/// `spec.schedulerName` of pods placed by the Dromos scheduler (Apps in exact placement mode).
pub const SCHEDULER_NAME: &str = "dromos";
/// Where Marathon tasks find their sandbox.
pub const SANDBOX: &str = "/mnt/mesos/sandbox";

/// Settings of the translation that are not in the manifests.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Image for Apps and Jobs that give only `cmd` (Marathon ran those on the agent host).
    pub default_image: String,
    /// Image of the init container that downloads `fetch` URIs (needs sh, curl, tar, unzip).
    pub fetch_image: String,
    /// Package repositories that Package objects are expanded from.
    pub packages: crate::package::Repositories,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            default_image: "docker.io/library/debian:bookworm-slim".into(),
            fetch_image: "docker.io/curlimages/curl:8.11.1".into(),
            packages: Default::default(),
        }
    }
}

/// Objects rendered from one Dromos object, and what could not be expressed exactly.
#[derive(Clone, Debug, Default)]
pub struct Expansion {
    /// Native objects as JSON with apiVersion and kind.
    pub objects: Vec<Value>,
    /// (field path, message) for approximations.
    pub warnings: Vec<(String, String)>,
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("k8s-openapi types serialize")
}

/// Formats CPUs as a Kubernetes quantity: `0.25` -> `250m`, `2` -> `2`.
pub fn cpu_quantity(cpus: f64) -> Quantity {
    let milli = (cpus * 1000.0).round() as i64;
    if milli % 1000 == 0 { Quantity(format!("{}", milli / 1000)) } else { Quantity(format!("{milli}m")) }
}

/// Formats MiB as a Kubernetes quantity: `128` -> `128Mi`, `0.5` -> `512Ki`.
pub fn mib_quantity(mib: f64) -> Quantity {
    if mib.fract() == 0.0 {
        Quantity(format!("{}Mi", mib as i64))
    } else {
        Quantity(format!("{}Ki", (mib * 1024.0).round() as i64))
    }
}

/// The version of an App spec: a hash of everything but `instances`, so scaling keeps the
/// version (as Marathon's `lastConfigChangeAt` did) and does not replace running instances.
pub fn app_version(spec: &Value) -> String {
    let mut spec = spec.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("instances");
    }
    version_of(&spec)
}

/// A short content hash of a spec: changes whenever the spec changes.
pub fn version_of(spec: &Value) -> String {
    let digest = Sha256::digest(serde_json::to_vec(spec).unwrap_or_default());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn base_labels(owner_kind: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
        (OWNER_KIND_LABEL.to_string(), owner_kind.to_string()),
    ])
}

fn is_label_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(|p| crate::ids::check_dns_subdomain(p).is_ok())
        && !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !k.starts_with("kubernetes.io/")
        && !k.starts_with("dromos.io/")
        && !k.starts_with("app.kubernetes.io/")
}

/// User labels that are valid Kubernetes labels (others stay in `MARATHON_APP_LABELS`).
fn user_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, v)| is_label_key(k) && constraints::label_value_ok(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn env_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

fn secret_ref(name: &str, secrets: &BTreeMap<String, SecretSource>) -> (String, String) {
    let source = secrets.get(name).map(|s| s.source.as_str()).unwrap_or(name);
    let source = source.trim_start_matches('/');
    // `a/b/c` (DC/OS path) -> Secret `a-b`, key `c` when it has 3+ segments; `name/key` -> name, key.
    let parts: Vec<&str> = source.split('/').collect();
    match parts.as_slice() {
        [one] => (one.replace('.', "-"), "value".into()),
        [name, key] => (name.to_string(), key.to_string()),
        many => {
            let (key, rest) = many.split_last().expect("non-empty");
            (rest.join("-"), key.to_string())
        }
    }
}

fn env_vars(env: &BTreeMap<String, EnvValue>, secrets: &BTreeMap<String, SecretSource>) -> Vec<EnvVar> {
    env.iter()
        .map(|(k, v)| match v {
            EnvValue::Value(s) => EnvVar { name: k.clone(), value: Some(s.clone()), value_from: None },
            EnvValue::Secret { secret } => {
                let (name, key) = secret_ref(secret, secrets);
                EnvVar {
                    name: k.clone(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector { name, key, optional: None }),
                        ..Default::default()
                    }),
                }
            }
        })
        .collect()
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.into(), api_version: None }),
            ..Default::default()
        }),
    }
}

fn plain_env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), value_from: None }
}

/// Merges injected and user variables; user variables win, order is stable.
fn merge_env(injected: Vec<EnvVar>, user: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = injected.into_iter().filter(|e| !user.iter().any(|u| u.name == e.name)).collect();
    out.extend(user);
    out
}

fn resources(
    cpus: f64,
    mem: f64,
    disk: f64,
    gpus: f64,
    limits: Option<&dromos_crds::app::ResourceLimits>,
) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    let mut lim = BTreeMap::new();
    requests.insert("cpu".to_string(), cpu_quantity(cpus));
    requests.insert("memory".to_string(), mib_quantity(mem));
    if disk > 0.0 {
        requests.insert("ephemeral-storage".to_string(), mib_quantity(disk));
    }
    // DC/OS enforces cpus with CFS quota and mem as a hard limit; resourceLimits raise them.
    match limits.and_then(|l| l.cpus.as_ref()) {
        Some(ResourceLimit::Value(v)) => {
            lim.insert("cpu".to_string(), cpu_quantity(*v));
        }
        Some(ResourceLimit::Word(_)) => {}
        None => {
            lim.insert("cpu".to_string(), cpu_quantity(cpus));
        }
    }
    match limits.and_then(|l| l.mem.as_ref()) {
        Some(ResourceLimit::Value(v)) => {
            lim.insert("memory".to_string(), mib_quantity(*v));
        }
        Some(ResourceLimit::Word(_)) => {}
        None => {
            lim.insert("memory".to_string(), mib_quantity(mem));
        }
    }
    if gpus > 0.0 {
        let q = Quantity(format!("{}", gpus as i64));
        requests.insert("nvidia.com/gpu".to_string(), q.clone());
        lim.insert("nvidia.com/gpu".to_string(), q);
    }
    ResourceRequirements { requests: Some(requests), limits: Some(lim), ..Default::default() }
}

/// Init container and volume mount that download fetch URIs into the sandbox.
fn fetch_container(fetch: &[FetchUri], image: &str) -> Option<Container> {
    if fetch.is_empty() {
        return None;
    }
    let mut script = String::from("set -e\ncd ");
    script.push_str(SANDBOX);
    script.push('\n');
    for f in fetch {
        let dest = f.dest_path.clone().unwrap_or_else(|| {
            f.uri.rsplit('/').next().unwrap_or("download").split('?').next().unwrap_or("download").to_string()
        });
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        script.push_str(&format!("curl -fsSL -o {} {}\n", q(&dest), q(&f.uri)));
        let lower = dest.to_ascii_lowercase();
        if f.extract.unwrap_or(true) {
            if lower.ends_with(".tar.gz")
                || lower.ends_with(".tgz")
                || lower.ends_with(".tar")
                || lower.ends_with(".tar.bz2")
                || lower.ends_with(".tar.xz")
                || lower.ends_with(".txz")
            {
                script.push_str(&format!("tar -xf {}\n", q(&dest)));
            } else if lower.ends_with(".zip") {
                script.push_str(&format!("unzip -o -q {}\n", q(&dest)));
            } else if lower.ends_with(".gz") {
                script.push_str(&format!("gunzip -f {}\n", q(&dest)));
            }
        }
        if f.executable.unwrap_or(false) {
            script.push_str(&format!("chmod +x {}\n", q(&dest)));
        }
    }
    Some(Container {
        name: "fetch".into(),
        image: Some(image.to_string()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), script]),
        volume_mounts: Some(vec![sandbox_mount()]),
        ..Default::default()
    })
}

fn sandbox_mount() -> VolumeMount {
    VolumeMount { name: "sandbox".into(), mount_path: SANDBOX.into(), ..Default::default() }
}

fn sandbox_volume() -> Volume {
    Volume { name: "sandbox".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }
}

/// A resolved port of an App.
#[derive(Clone, Debug)]
struct PortInfo {
    name: Option<String>,
    container_port: i32,
    host_port: Option<i32>,
    protocol: String,
    vip: Option<(String, i32)>,
}

/// First port assigned to Marathon "port 0" (pick one) ports, which Kubernetes cannot pick.
pub const DYNAMIC_PORT_BASE: i32 = 10000;

fn parse_vip(labels: &BTreeMap<String, String>) -> Option<(String, i32)> {
    labels.iter().find(|(k, _)| k.starts_with("VIP_")).and_then(|(_, v)| {
        let (name, port) = v.rsplit_once(':')?;
        let name = name.trim_start_matches('/').replace(['/', '.', '_'], "-").to_ascii_lowercase();
        Some((name, port.parse().ok()?))
    })
}

/// The claim template of a persistent volume (size in MiB).
fn volume_claim(name: &str, pv: &dromos_crds::app::PersistentVolume) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: pv.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), mib_quantity(pv.size))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_ports(ports: &[PortInfo]) -> Option<Vec<ContainerPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|p| ContainerPort {
                name: p.name.clone(),
                container_port: p.container_port,
                host_port: p.host_port,
                protocol: Some(p.protocol.clone()),
                host_ip: None,
            })
            .collect()
    })
}

fn protocol_of(p: Option<&str>) -> String {
    match p {
        Some(p) if p.starts_with("udp") && !p.contains("tcp") => "UDP".into(),
        _ => "TCP".into(),
    }
}

fn app_ports(app: &App) -> Vec<PortInfo> {
    let s = &app.spec;
    let names = port_names(app);
    let dynamic = |i: usize| DYNAMIC_PORT_BASE + i as i32;
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        return pm
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let host = p.host_port.filter(|h| *h > 0);
                let cp = p.container_port.filter(|c| *c > 0).or(host).unwrap_or(dynamic(i));
                PortInfo {
                    name: names[i].clone(),
                    container_port: cp,
                    host_port: host,
                    protocol: protocol_of(p.protocol.as_deref()),
                    vip: parse_vip(&p.labels),
                }
            })
            .collect();
    }
    if !is_host_networking(app) {
        return vec![];
    }
    let require = s.require_ports.unwrap_or(false);
    if let Some(pd) = &s.port_definitions {
        return pd
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let port = p.port.filter(|p| *p > 0).unwrap_or(dynamic(i));
                PortInfo {
                    name: names[i].clone(),
                    container_port: port,
                    host_port: require.then_some(port),
                    protocol: protocol_of(p.protocol.as_deref()),
                    vip: parse_vip(&p.labels),
                }
            })
            .collect();
    }
    let ports: Vec<i32> = s.ports.clone().unwrap_or_else(|| vec![0]);
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let port = if *p > 0 { *p } else { dynamic(i) };
            PortInfo {
                name: names.get(i).cloned().flatten(),
                container_port: port,
                host_port: require.then_some(port),
                protocol: "TCP".into(),
                vip: None,
            }
        })
        .collect()
}

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

fn app_volumes(
    app: &App,
    secrets: &BTreeMap<String, SecretSource>,
) -> (Vec<Volume>, Vec<VolumeMount>, Vec<PersistentVolumeClaim>) {
    let mut volumes = vec![];
    let mut mounts = vec![];
    let mut claims = vec![];
    let vols: &[AppVolume] = app.spec.container.as_ref().map(|c| c.volumes.as_slice()).unwrap_or(&[]);
    for (i, v) in vols.iter().enumerate() {
        let name = format!("vol-{i}");
        let path = if v.container_path.starts_with('/') {
            v.container_path.clone()
        } else {
            format!("{SANDBOX}/{}", v.container_path)
        };
        let read_only = v.mode.as_deref() == Some("RO");
        if let Some(pv) = &v.persistent {
            let name = format!("data-{i}");
            claims.push(volume_claim(&name, pv));
            mounts.push(VolumeMount {
                name,
                mount_path: path,
                read_only: read_only.then_some(true),
                ..Default::default()
            });
            continue;
        }
        let volume = if let Some(hp) = &v.host_path {
            Volume {
                name: name.clone(),
                host_path: Some(HostPathVolumeSource { path: hp.clone(), type_: None }),
                ..Default::default()
            }
        } else if let Some(ext) = &v.external {
            Volume {
                name: name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: ext.name.clone(),
                    read_only: read_only.then_some(true),
                }),
                ..Default::default()
            }
        } else if let Some(sec) = &v.secret {
            let (secret_name, key) = secret_ref(sec, secrets);
            let file = path.rsplit('/').next().unwrap_or("secret").to_string();
            let dir = path
                .rsplit_once('/')
                .map(|(d, _)| d.to_string())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "/".into());
            mounts.push(VolumeMount {
                name: name.clone(),
                mount_path: format!("{dir}/{file}"),
                sub_path: Some(file.clone()),
                read_only: Some(true),
                ..Default::default()
            });
            volumes.push(Volume {
                name,
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret_name),
                    items: Some(vec![KeyToPath { key, path: file, mode: None }]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            continue;
        } else {
            continue;
        };
        volumes.push(volume);
        mounts.push(VolumeMount { name, mount_path: path, read_only: read_only.then_some(true), ..Default::default() });
    }
    (volumes, mounts, claims)
}

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
    let tolerations = reserved
        .iter()
        .map(|r| Toleration {
            key: Some(ROLE_KEY.into()),
            operator: Some("Equal".into()),
            value: Some(r.clone()),
            effect: Some("NoSchedule".into()),
            toleration_seconds: None,
        })
        .collect();
    // Without `*`, only nodes reserved for an accepted role qualify.
    let only = (!accepted.iter().any(|r| r == "*")).then_some(reserved);
    (tolerations, only)
}

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

fn image_pull_policy(force: Option<bool>) -> String {
    if force.unwrap_or(false) { "Always".into() } else { "IfNotPresent".into() }
}

/// Renders an App into its native objects.
pub fn render_app(m: &Manifest, app: &App, opts: &RenderOptions) -> Expansion {
    let mut exp = Expansion::default();
    let s = &app.spec;
    let name = m.name.clone();
    let ns = m.namespace.clone();
    let id = app_id(m, app);
    let instances = s.instances.unwrap_or(1);
    let cpus = s.cpus.unwrap_or(1.0);
    let mem = s.mem.unwrap_or(128.0);
    let disk = s.disk.unwrap_or(0.0);
    let gpus = s.gpus.unwrap_or(0.0);
    let version = app_version(&m.value["spec"]);
    let selector = BTreeMap::from([(APP_LABEL.to_string(), name.clone())]);
    let mut labels = base_labels("App");
    labels.insert("app.kubernetes.io/name".into(), name.clone());
    labels.insert(APP_LABEL.into(), name.clone());
    let mut pod_labels = user_labels(&s.labels);
    pod_labels.extend(labels.clone());
    let annotations =
        BTreeMap::from([(ID_ANNOTATION.to_string(), id.clone()), (VERSION_ANNOTATION.to_string(), version.clone())]);
    let meta = |n: &str| ObjectMeta {
        name: Some(n.to_string()),
        namespace: ns.clone(),
        labels: Some(labels.clone()),
        annotations: Some(BTreeMap::from([(ID_ANNOTATION.to_string(), id.clone())])),
        ..Default::default()
    };

    let ports = app_ports(app);
    let resident = is_resident(app);
    let image = s.container.as_ref().and_then(|c| c.docker.as_ref()).map(|d| d.image.clone());

    // Marathon's injected environment.
    let mut injected = vec![];
    for (i, p) in ports.iter().enumerate() {
        injected.push(plain_env(&format!("PORT{i}"), p.container_port.to_string()));
        if let Some(n) = &p.name {
            injected.push(plain_env(&format!("PORT_{}", env_name(n)), p.container_port.to_string()));
        }
    }
    if let Some(p) = ports.first() {
        injected.push(plain_env("PORT", p.container_port.to_string()));
    }
    if !ports.is_empty() {
        injected
            .push(plain_env("PORTS", ports.iter().map(|p| p.container_port.to_string()).collect::<Vec<_>>().join(",")));
    }
    injected.push(field_env("HOST", "spec.nodeName"));
    injected.push(field_env("MESOS_TASK_ID", "metadata.name"));
    injected.push(plain_env("MESOS_SANDBOX", SANDBOX));
    injected.push(plain_env("MARATHON_APP_ID", id.clone()));
    injected.push(plain_env("MARATHON_APP_VERSION", version.clone()));
    if let Some(img) = &image {
        injected.push(plain_env("MARATHON_APP_DOCKER_IMAGE", img.clone()));
    }
    injected.push(plain_env("MARATHON_APP_RESOURCE_CPUS", format!("{cpus}")));
    injected.push(plain_env("MARATHON_APP_RESOURCE_MEM", format!("{mem}")));
    injected.push(plain_env("MARATHON_APP_RESOURCE_DISK", format!("{disk}")));
    injected.push(plain_env("MARATHON_APP_RESOURCE_GPUS", format!("{}", gpus as i64)));
    let env_labels: Vec<(&String, &String)> = s
        .labels
        .iter()
        .filter(|(k, v)| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && v.len() < 512)
        .collect();
    injected.push(plain_env(
        "MARATHON_APP_LABELS",
        env_labels.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(" "),
    ));
    for (k, v) in &env_labels {
        injected.push(plain_env(&format!("MARATHON_APP_LABEL_{}", env_name(k)), (*v).clone()));
    }

    let mut volumes = vec![sandbox_volume()];
    let mut init = vec![];
    let mut containers = vec![];
    let mut claims = vec![];
    let mut fetch = s.fetch.clone();
    fetch.extend(s.uris.iter().map(|u| FetchUri {
        uri: u.clone(),
        extract: None,
        executable: None,
        cache: None,
        dest_path: None,
    }));
    if let Some(c) = fetch_container(&fetch, &opts.fetch_image) {
        init.push(c);
    }

    if s.containers.is_empty() {
        let (vols, mounts, pvcs) = app_volumes(app, &s.secrets);
        volumes.extend(vols);
        claims = pvcs;
        let mut container_mounts = vec![sandbox_mount()];
        container_mounts.extend(mounts);
        let docker = s.container.as_ref().and_then(|c| c.docker.as_ref());
        let (command, args, working_dir) = match (&s.cmd, &s.args) {
            (Some(cmd), _) => (
                Some(vec!["/bin/sh".to_string(), "-c".to_string(), cmd.clone()]),
                None,
                image.is_none().then(|| SANDBOX.to_string()),
            ),
            (None, Some(a)) => (None, Some(a.clone()), None),
            (None, None) => (None, None, None),
        };
        let (liveness, readiness, startup) =
            s.health_checks.first().map(|hc| probes(hc, &ports)).unwrap_or((None, None, None));
        if s.health_checks.len() > 1 {
            exp.warnings.push((
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
                let p = ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(port))
                    .map(|p| p.container_port)
                    .unwrap_or(DYNAMIC_PORT_BASE);
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
            exp.warnings.push((
                "spec.readinessChecks[0].httpStatusCodesForReady".into(),
                "Kubernetes probes treat 200-399 as ready; other codes cannot be honoured".into(),
            ));
        }
        let user_env = env_vars(&s.env, &s.secrets);
        let security_context = {
            let privileged = docker.and_then(|d| d.privileged).filter(|p| *p);
            let uid = s.user.as_deref().and_then(|u| u.parse::<i64>().ok());
            if s.user.as_deref().is_some_and(|u| u.parse::<i64>().is_err()) {
                exp.warnings.push((
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
        };
        if docker.is_some_and(|d| !d.parameters.is_empty()) {
            exp.warnings.push((
                "spec.container.docker.parameters".into(),
                "docker parameters have no Kubernetes equivalent and are ignored".into(),
            ));
        }
        containers.push(Container {
            name: "main".into(),
            image: Some(image.clone().unwrap_or_else(|| opts.default_image.clone())),
            image_pull_policy: Some(image_pull_policy(docker.and_then(|d| d.force_pull_image))),
            command,
            args,
            working_dir,
            env: Some(merge_env(injected.clone(), user_env)),
            ports: container_ports(&ports),
            resources: Some(resources(cpus, mem, disk, gpus, s.resource_limits.as_ref())),
            liveness_probe: liveness,
            readiness_probe: readiness,
            startup_probe: startup,
            volume_mounts: Some(container_mounts),
            security_context,
            ..Default::default()
        });
    } else {
        // Pod form: one Kubernetes container per Marathon pod container.
        for v in &s.volumes {
            if let Some(pv) = &v.persistent {
                claims.push(volume_claim(&v.name, pv));
            } else if let Some(h) = &v.host {
                volumes.push(Volume {
                    name: v.name.clone(),
                    host_path: Some(HostPathVolumeSource { path: h.clone(), type_: None }),
                    ..Default::default()
                });
            } else if let Some(sec) = &v.secret {
                let (secret_name, _) = secret_ref(sec, &s.secrets);
                volumes.push(Volume {
                    name: v.name.clone(),
                    secret: Some(SecretVolumeSource { secret_name: Some(secret_name), ..Default::default() }),
                    ..Default::default()
                });
            } else {
                volumes.push(Volume {
                    name: v.name.clone(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Default::default()
                });
            }
        }
        let mut port_index = 0usize;
        for c in &s.containers {
            let r = c.resources.clone().unwrap_or_default();
            let cports: Vec<PortInfo> = c
                .endpoints
                .iter()
                .map(|e| {
                    let cp = e
                        .container_port
                        .filter(|p| *p > 0)
                        .or(e.host_port.filter(|p| *p > 0))
                        .unwrap_or(DYNAMIC_PORT_BASE + port_index as i32);
                    port_index += 1;
                    PortInfo {
                        name: Some(e.name.clone()),
                        container_port: cp,
                        host_port: e.host_port.filter(|p| *p > 0),
                        protocol: protocol_of(e.protocol.first().map(String::as_str)),
                        vip: parse_vip(&e.labels),
                    }
                })
                .collect();
            let mut env = injected.clone();
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
            let probe = c.health_check.as_ref().map(|hc| {
                let kind = if let Some(h) = &hc.http {
                    let p = cports
                        .iter()
                        .find(|p| p.name.as_deref() == Some(h.endpoint.as_str()))
                        .map(|p| p.container_port)
                        .unwrap_or(DYNAMIC_PORT_BASE);
                    Probe {
                        http_get: Some(HTTPGetAction {
                            path: Some(h.path.clone().unwrap_or_else(|| "/".into())),
                            port: IntOrString::Int(p),
                            scheme: Some(h.scheme.clone().unwrap_or_else(|| "HTTP".into())),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }
                } else if let Some(t) = &hc.tcp {
                    let p = cports
                        .iter()
                        .find(|p| p.name.as_deref() == Some(t.endpoint.as_str()))
                        .map(|p| p.container_port)
                        .unwrap_or(DYNAMIC_PORT_BASE);
                    Probe {
                        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(p), host: None }),
                        ..Default::default()
                    }
                } else {
                    let cmd = hc.exec.as_ref().map(|e| &e.command);
                    let command = cmd.and_then(|c| {
                        c.shell.clone().map(|s| vec!["/bin/sh".into(), "-c".into(), s]).or(c.argv.clone())
                    });
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
            });
            containers.push(Container {
                name: c.name.clone(),
                image: Some(c.image.as_ref().map(|i| i.id.clone()).unwrap_or_else(|| opts.default_image.clone())),
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
            if let Some(fc) = fetch_container(&c.artifacts, &opts.fetch_image) {
                init.push(Container { name: format!("fetch-{}", c.name), ..fc });
            }
        }
    }

    // Placement: constraints, roles, unreachable strategy.
    // Exact mode (the default): the Dromos scheduler places the pods against offers with every
    // constraint and role rule; the template keeps tolerations only. Native mode: kube-scheduler
    // with the compiled affinity and topology spread.
    let exact = s.placement_mode.unwrap_or_default() == PlacementMode::Exact;
    let parsed: Vec<_> = s.constraints.iter().filter_map(|c| parse_constraint(c).ok()).collect();
    let mut native =
        if exact { constraints::NativePlacement::default() } else { constraints::render_native(&parsed, &selector) };
    for (i, w) in native.warnings.drain(..) {
        let idx = s
            .constraints
            .iter()
            .position(|c| parse_constraint(c).is_ok_and(|p| p.display() == parsed[i].display()))
            .unwrap_or(i);
        exp.warnings.push((format!("spec.constraints[{idx}]"), w));
    }
    let (mut tolerations, only_roles) = role_scheduling(s.role.as_deref(), &s.accepted_resource_roles);
    if let Some(roles) = only_roles.filter(|_| !exact) {
        native.node_requirements.push(k8s_openapi::api::core::v1::NodeSelectorRequirement {
            key: ROLE_KEY.into(),
            operator: "In".into(),
            values: Some(roles),
        });
    }
    tolerations.extend(unreachable_tolerations(s.unreachable_strategy.as_ref()));

    let mut template_annotations = annotations.clone();
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
        termination_grace_period_seconds: s.task_kill_grace_period_seconds.map(|g| g.ceil() as i64),
        enable_service_links: Some(false),
        ..Default::default()
    };
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(template_annotations),
            ..Default::default()
        }),
        spec: Some(pod_spec),
    };

    // Upgrade strategy, with Marathon's defaults (resident apps: 0.5 / 0).
    let us = s.upgrade_strategy.clone().unwrap_or_default();
    let (mhc_default, moc_default) = if resident { (0.5, 0.0) } else { (1.0, 1.0) };
    let mhc = us.minimum_health_capacity.unwrap_or(mhc_default);
    let moc = us.maximum_over_capacity.unwrap_or(moc_default);
    let min_healthy = (instances as f64 * mhc).ceil() as i32;
    let max_unavailable = (instances - min_healthy).max(0);
    let max_surge = (instances as f64 * moc).floor() as i32;

    if resident {
        let sts = StatefulSet {
            metadata: ObjectMeta { annotations: Some(annotations.clone()), ..meta(&name) },
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
            metadata: ObjectMeta { annotations: Some(annotations.clone()), ..meta(&name) },
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

    // Services: one for the app's named ports (headless for resident apps), one per VIP name.
    let all_ports: Vec<PortInfo> = if s.containers.is_empty() {
        ports.clone()
    } else {
        let mut n = 0usize;
        s.containers
            .iter()
            .flat_map(|c| c.endpoints.iter())
            .map(|e| {
                let cp = e
                    .container_port
                    .filter(|p| *p > 0)
                    .or(e.host_port.filter(|p| *p > 0))
                    .unwrap_or(DYNAMIC_PORT_BASE + n as i32);
                n += 1;
                PortInfo {
                    name: Some(e.name.clone()),
                    container_port: cp,
                    host_port: None,
                    protocol: protocol_of(e.protocol.first().map(String::as_str)),
                    vip: parse_vip(&e.labels),
                }
            })
            .collect()
    };
    let service_ports: Vec<ServicePort> = all_ports
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.is_some() || p.vip.is_some())
        .map(|(i, p)| ServicePort {
            name: Some(p.name.clone().unwrap_or_else(|| format!("port{i}"))),
            port: p.vip.as_ref().map(|v| v.1).unwrap_or(p.container_port),
            target_port: Some(IntOrString::Int(p.container_port)),
            protocol: Some(p.protocol.clone()),
            ..Default::default()
        })
        .collect();
    let dns1035 = name.starts_with(|c: char| c.is_ascii_lowercase());
    if (!service_ports.is_empty() || resident) && dns1035 {
        let svc = Service {
            metadata: meta(&name),
            spec: Some(ServiceSpec {
                selector: Some(selector.clone()),
                ports: Some(if service_ports.is_empty() {
                    vec![ServicePort { name: Some("none".into()), port: 1, ..Default::default() }]
                } else {
                    service_ports.clone()
                }),
                cluster_ip: resident.then(|| "None".to_string()),
                publish_not_ready_addresses: None,
                ..Default::default()
            }),
            ..Default::default()
        };
        exp.objects.push(to_value(&svc));
    } else if !service_ports.is_empty() {
        exp.warnings.push((
            "metadata.name".into(),
            format!(
                "`{name}` starts with a digit, which a Service name may not; no Service is created (rename the app)"
            ),
        ));
    }
    let mut vips: BTreeMap<String, Vec<ServicePort>> = BTreeMap::new();
    for (i, p) in all_ports.iter().enumerate() {
        if let Some((vname, vport)) = &p.vip
            && *vname != name
        {
            vips.entry(vname.clone()).or_default().push(ServicePort {
                name: Some(p.name.clone().unwrap_or_else(|| format!("port{i}"))),
                port: *vport,
                target_port: Some(IntOrString::Int(p.container_port)),
                protocol: Some(p.protocol.clone()),
                ..Default::default()
            });
        }
    }
    for (vname, ports) in vips {
        if crate::ids::check_dns_label(&vname).is_ok() && vname.starts_with(|c: char| c.is_ascii_lowercase()) {
            let svc = Service {
                metadata: meta(&vname),
                spec: Some(ServiceSpec { selector: Some(selector.clone()), ports: Some(ports), ..Default::default() }),
                ..Default::default()
            };
            exp.objects.push(to_value(&svc));
        } else {
            exp.warnings.push((
                "spec".into(),
                format!("VIP name `{vname}` is not a valid Service name; no Service is created for it"),
            ));
        }
    }

    // Disruption budget from minimumHealthCapacity.
    if min_healthy > 0 && instances > 0 {
        let pdb = PodDisruptionBudget {
            metadata: meta(&name),
            spec: Some(PodDisruptionBudgetSpec {
                min_available: Some(IntOrString::Int(min_healthy)),
                selector: Some(LabelSelector { match_labels: Some(selector), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        exp.objects.push(to_value(&pdb));
    }
    exp
}

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
    let (command, args, working_dir) = match (&r.cmd, &r.args) {
        (Some(cmd), _) => (
            Some(vec!["/bin/sh".to_string(), "-c".to_string(), cmd.clone()]),
            None,
            image.is_none().then(|| SANDBOX.to_string()),
        ),
        (None, Some(a)) => (None, Some(a.clone()), None),
        _ => (None, None, None),
    };
    let mut volumes = vec![sandbox_volume()];
    let mut mounts = vec![sandbox_mount()];
    for (i, v) in r.volumes.iter().enumerate() {
        let name = format!("vol-{i}");
        let path = if v.container_path.starts_with('/') {
            v.container_path.clone()
        } else {
            format!("{SANDBOX}/{}", v.container_path)
        };
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
    let mut labels = base_labels("Job");
    labels.insert(JOB_LABEL.into(), name.to_string());
    labels.extend(user_labels(&job.spec.labels));
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
    let native = constraints::NativePlacement { node_requirements: reqs, ..Default::default() };
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
                security_context: r
                    .docker
                    .as_ref()
                    .and_then(|d| d.privileged)
                    .filter(|p| *p)
                    .map(|p| SecurityContext { privileged: Some(p), ..Default::default() }),
                ..Default::default()
            }],
            init_containers: fetch_container(&r.artifacts, &opts.fetch_image).map(|c| vec![c]),
            volumes: Some(volumes),
            affinity: native.affinity(),
            termination_grace_period_seconds: r.task_kill_grace_period_seconds.map(|g| g.ceil() as i64),
            enable_service_links: Some(false),
            ..Default::default()
        }),
    }
}

/// Renders a Job: its run template, a PodTemplate named `<job>-run` showing the pod of each
/// run. The Dromos job controller creates every run itself, as a batch/v1 Job made by
/// [`render_run`] from the same template (ARCHITECTURE.md, "Job controller").
pub fn render_job(m: &Manifest, job: &Job, opts: &RenderOptions) -> Expansion {
    let mut exp = Expansion::default();
    let template = job_pod_template(m.namespace.as_deref(), &m.name, job, opts);
    let mut labels = base_labels("Job");
    labels.insert(JOB_LABEL.into(), m.name.clone());
    let constraints = job.spec.run.placement.as_ref().map(|p| p.constraints.as_slice()).unwrap_or(&[]);
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

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(0.25).0, "250m");
        assert_eq!(cpu_quantity(2.0).0, "2");
        assert_eq!(cpu_quantity(0.001).0, "1m");
        assert_eq!(mib_quantity(128.0).0, "128Mi");
        assert_eq!(mib_quantity(0.5).0, "512Ki");
    }

    #[test]
    fn dcos_secret_paths_become_secret_and_key() {
        let secrets = BTreeMap::from([
            ("db".to_string(), SecretSource { source: "/shop/db/password".into() }),
            ("tok".to_string(), SecretSource { source: "api-token".into() }),
            ("pair".to_string(), SecretSource { source: "creds/user".into() }),
        ]);
        assert_eq!(secret_ref("db", &secrets), ("shop-db".into(), "password".into()));
        assert_eq!(secret_ref("tok", &secrets), ("api-token".into(), "value".into()));
        assert_eq!(secret_ref("pair", &secrets), ("creds".into(), "user".into()));
    }

    fn render_spec(spec: serde_json::Value) -> Expansion {
        let obj = serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "App",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": spec
        });
        let tree = crate::check_live("App shop/web", &obj, &crate::LoadOptions::default());
        assert!(tree.is_valid(), "{:?}", tree.diagnostics);
        let m = &tree.manifests[0];
        let crate::Typed::App(app) = &m.typed else { panic!("not an App") };
        render_app(m, app, &RenderOptions::default())
    }

    #[test]
    fn placement_mode_chooses_the_scheduler() {
        let spec = serde_json::json!({
            "cmd": "sleep 1", "instances": 3, "acceptedResourceRoles": ["slave_public"],
            "constraints": [["@zone", "GROUP_BY", "3"], ["rack", "MAX_PER", "2"]]
        });
        let exact = render_spec(spec.clone());
        let pod = &exact.objects.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"];
        assert_eq!(pod["schedulerName"], "dromos");
        assert!(pod.get("affinity").is_none() && pod.get("topologySpreadConstraints").is_none(), "{pod}");
        assert_eq!(pod["tolerations"][0]["value"], "slave_public", "role tolerations stay");
        assert!(exact.warnings.is_empty(), "exact mode holds every constraint: {:?}", exact.warnings);

        let mut spec = spec;
        spec["placementMode"] = "native".into();
        let native = render_spec(spec);
        let pod = &native.objects.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"];
        assert!(pod.get("schedulerName").is_none());
        assert!(pod["affinity"]["nodeAffinity"].is_object() && pod["topologySpreadConstraints"].is_array(), "{pod}");
        assert_eq!(native.warnings.len(), 2, "{:?}", native.warnings);
    }

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

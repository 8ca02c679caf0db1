//! Containers of an App and their checks: the single container, pod-form containers, resource
//! limits, health and readiness checks (pure data, no I/O).

use super::networking::{PodEndpoint, PortMapping};
use super::storage::{AppVolume, PodVolumeMount};
use crate::common::{DockerSpec, EnvValue, FetchUri, Labels};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The container of a single-container App.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppContainer {
    /// DOCKER (default) or MESOS. Both run the image with the container runtime.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ContainerType>,
    /// The image and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerSpec>,
    /// Ports of the container in container or bridge networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    /// Volumes: host paths, persistent volumes, external volumes and secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<AppVolume>,
}

/// Container runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContainerType {
    /// Docker containerizer.
    Docker,
    /// Mesos universal containerizer.
    Mesos,
}

/// A container of a pod-form App (Marathon pods).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodContainer {
    /// Container name, unique in the App.
    pub name: String,
    /// Resources of this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<PodResources>,
    /// Resource limits of this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    /// The image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PodImage>,
    /// The command: `{command: {shell: "..."}}` or `{command: {argv: [...]}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<PodExec>,
    /// Named ports of this container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<PodEndpoint>,
    /// Environment of this container (merged over nothing; pods have no shared env here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, EnvValue>,
    /// Health check of this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<PodHealthCheck>,
    /// Mounts of pod volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<PodVolumeMount>,
    /// Artifacts fetched before start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<FetchUri>,
    /// Labels of the container. Informational.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

/// Resources of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodResources {
    /// CPU shares. Default 1 is not applied: pod containers must say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<f64>,
    /// Disk in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<f64>,
    /// Whole GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<f64>,
}

/// Image of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodImage {
    /// DOCKER (default) or APPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Image reference.
    pub id: String,
    /// Pull on every start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull: Option<bool>,
}

/// Command of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodExec {
    /// The command.
    pub command: PodCommand,
}

/// `shell` or `argv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodCommand {
    /// Run with `/bin/sh -c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Run these arguments directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
}

/// A resource limit: a number or "unlimited".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResourceLimit {
    /// An upper bound.
    Value(f64),
    /// The literal string "unlimited" (any other string is rejected by validation).
    Word(String),
}

impl JsonSchema for ResourceLimit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ResourceLimit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number, or \"unlimited\".",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

/// `resourceLimits`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLimits {
    /// CPU limit, at least `cpus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<ResourceLimit>,
    /// Memory limit in MiB, at least `mem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<ResourceLimit>,
}

/// Health check of a pod container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodHealthCheck {
    /// HTTP check against an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<PodHttpCheck>,
    /// TCP check against an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<PodTcpCheck>,
    /// Command check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<PodExec>,
    /// Seconds before failures count. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Seconds between checks. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    /// Consecutive failures before the instance is killed. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<i32>,
    /// Check timeout in seconds. Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Seconds before the first check. Default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i32>,
}

/// HTTP check of a pod endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodHttpCheck {
    /// Endpoint name.
    pub endpoint: String,
    /// Path. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP or HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

/// TCP check of a pod endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTcpCheck {
    /// Endpoint name.
    pub endpoint: String,
}

/// A Marathon health check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// HTTP (default), HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS or MESOS_TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<HealthProtocol>,
    /// HTTP path. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Index into the App's ports. Default 0. Mutually exclusive with `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_index: Option<i32>,
    /// A fixed port number. Mutually exclusive with `portIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Command for COMMAND checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
    /// Seconds after start during which failures are ignored. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Seconds between checks. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    /// Seconds before a check counts as failed. Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Failures in a row before the instance is killed; 0 never kills. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<i32>,
    /// Seconds before the first check (MESOS_* checks). Default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i32>,
    /// Treat 1xx responses as passing. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_http1xx: Option<bool>,
    /// IPv4 (default) or IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<String>,
}

/// Health check protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum HealthProtocol {
    /// HTTP, passing on 200-399.
    HTTP,
    /// HTTPS, passing on 200-399.
    HTTPS,
    /// TCP connect.
    TCP,
    /// A command exiting 0.
    COMMAND,
    /// HTTP checked on the node.
    #[serde(rename = "MESOS_HTTP")]
    MesosHttp,
    /// HTTPS checked on the node.
    #[serde(rename = "MESOS_HTTPS")]
    MesosHttps,
    /// TCP checked on the node.
    #[serde(rename = "MESOS_TCP")]
    MesosTcp,
}

/// Command of a COMMAND health check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandCheck {
    /// Shell command; exit code 0 means healthy.
    pub value: String,
}

/// A Marathon readiness check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    /// Check name. Default `readinessCheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP (default) or HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Path. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Name of the port to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    /// Seconds between checks. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    /// Seconds before a check fails; must be below the interval. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Status codes meaning ready. Default [200].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status_codes_for_ready: Option<Vec<i32>>,
    /// Keep the last response in status. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_last_response: Option<bool>,
}

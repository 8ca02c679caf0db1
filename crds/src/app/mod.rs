//! The App resource: a long-running service described with Marathon's app fields (pure data,
//! no I/O). The spec is here; its parts live in one submodule per section, re-exported so every
//! type stays at `dromos_crds::app::X`.

mod containers;
mod networking;
mod placement;
mod status;
mod storage;

pub use containers::{
    AppContainer, CommandCheck, ContainerType, HealthCheck, HealthProtocol, PodCommand, PodContainer, PodExec,
    PodHealthCheck, PodHttpCheck, PodImage, PodResources, PodTcpCheck, ReadinessCheck, ResourceLimit, ResourceLimits,
};
pub use networking::{Network, PodEndpoint, PortDefinition, PortMapping};
pub use placement::{KillSelection, PlacementMode, UnreachableStrategy, UnreachableTimeouts, UpgradeStrategy};
pub use status::{AppDeployment, AppStatus, PlacementStatus};
pub use storage::{AppVolume, ExternalVolume, PersistentVolume, PodVolume, PodVolumeMount};

use crate::common::{EnvValue, FetchUri, Labels, SecretSource};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A service, written with the fields of a Marathon app definition (or, with `containers`,
/// a Marathon pod). Field names, types and defaults are Marathon's; defaults are applied when
/// the App is rendered, so what is stored is what the user wrote.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "dromos.io",
    version = "v1alpha1",
    kind = "App",
    plural = "apps",
    shortname = "dapp",
    category = "dromos",
    namespaced,
    status = "AppStatus",
    // `kubectl scale app/NAME --replicas=N` and HorizontalPodAutoscalers write `spec.instances`.
    scale(
        spec_replicas_path = ".spec.instances",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Instances","type":"integer","jsonPath":".spec.instances"}"#,
    printcolumn = r#"{"name":"Running","type":"integer","jsonPath":".status.running"}"#,
    printcolumn = r#"{"name":"Healthy","type":"integer","jsonPath":".status.healthy"}"#,
    printcolumn = r#"{"name":"Unhealthy","type":"integer","jsonPath":".status.unhealthy","priority":1}"#,
    printcolumn = r#"{"name":"Staged","type":"integer","jsonPath":".status.staged","priority":1}"#,
    printcolumn = r#"{"name":"CPUs","type":"number","jsonPath":".spec.cpus","priority":1}"#,
    printcolumn = r#"{"name":"Mem","type":"number","jsonPath":".spec.mem","priority":1}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"Deployment","type":"string","jsonPath":".status.deployment.progress","priority":1}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.cmd) && has(self.args))", "message": "cmd and args are mutually exclusive", "fieldPath": ".args", "reason": "FieldValueForbidden"},
    {"rule": "!has(self.args) || (has(self.container) && has(self.container.docker))", "message": "args needs a container image (container.docker.image) to pass them to", "fieldPath": ".args", "reason": "FieldValueInvalid"},
    {"rule": "has(self.cmd) || has(self.args) || (has(self.container) && has(self.container.docker)) || (has(self.containers) && size(self.containers) > 0)", "message": "an App needs cmd, args, a container image or containers", "reason": "FieldValueRequired"},
    {"rule": "!(has(self.containers) && size(self.containers) > 0) || !(has(self.cmd) || has(self.args) || has(self.container))", "message": "containers (the pod form) is mutually exclusive with cmd, args and container", "fieldPath": ".containers", "reason": "FieldValueForbidden"},
    {"rule": "!has(self.ports) || !has(self.portDefinitions)", "message": "ports is the deprecated form of portDefinitions: give one of them", "fieldPath": ".ports", "reason": "FieldValueForbidden"}
]))]
pub struct AppSpec {
    /// Marathon id, e.g. `/shop/web/frontend`. Optional; when given it must map to this
    /// object's namespace and name (first segment = namespace, the rest joined by `-` = name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Shell command, run with `/bin/sh -c`. Mutually exclusive with `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// Command arguments passed to the image entrypoint. Mutually exclusive with `cmd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// The container: image, port mappings and volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<AppContainer>,
    /// Marathon pod form: several containers sharing one network and lifecycle. Mutually
    /// exclusive with `cmd`, `args` and `container`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<PodContainer>,
    /// Pod-form volumes, mounted by containers through `volumeMounts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<PodVolume>,
    /// Number of instances. Default 1. Also the scale subresource (`kubectl scale`, a
    /// HorizontalPodAutoscaler); with the annotation `dromos.io/autoscaled: "true"` a sync
    /// leaves the live value alone and uses this one only to create the App.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub instances: Option<i32>,
    /// CPU shares per instance. Default 1, minimum 0.001.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cpus: Option<f64>,
    /// Memory per instance in MiB. Default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub mem: Option<f64>,
    /// Scratch disk per instance in MiB. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub disk: Option<f64>,
    /// GPUs per instance, whole numbers. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub gpus: Option<f64>,
    /// Limits above the requested resources: a number or "unlimited".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    /// Networks: `host` (default), `container` (named) or `container/bridge`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// Ports in host networking mode. When omitted Marathon adds one port named `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_definitions: Option<Vec<PortDefinition>>,
    /// Deprecated Marathon form of `portDefinitions`: a list of port numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<i32>>,
    /// Host ports must be exactly the ones given. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_ports: Option<bool>,
    /// Environment variables: a string, or `{secret: NAME}` naming an entry of `secrets`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Secrets by name; referenced from `env` and secret volumes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Health checks; a failing one kills the instance after `maxConsecutiveFailures`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    /// Readiness checks (at most one): gate deployment steps, not traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readiness_checks: Vec<ReadinessCheck>,
    /// How a new version replaces the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_strategy: Option<UpgradeStrategy>,
    /// Ids of Apps (absolute or relative to this App's group) that must be deployed and
    /// healthy before this one starts or upgrades.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Marathon's initial launch delay after a failed instance. Not supported: refused by
    /// validation, because the kubelet restarts a crashed container in place with its own
    /// back-off (10 s doubling to 5 min), which no pod field changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_seconds: Option<f64>,
    /// Marathon's launch delay factor. Not supported: refused by validation (see
    /// `backoffSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_factor: Option<f64>,
    /// Marathon's upper bound of the launch delay. Not supported: refused by validation (see
    /// `backoffSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_launch_delay_seconds: Option<f64>,
    /// Which instances are killed first on scale-down: YOUNGEST_FIRST (default) or OLDEST_FIRST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_selection: Option<KillSelection>,
    /// What happens to instances on unreachable nodes: "disabled" or
    /// `{inactiveAfterSeconds, expungeAfterSeconds}` (default 0/0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_strategy: Option<UnreachableStrategy>,
    /// URIs downloaded into the sandbox before start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetch: Vec<FetchUri>,
    /// Deprecated Marathon form of `fetch`: plain URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    /// Seconds between SIGTERM and SIGKILL. Default 30 (Kubernetes' default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<f64>,
    /// Free-form labels, copied to the generated objects when they are valid Kubernetes labels
    /// and always available in `MARATHON_APP_LABELS`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// The Mesos role the App's resources come from. Nodes reserved for a role carry the
    /// taint and label `dromos.io/role=<role>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Roles whose resources the App accepts, e.g. `["slave_public"]`; `*` is unreserved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_resource_roles: Vec<String>,
    /// Placement constraints `[field, OPERATOR, value?]`; OPERATOR is one of UNIQUE, CLUSTER,
    /// GROUP_BY, LIKE, UNLIKE, MAX_PER, IS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "placement::constraints_schema")]
    pub constraints: Vec<Vec<String>>,
    /// User the task runs as (numeric uid; names are reported as warnings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Who places the instances: `exact` (default) the Dromos scheduler, which holds every
    /// Marathon constraint exactly against offers; `native` kube-scheduler with the constraints
    /// compiled to node affinity and topology spread (some approximated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_mode: Option<PlacementMode>,
}

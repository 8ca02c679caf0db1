//! Types shared by several Dromos resources (pure data, no I/O).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Condition types every Dromos status uses, following kstatus.
pub mod condition {
    /// The object is reconciled and healthy.
    pub const READY: &str = "Ready";
    /// Dromos is working towards the desired state.
    pub const RECONCILING: &str = "Reconciling";
    /// Progress is blocked until the spec or the cluster changes.
    pub const STALLED: &str = "Stalled";
}

/// Fields every Dromos status carries so `kubectl wait --for=condition=Ready` and kstatus work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Latest observations: Ready, Reconciling and Stalled, each with a reason and message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

/// A value in `env`: a plain string, or a reference to an entry of `secrets` (`{secret: NAME}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    /// A literal value.
    Value(String),
    /// The value of a secret declared in `secrets`.
    Secret {
        /// Name of the entry in `secrets`.
        secret: String,
    },
}

impl JsonSchema for EnvValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EnvValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // A string or {secret: name}. Structural CRD schemas cannot say "string or
        // object" directly, so the API server keeps the value as is and Dromos
        // validation checks its shape.
        json_schema!({
            "description": "A string, or {secret: NAME} naming an entry of `secrets`.",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

/// A secret known to the app or job: `source` names a Kubernetes Secret and optionally a key
/// (`name` or `name/key`; the key defaults to `value`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretSource {
    /// `secret-name` or `secret-name/key`. DC/OS secret paths such as `/shop/db-password`
    /// map to the Secret `shop-db-password` in the same namespace.
    pub source: String,
}

/// Docker image settings shared by Apps (`container.docker`) and Jobs (`run.docker`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DockerSpec {
    /// The image to run, e.g. `nginx:1.27`.
    pub image: String,
    /// Pull the image on every start (imagePullPolicy Always). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull_image: Option<bool>,
    /// Run the container privileged. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Extra `docker run` parameters. Kept for compatibility; most have no Kubernetes
    /// equivalent and are reported as warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<KeyValue>,
    /// Credentials for a private registry: becomes the pod's `imagePullSecrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_config: Option<PullConfig>,
}

/// A name/value pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyValue {
    /// Parameter name.
    pub key: String,
    /// Parameter value.
    pub value: String,
}

/// Registry credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PullConfig {
    /// An entry of `secrets` (its source names the Secret) or the name of a Secret of type
    /// `kubernetes.io/dockerconfigjson` in the same namespace. A DC/OS path such as
    /// `/shop/registry` names the Secret `shop-registry`.
    pub secret: String,
}

/// A URI fetched into the sandbox before the task starts (Marathon `fetch`, Metronome
/// `artifacts`). Rendered as an init container writing into a shared `emptyDir`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FetchUri {
    /// The URI to download (http, https).
    pub uri: String,
    /// Extract archives (`.tgz`, `.tar.gz`, `.zip`, ...). Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<bool>,
    /// Mark the file executable. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<bool>,
    /// Cache the download on the node. Accepted for compatibility; not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// File name inside the sandbox; defaults to the last path segment of `uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_path: Option<String>,
}

/// Schema for `conditions`: the standard metav1.Condition list, keyed by `type`.
pub fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<Condition>();
    json_schema!({
        "description": "Latest observations: Ready, Reconciling and Stalled, each with a reason and message.",
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"]
    })
}

/// Schema for free-form JSON objects (package options, arbitrary labels on ports).
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// String labels.
pub type Labels = BTreeMap<String, String>;

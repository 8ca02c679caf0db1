//! Observed state of an App: instances, deployments, placement (pure data, no I/O).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Observed state of an App, in Marathon's terms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// observedGeneration and conditions.
    #[serde(flatten)]
    pub common: crate::CommonStatus,
    /// Instances wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    /// Instances that exist (created and not terminating): the scale subresource's
    /// `status.replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Label selector of the App's pods (`dromos.io/app=NAME`): the scale subresource's
    /// selector, with which a HorizontalPodAutoscaler finds the pods' metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Instances created but not yet running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<i32>,
    /// Instances running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<i32>,
    /// Instances passing their health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<i32>,
    /// Instances failing their health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy: Option<i32>,
    /// Restarts of the running instances: each time a container was killed after
    /// `maxConsecutiveFailures` failed health checks, or ended by itself, and was started again
    /// in place (where Marathon started a replacement task). An `InstanceRestarted` Event names the
    /// instances when the number grows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<i32>,
    /// Version (hash of the spec) of the last completed deployment: what the instances run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// One word, as the Marathon UI showed it: Running, Deploying, Waiting, Delayed,
    /// Suspended, Stalled or Deleting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The deployment in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<AppDeployment>,
    /// The last deployment that finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment: Option<AppDeployment>,
    /// The last restart requested with `dromos app restart` that was rolled out (the value of
    /// the `dromos.io/restart` annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    /// Problems of the spec found by the operator (the API server cannot check them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What the App waits for, e.g. `waiting for shop/db: 1 of 3 healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Why pending instances cannot be placed (exact placement mode). Written by the Dromos
    /// scheduler only; the App operator carries it over and never writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<PlacementStatus>,
}

/// The Dromos scheduler's view of an App's pending instances, as Marathon's launch queue showed
/// it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStatus {
    /// Instances waiting for an offer that fits.
    pub waiting: i64,
    /// Summary, e.g. `2 instances waiting: 7 offers declined: UNIQUE hostname 4, insufficient mem 3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Offers declined in the last placement attempt, per reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub declined: BTreeMap<String, i64>,
}

/// A deployment of an App: a change of version, a scale or a restart being rolled out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppDeployment {
    /// The version being deployed (hash of the spec).
    pub version: String,
    /// The restart being rolled out (`dromos.io/restart` annotation), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Create, Upgrade, Scale, Restart or Recovery (instances lost and replaced).
    pub reason: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339), for a completed deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Progress, e.g. `2 of 3 instances at the new version, 2 healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// What the deployment waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Succeeded or Superseded, for a completed deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

//! Placement and upgrade of an App: placement mode, constraints, upgrade, kill and unreachable
//! strategies (pure data, no I/O).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// `placementMode`: which scheduler places an App's instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlacementMode {
    /// The Dromos scheduler (`schedulerName: dromos`): exact Marathon constraints, offers,
    /// decline reasons in the App status.
    #[default]
    Exact,
    /// kube-scheduler with the constraints compiled to affinity and topology spread.
    Native,
}

/// How a new version replaces the old one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    /// Fraction of instances that must stay healthy during an upgrade, in [0,1]. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub minimum_health_capacity: Option<f64>,
    /// Fraction of extra instances allowed during an upgrade, in [0,1]. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub maximum_over_capacity: Option<f64>,
}

/// Scale-down order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSelection {
    /// Kill the newest instances first (default).
    YoungestFirst,
    /// Kill the oldest instances first.
    OldestFirst,
}

/// `unreachableStrategy`: "disabled" or the two timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UnreachableStrategy {
    /// The literal "disabled": instances on unreachable nodes are never replaced.
    Word(String),
    /// Timeouts.
    Timeouts(UnreachableTimeouts),
}

/// Timeouts of `unreachableStrategy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnreachableTimeouts {
    /// Seconds before an unreachable instance is replaced. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_after_seconds: Option<i64>,
    /// Seconds before an unreachable instance is forgotten. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expunge_after_seconds: Option<i64>,
}

impl JsonSchema for UnreachableStrategy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UnreachableStrategy".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "\"disabled\", or {inactiveAfterSeconds, expungeAfterSeconds}.",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

/// Schema of `constraints`: `[field, OPERATOR, value?]` lists checked by CEL rules, so the API
/// server refuses an unknown operator or a missing value.
pub(super) fn constraints_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Placement constraints [field, OPERATOR, value?].",
        "type": "array",
        "maxItems": 64,
        "items": {
            "type": "array",
            "items": {"type": "string", "maxLength": 1024},
            "minItems": 2,
            "maxItems": 3,
            "x-kubernetes-validations": [
                {"rule": "self[1] in ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS']", "message": "the operator (second element) must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS"},
                {"rule": "!(self[1] in ['LIKE', 'UNLIKE', 'MAX_PER', 'IS']) || size(self) == 3", "message": "LIKE, UNLIKE, MAX_PER and IS need a value (third element)"},
                {"rule": "self[1] != 'UNIQUE' || size(self) == 2", "message": "UNIQUE takes no value"}
            ]
        }
    })
}

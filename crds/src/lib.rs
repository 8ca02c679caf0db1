//! Dromos API types, group `dromos.io`, version `v1alpha1` (pure data, no I/O).
//!
//! Every field carries a doc comment: it becomes the `kubectl explain` text of the CRD.

pub mod app;
pub mod common;
pub mod gitsource;
pub mod job;
pub mod notifier;
pub mod offer;
pub mod package;
pub mod sourcepolicy;

pub use app::{App, AppSpec, AppStatus};
pub use common::{CommonStatus, EnvValue, condition};
pub use gitsource::{GitSource, GitSourceSpec, GitSourceStatus, SyncSummary};
pub use job::{Job, JobSpec, JobStatus};
pub use notifier::{Notifier, NotifierSpec, NotifierStatus};
pub use offer::{Offer, OfferSpec, OfferStatus};
pub use package::{Package, PackageSpec, PackageStatus};
pub use sourcepolicy::{SourcePolicy, SourcePolicySpec};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of every Dromos resource.
pub const GROUP: &str = "dromos.io";
/// API version of every Dromos resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every Dromos resource.
pub const API_VERSION: &str = "dromos.io/v1alpha1";

/// The Dromos kinds, in the order their CRDs are written.
pub const KINDS: [&str; 7] = ["App", "Job", "Package", "GitSource", "Offer", "SourcePolicy", "Notifier"];

/// Every Dromos CRD, in the order of [`KINDS`].
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![App::crd(), Job::crd(), Package::crd(), GitSource::crd(), Offer::crd(), SourcePolicy::crd(), Notifier::crd()]
}

/// The CRD of one kind, if it is a Dromos kind.
pub fn crd_for_kind(kind: &str) -> Option<CustomResourceDefinition> {
    crds().into_iter().find(|c| c.spec.names.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_is_in_the_dromos_group_with_a_schema() {
        for crd in crds() {
            assert_eq!(crd.spec.group, GROUP);
            let v = &crd.spec.versions[0];
            assert_eq!(v.name, VERSION);
            let schema = v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
            assert!(schema.is_some(), "{} has no schema", crd.spec.names.kind);
            // A SourcePolicy is written by people only; every other kind reports status.
            let has_status = v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some();
            assert_eq!(has_status, crd.spec.names.kind != "SourcePolicy", "{}", crd.spec.names.kind);
        }
    }

    #[test]
    fn offers_and_policies_are_cluster_scoped_and_the_rest_namespaced() {
        for crd in crds() {
            let cluster = ["Offer", "SourcePolicy"].contains(&crd.spec.names.kind.as_str());
            let expected = if cluster { "Cluster" } else { "Namespaced" };
            assert_eq!(crd.spec.scope, expected, "{}", crd.spec.names.kind);
        }
    }

    #[test]
    fn env_value_accepts_strings_and_secret_refs() {
        let v: EnvValue = serde_json::from_str(r#"{"secret":"db"}"#).unwrap();
        assert_eq!(v, EnvValue::Secret { secret: "db".into() });
        let v: EnvValue = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(v, EnvValue::Value("x".into()));
    }
}

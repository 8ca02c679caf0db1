//! Volumes of an App (pure): host paths, external and secret volumes, and persistent volumes
//! as claim templates, in app form (`container.volumes`) and pod form (`volumes`).

use crate::translate::mib_quantity;
use crate::translate::pod::{sandbox_path, secret_ref};
use dromos_crds::app::{App, AppSpec, AppVolume};
use dromos_crds::common::SecretSource;
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, SecretVolumeSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

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

/// The volumes, mounts and claim templates of an App in app form.
pub(super) fn app_volumes(
    app: &App,
    secrets: &BTreeMap<String, SecretSource>,
) -> (Vec<Volume>, Vec<VolumeMount>, Vec<PersistentVolumeClaim>) {
    let mut volumes = vec![];
    let mut mounts = vec![];
    let mut claims = vec![];
    let vols: &[AppVolume] = app.spec.container.as_ref().map(|c| c.volumes.as_slice()).unwrap_or(&[]);
    for (i, v) in vols.iter().enumerate() {
        let name = format!("vol-{i}");
        let path = sandbox_path(&v.container_path);
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

/// The volumes and claim templates of an App in pod form (containers mount them by name).
pub(super) fn pod_volumes(s: &AppSpec) -> (Vec<Volume>, Vec<PersistentVolumeClaim>) {
    let mut volumes = vec![];
    let mut claims = vec![];
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
    (volumes, claims)
}

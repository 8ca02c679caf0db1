//! The pod pieces Apps and Jobs share (pure): environment variables and secret references,
//! resource requirements, the fetch init container, the sandbox volume, commands.

use super::SANDBOX;
use super::{cpu_quantity, mib_quantity};
use dromos_crds::EnvValue;
use dromos_crds::app::ResourceLimit;
use dromos_crds::common::{DockerSpec, FetchUri, SecretSource};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, LocalObjectReference, ObjectFieldSelector,
    ResourceRequirements, SecretKeySelector, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// The Secret and key a secret reference names.
pub fn secret_ref(name: &str, secrets: &BTreeMap<String, SecretSource>) -> (String, String) {
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

/// The Secret of `pullConfig.secret`: an entry of `secrets` (its source) or a Secret name. A
/// pull secret is a whole Secret of type `kubernetes.io/dockerconfigjson`, never one key, so a
/// DC/OS path (`/shop/registry`) becomes one name with its segments joined (`shop-registry`).
pub fn pull_secret_name(secret: &str, secrets: &BTreeMap<String, SecretSource>) -> String {
    let source = secrets.get(secret).map(|s| s.source.as_str()).unwrap_or(secret);
    source.trim_start_matches('/').replace('/', "-")
}

/// `imagePullSecrets` of a pod from Marathon's and Metronome's `docker.pullConfig`.
pub fn image_pull_secrets(
    docker: Option<&DockerSpec>,
    secrets: &BTreeMap<String, SecretSource>,
) -> Option<Vec<LocalObjectReference>> {
    let pull = docker?.pull_config.as_ref()?;
    Some(vec![LocalObjectReference { name: pull_secret_name(&pull.secret, secrets) }])
}

/// The user's environment: values, and secrets as references.
pub fn env_vars(env: &BTreeMap<String, EnvValue>, secrets: &BTreeMap<String, SecretSource>) -> Vec<EnvVar> {
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

/// A variable read from a field of the pod.
pub fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.into(), api_version: None }),
            ..Default::default()
        }),
    }
}

/// A variable with a value.
pub fn plain_env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), value_from: None }
}

/// Merges injected and user variables; user variables win, order is stable.
pub fn merge_env(injected: Vec<EnvVar>, user: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = injected.into_iter().filter(|e| !user.iter().any(|u| u.name == e.name)).collect();
    out.extend(user);
    out
}

/// Requests and limits: DC/OS enforced its requests, so they are limits too unless
/// `resourceLimits` raises them.
pub fn resources(
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
    // DC/OS enforces cpus with CFS quota and mem as a hard limit; resourceLimits raise them
    // (a number) or lift them ("unlimited").
    let quantity = [
        ("cpu", limits.and_then(|l| l.cpus.as_ref()), cpus, cpu_quantity as fn(f64) -> Quantity),
        ("memory", limits.and_then(|l| l.mem.as_ref()), mem, mib_quantity),
    ];
    for (key, limit, request, to_quantity) in quantity {
        match limit {
            Some(ResourceLimit::Value(v)) => {
                lim.insert(key.to_string(), to_quantity(*v));
            }
            Some(ResourceLimit::Word(_)) => {}
            None => {
                lim.insert(key.to_string(), to_quantity(request));
            }
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
pub fn fetch_container(fetch: &[FetchUri], image: &str) -> Option<Container> {
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

/// The mount of the sandbox volume.
pub fn sandbox_mount() -> VolumeMount {
    VolumeMount { name: "sandbox".into(), mount_path: SANDBOX.into(), ..Default::default() }
}

/// The sandbox volume (empty at start; fetch downloads into it).
pub fn sandbox_volume() -> Volume {
    Volume { name: "sandbox".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }
}

/// A container path: absolute, or relative to the sandbox.
pub fn sandbox_path(container_path: &str) -> String {
    if container_path.starts_with('/') { container_path.to_string() } else { format!("{SANDBOX}/{container_path}") }
}

/// Command, args and working directory of `cmd` (a shell command, run in the sandbox when
/// there is no image) or `args` (the image entrypoint's arguments).
pub fn command_of(
    cmd: &Option<String>,
    args: &Option<Vec<String>>,
    has_image: bool,
) -> (Option<Vec<String>>, Option<Vec<String>>, Option<String>) {
    match (cmd, args) {
        (Some(cmd), _) => (
            Some(vec!["/bin/sh".to_string(), "-c".to_string(), cmd.clone()]),
            None,
            (!has_image).then(|| SANDBOX.to_string()),
        ),
        (None, Some(a)) => (None, Some(a.clone()), None),
        (None, None) => (None, None, None),
    }
}

/// `Always` when the image is to be pulled every time, else `IfNotPresent`.
pub fn image_pull_policy(force: Option<bool>) -> String {
    if force.unwrap_or(false) { "Always".into() } else { "IfNotPresent".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! The environment Marathon injected into every task (pure): ports, host, sandbox, the app's
//! id, version, image, resources and labels.

use super::Ctx;
use crate::translate::SANDBOX;
use crate::translate::pod::{field_env, plain_env};
use k8s_openapi::api::core::v1::EnvVar;

/// `PORT_<NAME>` and `MARATHON_APP_LABEL_<KEY>` spelling of a name.
pub(super) fn env_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// Marathon's injected environment (user variables of the same name win over these).
pub(super) fn injected(cx: &Ctx<'_>) -> Vec<EnvVar> {
    let (s, ports, id, version, image) = (&cx.app.spec, &cx.ports, &cx.id, &cx.version, &cx.image);
    let (cpus, mem, disk, gpus) = (cx.cpus, cx.mem, cx.disk, cx.gpus);
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
    injected
}

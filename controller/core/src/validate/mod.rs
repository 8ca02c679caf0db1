//! Semantic validation of loaded manifests (pure).
//!
//! Rules come from Marathon's and Metronome's validators (docs/dcos/apps.md, docs/dcos/jobs.md). Each rule reports a
//! diagnostic on the field it concerns; cross-object rules (dependencies, cycles, parents)
//! run over the whole tree.

mod app;
mod graph;
mod health;
mod job;
mod ports;

/// What validation and translation read of an App; defined by the App model.
pub use crate::app::{app_id, is_host_networking, is_resident, port_count, port_names};

use crate::diag::Diagnostic;
use crate::load::{Manifest, Typed};
use dromos_crds::EnvValue;
use std::collections::BTreeMap;

/// Validates every manifest and the relations between them.
pub fn validate_manifests(manifests: &[Manifest]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        out.extend(validate_object(m));
    }
    graph::validate_app_graph(manifests, &mut out);
    graph::validate_job_graph(manifests, &mut out);
    out
}

/// Environment variable names, and secrets they refer to.
fn check_env(
    m: &Manifest,
    path: &str,
    env: &BTreeMap<String, EnvValue>,
    secrets: &BTreeMap<String, dromos_crds::common::SecretSource>,
    out: &mut Vec<Diagnostic>,
) {
    for (k, v) in env {
        let p = crate::yaml::join_key(path, k);
        if k.is_empty() || k.contains('=') {
            out.push(m.error("invalid-env", &p, format!("`{k}` is not a valid environment variable name")));
        }
        if let EnvValue::Secret { secret } = v
            && !secrets.contains_key(secret)
        {
            let mut d = m.error(
                "unknown-secret",
                &format!("{p}.secret"),
                format!("env `{k}` refers to secret `{secret}`, which is not declared in `secrets`"),
            );
            if let Some(c) = crate::diag::closest(secret, secrets.keys().map(String::as_str)) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            } else {
                d = d.with_hint(format!("add `secrets: {{{secret}: {{source: <secret-name>}}}}`"));
            }
            out.push(d);
        }
    }
}

/// `docker.pullConfig.secret` under `base`: it must name a Secret Kubernetes accepts once
/// mapped (translate::pod::pull_secret_name), since the pod refers to it by that name.
fn check_pull_config(
    m: &Manifest,
    base: &str,
    docker: Option<&dromos_crds::common::DockerSpec>,
    secrets: &BTreeMap<String, dromos_crds::common::SecretSource>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(pull) = docker.and_then(|d| d.pull_config.as_ref()) else { return };
    let p = format!("{base}.pullConfig.secret");
    let name = crate::translate::pull_secret_name(&pull.secret, secrets);
    if let Err(e) = crate::ids::check_dns_subdomain(&name) {
        let via = if secrets.contains_key(&pull.secret) {
            format!(" (the source of `secrets.{}`)", pull.secret)
        } else {
            String::new()
        };
        out.push(
            m.error(
                "invalid-value",
                &p,
                format!("pullConfig names the Secret `{name}`{via}, which is not a valid Secret name: {e}"),
            )
            .with_hint("name a Secret of type kubernetes.io/dockerconfigjson in the same namespace"),
        );
    }
}

/// cpus, mem, disk and gpus under `base`.
fn check_resources(
    m: &Manifest,
    base: &str,
    cpus: Option<f64>,
    mem: Option<f64>,
    disk: Option<f64>,
    gpus: Option<f64>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(c) = cpus
        && c < 0.001
    {
        out.push(m.error("out-of-range", &format!("{base}.cpus"), format!("cpus {c} is below the minimum 0.001")));
    }
    for (f, v) in [("mem", mem), ("disk", disk)] {
        if v.is_some_and(|v| v < 0.0) {
            out.push(m.error("out-of-range", &format!("{base}.{f}"), format!("{f} must be 0 or more (MiB)")));
        }
    }
    if let Some(g) = gpus
        && (g < 0.0 || g.fract() != 0.0)
    {
        out.push(m.error(
            "out-of-range",
            &format!("{base}.gpus"),
            format!("gpus {g} must be a whole number, 0 or more"),
        ));
    }
}

fn validate_gitsource(m: &Manifest, gs: &dromos_crds::GitSource, out: &mut Vec<Diagnostic>) {
    if let Some(r) = &gs.spec.git_ref {
        let n = [r.branch.is_some(), r.tag.is_some(), r.commit.is_some()].iter().filter(|b| **b).count();
        if n > 1 {
            out.push(m.error("invalid-ref", "spec.ref", "set only one of `branch`, `tag` and `commit`"));
        }
        if let Some(c) = &r.commit
            && (c.len() != 40 || !c.chars().all(|ch| ch.is_ascii_hexdigit()))
        {
            out.push(m.error("invalid-ref", "spec.ref.commit", "commit must be a full 40-character SHA-1"));
        }
    }
    let url = gs.spec.url.as_str();
    let known = ["https://", "http://", "ssh://", "file://"].iter().any(|p| url.starts_with(p))
        || (url.contains('@') && url.contains(':'));
    if !known {
        out.push(m.error(
            "invalid-url",
            "spec.url",
            format!("`{}` is not an https://, ssh://, git@host:path or file:// URL", crate::giturl::redact_url(url)),
        ));
    }
    if let Some(Err(p)) = gs.spec.interval.as_deref().map(crate::gitsource::check_interval) {
        let (min, max) = (crate::gitsource::MIN_INTERVAL.as_secs(), crate::gitsource::MAX_INTERVAL.as_secs() / 3600);
        out.push(
            m.error("out-of-range", "spec.interval", p.message)
                .with_hint(format!("write an interval from {min}s to {max}h; use a webhook for faster syncs")),
        );
    }
    if let Some(p) = &gs.spec.path
        && p.split('/').any(|s| s == "..")
    {
        out.push(m.error("invalid-path", "spec.path", "path may not leave the repository (`..`)"));
    }
}

/// The rules of one object alone.
pub fn validate_object(m: &Manifest) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match &m.typed {
        Typed::App(app) => app::validate_app(m, app, &mut out),
        Typed::Job(job) => job::validate_job(m, job, &mut out),
        Typed::GitSource(gs) => validate_gitsource(m, gs, &mut out),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests;

//! `dromos source list | get | reconcile | suspend | resume`: GitSources of the cluster (I/O:
//! the cluster of the selected kubeconfig context).

use super::args::{ListScope, SourceCommand, Target};
use super::block_on;
use super::output::{structured, table};
use anyhow::{Result, bail};
use dromos_crds::GitSource;
use kube::ResourceExt;
use std::process::ExitCode;
use std::time::Duration;

/// Runs one source subcommand against the cluster.
pub(crate) fn run(command: SourceCommand) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let ns_of = |t: &Target| t.namespace.clone().unwrap_or_else(|| cluster.namespace.clone());
        match command {
            SourceCommand::List { scope } => list(&cluster, &scope).await,
            SourceCommand::Get { target, output } => {
                let ns = ns_of(&target);
                let gs = get(&cluster, &ns, &target.name).await?;
                match structured(output, &super::objects::object_value(&gs)?) {
                    Some(text) => print!("{text}"),
                    None => print!("{}", describe(&gs, output.wide())),
                }
                Ok(ExitCode::SUCCESS)
            }
            SourceCommand::Reconcile { target, timeout } => {
                let ns = ns_of(&target);
                reconcile(&cluster, &ns, &target.name, Duration::from_secs(timeout), false).await
            }
            SourceCommand::Resume { target, timeout } => {
                let ns = ns_of(&target);
                reconcile(&cluster, &ns, &target.name, Duration::from_secs(timeout), true).await
            }
            SourceCommand::Suspend { target } => {
                let (ns, name) = (ns_of(&target), target.name);
                let gs = get(&cluster, &ns, &name).await?;
                if gs.spec.suspend == Some(true) {
                    println!("GitSource {ns}/{name} on {} is already suspended", cluster.described);
                    return Ok(ExitCode::SUCCESS);
                }
                crate::status::suspend_source(&cluster.client, &ns, &name).await?;
                println!(
                    "GitSource {ns}/{name} on {}: suspended; the last applied revision ({}) stays and drift is not \
                     reverted until `dromos source resume {name} -n {ns}`",
                    cluster.described,
                    gs.status.as_ref().and_then(|s| s.last_applied_revision.as_deref()).unwrap_or("none")
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn get(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<GitSource> {
    super::objects::get(cluster, ns, name).await
}

/// The Ready condition: (status, reason, message).
fn ready(gs: &GitSource) -> (String, String, String) {
    gs.status
        .as_ref()
        .and_then(|s| s.common.conditions.iter().find(|c| c.type_ == dromos_crds::condition::READY))
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
        .unwrap_or_else(|| ("Unknown".into(), String::new(), "not reconciled yet".into()))
}

fn git_ref(gs: &GitSource) -> String {
    match &gs.spec.git_ref {
        Some(r) if r.commit.is_some() => format!("commit {}", r.commit.as_deref().unwrap_or_default()),
        Some(r) if r.tag.is_some() => format!("tag {}", r.tag.as_deref().unwrap_or_default()),
        Some(r) if r.branch.is_some() => format!("branch {}", r.branch.as_deref().unwrap_or_default()),
        _ => "branch main".into(),
    }
}

async fn list(cluster: &crate::apiclient::Cluster, scope: &ListScope) -> Result<ExitCode> {
    let items: Vec<GitSource> = super::objects::list(cluster, scope).await?;
    super::objects::print_list(&items, scope, list_table)?;
    Ok(ExitCode::SUCCESS)
}

/// The table of `dromos source list`.
pub(crate) fn list_table(items: &[GitSource], wide: bool) -> String {
    let mut header = vec!["NAMESPACE", "NAME", "URL", "REF", "REVISION", "READY", "SUSPENDED"];
    if wide {
        header.extend(["PATH", "INTERVAL", "OBJECTS", "LAST SYNC"]);
    }
    header.push("MESSAGE");
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|g| {
            let st = g.status.clone().unwrap_or_default();
            let (ready, _, message) = ready(g);
            let mut row = vec![
                g.namespace().unwrap_or_default(),
                g.name_any(),
                dromos_core::giturl::redact_url(&g.spec.url),
                git_ref(g),
                st.last_applied_revision.clone().unwrap_or_else(|| "-".into()),
                ready,
                if g.spec.suspend == Some(true) { "yes".into() } else { "no".into() },
            ];
            if wide {
                row.extend([
                    g.spec.path.clone().unwrap_or_else(|| "/".into()),
                    g.spec.interval.clone().unwrap_or_else(|| "1m".into()),
                    dromos_core::gitsource::inventory_len(&st).to_string(),
                    st.last_sync.as_ref().and_then(|s| s.finished_at.clone()).unwrap_or_else(|| "-".into()),
                ]);
            }
            row.push(message);
            row
        })
        .collect();
    let mut out = table(&header, &rows);
    if items.is_empty() {
        out.push_str("(no GitSources)\n");
    }
    out
}

/// The text of `dromos source get`; `wide` adds the inventory.
pub(crate) fn describe(gs: &GitSource, wide: bool) -> String {
    use std::fmt::Write;
    let st = gs.status.clone().unwrap_or_default();
    let o = |v: Option<&str>| v.unwrap_or("-").to_string();
    let mut out = String::new();
    let _ = writeln!(out, "GitSource:        {}/{}", gs.namespace().unwrap_or_default(), gs.name_any());
    let _ = writeln!(out, "URL:              {}", dromos_core::giturl::redact_url(&gs.spec.url));
    let _ = writeln!(out, "Ref:              {}", git_ref(gs));
    let _ = writeln!(out, "Path:             {}", o(gs.spec.path.as_deref()));
    let _ = writeln!(out, "Interval:         {}", gs.spec.interval.as_deref().unwrap_or("1m"));
    let _ = writeln!(out, "Suspended:        {}", if gs.spec.suspend == Some(true) { "yes" } else { "no" });
    let _ = writeln!(out, "Service account:  {}", o(gs.spec.service_account_name.as_deref()));
    let _ = writeln!(out, "Applied:          {}", o(st.last_applied_revision.as_deref()));
    let _ = writeln!(out, "Attempted:        {}", o(st.last_attempted_revision.as_deref()));
    let _ = writeln!(out, "Objects:          {}", dromos_core::gitsource::inventory_len(&st));
    if let Some(s) = &st.last_sync {
        let _ = writeln!(
            out,
            "Last sync:        {} applied, {} unchanged, {} pruned, {} failed in {} ms, at {}",
            s.applied,
            s.unchanged,
            s.pruned,
            s.failed,
            s.duration_ms,
            o(s.finished_at.as_deref())
        );
    }
    if let Some(r) = &st.last_handled_reconcile_at {
        let _ = writeln!(out, "Last request:     {r} (handled)");
    }
    let _ = writeln!(out, "Conditions:");
    if st.common.conditions.is_empty() {
        let _ = writeln!(out, "  (none: not reconciled yet)");
    }
    for c in &st.common.conditions {
        let _ = writeln!(out, "  {:<12} {:<6} {:<20} {}", c.type_, c.status, c.reason, c.message);
    }
    if !st.diagnostics.is_empty() {
        let _ = writeln!(out, "Diagnostics:");
        for d in &st.diagnostics {
            let field = d.field.as_deref().map(|f| format!(" {f}:")).unwrap_or_default();
            let _ = writeln!(out, "  {}:{}:{field} {}", d.file, d.line, d.message);
        }
    }
    if wide {
        let _ = writeln!(out, "Inventory:");
        match dromos_core::gitsource::inventory_entries(&st) {
            Ok(entries) => {
                for i in &entries {
                    let _ = writeln!(out, "  {i}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  (status.inventoryPacked cannot be read: {e})");
            }
        }
    }
    out
}

/// Requests a reconcile (with `resume`, also sets `spec.suspend: false`) and waits until the
/// controller has handled it: exit 0 when the revision is applied, an error with the status
/// message otherwise.
async fn reconcile(
    cluster: &crate::apiclient::Cluster,
    ns: &str,
    name: &str,
    timeout: Duration,
    resume: bool,
) -> Result<ExitCode> {
    let gs = get(cluster, ns, name).await?;
    if !resume && gs.spec.suspend == Some(true) {
        bail!(
            "GitSource {ns}/{name} is suspended: nothing would be fetched; `dromos source resume {name} -n {ns}` resumes and syncs it"
        );
    }
    let value = crate::status::request_source_reconcile(&cluster.client, ns, name, resume).await?;
    eprintln!(
        "{} GitSource {ns}/{name} on {}; waiting up to {} s for the controller",
        if resume { "resumed" } else { "requested a reconcile of" },
        cluster.described,
        timeout.as_secs()
    );
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let gs = get(cluster, ns, name).await?;
        let st = gs.status.clone().unwrap_or_default();
        if st.last_handled_reconcile_at.as_deref() == Some(value.as_str()) {
            let (ready, reason, message) = ready(&gs);
            if ready == "True" {
                println!(
                    "GitSource {ns}/{name}: applied revision {} ({})",
                    st.last_applied_revision.as_deref().unwrap_or("-"),
                    st.last_sync
                        .as_ref()
                        .map(|s| format!("{} applied, {} unchanged, {} pruned", s.applied, s.unchanged, s.pruned))
                        .unwrap_or_else(|| "no sync summary".into())
                );
                return Ok(ExitCode::SUCCESS);
            }
            bail!(
                "GitSource {ns}/{name}: reconcile failed: {reason}: {message}{}",
                st.diagnostics
                    .iter()
                    .take(5)
                    .map(|d| format!("\n  {}:{}: {}", d.file, d.line, d.message))
                    .collect::<String>()
            );
        }
        if gs.spec.suspend == Some(true) {
            bail!("GitSource {ns}/{name} was suspended while waiting; nothing was fetched");
        }
        if tokio::time::Instant::now() >= deadline {
            let (ready, reason, message) = ready(&gs);
            bail!(
                "GitSource {ns}/{name}: the controller did not handle the request within {} s (is `dromos controller` \
                 running for namespace {ns}?); Ready {ready} {reason}: {message}",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

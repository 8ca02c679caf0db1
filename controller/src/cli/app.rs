//! `dromos app why | restart` and `dromos status`: one App, or the health of every App, Job and
//! Package (I/O: the cluster of the current kubeconfig).

use super::args::AppAction;
use super::block_on;
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Runs one app subcommand against the cluster.
pub(crate) fn run(action: AppAction) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let client = &cluster.client;
        match action {
            AppAction::Why { name, namespace } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                let text = crate::operators::scheduler::why(client, &namespace, &name).await?;
                print!("{text}");
            }
            AppAction::Restart { name, namespace } => {
                let namespace = namespace.unwrap_or_else(|| cluster.namespace.clone());
                let at = crate::status::restart_app(client, &namespace, &name).await?;
                println!(
                    "app {namespace}/{name} on {}: restart requested at {at}; `dromos status -n {namespace}` shows the rollout",
                    cluster.described
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `dromos status`: the table of Apps, Jobs and Packages; exit 3 when one is not healthy.
/// Rows of `namespace`, of the context's namespace when none is named, or of every namespace
/// with `all`.
pub(crate) fn status(namespace: Option<String>, all: bool) -> Result<ExitCode> {
    block_on(async {
        let cluster = crate::apiclient::connect().await?;
        let namespace = if all { None } else { Some(namespace.unwrap_or_else(|| cluster.namespace.clone())) };
        let rows = crate::status::collect(&cluster.client, namespace.as_deref())
            .await
            .with_context(|| format!("reading Apps, Jobs and Packages on {}", cluster.described))?;
        print!("{}", crate::status::table(&rows));
        Ok(if rows.iter().all(|r| r.healthy) { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

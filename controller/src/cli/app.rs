//! `dromos app why | restart` and `dromos status`: one App, or the health of every App, Job and
//! Package (I/O: the cluster of the current kubeconfig).

use super::args::AppAction;
use super::block_on;
use anyhow::Result;
use std::process::ExitCode;

/// Runs one app subcommand against the cluster.
pub(crate) fn run(action: AppAction) -> Result<ExitCode> {
    block_on(async {
        let client = crate::apiclient::infer().await?;
        match action {
            AppAction::Why { name, namespace } => {
                let text = crate::operators::scheduler::why(&client, &namespace, &name).await?;
                print!("{text}");
            }
            AppAction::Restart { name, namespace } => {
                let at = crate::status::restart_app(&client, &namespace, &name).await?;
                println!(
                    "app {namespace}/{name}: restart requested at {at}; `dromos status -n {namespace}` shows the rollout"
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `dromos status`: the table of Apps, Jobs and Packages; exit 3 when one is not healthy.
pub(crate) fn status(namespace: Option<String>) -> Result<ExitCode> {
    block_on(async {
        let client = crate::apiclient::infer().await?;
        let rows = crate::status::collect(&client, namespace.as_deref()).await?;
        print!("{}", crate::status::table(&rows));
        Ok(if rows.iter().all(|r| r.healthy) { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

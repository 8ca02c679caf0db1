//! `dromos job run | history`: request a run of a Job, or print its recent runs (I/O: the
//! cluster of the current kubeconfig).

use super::args::JobCommand;
use super::block_on;
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Runs one job subcommand against the cluster.
pub(crate) fn run(command: JobCommand) -> Result<ExitCode> {
    block_on(async {
        let client = crate::apiclient::infer().await?;
        match command {
            JobCommand::Run { name, namespace } => {
                let req = crate::operators::jobs::request_run(&client, &namespace, &name).await?;
                println!(
                    "requested a run of job {namespace}/{name} ({req}); follow it with `dromos job history {name} -n {namespace}`"
                );
            }
            JobCommand::History { name, namespace } => {
                let api: kube::Api<dromos_crds::Job> = kube::Api::namespaced(client, &namespace);
                let job = api
                    .get_opt(&name)
                    .await
                    .with_context(|| format!("reading job {namespace}/{name}"))?
                    .with_context(|| format!("job {namespace}/{name} not found"))?;
                print!("{}", crate::operators::jobs::history_table(&job));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

//! `dromos package list | describe | render`: packages of a repository directory or the
//! built-in catalog (I/O: reads the repository, prints to stdout).

use super::args::PackageCommand;
use anyhow::Result;
use std::process::ExitCode;

/// Runs one package subcommand.
pub(crate) fn run(command: PackageCommand) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        PackageCommand::List { repo } => crate::packages::list(repo.as_deref(), &mut out),
        PackageCommand::Describe { name, version, config, repo } => {
            crate::packages::describe(repo.as_deref(), &name, version.as_deref(), config, &mut out)
        }
        PackageCommand::Render { name, version, options, namespace, instance, repo } => {
            let source = repo.as_ref().map_or("builtin".to_string(), |r| r.display().to_string());
            let instance_name = instance.unwrap_or_else(|| name.clone());
            let inst = dromos_core::package::Instance { namespace: &namespace, name: &instance_name, source: &source };
            crate::packages::render(repo.as_deref(), &name, version.as_deref(), options.as_deref(), inst, &mut out)
        }
    }
}

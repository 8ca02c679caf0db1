//! `dromos package list | describe | render`: packages of a repository directory or the
//! built-in catalog (I/O: reads the repository, prints to stdout).

use super::args::PackageCommand;
use super::output::ListFormat;
use anyhow::Result;
use std::process::ExitCode;

/// Runs one package subcommand.
pub(crate) fn run(command: PackageCommand) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        PackageCommand::List { repo, output } => crate::packages::list(repo.as_deref(), format(output), &mut out),
        PackageCommand::Describe { name, version, config, repo, output } => {
            crate::packages::describe(repo.as_deref(), &name, version.as_deref(), config, format(output), &mut out)
        }
        PackageCommand::Render { name, version, options, namespace, instance, repo } => {
            let source = repo.as_ref().map_or("builtin".to_string(), |r| r.display().to_string());
            let instance_name = instance.unwrap_or_else(|| name.clone());
            let inst = dromos_core::package::Instance { namespace: &namespace, name: &instance_name, source: &source };
            crate::packages::render(repo.as_deref(), &name, version.as_deref(), options.as_deref(), inst, &mut out)
        }
    }
}

fn format(f: ListFormat) -> crate::packages::Format {
    match f {
        ListFormat::Table => crate::packages::Format::Text(false),
        ListFormat::Wide => crate::packages::Format::Text(true),
        ListFormat::Json => crate::packages::Format::Json,
        ListFormat::Yaml => crate::packages::Format::Yaml,
    }
}

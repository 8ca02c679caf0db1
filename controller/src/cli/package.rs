//! `dromos package list | describe | render | init | lint | test`: packages of a repository
//! directory or the built-in catalog (I/O: reads and writes the repository directory, prints
//! to stdout; `test` uses the cluster of the kubeconfig).

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
        PackageCommand::Init { name, dir } => init(&name, &dir, &mut out),
        PackageCommand::Lint { name, version, repo } => {
            crate::packages::lint(repo.as_deref(), name.as_deref(), version.as_deref(), &mut out)
        }
        PackageCommand::Test { name, version, repo, namespace, keep } => super::block_on(async move {
            let args = crate::package_test::TestArgs {
                root: &repo,
                name: &name,
                version: version.as_deref(),
                namespace,
                keep,
            };
            let mut out = std::io::stdout();
            crate::package_test::run(args, &mut out).await
        }),
    }
}

fn init(name: &str, dir: &std::path::Path, out: &mut dyn std::io::Write) -> Result<ExitCode> {
    let files = dromos_core::package::scaffold::scaffold(name).map_err(anyhow::Error::msg)?;
    let top = dir.join(name);
    if top.exists() {
        anyhow::bail!("{} exists: init writes a new package only", top.display());
    }
    for (path, text) in &files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, text)?;
        writeln!(out, "created {}", p.display())?;
    }
    writeln!(out, "next: dromos package lint --repo {d} && dromos package test {name} --repo {d}", d = dir.display())?;
    Ok(ExitCode::SUCCESS)
}

fn format(f: ListFormat) -> crate::packages::Format {
    match f {
        ListFormat::Table => crate::packages::Format::Text(false),
        ListFormat::Wide => crate::packages::Format::Text(true),
        ListFormat::Json => crate::packages::Format::Json,
        ListFormat::Yaml => crate::packages::Format::Yaml,
    }
}

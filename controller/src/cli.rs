//! Command line of `dromos` (I/O: reads trees, prints results, sets exit codes).

use crate::{crdgen, fsread};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use dromos_core::{LoadOptions, RenderOptions, diag, render};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Dromos: Marathon, Metronome and Universe semantics on Kubernetes, declared in Git.
#[derive(Debug, Parser)]
#[command(name = "dromos", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiagFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ObjFormat {
    Yaml,
    Json,
}

#[derive(Debug, clap::Args)]
struct TreeArgs {
    /// A directory of manifests (walked recursively) or one file.
    path: PathBuf,
    /// Namespace of namespaced Dromos objects that name none.
    #[arg(long, default_value = "default")]
    default_namespace: String,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_file_bytes: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every manifest of a tree; exit 0 when valid, 1 when not.
    Validate {
        #[command(flatten)]
        tree: TreeArgs,
        /// Diagnostics as rustc-style text or JSON.
        #[arg(long, short, value_enum, default_value = "text")]
        output: DiagFormat,
    },
    /// Print every object a tree applies, expansions included, in apply order.
    Render {
        #[command(flatten)]
        tree: TreeArgs,
        /// Objects as a YAML stream or a JSON List.
        #[arg(long, short, value_enum, default_value = "yaml")]
        output: ObjFormat,
        /// Image for Apps and Jobs that only give `cmd`.
        #[arg(long)]
        default_image: Option<String>,
        /// Image of the init container that downloads `fetch` URIs.
        #[arg(long)]
        fetch_image: Option<String>,
    },
    /// Write the CRD manifests into crds/ and charts/dromos/crds/ (or check them).
    Crds {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Only check that the files are up to date; exit 1 when stale.
        #[arg(long)]
        check: bool,
        /// Print the CRDs to stdout instead of writing files.
        #[arg(long, conflicts_with = "check")]
        stdout: bool,
    },
}

/// Worker threads for the pure core: the machine's parallelism.
pub fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Loads and validates a tree from disk.
fn check(tree: &TreeArgs) -> Result<(dromos_core::Tree, BTreeMap<String, String>)> {
    let files = fsread::fetch_tree(&tree.path, tree.max_file_bytes)
        .with_context(|| format!("reading {}", tree.path.display()))?;
    let opts = LoadOptions {
        max_file_bytes: tree.max_file_bytes,
        default_namespace: tree.default_namespace.clone(),
        ..Default::default()
    };
    let mut result = dromos_core::check_tree(&files.files, &opts);
    result.diagnostics.extend(files.diagnostics);
    diag::sort_diagnostics(&mut result.diagnostics);
    let sources =
        files.files.iter().filter_map(|f| Some((f.path.clone(), String::from_utf8(f.bytes.clone()).ok()?))).collect();
    Ok((result, sources))
}

fn print_diagnostics(
    diags: &[dromos_core::Diagnostic],
    sources: &BTreeMap<String, String>,
    format: DiagFormat,
    to: &mut dyn Write,
) -> Result<()> {
    match format {
        DiagFormat::Text => write!(to, "{}", diag::render_text(diags, |f| sources.get(f).map(String::as_str)))?,
        DiagFormat::Json => writeln!(to, "{}", serde_json::to_string_pretty(diags)?)?,
    }
    Ok(())
}

/// Runs the CLI and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { tree, output } => {
            let (result, sources) = check(&tree)?;
            let mut stdout = std::io::stdout().lock();
            if output == DiagFormat::Text && result.diagnostics.is_empty() {
                writeln!(stdout, "{}: {} object(s), valid", tree.path.display(), result.manifests.len())?;
            } else {
                print_diagnostics(&result.diagnostics, &sources, output, &mut stdout)?;
            }
            Ok(if result.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Render { tree, output, default_image, fetch_image } => {
            let (result, sources) = check(&tree)?;
            let mut stderr = std::io::stderr().lock();
            if !result.is_valid() {
                print_diagnostics(&result.diagnostics, &sources, DiagFormat::Text, &mut stderr)?;
                return Ok(ExitCode::from(1));
            }
            let mut opts = RenderOptions::default();
            if let Some(i) = default_image {
                opts.default_image = i;
            }
            if let Some(i) = fetch_image {
                opts.fetch_image = i;
            }
            let format = match output {
                ObjFormat::Yaml => render::Format::Yaml,
                ObjFormat::Json => render::Format::Json,
            };
            let text = render::render_serialized(&result.manifests, &opts, format, threads());
            let mut warnings = result.diagnostics.clone();
            warnings.extend(text.warnings.iter().cloned());
            diag::sort_diagnostics(&mut warnings);
            if !warnings.is_empty() {
                print_diagnostics(&warnings, &sources, DiagFormat::Text, &mut stderr)?;
            }
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            for chunk in &text.chunks {
                stdout.write_all(chunk.as_bytes())?;
            }
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crds { root, check, stdout } => {
            if stdout {
                let mut out = std::io::stdout().lock();
                for (_, text) in crdgen::render_crds() {
                    out.write_all(text.as_bytes())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            if check {
                let stale = crdgen::stale_crds(&root);
                if stale.is_empty() {
                    println!("CRDs are up to date");
                    return Ok(ExitCode::SUCCESS);
                }
                for p in stale {
                    eprintln!("stale: {} (run `dromos crds`)", p.display());
                }
                return Ok(ExitCode::from(1));
            }
            for p in crdgen::write_crds(&root)? {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

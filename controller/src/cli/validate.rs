//! `dromos validate` and `dromos render`: load a tree from disk, report its diagnostics, print
//! the objects it applies (I/O: reads files, writes stdout and stderr).

use super::args::{DiagFormat, ObjFormat, TreeArgs};
use crate::fsread;
use anyhow::{Context, Result};
use dromos_core::{LoadOptions, RenderOptions, diag, render};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

/// `dromos validate`: exit 0 when the tree is valid, 1 when not.
pub(crate) fn run(tree: &TreeArgs, output: DiagFormat) -> Result<ExitCode> {
    let (result, sources, _) = check(tree)?;
    let mut stdout = std::io::stdout().lock();
    if output == DiagFormat::Text && result.diagnostics.is_empty() {
        writeln!(stdout, "{}: {} object(s), valid", tree.path.display(), result.manifests.len())?;
    } else {
        print_diagnostics(&result.diagnostics, &sources, output, &mut stdout, &tree.path)?;
    }
    // JSON keeps its shape (a list of diagnostics): the skipped files go to stderr there.
    let mut stderr = std::io::stderr().lock();
    let to: &mut dyn Write = if output == DiagFormat::Text { &mut stdout } else { &mut stderr };
    print_skipped(&result.skipped, to)?;
    Ok(if result.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `dromos render`: every object of a valid tree on stdout, warnings on stderr; exit 1 (and
/// nothing on stdout) when the tree is invalid.
pub(crate) fn render(
    tree: &TreeArgs,
    output: ObjFormat,
    default_image: Option<String>,
    fetch_image: Option<String>,
) -> Result<ExitCode> {
    let (result, sources, packages) = check(tree)?;
    let mut stderr = std::io::stderr().lock();
    if !result.is_valid() {
        print_diagnostics(&result.diagnostics, &sources, DiagFormat::Text, &mut stderr, &tree.path)?;
        return Ok(ExitCode::from(1));
    }
    let mut opts = RenderOptions { packages, ..Default::default() };
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
    let text = render::render_serialized(&result.manifests, &opts, format, crate::threads());
    let mut warnings = result.diagnostics.clone();
    warnings.extend(text.warnings.iter().cloned());
    diag::sort_diagnostics(&mut warnings);
    if !warnings.is_empty() {
        print_diagnostics(&warnings, &sources, DiagFormat::Text, &mut stderr, &tree.path)?;
    }
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for chunk in &text.chunks {
        stdout.write_all(chunk.as_bytes())?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Loads and validates a tree from disk, Package objects included (expanded from the built-in
/// catalog and the tree's package directories); returns those repositories for rendering.
fn check(tree: &TreeArgs) -> Result<(dromos_core::Tree, BTreeMap<String, String>, dromos_core::package::Repositories)> {
    let files = fsread::fetch_tree(&tree.path, tree.max_file_bytes)
        .with_context(|| format!("reading {}", tree.path.display()))?;
    let opts = LoadOptions {
        max_file_bytes: tree.max_file_bytes,
        default_namespace: tree.default_namespace.clone(),
        ..Default::default()
    };
    let mut result = dromos_core::prepare::check(&files.files, files.diagnostics, &opts);
    let packages = crate::packages::tree_repositories(&tree.path, &result.manifests)?;
    dromos_core::prepare::check_packages(&mut result, &packages);
    let sources =
        files.files.iter().filter_map(|f| Some((f.path.clone(), String::from_utf8(f.bytes.clone()).ok()?))).collect();
    Ok((result, sources, packages))
}

/// The files the loader did not read as manifests, each with its rule.
fn print_skipped(skipped: &[dromos_core::load::SkippedFile], to: &mut dyn Write) -> Result<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    writeln!(to, "skipped {} file(s), not read as manifests:", skipped.len())?;
    for s in skipped {
        writeln!(to, "  {}: {}", s.path, s.rule)?;
    }
    Ok(())
}

/// Diagnostics as rustc-style text (with the source lines) or as JSON.
fn print_diagnostics(
    diags: &[dromos_core::Diagnostic],
    sources: &BTreeMap<String, String>,
    format: DiagFormat,
    to: &mut dyn Write,
    root: &std::path::Path,
) -> Result<()> {
    // Annotations name files from where the command runs (a repository's root in CI).
    let prefix = if root.is_dir() { root.to_string_lossy().into_owned() } else { String::new() };
    match format {
        DiagFormat::Text => write!(to, "{}", diag::render_text(diags, |f| sources.get(f).map(String::as_str)))?,
        DiagFormat::Json => writeln!(to, "{}", serde_json::to_string_pretty(diags)?)?,
        DiagFormat::Github => write!(to, "{}", diag::render_github(diags, &prefix))?,
        DiagFormat::Sarif => {
            let log = diag::render_sarif(diags, &prefix, env!("CARGO_PKG_VERSION"));
            writeln!(to, "{}", serde_json::to_string_pretty(&log)?)?
        }
    }
    Ok(())
}

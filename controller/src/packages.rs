//! `dromos package list|describe|render` over a package repository directory (I/O around
//! `dromos_core::package`).

use anyhow::{Context, Result, bail};
use dromos_core::SourceFile;
use dromos_core::package::{self, Repository, options};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Largest file read from a repository.
const MAX_FILE: u64 = 4 * 1024 * 1024;

fn is_package_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    matches!(
        name,
        "package.json"
            | "config.json"
            | "resource.json"
            | "marathon.json.mustache"
            | "package.yaml"
            | "options.schema.json"
    ) || (rel.contains("/templates/") && name.ends_with(".mustache"))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            if !is_package_file(&rel) {
                continue;
            }
            if e.metadata()?.len() > MAX_FILE {
                bail!("{rel}: larger than {MAX_FILE} bytes");
            }
            out.push(SourceFile { path: rel, bytes: std::fs::read(&p)? });
        }
    }
    Ok(())
}

/// Reads a repository directory; problems of single packages go to stderr.
pub fn read_repo(root: &Path) -> Result<Repository> {
    let mut files = Vec::new();
    walk(root, root, &mut files).with_context(|| format!("reading package repository {}", root.display()))?;
    let repo = package::read_repository(&files);
    for p in &repo.problems {
        eprintln!("warning: skipped {p}");
    }
    Ok(repo)
}

/// `dromos package list`.
pub fn list(root: &Path, out: &mut dyn Write) -> Result<ExitCode> {
    let repo = read_repo(root)?;
    writeln!(out, "{:<24} {:<24} {:<9} DESCRIPTION", "NAME", "VERSIONS", "LAYOUT")?;
    for name in repo.names() {
        let vs = repo.versions_of(name);
        let newest = vs[vs.len() - 1];
        let versions: Vec<&str> = vs.iter().map(|v| v.meta.version.as_str()).collect();
        let layout = match newest.layout {
            package::Layout::Universe => "universe",
            package::Layout::Dromos => "dromos",
        };
        writeln!(out, "{name:<24} {:<24} {layout:<9} {}", versions.join(","), newest.meta.description)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dromos package describe`.
pub fn describe(root: &Path, name: &str, version: Option<&str>, config: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let repo = read_repo(root)?;
    let pkg = repo.find(name, version).map_err(anyhow::Error::msg)?;
    let m = &pkg.meta;
    if !config {
        writeln!(out, "name:         {}", m.name)?;
        writeln!(out, "version:      {}", m.version)?;
        writeln!(out, "description:  {}", m.description)?;
        writeln!(out, "maintainer:   {}", m.maintainer)?;
        writeln!(out, "tags:         {}", m.tags.join(", "))?;
        writeln!(out, "upgradesFrom: {}", m.upgrades_from.join(", "))?;
        writeln!(out, "downgradesTo: {}", m.downgrades_to.join(", "))?;
        writeln!(out, "directory:    {}", pkg.dir)?;
        let all: Vec<&str> = repo.versions_of(name).iter().map(|v| v.meta.version.as_str()).collect();
        writeln!(out, "versions:     {}", all.join(", "))?;
        writeln!(out, "templates:    {}", pkg.templates.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(", "))?;
        return Ok(ExitCode::SUCCESS);
    }
    let docs = options::describe(&pkg.schema);
    if docs.is_empty() {
        writeln!(out, "{} {} has no options", m.name, m.version)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{:<40} {:<10} {:<24} DESCRIPTION", "OPTION", "TYPE", "DEFAULT")?;
    for d in docs {
        let default = match (&d.default, d.kind.as_str()) {
            // An object's default is the sum of its properties' lines below it.
            (Some(_), "object") => String::new(),
            (Some(v), _) => v.to_string(),
            (None, _) if d.required => "(required)".into(),
            (None, _) => String::new(),
        };
        writeln!(out, "{:<40} {:<10} {default:<24} {}", d.path, d.kind, d.description)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dromos package render`: the objects as a YAML stream, or exit 1 with the option errors.
pub fn render(
    root: &Path,
    name: &str,
    version: Option<&str>,
    options_file: Option<&Path>,
    namespace: &str,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let repo = read_repo(root)?;
    let pkg = repo.find(name, version).map_err(anyhow::Error::msg)?;
    let user: Value = match options_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_saphyr::from_str(&text).with_context(|| format!("{}: not JSON or YAML", p.display()))?
        }
        None => Value::Null,
    };
    match package::render(pkg, &user, namespace, &root.display().to_string()) {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            out.write_all(dromos_core::render::to_yaml_stream(&r.objects).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {} {}: {e}", pkg.meta.name, pkg.meta.version);
            Ok(ExitCode::from(1))
        }
    }
}

//! `dromos crds`: write, check or print the CRD manifests and the manifest reference (I/O: files,
//! stdout).

use crate::crdgen;
use anyhow::Result;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Prints the CRDs (`--stdout`), checks the committed files (`--check`, exit 1 when stale),
/// creates or replaces them in the cluster (`--apply`) or writes them.
pub(crate) fn run(root: &Path, check: bool, stdout: bool, apply: bool) -> Result<ExitCode> {
    if apply {
        return super::block_on(async {
            let cluster = crate::apiclient::connect().await?;
            eprintln!("applying the Dromos CRDs to {}", cluster.described);
            for (name, applied) in crdgen::apply_crds(&cluster.client).await? {
                let what = match applied {
                    crdgen::Applied::Created => "created",
                    crdgen::Applied::Replaced => "replaced",
                    crdgen::Applied::Unchanged => "unchanged",
                };
                println!("{name}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        });
    }
    if stdout {
        let mut out = std::io::stdout().lock();
        for (_, text) in crdgen::render_crds() {
            out.write_all(text.as_bytes())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if check {
        let stale = crdgen::stale_crds(root);
        if stale.is_empty() {
            println!("CRDs are up to date");
            return Ok(ExitCode::SUCCESS);
        }
        for p in stale {
            eprintln!("stale: {} (run `dromos crds`)", p.display());
        }
        return Ok(ExitCode::from(1));
    }
    for p in crdgen::write_crds(root)? {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `dromos schema`: prints one kind's JSON Schema, or writes every one into `dir`.
pub(crate) fn schema(kind: Option<&str>, dir: Option<&Path>) -> Result<ExitCode> {
    let mut all = crdgen::json_schemas();
    all.push(("service".into(), dromos_core::service::spec::json_schema()));
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
        for (k, s) in &all {
            let p = dir.join(format!("{}.schema.json", k.to_ascii_lowercase()));
            std::fs::write(&p, serde_json::to_string_pretty(s)? + "\n")?;
            println!("wrote {}", p.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let want = kind.unwrap_or_default();
    match all.iter().find(|(k, _)| k.eq_ignore_ascii_case(want)) {
        Some((_, s)) => {
            println!("{}", serde_json::to_string_pretty(s)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let kinds: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
            eprintln!("no schema for {want:?}; one of: {}", kinds.join(", "));
            Ok(ExitCode::from(1))
        }
    }
}

//! `dromos import`: DC/OS definitions (files or a live API) turned into Dromos manifests, with
//! a report of every field not carried over (I/O: reads inputs, writes files).

use super::args::{ImportArgs, ImportSystem};
use anyhow::{Context, Result};
use dromos_core::diag;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

impl ImportSystem {
    fn flavor(self) -> dromos_core::import::Flavor {
        use dromos_core::import::Flavor;
        match self {
            ImportSystem::Marathon => Flavor::Marathon,
            ImportSystem::Metronome => Flavor::Metronome,
            ImportSystem::Chronos => Flavor::Chronos,
            ImportSystem::Package => Flavor::Package,
        }
    }
}

/// `dromos import`: read, convert, verify, report, write.
pub(crate) fn run(a: ImportArgs) -> Result<ExitCode> {
    use dromos_core::import;
    let flavor = a.system.flavor();
    let mut stderr = std::io::stderr().lock();
    let inputs = match &a.from {
        Some(url) => crate::import::fetch_inputs(flavor, url, a.token.as_deref(), a.max_file_bytes),
        None => crate::import::read_inputs(&a.paths, a.max_file_bytes),
    };
    let inputs = match inputs {
        Ok(i) => i,
        Err(e) => {
            writeln!(stderr, "error: {e:#}")?;
            return Ok(ExitCode::from(1));
        }
    };
    let opts = import::ImportOptions { default_namespace: a.default_namespace.clone() };
    let result = match import::import(flavor, &inputs, &opts) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                writeln!(stderr, "error: {e}")?;
            }
            writeln!(stderr, "{} error(s); nothing written", errors.len())?;
            return Ok(ExitCode::from(1));
        }
    };
    // The written files must pass `dromos validate`; render warnings say what Kubernetes
    // approximates.
    let (diags, warnings) = dromos_core::verify::verify_import(&result.objects, &opts);
    let texts: BTreeMap<String, String> = result.objects.iter().map(|o| (o.path(), o.to_yaml())).collect();
    let mut shown = diags.clone();
    shown.extend(warnings);
    diag::sort_diagnostics(&mut shown);
    if !shown.is_empty() {
        write!(stderr, "{}", diag::render_text(&shown, |f| texts.get(f).map(String::as_str)))?;
    }
    let invalid = diags.iter().any(dromos_core::Diagnostic::is_error);
    let text = result.report.text();
    match &a.report {
        Some(p) => std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?,
        None => write!(stderr, "{text}")?,
    }
    let lossy = result.report.losses() > 0;
    if a.strict && (lossy || invalid) {
        writeln!(stderr, "--strict: nothing written")?;
        return Ok(ExitCode::from(if invalid { 1 } else { 3 }));
    }
    crate::import::write_objects(&a.output, &result.objects)?;
    let count = |k: &str| result.objects.iter().filter(|o| o.kind == k).count();
    println!(
        "imported {} object(s) into {}: {} App, {} Job, {} Package",
        result.objects.len(),
        a.output.display(),
        count("App"),
        count("Job"),
        count("Package")
    );
    Ok(if invalid {
        ExitCode::from(1)
    } else if lossy {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

//! `dromos quickstart`: the main job end to end on the local control plane (I/O: starts the
//! cluster, a Git repository, the controller; logs to a file).

use super::{block_on, log_filter};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the quickstart; exit 0 when every object is ready, 3 when not.
pub(crate) fn run(
    keep_running: bool,
    examples: Option<PathBuf>,
    kubeconfig: Option<PathBuf>,
    timeout: u64,
) -> Result<ExitCode> {
    block_on(async {
        // The repository checkout this binary was built from (tests/cluster, examples/).
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default();
        let log = std::env::temp_dir().join("dromos-quickstart.log");
        let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(log_filter())
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
        let opts = crate::quickstart::QuickstartOptions {
            examples: examples.unwrap_or_else(|| root.join("examples")),
            root,
            kubeconfig,
            keep_running,
            timeout: std::time::Duration::from_secs(timeout),
            log,
        };
        let mut out = std::io::stdout();
        let report = crate::quickstart::run(opts, &mut out).await?;
        Ok(if report.rows.iter().all(|r| r.healthy) { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

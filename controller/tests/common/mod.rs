//! Helpers shared by the CLI tests: run the `dromos` binary, compare with golden files.

// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the parent of `controller/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs the binary in the repository root; returns exit code, stdout and stderr.
pub fn dromos(args: &[&str]) -> (i32, String, String) {
    dromos_in(&repo(), args)
}

/// Runs the binary in `dir`, so relative paths (and the names the import report shows) are
/// the same on every machine.
pub fn dromos_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dromos")).current_dir(dir).args(args).output().expect("run dromos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Compares `actual` with `tests/golden/<name>`, or writes it there with `DROMOS_UPDATE_GOLDEN=1`.
pub fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var("DROMOS_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing; run DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos", path.display()));
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!("{} differs from the rendered output (DROMOS_UPDATE_GOLDEN=1 to accept):\n{diff}", path.display());
    }
}

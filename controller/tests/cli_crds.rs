//! Tests of the `dromos` binary's version and help, and of the CRD files it generates.

mod common;

use common::{dromos, repo};
use dromos::crdgen;

#[test]
fn version_and_help() {
    let (code, out, _) = dromos(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("dromos {}", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = dromos(&["--help"]);
    assert_eq!(code, 0);
    for cmd in ["validate", "render", "crds"] {
        assert!(out.contains(cmd), "{out}");
    }
}

#[test]
fn committed_crds_are_fresh() {
    let stale = crdgen::stale_crds(&repo());
    assert!(stale.is_empty(), "stale CRD or docs/reference files (run `cargo run -p dromos -- crds`): {stale:?}");
}

//! Embeds the built-in package catalog (`packages/` at the repository root) into the binary:
//! writes `$OUT_DIR/catalog.rs` with one `include_bytes!` per file.

use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            // A directory's own entry: its mtime changes when a file is added or removed, which
            // the files' own entries cannot see.
            println!("cargo:rerun-if-changed={}", p.display());
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).expect("inside root").to_string_lossy().replace('\\', "/");
            out.push((rel, p.canonicalize().expect("canonical path")));
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packages");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut code = String::from(
        "/// Files of the built-in catalog: path relative to `packages/`, and bytes.\npub static CATALOG: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        code.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("catalog.rs");
    std::fs::write(out, code).expect("writing catalog.rs");
}

//! Reading a manifest tree from the file system (I/O).
//!
//! Walks a directory (or takes one file), keeps `*.yaml`, `*.yml`, `*.json` and `.dromosignore`
//! files (the loader applies their rules), skips other hidden entries such as `.git`, refuses symlinks that resolve outside the root, and returns the
//! files sorted by path for the pure loader.

use dromos_core::{Diagnostic, Pos, SourceFile};
use std::path::{Path, PathBuf};

/// Files of a tree plus the problems met while reading it.
#[derive(Debug, Default)]
pub struct TreeFiles {
    /// Files, sorted by relative path.
    pub files: Vec<SourceFile>,
    /// Problems that concern whole files (unreadable, symlink escapes).
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads `path` (a directory or a single file).
pub fn fetch_tree(path: &Path, max_file_bytes: usize) -> std::io::Result<TreeFiles> {
    let mut out = TreeFiles::default();
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        read_one(path, &name, max_file_bytes, &mut out);
        return Ok(out);
    }
    let root = path.canonicalize()?;
    walk(&root, &root, max_file_bytes, &mut out)?;
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn file_error(file: &str, code: &'static str, msg: String) -> Diagnostic {
    Diagnostic::error(code, file, Pos::default(), "", msg)
}

fn walk(root: &Path, dir: &Path, max: usize, out: &mut TreeFiles) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Hidden entries (`.git`, `.github`) are not read, except the ignore rules of the tree.
        if name.starts_with('.') && name != dromos_core::load::IGNORE_FILE {
            continue;
        }
        let relpath = rel(root, &p);
        let lmeta = std::fs::symlink_metadata(&p)?;
        let target = if lmeta.file_type().is_symlink() {
            match p.canonicalize() {
                Ok(t) if t.starts_with(root) => t,
                Ok(t) => {
                    if dromos_core::load::is_manifest_path(&relpath) || t.is_dir() {
                        out.diagnostics.push(
                            file_error(
                                &relpath,
                                "symlink-escape",
                                format!("symlink points outside the tree (to {})", t.display()),
                            )
                            .with_hint("copy the file into the repository instead"),
                        );
                    }
                    continue;
                }
                Err(e) => {
                    out.diagnostics.push(file_error(&relpath, "unreadable", format!("broken symlink: {e}")));
                    continue;
                }
            }
        } else {
            p.clone()
        };
        let meta = std::fs::metadata(&target)?;
        if meta.is_dir() {
            // A symlink to a directory inside the root is walked as itself; loops are cut by
            // never following a symlinked directory twice.
            if lmeta.file_type().is_symlink() {
                continue;
            }
            walk(root, &p, max, out)?;
        } else if dromos_core::load::is_loader_input(&relpath) {
            read_one(&target, &relpath, max, out);
        }
    }
    Ok(())
}

fn read_one(path: &Path, relpath: &str, max: usize, out: &mut TreeFiles) {
    match std::fs::metadata(path) {
        // Refuse before reading, so a huge file never enters memory.
        Ok(m) if m.len() as usize > max => {
            out.diagnostics.push(
                file_error(
                    relpath,
                    "file-too-large",
                    format!("file is {} bytes, more than the limit of {max}", m.len()),
                )
                .with_hint("split it into several files"),
            );
        }
        Ok(_) => match std::fs::read(path) {
            Ok(bytes) => out.files.push(SourceFile { path: relpath.to_string(), bytes }),
            Err(e) => out.diagnostics.push(file_error(relpath, "unreadable", format!("cannot read: {e}"))),
        },
        Err(e) => out.diagnostics.push(file_error(relpath, "unreadable", format!("cannot read: {e}"))),
    }
}

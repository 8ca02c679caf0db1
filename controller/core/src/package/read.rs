//! Reading a package repository from its files (pure): Universe and Dromos layouts.

use super::{Layout, Meta, PackageVersion, RepoProblem, Repository, order, strings};
use crate::load::SourceFile;
use serde_json::Value;
use std::collections::BTreeMap;

fn text(f: &SourceFile) -> Result<&str, RepoProblem> {
    std::str::from_utf8(&f.bytes).map_err(|_| RepoProblem { file: f.path.clone(), message: "not UTF-8 text".into() })
}

fn json_file(f: &SourceFile) -> Result<Value, RepoProblem> {
    serde_json::from_str(text(f)?)
        .map_err(|e| RepoProblem { file: f.path.clone(), message: format!("not valid JSON: {e}") })
}

fn meta_from(v: &Value, file: &str) -> Result<Meta, RepoProblem> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let need = |k: &str| {
        s(k).ok_or_else(|| RepoProblem { file: file.into(), message: format!("`{k}` (a string) is required") })
    };
    Ok(Meta {
        name: need("name")?,
        version: need("version")?,
        description: s("description").unwrap_or_default(),
        maintainer: s("maintainer").unwrap_or_default(),
        tags: strings(&v["tags"]),
        upgrades_from: strings(&v["upgradesFrom"]),
        downgrades_to: strings(&v["downgradesTo"]),
    })
}

/// Reads a repository from its files (paths relative to its root).
pub fn read_repository(files: &[SourceFile]) -> Repository {
    let mut dirs: BTreeMap<String, BTreeMap<String, &SourceFile>> = BTreeMap::new();
    for f in files {
        let p = f.path.trim_start_matches("./");
        let segs: Vec<&str> = p.split('/').collect();
        // Universe: packages/<L>/<name>/<revision>/<file>
        if segs.len() == 5 && segs[0] == "packages" {
            dirs.entry(segs[..4].join("/")).or_default().insert(segs[4].to_string(), f);
        } else if segs.len() >= 3 && segs[0] != "packages" {
            // Dromos: <name>/<version>/<file or templates/...>
            dirs.entry(segs[..2].join("/")).or_default().insert(segs[2..].join("/"), f);
        }
    }
    let mut repo = Repository::default();
    for (dir, files) in dirs {
        let read = if files.contains_key("package.json") {
            read_universe(&dir, &files)
        } else if files.contains_key("package.yaml") {
            read_dromos(&dir, &files)
        } else {
            continue;
        };
        match read {
            Ok(v) => repo.versions.push(v),
            Err(p) => repo.problems.push(p),
        }
    }
    repo.versions.sort_by(|a, b| a.meta.name.cmp(&b.meta.name).then_with(|| order(a, b)));
    repo
}

fn read_universe(dir: &str, files: &BTreeMap<String, &SourceFile>) -> Result<PackageVersion, RepoProblem> {
    let pj = files["package.json"];
    let meta = meta_from(&json_file(pj)?, &pj.path)?;
    let revision = dir.rsplit('/').next().and_then(|r| r.parse().ok());
    let schema = files.get("config.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let resource = files.get("resource.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let mut templates = Vec::new();
    if let Some(f) = files.get("marathon.json.mustache") {
        templates.push(("marathon.json.mustache".to_string(), text(f)?.to_string()));
    }
    Ok(PackageVersion { layout: Layout::Universe, dir: dir.into(), revision, meta, schema, resource, templates })
}

fn read_dromos(dir: &str, files: &BTreeMap<String, &SourceFile>) -> Result<PackageVersion, RepoProblem> {
    let py = files["package.yaml"];
    let docs = crate::yaml::parse_documents(text(py)?, crate::yaml::Budget::default())
        .map_err(|e| RepoProblem { file: py.path.clone(), message: format!("not valid YAML: {}", e.message) })?;
    let doc = docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null);
    let meta = meta_from(&doc, &py.path)?;
    let schema = files.get("options.schema.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let resource = files.get("resource.json").map(|f| json_file(f)).transpose()?.unwrap_or(Value::Null);
    let mut templates = Vec::new();
    for (name, f) in files {
        if (name.starts_with("templates/") && name.ends_with(".mustache")) || name == super::SERVICE_FILE {
            templates.push((name.clone(), text(f)?.to_string()));
        }
    }
    if templates.is_empty() {
        return Err(RepoProblem {
            file: py.path.clone(),
            message: format!("the package has no templates/*.mustache and no {}", super::SERVICE_FILE),
        });
    }
    Ok(PackageVersion { layout: Layout::Dromos, dir: dir.into(), revision: None, meta, schema, resource, templates })
}

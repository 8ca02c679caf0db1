//! `dromos package init NAME` (pure): the files of a new package, a small web service on the
//! service specification that lints clean, renders, and passes `dromos package test`.

/// The files of package `name` at version 1.0.0, relative to the repository root, or why the
/// name cannot be a package's.
pub fn scaffold(name: &str) -> Result<Vec<(String, String)>, String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        return Err(format!("{name:?}: a package name is lowercase letters, digits and '-', at most 40"));
    }
    let files = [
        ("package.yaml", include_str!("scaffold/package.yaml")),
        ("options.schema.json", include_str!("scaffold/options.schema.json")),
        ("service.yaml.mustache", include_str!("scaffold/service.yaml.mustache")),
        ("templates/10-service.yaml.mustache", include_str!("scaffold/templates/10-service.yaml.mustache")),
        ("test.yaml", include_str!("scaffold/test.yaml")),
        ("README.md", include_str!("scaffold/README.md")),
    ];
    Ok(files
        .iter()
        .map(|(path, text)| {
            // `$SERVICE_NAME` in test.yaml is the checks' variable, not the package name.
            let text = if *path == "package.yaml" || *path == "README.md" {
                text.replace("NAME", name)
            } else {
                text.to_string()
            };
            (format!("{name}/1.0.0/{path}"), text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::scaffold;
    use crate::SourceFile;

    #[test]
    fn a_scaffolded_package_reads_renders_and_lints_clean() {
        let files: Vec<SourceFile> = scaffold("web")
            .unwrap()
            .into_iter()
            .map(|(path, text)| SourceFile { path, bytes: text.into_bytes() })
            .collect();
        let repo = crate::package::read_repository(&files);
        assert!(repo.problems.is_empty(), "{:?}", repo.problems);
        let pkg = repo.find("web", None).unwrap();
        let test =
            files.iter().find(|f| f.path.ends_with("test.yaml")).map(|f| String::from_utf8_lossy(&f.bytes).to_string());
        let findings = crate::package::lint::lint(pkg, test.as_deref());
        assert!(findings.is_empty(), "{findings:#?}");
        assert!(scaffold("Web").is_err() && scaffold("-x").is_err());
        let test = test.unwrap();
        assert!(test.contains("http://$SERVICE_NAME-node-0.$SERVICE_NAME-node.$SERVICE_DOMAIN:8080/"), "{test}");
    }

    #[test]
    fn lint_finds_undocumented_options_bad_examples_and_pod_types_no_plan_launches() {
        let mut files: Vec<SourceFile> = scaffold("web")
            .unwrap()
            .into_iter()
            .map(|(path, text)| SourceFile { path, bytes: text.into_bytes() })
            .collect();
        for f in &mut files {
            let text = String::from_utf8_lossy(&f.bytes).to_string();
            let text = if f.path.ends_with("options.schema.json") {
                text.replace(", \"description\": \"Instances, deployed one at a time\"", "")
                    .replace("{\"greeting\": \"bonjour\", ", "{\"greeting\": 5, ")
            } else if f.path.ends_with("service.yaml.mustache") {
                text.replace("plans:\n", "  idle:\n    count: 1\n    image: x\n    tasks:\n      t: {goal: RUNNING, cmd: sleep 1, cpus: 0.1, memory: 8}\nplans:\n")
            } else {
                text
            };
            f.bytes = text.into_bytes();
        }
        let repo = crate::package::read_repository(&files);
        let pkg = repo.find("web", None).unwrap();
        let findings = crate::package::lint::lint(pkg, Some("update: 1\n"));
        let text: Vec<String> = findings.iter().map(|f| format!("{} {}: {}", f.error, f.file, f.message)).collect();
        let has = |s: &str| text.iter().any(|t| t.contains(s));
        assert!(has("option nodes.count has no description"), "{text:#?}");
        assert!(has("does not render with examples[1]"), "{text:#?}");
        assert!(has("pod type idle is in no phase of the deploy plan"), "{text:#?}");
        assert!(has("web/1.0.0/test.yaml:1: update"), "{text:#?}");
        assert!(findings.iter().all(|f| f.error || f.message.contains("update plan")), "{text:#?}");
    }
}

//! The test file of a package version (`test.yaml` beside `package.yaml`), which
//! `dromos package test` follows: options to install with, options to change for the update
//! plan, and smoke checks run as Jobs once the deploy plan is complete and again after the
//! update. Parsed strictly, problems at their line.

use crate::diag::Diagnostic;
use crate::yaml::{Budget, parse_documents};
use serde::Deserialize;
use serde_json::Value;

/// Name of the file in a package version's directory.
pub const TEST_FILE: &str = "test.yaml";

/// A package's test.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageTest {
    /// Options of the install, over the schema's defaults.
    #[serde(default)]
    pub install: Value,
    /// Options merged over `install` for the update: a change the `update` plan rolls out.
    pub update: Value,
    /// Smoke checks, each a Job of one container that must succeed.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Longest wait for each stage (deploy, checks, update, uninstall).
    #[serde(default = "ten_minutes")]
    pub timeout_seconds: u32,
}

/// A smoke check: a container that exits 0 when the service works. It gets `SERVICE_NAME`
/// (the Package) and `SERVICE_DOMAIN` (`<namespace>.svc`), so it can reach
/// `$SERVICE_NAME-<pod>-<index>.$SERVICE_NAME-<pod>.$SERVICE_DOMAIN`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Check {
    /// Name (lowercase letters, digits and '-').
    pub name: String,
    /// Image.
    pub image: String,
    /// Shell command.
    pub cmd: String,
}

fn ten_minutes() -> u32 {
    600
}

/// Parses `text` of file `file`: the test, or every problem at its line.
pub fn parse(file: &str, text: &str) -> Result<PackageTest, Vec<Diagnostic>> {
    let docs = parse_documents(text, Budget::default())
        .map_err(|e| vec![Diagnostic::error(e.code, file, e.pos, "", e.message)])?;
    let [doc] = docs.as_slice() else {
        return Err(vec![Diagnostic::error(
            "test-documents",
            file,
            Default::default(),
            "",
            "one YAML document expected",
        )]);
    };
    let test: PackageTest = serde_path_to_error::deserialize(&doc.value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        vec![Diagnostic::error("test-field", file, doc.index.pos(&path), &path, e.into_inner().to_string())]
    })?;
    let mut problems = vec![];
    if !test.update.is_object() {
        problems.push(("update".to_string(), "options to change for the update plan (a mapping)".to_string()));
    }
    for (i, c) in test.checks.iter().enumerate() {
        let ok = !c.name.is_empty()
            && c.name.len() <= 40
            && c.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok || test.checks.iter().filter(|o| o.name == c.name).count() > 1 {
            problems.push((
                format!("checks[{i}].name"),
                format!("{:?}: a unique name of lowercase letters, digits and '-'", c.name),
            ));
        }
    }
    if test.timeout_seconds == 0 || test.timeout_seconds > 3600 {
        problems.push(("timeoutSeconds".into(), format!("{}: between 1 and 3600", test.timeout_seconds)));
    }
    if problems.is_empty() {
        Ok(test)
    } else {
        Err(problems
            .into_iter()
            .map(|(path, msg)| Diagnostic::error("test-invalid", file, doc.index.pos(&path), &path, msg))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_test_file_parses_and_its_problems_are_at_their_lines() {
        let ok = parse(
            "t.yaml",
            "install: {count: 1}\nupdate: {version: b}\nchecks:\n  - {name: up, image: busybox, cmd: 'true'}\n",
        )
        .unwrap();
        assert_eq!((ok.checks.len(), ok.timeout_seconds), (1, 600));
        let bad =
            parse("t.yaml", "update: 3\nchecks:\n  - {name: Up, image: b, cmd: x}\ntimeoutSeconds: 0\n").unwrap_err();
        let got: Vec<String> = bad.iter().map(|d| format!("{}:{}", d.line, d.field)).collect();
        assert_eq!(got, ["1:update", "3:checks[0].name", "4:timeoutSeconds"]);
        let unknown = parse("t.yaml", "update: {}\nsmoke: []\n").unwrap_err();
        assert_eq!(unknown[0].line, 2, "{unknown:?}");
    }
}

//! Diagnostics: what is wrong, where, and what to do (pure).
//!
//! Every problem Dromos finds in a manifest tree is a [`Diagnostic`] with a file, a 1-based
//! line and column, the field path, a message and an optional hint. They are rendered like
//! rustc for terminals ([`render_text`]) and serialise to JSON for machines.

use serde::Serialize;
use std::fmt::Write as _;

/// How bad a diagnostic is. Errors block a sync; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The tree is invalid: nothing is applied.
    Error,
    /// Applied, but the user should know (e.g. an approximated constraint).
    Warning,
}

/// A 1-based line and column in a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
}

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `unknown-field`; reused as Event reason and metric label.
    pub code: &'static str,
    /// File name as given to the loader (relative to the tree root).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub column: u32,
    /// Field path inside the document, e.g. `spec.constraints[0][1]`; empty for the document.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(code: &'static str, file: &str, pos: Pos, field: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            file: file.to_string(),
            line: pos.line,
            column: pos.col,
            field: field.to_string(),
            message: message.into(),
            hint: None,
        }
    }

    /// A warning at a position.
    pub fn warning(code: &'static str, file: &str, pos: Pos, field: &str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, file, pos, field, message) }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, line, column, then message, so output is stable.
pub fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.field, &a.message).cmp(&(&b.file, b.line, b.column, &b.field, &b.message))
    });
}

/// Renders diagnostics like rustc: a headline, the location, the source line with a caret,
/// and the hint. `source` returns a file's text when it is available.
pub fn render_text<'a>(diags: &[Diagnostic], source: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{level}[{}]: {}", d.code, d.message);
        let _ = writeln!(out, "  --> {}:{}:{}", d.file, d.line, d.column);
        if !d.field.is_empty() {
            let _ = writeln!(out, "   = field: {}", d.field);
        }
        if d.line > 0
            && let Some(line) = source(&d.file).and_then(|s| s.lines().nth(d.line as usize - 1))
        {
            let num = d.line.to_string();
            let pad = " ".repeat(num.len());
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{num} | {line}");
            let caret_at = (d.column.max(1) - 1) as usize;
            let _ = writeln!(out, "{pad} | {}^", " ".repeat(caret_at.min(line.chars().count())));
        }
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "   = help: {h}");
        }
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let _ = writeln!(out, "{errors} error(s), {warnings} warning(s)");
    out
}

/// The closest candidate to `word` by Jaro-Winkler similarity, if it is close enough to be a
/// plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The path a diagnostic names, as seen from the repository root: `prefix` is the tree's
/// directory relative to it (empty for the root).
fn repo_path(prefix: &str, file: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() || prefix == "." { file.to_string() } else { format!("{prefix}/{file}") }
}

/// GitHub Actions workflow commands, one per diagnostic (`::error file=F,line=L,col=C,title=T::M`),
/// which GitHub shows as annotations on the pull request's lines. Properties and message are
/// escaped as the runner requires (`%`, CR, LF, and `:`/`,` in properties).
pub fn render_github(diags: &[Diagnostic], prefix: &str) -> String {
    fn data(s: &str) -> String {
        s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
    }
    fn property(s: &str) -> String {
        data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!("file={}", property(&repo_path(prefix, &d.file)))];
        if d.line > 0 {
            props.push(format!("line={}", d.line));
        }
        if d.column > 0 {
            props.push(format!("col={}", d.column));
        }
        let title = if d.field.is_empty() { d.code.to_string() } else { format!("{} ({})", d.code, d.field) };
        props.push(format!("title={}", property(&title)));
        let mut message = d.message.clone();
        if let Some(h) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(h);
        }
        out.push_str(&format!("::{level} {}::{}\n", props.join(","), data(&message)));
    }
    out
}

/// A SARIF 2.1.0 log of the diagnostics (code scanning uploads show them on the lines of a
/// pull request): one run of the tool `dromos`, a rule per diagnostic code.
pub fn render_sarif(diags: &[Diagnostic], prefix: &str, version: &str) -> serde_json::Value {
    let mut codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let results: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let mut region = serde_json::json!({"startLine": d.line.max(1)});
            if d.column > 0 {
                region["startColumn"] = d.column.into();
            }
            let mut text = d.message.clone();
            if !d.field.is_empty() {
                text = format!("{}: {text}", d.field);
            }
            if let Some(h) = &d.hint {
                text.push_str(&format!(" (hint: {h})"));
            }
            serde_json::json!({
                "ruleId": d.code,
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": repo_path(prefix, &d.file)},
                    "region": region,
                }}],
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dromos",
                "version": version,
                "rules": codes.iter().map(|c| serde_json::json!({"id": c})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_the_typo_fix() {
        let fields = ["instances", "cpus", "mem", "constraints"];
        assert_eq!(closest("instancess", fields), Some("instances"));
        assert_eq!(closest("Instances", fields), Some("instances"));
        assert_eq!(closest("zzz", fields), None);
    }

    #[test]
    fn text_rendering_points_at_the_column() {
        let d =
            Diagnostic::error("unknown-field", "a.yaml", Pos { line: 2, col: 3 }, "spec.instancess", "unknown field")
                .with_hint("did you mean `instances`?");
        let text = render_text(&[d], |_| Some("spec:\n  instancess: 3\n"));
        assert!(text.contains("--> a.yaml:2:3"), "{text}");
        assert!(text.contains("2 |   instancess: 3"), "{text}");
        assert!(text.contains("  |   ^"), "{text}");
        assert!(text.contains("help: did you mean `instances`?"), "{text}");
        assert!(text.ends_with("1 error(s), 0 warning(s)\n"), "{text}");
    }

    #[test]
    fn github_annotations_name_the_file_from_the_repository_root_and_escape() {
        let mut d = Diagnostic::error(
            "unknown-field",
            "apps/web.yaml",
            Pos { line: 7, col: 3 },
            "spec.instancess",
            "unknown field: a, b\nnext",
        );
        d.hint = Some("did you mean instances?".into());
        let out = super::render_github(&[d.clone()], "deploy/");
        assert_eq!(
            out,
            "::error file=deploy/apps/web.yaml,line=7,col=3,title=unknown-field (spec.instancess)::unknown field: a, b%0Anext%0Ahint: did you mean instances?\n"
        );
        let sarif = super::render_sarif(&[d], ".", "0.1.0");
        let r = &sarif["runs"][0]["results"][0];
        assert_eq!(r["ruleId"], "unknown-field");
        assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "apps/web.yaml");
        assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 7);
        assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"][0]["id"], "unknown-field");
    }
}

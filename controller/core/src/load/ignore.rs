//! Which files of a tree are not manifests (pure): `.dromosignore` files (gitignore syntax, one
//! per directory, deeper files winning as in Git) over built-in defaults for well-known YAML
//! and JSON that is not Kubernetes objects (Helm charts, Kustomize, Renovate, CI settings).
//!
//! The loader ([`super::load_files`]) applies the rules before parsing, so `dromos validate`,
//! `plan`, `sync` and the GitSource controller skip the same files, and lists every skipped file
//! with the rule that skipped it. A `.dromosignore` line `!Chart.yaml` loads a file a default
//! would skip. The root `.dromosignore` may also hold directives, lines starting with `#!`:
//! `#! skip-files-without-kind` skips YAML and JSON files none of whose documents has an
//! `apiVersion` or a `kind` (configuration of other tools) instead of reporting them.

use super::SourceFile;
use crate::diag::{Diagnostic, Pos};
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::sync::LazyLock;

/// The name of an ignore file.
pub const IGNORE_FILE: &str = ".dromosignore";

/// The directive that skips files without `apiVersion` and `kind`.
pub const SKIP_WITHOUT_KIND: &str = "skip-files-without-kind";

/// Built-in rules (gitignore syntax), applied before any `.dromosignore`: files of other tools
/// that sit beside manifests in real repositories. A directory holding `Chart.yaml` is a Helm
/// chart (its templates are not YAML until Helm renders them), so the whole directory goes.
pub const DEFAULT_RULES: &[&str] = &[
    "Chart.yaml",
    "Chart.lock",
    "values*.yaml",
    "values*.yml",
    "values*.json",
    "kustomization.yaml",
    "kustomization.yml",
    "renovate.json",
    ".renovaterc.json",
    ".github/",
    ".gitlab-ci.yml",
    ".gitlab/",
    ".pre-commit-config.yaml",
    ".yamllint.yaml",
    ".yamllint.yml",
];

/// A file the loader did not read as manifests, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedFile {
    /// Path of the file in the tree.
    pub path: String,
    /// The rule: `default rule `Chart.yaml``, `.dromosignore:3 `drafts/``, `inside the Helm
    /// chart of charts/web/Chart.yaml`, or `no apiVersion or kind (#! skip-files-without-kind)`.
    pub rule: String,
}

/// The rules of a tree: built from its `.dromosignore` files.
#[derive(Debug)]
pub struct Rules {
    /// Defaults first, then the root file: later lines win, so `!` re-includes a default.
    root: Gitignore,
    /// `(directory, its matcher)` of nested files, shallowest first.
    nested: Vec<(String, Gitignore)>,
    /// Where a directive turned on skipping files without `apiVersion` and `kind`.
    skip_without_kind: Option<String>,
    /// Helm chart directories (holding a `Chart.yaml` that is skipped).
    charts: Vec<String>,
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn name_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(_, n)| n).unwrap_or(path)
}

/// Paths are matched as absolute (`/a/b.yaml`), so every matcher's root is a prefix.
fn abs(path: &str) -> String {
    format!("/{path}")
}

fn file_error(file: &str, line: u32, message: String) -> Diagnostic {
    Diagnostic::error("invalid-ignore-rule", file, Pos { line, col: 1 }, "", message)
}

/// Adds the lines of one ignore file to `b`; directives are taken only when `root`.
fn add_file(
    b: &mut GitignoreBuilder,
    f: &SourceFile,
    root: bool,
    skip: &mut Option<String>,
    diags: &mut Vec<Diagnostic>,
) {
    let Ok(text) = std::str::from_utf8(&f.bytes) else {
        diags.push(file_error(&f.path, 0, "not UTF-8 text".into()));
        return;
    };
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if let Some(d) = line.strip_prefix("#!") {
            let d = d.trim();
            if !root {
                diags.push(
                    file_error(&f.path, n, format!("directive `{d}` is only read in the root {IGNORE_FILE}"))
                        .with_hint("move it to the .dromosignore at the top of the tree"),
                );
            } else if d == SKIP_WITHOUT_KIND {
                *skip = Some(format!("{}:{n}", f.path));
            } else {
                diags.push(
                    file_error(&f.path, n, format!("unknown directive `{d}`"))
                        .with_hint(format!("the one directive is `#! {SKIP_WITHOUT_KIND}`")),
                );
            }
            continue;
        }
        // Gitignore origin `file:line`, so a match says which line of which file it was.
        if let Err(e) = b.add_line(Some(format!("{}:{n}", f.path).into()), line) {
            diags.push(file_error(&f.path, n, format!("`{}` is not a valid gitignore pattern: {e}", line.trim())));
        }
    }
}

fn default_builder() -> GitignoreBuilder {
    let mut root = GitignoreBuilder::new("/");
    for (i, rule) in DEFAULT_RULES.iter().enumerate() {
        root.add_line(Some(format!("default rule {}", i + 1).into()), rule).expect("default rules parse");
    }
    root
}

/// The matcher of [`DEFAULT_RULES`] alone.
static DEFAULTS: LazyLock<Gitignore> = LazyLock::new(|| default_builder().build().expect("default rules build"));

impl Rules {
    /// The rules of a tree, from its `.dromosignore` files (other files are only looked at for
    /// Helm charts); problems of the ignore files as diagnostics at their line.
    pub fn of(files: &[SourceFile]) -> (Rules, Vec<Diagnostic>) {
        let mut diags = vec![];
        let mut skip = None;
        // The root matcher: the default rules and the root ignore file's, built only when there
        // is one (building compiles the patterns; the defaults alone are compiled once per
        // process, and every App the operator checks uses them).
        let mut root: Option<GitignoreBuilder> = None;
        let mut nested = vec![];
        let mut ignore_files: Vec<&SourceFile> = files.iter().filter(|f| name_of(&f.path) == IGNORE_FILE).collect();
        ignore_files.sort_by_key(|f| (f.path.matches('/').count(), f.path.clone()));
        for f in ignore_files {
            let dir = dir_of(&f.path);
            if dir.is_empty() {
                add_file(root.get_or_insert_with(default_builder), f, true, &mut skip, &mut diags);
            } else {
                let mut b = GitignoreBuilder::new(abs(dir));
                add_file(&mut b, f, false, &mut skip, &mut diags);
                match b.build() {
                    Ok(g) => nested.push((dir.to_string(), g)),
                    Err(e) => diags.push(file_error(&f.path, 0, e.to_string())),
                }
            }
        }
        let root = match root {
            None => DEFAULTS.clone(),
            Some(b) => b.build().unwrap_or_else(|e| {
                diags.push(file_error(IGNORE_FILE, 0, e.to_string()));
                Gitignore::empty()
            }),
        };
        let mut rules = Rules { root, nested, skip_without_kind: skip, charts: vec![] };
        rules.charts = files
            .iter()
            .filter(|f| name_of(&f.path) == "Chart.yaml" && rules.rule_of(&f.path).is_some())
            .map(|f| dir_of(&f.path).to_string())
            .filter(|d| !d.is_empty())
            .collect();
        (rules, diags)
    }

    /// Why `path` is skipped before parsing, or `None` when it is loaded.
    pub fn rule_of(&self, path: &str) -> Option<String> {
        if name_of(path) == IGNORE_FILE {
            return Some(format!("{IGNORE_FILE} files hold rules, not manifests"));
        }
        let describe = |m: Match<&ignore::gitignore::Glob>| -> Option<Option<String>> {
            match m {
                Match::None => None,
                Match::Whitelist(_) => Some(None),
                Match::Ignore(g) => {
                    let from = g.from().map(|p| p.display().to_string()).unwrap_or_default();
                    Some(Some(if from.starts_with("default rule") {
                        format!("default rule `{}`", g.original())
                    } else {
                        format!("{from} `{}`", g.original())
                    }))
                }
            }
        };
        let a = abs(path);
        let mut verdict = describe(self.root.matched_path_or_any_parents(&a, false));
        for (dir, g) in &self.nested {
            if path.starts_with(&format!("{dir}/"))
                && let Some(v) = describe(g.matched_path_or_any_parents(&a, false))
            {
                verdict = Some(v);
            }
        }
        if let Some(v) = verdict {
            return v;
        }
        self.charts
            .iter()
            .find(|c| path.starts_with(&format!("{c}/")))
            .map(|c| format!("inside the Helm chart of {c}/Chart.yaml"))
    }

    /// Where `#! skip-files-without-kind` was given, if it was.
    pub fn skip_without_kind(&self) -> Option<&str> {
        self.skip_without_kind.as_deref()
    }
}

/// A file that is not Kubernetes objects: no document has an `apiVersion` or a `kind`.
pub fn has_no_kind(docs: &[&serde_json::Value]) -> bool {
    docs.iter().all(|d| d.get("apiVersion").is_none() && d.get("kind").is_none())
}

/// Whether `path` is a file the loader needs: a manifest or an ignore file.
pub fn is_loader_input(path: &str) -> bool {
    super::is_manifest_path(path) || name_of(path) == IGNORE_FILE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile { path: path.into(), bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn defaults_skip_other_tools_files_and_helm_charts() {
        let files = [
            file("apps/web.yaml", ""),
            file("apps/kustomization.yaml", ""),
            file("charts/web/Chart.yaml", ""),
            file("charts/web/templates/deployment.yaml", ""),
            file("charts/web/values-prod.yaml", ""),
            file(".github/workflows/ci.yml", ""),
            file("renovate.json", ""),
        ];
        let (rules, diags) = Rules::of(&files);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(rules.rule_of("apps/web.yaml"), None);
        assert_eq!(rules.rule_of("apps/kustomization.yaml").as_deref(), Some("default rule `kustomization.yaml`"));
        assert_eq!(rules.rule_of("charts/web/Chart.yaml").as_deref(), Some("default rule `Chart.yaml`"));
        assert_eq!(
            rules.rule_of("charts/web/templates/deployment.yaml").as_deref(),
            Some("inside the Helm chart of charts/web/Chart.yaml")
        );
        assert_eq!(rules.rule_of(".github/workflows/ci.yml").as_deref(), Some("default rule `.github/`"));
        assert_eq!(rules.rule_of("renovate.json").as_deref(), Some("default rule `renovate.json`"));
        assert_eq!(rules.rule_of("charts/web/values-prod.yaml").as_deref(), Some("default rule `values*.yaml`"));
    }

    #[test]
    fn dromosignore_files_add_rules_and_re_include_defaults_deeper_files_win() {
        let files = [
            file(".dromosignore", "drafts/\n!apps/kustomization.yaml\n# a comment\n"),
            file("team/.dromosignore", "*.old.yaml\n!keep.old.yaml\n"),
            file("drafts/x.yaml", ""),
            file("apps/kustomization.yaml", ""),
            file("team/a.old.yaml", ""),
            file("team/keep.old.yaml", ""),
            file("a.old.yaml", ""),
        ];
        let (rules, diags) = Rules::of(&files);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(rules.rule_of("drafts/x.yaml").as_deref(), Some(".dromosignore:1 `drafts/`"));
        assert_eq!(rules.rule_of("apps/kustomization.yaml"), None, "re-included");
        assert_eq!(rules.rule_of("team/a.old.yaml").as_deref(), Some("team/.dromosignore:1 `*.old.yaml`"));
        assert_eq!(rules.rule_of("team/keep.old.yaml"), None);
        assert_eq!(rules.rule_of("a.old.yaml"), None, "a nested file only rules its directory");
        assert!(rules.rule_of(".dromosignore").is_some() && rules.skip_without_kind().is_none());
    }

    #[test]
    fn bad_lines_and_directives_are_errors_at_their_line() {
        let files = [
            file(".dromosignore", "ok/\n#! skip-files-without-kind\n#! skip-everything\n[z-a].yaml\n"),
            file("sub/.dromosignore", "#! skip-files-without-kind\n"),
        ];
        let (rules, diags) = Rules::of(&files);
        let at: Vec<_> = diags.iter().map(|d| (d.file.as_str(), d.line, d.code)).collect();
        assert_eq!(
            at,
            vec![
                (".dromosignore", 3, "invalid-ignore-rule"),
                (".dromosignore", 4, "invalid-ignore-rule"),
                ("sub/.dromosignore", 1, "invalid-ignore-rule"),
            ],
            "{diags:?}"
        );
        assert!(diags[0].message.contains("unknown directive `skip-everything`"));
        assert_eq!(rules.skip_without_kind(), Some(".dromosignore:2"));
    }
}

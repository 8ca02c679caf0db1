//! `dromos completion` and `dromos man`: shell completions and man pages generated from the
//! clap definition of the command line (I/O: stdout, files).

use super::args::{Cli, CompletionShell};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Prints the completion script of `shell`.
pub(crate) fn completion(shell: CompletionShell) -> Result<ExitCode> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "dromos", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

/// `(file name, roff)` of the man page of `dromos` and of every subcommand, depth first:
/// `dromos.1`, `dromos-app.1`, `dromos-app-scale.1`, ...
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: clap::Command, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        let name = if prefix.is_empty() { cmd.get_name().to_string() } else { format!("{prefix}-{}", cmd.get_name()) };
        // The page's title and NAME line carry the full command (`dromos-app-scale`).
        let cmd = cmd.name(name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page).with_context(|| format!("rendering {name}.1"))?;
        out.push((format!("{name}.1"), page));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub.clone(), &name, out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = vec![];
    walk(cmd, "", &mut out)?;
    Ok(out)
}

/// The command-line reference (`docs/reference/cli.md`, written and checked by `dromos crds`):
/// every command with its description, usage and flags, from the same definition as `--help`.
pub fn reference_markdown() -> String {
    use std::fmt::Write;
    fn cell(s: &str) -> String {
        s.replace('|', "\\|").replace('\n', " ")
    }
    fn walk(cmd: &mut clap::Command, path: &str, top: bool, out: &mut String) {
        let usage = cmd.render_usage().to_string();
        let _ = writeln!(out, "## {path}\n");
        if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
            let _ = writeln!(out, "{about}\n");
        }
        let usage = usage.trim_start_matches("Usage: ");
        let _ = writeln!(out, "```\n{usage}\n```\n");
        let args: Vec<&clap::Arg> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|a| top || !a.is_global_set())
            .collect();
        if !args.is_empty() {
            let _ = writeln!(out, "| argument | default | description |\n|---|---|---|");
            for a in args {
                let names = match (a.get_short(), a.get_long()) {
                    (Some(s), Some(l)) => format!("`-{s}`, `--{l}`"),
                    (None, Some(l)) => format!("`--{l}`"),
                    _ => format!(
                        "`{}`",
                        a.get_value_names()
                            .and_then(|v| v.first())
                            .map_or_else(|| a.get_id().as_str().to_ascii_uppercase(), |v| v.to_string(),)
                    ),
                };
                // Flags (no value) have the possible values and default `true`/`false`: left out.
                let takes = a.get_action().takes_values();
                let values: Vec<String> = if takes {
                    a.get_possible_values().iter().map(|v| v.get_name().to_string()).collect()
                } else {
                    vec![]
                };
                let mut help = a.get_long_help().or(a.get_help()).map(|h| h.to_string()).unwrap_or_default();
                if !values.is_empty() {
                    let sep = if help.is_empty() || help.ends_with('.') { " " } else { ". " };
                    help.push_str(&format!("{sep}One of: {}.", values.join(", ")));
                }
                let default: Vec<String> = if takes {
                    a.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect()
                } else {
                    vec![]
                };
                let default = if default.is_empty() { String::new() } else { format!("`{}`", default.join(",")) };
                let _ = writeln!(out, "| {names} | {default} | {} |", cell(help.trim()));
            }
            out.push('\n');
        }
        let subs: Vec<String> =
            cmd.get_subcommands().map(|s| s.get_name().to_string()).filter(|n| n != "help").collect();
        for name in subs {
            let sub = cmd.find_subcommand_mut(&name).expect("listed subcommand");
            walk(sub, &format!("{path} {name}"), false, out);
        }
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = String::from(
        "<!-- Generated by `dromos crds` from controller/src/cli/args.rs; do not edit. -->\n\n# Command-line reference\n\n\
         Every command of `dromos` with its flags, from the definition `--help` prints. Commands that talk to a \
         cluster take `--kubeconfig` and `--context` (listed under `dromos`). Shell completions: `dromos \
         completion bash|zsh|fish`; man pages: `dromos man --dir DIR`.\n\n",
    );
    walk(&mut cmd, "dromos", true, &mut out);
    out
}

/// Writes every man page into `dir`; prints the paths.
pub(crate) fn man(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written: Vec<PathBuf> = vec![];
    for (name, page) in man_pages()? {
        let p = dir.join(name);
        std::fs::write(&p, page).with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    println!("wrote {} man pages into {} (read one with `man {}`)", written.len(), dir.display(), written[0].display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_subcommand_has_a_page_naming_its_flags() {
        let pages = super::man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in ["dromos.1", "dromos-app-scale.1", "dromos-source-reconcile.1", "dromos-job-kill.1"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let (_, scale) = pages.iter().find(|(n, _)| n == "dromos-app-scale.1").unwrap();
        let text = String::from_utf8_lossy(scale);
        assert!(text.contains(".TH dromos\\-app\\-scale") || text.contains(".TH dromos-app-scale"), "{text}");
        assert!(text.contains("force"), "{text}");
    }
}

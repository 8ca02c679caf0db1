//! `dromos completion` and `dromos man`: generated from the command line, checked by the shell
//! and by the man page layout.

mod common;

use common::dromos;

#[test]
fn bash_completion_parses_and_completes_subcommands_and_flags() {
    let (code, script, err) = dromos(&["completion", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dromos.bash");
    std::fs::write(&file, &script).unwrap();
    let syntax = std::process::Command::new("bash").arg("-n").arg(&file).output().expect("bash runs");
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    // What bash offers after `dromos app ro` and `dromos source reconcile web --ti`.
    let complete = |words: &str| {
        let cmd = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMP_LINE='{words}'; \
             COMP_POINT=${{#COMP_LINE}}; _dromos dromos \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = std::process::Command::new("bash").arg("-c").arg(cmd).output().expect("bash runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let offered = complete("dromos app ro");
    assert!(offered.lines().any(|l| l == "rollback"), "{offered}");
    let offered = complete("dromos source reconcile web --ti");
    assert!(offered.lines().any(|l| l == "--timeout"), "{offered}");
    let offered = complete("dromos status -o ''");
    for f in ["table", "wide", "json", "yaml"] {
        assert!(offered.lines().any(|l| l == f), "{f} missing: {offered}");
    }
}

#[test]
fn zsh_and_fish_completions_name_every_command_and_other_shells_are_refused() {
    let (code, zsh, err) = dromos(&["completion", "zsh"]);
    assert_eq!(code, 0, "{err}");
    assert!(zsh.starts_with("#compdef dromos"), "{zsh}");
    let (code, fish, err) = dromos(&["completion", "fish"]);
    assert_eq!(code, 0, "{err}");
    for verb in ["source", "rollback", "kill", "completion", "man"] {
        assert!(zsh.contains(&format!("'{verb}:")), "zsh lacks {verb}");
        assert!(fish.contains(&format!("-a \"{verb}\"")), "fish lacks {verb}");
    }
    let (code, _, err) = dromos(&["completion", "powershell"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("possible values: bash, zsh, fish"), "{err}");
}

#[test]
fn man_writes_a_page_per_command_with_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let (code, out, err) = dromos(&["man", "--dir", out_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("man pages into"), "{out}");
    let page =
        |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}; wrote {out}"));
    assert!(page("dromos.1").contains(".TH dromos 1"), "{}", page("dromos.1"));
    let rollback = page("dromos-app-rollback.1");
    assert!(rollback.contains("dromos\\-app\\-rollback") && rollback.contains("\\-\\-to"), "{rollback}");
    for name in ["dromos-source-reconcile.1", "dromos-job-kill.1", "dromos-completion.1", "dromos-package-list.1"] {
        assert!(page(name).contains(".SH OPTIONS"), "{name}");
    }
    // Every subcommand has its page: as many pages as commands in the tree.
    let pages = std::fs::read_dir(&out_dir).unwrap().count();
    assert_eq!(pages, dromos::cli::man_pages().unwrap().len());
    // A directory that cannot be made is an error naming it.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let (code, _, err) = dromos(&["man", "--dir", file.join("sub").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("plain-file/sub"), "{err}");
}

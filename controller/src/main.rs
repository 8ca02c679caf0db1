//! The `dromos` binary: parse the command line, run it, map errors to exit code 1.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dromos::cli::Cli::parse();
    match dromos::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

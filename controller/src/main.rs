//! The `dromos` binary: parse the command line, run it, map errors to exit code 1.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of the C library's allocator: a sync of 100,000 objects peaks about 20 %
/// lower (glibc keeps freed memory in per-thread arenas; BENCHMARKS.md, issue 25).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

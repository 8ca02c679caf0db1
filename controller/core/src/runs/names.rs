//! Names of runs and attempts (pure): deterministic, so creating an attempt twice is harmless.

use sha2::{Digest, Sha256};

/// The prefix of run ids: the Job name, shortened with a hash when a run id could exceed the
/// 63 characters a batch/v1 Job name may have.
pub fn run_base(name: &str) -> String {
    if name.len() <= 40 {
        return name.to_string();
    }
    let hash = Sha256::digest(name.as_bytes());
    let cut: String = name.chars().take(35).collect();
    format!("{}-{:02x}{:02x}", cut.trim_end_matches('-'), hash[0], hash[1])
}

/// The batch/v1 Job name of attempt `n` of a run.
pub fn attempt_name(run: &str, n: u32) -> String {
    if n <= 1 { run.to_string() } else { format!("{run}-{n}") }
}

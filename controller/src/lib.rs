//! The `dromos` shell: reads trees from disk, calls the pure core, prints and applies.
//!
//! Modules that do I/O are named for it (`fsread`); rendering decisions live in `dromos-core`.

pub mod apiclient;
pub mod cli;
pub mod crdgen;
pub mod fsread;
pub mod git;
pub mod http;
pub mod import;
pub mod index;
pub mod leader;
pub mod local;
pub mod metrics;
pub mod native;
pub mod operators;
pub mod package_test;
pub mod packages;
pub mod procstat;
pub mod quickstart;
pub mod ratelimit;
pub mod readfilter;
pub mod refdoc;
pub mod scope;
pub mod status;
pub mod sync;
pub mod telemetry;
pub mod ui;
pub mod watchdog;

/// Threads for CPU-bound work (parsing a tree): the CPUs this process may use.
pub fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

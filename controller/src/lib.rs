//! The `dromos` shell: reads trees from disk, calls the pure core, prints and applies.
//!
//! Modules that do I/O are named for it (`fsread`); rendering decisions live in `dromos-core`.

pub mod apps;
pub mod cli;
pub mod controller;
pub mod crdgen;
pub mod fsread;
pub mod git;
pub mod http;
pub mod import;
pub mod index;
pub mod jobs;
pub mod leader;
pub mod local;
pub mod package_operator;
pub mod packages;
pub mod quickstart;
pub mod ratelimit;
pub mod refdoc;
pub mod report;
pub mod scheduler;
pub mod scope;
pub mod status;
pub mod sync;

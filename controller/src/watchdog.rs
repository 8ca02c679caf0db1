//! What `/healthz` judges (I/O-free bookkeeping, the decision is `dromos_core::watchdog`): every
//! reconcile in progress with its start (registered by `operators::guard`, removed when its
//! future ends or is dropped, also by a panic), and the heartbeats of the loops that are not
//! reconciles (the scheduling loop). Process-wide, like the metrics.

use dromos_core::time::Instant;
use dromos_core::watchdog::Activity;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

static NEXT: AtomicU64 = AtomicU64::new(0);
static RUNNING: LazyLock<Mutex<HashMap<u64, (String, Instant)>>> = LazyLock::new(Default::default);
static BEATS: LazyLock<Mutex<HashMap<u64, (String, Instant)>>> = LazyLock::new(Default::default);

/// A reconcile in progress; dropping it ends it.
#[derive(Debug)]
pub struct Running(u64);

/// Registers a reconcile of `what` (`App/ns/name`) starting now.
pub fn running(what: String) -> Running {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    RUNNING.lock().expect("watchdog lock").insert(id, (what, chrono::Utc::now()));
    Running(id)
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.lock().expect("watchdog lock").remove(&self.0);
    }
}

/// The heartbeat of a loop; dropping it (the loop ended) stops watching the loop.
#[derive(Debug)]
pub struct Heartbeat(u64);

/// Starts watching the loop `name`, beating now.
pub fn heartbeat(name: &str) -> Heartbeat {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    BEATS.lock().expect("watchdog lock").insert(id, (name.to_string(), chrono::Utc::now()));
    Heartbeat(id)
}

impl Heartbeat {
    /// The loop made progress.
    pub fn beat(&self) {
        if let Some(b) = BEATS.lock().expect("watchdog lock").get_mut(&self.0) {
            b.1 = chrono::Utc::now();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        BEATS.lock().expect("watchdog lock").remove(&self.0);
    }
}

/// What runs and beats now.
pub fn activity() -> Activity {
    let running = RUNNING.lock().expect("watchdog lock").values().cloned().collect();
    let beats = BEATS.lock().expect("watchdog lock").values().cloned().collect();
    Activity { running, beats }
}

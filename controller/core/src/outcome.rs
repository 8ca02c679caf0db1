//! What a sync did (pure data): the executed plan, counts, failed writes and the inventory to
//! record. The shell's sync engine fills it in; the GitSource and Package decisions read it.

use crate::plan::{self, Guard, ObjRef, Plan};
use std::collections::HashMap;
use std::time::Duration;

/// A failed write.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The object.
    pub obj: ObjRef,
    /// `Conflict`, `Invalid`, `Forbidden`, `NotFound`, `ApplyFailed`, `DeleteFailed`, ...
    pub reason: String,
    /// The API server's message.
    pub message: String,
}

/// What a sync did.
#[derive(Debug)]
pub struct SyncOutcome {
    /// The plan that was executed.
    pub plan: Plan,
    /// Objects created or updated.
    pub applied: usize,
    /// Objects deleted.
    pub pruned: usize,
    /// Failed writes (conflicts included).
    pub failures: Vec<Failure>,
    /// Mutating requests sent (apply, delete); 0 for a no-op resync.
    pub writes: usize,
    /// Read requests sent (list, get, discovery).
    pub reads: usize,
    /// Inventory to record.
    pub inventory: Vec<ObjRef>,
    /// `metadata.generation` of each desired object as the API server returned it from the
    /// apply (or listed it, when unchanged).
    /// A watch cache may still hold an older copy: health read from it is only current once
    /// it has caught up to this generation.
    pub applied_generations: HashMap<plan::Key, i64>,
    /// Wall time.
    pub duration: Duration,
}

impl SyncOutcome {
    /// True when the guard refused the revision (nothing was written).
    pub fn blocked(&self) -> bool {
        matches!(self.plan.guard, Guard::Blocked { .. })
    }
}

//! The inventory of a source (pure): what was applied, what to prune, and the deletion guard
//! that stops a revision from deleting too much of it.

use super::{Guard, Key, ObjRef, PlanOptions};
use crate::render::kind_rank;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Inventory entries no desired object claims, once each, dependents first.
pub(super) fn prune_candidates(inventory: &[ObjRef], wanted: &BTreeSet<Key>) -> Vec<ObjRef> {
    let mut prune: Vec<ObjRef> = Vec::new();
    let mut seen = BTreeSet::new();
    for inv in inventory {
        let k = inv.key();
        if !wanted.contains(&k) && seen.insert(k) {
            prune.push(inv.clone());
        }
    }
    // Delete dependents before what they need: reverse apply order.
    prune.sort_by(|a, b| {
        (kind_rank(&b.api_version, &b.kind), b.key()).cmp(&(kind_rank(&a.api_version, &a.kind), a.key()))
    });
    prune
}

/// Blocks a revision that would delete more than the allowed fraction of the inventory.
pub(super) fn deletion_guard(deleting: usize, inv_len: usize, opts: &PlanOptions) -> Guard {
    if !opts.allow_mass_delete
        && inv_len > 0
        && deleting > 0
        && deleting as f64 > opts.max_delete_fraction * inv_len as f64
    {
        Guard::Blocked { deleting, inventory: inv_len, max_fraction: opts.max_delete_fraction }
    } else {
        Guard::Ok
    }
}

/// Objects keyed for [`plan_sync`].
pub fn index_live(objects: impl IntoIterator<Item = Value>) -> HashMap<Key, Value> {
    objects.into_iter().filter_map(|v| Some((ObjRef::of(&v)?.key(), v))).collect()
}

/// The inventory after a sync: every desired object plus prune candidates whose deletion
/// failed (they are retried next time).
pub fn next_inventory(desired: &[Value], failed_deletes: &[ObjRef]) -> Vec<ObjRef> {
    let mut m: BTreeMap<Key, ObjRef> = BTreeMap::new();
    for o in desired.iter().filter_map(ObjRef::of).chain(failed_deletes.iter().cloned()) {
        m.insert(o.key(), o);
    }
    m.into_values().collect()
}

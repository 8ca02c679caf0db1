//! The inventory of a source (pure): what was applied, what to prune, and the deletion guard
//! that stops a revision from deleting too much of it.

use super::{Guard, Key, ObjRef, Observed, PlanOptions, Seen};
use crate::render::kind_rank;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Annotation on an object (in Git, so on the live object): `disabled` keeps it when it leaves
/// the source; `enabled` lets a protected kind (see [`protected_kind`]) be deleted.
pub const PRUNE_ANNOTATION: &str = "dromos.io/prune";

/// Why an object that left the source is kept rather than deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// `dromos.io/prune: disabled` on the object.
    Disabled,
    /// A Namespace, CRD, PersistentVolumeClaim or cluster-scoped object without
    /// `dromos.io/prune: enabled`: deleting it deletes what it holds or serves.
    Protected,
}

impl Keep {
    /// What the plan report says.
    pub fn explain(self) -> &'static str {
        match self {
            Keep::Disabled => "dromos.io/prune: disabled",
            Keep::Protected => {
                "a Namespace, CRD, PersistentVolumeClaim or cluster-scoped object; annotate it dromos.io/prune: enabled to have it deleted"
            }
        }
    }
}

/// Kinds whose deletion takes more with it: a Namespace its contents, a CRD every resource of
/// it cluster-wide, a claim its volume; and every cluster-scoped object (shared by tenants).
pub fn protected_kind(o: &ObjRef) -> bool {
    o.namespace.is_none()
        || matches!(
            (o.group(), o.kind.as_str()),
            ("", "Namespace" | "PersistentVolumeClaim" | "PersistentVolume")
                | ("apiextensions.k8s.io", "CustomResourceDefinition")
        )
}

/// Whether an object that left the source is deleted, or kept and why. `live` is the object as
/// listed (its annotations decide); without one there is nothing to delete anyway.
pub(super) fn keep(o: &ObjRef, live: Option<&Seen>) -> Option<Keep> {
    let prune = live.and_then(|l| l.prune.as_deref());
    match prune {
        Some("disabled") => Some(Keep::Disabled),
        Some("enabled") => None,
        _ if protected_kind(o) => Some(Keep::Protected),
        _ => None,
    }
}

/// Objects no desired object claims, once each, dependents first: every inventory entry, and
/// every live object this source labelled and manages (one applied just before a crash, or
/// dropped from the inventory after a transient error, is still found).
pub(super) fn prune_candidates(inventory: &[ObjRef], live: &Observed, wanted: &BTreeSet<Key>) -> Vec<ObjRef> {
    let mut prune: Vec<ObjRef> = Vec::new();
    let mut seen = BTreeSet::new();
    let labelled = live.iter().filter(|(_, s)| s.managed).map(|(k, s)| s.obj(k));
    for o in inventory.iter().cloned().chain(labelled) {
        let k = o.key();
        if !wanted.contains(&k) && seen.insert(k) {
            prune.push(o);
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

/// Objects keyed by identity (a snapshot of live objects, whole).
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

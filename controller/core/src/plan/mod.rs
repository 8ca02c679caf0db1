//! Sync planning: desired objects against live ones and the inventory (pure).
//!
//! `plan_sync` pairs every desired object with its live twin, decides create / update /
//! unchanged by a semantic subset comparison (what Dromos sets must already be live; fields
//! others set or the API server defaults are ignored), lists prune candidates from the
//! inventory, applies the deletion guard and orders the work in waves: Namespaces, CRDs,
//! everything else, then Apps (and the objects they expand to) by dependency depth.

mod diff;
mod inventory;
mod levels;
pub mod native;
mod observe;
mod quantity;
pub mod report;
pub mod stored;
#[cfg(test)]
mod tests;

pub use diff::{base64, diff_text, is_subset};
pub use inventory::{Keep, PRUNE_ANNOTATION, index_live, next_inventory, protected_kind};
pub use levels::app_levels;
pub use observe::{Observed, Observer, Seen, observe};
pub use quantity::{canonical as canonical_quantity, parse_quantity};

use crate::render::kind_rank;
use crate::translate::MANAGED_BY;
use inventory::{deletion_guard, keep, prune_candidates};
use levels::wave_of;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Label naming the source (`<namespace>.<name>` of a GitSource, `local.<name>` for local
/// sync) that applied an object. Prune only ever considers objects carrying it.
pub const SOURCE_LABEL: &str = "dromos.io/source";

/// Identity of an object. Equality ignores the version: `apps/v1` and `apps/v1beta1` of the
/// same name are one object.
#[derive(Clone, Debug)]
pub struct ObjRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, if namespaced.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// The version-free key of an object: (group, kind, namespace, name).
pub type Key = (String, String, String, String);

impl ObjRef {
    /// Reads the identity of an object.
    pub fn of(v: &Value) -> Option<Self> {
        Some(Self {
            api_version: v["apiVersion"].as_str()?.to_string(),
            kind: v["kind"].as_str()?.to_string(),
            namespace: v["metadata"]["namespace"].as_str().map(str::to_string),
            name: v["metadata"]["name"].as_str()?.to_string(),
        })
    }

    /// API group (`""` for core).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
    }

    /// Version-free key.
    pub fn key(&self) -> Key {
        (self.group().to_string(), self.kind.clone(), self.namespace.clone().unwrap_or_default(), self.name.clone())
    }

    /// Compact inventory form `apiVersion|kind|namespace|name` (namespace empty when cluster-scoped).
    pub fn encode(&self) -> String {
        format!("{}|{}|{}|{}", self.api_version, self.kind, self.namespace.as_deref().unwrap_or(""), self.name)
    }

    /// Parses [`ObjRef::encode`]'s form.
    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.split('|');
        let (av, kind, ns, name) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || av.is_empty() || kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            api_version: av.into(),
            kind: kind.into(),
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: name.into(),
        })
    }

    /// `kind/namespace/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

impl PartialEq for ObjRef {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

/// Adds Dromos's ownership labels to a desired object.
pub fn stamp(obj: &mut Value, source: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let labels = meta.entry("labels").or_insert_with(|| Value::Object(Default::default()));
    if let Some(l) = labels.as_object_mut() {
        l.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
        l.insert(SOURCE_LABEL.into(), source.into());
    }
}

/// What to do with one desired object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Not live yet (or not yet labelled by this source): apply.
    Create,
    /// Live but some field Dromos sets differs: apply.
    Update,
    /// Live and equal on every field Dromos sets: nothing to write.
    Unchanged,
}

/// One desired object and its verdict.
#[derive(Clone, Debug)]
pub struct Step {
    /// Identity.
    pub obj: ObjRef,
    /// Verdict.
    pub action: Action,
    /// Apply wave: 0 Namespaces, 1 CRDs, 2 the rest, 3+n Apps at dependency depth n.
    pub wave: u32,
    /// Unified diff (live -> desired) of the fields Dromos sets, for updates.
    pub diff: Option<String>,
}

/// Verdict of the deletion guard.
#[derive(Clone, Debug, PartialEq)]
pub enum Guard {
    /// Pruning is within bounds (or allowed).
    Ok,
    /// The revision would delete too much of the inventory; nothing is applied.
    Blocked {
        /// Objects that would be deleted.
        deleting: usize,
        /// Objects in the inventory.
        inventory: usize,
        /// The configured bound.
        max_fraction: f64,
    },
}

/// Planning settings of a source.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Delete inventory objects that left the source.
    pub prune: bool,
    /// Largest share of the inventory one revision may delete.
    pub max_delete_fraction: f64,
    /// Ignore the guard.
    pub allow_mass_delete: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self { prune: true, max_delete_fraction: 0.5, allow_mass_delete: false }
    }
}

/// The plan of one revision.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Desired objects in apply order.
    pub steps: Vec<Step>,
    /// Inventory objects no longer desired, in reverse apply order (deleted after a fully
    /// successful apply).
    pub prune: Vec<ObjRef>,
    /// Objects that left the source and are kept (not deleted, dropped from the inventory).
    pub kept: Vec<(ObjRef, Keep)>,
    /// Deletion guard.
    pub guard: Guard,
    /// Files of the tree not read as manifests, with the rule that skipped each (reports list
    /// them so that nothing is left out silently). Filled by the caller from the loaded tree.
    pub skipped: Vec<crate::load::SkippedFile>,
}

impl Plan {
    /// Number of steps with an action.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }

    /// True when applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.steps.iter().all(|s| s.action == Action::Unchanged) && self.prune.is_empty()
    }
}

/// Annotation on an App whose instances are set through the scale subresource (a
/// HorizontalPodAutoscaler, `kubectl scale`): `"true"` makes a sync keep the live
/// `spec.instances` ([`Observer`]); the value in Git only counts when the App is created.
pub const AUTOSCALED_ANNOTATION: &str = "dromos.io/autoscaled";

/// Whether a manifest asks for its instances to be left to the scale subresource.
pub fn is_autoscaled(obj: &Value) -> bool {
    obj["metadata"]["annotations"][AUTOSCALED_ANNOTATION].as_str() == Some("true")
}

/// Plans one revision. `live` holds the live objects this source labelled, observed against
/// `desired` ([`Observer`]).
pub fn plan_sync(
    desired: &[Value],
    live: &Observed,
    inventory: &[ObjRef],
    levels: &HashMap<(String, String), u32>,
    opts: &PlanOptions,
) -> Plan {
    let mut steps: Vec<(u32, u8, Key, Step)> = Vec::with_capacity(desired.len());
    let mut wanted: BTreeSet<Key> = BTreeSet::new();
    for d in desired {
        let Some(obj) = ObjRef::of(d) else { continue };
        let key = obj.key();
        wanted.insert(key.clone());
        let (action, diff) = match live.get(&key) {
            None => (Action::Create, None),
            Some(seen) => match &seen.verdict {
                Some(v) => v.clone(),
                // Observed without this object (not through [`Observer`] with these desired
                // objects): applying is always safe, and the apply says what changed.
                None => (Action::Update, None),
            },
        };
        let rank = kind_rank(&obj.api_version, &obj.kind);
        steps.push((wave_of(d, levels), rank, key, Step { obj, action, wave: 0, diff }));
    }
    steps.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let steps: Vec<Step> = steps.into_iter().map(|(w, _, _, s)| Step { wave: w, ..s }).collect();

    let (mut prune, mut kept) = (Vec::new(), Vec::new());
    if opts.prune {
        for o in prune_candidates(inventory, live, &wanted) {
            match keep(&o, live.get(&o.key())) {
                Some(why) => kept.push((o, why)),
                None => prune.push(o),
            }
        }
    }
    // The guard weighs deletions against everything the source holds: its inventory and the
    // labelled objects found beside it.
    let held: BTreeSet<Key> = inventory.iter().map(ObjRef::key).chain(live.keys().cloned()).collect();
    let guard = deletion_guard(prune.len(), held.len(), opts);
    Plan { steps, prune, kept, guard, skipped: vec![] }
}

//! Live objects as a plan keeps them (pure): each listed object is compared with its desired
//! twin the moment it arrives and only a small digest of it is kept ([`Seen`]), so a resync
//! holds the desired objects and one page of live ones, never every live object at once.

use super::{Action, Key, ObjRef, PRUNE_ANNOTATION, SOURCE_LABEL, diff_text, is_autoscaled};
use crate::translate::MANAGED_BY;
use serde_json::Value;
use std::collections::HashMap;

/// What a plan and a sync keep of one live object: the verdict against its desired twin (taken
/// when it was listed) and the metadata read afterwards (prune, generations, hand-over).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    /// `apiVersion` as listed (the key has the group only).
    pub api_version: String,
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// The `dromos.io/source` label.
    pub source: Option<String>,
    /// Carries `app.kubernetes.io/managed-by: dromos`.
    pub managed: bool,
    /// The `dromos.io/prune` annotation.
    pub prune: Option<String>,
    /// `managedFields` has a server-side-apply entry of the field manager earlier versions used
    /// for every source ([`crate::tenancy::LEGACY_FIELD_MANAGER`]), to be handed over.
    pub legacy_fields: bool,
    /// The verdict against the desired object of the same key, when there is one: unchanged,
    /// or an update with its diff.
    pub verdict: Option<(Action, Option<String>)>,
}

impl Seen {
    /// The identity of the object seen under `key`.
    pub fn obj(&self, key: &Key) -> ObjRef {
        ObjRef {
            api_version: self.api_version.clone(),
            kind: key.1.clone(),
            namespace: (!key.2.is_empty()).then(|| key.2.clone()),
            name: key.3.clone(),
        }
    }
}

/// The live objects of a source, by key, as [`Observer`] keeps them.
pub type Observed = HashMap<Key, Seen>;

/// Compares live objects with the desired ones as they are listed.
///
/// An App marked [`super::AUTOSCALED_ANNOTATION`] takes its live `spec.instances` as the desired one
/// before the comparison, so the plan sees no change, the apply sends the value the autoscaler
/// set (sharing the field with it, which is no conflict) and drift is not reverted: the value
/// in Git only counts when the App is created.
#[derive(Debug)]
pub struct Observer<'a> {
    desired: &'a mut [Value],
    index: HashMap<Key, usize>,
    seen: Observed,
}

impl<'a> Observer<'a> {
    /// An observer of the live twins of `desired` (which it may change: autoscaled Apps).
    pub fn new(desired: &'a mut [Value]) -> Self {
        let index = desired.iter().enumerate().filter_map(|(i, d)| Some((ObjRef::of(d)?.key(), i))).collect();
        Self { desired, index, seen: HashMap::new() }
    }

    /// Takes one listed object: compares it and keeps its digest.
    pub fn add(&mut self, live: Value) {
        let Some(obj) = ObjRef::of(&live) else { return };
        let key = obj.key();
        let verdict = self.index.get(&key).map(|&i| {
            let d = &mut self.desired[i];
            if d["kind"] == "App" && is_autoscaled(d) {
                follow_instances(d, &live);
            }
            if super::is_subset(d, &live) {
                (Action::Unchanged, None)
            } else {
                (Action::Update, Some(diff_text(d, &live)))
            }
        });
        let meta = &live["metadata"];
        let legacy = crate::tenancy::LEGACY_FIELD_MANAGER;
        let seen = Seen {
            api_version: obj.api_version,
            uid: meta["uid"].as_str().map(str::to_string),
            generation: meta["generation"].as_i64(),
            source: meta["labels"][SOURCE_LABEL].as_str().map(str::to_string),
            managed: meta["labels"][MANAGED_BY.0] == MANAGED_BY.1,
            prune: meta["annotations"][PRUNE_ANNOTATION].as_str().map(str::to_string),
            legacy_fields: meta["managedFields"]
                .as_array()
                .is_some_and(|m| m.iter().any(|e| e["manager"] == legacy && e["operation"] == "Apply")),
            verdict,
        };
        self.seen.insert(key, seen);
    }

    /// The digests of every object taken.
    pub fn finish(self) -> Observed {
        self.seen
    }
}

/// Observes a whole list at once ([`Observer`] for a list that arrives in pages).
pub fn observe(desired: &mut [Value], live: impl IntoIterator<Item = Value>) -> Observed {
    let mut o = Observer::new(desired);
    for l in live {
        o.add(l);
    }
    o.finish()
}

/// Sets a desired App's `spec.instances` to the live one's (or removes it, as live).
fn follow_instances(desired: &mut Value, live: &Value) {
    let Some(spec) = desired.get_mut("spec").and_then(Value::as_object_mut) else { return };
    match live["spec"].get("instances") {
        Some(n) => spec.insert("instances".into(), n.clone()),
        None => spec.remove("instances"),
    };
}

#[cfg(test)]
mod tests {
    use super::super::AUTOSCALED_ANNOTATION;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_digest_keeps_what_the_sync_reads_and_not_the_object() {
        let mut desired = vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"}, "data": {"k": "2"}})];
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "uid": "u1", "generation": 3,
                "labels": {(SOURCE_LABEL): "n.src", (MANAGED_BY.0): MANAGED_BY.1},
                "annotations": {(PRUNE_ANNOTATION): "disabled", "big": "x".repeat(10_000)},
                "managedFields": [{"manager": "dromos", "operation": "Apply"}]},
            "data": {"k": "1", "other": "y".repeat(10_000)}});
        let seen = observe(&mut desired, [live]);
        let (key, s) = seen.iter().next().expect("one");
        assert_eq!(s.obj(key), ObjRef::of(&desired[0]).expect("ref"));
        assert_eq!(s.uid.as_deref(), Some("u1"));
        assert_eq!((s.generation, s.managed, s.legacy_fields), (Some(3), true, true));
        assert_eq!((s.source.as_deref(), s.prune.as_deref()), (Some("n.src"), Some("disabled")));
        let (action, diff) = s.verdict.as_ref().expect("compared");
        assert_eq!(*action, Action::Update);
        assert!(diff.as_deref().is_some_and(|d| d.contains("k: '1'") || d.contains("k: \"1\"")), "{diff:?}");
        // Nothing of the object's size is kept.
        assert!(format!("{s:?}").len() < 1_000, "{s:?}");
    }

    #[test]
    fn objects_without_a_desired_twin_are_kept_uncompared() {
        let mut desired: Vec<Value> = vec![];
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}});
        let seen = observe(&mut desired, [live, json!({"kind": "no identity"})]);
        assert_eq!(seen.len(), 1);
        assert!(seen.values().all(|s| s.verdict.is_none() && !s.managed && !s.legacy_fields));
    }

    #[test]
    fn only_autoscaled_apps_take_the_live_instances() {
        let app = |n: i64, ann: Option<&str>| {
            let mut a = json!({"apiVersion": "dromos.io/v1alpha1", "kind": "App",
                "metadata": {"name": "web", "namespace": "shop"}, "spec": {"instances": n}});
            if let Some(v) = ann {
                a["metadata"]["annotations"] = json!({AUTOSCALED_ANNOTATION: v});
            }
            a
        };
        let mut desired = vec![app(2, Some("true"))];
        observe(&mut desired, [app(5, None)]);
        assert_eq!(desired[0]["spec"]["instances"], 5);
        let mut live_without = app(5, None);
        live_without["spec"] = json!({});
        let mut desired = vec![app(2, Some("true"))];
        observe(&mut desired, [live_without]);
        assert!(desired[0]["spec"].get("instances").is_none(), "as live: {}", desired[0]);
        let mut desired = vec![app(2, Some("false"))];
        observe(&mut desired, [app(5, None)]);
        assert_eq!(desired[0]["spec"]["instances"], 2);
    }
}

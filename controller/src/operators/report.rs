//! Reporting helpers shared by the operators (I/O): status merge patches that really clear
//! what disappeared, reading one's own status writes through a lagging cache, and Events with
//! bounded notes.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// The statuses an operator patched, each with the resourceVersions that lead to it: the one it
/// was computed from and those its own writes produced. A reconcile may run on a watch cache
/// that still holds one of them (its own writes not all seen yet); it must start from what it
/// wrote last, not from the older status in the cache, or it repeats the write or misreads a
/// transition. Any other resourceVersion is someone else's change: the cache is the truth.
///
/// Keeping only the version the last status was computed from was not enough: a reconcile
/// computed from version A writes B; a later one, still reading A, writes C (recorded as "from
/// A"); the cache then catches up to B, which matched nothing, and the reconcile started from
/// B's older status (a service's update plan started two steps at once this way).
pub struct OwnWrites<K: Resource<DynamicType = ()>, S> {
    written: Mutex<HashMap<ObjectRef<K>, Written<S>>>,
}

/// The last status written, and the resourceVersions at which it is the newest status (bounded:
/// older ones are dropped).
type Written<S> = (Vec<Option<String>>, S);

/// Versions kept per object: a watch cache lags by a few writes at most.
const OWN_VERSIONS: usize = 16;

impl<K: Resource<DynamicType = ()>, S> std::fmt::Debug for OwnWrites<K, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.written.lock().map(|w| w.len()).unwrap_or(0);
        write!(f, "OwnWrites({n} objects)")
    }
}

impl<K: Resource<DynamicType = ()>, S: Clone> Default for OwnWrites<K, S> {
    fn default() -> Self {
        Self { written: Mutex::new(HashMap::new()) }
    }
}

impl<K: Resource<DynamicType = ()>, S: Clone> OwnWrites<K, S> {
    /// The status to start from: the last one written if it was computed from `obj` as cached
    /// now (same resourceVersion), else `cached` (a newer object, whoever changed it).
    pub fn current(&self, obj: &K, cached: Option<&S>) -> Option<S> {
        let written = self.written.lock().expect("own writes lock");
        match written.get(&ObjectRef::from_obj(obj)) {
            Some((versions, status)) if versions.contains(&obj.meta().resource_version) => Some(status.clone()),
            _ => cached.cloned(),
        }
    }

    /// Whether `obj` is at a version this process computed a status from or wrote: a watch
    /// event of it brings nothing the operator has not seen (its own write coming back).
    pub fn has_version(&self, obj: &K) -> bool {
        let written = self.written.lock().expect("own writes lock");
        written
            .get(&ObjectRef::from_obj(obj))
            .is_some_and(|(versions, _)| versions.contains(&obj.meta().resource_version))
    }

    /// Records `status` as written, computed from `obj`; `result` is the resourceVersion the
    /// write returned.
    pub fn record(&self, obj: &K, status: S, result: Option<String>) {
        let mut written = self.written.lock().expect("own writes lock");
        let input = obj.meta().resource_version.clone();
        let key = ObjectRef::from_obj(obj);
        let mut versions = match written.remove(&key) {
            // Computed from one of our own versions: the chain of our writes goes on.
            Some((versions, _)) if versions.contains(&input) => versions,
            _ => vec![input],
        };
        versions.push(result);
        if versions.len() > OWN_VERSIONS {
            versions.drain(..versions.len() - OWN_VERSIONS);
        }
        written.insert(key, (versions, status));
    }
}

/// Drives a controller's output stream to its end. A failed reconcile was already logged by
/// the error policy; here it is only traced.
pub async fn drive<T, E: std::fmt::Display>(
    operator: &'static str,
    results: impl futures::Stream<Item = Result<T, E>>,
) {
    use futures::StreamExt;
    results
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(operator, "reconcile: {e}");
            }
        })
        .await
}

/// Longest Event note sent (the API server refuses notes over 1 KiB).
const NOTE_CHARS: usize = 1000;

/// The body of a `status` merge patch from `old` to `new`: `new` serialized, plus `null` for
/// every top-level key `old` had that `new` lacks (a merge patch keeps keys it does not
/// mention, so a cleared optional field would otherwise linger), minus `skip` (fields another
/// writer owns).
pub fn status_merge_body<S: Serialize>(new: &S, old: Option<&S>, skip: &[&str]) -> serde_json::Result<Value> {
    let mut body = serde_json::to_value(new)?;
    if let (Some(n), Some(Value::Object(o))) = (body.as_object_mut(), old.map(serde_json::to_value).transpose()?) {
        for k in o.keys() {
            n.entry(k.clone()).or_insert(Value::Null);
        }
    }
    if let Some(n) = body.as_object_mut() {
        for k in skip {
            n.remove(*k);
        }
    }
    Ok(serde_json::json!({ "status": body }))
}

/// Publishes an Event about `obj` (note cut to 1,000 characters); a failure is logged at
/// debug level and otherwise ignored: Events are best effort.
pub async fn event(recorder: &Recorder, obj: &ObjectReference, warning: bool, action: &str, reason: &str, note: &str) {
    let ev = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: reason.into(),
        note: Some(note.chars().take(NOTE_CHARS).collect()),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, obj).await {
        tracing::debug!(reason, "event not published: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    #[derive(Serialize)]
    struct S {
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        owned_elsewhere: Option<i32>,
    }

    #[test]
    fn cleared_keys_are_sent_as_null_and_skipped_keys_never_sent() {
        let old = S { a: Some(1), b: Some(2), owned_elsewhere: Some(3) };
        let new = S { a: Some(5), b: None, owned_elsewhere: Some(9) };
        let body = status_merge_body(&new, Some(&old), &["owned_elsewhere"]).unwrap();
        assert_eq!(body, json!({"status": {"a": 5, "b": null}}));
        assert_eq!(status_merge_body(&new, None, &[]).unwrap(), json!({"status": {"a": 5, "owned_elsewhere": 9}}));
    }

    fn config_map(version: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("a".into());
        cm.metadata.namespace = Some("ns".into());
        cm.metadata.resource_version = Some(version.into());
        cm
    }

    #[test]
    fn a_reconcile_on_the_object_it_wrote_from_reads_its_own_write() {
        let w: OwnWrites<ConfigMap, String> = OwnWrites::default();
        let cached = "old".to_string();
        assert_eq!(w.current(&config_map("1"), Some(&cached)), Some(cached.clone()), "nothing written yet");
        w.record(&config_map("1"), "mine".into(), Some("2".into()));
        // The cache still holds version 1: the write is what the server has.
        assert_eq!(w.current(&config_map("1"), Some(&cached)).as_deref(), Some("mine"));
        // Our write itself (version 2) carries our status.
        assert_eq!(w.current(&config_map("2"), Some(&"mine".to_string())).as_deref(), Some("mine"));
        // Anyone else's change is the truth again.
        assert_eq!(w.current(&config_map("5"), Some(&"theirs".to_string())).as_deref(), Some("theirs"));
        assert_eq!(w.current(&config_map("5"), None), None);
        // Its watch events: versions 1 and 2 were seen or written here, 5 was not.
        assert!(w.has_version(&config_map("1")) && w.has_version(&config_map("2")));
        assert!(!w.has_version(&config_map("5")));
    }

    #[test]
    fn a_cache_catching_up_through_our_own_writes_reads_the_last_one() {
        let w: OwnWrites<ConfigMap, String> = OwnWrites::default();
        // Computed from 1, written as 2; computed again from 1 (the cache lags), written as 3.
        w.record(&config_map("1"), "first".into(), Some("2".into()));
        w.record(&config_map("1"), "second".into(), Some("3".into()));
        // The cache reaches 2, our first write: its status is older than what we wrote last.
        let at_two = "first".to_string();
        assert_eq!(w.current(&config_map("2"), Some(&at_two)).as_deref(), Some("second"));
        assert_eq!(w.current(&config_map("3"), Some(&"second".to_string())).as_deref(), Some("second"));
        // Computed from 3, written as 4: the chain goes on.
        w.record(&config_map("3"), "third".into(), Some("4".into()));
        assert_eq!(w.current(&config_map("2"), Some(&at_two)).as_deref(), Some("third"));
        // Someone else's change at 7, then our write from it: a new chain.
        w.record(&config_map("7"), "after theirs".into(), Some("8".into()));
        assert_eq!(w.current(&config_map("3"), Some(&"x".to_string())).as_deref(), Some("x"), "an older chain");
        assert_eq!(w.current(&config_map("7"), None).as_deref(), Some("after theirs"));
    }
}

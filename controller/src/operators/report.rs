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

/// The statuses an operator patched, each with the resourceVersion of the object it was
/// computed from. A reconcile may run on a watch cache that still holds that very object (its
/// own write not seen yet); it must start from what it wrote, not from the older status, or it
/// repeats the write or misreads a transition.
pub struct OwnWrites<K: Resource<DynamicType = ()>, S> {
    written: Mutex<HashMap<ObjectRef<K>, Written<S>>>,
}

/// A written status and the resourceVersion it was computed from.
type Written<S> = (Option<String>, S);

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
            Some((version, status)) if *version == obj.meta().resource_version => Some(status.clone()),
            _ => cached.cloned(),
        }
    }

    /// Records `status` as written, computed from `obj`.
    pub fn record(&self, obj: &K, status: S) {
        let mut written = self.written.lock().expect("own writes lock");
        written.insert(ObjectRef::from_obj(obj), (obj.meta().resource_version.clone(), status));
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
        w.record(&config_map("1"), "mine".into());
        // The cache still holds version 1: the write is what the server has.
        assert_eq!(w.current(&config_map("1"), Some(&cached)).as_deref(), Some("mine"));
        // A newer object (the write itself, or anyone's change) is the truth again.
        assert_eq!(w.current(&config_map("2"), Some(&"theirs".to_string())).as_deref(), Some("theirs"));
        assert_eq!(w.current(&config_map("2"), None), None);
    }
}

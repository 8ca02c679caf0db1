//! Reporting helpers shared by the operators (I/O): status merge patches that really clear
//! what disappeared, and Events with bounded notes.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};
use serde::Serialize;
use serde_json::Value;

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
}

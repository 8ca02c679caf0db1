//! Notifications (`notify`): Events, Notifier specs and Secrets are written by users and other
//! controllers; a target's URL, repository and a note may hold anything.
//!
//! Properties: nothing panics; an Event any reporter wrote that is no Dromos operator's is never
//! a notification; a rendered request's body is JSON, a webhook signed with a key carries the
//! signature of that very body, and a commit status names a commit of 40 hex digits and keeps
//! its description within GitHub's 140 characters.

use crate::{config, text_of};
use dromos_core::notify::{self, Credentials};
use dromos_crds::notifier::{NotifierTarget, TargetType};
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "http://",
    "https://",
    "file://",
    "git@",
    ":",
    "/",
    "@sha1:",
    "0123456789abcdef0123456789abcdef01234567",
    ".git",
    "?",
    "#",
    "%2F",
    "..",
    " ",
    "\n",
    "é",
    "main",
    "acme/shop",
];

fn target_type() -> impl Strategy<Value = TargetType> {
    prop::sample::select(vec![
        TargetType::Webhook,
        TargetType::Slack,
        TargetType::Teams,
        TargetType::Github,
        TargetType::Gitlab,
    ])
}

/// One of the words that matter, or anything.
fn word(words: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::sample::select(words).prop_map(|w| Some(w.to_string())),
        1 => "\\PC{0,12}".prop_map(Some),
        1 => Just(None),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn events_of_any_shape_never_panic(
        kind in word(&["GitSource", "App", "Job", "Package", "Offer", "Pod"]),
        api_version in word(&["dromos.io/v1alpha1", "v1", "dromos.io/v2"]),
        type_ in word(&["Warning", "Normal"]),
        reason in word(&["ApplyFailed", "Applied", "Recovered", "RunMissed", "RunFailed", "DeploymentFinished", "DriftDetected", "Approximation"]),
        reporter in word(&["dromos", "dromos-jobs", "kubelet", "dromosx"]),
        note in proptest::option::of(text_of(PIECES, 12)),
        count in proptest::option::of(any::<i32>()),
        micros in proptest::option::of(any::<i64>()),
    ) {
        use k8s_openapi::api::core::v1::{Event, EventSeries, ObjectReference};
        let time = micros.and_then(|m| k8s_openapi::jiff::Timestamp::from_microsecond(m).ok());
        let ev = Event {
            involved_object: ObjectReference { api_version, kind, name: Some("n".into()), namespace: Some("ns".into()), ..Default::default() },
            type_,
            reason,
            message: note,
            reporting_component: reporter.clone(),
            event_time: time.map(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime),
            series: count.map(|c| EventSeries { count: Some(c), last_observed_time: None }),
            ..Default::default()
        };
        if let Some(s) = notify::signal_of(&ev) {
            prop_assert!(reporter.unwrap_or_default().starts_with(notify::REPORTER_PREFIX));
            if let Some(r) = &s.revision {
                prop_assert!(notify::commit_of(r).is_some(), "{r}");
            }
        }
    }

    #[test]
    fn requests_are_json_signed_and_bounded_whatever_the_input(
        type_ in target_type(),
        address in proptest::option::of(text_of(PIECES, 6)),
        repository in proptest::option::of(text_of(PIECES, 6)),
        source_url in proptest::option::of(text_of(PIECES, 8)),
        message in text_of(PIECES, 40),
        key in proptest::option::of(prop::collection::vec(any::<u8>(), 0..80)),
        token in proptest::option::of(text_of(PIECES, 3)),
        revision in proptest::option::of(text_of(PIECES, 4)),
    ) {
        let target = NotifierTarget { type_, address: address.clone(), secret_ref: None, repository };
        let creds = Credentials { address: None, hmac_key: key.clone().filter(|k| !k.is_empty()), token };
        let s = notify::Signal {
            event: dromos_crds::notifier::NotificationEvent::SyncFailed,
            kind: dromos_crds::notifier::SourceKind::GitSource,
            namespace: "ns".into(),
            name: "n".into(),
            reason: "ApplyFailed".into(),
            message,
            revision,
            time: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            key: ("u".into(), 1),
        };
        let _ = notify::repository_path(source_url.as_deref().unwrap_or_default());
        if let Ok(Some(req)) = notify::render_request(&target, &creds, &s, source_url.as_deref(), "ns/x") {
            let body: serde_json::Value = serde_json::from_slice(&req.body).expect("a JSON body");
            match type_ {
                TargetType::Webhook => {
                    let signed = req.headers.iter().find(|(k, _)| k == notify::SIGNATURE_HEADER);
                    match creds.hmac_key.as_deref() {
                        Some(k) => prop_assert_eq!(signed.map(|(_, v)| v.clone()), Some(notify::sign(k, &req.body))),
                        None => prop_assert!(signed.is_none()),
                    }
                }
                TargetType::Github | TargetType::Gitlab => {
                    let sha = req.url.rsplit('/').next().unwrap_or_default();
                    prop_assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{}", req.url);
                    prop_assert!(body["description"].as_str().unwrap_or_default().chars().count() <= 140);
                }
                _ => {}
            }
        }
    }
}

use super::*;
use NotificationEvent::*;
use dromos_crds::gitsource::LocalObjectReference;
use dromos_crds::notifier::NotifierSource;

fn t(s: &str) -> Instant {
    crate::time::parse_time(s).unwrap()
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn event(kind: &str, type_: &str, reason: &str, note: &str, reporter: &str) -> Event {
    serde_json::from_value(json!({
        "metadata": {"name": "x.1", "namespace": "ns", "uid": "u1"},
        "involvedObject": {"apiVersion": "dromos.io/v1alpha1", "kind": kind, "namespace": "ns", "name": "web"},
        "type": type_, "reason": reason, "message": note, "reportingComponent": reporter,
        "eventTime": "2026-12-05T10:00:00.123456Z"
    }))
    .unwrap()
}

fn signal(ev: NotificationEvent, kind: SourceKind, revision: Option<&str>) -> Signal {
    Signal {
        event: ev,
        kind,
        namespace: "ns".into(),
        name: "web".into(),
        reason: "ApplyFailed".into(),
        message: "1 of 2 objects failed".into(),
        revision: revision.map(str::to_string),
        time: t("2026-12-05T10:00:00Z"),
        key: ("u1".into(), 1),
    }
}

fn spec(events: &[NotificationEvent], type_: TargetType) -> NotifierSpec {
    NotifierSpec {
        events: events.to_vec(),
        target: NotifierTarget { type_, address: Some("http://127.0.0.1:9/hook".into()), ..Default::default() },
        ..Default::default()
    }
}

#[test]
fn each_notification_comes_from_the_event_its_operator_publishes() {
    let table = [
        ("GitSource", true, "FetchFailed", Some(SyncFailed)),
        ("GitSource", true, "ApplyFailed", Some(SyncFailed)),
        ("GitSource", true, "ValidationFailed", Some(SyncFailed)),
        ("GitSource", true, "DriftDetected", None),
        ("GitSource", true, "IntervalOutOfRange", None),
        ("GitSource", false, "Recovered", Some(SyncRecovered)),
        ("GitSource", false, "Applied", Some(SyncSucceeded)),
        ("GitSource", false, "Pruned", None),
        ("App", false, "DeploymentFinished", Some(DeploymentFinished)),
        ("App", true, "DeploymentFailed", Some(DeploymentFailed)),
        ("App", false, "DeploymentStarted", None),
        ("Job", true, "RunFailed", Some(JobFailed)),
        ("Job", true, "StartingDeadlineExceeded", Some(JobFailed)),
        ("Job", true, "RunMissed", Some(JobLate)),
        ("Job", false, "RunStarted", None),
        ("Job", true, "AttemptFailed", None),
        ("Package", true, "ApplyFailed", Some(PlanStepFailed)),
        ("Package", true, "RepositoryUnavailable", Some(PlanStepFailed)),
        ("Package", true, "Approximation", None),
        ("Package", false, "Installed", None),
        ("Offer", true, "Anything", None),
    ];
    for (kind, warning, reason, want) in table {
        assert_eq!(classify(kind, warning, reason), want, "{kind} {reason}");
    }
}

#[test]
fn a_signal_carries_the_object_the_revision_and_the_exact_time() {
    let note = format!("revision main@sha1:{SHA}: 1 of 2 objects failed");
    let s = signal_of(&event("GitSource", "Warning", "ApplyFailed", &note, "dromos")).unwrap();
    assert_eq!(s.event, SyncFailed);
    assert_eq!((s.kind, s.namespace.as_str(), s.name.as_str()), (SourceKind::GitSource, "ns", "web"));
    assert_eq!(s.revision.as_deref(), Some(format!("main@sha1:{SHA}").as_str()));
    assert_eq!(s.time, t("2026-12-05T10:00:00.123456Z"), "microseconds kept: the restart baseline compares them");
    assert_eq!(s.key, ("u1".to_string(), 1));
    // Someone else's Event about a Dromos object, or a Dromos Event about a Pod: not ours.
    assert!(signal_of(&event("GitSource", "Warning", "ApplyFailed", &note, "kubectl")).is_none());
    let mut pod = event("GitSource", "Warning", "ApplyFailed", &note, "dromos");
    pod.involved_object.api_version = Some("v1".into());
    assert!(signal_of(&pod).is_none());
    // A repeated Event counts as a new occurrence at its last observed time.
    let mut again = event("Job", "Warning", "RunMissed", "missed", "dromos-jobs");
    again.series =
        Some(serde_json::from_value(json!({"count": 3, "lastObservedTime": "2026-12-05T11:00:00.5Z"})).unwrap());
    let s = signal_of(&again).unwrap();
    assert_eq!((s.event, s.key.1, s.time), (JobLate, 3, t("2026-12-05T11:00:00.5Z")));
}

#[test]
fn revisions_are_found_in_notes() {
    assert_eq!(revision_in(&format!("applied from main@sha1:{SHA}.")), Some(format!("main@sha1:{SHA}")));
    assert_eq!(revision_in(&format!("tag v1.2@sha1:{SHA}")), Some(format!("v1.2@sha1:{SHA}")));
    assert_eq!(revision_in("no revision here sha1:abc"), None);
    assert_eq!(commit_of(&format!("main@sha1:{SHA}")), Some(SHA));
    assert_eq!(commit_of("main@sha1:xyz"), None);
}

#[test]
fn a_notifier_selects_by_event_kind_and_name() {
    let s = signal(SyncFailed, SourceKind::GitSource, None);
    let mut sp = spec(&[SyncFailed], TargetType::Webhook);
    assert!(selects(&sp, &s));
    assert!(!selects(&sp, &signal(DeploymentFailed, SourceKind::App, None)), "event not listed");
    sp.sources = vec![NotifierSource { kind: SourceKind::App, name: None, match_labels: None }];
    assert!(!selects(&sp, &s), "kind not listed");
    sp.sources.push(NotifierSource { kind: SourceKind::GitSource, name: Some("other".into()), match_labels: None });
    assert!(!selects(&sp, &s), "name not listed");
    sp.sources.push(NotifierSource { kind: SourceKind::GitSource, name: Some("*".into()), match_labels: None });
    assert!(selects(&sp, &s));
    assert!(!needs_labels(&sp));
    sp.sources = vec![NotifierSource {
        kind: SourceKind::GitSource,
        name: None,
        match_labels: Some([("team".to_string(), "web".to_string())].into()),
    }];
    assert!(selects(&sp, &s) && needs_labels(&sp), "kind and name match: the labels decide");
    let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert!(labels_match(&sp, &s, &labels(&[("team", "web"), ("tier", "1")])));
    assert!(!labels_match(&sp, &s, &labels(&[("team", "db")])));
    assert!(!labels_match(&sp, &s, &labels(&[])));
    sp.suspend = Some(true);
    assert!(!selects(&sp, &s), "suspended");
    // A commit-status notifier asking for successes gets recoveries too.
    let ok = spec(&[SyncSucceeded], TargetType::Github);
    assert!(selects(&ok, &signal(SyncRecovered, SourceKind::GitSource, None)));
}

#[test]
fn a_webhook_is_json_signed_with_the_secret_key() {
    let creds = Credentials { hmac_key: Some(b"k3y".to_vec()), ..Default::default() };
    let sp = spec(&[SyncFailed], TargetType::Webhook);
    let s = signal(SyncFailed, SourceKind::GitSource, Some(&format!("main@sha1:{SHA}")));
    let r = render_request(&sp.target, &creds, &s, None, "ns/hooks").unwrap().unwrap();
    assert_eq!(r.url, "http://127.0.0.1:9/hook");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"event": "SyncFailed", "severity": "error", "object": {"kind": "GitSource", "namespace": "ns", "name": "web"},
            "reason": "ApplyFailed", "message": "1 of 2 objects failed", "revision": format!("main@sha1:{SHA}"),
            "timestamp": "2026-12-05T10:00:00Z", "notifier": "ns/hooks"})
    );
    assert_eq!(r.headers, [(SIGNATURE_HEADER.to_string(), sign(b"k3y", &r.body))]);
    // The signature is the standard HMAC-SHA256 (RFC 4231 test case 2).
    assert_eq!(
        sign(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Without a key, no signature; the Secret's address wins over the spec's.
    let creds = Credentials { address: Some("https://hooks.example/x".into()), ..Default::default() };
    let r = render_request(&sp.target, &creds, &s, None, "ns/hooks").unwrap().unwrap();
    assert!(r.headers.is_empty());
    assert_eq!(r.url, "https://hooks.example/x");
}

#[test]
fn slack_and_teams_payloads_have_their_shape() {
    let s = signal(DeploymentFailed, SourceKind::App, None);
    let slack = render_slack(&s);
    assert_eq!(slack["text"], "DeploymentFailed App ns/web: 1 of 2 objects failed");
    assert_eq!(slack["attachments"][0]["color"], "danger");
    assert_eq!(slack["attachments"][0]["fields"][0], json!({"title": "Reason", "value": "ApplyFailed", "short": true}));
    let teams = render_teams(&signal(DeploymentFinished, SourceKind::App, None));
    assert_eq!(teams["@type"], "MessageCard");
    assert_eq!(teams["themeColor"], "2EB886");
    assert_eq!(teams["title"], "DeploymentFinished App ns/web");
    assert_eq!(teams["sections"][0]["facts"][0], json!({"name": "Reason", "value": "ApplyFailed"}));
}

#[test]
fn commit_statuses_go_to_the_revision_of_a_gitsource() {
    let creds = Credentials { token: Some("t0k".into()), ..Default::default() };
    let mut gh = spec(&[SyncFailed], TargetType::Github).target;
    gh.address = None;
    let s = signal(SyncFailed, SourceKind::GitSource, Some(&format!("main@sha1:{SHA}")));
    let r = render_request(&gh, &creds, &s, Some("https://github.com/acme/shop.git"), "ns/gh").unwrap().unwrap();
    assert_eq!(r.url, format!("https://api.github.com/repos/acme/shop/statuses/{SHA}"));
    assert!(r.headers.contains(&("Authorization".into(), "Bearer t0k".into())));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["state"], "failure");
    assert_eq!(body["context"], "dromos/ns/web");
    // GitLab: the project path encoded, its own state words and token header.
    let mut gl = gh.clone();
    gl.type_ = TargetType::Gitlab;
    gl.repository = Some("group/sub/shop".into());
    assert_eq!(validate_target(&gl, &creds), Ok(()), "a GitLab project path may be nested");
    gh.repository = Some("group/sub/shop".into());
    assert!(validate_target(&gh, &creds).unwrap_err().contains("`owner/name`"));
    gh.repository = None;
    gl.repository = None;
    gl.address = Some("http://127.0.0.1:8/".into());
    let ok = signal(SyncSucceeded, SourceKind::GitSource, Some(&format!("main@sha1:{SHA}")));
    let r = render_request(&gl, &creds, &ok, Some("git@gitlab.example:group/sub/shop.git"), "ns/gl").unwrap().unwrap();
    assert_eq!(r.url, format!("http://127.0.0.1:8/api/v4/projects/group%2Fsub%2Fshop/statuses/{SHA}"));
    assert_eq!(r.headers, [("PRIVATE-TOKEN".to_string(), "t0k".to_string())]);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((body["state"].as_str(), body["name"].as_str()), (Some("success"), Some("dromos/ns/web")));
    // Nothing to say without a revision, or about an App.
    assert_eq!(render_request(&gh, &creds, &signal(SyncFailed, SourceKind::GitSource, None), None, "n"), Ok(None));
    let app = signal(DeploymentFailed, SourceKind::App, Some(&format!("main@sha1:{SHA}")));
    assert_eq!(render_request(&gh, &creds, &app, None, "n"), Ok(None));
    // A local repository names no project: the spec must.
    let err = render_request(&gh, &creds, &s, Some("file:///tmp/repo"), "n").unwrap_err();
    assert!(err.contains("spec.target.repository"), "{err}");
    gh.repository = Some("acme/web".into());
    let r = render_request(&gh, &creds, &s, Some("file:///tmp/repo"), "n").unwrap().unwrap();
    assert!(r.url.contains("/repos/acme/web/statuses/"), "{}", r.url);
}

#[test]
fn targets_without_what_they_need_say_which_field() {
    let gh = NotifierTarget { type_: TargetType::Github, ..Default::default() };
    let e = validate_target(&gh, &Credentials::default()).unwrap_err();
    assert!(e.contains("`token`"), "{e}");
    let hook = NotifierTarget {
        type_: TargetType::Slack,
        secret_ref: Some(LocalObjectReference { name: "s".into() }),
        ..Default::default()
    };
    let e = validate_target(&hook, &Credentials::default()).unwrap_err();
    assert!(e.contains("`address`"), "{e}");
    let e = validate_target(&hook, &Credentials { address: Some("ftp://x".into()), ..Default::default() }).unwrap_err();
    assert!(e.contains("not an http or https URL"), "{e}");
    let data = [("address".to_string(), b"https://h/x\n".to_vec()), ("token".to_string(), b"".to_vec())].into();
    assert_eq!(
        Credentials::from_data(&data),
        Credentials { address: Some("https://h/x".into()), ..Default::default() }
    );
}

#[test]
fn repositories_derive_from_git_urls() {
    let table = [
        ("https://github.com/acme/shop.git", Some("acme/shop")),
        ("https://github.com/acme/shop", Some("acme/shop")),
        ("git@github.com:acme/shop.git", Some("acme/shop")),
        ("ssh://git@gitlab.example:2222/group/sub/shop.git", Some("group/sub/shop")),
        ("https://gitlab.example/shop", None),
        ("file:///srv/git/acme/shop", None),
        ("/srv/git/shop", None),
    ];
    for (url, want) in table {
        assert_eq!(repository_path(url).as_deref(), want, "{url}");
    }
}

#[test]
fn the_bucket_allows_a_burst_then_its_rate() {
    let mut b = TokenBucket::default();
    let now = t("2026-12-05T10:00:00Z");
    assert!((0..3).all(|_| b.take(3, now)), "a burst of the minute's allowance");
    assert!(!b.take(3, now), "then nothing");
    assert!(!b.take(3, now + chrono::Duration::seconds(19)), "one token takes 20 s");
    let later = now + chrono::Duration::seconds(40);
    assert!(b.take(3, later) && b.take(3, later), "40 s refill two");
    assert!(!b.take(3, later));
    // A clock that goes back refills nothing and does not panic.
    assert!(!b.take(3, now));
}

#[test]
fn retries_back_off_to_a_cap_and_only_for_what_may_pass_later() {
    let base = Duration::from_secs(2);
    assert_eq!(retry_delay(1, base), base);
    assert_eq!(retry_delay(3, base), base * 4);
    assert_eq!(retry_delay(u32::MAX, base), RETRY_CAP);
    assert!(retryable(503) && retryable(429) && retryable(408));
    assert!(!retryable(401) && !retryable(404) && !retryable(422));
}

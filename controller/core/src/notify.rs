//! Notifications (pure): which Dromos Event is which notification ([`signal_of`]), which
//! Notifier wants it ([`selects`]), the HTTP request of each target ([`render_request`]: a
//! signed JSON webhook, Slack, Microsoft Teams, a GitHub or GitLab commit status), the rate
//! limit ([`TokenBucket`]) and the retry schedule ([`retry_delay`], [`retryable`]). The
//! Notifier operator (`controller/src/operators/notifier.rs`) watches, reads Secrets and sends.

use crate::time::{Instant, fmt_time};
use dromos_crds::notifier::{NotificationEvent, NotifierSpec, NotifierTarget, SourceKind, TargetType};
use k8s_openapi::api::core::v1::Event;
use serde_json::{Value, json};
use std::time::Duration;

/// Prefix of the reporting component of every Dromos operator's Events (`dromos`,
/// `dromos-apps`, `dromos-jobs`, `dromos-packages`).
pub const REPORTER_PREFIX: &str = "dromos";
/// Header carrying the HMAC-SHA256 of a webhook body: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Dromos-Signature";
/// Most attempts of one notification (the first and its retries).
pub const MAX_ATTEMPTS: u32 = 5;
/// Longest wait between two attempts.
pub const RETRY_CAP: Duration = Duration::from_secs(300);
/// Rate limit when `spec.rateLimitPerMinute` is not set.
pub const DEFAULT_PER_MINUTE: u32 = 30;
/// Longest message sent (characters): receivers cut or refuse long texts (GitHub: 140 for a
/// commit status description, which is cut further).
pub const MESSAGE_CHARS: usize = 2000;
/// The public GitHub API.
pub const GITHUB_API: &str = "https://api.github.com";
/// The public GitLab.
pub const GITLAB_API: &str = "https://gitlab.com";

/// A notification: one Dromos Event, classified.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// What happened.
    pub event: NotificationEvent,
    /// Kind of the object it happened to.
    pub kind: SourceKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The Event's reason (`ApplyFailed`, `RunMissed`, ...).
    pub reason: String,
    /// The Event's note.
    pub message: String,
    /// The Git revision it is about (`main@sha1:<40 hex>`), found in the note.
    pub revision: Option<String>,
    /// When it happened (the Event's last occurrence).
    pub time: Instant,
    /// Identity of this occurrence: the Event's uid and occurrence count, so a watch that
    /// lists again sends nothing twice.
    pub key: (String, i32),
}

/// Which notification an Event of a Dromos operator is, if any. Events of other reporters,
/// of other kinds, and reasons that are not notifications (progress, drift) are `None`.
pub fn classify(kind: &str, warning: bool, reason: &str) -> Option<NotificationEvent> {
    use NotificationEvent::*;
    match (kind, warning, reason) {
        // A drift report or a clamped interval is no failed sync; the rest of the GitSource's
        // warnings are (fetch, refusal, validation, policy, apply, deletion guard).
        ("GitSource", true, "DriftDetected" | "IntervalOutOfRange" | "ReconcilePanicked") => None,
        ("GitSource", true, _) => Some(SyncFailed),
        ("GitSource", false, "Recovered") => Some(SyncRecovered),
        ("GitSource", false, "Applied") => Some(SyncSucceeded),
        ("App", false, "DeploymentFinished") => Some(DeploymentFinished),
        ("App", true, "DeploymentFailed") => Some(DeploymentFailed),
        ("Job", true, "RunFailed" | "RunKilled" | "MaxLaunchDelayExceeded" | "StartingDeadlineExceeded") => {
            Some(JobFailed)
        }
        ("Job", true, "RunMissed") => Some(JobLate),
        // Until Packages have plans, a failed install or upgrade is the failed step: an apply
        // that failed, a deletion guard, or a refusal (repository, options, identity).
        ("Package", true, "Approximation" | "ReconcilePanicked") => None,
        ("Package", true, _) => Some(PlanStepFailed),
        _ => None,
    }
}

/// The notification an Event is, with what it says; `None` for Events that are none (see
/// [`classify`]) or that no Dromos operator reported.
pub fn signal_of(ev: &Event) -> Option<Signal> {
    let reporter = ev.reporting_component.as_deref().or(ev.source.as_ref().and_then(|s| s.component.as_deref()))?;
    if !reporter.starts_with(REPORTER_PREFIX) {
        return None;
    }
    let obj = &ev.involved_object;
    if !obj.api_version.as_deref().is_some_and(|v| v.starts_with("dromos.io/")) {
        return None;
    }
    let kind = match obj.kind.as_deref()? {
        "GitSource" => SourceKind::GitSource,
        "App" => SourceKind::App,
        "Job" => SourceKind::Job,
        "Package" => SourceKind::Package,
        _ => return None,
    };
    let reason = ev.reason.clone().unwrap_or_default();
    let event = classify(kind.as_str(), ev.type_.as_deref() == Some("Warning"), &reason)?;
    let time = ev
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .or(ev.event_time.as_ref())
        .map(|t| micro(&t.0))
        .or_else(|| ev.last_timestamp.as_ref().map(crate::time::from_k8s))
        .or_else(|| ev.metadata.creation_timestamp.as_ref().map(crate::time::from_k8s))?;
    let message = cut(ev.message.as_deref().unwrap_or_default(), MESSAGE_CHARS);
    let count = ev.series.as_ref().and_then(|s| s.count).or(ev.count).unwrap_or(1);
    Some(Signal {
        event,
        kind,
        namespace: obj.namespace.clone().or(ev.metadata.namespace.clone()).unwrap_or_default(),
        name: obj.name.clone().unwrap_or_default(),
        reason,
        revision: revision_in(&message),
        message,
        time,
        key: (ev.metadata.uid.clone().unwrap_or_default(), count),
    })
}

fn micro(t: &k8s_openapi::jiff::Timestamp) -> Instant {
    chrono::DateTime::from_timestamp_micros(t.as_microsecond()).unwrap_or_default()
}

/// The first Git revision named in `text`: `<ref>@sha1:<40 hex>` (as GitSource statuses and
/// Events write it).
pub fn revision_in(text: &str) -> Option<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"[A-Za-z0-9._/+-]*@sha1:[0-9a-f]{40}").expect("a valid regex"));
    re.find(text).map(|m| m.as_str().to_string())
}

/// The commit of a revision (`main@sha1:abc...` -> `abc...`).
pub fn commit_of(revision: &str) -> Option<&str> {
    revision
        .rsplit_once("sha1:")
        .map(|(_, sha)| sha)
        .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `spec` wants `s`: not suspended, the event listed (`SyncSucceeded` also takes a
/// recovery: both are a revision applied), and the object among `spec.sources` (all when
/// none are listed). The namespace is the caller's to match.
pub fn selects(spec: &NotifierSpec, s: &Signal) -> bool {
    spec.suspend != Some(true) && wants(spec, s)
}

/// [`selects`] without `spec.suspend`: a suspended Notifier still records that it saw `s`
/// (so resuming it never sends what happened meanwhile).
pub fn wants(spec: &NotifierSpec, s: &Signal) -> bool {
    let wanted = spec.events.contains(&s.event)
        || (s.event == NotificationEvent::SyncRecovered && spec.events.contains(&NotificationEvent::SyncSucceeded));
    let from = spec.sources.is_empty() || spec.sources.iter().any(|src| named(src, s));
    wanted && from
}

fn named(src: &dromos_crds::notifier::NotifierSource, s: &Signal) -> bool {
    src.kind == s.kind && src.name.as_deref().is_none_or(|n| n == "*" || n == s.name)
}

/// Whether some source of `spec` selects by labels: then [`labels_match`] decides, with the
/// object's labels (read by the caller).
pub fn needs_labels(spec: &NotifierSpec) -> bool {
    spec.sources.iter().any(|src| src.match_labels.as_ref().is_some_and(|l| !l.is_empty()))
}

/// Whether a source of `spec` that names the object of `s` also matches its `labels` (every
/// `matchLabels` entry present with its value).
pub fn labels_match(spec: &NotifierSpec, s: &Signal, labels: &std::collections::BTreeMap<String, String>) -> bool {
    spec.sources.is_empty()
        || spec
            .sources
            .iter()
            .any(|src| named(src, s) && src.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v)))
}

/// What a Notifier's Secret gives (each key optional).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credentials {
    /// `address`: the URL, overriding `spec.target.address`.
    pub address: Option<String>,
    /// `hmacKey`: the webhook body's signing key.
    pub hmac_key: Option<Vec<u8>>,
    /// `token`: the GitHub or GitLab API token.
    pub token: Option<String>,
}

impl Credentials {
    /// The keys of a Secret's `data` (values trimmed of a trailing newline, as `kubectl
    /// create secret --from-file` leaves them).
    pub fn from_data(data: &std::collections::BTreeMap<String, Vec<u8>>) -> Self {
        let text =
            |k: &str| data.get(k).and_then(|v| String::from_utf8(v.clone()).ok()).map(|s| s.trim_end().to_string());
        Credentials {
            address: text("address").filter(|s| !s.is_empty()),
            hmac_key: data.get("hmacKey").filter(|v| !v.is_empty()).cloned(),
            token: text("token").filter(|s| !s.is_empty()),
        }
    }
}

/// One HTTP POST to make.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Where.
    pub url: String,
    /// Headers besides `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Checks a target's settings against what its Secret gave: the problem, naming the field,
/// when it cannot send.
pub fn validate_target(t: &NotifierTarget, creds: &Credentials) -> Result<(), String> {
    match t.type_ {
        TargetType::Github | TargetType::Gitlab => {
            if creds.token.is_none() {
                return Err(format!(
                    "a {} target needs a `token` key in the Secret of spec.target.secretRef",
                    t.type_.as_str()
                ));
            }
            if let Some(r) = &t.repository {
                let ok = match t.type_ {
                    TargetType::Github => repository_parts(r).is_some(),
                    _ => r.trim_matches('/').split('/').filter(|p| !p.is_empty()).count() >= 2,
                };
                if !ok {
                    let form =
                        if t.type_ == TargetType::Github { "`owner/name`" } else { "a project path `group/name`" };
                    return Err(format!("spec.target.repository `{r}` is not {form}"));
                }
            }
        }
        _ => {
            if creds.address.is_none() && t.address.is_none() {
                return Err(format!(
                    "a {} target needs spec.target.address or an `address` key in the Secret of spec.target.secretRef",
                    t.type_.as_str()
                ));
            }
        }
    }
    let address = creds.address.as_deref().or(t.address.as_deref());
    if let Some(a) = address
        && !(a.starts_with("http://") || a.starts_with("https://"))
    {
        let from = if creds.address.is_some() { "the Secret's `address`" } else { "spec.target.address" };
        return Err(format!("{from} is not an http or https URL"));
    }
    Ok(())
}

/// The request that delivers `s` to `target`, or `None` when the target has nothing to say
/// about it (a commit status needs a GitSource event naming a revision). `source_url` is the
/// URL of the GitSource the signal is about (a commit status's repository when
/// `spec.target.repository` is absent); `notifier` is `namespace/name`.
pub fn render_request(
    target: &NotifierTarget,
    creds: &Credentials,
    s: &Signal,
    source_url: Option<&str>,
    notifier: &str,
) -> Result<Option<Request>, String> {
    validate_target(target, creds)?;
    let address = creds.address.clone().or(target.address.clone()).unwrap_or_default();
    let json_body = |v: Value| serde_json::to_vec(&v).unwrap_or_default();
    let req = match target.type_ {
        TargetType::Webhook => {
            let body = json_body(render_webhook(s, notifier));
            let headers = match &creds.hmac_key {
                Some(key) => vec![(SIGNATURE_HEADER.to_string(), sign(key, &body))],
                None => vec![],
            };
            Request { url: address, headers, body }
        }
        TargetType::Slack => Request { url: address, headers: vec![], body: json_body(render_slack(s)) },
        TargetType::Teams => Request { url: address, headers: vec![], body: json_body(render_teams(s)) },
        TargetType::Github | TargetType::Gitlab => {
            let Some(sha) = s.revision.as_deref().and_then(commit_of) else { return Ok(None) };
            if s.kind != SourceKind::GitSource {
                return Ok(None);
            }
            let repo = match (&target.repository, source_url) {
                (Some(r), _) => r.clone(),
                (None, Some(url)) => repository_path(url).ok_or_else(|| {
                    format!(
                        "no repository can be derived from the GitSource URL `{}`; set spec.target.repository",
                        crate::giturl::redact_url(url)
                    )
                })?,
                (None, None) => return Err("set spec.target.repository".into()),
            };
            let token = creds.token.clone().unwrap_or_default();
            let context = format!("dromos/{}/{}", s.namespace, s.name);
            let description = cut(&format!("{}: {}", s.event.as_str(), s.message), 140);
            if target.type_ == TargetType::Github {
                let (owner, name) =
                    repository_parts(&repo).ok_or_else(|| format!("repository `{repo}` is not `owner/name`"))?;
                let base = if address.is_empty() { GITHUB_API.to_string() } else { address };
                let state = if s.event.is_failure() { "failure" } else { "success" };
                Request {
                    url: format!("{}/repos/{owner}/{name}/statuses/{sha}", base.trim_end_matches('/')),
                    headers: vec![
                        ("Authorization".into(), format!("Bearer {token}")),
                        ("Accept".into(), "application/vnd.github+json".into()),
                    ],
                    body: json_body(json!({"state": state, "context": context, "description": description})),
                }
            } else {
                let base = if address.is_empty() { GITLAB_API.to_string() } else { address };
                let state = if s.event.is_failure() { "failed" } else { "success" };
                Request {
                    url: format!(
                        "{}/api/v4/projects/{}/statuses/{sha}",
                        base.trim_end_matches('/'),
                        encode_path(&repo)
                    ),
                    headers: vec![("PRIVATE-TOKEN".into(), token)],
                    body: json_body(json!({"state": state, "name": context, "description": description})),
                }
            }
        }
    };
    Ok(Some(req))
}

/// The generic webhook body.
pub fn render_webhook(s: &Signal, notifier: &str) -> Value {
    json!({
        "event": s.event.as_str(),
        "severity": if s.event.is_failure() { "error" } else { "info" },
        "object": {"kind": s.kind.as_str(), "namespace": s.namespace, "name": s.name},
        "reason": s.reason,
        "message": s.message,
        "revision": s.revision,
        "timestamp": fmt_time(s.time),
        "notifier": notifier,
    })
}

fn headline(s: &Signal) -> String {
    format!("{} {} {}/{}", s.event.as_str(), s.kind.as_str(), s.namespace, s.name)
}

/// A Slack incoming-webhook body: `text` (the fallback and what Slack-compatible chats
/// show) and one attachment with the details.
pub fn render_slack(s: &Signal) -> Value {
    let mut fields = vec![json!({"title": "Reason", "value": s.reason, "short": true})];
    if let Some(r) = &s.revision {
        fields.push(json!({"title": "Revision", "value": r, "short": true}));
    }
    json!({
        "text": format!("{}: {}", headline(s), s.message),
        "attachments": [{
            "color": if s.event.is_failure() { "danger" } else { "good" },
            "title": headline(s),
            "text": s.message,
            "fields": fields,
            "ts": s.time.timestamp(),
        }]
    })
}

/// A Microsoft Teams incoming-webhook body (a MessageCard, which Teams workflows accept too).
pub fn render_teams(s: &Signal) -> Value {
    let mut facts =
        vec![json!({"name": "Reason", "value": s.reason}), json!({"name": "Time", "value": fmt_time(s.time)})];
    if let Some(r) = &s.revision {
        facts.push(json!({"name": "Revision", "value": r}));
    }
    json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": headline(s),
        "themeColor": if s.event.is_failure() { "D70000" } else { "2EB886" },
        "title": headline(s),
        "text": s.message,
        "sections": [{"facts": facts}],
    })
}

/// `sha256=<hex HMAC-SHA256 of body with key>`, as [`SIGNATURE_HEADER`] carries it.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    use hmac::{Mac, digest::KeyInit};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    let out = mac.finalize().into_bytes();
    format!("sha256={}", out.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The repository path of a Git URL (`https://github.com/org/repo.git`, `git@host:org/repo`,
/// `ssh://git@host:22/group/sub/repo.git` -> `org/repo`, `group/sub/repo`); `None` for local
/// paths and URLs with fewer than two path segments.
pub fn repository_path(url: &str) -> Option<String> {
    let rest = if let Some((_, after)) = url.split_once("://") {
        if url.starts_with("file://") {
            return None;
        }
        after.split_once('/')?.1
    } else if crate::giturl::is_scp_like(url) {
        url.split_once(':')?.1
    } else {
        return None;
    };
    let path = rest.split(['?', '#']).next()?.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    (path.split('/').filter(|p| !p.is_empty()).count() >= 2).then(|| path.to_string())
}

/// `owner` and `name` of `owner/name`.
fn repository_parts(r: &str) -> Option<(&str, &str)> {
    let (owner, name) = r.trim_matches('/').split_once('/')?;
    let ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    (ok(owner) && ok(name)).then_some((owner, name))
}

/// Percent-encodes a GitLab project path for the API (`group/sub` -> `group%2Fsub`).
fn encode_path(p: &str) -> String {
    p.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// What checking a Notifier found (its Secret read, its target validated).
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// It can send.
    Ready,
    /// `spec.suspend` is true.
    Suspended,
    /// It cannot send until something changes: a stable reason and what is wrong.
    Refused {
        /// `SecretUnreadable`, `InvalidTarget`, `ServiceAccountRequired`.
        reason: &'static str,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// Reason of a Secret the Notifier's identity may not read (or that is missing).
pub const SECRET_UNREADABLE: &str = "SecretUnreadable";
/// Reason of a target that lacks what it needs.
pub const INVALID_TARGET: &str = "InvalidTarget";

/// The conditions of a Notifier after a check (Ready, Reconciling, Stalled).
pub fn conditions(
    spec: &NotifierSpec,
    generation: Option<i64>,
    old: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    check: &Check,
    now: Instant,
) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    use crate::conditions::{Standard, standard};
    let events: Vec<&str> = spec.events.iter().map(|e| e.as_str()).collect();
    let ready = format!("sends {} to a {} target", events.join(", "), spec.target.type_.as_str());
    let s = match check {
        Check::Ready => Standard { ready: true, reason: "Ready", message: &ready, ..Default::default() },
        Check::Suspended => {
            Standard { reason: "Suspended", message: "suspended: nothing is sent", ..Default::default() }
        }
        Check::Refused { reason, message } => Standard { stalled: true, reason, message, ..Default::default() },
    };
    standard(s, generation, old, now)
}

/// Whether an HTTP answer is worth another attempt: a timeout, too many requests, or a
/// server error. Other refusals (a bad token, a wrong URL) fail the same way again.
pub fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// The wait before attempt `attempt + 1` after attempt `attempt` (1 for the first) failed:
/// `base * 2^(attempt-1)`, at most [`RETRY_CAP`].
pub fn retry_delay(attempt: u32, base: Duration) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(RETRY_CAP)
}

/// A token bucket of `per_minute` tokens refilled continuously: bursts up to `per_minute`,
/// then one every `60 / per_minute` seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    at: Option<Instant>,
}

impl TokenBucket {
    /// Takes a token at `now` if there is one.
    pub fn take(&mut self, per_minute: u32, now: Instant) -> bool {
        let cap = f64::from(per_minute.max(1));
        let tokens = match self.at {
            None => cap,
            Some(at) => {
                let secs = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
                (self.tokens + secs * cap / 60.0).min(cap)
            }
        };
        self.at = Some(now);
        if tokens >= 1.0 {
            self.tokens = tokens - 1.0;
            true
        } else {
            self.tokens = tokens;
            false
        }
    }
}

#[cfg(test)]
mod tests;

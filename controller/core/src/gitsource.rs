//! GitSource decisions (pure): from what a reconcile gathered (fetch, validation) and did
//! (the sync), the one status to write, the Events to publish and when to reconcile again.
//! The GitSource operator (`controller/src/operators/gitsource.rs`) only gathers and acts.

use crate::Diagnostic;
use crate::conditions::{self, Standard};
use crate::outcome::SyncOutcome;
use crate::plan::{self, ObjRef, PlanOptions};
use crate::time::{Instant, fmt_time};
use dromos_crds::gitsource::{GitSourceSpec, GitSourceStatus, StatusDiagnostic, SyncSummary};
use std::time::Duration;

/// Reconcile interval when `spec.interval` is absent or does not parse.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Most diagnostics kept in a status.
pub const MAX_DIAGNOSTICS: usize = 100;
/// Most pruned objects named in a `Pruned` Event.
const PRUNED_NAMED: usize = 10;

/// Parses `1m`, `30s`, `1h30m`, `500ms`.
pub fn parse_interval(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                _ => return None,
            }
        };
        total += n * unit;
    }
    if !num.is_empty() || total <= 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// The reconcile interval of a source.
pub fn interval(spec: &GitSourceSpec) -> Duration {
    spec.interval.as_deref().and_then(parse_interval).unwrap_or(DEFAULT_INTERVAL)
}

/// Prune and deletion-guard settings of a source.
pub fn plan_options(spec: &GitSourceSpec) -> PlanOptions {
    PlanOptions {
        prune: spec.prune.unwrap_or(true),
        max_delete_fraction: spec.max_delete_fraction.unwrap_or(0.5),
        allow_mass_delete: spec.allow_mass_delete.unwrap_or(false),
    }
}

/// The source id written to `dromos.io/source` on every object of a GitSource.
pub fn source_id(namespace: &str, name: &str) -> String {
    format!("{namespace}.{name}")
}

pub use crate::decision::{Event, Requeue};

/// What a reconcile gathered and did.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// `spec.suspend` is true: nothing was fetched.
    Suspended,
    /// The source names a repository this controller may not fetch (`URLNotAllowed`):
    /// nothing was fetched, and retrying cannot help until the spec changes.
    Refused {
        /// Stable reason.
        reason: &'a str,
        /// Why (the URL in it redacted).
        message: String,
    },
    /// The fetch failed (`reason` is the Git error's reason).
    FetchFailed {
        /// Stable reason.
        reason: &'a str,
        /// What failed.
        message: String,
    },
    /// The revision does not validate: nothing was applied.
    Invalid {
        /// The revision fetched.
        revision: &'a str,
        /// Its diagnostics (errors are reported).
        diagnostics: &'a [Diagnostic],
    },
    /// `selfHeal: false` on an applied revision: the plan was computed, nothing written.
    DriftReported {
        /// The revision fetched.
        revision: &'a str,
        /// Objects that differ from it.
        drifted: Vec<String>,
    },
    /// The revision was synced.
    Synced {
        /// The revision fetched.
        revision: &'a str,
        /// What the sync did.
        sync: &'a SyncOutcome,
    },
}

/// The decision of one GitSource reconcile.
pub type Decision = crate::decision::Decision<GitSourceStatus>;

/// Decides from `outcome`. `cached` is the status as the watch cache holds it (the base of the
/// new status and the judge of whether a failure is news worth an Event).
pub fn decide(
    spec: &GitSourceSpec,
    generation: Option<i64>,
    cached: Option<&GitSourceStatus>,
    outcome: Outcome<'_>,
    now: Instant,
) -> Decision {
    let old = cached.cloned().unwrap_or_default();
    let mut status = old.clone();
    status.common.observed_generation = generation;
    let mut events = Vec::new();
    let cond = |s: Standard<'_>| conditions::standard(s, generation, &old.common.conditions, now);
    let after = Requeue::After(interval(spec));
    let requeue = match outcome {
        Outcome::Suspended => {
            let ready = conditions::is_true(&old.common.conditions, dromos_crds::condition::READY);
            let message = "sync is suspended; the last applied state stays";
            status.common.conditions = cond(Standard { ready, reason: "Suspended", message, ..Default::default() });
            Requeue::OnChange
        }
        Outcome::FetchFailed { reason, message } => {
            let message = format!("{message}; the last applied revision stays live");
            status.common.conditions = cond(Standard { reason, message: &message, ..Default::default() });
            if cached != Some(&status) {
                events.push(Event::warning(reason, message));
            }
            after
        }
        Outcome::Refused { reason, message } => {
            let message = format!("{message}; nothing was fetched, the last applied revision stays live");
            let s = Standard { stalled: true, reason, message: &message, ..Default::default() };
            status.common.conditions = cond(s);
            if cached != Some(&status) {
                events.push(Event::warning(reason, message));
            }
            Requeue::OnChange
        }
        Outcome::Invalid { revision, diagnostics } => {
            status.last_attempted_revision = Some(revision.to_string());
            let message = invalid(&mut status, revision, diagnostics);
            let s = Standard { stalled: true, reason: "ValidationFailed", message: &message, ..Default::default() };
            status.common.conditions = cond(s);
            if cached != Some(&status) {
                events.push(Event::warning("ValidationFailed", message));
            }
            after
        }
        Outcome::DriftReported { revision, drifted } => {
            if !drifted.is_empty() {
                let note = format!(
                    "{} objects differ from {revision} (selfHeal is off): {}",
                    drifted.len(),
                    drifted.join(", ")
                );
                events.push(Event::warning("DriftDetected", note));
            }
            return Decision { status: None, events, requeue: after };
        }
        Outcome::Synced { revision, sync } => {
            status.last_attempted_revision = Some(revision.to_string());
            status.diagnostics.clear();
            synced(cached, &old, &mut status, &mut events, revision, sync, now, cond);
            after
        }
    };
    Decision { status: Some(status), events, requeue }
}

/// Records the errors of an invalid revision; returns the condition message.
fn invalid(status: &mut GitSourceStatus, revision: &str, diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    status.diagnostics = errors
        .iter()
        .take(MAX_DIAGNOSTICS)
        .map(|d| StatusDiagnostic {
            file: d.file.clone(),
            line: i64::from(d.line),
            field: (!d.field.is_empty()).then(|| d.field.clone()),
            message: d.message.clone(),
        })
        .collect();
    let first = errors.first().map(|d| format!("{}:{}: {}", d.file, d.line, d.message)).unwrap_or_default();
    format!("revision {revision} is invalid ({} errors, first: {first}); nothing was applied", errors.len())
}

/// Status and Events after a sync ran.
#[allow(clippy::too_many_arguments)] // the inputs of one step, named rather than bundled
fn synced(
    cached: Option<&GitSourceStatus>,
    old: &GitSourceStatus,
    status: &mut GitSourceStatus,
    events: &mut Vec<Event>,
    revision: &str,
    sync: &SyncOutcome,
    now: Instant,
    cond: impl Fn(Standard<'_>) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
) {
    let same_revision = old.last_applied_revision.as_deref() == Some(revision);
    let unchanged = sync.plan.count(plan::Action::Unchanged);
    if same_revision && sync.applied > 0 && sync.failures.is_empty() {
        let fixed: Vec<String> =
            sync.plan.steps.iter().filter(|s| s.action != plan::Action::Unchanged).map(|s| s.obj.display()).collect();
        let note = format!("{} objects restored to {revision}: {}", fixed.len(), fixed.join(", "));
        events.push(Event::normal("DriftCorrected", note));
    }
    if sync.blocked() {
        let message = plan::report::text(&sync.plan).lines().last().unwrap_or_default().to_string();
        status.common.conditions =
            cond(Standard { stalled: true, reason: "DeletionGuard", message: &message, ..Default::default() });
        // The guard's verdict is news only when it changes the status.
        if cached != Some(&*status) {
            events.push(Event::warning("DeletionGuard", message));
        }
    } else if sync.failures.is_empty() {
        status.last_applied_revision = Some(revision.to_string());
        let message = format!("applied revision {revision}");
        status.common.conditions =
            cond(Standard { ready: true, reason: "Succeeded", message: &message, ..Default::default() });
        if sync.applied > 0 && !same_revision {
            let note = format!("{} objects applied, {unchanged} unchanged from {revision}", sync.applied);
            events.push(Event::normal("Applied", note));
        }
        if !sync.plan.kept.is_empty() {
            let names: Vec<String> = sync.plan.kept.iter().take(PRUNED_NAMED).map(|(o, _)| o.display()).collect();
            let note = format!(
                "{} objects left the source and are kept, not deleted (protected kinds need dromos.io/prune: enabled; \
                 dromos.io/prune: disabled keeps any): {}",
                sync.plan.kept.len(),
                names.join(", ")
            );
            events.push(Event::normal("PruneSkipped", note));
        }
        if sync.pruned > 0 {
            let names: Vec<String> = sync.plan.prune.iter().take(PRUNED_NAMED).map(ObjRef::display).collect();
            events.push(Event::normal("Pruned", format!("{} objects deleted: {}", sync.pruned, names.join(", "))));
        }
    } else {
        let conflicts = sync.failures.iter().filter(|f| f.reason == "Conflict").count();
        let reason = if conflicts > 0 { "Conflict" } else { "ApplyFailed" };
        let first = &sync.failures[0];
        let message = format!(
            "{} of {} objects failed (first: {} {}: {}); nothing was pruned{}",
            sync.failures.len(),
            sync.plan.steps.len(),
            first.reason,
            first.obj.display(),
            first.message,
            if conflicts > 0 { "; set spec.force to take over fields owned by other managers" } else { "" }
        );
        status.common.conditions = cond(Standard { reason, message: &message, ..Default::default() });
        events.push(Event::warning(reason, message));
    }
    if !sync.blocked() {
        status.inventory = sync.inventory.iter().map(ObjRef::encode).collect();
        status.inventory.sort();
    }
    if sync.writes > 0 || status.last_sync.is_none() {
        status.last_sync = Some(SyncSummary {
            applied: sync.applied as i64,
            unchanged: unchanged as i64,
            pruned: sync.pruned as i64,
            failed: sync.failures.len() as i64,
            duration_ms: sync.duration.as_millis() as i64,
            finished_at: Some(fmt_time(now)),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;
    use crate::plan::{Action, Guard, Plan, Step};
    use dromos_crds::condition::{READY, STALLED};

    fn t(s: &str) -> Instant {
        crate::time::parse_time(s).unwrap()
    }

    fn obj(name: &str) -> ObjRef {
        ObjRef { api_version: "v1".into(), kind: "ConfigMap".into(), namespace: Some("ns".into()), name: name.into() }
    }

    fn synced_outcome(applied: usize, guard: Guard, failures: Vec<Failure>) -> SyncOutcome {
        let steps = vec![Step {
            obj: obj("a"),
            action: if applied > 0 { Action::Update } else { Action::Unchanged },
            wave: 2,
            diff: None,
        }];
        SyncOutcome {
            plan: Plan { steps, prune: vec![], kept: vec![], guard },
            applied,
            pruned: 0,
            failures,
            writes: applied,
            reads: 1,
            inventory: vec![obj("a")],
            applied_generations: Default::default(),
            duration: Duration::from_millis(5),
        }
    }

    fn spec() -> GitSourceSpec {
        GitSourceSpec { interval: Some("30s".into()), ..Default::default() }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_interval("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_interval("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_interval("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_interval("x"), None);
        assert_eq!(parse_interval("5"), None);
        assert_eq!(interval(&GitSourceSpec::default()), DEFAULT_INTERVAL);
    }

    #[test]
    fn a_sync_records_the_revision_and_a_no_op_resync_changes_nothing() {
        let now = t("2026-12-04T10:00:00Z");
        let sync = synced_outcome(1, Guard::Ok, vec![]);
        let d = decide(&spec(), Some(1), None, Outcome::Synced { revision: "main@sha1:abc", sync: &sync }, now);
        let status = d.status.unwrap();
        assert_eq!(status.last_applied_revision.as_deref(), Some("main@sha1:abc"));
        assert_eq!(status.inventory, vec![obj("a").encode()]);
        assert!(conditions::is_true(&status.common.conditions, READY));
        assert_eq!(d.events.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), ["Applied"]);
        assert_eq!(d.requeue, Requeue::After(Duration::from_secs(30)));
        // The same revision again, nothing written by the sync: the same status, no Event.
        let noop = synced_outcome(0, Guard::Ok, vec![]);
        let later = t("2026-12-04T10:01:00Z");
        let again =
            decide(&spec(), Some(1), Some(&status), Outcome::Synced { revision: "main@sha1:abc", sync: &noop }, later);
        assert_eq!(again.status.as_ref(), Some(&status), "a no-op resync writes nothing");
        assert!(again.events.is_empty());
    }

    #[test]
    fn failures_are_reported_with_the_last_revision_kept() {
        let now = t("2026-12-04T10:00:00Z");
        let ok = synced_outcome(1, Guard::Ok, vec![]);
        let applied =
            decide(&spec(), Some(1), None, Outcome::Synced { revision: "r1", sync: &ok }, now).status.unwrap();
        let fetch = decide(
            &spec(),
            Some(1),
            Some(&applied),
            Outcome::FetchFailed { reason: "Unreachable", message: "no route".into() },
            now,
        );
        let st = fetch.status.clone().unwrap();
        assert_eq!(st.last_applied_revision.as_deref(), Some("r1"));
        assert_eq!(st.common.conditions[0].message, "no route; the last applied revision stays live");
        assert_eq!(fetch.events.len(), 1, "news: an Event");
        let again = decide(
            &spec(),
            Some(1),
            Some(&st),
            Outcome::FetchFailed { reason: "Unreachable", message: "no route".into() },
            now,
        );
        assert!(again.events.is_empty(), "the same failure again: no Event");
        let diag =
            crate::Diagnostic::error("schema", "bad.yaml", crate::Pos::default(), "spec.instances", "not a number");
        let invalid =
            decide(&spec(), Some(1), Some(&applied), Outcome::Invalid { revision: "r2", diagnostics: &[diag] }, now);
        let st = invalid.status.unwrap();
        assert!(conditions::is_true(&st.common.conditions, STALLED));
        assert_eq!(st.diagnostics.len(), 1);
        assert_eq!(st.last_attempted_revision.as_deref(), Some("r2"));
        assert_eq!(st.last_applied_revision.as_deref(), Some("r1"), "nothing of r2 was applied");
        let failed = Failure { obj: obj("a"), reason: "Conflict".into(), message: "owned by kubectl".into() };
        let conflict = synced_outcome(0, Guard::Ok, vec![failed]);
        let d = decide(&spec(), Some(1), Some(&applied), Outcome::Synced { revision: "r3", sync: &conflict }, now);
        assert_eq!(d.events[0].reason, "Conflict");
        assert_eq!(d.status.unwrap().last_applied_revision.as_deref(), Some("r1"));
        let guard = Guard::Blocked { deleting: 5, inventory: 6, max_fraction: 0.5 };
        let blocked = synced_outcome(0, guard, vec![]);
        let d = decide(&spec(), Some(1), Some(&applied), Outcome::Synced { revision: "r4", sync: &blocked }, now);
        assert_eq!(d.events[0].reason, "DeletionGuard");
        assert_eq!(d.status.unwrap().inventory, applied.inventory, "the inventory stays");
    }

    #[test]
    fn a_refused_url_stalls_and_waits_for_a_change() {
        let now = t("2026-12-04T10:00:00Z");
        let refused = || Outcome::Refused { reason: "URLNotAllowed", message: "`file:///x` is local".into() };
        let d = decide(&spec(), Some(1), None, refused(), now);
        assert_eq!(d.requeue, Requeue::OnChange);
        let st = d.status.unwrap();
        assert!(conditions::is_true(&st.common.conditions, STALLED));
        assert!(!conditions::is_true(&st.common.conditions, READY));
        let ready = st.common.conditions.iter().find(|c| c.type_ == READY).unwrap();
        assert_eq!(ready.reason, "URLNotAllowed");
        assert!(ready.message.starts_with("`file:///x` is local; nothing was fetched"), "{}", ready.message);
        assert_eq!(d.events.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), ["URLNotAllowed"]);
        assert!(decide(&spec(), Some(1), Some(&st), refused(), now).events.is_empty(), "no news, no Event");
    }

    #[test]
    fn suspended_and_drift_only() {
        let now = t("2026-12-04T10:00:00Z");
        let d = decide(&spec(), Some(1), None, Outcome::Suspended, now);
        assert_eq!(d.requeue, Requeue::OnChange);
        assert_eq!(d.status.unwrap().common.conditions[0].reason, "Suspended");
        let d = decide(
            &spec(),
            Some(1),
            None,
            Outcome::DriftReported { revision: "r1", drifted: vec!["ConfigMap/ns/a".into()] },
            now,
        );
        assert_eq!(d.status, None, "drift reports write no status");
        assert_eq!(d.events[0].reason, "DriftDetected");
    }
}

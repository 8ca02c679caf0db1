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

/// An Event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Warning (else Normal).
    pub warning: bool,
    /// CamelCase reason.
    pub reason: String,
    /// Note.
    pub message: String,
}

impl Event {
    fn new(warning: bool, reason: &str, message: String) -> Self {
        Self { warning, reason: reason.into(), message }
    }
}

/// When to reconcile again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// After the source's interval.
    After(Duration),
    /// Only when the GitSource changes.
    OnChange,
}

/// What a reconcile gathered and did.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// `spec.suspend` is true: nothing was fetched.
    Suspended,
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

/// The decision of one reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write (`None`: write nothing); written only if it differs from the stored.
    pub status: Option<GitSourceStatus>,
    /// Events to publish.
    pub events: Vec<Event>,
    /// When to reconcile again.
    pub requeue: Requeue,
}

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
                events.push(Event::new(true, reason, message));
            }
            after
        }
        Outcome::Invalid { revision, diagnostics } => {
            status.last_attempted_revision = Some(revision.to_string());
            let message = invalid(&mut status, revision, diagnostics);
            let s = Standard { stalled: true, reason: "ValidationFailed", message: &message, ..Default::default() };
            status.common.conditions = cond(s);
            if cached != Some(&status) {
                events.push(Event::new(true, "ValidationFailed", message));
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
                events.push(Event::new(true, "DriftDetected", note));
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
        events.push(Event::new(false, "DriftCorrected", note));
    }
    if sync.blocked() {
        let message = plan::report::text(&sync.plan).lines().last().unwrap_or_default().to_string();
        status.common.conditions =
            cond(Standard { stalled: true, reason: "DeletionGuard", message: &message, ..Default::default() });
        // The guard's verdict is news only when it changes the status.
        if cached != Some(&*status) {
            events.push(Event::new(true, "DeletionGuard", message));
        }
    } else if sync.failures.is_empty() {
        status.last_applied_revision = Some(revision.to_string());
        let message = format!("applied revision {revision}");
        status.common.conditions =
            cond(Standard { ready: true, reason: "Succeeded", message: &message, ..Default::default() });
        if sync.applied > 0 && !same_revision {
            let note = format!("{} objects applied, {unchanged} unchanged from {revision}", sync.applied);
            events.push(Event::new(false, "Applied", note));
        }
        if sync.pruned > 0 {
            let names: Vec<String> = sync.plan.prune.iter().take(PRUNED_NAMED).map(ObjRef::display).collect();
            events.push(Event::new(false, "Pruned", format!("{} objects deleted: {}", sync.pruned, names.join(", "))));
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
        events.push(Event::new(true, reason, message));
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

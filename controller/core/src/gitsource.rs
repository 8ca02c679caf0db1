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
/// Longest file, field or message kept in a status diagnostic (characters; the rest is cut, so
/// 100 diagnostics stay far under etcd's object size limit whatever a commit holds).
pub const DIAGNOSTIC_CHARS: usize = 512;

fn cut(s: &str) -> String {
    if s.chars().count() <= DIAGNOSTIC_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(DIAGNOSTIC_CHARS - 1).collect();
    out.push('…');
    out
}
/// Most pruned objects named in a `Pruned` Event.
const PRUNED_NAMED: usize = 10;

/// Shortest interval obeyed: a shorter one is raised to it (docs/decisions/0040).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest interval obeyed: a longer one is lowered to it.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Parses `1m`, `30s`, `1h30m`, `500ms`, `1.5h` (the CRD's pattern: numbers with units `ms`,
/// `s`, `m`, `h`). `None` when it does not parse, is zero, or does not fit a `Duration`; never
/// panics, whatever the input.
pub fn parse_interval(s: &str) -> Option<Duration> {
    parse_nanos(s).ok().and_then(|n| u64::try_from(n).ok()).filter(|n| *n > 0).map(Duration::from_nanos)
}

/// Why an interval does not parse: the text is malformed, or its value overflows.
#[derive(Debug, PartialEq)]
enum Unparsed {
    Syntax,
    Overflow,
}

/// The value of an interval in nanoseconds, exactly (fractions below a nanosecond dropped).
fn parse_nanos(s: &str) -> Result<u128, Unparsed> {
    let mut total: u128 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(Unparsed::Syntax);
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or(Unparsed::Syntax)?;
        let (num, tail) = rest.split_at(num_end);
        let (unit, len): (u128, usize) = if tail.starts_with("ms") {
            (1_000_000, 2)
        } else {
            match tail.as_bytes()[0] {
                b's' => (1_000_000_000, 1),
                b'm' => (60_000_000_000, 1),
                b'h' => (3_600_000_000_000, 1),
                _ => return Err(Unparsed::Syntax),
            }
        };
        rest = &tail[len..];
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() || (num.contains('.') && frac.is_empty()) || frac.contains('.') {
            return Err(Unparsed::Syntax);
        }
        let int: u128 = int.parse().map_err(|_| Unparsed::Overflow)?;
        // 19 digits of a fraction resolve below a nanosecond of an hour.
        let frac = &frac[..frac.len().min(19)];
        let scale = 10u128.pow(frac.len() as u32);
        let frac_value: u128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| Unparsed::Syntax)? };
        let part = int.checked_mul(unit).and_then(|v| v.checked_add(frac_value * unit / scale));
        total = part.and_then(|p| total.checked_add(p)).ok_or(Unparsed::Overflow)?;
    }
    Ok(total)
}

/// An interval the reconcile does not obey as written: what it uses instead, and why.
#[derive(Debug, PartialEq)]
pub struct IntervalProblem {
    /// The interval used instead.
    pub used: Duration,
    /// What is wrong with the one written (names `spec.interval`).
    pub message: String,
}

/// Checks `spec.interval` text against its syntax and [`MIN_INTERVAL`]..=[`MAX_INTERVAL`].
pub fn check_interval(s: &str) -> Result<Duration, IntervalProblem> {
    let bounds = format!("between {} and {}", fmt_interval(MIN_INTERVAL), fmt_interval(MAX_INTERVAL));
    let problem = |used: Duration, what: &str| IntervalProblem {
        used,
        message: format!("spec.interval `{s}` {what}; it must be {bounds}; using {}", fmt_interval(used)),
    };
    match parse_nanos(s) {
        Err(Unparsed::Syntax) => Err(problem(DEFAULT_INTERVAL, "is not a duration such as `30s`, `5m` or `1h30m`")),
        Err(Unparsed::Overflow) => Err(problem(MAX_INTERVAL, "is too long")),
        Ok(n) if n < MIN_INTERVAL.as_nanos() => Err(problem(MIN_INTERVAL, "is too short")),
        Ok(n) if n > MAX_INTERVAL.as_nanos() => Err(problem(MAX_INTERVAL, "is too long")),
        Ok(n) => Ok(Duration::from_nanos(n as u64)),
    }
}

fn fmt_interval(d: Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The reconcile interval of a source, bounded, and why it is not `spec.interval` as written
/// when it is not.
pub fn interval(spec: &GitSourceSpec) -> (Duration, Option<String>) {
    match spec.interval.as_deref().map(check_interval) {
        None => (DEFAULT_INTERVAL, None),
        Some(Ok(d)) => (d, None),
        Some(Err(p)) => (p.used, Some(p.message)),
    }
}

/// Longest time a reconcile reuses a fetch of the same repository made for another source
/// (`git::Cache::fetch_shared`).
pub const MAX_FETCH_SHARE: Duration = Duration::from_secs(5);

/// How old a fetch of the same repository, ref and credentials a reconcile may use instead of
/// fetching itself: half its interval, at most [`MAX_FETCH_SHARE`]; nothing older than now
/// when a reconcile was asked for by hand (`request`, the annotation's value, not handled
/// yet), since the one asking expects what the remote holds now. Pushes announced by a
/// webhook end any sharing on their own.
pub fn fetch_share_window(spec: &GitSourceSpec, status: Option<&GitSourceStatus>, request: Option<&str>) -> Duration {
    let handled = status.and_then(|s| s.last_handled_reconcile_at.as_deref());
    if request.is_some() && request != handled {
        return Duration::ZERO;
    }
    (interval(spec).0 / 2).min(MAX_FETCH_SHARE)
}

/// Prune and deletion-guard settings of a source.
pub fn plan_options(spec: &GitSourceSpec) -> PlanOptions {
    PlanOptions {
        prune: spec.prune.unwrap_or(true),
        max_delete_fraction: spec.max_delete_fraction.unwrap_or(0.5),
        allow_mass_delete: spec.allow_mass_delete.unwrap_or(false),
    }
}

/// Annotation asking for a reconcile now (`dromos source reconcile`), like Flux's
/// `reconcile.fluxcd.io/requestedAt`: any new value is a new request. The reconcile it causes
/// records the value in `status.lastHandledReconcileAt`.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "dromos.io/reconcile-requested-at";

/// The entries of a GitSource's inventory, listed or packed ([`plan::stored`]); an error when
/// the packed form cannot be read.
pub fn inventory_entries(status: &GitSourceStatus) -> Result<Vec<String>, String> {
    plan::stored::entries(&status.inventory, status.inventory_packed.as_deref())
}

/// Objects in a GitSource's inventory, as its status counts them.
pub fn inventory_len(status: &GitSourceStatus) -> usize {
    match status.inventory_count {
        Some(n) if n >= 0 => n as usize,
        _ => status.inventory.len(),
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
    /// The revision does not validate, or breaks a SourcePolicy: nothing was applied.
    Invalid {
        /// `ValidationFailed`, or `PolicyViolation`.
        reason: &'a str,
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
/// new status and the judge of whether a failure is news worth an Event). `request` is the
/// value of [`RECONCILE_REQUEST_ANNOTATION`]: a reconcile that fetched (or was refused) handled
/// it and records it, whatever its result; a suspended source handles none.
pub fn decide(
    spec: &GitSourceSpec,
    generation: Option<i64>,
    cached: Option<&GitSourceStatus>,
    request: Option<&str>,
    outcome: Outcome<'_>,
    now: Instant,
) -> Decision {
    let old = cached.cloned().unwrap_or_default();
    let mut status = old.clone();
    status.common.observed_generation = generation;
    let handled = request.filter(|r| old.last_handled_reconcile_at.as_deref() != Some(*r) && !r.is_empty());
    if !matches!(outcome, Outcome::Suspended)
        && let Some(r) = handled
    {
        status.last_handled_reconcile_at = Some(r.to_string());
    }
    let mut events = Vec::new();
    let (every, interval_problem) = interval(spec);
    // An out-of-range interval is obeyed clamped, and every condition message says so.
    let cond = |s: Standard<'_>| {
        let message = match &interval_problem {
            Some(p) => format!("{}; {p}", s.message),
            None => s.message.to_string(),
        };
        conditions::standard(Standard { message: &message, ..s }, generation, &old.common.conditions, now)
    };
    if let Some(p) = &interval_problem
        && !old.common.conditions.iter().any(|c| c.message.ends_with(p.as_str()))
    {
        events.push(Event::warning("IntervalOutOfRange", p.clone()));
    }
    let after = Requeue::After(every);
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
            // What refuses may change without the spec changing (a SourcePolicy, a
            // ServiceAccount's rights): asked again at the interval, without fetching.
            after
        }
        Outcome::Invalid { reason, revision, diagnostics } => {
            status.last_attempted_revision = Some(revision.to_string());
            let message = invalid(&mut status, reason, revision, diagnostics);
            let s = Standard { stalled: true, reason, message: &message, ..Default::default() };
            status.common.conditions = cond(s);
            if cached != Some(&status) {
                events.push(Event::warning(reason, message));
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
            // Only a handled request changes the status of a drift report.
            let status = handled.is_some().then_some(status);
            return Decision { status, events, requeue: after };
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

/// Records the errors of an invalid (or refused) revision; returns the condition message.
fn invalid(status: &mut GitSourceStatus, reason: &str, revision: &str, diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    status.diagnostics = errors
        .iter()
        .take(MAX_DIAGNOSTICS)
        .map(|d| StatusDiagnostic {
            file: cut(&d.file),
            line: i64::from(d.line),
            field: (!d.field.is_empty()).then(|| cut(&d.field)),
            message: cut(&d.message),
        })
        .collect();
    let first = errors.first().map(|d| format!("{}:{}: {}", cut(&d.file), d.line, cut(&d.message))).unwrap_or_default();
    let what = if reason == crate::tenancy::POLICY_VIOLATION { "breaks SourcePolicy rules" } else { "is invalid" };
    format!("revision {revision} {what} ({} errors, first: {first}); nothing was applied", errors.len())
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
    status.skipped =
        sync.plan.skipped.iter().take(MAX_DIAGNOSTICS).map(|f| cut(&format!("{}: {}", f.path, f.rule))).collect();
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
            events.push(Event::warning("DeletionGuard", format!("revision {revision}: {message}")));
        }
    } else if sync.failures.is_empty() {
        status.last_applied_revision = Some(revision.to_string());
        let message = format!("applied revision {revision}");
        status.common.conditions =
            cond(Standard { ready: true, reason: "Succeeded", message: &message, ..Default::default() });
        // Every new revision is news (a commit status waits for it), even one that changed
        // no object.
        if !same_revision {
            let note = format!("{} objects applied, {unchanged} unchanged from {revision}", sync.applied);
            events.push(Event::normal("Applied", note));
        }
        // The first success after a failure (a suspension is none): notifications say
        // "recovered" from it.
        if let Some(failed) = old
            .common
            .conditions
            .iter()
            .find(|c| c.type_ == dromos_crds::condition::READY && c.status == "False" && c.reason != "Suspended")
        {
            let note = format!("applied revision {revision} after {}: {}", failed.reason, cut(&failed.message));
            events.push(Event::normal("Recovered", note));
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
        events.push(Event::warning(reason, format!("revision {revision}: {message}")));
    }
    // An inventory too large to record (a revision declaring that much is refused before it
    // applies; failed deletes can add to it) leaves the last one recorded: the objects this
    // source labelled are found for pruning by their label too.
    if !sync.blocked()
        && let Ok(stored) = plan::stored::store(&sync.inventory)
    {
        status.inventory_count = Some(sync.inventory.len() as i64);
        match stored {
            plan::stored::Stored::Inline(entries) => {
                status.inventory = entries;
                status.inventory_packed = None;
            }
            plan::stored::Stored::Packed(p) => {
                status.inventory = vec![];
                status.inventory_packed = Some(p);
            }
        }
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

    #[test]
    fn a_fetch_is_shared_for_half_the_interval_at_most_5s_and_never_for_a_request_by_hand() {
        let spec = |i: Option<&str>| GitSourceSpec { interval: i.map(str::to_string), ..Default::default() };
        assert_eq!(fetch_share_window(&spec(Some("4s")), None, None), Duration::from_secs(2));
        assert_eq!(fetch_share_window(&spec(None), None, None), MAX_FETCH_SHARE);
        assert_eq!(fetch_share_window(&spec(Some("1h")), None, None), MAX_FETCH_SHARE);
        let handled = GitSourceStatus { last_handled_reconcile_at: Some("a".into()), ..Default::default() };
        // asked by hand and not handled yet: fetch now
        assert_eq!(fetch_share_window(&spec(None), Some(&handled), Some("b")), Duration::ZERO);
        assert_eq!(fetch_share_window(&spec(None), None, Some("b")), Duration::ZERO);
        // a request already handled is an ordinary reconcile
        assert_eq!(fetch_share_window(&spec(None), Some(&handled), Some("a")), MAX_FETCH_SHARE);
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
            plan: Plan { steps, prune: vec![], kept: vec![], guard, skipped: vec![] },
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
        assert_eq!(parse_interval("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_interval("0.000000001s"), Some(Duration::from_nanos(1)));
        for bad in ["", "1.s", ".5s", "1..5s", "1x", "0s", "1mss", "1é"] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
        // Overflows: no panic, no value.
        assert_eq!(parse_interval("99999999999999999999h"), None);
        assert_eq!(parse_interval(&format!("{}h", "9".repeat(400))), None);
        assert_eq!(parse_interval(&"9999999999h".repeat(1000)), None);
        assert_eq!(interval(&GitSourceSpec::default()), (DEFAULT_INTERVAL, None));
    }

    #[test]
    fn intervals_out_of_bounds_are_clamped_and_said() {
        let of = |s: &str| interval(&GitSourceSpec { interval: Some(s.into()), ..Default::default() });
        assert_eq!(of("1s"), (MIN_INTERVAL, None));
        assert_eq!(of("24h"), (MAX_INTERVAL, None));
        let (d, why) = of("1ms");
        assert_eq!(d, MIN_INTERVAL);
        assert_eq!(why.unwrap(), "spec.interval `1ms` is too short; it must be between 1s and 24h; using 1s");
        for long in ["25h", "99999999999999999999h"] {
            let (d, why) = of(long);
            assert_eq!(d, MAX_INTERVAL);
            assert!(why.unwrap().contains("is too long"), "{long}");
        }
        assert_eq!(of("soon").0, DEFAULT_INTERVAL);
        // The reconcile obeys the clamped interval and says so once.
        let spec = GitSourceSpec { interval: Some("1ms".into()), ..Default::default() };
        let now = t("2026-12-04T10:00:00Z");
        let d = decide(
            &spec,
            Some(1),
            None,
            None,
            Outcome::FetchFailed { reason: "FetchFailed", message: "x".into() },
            now,
        );
        assert_eq!(d.requeue, Requeue::After(MIN_INTERVAL));
        let status = d.status.unwrap();
        let ready = status.common.conditions.iter().find(|c| c.type_ == READY).unwrap();
        assert!(
            ready.message.ends_with("`1ms` is too short; it must be between 1s and 24h; using 1s"),
            "{}",
            ready.message
        );
        assert!(d.events.iter().any(|e| e.reason == "IntervalOutOfRange"), "{:?}", d.events);
        let again = decide(
            &spec,
            Some(1),
            Some(&status),
            None,
            Outcome::FetchFailed { reason: "FetchFailed", message: "x".into() },
            now,
        );
        assert_eq!(again.status.as_ref(), Some(&status));
        assert!(again.events.is_empty(), "{:?}", again.events);
    }

    proptest::proptest! {
        #[test]
        fn parse_interval_never_panics(s in "\\PC{0,40}", digits in "[0-9.]{0,60}[mshx]{0,3}") {
            let _ = parse_interval(&s);
            let _ = check_interval(&s);
            let _ = check_interval(&digits);
            if let Some(d) = parse_interval(&digits) {
                proptest::prop_assert!(d > Duration::ZERO);
            }
        }
    }

    #[test]
    fn a_sync_records_the_revision_and_a_no_op_resync_changes_nothing() {
        let now = t("2026-12-04T10:00:00Z");
        let sync = synced_outcome(1, Guard::Ok, vec![]);
        let d = decide(&spec(), Some(1), None, None, Outcome::Synced { revision: "main@sha1:abc", sync: &sync }, now);
        let status = d.status.unwrap();
        assert_eq!(status.last_applied_revision.as_deref(), Some("main@sha1:abc"));
        assert_eq!(status.inventory, vec![obj("a").encode()]);
        assert!(conditions::is_true(&status.common.conditions, READY));
        assert_eq!(d.events.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), ["Applied"]);
        assert_eq!(d.requeue, Requeue::After(Duration::from_secs(30)));
        // The same revision again, nothing written by the sync: the same status, no Event.
        let noop = synced_outcome(0, Guard::Ok, vec![]);
        let later = t("2026-12-04T10:01:00Z");
        let again = decide(
            &spec(),
            Some(1),
            Some(&status),
            None,
            Outcome::Synced { revision: "main@sha1:abc", sync: &noop },
            later,
        );
        assert_eq!(again.status.as_ref(), Some(&status), "a no-op resync writes nothing");
        assert!(again.events.is_empty());
    }

    #[test]
    fn failures_are_reported_with_the_last_revision_kept() {
        let now = t("2026-12-04T10:00:00Z");
        let ok = synced_outcome(1, Guard::Ok, vec![]);
        let applied =
            decide(&spec(), Some(1), None, None, Outcome::Synced { revision: "r1", sync: &ok }, now).status.unwrap();
        let fetch = decide(
            &spec(),
            Some(1),
            Some(&applied),
            None,
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
            None,
            Outcome::FetchFailed { reason: "Unreachable", message: "no route".into() },
            now,
        );
        assert!(again.events.is_empty(), "the same failure again: no Event");
        let diag =
            crate::Diagnostic::error("schema", "bad.yaml", crate::Pos::default(), "spec.instances", "not a number");
        let invalid = decide(
            &spec(),
            Some(1),
            Some(&applied),
            None,
            Outcome::Invalid { reason: "ValidationFailed", revision: "r2", diagnostics: &[diag] },
            now,
        );
        let st = invalid.status.unwrap();
        assert!(conditions::is_true(&st.common.conditions, STALLED));
        assert_eq!(st.diagnostics.len(), 1);
        assert_eq!(st.last_attempted_revision.as_deref(), Some("r2"));
        assert_eq!(st.last_applied_revision.as_deref(), Some("r1"), "nothing of r2 was applied");
        let failed = Failure { obj: obj("a"), reason: "Conflict".into(), message: "owned by kubectl".into() };
        let conflict = synced_outcome(0, Guard::Ok, vec![failed]);
        let d =
            decide(&spec(), Some(1), Some(&applied), None, Outcome::Synced { revision: "r3", sync: &conflict }, now);
        assert_eq!(d.events[0].reason, "Conflict");
        assert_eq!(d.status.unwrap().last_applied_revision.as_deref(), Some("r1"));
        let guard = Guard::Blocked { deleting: 5, inventory: 6, max_fraction: 0.5 };
        let blocked = synced_outcome(0, guard, vec![]);
        let d = decide(&spec(), Some(1), Some(&applied), None, Outcome::Synced { revision: "r4", sync: &blocked }, now);
        assert_eq!(d.events[0].reason, "DeletionGuard");
        assert_eq!(d.status.unwrap().inventory, applied.inventory, "the inventory stays");
    }

    #[test]
    fn a_success_after_a_failure_is_a_recovery_and_failures_name_their_revision() {
        let now = t("2026-12-04T10:00:00Z");
        let failed = Failure { obj: obj("a"), reason: "Conflict".into(), message: "owned by kubectl".into() };
        let conflict = synced_outcome(0, Guard::Ok, vec![failed]);
        let d =
            decide(&spec(), Some(1), None, None, Outcome::Synced { revision: "main@sha1:r1", sync: &conflict }, now);
        assert!(d.events[0].message.starts_with("revision main@sha1:r1: "), "{}", d.events[0].message);
        let failing = d.status.unwrap();
        let ok = synced_outcome(0, Guard::Ok, vec![]);
        let d = decide(
            &spec(),
            Some(1),
            Some(&failing),
            None,
            Outcome::Synced { revision: "main@sha1:r1", sync: &ok },
            now,
        );
        let reasons: Vec<&str> = d.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["Applied", "Recovered"], "a new revision, even one that changed nothing, and a recovery");
        assert!(
            d.events[1].message.starts_with("applied revision main@sha1:r1 after Conflict: "),
            "{}",
            d.events[1].message
        );
        // Applied again without a failure between: neither.
        let d = decide(
            &spec(),
            Some(1),
            d.status.as_ref(),
            None,
            Outcome::Synced { revision: "main@sha1:r1", sync: &ok },
            now,
        );
        assert!(d.events.is_empty(), "{:?}", d.events);
        // Resuming a suspended source is no recovery.
        let suspended = decide(&spec(), Some(1), None, None, Outcome::Suspended, now).status;
        let d = decide(&spec(), Some(1), suspended.as_ref(), None, Outcome::Synced { revision: "r2", sync: &ok }, now);
        assert!(!d.events.iter().any(|e| e.reason == "Recovered"), "{:?}", d.events);
    }

    #[test]
    fn a_refused_url_stalls_and_is_asked_again_at_the_interval() {
        let now = t("2026-12-04T10:00:00Z");
        let refused = || Outcome::Refused { reason: "URLNotAllowed", message: "`file:///x` is local".into() };
        let d = decide(&spec(), Some(1), None, None, refused(), now);
        assert!(matches!(d.requeue, Requeue::After(_)), "a policy may change without the source changing");
        let st = d.status.unwrap();
        assert!(conditions::is_true(&st.common.conditions, STALLED));
        assert!(!conditions::is_true(&st.common.conditions, READY));
        let ready = st.common.conditions.iter().find(|c| c.type_ == READY).unwrap();
        assert_eq!(ready.reason, "URLNotAllowed");
        assert!(ready.message.starts_with("`file:///x` is local; nothing was fetched"), "{}", ready.message);
        assert_eq!(d.events.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), ["URLNotAllowed"]);
        assert!(decide(&spec(), Some(1), Some(&st), None, refused(), now).events.is_empty(), "no news, no Event");
    }

    #[test]
    fn suspended_and_drift_only() {
        let now = t("2026-12-04T10:00:00Z");
        let d = decide(&spec(), Some(1), None, None, Outcome::Suspended, now);
        assert_eq!(d.requeue, Requeue::OnChange);
        assert_eq!(d.status.unwrap().common.conditions[0].reason, "Suspended");
        let d = decide(
            &spec(),
            Some(1),
            None,
            None,
            Outcome::DriftReported { revision: "r1", drifted: vec!["ConfigMap/ns/a".into()] },
            now,
        );
        assert_eq!(d.status, None, "drift reports write no status");
        assert_eq!(d.events[0].reason, "DriftDetected");
    }

    #[test]
    fn a_reconcile_request_is_recorded_once_handled_whatever_the_result() {
        let now = t("2026-12-04T10:00:00Z");
        let req = Some("2026-12-04T09:59:59.123Z");
        let ok = synced_outcome(0, Guard::Ok, vec![]);
        let d = decide(&spec(), Some(1), None, req, Outcome::Synced { revision: "r1", sync: &ok }, now);
        let st = d.status.unwrap();
        assert_eq!(st.last_handled_reconcile_at.as_deref(), req);
        // The same request again is not news: the status stays as it was.
        let again = decide(&spec(), Some(1), Some(&st), req, Outcome::Synced { revision: "r1", sync: &ok }, now);
        assert_eq!(again.status.as_ref(), Some(&st));
        // A failed fetch handles a request too (the CLI reports the failure).
        let failed = decide(
            &spec(),
            Some(1),
            Some(&st),
            Some("2026-12-04T10:00:05Z"),
            Outcome::FetchFailed { reason: "Unreachable", message: "no route".into() },
            now,
        );
        assert_eq!(failed.status.unwrap().last_handled_reconcile_at.as_deref(), Some("2026-12-04T10:00:05Z"));
        // A suspended source handles none.
        let s = decide(&spec(), Some(1), Some(&st), Some("2026-12-04T10:00:06Z"), Outcome::Suspended, now);
        assert_eq!(s.status.unwrap().last_handled_reconcile_at.as_deref(), req);
        // A drift report writes a status only to record a new request.
        let drift = || Outcome::DriftReported { revision: "r1", drifted: vec![] };
        assert_eq!(decide(&spec(), Some(1), Some(&st), req, drift(), now).status, None);
        let d = decide(&spec(), Some(1), Some(&st), Some("2026-12-04T10:00:07Z"), drift(), now);
        assert_eq!(d.status.unwrap().last_handled_reconcile_at.as_deref(), Some("2026-12-04T10:00:07Z"));
    }

    #[test]
    fn status_diagnostics_are_bounded_in_number_and_length() {
        let long = "x".repeat(10_000);
        let diags: Vec<crate::Diagnostic> = (0..150)
            .map(|i| {
                crate::Diagnostic::error("schema", &format!("f{i}.yaml"), crate::Pos::default(), &long, long.clone())
            })
            .collect();
        let now = t("2026-12-04T10:00:00Z");
        let d = decide(
            &spec(),
            Some(1),
            None,
            None,
            Outcome::Invalid { reason: "ValidationFailed", revision: "r1", diagnostics: &diags },
            now,
        );
        let st = d.status.unwrap();
        assert_eq!(st.diagnostics.len(), MAX_DIAGNOSTICS);
        assert!(st.diagnostics.iter().all(|d| d.message.chars().count() == DIAGNOSTIC_CHARS));
        assert!(st.diagnostics.iter().all(|d| d.field.as_ref().unwrap().chars().count() == DIAGNOSTIC_CHARS));
        assert!(st.common.conditions[0].message.contains("150 errors"));
        assert!(st.common.conditions[0].message.chars().count() <= crate::conditions::MESSAGE_CHARS);
    }
}

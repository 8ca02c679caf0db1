//! Package operator decisions (pure): which rendered objects a Package may own, why a spec
//! cannot be installed, and, after the sync, the one status to write, the Events and the
//! requeue. The operator (`controller/src/operators/packages.rs`) only gathers (repository,
//! watch caches) and acts (sync, status, Events).

use crate::conditions::{self, Standard};
use crate::decision::{Decision, Event, Requeue};
use crate::load::is_cluster_scoped;
use crate::outcome::SyncOutcome;
use crate::package::{ExpandError, Meta, RenderError};
use crate::time::Instant;
use dromos_crds::package::{OptionProblem, PackageObject, PackageStatus};
use serde_json::Value;
use std::time::Duration;

/// Requeue of a Package that is installed and ready.
pub const READY_RESYNC: Duration = Duration::from_secs(300);
/// Requeue of a Package still progressing.
pub const PROGRESS_RESYNC: Duration = Duration::from_secs(30);
/// Requeue of a refusal that may pass by itself (a repository not available yet).
pub const RETRY_REFUSAL: Duration = Duration::from_secs(60);

/// Why a Package's spec cannot be installed now. The installed render stays.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// Condition and Event reason.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
    /// Options that break the package's schema.
    pub option_errors: Vec<OptionProblem>,
    /// The cause may go away without a spec change (try again later).
    pub retry: bool,
}

impl Refusal {
    /// A refusal that only a spec change can lift.
    pub fn new(reason: &'static str, message: String) -> Self {
        Self { reason, message, option_errors: vec![], retry: false }
    }
}

impl From<ExpandError> for Refusal {
    fn from(e: ExpandError) -> Self {
        match e {
            ExpandError::Render(RenderError::Options(errs)) => {
                let option_errors = errs
                    .iter()
                    .map(|e| OptionProblem { path: e.path.clone(), rule: e.rule.clone(), message: e.message.clone() })
                    .collect();
                let list: Vec<String> =
                    errs.iter().map(|e| format!("{} ({}): {}", e.path, e.rule, e.message)).collect();
                Refusal {
                    reason: "InvalidOptions",
                    message: format!("invalid options: {}", list.join("; ")),
                    option_errors,
                    retry: false,
                }
            }
            e => Refusal {
                reason: e.reason(),
                message: e.to_string(),
                option_errors: vec![],
                retry: matches!(e, ExpandError::NoRepository(_)),
            },
        }
    }
}

/// Checks a version change against the installed version's metadata (`from`).
pub fn check_change(from: &Meta, to: &Meta) -> Result<(), Refusal> {
    crate::package::check_version_change(from, to).map_err(|m| Refusal::new("VersionChangeRefused", m))
}

/// Makes a render the Package's own: every object lands in the Package's namespace with the
/// Package as its controlling owner (`owner`, an ownerReference). A cluster-scoped object or
/// one naming another namespace is refused: an owner reference cannot cross namespaces or point
/// from a cluster-scoped object to a namespaced owner (the garbage collector would delete it).
pub fn own_objects(objects: Vec<Value>, namespace: &str, owner: Option<&Value>) -> Result<Vec<Value>, Refusal> {
    let mut owned = Vec::with_capacity(objects.len());
    for mut obj in objects {
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let group = obj["apiVersion"].as_str().unwrap_or_default().rsplit_once('/').map_or("", |x| x.0).to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        if is_cluster_scoped(&group, &kind) {
            let msg = format!(
                "the package renders the cluster-scoped {kind} {name}, which a namespaced Package cannot own; \
                 install it separately"
            );
            return Err(Refusal::new("ClusterScopedObject", msg));
        }
        if let Some(other) = obj["metadata"]["namespace"].as_str().filter(|o| *o != namespace) {
            let msg = format!(
                "the package renders {kind} {name} into namespace {other}; a Package's objects must be in its own \
                 namespace {namespace} (set the option that names it without a namespace)"
            );
            return Err(Refusal::new("ForeignNamespace", msg));
        }
        obj["metadata"]["namespace"] = Value::String(namespace.to_string());
        if let Some(o) = owner {
            obj["metadata"]["ownerReferences"] = Value::Array(vec![o.clone()]);
        }
        owned.push(obj);
    }
    Ok(owned)
}

/// A short hash of the owned render (recorded in status: what is installed).
pub fn render_hash(objects: &[Value]) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(serde_json::to_vec(objects).unwrap_or_default());
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The decision for a refused spec. `old` is the status as last written; the objects stay as
/// they are, the conditions say why (Stalled), and an Event goes out when the status changes.
pub fn refuse(old: &PackageStatus, generation: Option<i64>, r: Refusal, now: Instant) -> Decision<PackageStatus> {
    let mut status = old.clone();
    status.common.observed_generation = generation;
    status.option_errors = r.option_errors;
    let kept = if old.objects.is_empty() {
        String::new()
    } else {
        format!("; the installed {} stays", old.installed_version.as_deref().unwrap_or("render"))
    };
    let message = format!("{}{kept}", r.message);
    let s = Standard { stalled: true, reason: r.reason, message: &message, ..Default::default() };
    status.common.conditions = conditions::standard(s, generation, &old.common.conditions, now);
    let events = if status != *old { vec![Event::warning(r.reason, message)] } else { vec![] };
    let requeue = if r.retry { Requeue::After(RETRY_REFUSAL) } else { Requeue::OnChange };
    Decision { status: Some(status), events, requeue }
}

/// What the operator installed and saw.
#[derive(Debug)]
pub struct Installed<'a> {
    /// The Package's name in the catalog (`spec.name`).
    pub package: &'a str,
    /// The version rendered.
    pub version: &'a str,
    /// `spec.repository` as status shows it.
    pub repository: String,
    /// [`render_hash`] of the owned render.
    pub hash: String,
    /// What the sync did.
    pub sync: &'a SyncOutcome,
    /// Health of each object after the apply (from the watch caches).
    pub objects: Vec<PackageObject>,
    /// The render's approximation warnings.
    pub warnings: &'a [String],
    /// The plans of a service package, after this reconcile's decision (empty otherwise).
    pub plans: Vec<dromos_crds::package::PlanStatus>,
}

/// The decision after a sync: status (objects and health, installed version, conditions), the
/// Events of what changed, and the requeue (sooner while progressing).
pub fn installed(
    old: &PackageStatus,
    generation: Option<i64>,
    inst: Installed<'_>,
    now: Instant,
) -> Decision<PackageStatus> {
    let sync = inst.sync;
    let mut status = old.clone();
    status.common.observed_generation = generation;
    status.option_errors.clear();
    status.objects = inst.objects;
    status.object_count = Some(status.objects.len() as i64);
    status.plans = inst.plans;
    let blocked = sync.blocked();
    if sync.failures.is_empty() && !blocked {
        status.installed_version = Some(inst.version.to_string());
        status.repository = Some(inst.repository);
        status.render_hash = Some(inst.hash);
    }
    let (ready, reason, message) = readiness(&status, inst.package, inst.version, sync);
    let s = Standard {
        ready,
        reconciling: !ready && sync.failures.is_empty() && !blocked,
        stalled: blocked,
        reason,
        message: &message,
    };
    status.common.conditions = conditions::standard(s, generation, &old.common.conditions, now);
    let mut events = vec![];
    if blocked {
        if status != *old {
            events.push(Event::warning("DeletionGuard", message));
        }
    } else if !sync.failures.is_empty() {
        events.push(Event::warning("ApplyFailed", message));
    } else if sync.applied > 0 || sync.pruned > 0 {
        events.push(change_event(old, inst.package, inst.version, sync));
    }
    if let Some(w) = inst.warnings.first().filter(|_| sync.applied > 0) {
        events.push(Event::warning("Approximation", w.clone()));
    }
    let requeue = Requeue::After(if ready { READY_RESYNC } else { PROGRESS_RESYNC });
    Decision { status: Some(status), events, requeue }
}

/// Ready, reason and message of an installed Package.
fn readiness(status: &PackageStatus, package: &str, version: &str, sync: &SyncOutcome) -> (bool, &'static str, String) {
    let waiting: Vec<String> = status
        .objects
        .iter()
        .filter(|o| o.health == "Progressing" || o.health == "Missing")
        .map(|o| format!("{} {}: {}", o.kind, o.name, o.message.as_deref().unwrap_or(&o.health)))
        .collect();
    if sync.blocked() {
        let verdict = crate::plan::report::text(&sync.plan).lines().last().unwrap_or_default().to_string();
        return (false, "DeletionGuard", format!("nothing applied: {verdict}"));
    }
    if !sync.failures.is_empty() {
        let f: Vec<String> = sync
            .failures
            .iter()
            .map(|f| format!("{} {}: {} ({})", f.obj.kind, f.obj.name, f.message, f.reason))
            .collect();
        (false, "ApplyFailed", format!("{} object(s) failed: {}", f.len(), f.join("; ")))
    } else if let Some(p) = status.plans.iter().find(|p| p.status == dromos_crds::package::ElementStatus::Error) {
        (false, "PlanFailed", format!("plan {}: {}", p.name, p.message.as_deref().unwrap_or("a step failed")))
    } else if let Some(p) = status.plans.iter().find(|p| p.status != dromos_crds::package::ElementStatus::Complete) {
        let step = p
            .phases
            .iter()
            .flat_map(|ph| ph.steps.iter())
            .find(|s| s.status != dromos_crds::package::ElementStatus::Complete)
            .map(|s| format!(", step {} {:?}", s.name, s.status))
            .unwrap_or_default();
        (false, "PlanInProgress", format!("plan {} {:?}{step}", p.name, p.status))
    } else if waiting.is_empty() {
        (true, "Installed", format!("{package} {version} installed, {} object(s) ready", status.objects.len()))
    } else {
        (false, "Progressing", format!("waiting for {}", waiting.join("; ")))
    }
}

/// The Event of an apply that changed something: installed, version changed, or re-rendered.
fn change_event(old: &PackageStatus, package: &str, version: &str, sync: &SyncOutcome) -> Event {
    let changed_version = old.installed_version.as_deref() != Some(version);
    let what = match old.installed_version.as_deref() {
        None => format!("installed {package} {version}"),
        Some(v) if changed_version => format!("changed {package} from {v} to {version}"),
        Some(_) => format!("re-rendered {package} {version}"),
    };
    let note = format!("{what}: {} object(s) applied, {} pruned", sync.applied, sync.pruned);
    let reason = if old.installed_version.is_none() {
        "Installed"
    } else if changed_version {
        "VersionChanged"
    } else {
        "Rerendered"
    };
    Event::normal(reason, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Guard, Plan};
    use serde_json::json;

    fn t(s: &str) -> Instant {
        crate::time::parse_time(s).unwrap()
    }

    fn outcome(applied: usize) -> SyncOutcome {
        SyncOutcome {
            plan: Plan { steps: vec![], prune: vec![], kept: vec![], guard: Guard::Ok, skipped: vec![] },
            applied,
            pruned: 0,
            failures: vec![],
            writes: applied,
            reads: 0,
            inventory: vec![],
            applied_generations: Default::default(),
            duration: Duration::ZERO,
        }
    }

    fn object(health: &str) -> PackageObject {
        PackageObject {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            namespace: Some("data".into()),
            name: "kafka".into(),
            health: health.into(),
            message: None,
        }
    }

    #[test]
    fn a_render_is_owned_in_the_package_namespace_and_foreign_objects_are_refused() {
        let owner = json!({"kind": "Package", "name": "kafka", "controller": true});
        let objs = vec![json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})];
        let owned = own_objects(objs, "data", Some(&owner)).unwrap();
        assert_eq!(owned[0]["metadata"]["namespace"], "data");
        assert_eq!(owned[0]["metadata"]["ownerReferences"][0], owner);
        let crb = vec![
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}}),
        ];
        assert_eq!(own_objects(crb, "data", None).unwrap_err().reason, "ClusterScopedObject");
        let other = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "kube-system"}}),
        ];
        assert_eq!(own_objects(other, "data", None).unwrap_err().reason, "ForeignNamespace");
    }

    #[test]
    fn a_refusal_keeps_the_installed_render_and_reports_once() {
        let mut old = PackageStatus { installed_version: Some("1.0".into()), ..Default::default() };
        old.objects.push(object("Healthy"));
        let d = refuse(
            &old,
            Some(2),
            Refusal::new("VersionChangeRefused", "no downgrade".into()),
            t("2026-12-04T10:00:00Z"),
        );
        let status = d.status.clone().unwrap();
        assert_eq!(status.objects, old.objects, "objects stay");
        assert_eq!(status.common.conditions[0].message, "no downgrade; the installed 1.0 stays");
        assert!(conditions::is_true(&status.common.conditions, dromos_crds::condition::STALLED));
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.requeue, Requeue::OnChange);
        let again = refuse(
            &status,
            Some(2),
            Refusal::new("VersionChangeRefused", "no downgrade".into()),
            t("2026-12-04T10:05:00Z"),
        );
        assert!(again.events.is_empty(), "same refusal later: no new Event");
        assert_eq!(again.status.as_ref(), Some(&status));
    }

    #[test]
    fn an_install_is_ready_when_every_object_is_healthy_and_says_what_changed() {
        let sync = outcome(3);
        let inst = |health: &str| Installed {
            package: "kafka",
            version: "2.0",
            repository: "builtin".into(),
            hash: "abcd".into(),
            sync: &sync,
            objects: vec![object(health)],
            warnings: &[],
            plans: vec![],
        };
        let old = PackageStatus { installed_version: Some("1.0".into()), ..Default::default() };
        let progressing = installed(&old, Some(3), inst("Progressing"), t("2026-12-04T10:00:00Z"));
        assert_eq!(progressing.requeue, Requeue::After(PROGRESS_RESYNC));
        assert_eq!(progressing.events[0].reason, "VersionChanged");
        let ready = installed(&old, Some(3), inst("Healthy"), t("2026-12-04T10:00:00Z"));
        let status = ready.status.unwrap();
        assert!(conditions::is_true(&status.common.conditions, dromos_crds::condition::READY));
        assert_eq!(status.installed_version.as_deref(), Some("2.0"));
        assert_eq!(ready.requeue, Requeue::After(READY_RESYNC));
    }

    #[test]
    fn a_render_that_would_delete_too_much_is_held_by_the_guard() {
        let mut sync = outcome(0);
        sync.plan.guard = Guard::Blocked { deleting: 4, inventory: 4, max_fraction: 0.5 };
        let old = PackageStatus { installed_version: Some("1.0".into()), ..Default::default() };
        let inst = Installed {
            package: "kafka",
            version: "2.0",
            repository: "builtin".into(),
            hash: "abcd".into(),
            sync: &sync,
            objects: vec![object("Healthy")],
            warnings: &[],
            plans: vec![],
        };
        let d = installed(&old, Some(3), inst, t("2026-12-04T10:00:00Z"));
        let status = d.status.unwrap();
        assert_eq!(status.installed_version.as_deref(), Some("1.0"), "nothing of 2.0 was applied");
        assert!(conditions::is_true(&status.common.conditions, dromos_crds::condition::STALLED));
        assert_eq!(status.common.conditions[0].reason, "DeletionGuard");
        assert_eq!(d.events[0].reason, "DeletionGuard");
    }
}

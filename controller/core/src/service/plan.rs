//! Plan execution (pure): which plans a service needs now, which of their steps start, and what
//! that means for its pods. The state lives in the Package's status ([`PlanStatus`]), so a
//! restarted controller carries on where it was; each call takes the observed instances and
//! returns the next state and the actions.
//!
//! A pod type is a StatefulSet whose pods are only created or replaced when a step says so:
//! `replicas` grows one step at a time (launch), a pod is deleted to come back at the new
//! revision (update, restart; the StatefulSet uses `OnDelete`), deleted with its volumes to
//! come back empty elsewhere (replace), or removed from the top (decommission).

use super::spec::{PlanSpec, ServiceSpec, Strategy, phase_tasks};
use dromos_crds::package::{ElementStatus, PhaseStatus, PlanStatus, StepStatus};
use std::collections::BTreeMap;

/// What is observed of one instance (pod `<pod>-<index>` and its volumes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    /// The pod exists and is not being deleted.
    pub exists: bool,
    /// The pod's uid.
    pub uid: String,
    /// The revision its template came from.
    pub revision: String,
    /// Every container ready: readiness checks passed.
    pub ready: bool,
    /// Why it failed beyond restarting in place (a ONCE or FINISHED task that failed, a
    /// container restarting over and over), if it did.
    pub failed: Option<String>,
    /// Its node is gone or unreachable: only a replacement brings it back.
    pub lost: bool,
    /// Its node object is gone: no kubelet will confirm its pod's end, so the pod is deleted
    /// at once (what the pod garbage collector does later for pods of deleted nodes).
    pub node_gone: bool,
    /// Where its decommission commands are (for an instance being removed).
    pub decommission: Decommission,
}

/// The decommission commands of an instance being removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Decommission {
    /// Not run (or not known to this controller: it restarted while they ran).
    #[default]
    NotRun,
    /// Running.
    Running,
    /// One exited non-zero or could not run.
    Failed(String),
    /// Every one exited 0 (recorded on the pod, so it survives a restart).
    Done,
}

/// Instances by (pod type, index).
pub type Observed = BTreeMap<(String, u32), Instance>;

/// What the shell does after a decision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Actions {
    /// StatefulSet replicas per pod type.
    pub replicas: BTreeMap<String, u32>,
    /// Pods to delete (they come back at the current template).
    pub delete_pods: Vec<(String, u32)>,
    /// Of `delete_pods`, those deleted at once (grace period 0): their node is gone.
    pub force: Vec<(String, u32)>,
    /// Instances whose volume claims are deleted with their pod (replace, remove).
    pub delete_claims: Vec<(String, u32)>,
    /// Instances whose decommission commands are to run (again) now.
    pub decommission: Vec<(String, u32)>,
    /// Events: (warning, reason, message, the instance it is about).
    pub events: Vec<StepEvent>,
}

/// An Event of a plan: warning, reason, message, and the instance (pod type, index) it is about.
pub type StepEvent = (bool, &'static str, String, Option<(String, u32)>);

/// A command on a plan, phase or step (`dromos service plan ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// Plan name.
    pub plan: String,
    /// Phase name, for a command on a phase or step.
    pub phase: Option<String>,
    /// Step name, for a command on a step.
    pub step: Option<String>,
    /// What to do.
    pub verb: Verb,
}

/// Plan commands, as the DC/OS SDK named them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// No step starts until resumed.
    Pause,
    /// Undo a pause; on a canary phase, let the next canary step (or the rest) go.
    Resume,
    /// Mark complete without waiting.
    ForceComplete,
    /// Start over: the steps run again, their pods restarted.
    Restart,
    /// Start a plan of the package's own (`plans.<name>` beside deploy and update): each of
    /// its steps restarts its instance, as its phases' strategies say.
    Start,
}

impl Verb {
    /// Parses the verb of a command.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pause" => Some(Verb::Pause),
            "resume" | "continue" | "proceed" => Some(Verb::Resume),
            "force-complete" => Some(Verb::ForceComplete),
            "restart" | "force-restart" => Some(Verb::Restart),
            "start" => Some(Verb::Start),
            _ => None,
        }
    }
}

/// The message of a removal step while its instance's decommission commands run.
pub const DECOMMISSIONING: &str = "running the decommission commands";

/// A pod type with a task that has a decommission command.
pub fn needs_decommission(spec: &ServiceSpec, pod: &str) -> bool {
    spec.pods.get(pod).is_some_and(|p| p.tasks.values().any(|t| t.decommission.is_some()))
}

/// Step actions.
pub mod action {
    /// Create the instance (raise replicas to include it).
    pub const LAUNCH: &str = "launch";
    /// Bring the instance to the target revision (delete its pod unless already there).
    pub const UPDATE: &str = "update";
    /// Restart the instance's pod even at the target revision.
    pub const RESTART: &str = "restart";
    /// Delete the pod and its volumes; it comes back empty, wherever it fits.
    pub const REPLACE: &str = "replace";
    /// Remove the instance (lower replicas) and its volumes.
    pub const REMOVE: &str = "remove";
}

fn step(pod: &str, index: u32, tasks: &[String], action: &str, target: &str) -> StepStatus {
    StepStatus {
        name: format!("{pod}-{index}:[{}]", tasks.join(", ")),
        pod: pod.into(),
        index,
        status: ElementStatus::Pending,
        action: action.into(),
        target: target.into(),
        replaced: None,
        message: None,
    }
}

/// A fresh plan from `spec` whose steps bring every instance to `targets` with `act`.
pub fn build(
    name: &str,
    plan: &PlanSpec,
    spec: &ServiceSpec,
    targets: &BTreeMap<String, String>,
    act: &str,
) -> PlanStatus {
    let phases = plan
        .phases
        .iter()
        .map(|ph| {
            let count = spec.pods.get(&ph.pod).map_or(0, |p| p.count);
            let tasks = phase_tasks(spec, ph);
            let target = targets.get(&ph.pod).cloned().unwrap_or_default();
            PhaseStatus {
                name: ph.name.clone(),
                status: ElementStatus::Pending,
                strategy: ph.strategy.as_str().into(),
                paused: false,
                proceeds: 0,
                steps: (0..count)
                    .filter(|i| ph.instances.is_empty() || ph.instances.contains(i))
                    .map(|i| step(&ph.pod, i, &tasks, act, &target))
                    .collect(),
            }
        })
        .collect();
    PlanStatus { name: name.into(), status: ElementStatus::Pending, paused: false, message: None, phases }
}

/// The plans of a service at this point, advanced one decision: the `deploy` plan until it is
/// complete once, then `update` whenever a pod type's target revision changes, `recovery` for
/// instances lost or gone, `decommission` when a count shrinks. `previous` is what the status
/// holds; the returned plans replace it.
pub fn decide(
    spec: &ServiceSpec,
    previous: &[PlanStatus],
    targets: &BTreeMap<String, String>,
    observed: &Observed,
) -> (Vec<PlanStatus>, Actions) {
    let mut plans: Vec<PlanStatus> = previous.to_vec();
    let mut actions = Actions::default();
    let find = |plans: &[PlanStatus], n: &str| plans.iter().position(|p| p.name == n);
    let deploy_spec = &spec.plans["deploy"];
    let update_spec = spec.plans.get("update").unwrap_or(deploy_spec);

    // deploy: built once; until complete its pending steps follow target changes. A larger
    // count extends it (the new instances deployed as the plan says; those already there are
    // complete), keeping its pause.
    let deploy_done = match find(&plans, "deploy") {
        None => {
            plans.push(build("deploy", deploy_spec, spec, targets, action::LAUNCH));
            false
        }
        Some(i) if grew(&plans[i], deploy_spec, spec) => {
            let mut fresh = build("deploy", deploy_spec, spec, targets, action::LAUNCH);
            fresh.paused = plans[i].paused;
            for (new, old) in fresh.phases.iter_mut().zip(&plans[i].phases) {
                new.paused = old.paused;
                for (s, o) in new.steps.iter_mut().zip(&old.steps) {
                    if o.status == ElementStatus::Complete {
                        s.status = ElementStatus::Complete;
                    }
                }
            }
            plans[i] = fresh;
            false
        }
        Some(i) => {
            let done = plans[i].status == ElementStatus::Complete;
            if !done {
                retarget(&mut plans[i], targets);
            }
            done
        }
    };
    // update: when an instance within the count runs another revision than its target.
    if deploy_done {
        let stale = observed.iter().any(|((pod, i), inst)| {
            inst.exists && spec.pods.get(pod).is_some_and(|p| *i < p.count) && targets.get(pod) != Some(&inst.revision)
        });
        let current = find(&plans, "update");
        let same_targets = current.is_some_and(|i| targets_of(&plans[i]) == *targets);
        if stale && !same_targets {
            let fresh = build("update", update_spec, spec, targets, action::UPDATE);
            match current {
                Some(i) => plans[i] = fresh,
                None => plans.push(fresh),
            }
        }
    }
    recovery(spec, &mut plans, targets, observed, deploy_done);
    decommission(spec, &mut plans, observed);

    for plan in &mut plans {
        let strategy = match plan.name.as_str() {
            "deploy" => deploy_spec.strategy,
            "update" => update_spec.strategy,
            "recovery" | "decommission" => Strategy::Parallel,
            other => spec.plans.get(other).map_or(Strategy::Serial, |p| p.strategy),
        };
        let depends: BTreeMap<String, Vec<String>> = spec
            .plans
            .get(match plan.name.as_str() {
                "update" if !spec.plans.contains_key("update") => "deploy",
                n => n,
            })
            .map(|p| p.phases.iter().map(|ph| (ph.name.clone(), ph.depends_on.clone())).collect())
            .unwrap_or_default();
        advance(plan, spec, strategy, &depends, observed, &mut actions);
    }
    actions.replicas = replicas(spec, &plans, observed);
    (plans, actions)
}

/// A phase of `plan` has fewer steps than `spec` now gives it (a pod type's count grew).
fn grew(plan: &PlanStatus, plan_spec: &PlanSpec, spec: &ServiceSpec) -> bool {
    plan.phases.iter().zip(&plan_spec.phases).any(|(ph, ps)| {
        let count = spec.pods.get(&ps.pod).map_or(0, |p| p.count);
        let want = (0..count).filter(|i| ps.instances.is_empty() || ps.instances.contains(i)).count();
        want > ph.steps.len()
    })
}

/// The targets a plan's steps bring their pod types to.
fn targets_of(plan: &PlanStatus) -> BTreeMap<String, String> {
    plan.phases.iter().flat_map(|ph| ph.steps.iter()).map(|s| (s.pod.clone(), s.target.clone())).collect()
}

/// Pending or starting steps of an unfinished plan follow a new target.
fn retarget(plan: &mut PlanStatus, targets: &BTreeMap<String, String>) {
    for s in plan.phases.iter_mut().flat_map(|ph| ph.steps.iter_mut()) {
        if s.status != ElementStatus::Complete
            && let Some(t) = targets.get(&s.pod)
        {
            s.target = t.clone();
        }
    }
}

/// Instances that should run and do not (their node is lost, or the pod is gone) get a
/// `recovery` step each: replace when lost, launch when gone. Instances a plan is working on
/// are left to that plan.
fn recovery(
    spec: &ServiceSpec,
    plans: &mut Vec<PlanStatus>,
    targets: &BTreeMap<String, String>,
    observed: &Observed,
    deploy_done: bool,
) {
    let busy = |plans: &[PlanStatus], pod: &str, i: u32| {
        plans
            .iter()
            .filter(|p| p.name != "recovery")
            .flat_map(|p| p.phases.iter())
            .flat_map(|ph| ph.steps.iter())
            .any(|s| s.pod == pod && s.index == i && s.status == ElementStatus::Starting)
    };
    let mut wanted: Vec<StepStatus> = vec![];
    for (pod, p) in &spec.pods {
        for i in 0..p.count {
            let inst = observed.get(&(pod.clone(), i));
            let lost = inst.is_some_and(|x| x.lost);
            let gone = !inst.is_some_and(|x| x.exists);
            let launched = deploy_done || deploy_step_started(plans, pod, i);
            if (lost || gone) && launched && !busy(plans, pod, i) {
                let act = if lost { action::REPLACE } else { action::LAUNCH };
                let tasks = vec![];
                let mut s = step(pod, i, &tasks, act, targets.get(pod).map_or("", String::as_str));
                s.name = format!("{pod}-{i}:{act}");
                wanted.push(s);
            }
        }
    }
    let existing = plans.iter().position(|p| p.name == "recovery");
    match existing {
        Some(idx) => {
            let plan = &mut plans[idx];
            let phase = &mut plan.phases[0];
            for w in wanted {
                let open = phase
                    .steps
                    .iter()
                    .any(|s| s.pod == w.pod && s.index == w.index && s.status != ElementStatus::Complete);
                if !open {
                    phase.steps.retain(|s| !(s.pod == w.pod && s.index == w.index));
                    phase.steps.push(w);
                }
            }
        }
        None if !wanted.is_empty() => plans.push(PlanStatus {
            name: "recovery".into(),
            status: ElementStatus::Pending,
            paused: false,
            message: None,
            phases: vec![PhaseStatus {
                name: "permanent-and-transient".into(),
                status: ElementStatus::Pending,
                strategy: "parallel".into(),
                paused: false,
                proceeds: 0,
                steps: wanted,
            }],
        }),
        None => {}
    }
}

fn deploy_step_started(plans: &[PlanStatus], pod: &str, i: u32) -> bool {
    plans
        .iter()
        .filter(|p| p.name == "deploy")
        .flat_map(|p| p.phases.iter())
        .flat_map(|ph| ph.steps.iter())
        .any(|s| s.pod == pod && s.index == i && matches!(s.status, ElementStatus::Complete | ElementStatus::Starting))
}

/// Instances at or above their pod type's count are removed, highest index first, one at a
/// time per pod type.
fn decommission(spec: &ServiceSpec, plans: &mut Vec<PlanStatus>, observed: &Observed) {
    let mut extra: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for ((pod, i), inst) in observed {
        let count = spec.pods.get(pod).map_or(0, |p| p.count);
        if inst.exists && *i >= count {
            extra.entry(pod.as_str()).or_default().push(*i);
        }
    }
    if extra.is_empty() {
        return;
    }
    let open = plans.iter().any(|p| p.name == "decommission" && p.status != ElementStatus::Complete);
    if open {
        return;
    }
    plans.retain(|p| p.name != "decommission");
    let phases = extra
        .into_iter()
        .map(|(pod, mut idx)| {
            idx.sort_unstable_by(|a, b| b.cmp(a));
            PhaseStatus {
                name: pod.into(),
                status: ElementStatus::Pending,
                strategy: "serial".into(),
                paused: false,
                proceeds: 0,
                steps: idx
                    .into_iter()
                    .map(|i| {
                        let mut s = step(pod, i, &[], action::REMOVE, "");
                        s.name = format!("{pod}-{i}:remove");
                        s
                    })
                    .collect(),
            }
        })
        .collect();
    plans.push(PlanStatus {
        name: "decommission".into(),
        status: ElementStatus::Pending,
        paused: false,
        message: None,
        phases,
    });
}

/// Updates the steps of `plan` from what is observed, starts the steps its strategy allows,
/// and aggregates the phases' and the plan's states.
fn advance(
    plan: &mut PlanStatus,
    spec: &ServiceSpec,
    strategy: Strategy,
    depends: &BTreeMap<String, Vec<String>>,
    observed: &Observed,
    actions: &mut Actions,
) {
    // 1. Steps in progress finish or fail.
    for ph in &mut plan.phases {
        for s in &mut ph.steps {
            if s.status == ElementStatus::Starting {
                observe(s, observed, &plan.name, actions);
            }
        }
    }
    // 2. New steps start where the strategy allows, unless paused or something failed.
    let failed = plan.phases.iter().flat_map(|ph| ph.steps.iter()).find(|s| s.status == ElementStatus::Error).cloned();
    if failed.is_none() && !plan.paused {
        let complete: Vec<String> = plan
            .phases
            .iter()
            .filter(|ph| ph.steps.iter().all(|s| s.status == ElementStatus::Complete))
            .map(|ph| ph.name.clone())
            .collect();
        let mut earlier_open = false;
        for ph in &mut plan.phases {
            let done = complete.contains(&ph.name);
            let deps_ok = depends.get(&ph.name).is_none_or(|d| d.iter().all(|n| complete.contains(n)));
            let eligible = match strategy {
                Strategy::Parallel => deps_ok,
                _ => !earlier_open && deps_ok,
            };
            if eligible && !ph.paused && !done {
                start_steps(ph, spec, &plan.name, observed, actions);
            }
            earlier_open |= !done;
        }
    }
    // 3. Aggregate.
    for ph in &mut plan.phases {
        ph.status = aggregate(ph.steps.iter().map(|s| s.status), ph.paused || canary_waiting(ph));
    }
    plan.status = aggregate(plan.phases.iter().map(|p| p.status), plan.paused);
    plan.message = failed.map(|s| format!("step {} failed: {}", s.name, s.message.unwrap_or_default()));
}

/// A canary phase waiting for `proceed` before its next step.
fn canary_waiting(ph: &PhaseStatus) -> bool {
    let strategy = Strategy::parse(&ph.strategy).unwrap_or_default();
    strategy.is_canary() && ph.proceeds < 2 && ph.steps.iter().any(|s| s.status == ElementStatus::Pending)
}

fn aggregate(children: impl Iterator<Item = ElementStatus>, held: bool) -> ElementStatus {
    let all: Vec<ElementStatus> = children.collect();
    if all.contains(&ElementStatus::Error) {
        ElementStatus::Error
    } else if all.iter().all(|s| *s == ElementStatus::Complete) {
        ElementStatus::Complete
    } else if held {
        ElementStatus::Waiting
    } else if all.iter().all(|s| *s == ElementStatus::Pending) {
        ElementStatus::Pending
    } else if all.iter().all(|s| matches!(s, ElementStatus::Pending | ElementStatus::Waiting | ElementStatus::Complete))
        && all.contains(&ElementStatus::Waiting)
    {
        // Nothing runs: what is left waits (a canary, a paused phase).
        ElementStatus::Waiting
    } else if all.iter().all(|s| *s == ElementStatus::Pending) {
        ElementStatus::Pending
    } else {
        ElementStatus::InProgress
    }
}

/// Starts the steps of an eligible phase: serial, the first open step; parallel, every pending
/// step; canary, the first step after one `proceed`, the rest after two.
fn start_steps(ph: &mut PhaseStatus, spec: &ServiceSpec, plan: &str, observed: &Observed, actions: &mut Actions) {
    let strategy = Strategy::parse(&ph.strategy).unwrap_or_default();
    let open: Vec<usize> = (0..ph.steps.len()).filter(|i| ph.steps[*i].status != ElementStatus::Complete).collect();
    let allowed: usize = if strategy.is_canary() {
        match ph.proceeds {
            0 => 0,
            1 => usize::from(ph.steps.iter().all(|s| s.status != ElementStatus::Starting)).min(1),
            _ => usize::MAX,
        }
    } else {
        usize::MAX
    };
    if allowed == 0 {
        return;
    }
    // Canary: at one proceed, only the very first step of the phase may run.
    let first_only = strategy.is_canary() && ph.proceeds == 1;
    for (n, i) in open.into_iter().enumerate() {
        if first_only && (i != 0 || n > 0) {
            break;
        }
        let s = &mut ph.steps[i];
        match s.status {
            ElementStatus::Starting if strategy.is_serial() => break,
            ElementStatus::Pending | ElementStatus::Waiting => {
                begin(s, spec, observed, plan, actions);
                if strategy.is_serial() && s.status != ElementStatus::Complete {
                    break;
                }
            }
            _ => {}
        }
    }
}

/// A step starts: issue its action (or find it already done).
fn begin(s: &mut StepStatus, spec: &ServiceSpec, observed: &Observed, plan: &str, actions: &mut Actions) {
    let key = (s.pod.clone(), s.index);
    let inst = observed.get(&key).cloned().unwrap_or_default();
    let at_target = inst.exists && inst.revision == s.target && inst.ready && !inst.lost;
    s.message = None;
    s.replaced = None;
    match s.action.as_str() {
        action::LAUNCH | action::UPDATE if at_target => {
            s.status = ElementStatus::Complete;
            return;
        }
        action::UPDATE | action::RESTART if inst.exists => {
            actions.delete_pods.push(key);
            s.replaced = Some(inst.uid.clone());
        }
        action::REPLACE => {
            if inst.exists {
                if inst.node_gone {
                    actions.force.push(key.clone());
                }
                actions.delete_pods.push(key.clone());
                s.replaced = Some(inst.uid.clone());
            }
            actions.delete_claims.push(key);
        }
        action::REMOVE
            if needs_decommission(spec, &s.pod) && inst.exists && inst.decommission != Decommission::Done =>
        {
            actions.decommission.push(key);
            s.message = Some(DECOMMISSIONING.into());
        }
        action::REMOVE => actions.delete_claims.push(key),
        _ => {}
    }
    s.status = ElementStatus::Starting;
    actions.events.push((
        false,
        "StepStarted",
        format!("{plan}: {} ({})", s.name, s.action),
        Some((s.pod.clone(), s.index)),
    ));
}

/// A started step: complete when its instance is at the target and ready (gone, for a
/// removal); failed when the instance failed.
fn observe(s: &mut StepStatus, observed: &Observed, plan: &str, actions: &mut Actions) {
    let inst = observed.get(&(s.pod.clone(), s.index)).cloned().unwrap_or_default();
    if s.action == action::REMOVE {
        let key = (s.pod.clone(), s.index);
        if s.message.as_deref() == Some(DECOMMISSIONING) && inst.exists {
            match &inst.decommission {
                Decommission::Done => {
                    actions.delete_claims.push(key);
                    s.message = None;
                }
                Decommission::Failed(why) => {
                    s.status = ElementStatus::Error;
                    s.message = Some(format!("decommission: {why}"));
                    actions.events.push((
                        true,
                        "StepFailed",
                        format!("{plan}: {}: decommission: {why}", s.name),
                        Some(key),
                    ));
                }
                // Its commands were running when this controller started: run them again.
                Decommission::NotRun => actions.decommission.push(key),
                Decommission::Running => {}
            }
            return;
        }
        if !inst.exists {
            if s.message.as_deref() == Some(DECOMMISSIONING) {
                // Gone before its commands finished (deleted by hand): its claims go with it.
                actions.delete_claims.push(key.clone());
            }
            s.status = ElementStatus::Complete;
            s.message = None;
            actions.events.push((false, "StepComplete", format!("{plan}: {}", s.name), Some(key)));
        }
        return;
    }
    if let Some(why) = &inst.failed {
        s.status = ElementStatus::Error;
        s.message = Some(why.clone());
        actions.events.push((true, "StepFailed", format!("{plan}: {}: {why}", s.name), Some((s.pod.clone(), s.index))));
    } else if inst.exists
        && !inst.lost
        && inst.ready
        && inst.revision == s.target
        && s.replaced.as_deref() != Some(inst.uid.as_str())
    {
        s.status = ElementStatus::Complete;
        s.message = None;
        actions.events.push((false, "StepComplete", format!("{plan}: {}", s.name), Some((s.pod.clone(), s.index))));
    } else if inst.lost {
        s.message = Some("its node is lost".into());
    } else if !inst.exists {
        s.message = Some("waiting for the pod".into());
    } else if !inst.ready {
        s.message = Some("waiting for the readiness check".into());
    }
}

/// StatefulSet replicas per pod type: every instance below the count that exists or that a
/// step launched, at most the count; an instance being removed drops out once its step runs.
fn replicas(spec: &ServiceSpec, plans: &[PlanStatus], observed: &Observed) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for (pod, p) in &spec.pods {
        let mut n = 0;
        for ((op, i), inst) in observed {
            if op == pod && inst.exists && *i < p.count {
                n = n.max(i + 1);
            }
        }
        for s in plans.iter().flat_map(|pl| pl.phases.iter()).flat_map(|ph| ph.steps.iter()) {
            if &s.pod == pod && s.action != action::REMOVE && s.status != ElementStatus::Pending && s.index < p.count {
                n = n.max(s.index + 1);
            }
        }
        // Instances above the count stay until their removal step starts (highest first).
        for s in plans
            .iter()
            .filter(|pl| pl.name == "decommission")
            .flat_map(|pl| pl.phases.iter())
            .flat_map(|ph| ph.steps.iter())
        {
            let decommissioning = s.status == ElementStatus::Starting && s.message.as_deref() == Some(DECOMMISSIONING);
            let failed = s.status == ElementStatus::Error;
            if &s.pod == pod && (s.status == ElementStatus::Pending || decommissioning || failed) {
                n = n.max(s.index + 1);
            }
        }
        out.insert(pod.clone(), n);
    }
    out
}

/// Starts plan `name` of the package's own: a fresh plan whose steps restart their instances
/// (at the current targets), unless it is running already. The message, or why not.
pub fn start(
    spec: &ServiceSpec,
    plans: &mut Vec<PlanStatus>,
    targets: &BTreeMap<String, String>,
    name: &str,
) -> Result<String, String> {
    let own: Vec<&String> = spec.plans.keys().filter(|n| !["deploy", "update"].contains(&n.as_str())).collect();
    let Some(plan_spec) = spec.plans.get(name).filter(|_| own.iter().any(|n| n.as_str() == name)) else {
        let names = own.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
        return Err(format!(
            "no plan {name:?} to start: `start` runs a plan of the package's own ({})",
            if names.is_empty() { "it has none" } else { &names }
        ));
    };
    let fresh = build(name, plan_spec, spec, targets, action::RESTART);
    match plans.iter().position(|p| p.name == name) {
        Some(i) if plans[i].status != ElementStatus::Complete => {
            Err(format!("plan {name} is running; restart it instead"))
        }
        Some(i) => {
            plans[i] = fresh;
            Ok(format!("started plan {name}"))
        }
        None => {
            plans.push(fresh);
            Ok(format!("started plan {name}"))
        }
    }
}

/// Applies a command to the plans: the message to report, or why it cannot apply.
pub fn command(plans: &mut [PlanStatus], cmd: &Command) -> Result<String, String> {
    if cmd.verb == Verb::Start {
        return Err("`start` needs the service specification (see `start`)".into());
    }
    let plan = plans.iter_mut().find(|p| p.name == cmd.plan).ok_or_else(|| format!("no plan {:?}", cmd.plan))?;
    let phase_idx = match &cmd.phase {
        Some(n) => Some(
            plan.phases
                .iter()
                .position(|p| &p.name == n)
                .ok_or_else(|| format!("no phase {n:?} in plan {}", cmd.plan))?,
        ),
        None => None,
    };
    let step_idx = match (&cmd.step, phase_idx) {
        (Some(n), Some(ph)) => Some(
            plan.phases[ph]
                .steps
                .iter()
                .position(|s| &s.name == n || s.name.split(':').next() == Some(n.as_str()))
                .ok_or_else(|| format!("no step {n:?} in phase {}", plan.phases[ph].name))?,
        ),
        (Some(_), None) => return Err("a step is named within its phase".into()),
        _ => None,
    };
    let what = match (&cmd.phase, &cmd.step) {
        (Some(ph), Some(st)) => format!("step {st} of {}/{ph}", cmd.plan),
        (Some(ph), None) => format!("phase {}/{ph}", cmd.plan),
        _ => format!("plan {}", cmd.plan),
    };
    match cmd.verb {
        Verb::Pause => {
            if cmd.step.is_some() {
                return Err("pause applies to a plan or a phase".into());
            }
            match phase_idx {
                Some(i) => plan.phases[i].paused = true,
                None => plan.paused = true,
            }
            Ok(format!("paused {what}"))
        }
        Verb::Resume => {
            if cmd.step.is_some() {
                return Err("resume applies to a plan or a phase".into());
            }
            let phases: Vec<usize> = phase_idx.map_or_else(|| (0..plan.phases.len()).collect(), |i| vec![i]);
            plan.paused = false;
            let mut canary = false;
            for i in phases {
                let ph = &mut plan.phases[i];
                ph.paused = false;
                if Strategy::parse(&ph.strategy).unwrap_or_default().is_canary() && canary_waiting(ph) && !canary {
                    ph.proceeds += 1;
                    canary = true;
                }
            }
            Ok(format!("resumed {what}"))
        }
        Verb::ForceComplete => {
            for s in steps_of(plan, phase_idx, step_idx) {
                s.status = ElementStatus::Complete;
                s.message = Some("forced complete".into());
            }
            Ok(format!("forced {what} complete"))
        }
        Verb::Start => unreachable!("handled above"),
        Verb::Restart => {
            for s in steps_of(plan, phase_idx, step_idx) {
                s.status = ElementStatus::Pending;
                s.message = None;
                if s.action != action::REMOVE && s.action != action::REPLACE {
                    s.action = action::RESTART.into();
                }
            }
            if let Some(i) = phase_idx {
                plan.phases[i].proceeds = 0;
            }
            Ok(format!("restarting {what}"))
        }
    }
}

fn steps_of(plan: &mut PlanStatus, phase: Option<usize>, step: Option<usize>) -> Vec<&mut StepStatus> {
    match (phase, step) {
        (Some(p), Some(s)) => vec![&mut plan.phases[p].steps[s]],
        (Some(p), None) => plan.phases[p].steps.iter_mut().collect(),
        _ => plan.phases.iter_mut().flat_map(|ph| ph.steps.iter_mut()).collect(),
    }
}

/// The plan tree as text, as `dromos service plan show` prints it:
///
/// ```text
/// deploy (serial strategy) (IN_PROGRESS)
/// └─ brokers (serial strategy) (IN_PROGRESS)
///    ├─ broker-0:[server] (COMPLETE)
///    └─ broker-1:[server] (STARTING)
/// ```
pub fn tree(plan: &PlanStatus, strategy: &str) -> String {
    let word =
        |s: ElementStatus| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let mut out = format!("{} ({strategy} strategy) ({})\n", plan.name, word(plan.status));
    for (i, ph) in plan.phases.iter().enumerate() {
        let last = i + 1 == plan.phases.len();
        out.push_str(&format!(
            "{} {} ({} strategy) ({})\n",
            if last { "└─" } else { "├─" },
            ph.name,
            ph.strategy,
            word(ph.status)
        ));
        for (j, s) in ph.steps.iter().enumerate() {
            let indent = if last { "   " } else { "│  " };
            let branch = if j + 1 == ph.steps.len() { "└─" } else { "├─" };
            let note = s.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
            out.push_str(&format!("{indent}{branch} {} ({}){note}\n", s.name, word(s.status)));
        }
    }
    if let Some(m) = &plan.message {
        out.push_str(&format!("{m}\n"));
    }
    out
}

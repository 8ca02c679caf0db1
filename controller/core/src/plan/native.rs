//! The native objects a plan's Apps expand to (`dromos plan --rendered`), pure: each desired
//! App rendered as the App operator renders it, paired with the live objects that App owns,
//! each with a verdict and a diff. A reviewer sees that a constraint change rewrites the
//! Deployment's affinity (and so moves pods) or that a port change touches a Service.

use super::{Action, ObjRef, Plan, diff_text, is_subset};
use crate::load::{LoadOptions, Typed};
use crate::translate::{self, RenderOptions};
use serde_json::Value;

/// Kinds the App operator renders and owns.
pub const APP_KINDS: [(&str, &str); 4] =
    [("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("v1", "Service"), ("policy/v1", "PodDisruptionBudget")];

/// What the App operator would do with one native object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeAction {
    /// Not live: created.
    Create,
    /// Live, some field the operator sets differs: applied.
    Update,
    /// Live and equal on every field the operator sets.
    Unchanged,
    /// Owned by the App and no longer rendered (or the App is deleted): deleted.
    Delete,
}

impl NativeAction {
    /// Lower-case word for reports.
    pub fn word(self) -> &'static str {
        match self {
            NativeAction::Create => "create",
            NativeAction::Update => "update",
            NativeAction::Unchanged => "unchanged",
            NativeAction::Delete => "delete",
        }
    }
}

/// One native object of an App and its verdict.
#[derive(Clone, Debug)]
pub struct NativeStep {
    /// The App it belongs to.
    pub owner: ObjRef,
    /// The native object.
    pub obj: ObjRef,
    /// Verdict.
    pub action: NativeAction,
    /// Unified diff (live -> after the apply) for updates, the whole object for creates.
    pub diff: Option<String>,
}

/// The native objects of a plan, and how they were compared.
#[derive(Clone, Debug, Default)]
pub struct Native {
    /// Every native object of every App the plan touches, in the plan's order.
    pub steps: Vec<NativeStep>,
    /// True when the API server's dry-run answers were compared (defaults and canonical
    /// quantities included); false for the rendered objects alone (offline plans).
    pub dry_run: bool,
    /// Apps whose objects could not be rendered or compared, and why.
    pub notes: Vec<String>,
}

impl Native {
    /// Steps with this verdict.
    pub fn count(&self, action: NativeAction) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }
}

/// The objects the App operator renders from a desired App, with its namespace; `None` for
/// other kinds, `Err` with the first error for an App the operator would refuse to render.
pub fn render_app_value(app: &Value, opts: &RenderOptions) -> Option<Result<Vec<Value>, String>> {
    if app["kind"] != "App" || !app["apiVersion"].as_str().is_some_and(|v| v.starts_with("dromos.io/")) {
        return None;
    }
    let ns = app["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
    let lo = LoadOptions { default_namespace: ns.clone(), ..Default::default() };
    // As the App operator sees it: the typed App it reads back, serialised again (the version
    // hash it stamps depends on the order of the keys, which is the type's, not the file's).
    let typed: dromos_crds::App = match serde_json::from_value(app.clone()) {
        Ok(t) => t,
        Err(e) => return Some(Err(e.to_string())),
    };
    let seen = serde_json::to_value(&typed).unwrap_or_default();
    let tree = crate::check_live("App", &seen, &lo);
    if let Some(d) = tree.diagnostics.iter().find(|d| d.is_error()) {
        return Some(Err(format!("{}: {}", d.field, d.message)));
    }
    let m = tree.manifests.into_iter().next()?;
    let Typed::App(typed) = &m.typed else { return None };
    let mut objects = translate::render_app(&m, typed, opts).objects;
    for o in &mut objects {
        o["metadata"]["namespace"] = Value::String(ns.clone());
    }
    Some(Ok(objects))
}

/// True when the live object `o` was rendered from App `namespace/name` (the labels the
/// renderer sets on everything it makes).
pub fn owned_by_app(o: &Value, namespace: &str, name: &str) -> bool {
    let labels = &o["metadata"]["labels"];
    o["metadata"]["namespace"] == namespace
        && labels[translate::APP_LABEL] == name
        && labels[translate::OWNER_KIND_LABEL] == "App"
}

/// An object read back from the API server (a dry-run answer or a live object) without the
/// fields the server keeps for itself: identity, versions, managed fields, owner references
/// (set by the operator at apply time) and status.
pub fn without_server_fields(mut v: Value) -> Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "ownerReferences"] {
            m.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// Verdicts for one App's objects: `after` holds what each rendered object would be after the
/// apply, with `true` when that is the API server's dry-run answer (a whole object: a field
/// the apply removes is missing from it and shows as removed) or `false` for the rendered
/// object itself (only the fields it sets are compared, as the operator compares them). Owned
/// objects not rendered any more are deleted.
pub fn compare(owner: &ObjRef, after: &[(Value, bool)], live: &[Value]) -> Vec<NativeStep> {
    let mut steps = Vec::new();
    for (a, answered) in after {
        let Some(obj) = ObjRef::of(a) else { continue };
        let a = without_server_fields(a.clone());
        let twin = live.iter().find(|l| ObjRef::of(l).is_some_and(|o| o == obj));
        let (action, diff) = match twin {
            None => (NativeAction::Create, Some(creation_text(&a))),
            Some(l) => {
                let l = without_server_fields(l.clone());
                let same = is_subset(&a, &l) && (!answered || is_subset(&l, &a));
                match (same, answered) {
                    (true, _) => (NativeAction::Unchanged, None),
                    (false, true) => (NativeAction::Update, Some(whole_diff(&a, &l))),
                    (false, false) => (NativeAction::Update, Some(diff_text(&a, &l))),
                }
            }
        };
        steps.push(NativeStep { owner: owner.clone(), obj, action, diff });
    }
    for l in live {
        let Some(obj) = ObjRef::of(l) else { continue };
        if !steps.iter().any(|s| s.obj == obj) {
            steps.push(NativeStep { owner: owner.clone(), obj, action: NativeAction::Delete, diff: None });
        }
    }
    steps
}

/// The objects of Apps the plan deletes: all deleted with their App.
pub fn deleted_with(owner: &ObjRef, live: &[Value]) -> Vec<NativeStep> {
    compare(owner, &[], live)
}

/// The Apps of a plan whose native objects a report shows: every desired App (an unchanged App
/// can still change its objects, after an upgrade of Dromos) and every App it deletes, with
/// `true` for the deleted ones.
pub fn apps_of(plan: &Plan) -> Vec<(ObjRef, bool)> {
    let is_app = |o: &ObjRef| o.kind == "App" && o.group() == "dromos.io";
    let mut out: Vec<(ObjRef, bool)> =
        plan.steps.iter().filter(|s| is_app(&s.obj)).map(|s| (s.obj.clone(), false)).collect();
    out.extend(plan.prune.iter().filter(|o| is_app(o)).map(|o| (o.clone(), true)));
    out
}

/// True when the plan creates this App (its objects are all new).
pub fn created(plan: &Plan, app: &ObjRef) -> bool {
    plan.steps.iter().any(|s| &s.obj == app && s.action == Action::Create)
}

/// Terminal text: the native objects that change, each with its diff, and a summary.
pub fn text(n: &Native) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let how = if n.dry_run { "compared with the API server's dry-run answers" } else { "rendered objects, no dry-run" };
    let _ = writeln!(out, "\nrendered objects of the Apps ({how}):");
    for s in n.steps.iter().filter(|s| s.action != NativeAction::Unchanged) {
        let sign = match s.action {
            NativeAction::Create => '+',
            NativeAction::Update => '~',
            NativeAction::Delete => '-',
            NativeAction::Unchanged => ' ',
        };
        let _ = writeln!(out, "{sign} {} {} (of {})", s.action.word(), s.obj.display(), s.owner.display());
        for l in s.diff.iter().flat_map(|d| d.lines()) {
            let _ = writeln!(out, "    {l}");
        }
    }
    for note in &n.notes {
        let _ = writeln!(out, "! {note}");
    }
    let _ = writeln!(out, "{}", summary(n));
    out
}

/// Markdown for a pull-request comment: a table of the native objects that change and their
/// diffs folded.
pub fn markdown(n: &Native) -> String {
    use std::fmt::Write as _;
    let mut out = format!("\n#### Rendered objects\n\n**{}**\n\n", summary(n));
    let changes: Vec<_> = n.steps.iter().filter(|s| s.action != NativeAction::Unchanged).collect();
    if !changes.is_empty() {
        out.push_str("| action | kind | namespace | name | of App |\n|---|---|---|---|---|\n");
        for s in &changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                s.action.word(),
                s.obj.kind,
                s.obj.namespace.as_deref().unwrap_or(""),
                s.obj.name,
                s.owner.name
            );
        }
    }
    for note in &n.notes {
        let _ = writeln!(out, "\n> {note}");
    }
    for s in changes.iter().filter(|s| s.diff.is_some()) {
        let _ = write!(
            out,
            "\n<details><summary>{} {}</summary>\n\n```diff\n{}```\n</details>\n",
            s.action.word(),
            s.obj.display(),
            s.diff.as_deref().unwrap_or("")
        );
    }
    out
}

/// Machine-readable form.
pub fn json(n: &Native) -> Value {
    let step = |s: &NativeStep| {
        serde_json::json!({"action": s.action.word(), "apiVersion": s.obj.api_version, "kind": s.obj.kind,
            "namespace": s.obj.namespace, "name": s.obj.name,
            "owner": {"kind": s.owner.kind, "namespace": s.owner.namespace, "name": s.owner.name}, "diff": s.diff})
    };
    serde_json::json!({"dryRun": n.dry_run, "steps": n.steps.iter().map(step).collect::<Vec<_>>(), "notes": n.notes,
        "summary": {"create": n.count(NativeAction::Create), "update": n.count(NativeAction::Update),
                    "unchanged": n.count(NativeAction::Unchanged), "delete": n.count(NativeAction::Delete)}})
}

fn summary(n: &Native) -> String {
    format!(
        "{} to create, {} to update, {} unchanged, {} to delete",
        n.count(NativeAction::Create),
        n.count(NativeAction::Update),
        n.count(NativeAction::Unchanged),
        n.count(NativeAction::Delete)
    )
}

/// Unified diff of two whole objects (live -> after).
fn whole_diff(after: &Value, live: &Value) -> String {
    let before = serde_saphyr::to_string(live).unwrap_or_default();
    let after = serde_saphyr::to_string(after).unwrap_or_default();
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(2)
        .header("live", "desired")
        .to_string()
}

/// The whole object as an all-added unified diff.
fn creation_text(desired: &Value) -> String {
    let after = serde_saphyr::to_string(desired).unwrap_or_default();
    similar::TextDiff::from_lines("", &after).unified_diff().context_radius(2).header("live", "desired").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(spec: Value) -> Value {
        json!({"apiVersion": "dromos.io/v1alpha1", "kind": "App",
               "metadata": {"name": "web", "namespace": "shop"}, "spec": spec})
    }

    fn rendered(spec: Value) -> Vec<Value> {
        render_app_value(&app(spec), &RenderOptions::default()).expect("an App").expect("renders")
    }

    fn rendered_only(objs: &[Value]) -> Vec<(Value, bool)> {
        objs.iter().map(|o| (o.clone(), false)).collect()
    }

    fn owner() -> ObjRef {
        ObjRef::of(&app(json!({}))).unwrap()
    }

    #[test]
    fn a_new_app_creates_every_object_it_renders() {
        let objs = rendered(json!({"instances": 2, "cmd": "sleep 1000", "cpus": 0.1, "mem": 64}));
        assert!(objs.iter().all(|o| owned_by_app(o, "shop", "web")), "{objs:#?}");
        let steps = compare(&owner(), &rendered_only(&objs), &[]);
        assert!(!steps.is_empty());
        assert!(
            steps.iter().all(|s| s.action == NativeAction::Create && s.diff.as_deref().unwrap().contains("+kind:"))
        );
        assert!(steps.iter().any(|s| s.obj.kind == "Deployment"));
    }

    #[test]
    fn a_constraint_change_rolls_the_deployment_and_touches_nothing_else() {
        let before = rendered(json!({"instances": 2, "cmd": "sleep 1000", "cpus": 0.1, "mem": 64}));
        let after = rendered(json!({"instances": 2, "cmd": "sleep 1000", "cpus": 0.1, "mem": 64,
                                    "constraints": [["rack", "IS", "r1"]]}));
        let steps = compare(&owner(), &rendered_only(&after), &before);
        let changed: Vec<_> = steps.iter().filter(|s| s.action != NativeAction::Unchanged).collect();
        assert_eq!(changed.len(), 1, "{steps:#?}");
        assert_eq!((changed[0].obj.kind.as_str(), changed[0].action), ("Deployment", NativeAction::Update));
        let diff = changed[0].diff.as_deref().unwrap();
        // Constraints are held by the Dromos scheduler: the pod template changes its version,
        // which replaces the instances (Marathon restarted tasks on any change of the app).
        assert!(diff.contains("+    dromos.io/version:") && diff.contains("MARATHON_APP_VERSION"), "{diff}");
    }

    #[test]
    fn objects_no_longer_rendered_and_those_of_deleted_apps_are_deleted() {
        let with_port = rendered(json!({"cmd": "sleep 1", "cpus": 0.1, "mem": 64,
            "portDefinitions": [{"port": 0, "name": "http", "labels": {"VIP_0": "/web:80"}}]}));
        let without = rendered(json!({"cmd": "sleep 1", "cpus": 0.1, "mem": 64, "portDefinitions": []}));
        assert!(with_port.iter().any(|o| o["kind"] == "Service"), "{with_port:#?}");
        let steps = compare(&owner(), &rendered_only(&without), &with_port);
        assert!(steps.iter().any(|s| s.obj.kind == "Service" && s.action == NativeAction::Delete), "{steps:#?}");
        let gone = deleted_with(&owner(), &with_port);
        assert_eq!(gone.len(), with_port.len());
        assert!(gone.iter().all(|s| s.action == NativeAction::Delete));
    }

    #[test]
    fn server_fields_and_status_are_not_compared() {
        let objs = rendered(json!({"cmd": "sleep 1", "cpus": 0.1, "mem": 64}));
        let live: Vec<Value> = objs
            .iter()
            .map(|o| {
                let mut l = o.clone();
                l["metadata"]["uid"] = json!("u-1");
                l["metadata"]["resourceVersion"] = json!("42");
                l["metadata"]["ownerReferences"] = json!([{"kind": "App", "name": "web", "uid": "a-1"}]);
                l["status"] = json!({"replicas": 1});
                l
            })
            .collect();
        let mut answers = live.clone();
        answers[0]["metadata"]["resourceVersion"] = json!("43");
        answers[0]["status"] = json!({"replicas": 2});
        let answered: Vec<(Value, bool)> = answers.iter().map(|a| (a.clone(), true)).collect();
        let steps = compare(&owner(), &answered, &live);
        assert!(steps.iter().all(|s| s.action == NativeAction::Unchanged), "{steps:#?}");
    }

    #[test]
    fn a_field_a_dry_run_answer_lacks_is_shown_removed() {
        let live = rendered(json!({"cmd": "sleep 1", "cpus": 0.1, "mem": 64}));
        let mut answer = live[0].clone();
        answer["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("ports");
        let steps = compare(&owner(), &[(answer.clone(), true)], &live[..1]);
        assert_eq!(steps[0].action, NativeAction::Update, "{steps:#?}");
        assert!(steps[0].diff.as_deref().unwrap().contains("-        ports:"), "{steps:#?}");
        // The rendered object alone cannot say what the apply removes: compared by its fields.
        let steps = compare(&owner(), &[(answer, false)], &live[..1]);
        assert_eq!(steps[0].action, NativeAction::Unchanged);
    }

    #[test]
    fn an_app_renders_the_same_whatever_the_order_of_its_keys() {
        let a = rendered(json!({"cmd": "sleep 1", "cpus": 0.1, "mem": 64, "instances": 2}));
        let b = rendered(json!({"instances": 2, "mem": 64, "cpus": 0.1, "cmd": "sleep 1"}));
        assert_eq!(a, b, "the file's order is not the stored order; the version hash must not differ");
    }

    #[test]
    fn invalid_apps_and_other_kinds_are_not_rendered() {
        assert!(
            render_app_value(&json!({"apiVersion": "v1", "kind": "ConfigMap"}), &RenderOptions::default()).is_none()
        );
        let bad = render_app_value(&app(json!({"instances": -1, "cmd": "x"})), &RenderOptions::default());
        assert!(matches!(bad, Some(Err(_))), "{bad:?}");
    }
}

//! `dromos plan --rendered` (I/O): the native objects of a plan's Apps. Against a cluster, the
//! live objects each App owns are listed by the App's labels and every rendered object is
//! applied with a server-side dry-run, so defaulted fields and canonical quantities compare as
//! the App operator's next apply would leave them; against a snapshot, the rendered objects are
//! compared as they are. The verdicts are `dromos_core::plan::native`'s.

use dromos_core::plan::native::{self, APP_KINDS, Native};
use dromos_core::plan::{Key, ObjRef, Plan};
use dromos_core::translate::RenderOptions;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use serde_json::Value;
use std::collections::HashMap;

fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "PodDisruptionBudget" => "poddisruptionbudgets".to_string(),
        k => format!("{}s", k.to_ascii_lowercase()),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

fn desired_of<'a>(desired: &'a [Value], app: &ObjRef) -> Option<&'a Value> {
    desired.iter().find(|d| ObjRef::of(d).is_some_and(|o| &o == app))
}

/// The native objects of the plan's Apps against the cluster `client` reaches.
pub async fn against_cluster(client: &Client, plan: &Plan, desired: &[Value], opts: &RenderOptions) -> Native {
    let mut out = Native { dry_run: true, ..Default::default() };
    for (app, deleted) in native::apps_of(plan) {
        let ns = app.namespace.clone().unwrap_or_default();
        let selector = format!(
            "{}=App,{}={}",
            dromos_core::translate::OWNER_KIND_LABEL,
            dromos_core::translate::APP_LABEL,
            app.name
        );
        let mut live = Vec::new();
        for (av, kind) in APP_KINDS {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource(av, kind));
            match api.list(&ListParams::default().labels(&selector)).await {
                Ok(l) => live.extend(l.items.into_iter().filter_map(|o| {
                    let mut v = serde_json::to_value(o).ok()?;
                    v["apiVersion"] = Value::String(av.into());
                    v["kind"] = Value::String(kind.into());
                    Some(v)
                })),
                // A namespace this revision creates holds nothing yet.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => out.notes.push(format!("{}: cannot list its {kind}s: {e}", app.display())),
            }
        }
        if deleted {
            out.steps.extend(native::deleted_with(&app, &live));
            continue;
        }
        let Some(d) = desired_of(desired, &app) else { continue };
        let rendered = match native::render_app_value(d, opts) {
            None => continue,
            Some(Err(e)) => {
                out.notes.push(format!("{}: not rendered: {e}", app.display()));
                continue;
            }
            Some(Ok(r)) => r,
        };
        let mut after = Vec::with_capacity(rendered.len());
        for obj in rendered {
            after.push(dry_run(client, &app, obj, &mut out.notes).await);
        }
        out.steps.extend(native::compare(&app, &after, &live));
    }
    out
}

/// The server's answer to applying `obj` as the App operator would (its field manager,
/// forced, dry-run); the object itself, with a note, when the server refuses (a namespace this
/// revision creates does not exist yet, or the caller may not write the kind).
async fn dry_run(client: &Client, app: &ObjRef, obj: Value, notes: &mut Vec<String>) -> (Value, bool) {
    let (av, kind) = (obj["apiVersion"].as_str().unwrap_or_default(), obj["kind"].as_str().unwrap_or_default());
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource(av, kind));
    let pp = PatchParams::apply(crate::operators::apps::FIELD_MANAGER).force().dry_run();
    match api.patch(name, &pp, &Patch::Apply(&obj)).await {
        Ok(answer) => match serde_json::to_value(answer) {
            Ok(mut v) => {
                v["apiVersion"] = Value::String(av.into());
                v["kind"] = Value::String(kind.into());
                (v, true)
            }
            Err(_) => (obj, false),
        },
        Err(e) => {
            let why = match &e {
                kube::Error::Api(a) if a.code == 404 => format!("namespace {ns} does not exist yet"),
                e => e.to_string(),
            };
            notes.push(format!("{} {kind} {ns}/{name}: no dry-run ({why}); compared as rendered", app.display()));
            (obj, false)
        }
    }
}

/// The native objects of the plan's Apps against a snapshot of live objects (no dry-run).
pub fn against_snapshot(plan: &Plan, desired: &[Value], live: &HashMap<Key, Value>, opts: &RenderOptions) -> Native {
    let mut out = Native::default();
    for (app, deleted) in native::apps_of(plan) {
        let ns = app.namespace.clone().unwrap_or_default();
        let owned: Vec<Value> = live.values().filter(|v| native::owned_by_app(v, &ns, &app.name)).cloned().collect();
        if deleted {
            out.steps.extend(native::deleted_with(&app, &owned));
            continue;
        }
        let Some(d) = desired_of(desired, &app) else { continue };
        match native::render_app_value(d, opts) {
            None => {}
            Some(Err(e)) => out.notes.push(format!("{}: not rendered: {e}", app.display())),
            Some(Ok(rendered)) => {
                let after: Vec<(Value, bool)> = rendered.into_iter().map(|r| (r, false)).collect();
                out.steps.extend(native::compare(&app, &after, &owned));
            }
        }
    }
    out
}

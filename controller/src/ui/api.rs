//! The web UI's JSON API (I/O: reads and actions through the caller's client). Every read
//! lists what the caller may list (all namespaces, else each namespace it may read, others
//! skipped); every action is the CLI's own function (`dromos app restart`, `dromos job run`,
//! `dromos source suspend|resume|reconcile`) run as the caller. No Secret is ever read.

use super::{ApiError, Ui};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dromos_core::ui as view;
use dromos_crds::{App, GitSource, Job, Offer, Package};
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use std::sync::Arc;

/// Runs of a Job's schedule shown ahead.
pub const NEXT_RUNS: usize = 5;
/// Events shown on an App's page.
pub const EVENTS: usize = 50;

fn json_response(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// A path segment naming a namespace or object: a DNS subdomain, bounded.
fn checked<'a>(what: &str, s: &'a str) -> Result<&'a str, ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok { Ok(s) } else { Err(ApiError(StatusCode::BAD_REQUEST, format!("{what} {s:?} is not a Kubernetes name"))) }
}

/// Every `K` the caller may list: across all namespaces when allowed, else in each namespace
/// it may read (namespaces that answer 403 are left out). `forbidden` is true when none could
/// be read.
pub async fn list_visible<K>(ui: &Ui, client: &Client) -> Result<(Vec<K>, bool), ApiError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    match Api::<K>::all(client.clone()).list(&ListParams::default()).await {
        Ok(l) => return Ok((l.items, false)),
        Err(kube::Error::Api(ae)) if ae.code == 403 => {}
        Err(e) => return Err(e.into()),
    }
    let namespaces = ui.namespaces().await;
    let results: Vec<Result<Vec<K>, kube::Error>> = futures::stream::iter(namespaces)
        .map(|ns| {
            let api: Api<K> = Api::namespaced(client.clone(), &ns);
            async move { api.list(&ListParams::default()).await.map(|l| l.items) }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let (mut items, mut readable) = (vec![], 0usize);
    for r in results {
        match r {
            Ok(l) => {
                readable += 1;
                items.extend(l);
            }
            Err(kube::Error::Api(ae)) if ae.code == 403 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((items, readable == 0))
}

/// Offers, or none (and `true`) when the caller may not list them.
async fn list_offers(client: &Client) -> Result<(Vec<Offer>, bool), ApiError> {
    match Api::<Offer>::all(client.clone()).list(&ListParams::default()).await {
        Ok(l) => Ok((l.items, false)),
        Err(kube::Error::Api(ae)) if ae.code == 403 => Ok((vec![], true)),
        Err(e) => Err(e.into()),
    }
}

fn sort_by_id<K: ResourceExt>(items: &mut [K]) {
    items.sort_by_cached_key(|k| (k.namespace().unwrap_or_default(), k.name_any()));
}

/// `GET /api/session`: who the caller is and the CSRF token of its actions.
pub async fn session(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    Ok(json_response(&json!({
        "user": c.identity.display(),
        "csrf": c.csrf,
        "mode": if ui.auth.local() { "local" } else { "cluster" },
    })))
}

/// `GET /api/overview`.
pub async fn overview(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let ((apps, _), (jobs, _), (sources, _), (offers, offers_forbidden)) = tokio::try_join!(
        list_visible::<App>(&ui, &c.client),
        list_visible::<Job>(&ui, &c.client),
        list_visible::<GitSource>(&ui, &c.client),
        list_offers(&c.client),
    )?;
    let now = chrono::Utc::now();
    let mut app_counts = json!({"healthy": 0, "deploying": 0, "failing": 0, "unknown": 0});
    for a in &apps {
        let k = view::app_health(a);
        app_counts[k] = json!(app_counts[k].as_i64().unwrap_or(0) + 1);
    }
    let jobs_attention: Vec<Value> = jobs
        .iter()
        .filter_map(|j| {
            let h = view::job_health(j, now);
            (h != "ok").then(|| json!({"namespace": j.namespace(), "name": j.name_any(), "state": h}))
        })
        .collect();
    let unsynced: Vec<Value> = sources
        .iter()
        .filter_map(|g| {
            view::source_sync(g)
                .err()
                .map(|why| json!({"namespace": g.namespace(), "name": g.name_any(), "reason": why}))
        })
        .collect();
    Ok(json_response(&json!({
        "apps": app_counts,
        "appTotal": apps.len(),
        "jobTotal": jobs.len(),
        "jobsAttention": jobs_attention,
        "sourceTotal": sources.len(),
        "sourcesNotInSync": unsynced,
        "resources": view::resources_by_role_zone(&offers),
        "offersForbidden": offers_forbidden,
    })))
}

fn app_json(a: &App) -> Value {
    let st = a.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    json!({
        "namespace": a.namespace(),
        "name": a.name_any(),
        "health": view::app_health(a),
        "state": st.state.clone().unwrap_or_else(|| "Unknown".into()),
        "instances": a.spec.instances.unwrap_or(1),
        "running": n(st.running),
        "healthy": n(st.healthy),
        "staged": n(st.staged),
        "unhealthy": n(st.unhealthy),
        "deployment": st.deployment.as_ref().map(|d| json!({
            "reason": d.reason, "progress": d.progress, "waitingFor": d.waiting_for, "startedAt": d.started_at,
        })),
        "lastFailure": st.problems.first().cloned().or_else(|| st.waiting_for.clone()),
        "version": st.version,
        "source": a.labels().get(dromos_core::plan::SOURCE_LABEL),
    })
}

/// `GET /api/apps`: one row per App.
pub async fn apps(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let (mut items, forbidden) = list_visible::<App>(&ui, &c.client).await?;
    sort_by_id(&mut items);
    Ok(json_response(&json!({"items": items.iter().map(app_json).collect::<Vec<_>>(), "forbidden": forbidden})))
}

/// `GET /api/apps/{ns}/{name}`: the App, its instances and their nodes, the objects rendered
/// for it, its events and the scheduler's placement explanation.
pub async fn app(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let app = Api::<App>::namespaced(c.client.clone(), ns).get(name).await?;
    let selector = format!("{}={name}", dromos_core::translate::APP_LABEL);
    let pods = Api::<Pod>::namespaced(c.client.clone(), ns).list(&ListParams::default().labels(&selector)).await?.items;
    let why = crate::operators::scheduler::why_value(&app, &pods);
    let mut rendered = vec![];
    macro_rules! owned {
        ($k:ty, $kind:expr) => {
            if let Ok(l) = Api::<$k>::namespaced(c.client.clone(), ns)
                .list_metadata(&ListParams::default().labels(&selector))
                .await
            {
                rendered.extend(l.items.iter().map(|o| json!({"kind": $kind, "name": o.name_any()})));
            }
        };
    }
    owned!(k8s_openapi::api::apps::v1::Deployment, "Deployment");
    owned!(k8s_openapi::api::apps::v1::StatefulSet, "StatefulSet");
    owned!(k8s_openapi::api::core::v1::Service, "Service");
    owned!(k8s_openapi::api::policy::v1::PodDisruptionBudget, "PodDisruptionBudget");
    let pod_names: std::collections::HashSet<String> = pods.iter().map(|p| p.name_any()).collect();
    let events = match Api::<Event>::namespaced(c.client.clone(), ns).list(&ListParams::default().limit(2000)).await {
        Ok(l) => {
            let mut ev: Vec<&Event> = l
                .items
                .iter()
                .filter(|e| {
                    let o = &e.involved_object;
                    let n = o.name.as_deref().unwrap_or("");
                    (o.kind.as_deref() == Some("App") && n == name)
                        || (o.kind.as_deref() == Some("Pod") && pod_names.contains(n))
                })
                .collect();
            ev.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
            ev.iter()
                .take(EVENTS)
                .map(|e| {
                    json!({
                        "time": event_time(e), "type": e.type_, "reason": e.reason, "message": e.message,
                        "object": format!("{}/{}", e.involved_object.kind.as_deref().unwrap_or(""),
                            e.involved_object.name.as_deref().unwrap_or("")),
                    })
                })
                .collect::<Vec<_>>()
        }
        Err(_) => vec![],
    };
    let st = app.status.clone().unwrap_or_default();
    Ok(json_response(&json!({
        "app": app_json(&app),
        "conditions": st.common.conditions.iter().map(|c| json!({"type": c.type_, "status": c.status, "reason": c.reason, "message": c.message})).collect::<Vec<_>>(),
        "problems": st.problems,
        "why": why,
        "rendered": rendered,
        "events": events,
        "placementMode": app.spec.placement_mode,
        "constraints": app.spec.constraints,
    })))
}

fn event_time(e: &Event) -> String {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default()
}

/// `POST /api/apps/{ns}/{name}/restart`.
pub async fn restart(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    c.check_csrf(&headers)?;
    let at = crate::status::restart_app(&c.client, ns, name).await?;
    Ok(json_response(&json!({"message": format!("restart of App {ns}/{name} requested at {at}")})))
}

fn job_zone(j: &Job) -> String {
    j.spec
        .schedules
        .first()
        .and_then(|s| s.timezone.clone())
        .or_else(|| j.spec.schedule_time_zone.clone())
        .unwrap_or_else(|| "UTC".into())
}

fn job_json(j: &Job, now: dromos_core::time::Instant, jobs: &[Job]) -> Value {
    let st = j.status.clone().unwrap_or_default();
    let ns = j.namespace().unwrap_or_default();
    json!({
        "namespace": ns,
        "name": j.name_any(),
        "health": view::job_health(j, now),
        "trigger": st.trigger.clone().unwrap_or_else(|| dromos_core::runs::describe_trigger(&j.spec)),
        "timeZone": job_zone(j),
        "nextRun": st.next_run_time,
        "lastResult": st.last_result,
        "succeeded": st.success_count,
        "failed": st.failure_count,
        "active": st.runs.iter().filter(|r| r.result == "Active").count(),
        "parents": view::job_parents(j, &ns, jobs),
    })
}

/// `GET /api/jobs`: one row per Job, and the parent graph's layers.
pub async fn jobs(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let (mut items, forbidden) = list_visible::<Job>(&ui, &c.client).await?;
    sort_by_id(&mut items);
    let now = chrono::Utc::now();
    let graph: std::collections::BTreeMap<String, Vec<String>> = items
        .iter()
        .map(|j| {
            let ns = j.namespace().unwrap_or_default();
            (format!("{ns}/{}", j.name_any()), view::job_parents(j, &ns, &items))
        })
        .collect();
    let linked: std::collections::BTreeSet<&String> =
        graph.iter().filter(|(_, p)| !p.is_empty()).flat_map(|(id, p)| std::iter::once(id).chain(p)).collect();
    let layers: Vec<Value> = view::graph_layers(&graph)
        .into_iter()
        .filter(|(id, _)| linked.contains(id))
        .map(|(id, layer)| json!({"id": id, "layer": layer, "parents": graph[&id]}))
        .collect();
    Ok(json_response(&json!({
        "items": items.iter().map(|j| job_json(j, now, &items)).collect::<Vec<_>>(),
        "graph": layers,
        "forbidden": forbidden,
    })))
}

/// `GET /api/jobs/{ns}/{name}`: schedule, next runs in the Job's time zone, run history.
pub async fn job(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let j = Api::<Job>::namespaced(c.client.clone(), ns).get(name).await?;
    // Parents are resolved among the Jobs of the namespace (a name or a `spec.id`).
    let siblings = Api::<Job>::namespaced(c.client.clone(), ns).list(&ListParams::default()).await?.items;
    let now = chrono::Utc::now();
    let st = j.status.clone().unwrap_or_default();
    let zone = job_zone(&j);
    let (next, schedule_error) = match dromos_core::runs::next_runs(&j.spec, &st, now, NEXT_RUNS) {
        Ok(v) => (v, None),
        Err(e) => (vec![], Some(e)),
    };
    let next: Vec<Value> = next
        .iter()
        .map(|t| json!({"utc": dromos_core::time::fmt_time(*t), "local": view::local_time(*t, &zone)}))
        .collect();
    let runs: Vec<Value> = st
        .runs
        .iter()
        .map(|r| {
            let dur = match (
                r.start_time.as_deref().and_then(dromos_core::time::parse_time),
                r.finish_time.as_deref().and_then(dromos_core::time::parse_time),
            ) {
                (Some(s), Some(f)) => Some((f - s).num_seconds()),
                _ => None,
            };
            json!({"id": r.id, "result": r.result, "trigger": r.trigger, "start": r.start_time,
                "finish": r.finish_time, "durationSeconds": dur, "attempts": r.attempts, "message": r.message})
        })
        .collect();
    Ok(json_response(&json!({
        "job": job_json(&j, now, &siblings),
        "schedules": j.spec.schedules.iter().map(|s| json!({"cron": s.cron, "timeZone": s.timezone.clone().unwrap_or_else(|| "UTC".into()), "enabled": s.enabled.unwrap_or(true)})).collect::<Vec<_>>(),
        "schedule": j.spec.schedule,
        "nextRuns": next,
        "scheduleError": schedule_error,
        "runs": runs,
        "conditions": st.common.conditions.iter().map(|c| json!({"type": c.type_, "status": c.status, "reason": c.reason, "message": c.message})).collect::<Vec<_>>(),
    })))
}

/// `POST /api/jobs/{ns}/{name}/run`.
pub async fn run_job(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    c.check_csrf(&headers)?;
    let req = crate::operators::jobs::request_run(&c.client, ns, name).await?;
    Ok(json_response(&json!({"message": format!("run of Job {ns}/{name} requested ({req})")})))
}

/// `GET /api/nodes`: the Offers.
pub async fn nodes(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let (mut offers, forbidden) = list_offers(&c.client).await?;
    offers.sort_by_key(|o| o.spec.node_name.clone());
    let items: Vec<Value> = offers
        .iter()
        .map(|o| {
            let s = &o.spec;
            let ports = |r: &dromos_crds::offer::OfferResources| {
                r.ports.iter().map(|p| format!("{}-{}", p.begin, p.end)).collect::<Vec<_>>().join(",")
            };
            json!({
                "node": s.node_name, "zone": s.zone, "region": s.region, "roles": s.roles,
                "unschedulable": s.unschedulable.unwrap_or(false),
                "cpus": {"free": s.free.cpus, "total": s.total.cpus},
                "mem": {"free": s.free.mem, "total": s.total.mem},
                "disk": {"free": s.free.disk, "total": s.total.disk},
                "gpus": {"free": s.free.gpus, "total": s.total.gpus},
                "ports": {"free": ports(&s.free), "total": ports(&s.total)},
                "attributes": s.attributes,
            })
        })
        .collect();
    Ok(json_response(&json!({"items": items, "forbidden": forbidden})))
}

fn source_json(g: &GitSource) -> Value {
    let st = g.status.clone().unwrap_or_default();
    json!({
        "namespace": g.namespace(),
        "name": g.name_any(),
        "url": dromos_core::giturl::redact_url(&g.spec.url),
        "path": g.spec.path,
        "suspended": g.spec.suspend == Some(true),
        "revision": st.last_applied_revision,
        "attempted": st.last_attempted_revision,
        "lastSync": st.last_sync.as_ref().and_then(|s| s.finished_at.clone()),
        "inSync": view::source_sync(g).is_ok(),
        "reason": view::source_sync(g).err(),
        "objects": dromos_core::gitsource::inventory_len(&st),
        "diagnostics": st.diagnostics.len(),
    })
}

/// `GET /api/sources`.
pub async fn sources(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let (mut items, forbidden) = list_visible::<GitSource>(&ui, &c.client).await?;
    sort_by_id(&mut items);
    Ok(json_response(&json!({"items": items.iter().map(source_json).collect::<Vec<_>>(), "forbidden": forbidden})))
}

/// `GET /api/sources/{ns}/{name}`: revision, last sync, diagnostics with file:line, inventory.
pub async fn source(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let g = Api::<GitSource>::namespaced(c.client.clone(), ns).get(name).await?;
    let st = g.status.clone().unwrap_or_default();
    Ok(json_response(&json!({
        "source": source_json(&g),
        "lastSync": st.last_sync,
        "diagnostics": st.diagnostics.iter().map(|d| json!({"file": d.file, "line": d.line, "field": d.field, "message": d.message})).collect::<Vec<_>>(),
        "inventory": dromos_core::gitsource::inventory_entries(&st).unwrap_or_else(|e| vec![format!("(cannot be read: {e})")]),
        "skipped": st.skipped,
        "conditions": st.common.conditions.iter().map(|c| json!({"type": c.type_, "status": c.status, "reason": c.reason, "message": c.message})).collect::<Vec<_>>(),
    })))
}

/// `POST /api/sources/{ns}/{name}/{suspend|resume|reconcile}`.
pub async fn source_action(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name, action)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    c.check_csrf(&headers)?;
    let message = match action.as_str() {
        "suspend" => {
            crate::status::suspend_source(&c.client, ns, name).await?;
            format!("GitSource {ns}/{name} suspended")
        }
        "resume" | "reconcile" => {
            let at = crate::status::request_source_reconcile(&c.client, ns, name, action == "resume").await?;
            format!("{action} of GitSource {ns}/{name} requested at {at}")
        }
        _ => return Err(ApiError(StatusCode::NOT_FOUND, "actions: suspend, resume, reconcile".into())),
    };
    Ok(json_response(&json!({"message": message})))
}

/// `GET /api/packages`: the built-in catalog, the packages of the repositories installed
/// Packages name (`catalog::configured`), and the Packages installed where the caller can
/// read them.
pub async fn packages(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let catalog = super::catalog::rows_of(crate::packages::catalog(), "built-in");
    let (mut installed, _) = list_visible::<Package>(&ui, &c.client).await?;
    sort_by_id(&mut installed);
    let mut catalog = catalog;
    catalog.extend(super::catalog::configured(&ui, &c.client, &installed).await);
    let installed: Vec<Value> = installed
        .iter()
        .map(|p| {
            json!({"namespace": p.namespace(), "name": p.name_any(), "package": p.spec.name,
                "version": p.spec.version, "repository": dromos_core::package::repo_ref(&p.spec).to_string(),
                "ready": p.status.as_ref().and_then(|s| s.common.conditions.iter().find(|c| c.type_ == dromos_crds::condition::READY)).map(|c| c.reason.clone())})
        })
        .collect();
    Ok(json_response(&json!({"catalog": catalog, "installed": installed})))
}

/// Where the form's package comes from: the built-in catalog, or the package repository
/// under `path` of GitSource `namespace`/`git_source` (written as `repository: {path}` alone
/// when `implicit`: the repository the Package is synced from).
enum Origin {
    Builtin,
    Git {
        repo: Arc<dromos_core::package::Repository>,
        namespace: String,
        git_source: String,
        path: String,
        implicit: bool,
    },
}

impl Origin {
    fn repo(&self) -> &dromos_core::package::Repository {
        match self {
            Origin::Builtin => crate::packages::catalog(),
            Origin::Git { repo, .. } => repo,
        }
    }

    fn find(&self, name: &str, version: Option<&str>) -> Result<&dromos_core::package::PackageVersion, ApiError> {
        self.repo().find(name, version).map_err(|e| ApiError(StatusCode::NOT_FOUND, e))
    }

    /// `{"source", "path", "implicit"}` as the form sends it back, or null.
    fn to_json(&self) -> Value {
        match self {
            Origin::Builtin => Value::Null,
            Origin::Git { namespace, git_source, path, implicit, .. } => {
                json!({"source": format!("{namespace}/{git_source}"), "path": path, "implicit": implicit})
            }
        }
    }

    /// The Package's `spec.repository`, or null for the built-in catalog.
    fn spec(&self) -> Value {
        match self {
            Origin::Builtin => Value::Null,
            Origin::Git { path, implicit: true, .. } => json!({"path": path_or_root(path)}),
            Origin::Git { git_source, path, .. } => json!({"gitSource": git_source, "path": path_or_root(path)}),
        }
    }

    /// As SourcePolicies name it (`builtin`, `gitsource/NAME`).
    fn policy_name(&self) -> String {
        match self {
            Origin::Builtin => "builtin".into(),
            Origin::Git { git_source, .. } => format!("gitsource/{git_source}"),
        }
    }
}

fn path_or_root(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

/// A package directory named by a request: relative, in normal form, bounded.
fn checked_path(path: &str) -> Result<String, ApiError> {
    let p = path.trim_matches('/');
    let p = if p == "." { "" } else { p };
    let ok = path.len() <= 1024
        && !path.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && !p.chars().any(|c| c.is_control() || c == '\\');
    if ok || p.is_empty() {
        Ok(p.to_string())
    } else {
        Err(ApiError(StatusCode::BAD_REQUEST, format!("path {path:?} is not a directory of a repository")))
    }
}

/// The origin a request names: `{"source": "NS/NAME", "path", "implicit"}`, or null (or
/// absent) for the built-in catalog.
async fn origin(ui: &Ui, client: &Client, v: &Value) -> Result<Origin, ApiError> {
    if v.is_null() {
        return Ok(Origin::Builtin);
    }
    let (ns, gs) = v["source"].as_str().and_then(|s| s.split_once('/')).ok_or_else(|| {
        ApiError(StatusCode::BAD_REQUEST, "repository.source must be NAMESPACE/NAME of a GitSource".into())
    })?;
    let (ns, gs) = (checked("namespace", ns)?, checked("name", gs)?);
    let path = checked_path(v["path"].as_str().unwrap_or_default())?;
    let repo = super::catalog::repository(ui, client, ns, gs, &path).await?;
    Ok(Origin::Git {
        repo,
        namespace: ns.to_string(),
        git_source: gs.to_string(),
        path,
        implicit: v["implicit"].as_bool().unwrap_or(false),
    })
}

/// `?source=NS/NAME&path=DIR` of `GET /api/packages/{name}`: a configured repository.
#[derive(Debug, serde::Deserialize)]
pub struct FromQuery {
    source: Option<String>,
    path: Option<String>,
}

/// `GET /api/packages/{name}[?source=NS/NAME&path=DIR]`: a package's versions and the option
/// schema of its newest, from the built-in catalog or from the package repository under DIR
/// of GitSource NS/NAME (read as the caller; `catalog::repository`).
pub async fn package(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<FromQuery>,
) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let name = checked("package", &name)?;
    let from = match q.source {
        Some(source) => json!({"source": source, "path": q.path.unwrap_or_default()}),
        None => Value::Null,
    };
    let origin = origin(&ui, &c.client, &from).await?;
    let pkg = origin.find(name, None)?;
    let versions: Vec<String> = origin.repo().versions_of(name).iter().map(|v| v.meta.version.clone()).collect();
    Ok(json_response(&json!({
        "name": pkg.meta.name, "version": pkg.meta.version, "versions": versions,
        "description": pkg.meta.description, "maintainer": pkg.meta.maintainer, "tags": pkg.meta.tags,
        "schema": pkg.schema, "repository": origin.to_json(),
    })))
}

/// `GET /api/installed/{ns}/{name}`: an installed Package as the caller reads it, for the
/// form that changes it: its package, version and options, where its package comes from
/// (`{"source", "path", "implicit"}`, null for the built-in catalog), and the GitSource that
/// declares it (`syncedFrom`, `NS/NAME`, when synced from Git).
pub async fn installed(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let p = Api::<Package>::namespaced(c.client.clone(), ns).get(name).await?;
    let repository = match dromos_core::package::repo_ref(&p.spec) {
        dromos_core::package::RepoRef::Builtin => Value::Null,
        dromos_core::package::RepoRef::Path { git_source, path } => {
            let gs = crate::operators::packages::git_source_of(&p).ok_or_else(|| {
                ApiError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "Package {ns}/{name} names the repository it was synced from (spec.repository.path without \
                         gitSource) but carries no dromos.io/source label of its namespace: no GitSource to read"
                    ),
                )
            })?;
            json!({"source": format!("{ns}/{gs}"), "path": path, "implicit": git_source.is_none()})
        }
    };
    // The GitSource that declares it (`NS.NAME` in its label), for the patch.
    let synced_from = p
        .labels()
        .get(dromos_core::plan::SOURCE_LABEL)
        .and_then(|l| l.split_once('.'))
        .map(|(n, s)| format!("{n}/{s}"));
    Ok(json_response(&json!({
        "namespace": ns, "name": name, "package": p.spec.name, "version": p.spec.version,
        "options": p.spec.options.clone().unwrap_or_else(|| json!({})), "repository": repository,
        "syncedFrom": synced_from,
    })))
}

/// The Package manifest a form's request `{"version", "namespace", "metadataName",
/// "options", "repository"}` asks for, once the options validate against the package's
/// schema with the Package operator's own check and the Package could install from that
/// repository (a GitSource of its own namespace, allowed by the SourcePolicies that select
/// it); else the 422 answer with every error.
async fn manifest_of(
    ui: &Ui,
    client: &Client,
    name: &str,
    req: &Value,
) -> Result<Result<(String, Value), Response>, ApiError> {
    let origin = origin(ui, client, &req["repository"]).await?;
    let pkg = origin.find(name, req["version"].as_str())?;
    let mut errors = vec![];
    for (field, what) in [("namespace", "namespace"), ("metadataName", "name")] {
        if !req[field].as_str().is_some_and(view::is_dns_label) {
            errors.push(json!({"path": field, "message": format!("the {what} must be a DNS label (a-z, 0-9, -)")}));
        }
    }
    let target = req["namespace"].as_str().unwrap_or_default();
    if let Origin::Git { namespace, git_source, .. } = &origin
        && target != namespace
    {
        errors.push(json!({"path": "namespace", "message": format!(
            "a Package installs from a GitSource of its own namespace: this package comes from GitSource \
             {namespace}/{git_source}, so the Package must be in namespace {namespace}")}));
    }
    if view::is_dns_label(target)
        && let Some(all) = super::plan::policies_as(&ui.base).await?
        && let Err(v) =
            dromos_core::tenancy::Policies::select(&all, target).check_package_repository(&origin.policy_name())
    {
        errors.push(json!({"path": "repository", "message": format!("SourcePolicy {} (rule {}): {}", v.policy, v.rule, v.message)}));
    }
    let options = match &req["options"] {
        Value::Null => json!({}),
        o @ Value::Object(_) => o.clone(),
        _ => return Err(ApiError(StatusCode::BAD_REQUEST, "options must be an object".into())),
    };
    let draft = match pkg.layout {
        dromos_core::package::Layout::Universe => dromos_core::package::options::DefaultDraft::Draft4,
        dromos_core::package::Layout::Dromos => dromos_core::package::options::DefaultDraft::Latest,
    };
    if !pkg.schema.is_null()
        && let Err(errs) = dromos_core::package::options::resolve(&pkg.schema, &options, draft)
    {
        errors.extend(errs.iter().map(|e| json!({"path": e.path, "message": e.message})));
    }
    if !errors.is_empty() {
        return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, json_response(&json!({"errors": errors}))).into_response()));
    }
    let manifest = view::package_manifest(
        &pkg.meta.name,
        &pkg.meta.version,
        req["metadataName"].as_str().unwrap_or_default(),
        target,
        &options,
        &origin.spec(),
    );
    let yaml =
        serde_saphyr::to_string(&manifest).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Ok((yaml, manifest)))
}

fn form_request(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError(StatusCode::BAD_REQUEST, "body is not JSON".into()))
}

/// `POST /api/packages/{name}/manifest` `{"version", "namespace", "metadataName", "options"}`:
/// the Package manifest to commit, once the options validate against the package's schema
/// (422 with every error otherwise). Nothing is written to the cluster.
pub async fn package_manifest(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    c.check_csrf(&headers)?;
    let name = checked("package", &name)?;
    let req = form_request(&body)?;
    Ok(match manifest_of(&ui, &c.client, name, &req).await? {
        Ok((yaml, manifest)) => json_response(&json!({"yaml": yaml, "manifest": manifest})),
        Err(refused) => refused,
    })
}

/// `POST /api/packages/{name}/patch`: the form's request plus `"source": "NS/NAME"`, a
/// GitSource the caller may read; a `git apply`-able patch adding the manifest to the
/// source's repository (or changing the file that declares that Package), from the newest
/// revision of its ref (`plan::package_patch`). Nothing is written to the cluster or the
/// repository.
pub async fn package_patch(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = ui.auth.caller(&ui.base, &headers).await?;
    c.check_csrf(&headers)?;
    let name = checked("package", &name)?;
    let req = form_request(&body)?;
    let (sns, sname) = req["source"]
        .as_str()
        .and_then(|s| s.split_once('/'))
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "source must be NAMESPACE/NAME of a GitSource".into()))?;
    let (sns, sname) = (checked("namespace", sns)?, checked("name", sname)?);
    let (yaml, manifest) = match manifest_of(&ui, &c.client, name, &req).await? {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let gs = Api::<GitSource>::namespaced(c.client.clone(), sns).get(sname).await?;
    let namespace = manifest["metadata"]["namespace"].as_str().unwrap_or_default();
    let object = manifest["metadata"]["name"].as_str().unwrap_or_default();
    let mut v = super::plan::package_patch(&ui, &gs, namespace, object, &yaml).await;
    v["yaml"] = json!(yaml);
    Ok(json_response(&v))
}

/// `GET /api/sources/{ns}/{name}/plan`: the plan of the newest revision of the source's ref
/// against the live state as the caller reads it (`plan::plan_source`).
pub async fn source_plan(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (ns, name) = (checked("namespace", &ns)?, checked("name", &name)?);
    let c = ui.auth.caller(&ui.base, &headers).await?;
    let gs = Api::<GitSource>::namespaced(c.client.clone(), ns).get(name).await?;
    Ok(json_response(&super::plan::plan_source(&ui, &c.client, &gs).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_in_paths_are_checked() {
        assert!(super::checked("n", "web-1.a").is_ok());
        for bad in ["", "A", "a/b", "a b", "..%2f", &"x".repeat(254)] {
            assert!(super::checked("n", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn package_directories_stay_inside_the_repository() {
        for (given, want) in [("pkgs", "pkgs"), ("a/b/", "a/b"), (".", ""), ("", "")] {
            assert_eq!(super::checked_path(given).ok().as_deref(), Some(want), "{given}");
        }
        for bad in ["../x", "a/../b", "/etc", "a//b", "a/./b", "a\\b", "a\nb", &"x/".repeat(600)] {
            assert!(super::checked_path(bad).is_err(), "{bad:?}");
        }
    }
}

//! The web UI (I/O: HTTP, the Kubernetes API): a single page whose assets are compiled into
//! the binary, a JSON API that reads and acts as the caller, and server-sent events from
//! Kubernetes watches. Served by `dromos ui` (local, the kubeconfig's user) and by
//! `dromos controller --ui` (every request impersonates its authenticated user).
//!
//! * `auth`: sessions, TokenReviews, impersonation, CSRF tokens.
//! * `api`: the pages' data and the actions (restart an App, run a Job, suspend, resume or
//!   reconcile a GitSource); what is shown is decided in `dromos_core::ui`.
//! * `catalog`: the package repositories installed Packages name, for the catalog.
//! * `live`: watches turned into change notices, and the event stream of each browser.
//! * `plan`: the plan of a GitSource's newest revision, and the package form's patch against
//!   its repository (fetched by the UI, never with a Secret).

pub mod api;
pub mod auth;
pub mod catalog;
pub mod live;
pub mod plan;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::Client;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The page, its script and its style, compiled in: nothing is fetched from elsewhere.
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Content-Security-Policy of every answer: only this origin's script, style and connections.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An error answered as `{"error": message}` with its status.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.1}).to_string();
        (self.0, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    /// The status of the API server's answer when the chain holds one (403, 404, 409, ...),
    /// else 502.
    fn from(e: anyhow::Error) -> Self {
        let code = e.chain().find_map(|c| match c.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(ae)) => StatusCode::from_u16(ae.code).ok(),
            _ => None,
        });
        ApiError(code.unwrap_or(StatusCode::BAD_GATEWAY), format!("{e:#}"))
    }
}

impl From<kube::Error> for ApiError {
    fn from(e: kube::Error) -> Self {
        ApiError::from(anyhow::Error::new(e))
    }
}

/// The UI's state.
#[allow(missing_debug_implementations)] // kube::Client has no Debug
pub struct Ui {
    /// The kubeconfig's client (`dromos ui`) or the controller's own (impersonation base).
    pub base: Client,
    /// Authentication.
    pub auth: auth::Auth,
    /// Change notices of the watches.
    pub live: broadcast::Sender<Notice>,
    /// `host:port` values the `Host` header may take (`dromos ui`: the loopback names of its
    /// port, against DNS rebinding); empty: any.
    pub hosts: Vec<String>,
    /// Namespace of the kubeconfig's context: what a user who may not list namespaces sees.
    pub default_namespace: String,
    /// How GitSources' repositories are fetched for plans and patches.
    pub git: plan::GitAccess,
    /// Turns of the plans and patches being computed ([`plan::CONCURRENT_PLANS`]).
    pub plans: tokio::sync::Semaphore,
    /// Configured package repositories read lately.
    pub recent: catalog::Recent,
}

pub use live::Notice;

impl Ui {
    /// A UI acting through `base` and authenticating as `mode` says, fetching repositories
    /// as `git` says; starts the watches (across all namespaces, or in `watch_namespaces` for
    /// a confined controller).
    pub fn start(
        base: Client,
        mode: auth::Mode,
        hosts: Vec<String>,
        watch_namespaces: Option<Vec<String>>,
        git: plan::GitAccess,
    ) -> Arc<Self> {
        let (tx, _) = broadcast::channel(4096);
        live::start(base.clone(), tx.clone(), watch_namespaces);
        let default_namespace = base.default_namespace().to_string();
        Arc::new(Ui {
            base,
            auth: auth::Auth::new(mode),
            live: tx,
            hosts,
            default_namespace,
            git,
            plans: tokio::sync::Semaphore::new(plan::CONCURRENT_PLANS),
            recent: Default::default(),
        })
    }

    /// Namespaces to look in when a caller may not list across all of them: every namespace
    /// the base client can list, else the context's namespace.
    pub async fn namespaces(&self) -> Vec<String> {
        use kube::ResourceExt;
        let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(self.base.clone());
        match api.list_metadata(&Default::default()).await {
            Ok(l) => l.items.iter().map(|n| n.name_any()).collect(),
            Err(_) => vec![self.default_namespace.clone()],
        }
    }
}

/// Every route of the UI.
pub fn router(ui: Arc<Ui>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/assets/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/login", get(login_local))
        .route("/api/login", post(login_token))
        .route("/api/logout", post(logout))
        .route("/api/session", get(api::session))
        .route("/api/overview", get(api::overview))
        .route("/api/apps", get(api::apps))
        .route("/api/apps/{ns}/{name}", get(api::app))
        .route("/api/apps/{ns}/{name}/restart", post(api::restart))
        .route("/api/jobs", get(api::jobs))
        .route("/api/jobs/{ns}/{name}", get(api::job))
        .route("/api/jobs/{ns}/{name}/run", post(api::run_job))
        .route("/api/nodes", get(api::nodes))
        .route("/api/sources", get(api::sources))
        .route("/api/sources/{ns}/{name}", get(api::source))
        .route("/api/sources/{ns}/{name}/plan", get(api::source_plan))
        .route("/api/sources/{ns}/{name}/{action}", post(api::source_action))
        .route("/api/packages", get(api::packages))
        .route("/api/packages/{name}", get(api::package))
        .route("/api/packages/{name}/manifest", post(api::package_manifest))
        .route("/api/packages/{name}/patch", post(api::package_patch))
        .route("/api/installed/{ns}/{name}", get(api::installed))
        .route("/api/live", get(live::live))
        .layer(axum::middleware::from_fn_with_state(ui.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .with_state(ui)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// Refuses requests for a foreign `Host` (`dromos ui`) and cross-origin writes; sets the
/// security headers on every answer.
async fn guard(State(ui): State<Arc<Ui>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
    let refused = if !ui.hosts.is_empty() && !ui.hosts.iter().any(|h| h == &host) {
        Some(ApiError(StatusCode::MISDIRECTED_REQUEST, format!("host {host:?} is not this UI's address")))
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        cross_origin(req.headers(), &host)
    } else {
        None
    };
    let mut res = match refused {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    };
    let h = res.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

/// A write from another origin: an `Origin` naming another host, or `Sec-Fetch-Site` saying
/// cross-site.
fn cross_origin(headers: &HeaderMap, host: &str) -> Option<ApiError> {
    let forbidden = |m: String| Some(ApiError(StatusCode::FORBIDDEN, m));
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let of = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if of != host {
            return forbidden(format!("cross-origin request from {origin}"));
        }
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("cross-site") | Some("same-site") => forbidden("cross-site request".into()),
        _ => None,
    }
}

fn session_cookie(id: &str) -> String {
    format!("{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", auth::COOKIE, auth::SESSION_TTL.as_secs())
}

/// `GET /login?token=`: `dromos ui`'s printed link; sets the session cookie and goes to `/`.
async fn login_local(State(ui): State<Arc<Ui>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let token = q.get("token").map(String::as_str).unwrap_or("");
    match ui.auth.login_local(token) {
        Ok(id) => (StatusCode::SEE_OTHER, [(header::SET_COOKIE, session_cookie(&id)), (header::LOCATION, "/".into())])
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/login` `{"token": "..."}`: a session for a Kubernetes bearer token.
async fn login_token(State(ui): State<Arc<Ui>>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| ApiError(StatusCode::BAD_REQUEST, "body is not JSON".into()))?;
    let token = v["token"].as_str().unwrap_or("").trim();
    let (id, identity) = ui.auth.login_token(&ui.base, token).await?;
    let body = serde_json::json!({"user": identity.display()}).to_string();
    Ok((
        StatusCode::OK,
        [(header::SET_COOKIE, session_cookie(&id)), (header::CONTENT_TYPE, "application/json".into())],
        body,
    )
        .into_response())
}

/// `POST /api/logout`: ends the session.
async fn logout(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Response {
    ui.auth.logout(&headers);
    let expired = format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", auth::COOKIE);
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response()
}

/// Serves the UI on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ui: Arc<Ui>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ui)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_from_other_origins_are_refused() {
        let mut h = HeaderMap::new();
        assert!(cross_origin(&h, "127.0.0.1:8").is_none(), "no Origin: a non-browser client");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8"));
        assert!(cross_origin(&h, "127.0.0.1:8").is_none());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert_eq!(cross_origin(&h, "127.0.0.1:8").map(|e| e.0), Some(StatusCode::FORBIDDEN));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_origin(&h, "127.0.0.1:8").is_some());
    }

    #[test]
    fn api_errors_keep_the_api_servers_status() {
        let forbidden =
            kube::Error::Api(kube::core::Status::failure("apps is forbidden", "Forbidden").with_code(403).boxed());
        let e = ApiError::from(anyhow::Error::new(forbidden).context("annotating App a/b"));
        assert_eq!(e.0, StatusCode::FORBIDDEN);
        assert!(e.1.contains("annotating App a/b"), "{}", e.1);
        assert_eq!(ApiError::from(anyhow::anyhow!("no API")).0, StatusCode::BAD_GATEWAY);
    }
}

//! Who calls the web UI and with which Kubernetes client (I/O: TokenReviews).
//!
//! * `dromos ui` (local): the browser signs in once with the one-time token printed in the URL;
//!   the session cookie then stands for the user of the kubeconfig, whose client does
//!   everything.
//! * `dromos controller --ui`: a Kubernetes bearer token (an `Authorization` header, or given
//!   once to `POST /api/login`, which keeps it in a server-side session), resolved to a user
//!   and groups by a TokenReview; or, with `--ui-proxy-user-header`, the user (and groups)
//!   named by an authenticating proxy in front of the controller. Every read and action then
//!   impersonates that user with the controller's own credentials, so RBAC decides.
//!
//! Actions need a CSRF token whenever the browser authenticates implicitly (a session cookie,
//! or a proxy's cookie): the session's random token, or for a proxy's user an HMAC of the
//! user under a key of this process.

use super::ApiError;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use hmac::{Hmac, Mac};
use k8s_openapi::api::authentication::v1::TokenReview;
use kube::Client;
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const COOKIE: &str = "dromos-ui";
/// Header carrying the CSRF token of an action.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Lifetime of a session.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// How long a TokenReview's answer is reused for the same token.
pub const REVIEW_TTL: Duration = Duration::from_secs(60);
/// Sessions kept at once; a login beyond them is refused until some expire.
pub const MAX_SESSIONS: usize = 10_000;
/// Longest bearer token accepted.
pub const MAX_TOKEN: usize = 16 * 1024;

/// How the UI authenticates its callers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// `dromos ui`: the kubeconfig's user; the browser signs in with `login_token`.
    Local {
        /// The one-time token of the printed URL (usable until the process ends).
        login_token: String,
    },
    /// `dromos controller --ui`: bearer tokens, or a trusted proxy's headers.
    Cluster {
        /// Headers of an authenticating proxy, when one is trusted.
        proxy: Option<ProxyHeaders>,
    },
}

/// Headers an authenticating proxy sets (for example oauth2-proxy's `X-Forwarded-User` and
/// `X-Forwarded-Groups`).
#[derive(Clone, Debug)]
pub struct ProxyHeaders {
    /// Header naming the user.
    pub user: String,
    /// Header with the groups, comma-separated (repeated headers are joined).
    pub groups: Option<String>,
}

/// A user as Kubernetes knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The kubeconfig's user (`dromos ui`).
    Local,
    /// A user to impersonate.
    User {
        /// User name.
        name: String,
        /// Groups.
        groups: Vec<String>,
    },
}

impl Identity {
    /// The name shown in the UI.
    pub fn display(&self) -> String {
        match self {
            Identity::Local => "kubeconfig user".into(),
            Identity::User { name, .. } => name.clone(),
        }
    }
}

/// What a browser session stands for.
#[derive(Clone, Debug)]
enum Credential {
    Local,
    Token(String),
}

#[derive(Clone, Debug)]
struct Session {
    credential: Credential,
    csrf: String,
    expires: Instant,
}

/// A caller resolved from a request.
#[allow(missing_debug_implementations)] // kube::Client has no Debug
pub struct Caller {
    /// Who.
    pub identity: Identity,
    /// The CSRF token actions must carry; `None` when the request authenticates explicitly
    /// (an `Authorization` header, which a browser never adds by itself).
    pub csrf: Option<String>,
    /// The client acting as the caller.
    pub client: Client,
}

/// Sessions, reviewed tokens and the CSRF key.
#[derive(Debug)]
pub struct Auth {
    /// The mode.
    pub mode: Mode,
    sessions: Mutex<HashMap<String, Session>>,
    reviews: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
    key: [u8; 32],
}

/// `n` random bytes as hex (OpenSSL's CSPRNG).
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).expect("the system random generator works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality without an early exit on the first differing byte.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `base` sending every request as `user` in `groups` (`Impersonate-User` and
/// `Impersonate-Group` headers); same connection pool and credentials. `None` when a name is
/// not a valid header value.
pub fn impersonating(base: &Client, user: &str, groups: &[String]) -> Option<Client> {
    let user = HeaderValue::from_str(user).ok()?;
    let groups: Vec<HeaderValue> = groups.iter().map(|g| HeaderValue::from_str(g).ok()).collect::<Option<_>>()?;
    let namespace = base.default_namespace().to_string();
    let base = base.clone();
    let service = tower::service_fn(move |mut req: http::Request<kube::client::Body>| {
        let h = req.headers_mut();
        h.insert("impersonate-user", user.clone());
        for g in &groups {
            h.append("impersonate-group", g.clone());
        }
        let inner = base.clone();
        async move { inner.send(req).await }
    });
    Some(Client::new(service, namespace))
}

impl Auth {
    /// A fresh store for `mode`.
    pub fn new(mode: Mode) -> Self {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key).expect("the system random generator works");
        Self { mode, sessions: Mutex::default(), reviews: Mutex::default(), key }
    }

    /// Whether the UI runs locally (`dromos ui`).
    pub fn local(&self) -> bool {
        matches!(self.mode, Mode::Local { .. })
    }

    fn new_session(&self, credential: Credential) -> Result<(String, String), ApiError> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "too many sessions; retry later".into()));
        }
        let id = random_hex(32);
        let csrf = random_hex(32);
        sessions.insert(id.clone(), Session { credential, csrf: csrf.clone(), expires: now + SESSION_TTL });
        Ok((id, csrf))
    }

    /// `GET /login?token=` of `dromos ui`: a session for the kubeconfig's user when `token` is
    /// the printed one. Returns the session id.
    pub fn login_local(&self, token: &str) -> Result<String, ApiError> {
        match &self.mode {
            Mode::Local { login_token } if same(token, login_token) => Ok(self.new_session(Credential::Local)?.0),
            _ => Err(ApiError(StatusCode::UNAUTHORIZED, "wrong or expired login link".into())),
        }
    }

    /// `POST /api/login` of the controller: a session for the bearer token once a TokenReview
    /// accepts it. Returns the session id and the identity.
    pub async fn login_token(&self, base: &Client, token: &str) -> Result<(String, Identity), ApiError> {
        if self.local() {
            return Err(ApiError(StatusCode::NOT_FOUND, "`dromos ui` signs in with its printed link".into()));
        }
        let identity = self.review(base, token).await?;
        let (id, _) = self.new_session(Credential::Token(token.to_string()))?;
        Ok((id, identity))
    }

    /// Ends the session of the request's cookie.
    pub fn logout(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        }
    }

    /// The user a bearer token belongs to, from a TokenReview (cached for [`REVIEW_TTL`]).
    async fn review(&self, base: &Client, token: &str) -> Result<Identity, ApiError> {
        let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_string());
        if token.is_empty() || token.len() > MAX_TOKEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unauthorized("not a bearer token"));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        {
            let mut reviews = self.reviews.lock().unwrap_or_else(|e| e.into_inner());
            reviews.retain(|_, (_, at)| now.duration_since(*at) < REVIEW_TTL);
            if let Some((identity, _)) = reviews.get(&digest) {
                return Ok(identity.clone());
            }
        }
        let review: TokenReview = serde_json::from_value(serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}
        }))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let answer =
            Api::<TokenReview>::all(base.clone()).create(&PostParams::default(), &review).await.map_err(|e| {
                tracing::warn!("TokenReview failed: {e}");
                ApiError(StatusCode::BAD_GATEWAY, "the API server did not review the token".into())
            })?;
        let status = answer.status.unwrap_or_default();
        let user = status.user.filter(|_| status.authenticated == Some(true));
        let Some(user) = user.filter(|u| u.username.as_deref().is_some_and(|n| !n.is_empty())) else {
            return Err(unauthorized("the API server does not accept this token"));
        };
        let identity =
            Identity::User { name: user.username.unwrap_or_default(), groups: user.groups.unwrap_or_default() };
        let mut reviews = self.reviews.lock().unwrap_or_else(|e| e.into_inner());
        if reviews.len() < MAX_SESSIONS {
            reviews.insert(digest, (identity.clone(), now));
        }
        Ok(identity)
    }

    fn client_of(&self, base: &Client, identity: &Identity) -> Result<Client, ApiError> {
        match identity {
            Identity::Local => Ok(base.clone()),
            Identity::User { name, groups } => impersonating(base, name, groups)
                .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "user or group is not a valid header value".into())),
        }
    }

    /// The CSRF token of a proxy's user: an HMAC of the user and groups under this process's
    /// key (stateless; a new process issues new ones).
    fn proxy_csrf(&self, name: &str, groups: &[String]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(name.as_bytes());
        mac.update(b"\n");
        mac.update(groups.join(",").as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Resolves the caller of a request: proxy headers (when trusted), else an
    /// `Authorization: Bearer` header, else the session cookie. 401 when none.
    pub async fn caller(&self, base: &Client, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_string());
        if let Mode::Cluster { proxy: Some(p) } = &self.mode {
            let name = headers
                .get(&p.user)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|n| !n.is_empty() && n.len() <= 256)
                .ok_or_else(|| unauthorized("no user header from the authenticating proxy"))?;
            let mut groups: Vec<String> = match &p.groups {
                Some(h) => headers
                    .get_all(h)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .map(|g| g.trim().to_string())
                    .filter(|g| !g.is_empty())
                    .take(256)
                    .collect(),
                None => vec![],
            };
            groups.sort();
            groups.dedup();
            let identity = Identity::User { name: name.to_string(), groups: groups.clone() };
            let client = self.client_of(base, &identity)?;
            return Ok(Caller { csrf: Some(self.proxy_csrf(name, &groups)), identity, client });
        }
        if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
            if self.local() {
                return Err(unauthorized("`dromos ui` takes no Authorization header; open its printed link"));
            }
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .ok_or_else(|| unauthorized("Authorization is not a bearer token"))?;
            let identity = self.review(base, token.trim()).await?;
            let client = self.client_of(base, &identity)?;
            return Ok(Caller { identity, csrf: None, client });
        }
        let id = cookie(headers, COOKIE).ok_or_else(|| unauthorized("not signed in"))?;
        let session = {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.get(id).filter(|s| s.expires > Instant::now()).cloned()
        };
        let session = session.ok_or_else(|| unauthorized("the session expired; sign in again"))?;
        let identity = match &session.credential {
            Credential::Local => Identity::Local,
            Credential::Token(t) => self.review(base, t).await?,
        };
        let client = self.client_of(base, &identity)?;
        Ok(Caller { identity, csrf: Some(session.csrf), client })
    }
}

impl Caller {
    /// Refuses an action whose CSRF token is missing or wrong (when one is needed).
    pub fn check_csrf(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(want) = &self.csrf else { return Ok(()) };
        let got = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if same(got, want) {
            Ok(())
        } else {
            Err(ApiError(StatusCode::FORBIDDEN, "missing or wrong CSRF token".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, HeaderValue::from_static("a=1; dromos-ui=abc; b=2"));
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn equality_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
    }

    #[test]
    fn local_login_needs_the_printed_token() {
        let auth = Auth::new(Mode::Local { login_token: "t0k".into() });
        assert!(auth.login_local("t0k").is_ok());
        assert_eq!(auth.login_local("t0x").unwrap_err().0, StatusCode::UNAUTHORIZED);
        assert_eq!(auth.login_local("").unwrap_err().0, StatusCode::UNAUTHORIZED);
        let cluster = Auth::new(Mode::Cluster { proxy: None });
        assert!(cluster.login_local("t0k").is_err(), "the controller has no login link");
    }

    fn offline_client() -> Client {
        Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().expect("url"))).expect("client")
    }

    #[tokio::test]
    async fn a_trusted_proxy_names_the_user_and_groups_and_actions_need_its_csrf_token() {
        let proxy = ProxyHeaders { user: "x-forwarded-user".into(), groups: Some("x-forwarded-groups".into()) };
        let auth = Auth::new(Mode::Cluster { proxy: Some(proxy) });
        let base = offline_client();
        let mut h = HeaderMap::new();
        assert_eq!(auth.caller(&base, &h).await.err().map(|e| e.0), Some(StatusCode::UNAUTHORIZED));
        h.insert("x-forwarded-user", HeaderValue::from_static("alice"));
        h.insert("x-forwarded-groups", HeaderValue::from_static("ops, dev,ops"));
        let c = auth.caller(&base, &h).await.expect("a caller");
        assert_eq!(c.identity, Identity::User { name: "alice".into(), groups: vec!["dev".into(), "ops".into()] });
        assert_eq!(c.check_csrf(&h).err().map(|e| e.0), Some(StatusCode::FORBIDDEN), "no token");
        let token = c.csrf.clone().expect("a CSRF token");
        h.insert(CSRF_HEADER, HeaderValue::from_str(&token).expect("header"));
        assert!(c.check_csrf(&h).is_ok());
        h.insert("x-forwarded-user", HeaderValue::from_static("bob"));
        let bob = auth.caller(&base, &h).await.expect("a caller");
        assert!(bob.check_csrf(&h).is_err(), "alice's token is not bob's");
    }

    #[tokio::test]
    async fn callers_without_credentials_are_refused() {
        let base = offline_client();
        let local = Auth::new(Mode::Local { login_token: "t".into() });
        let mut h = HeaderMap::new();
        assert_eq!(local.caller(&base, &h).await.err().map(|e| e.0), Some(StatusCode::UNAUTHORIZED));
        h.insert(axum::http::header::COOKIE, HeaderValue::from_static("dromos-ui=forged"));
        assert_eq!(local.caller(&base, &h).await.err().map(|e| e.0), Some(StatusCode::UNAUTHORIZED));
        let id = local.login_local("t").expect("session");
        h.insert(axum::http::header::COOKIE, HeaderValue::from_str(&format!("dromos-ui={id}")).expect("header"));
        let c = local.caller(&base, &h).await.expect("the session's caller");
        assert_eq!(c.identity, Identity::Local);
        local.logout(&h);
        assert!(local.caller(&base, &h).await.is_err(), "logged out");
        let mut bearer = HeaderMap::new();
        bearer.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(local.caller(&base, &bearer).await.is_err(), "dromos ui takes no bearer token");
        let cluster = Auth::new(Mode::Cluster { proxy: None });
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN + 1));
        bearer.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(&huge).expect("header"));
        assert_eq!(cluster.caller(&base, &bearer).await.err().map(|e| e.0), Some(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn proxy_csrf_tokens_depend_on_the_user() {
        let auth = Auth::new(Mode::Cluster { proxy: None });
        let a = auth.proxy_csrf("alice", &[]);
        assert_eq!(a, auth.proxy_csrf("alice", &[]));
        assert_ne!(a, auth.proxy_csrf("bob", &[]));
        assert_ne!(a, auth.proxy_csrf("alice", &["admins".into()]));
    }
}

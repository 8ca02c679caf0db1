//! A fault-injecting proxy in front of the test API server, for the fault-injection suite
//! (tests/tests/faults.rs).
//!
//! The code under test gets a client for `http://127.0.0.1:<port>` ([`FaultProxy::client`]);
//! the proxy forwards every request through the admin client of the test cluster (TLS and
//! credentials are the upstream client's; impersonation headers pass through) and, depending
//! on the [`Fault`] set at the moment, answers instead with an API error, holds the request, or
//! delays it. Watches (`watch=true`) can be cut mid-stream: [`FaultProxy::cut_watches`] ends
//! every open one with a transport error, [`FaultProxy::watch_lifetime`] ends each after a
//! fixed time, as a load balancer with an idle timeout does.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use kube::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// What the proxy does to the requests it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Every `every`-th request (watches too) is answered with the next of `statuses` in turn
    /// (429 carries `Retry-After: 1`); the others are forwarded.
    Errors { every: u64, statuses: Vec<u16> },
    /// Forward every request after holding it this long.
    Slow(Duration),
    /// Hold every new request until the fault changes, then answer 503: an API server that
    /// accepts connections and stops answering.
    Blackhole,
    /// Watches and metadata-only lists (what informers and watchers send) are answered 503;
    /// other requests pass. With [`FaultProxy::expire_watches`], watchers must re-list and
    /// cannot until the outage ends: whatever changed meanwhile is seen only in that list.
    WatchOutage,
}

struct Shared {
    upstream: Client,
    fault: watch::Sender<Fault>,
    requests: AtomicU64,
    injected: AtomicU64,
    watches_cut: AtomicU64,
    /// (generation, end with a 410 event instead of a transport error)
    cut: watch::Sender<(u64, bool)>,
    watch_lifetime: Mutex<Option<Duration>>,
}

/// The proxy; it stops when dropped.
#[allow(missing_debug_implementations)]
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: Client) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let shared = Arc::new(Shared {
            upstream,
            fault: watch::channel(Fault::Pass).0,
            requests: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            watches_cut: AtomicU64::new(0),
            cut: watch::channel((0, false)).0,
            watch_lifetime: Mutex::new(None),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    /// A client that talks to the API server through this proxy.
    pub fn client(&self) -> Client {
        let config = kube::Config::new(self.url.parse().expect("proxy URL"));
        Client::try_from(config).expect("a client for the fault proxy")
    }

    /// Sets what happens to requests from now on.
    pub fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// Ends every open watch now, with a transport error.
    pub fn cut_watches(&self) {
        self.shared.cut.send_modify(|(g, expire)| (*g, *expire) = (*g + 1, false));
    }

    /// Ends every open watch now with a `410 Gone` error event, as an API server does when a
    /// watch's resourceVersion was compacted: the watcher has to list again.
    pub fn expire_watches(&self) {
        self.shared.cut.send_modify(|(g, expire)| (*g, *expire) = (*g + 1, true));
    }

    /// Ends every watch opened from now on after `lifetime` (None: never).
    pub fn watch_lifetime(&self, lifetime: Option<Duration>) {
        *self.shared.watch_lifetime.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = lifetime;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests answered with an injected error so far.
    pub fn injected(&self) -> u64 {
        self.shared.injected.load(Ordering::SeqCst)
    }

    /// Watches cut so far.
    pub fn watches_cut(&self) -> u64 {
        self.shared.watches_cut.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The event an API server sends on a watch whose resourceVersion is too old.
const GONE_EVENT: &[u8] = br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version (injected by the fault proxy)","reason":"Expired","code":410}}
"#;

fn is_watch(req: &Request) -> bool {
    req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"))
}

/// A list of metadata only (`as=PartialObjectMetadataList`), as watchers of many kinds send.
fn is_metadata_list(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadataList"))
}

fn status(code: u16, reason: &str) -> Response {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("injected by the fault proxy: {code}"), "reason": reason, "code": code,
    });
    let mut r =
        (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if code == 429 {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let fault = s.fault.borrow().clone();
    match fault {
        Fault::Pass => {}
        Fault::Errors { every, statuses } => {
            if every > 0 && n.is_multiple_of(every) && !statuses.is_empty() {
                let i = s.injected.fetch_add(1, Ordering::SeqCst) as usize;
                let code = statuses[i % statuses.len()];
                let reason = if code == 429 { "TooManyRequests" } else { "InternalError" };
                return status(code, reason);
            }
        }
        Fault::Slow(d) => tokio::time::sleep(d).await,
        Fault::WatchOutage if is_watch(&req) || is_metadata_list(&req) => {
            s.injected.fetch_add(1, Ordering::SeqCst);
            return status(503, "ServiceUnavailable");
        }
        Fault::WatchOutage => {}
        Fault::Blackhole => {
            let mut changes = s.fault.subscribe();
            let _ = changes.wait_for(|f| *f != Fault::Blackhole).await;
            s.injected.fetch_add(1, Ordering::SeqCst);
            return status(503, "ServiceUnavailable");
        }
    }
    let watching = is_watch(&req);
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return status(400, "BadRequest");
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let mut out = axum::http::Request::builder().method(parts.method).uri(path);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding" | "authorization" | "te" | "upgrade"
        ) {
            out = out.header(name, value);
        }
    }
    let Ok(out) = out.body(kube::client::Body::from(bytes.to_vec())) else {
        return status(400, "BadRequest");
    };
    let resp = match s.upstream.send(out).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("fault proxy: upstream: {e}")).into_response(),
    };
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.remove(header::CONNECTION);
    if !watching {
        return Response::from_parts(parts, Body::new(body));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    // A watch ends with an error when cut, or when its lifetime is over.
    let lifetime = *s.watch_lifetime.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut cut = s.cut.subscribe();
    cut.mark_unchanged();
    let shared = s.clone();
    // 0: not cut, 1: cut (transport error), 2: expired (410 event)
    let was_cut = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let flag = was_cut.clone();
    let ended = async move {
        let expire = async {
            match lifetime {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let how = tokio::select! {
            _ = cut.changed() => if cut.borrow().1 { 2 } else { 1 },
            () = expire => 1,
        };
        flag.store(how, Ordering::SeqCst);
        shared.watches_cut.fetch_add(1, Ordering::SeqCst);
    };
    let events = Body::new(body).into_data_stream().map(|r| r.map_err(std::io::Error::other));
    let tail = futures::stream::once(async move { was_cut.load(Ordering::SeqCst) }).filter_map(|how| async move {
        match how {
            1 => Some(Err::<Bytes, std::io::Error>(std::io::Error::other("the fault proxy cut this watch"))),
            2 => Some(Ok(Bytes::from_static(GONE_EVENT))),
            _ => None,
        }
    });
    Response::from_parts(parts, Body::from_stream(events.take_until(Box::pin(ended)).chain(tail)))
}

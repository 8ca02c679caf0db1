//! Live updates of the web UI (I/O: Kubernetes watches, server-sent events).
//!
//! One set of metadata watches per process (Apps, Jobs, GitSources, Packages, Offers, Pods of
//! Apps) turns every change into a [`Notice`]: which kind changed in which namespace, never
//! what changed. Each browser's event stream forwards the notices of namespaces its user may
//! read (coalesced over [`COALESCE`]); the page then reloads what it shows through the API,
//! as that user. A notice reveals only that something changed in a namespace the user can
//! already read.

use super::{ApiError, Ui};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use dromos_crds::{App, GitSource, Job, Offer, Package};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Notices gathered before one event is sent.
pub const COALESCE: Duration = Duration::from_millis(250);
/// How often a stream re-reads which namespaces its user may read.
pub const VISIBLE_REFRESH: Duration = Duration::from_secs(60);

/// A change of some object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// `App`, `Job`, `GitSource`, `Package`, `Offer` or `Pod`.
    pub kind: &'static str,
    /// Its namespace (`None`: cluster-scoped, or a relist of every namespace).
    pub namespace: Option<String>,
}

/// Starts the watches, across all namespaces or (a controller confined with `--namespace`) in
/// each of `namespaces`, where Offers, cluster-scoped, are not watched. They run (retrying with
/// backoff) as long as the process.
pub fn start(client: Client, tx: broadcast::Sender<Notice>, namespaces: Option<Vec<String>>) {
    let scopes: Vec<Option<String>> = match &namespaces {
        Some(list) => list.iter().cloned().map(Some).collect(),
        None => vec![None],
    };
    for ns in scopes {
        let ns = ns.as_deref();
        spawn_watch::<App>(&client, ns, "App", tx.clone(), None);
        spawn_watch::<Job>(&client, ns, "Job", tx.clone(), None);
        spawn_watch::<GitSource>(&client, ns, "GitSource", tx.clone(), None);
        spawn_watch::<Package>(&client, ns, "Package", tx.clone(), None);
        spawn_watch::<Pod>(&client, ns, "Pod", tx.clone(), Some(dromos_core::translate::APP_LABEL));
    }
    if namespaces.is_none() {
        let api: Api<PartialObjectMeta<Offer>> = Api::all(client);
        spawn(api, "Offer", tx, watcher::Config::default());
    }
}

fn spawn_watch<K>(
    client: &Client,
    namespace: Option<&str>,
    kind: &'static str,
    tx: broadcast::Sender<Notice>,
    label: Option<&str>,
) where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api: Api<PartialObjectMeta<K>> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let config = match label {
        Some(l) => watcher::Config::default().labels(l),
        None => watcher::Config::default(),
    };
    spawn(api, kind, tx, config);
}

fn spawn<K>(api: Api<PartialObjectMeta<K>>, kind: &'static str, tx: broadcast::Sender<Notice>, config: watcher::Config)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
        while let Some(ev) = events.next().await {
            let namespace = match ev {
                Ok(watcher::Event::Apply(o) | watcher::Event::Delete(o)) => o.namespace(),
                Ok(watcher::Event::InitDone) => None,
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!("UI watch of {kind}: {e}");
                    continue;
                }
            };
            let _ = tx.send(Notice { kind, namespace });
        }
    });
}

/// Namespaces a user may read Apps in: `None` for all of them.
pub async fn visible_namespaces(ui: &Ui, client: &Client) -> Option<HashSet<String>> {
    let one = ListParams::default().limit(1);
    if Api::<App>::all(client.clone()).list_metadata(&one).await.is_ok() {
        return None;
    }
    let mut out = HashSet::new();
    for ns in ui.namespaces().await {
        if Api::<App>::namespaced(client.clone(), &ns).list_metadata(&one).await.is_ok() {
            out.insert(ns);
        }
    }
    Some(out)
}

struct Stream {
    ui: Arc<Ui>,
    client: Client,
    rx: broadcast::Receiver<Notice>,
    visible: Option<HashSet<String>>,
    offers: bool,
    checked: tokio::time::Instant,
}

impl Stream {
    fn shows(&self, n: &Notice) -> bool {
        match (&n.namespace, n.kind) {
            (_, "Offer") => self.offers,
            (None, _) => true,
            (Some(ns), _) => self.visible.as_ref().is_none_or(|v| v.contains(ns)),
        }
    }

    /// The kinds of the next batch of notices this user may see.
    async fn next_batch(&mut self) -> Option<BTreeSet<&'static str>> {
        loop {
            if self.checked.elapsed() > VISIBLE_REFRESH {
                self.visible = visible_namespaces(&self.ui, &self.client).await;
                self.checked = tokio::time::Instant::now();
            }
            let mut kinds = BTreeSet::new();
            match self.rx.recv().await {
                Ok(n) if self.shows(&n) => {
                    kinds.insert(n.kind);
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    kinds.extend(["App", "Job", "GitSource", "Package", "Offer", "Pod"]);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
            let until = tokio::time::Instant::now() + COALESCE;
            while let Ok(r) = tokio::time::timeout_at(until, self.rx.recv()).await {
                match r {
                    Ok(n) if self.shows(&n) => {
                        kinds.insert(n.kind);
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            return Some(kinds);
        }
    }
}

/// `GET /api/live`: a `change` event naming the kinds changed, as server-sent events.
pub async fn live(
    State(ui): State<Arc<Ui>>,
    headers: HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let caller = ui.auth.caller(&ui.base, &headers).await?;
    let visible = visible_namespaces(&ui, &caller.client).await;
    let offers = Api::<Offer>::all(caller.client.clone()).list_metadata(&ListParams::default().limit(1)).await.is_ok();
    let state = Stream {
        rx: ui.live.subscribe(),
        ui: ui.clone(),
        client: caller.client,
        visible,
        offers,
        checked: tokio::time::Instant::now(),
    };
    let hello = futures::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let changes = futures::stream::unfold(state, |mut s| async move {
        let kinds = s.next_batch().await?;
        let data = serde_json::json!({"kinds": kinds}).to_string();
        Some((Ok(Event::default().event("change").data(data)), s))
    });
    Ok(Sse::new(hello.chain(changes)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

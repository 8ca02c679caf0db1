//! The namespaces the controller may act in (`dromos controller --namespace NS`, repeatable), and
//! watches confined to them (I/O: builds watch streams; the merge of several streams is pure
//! stream logic, tested below without a cluster).
//!
//! Cluster mode (`Scope::All`) lists and watches across namespaces. In namespaced mode the
//! controller holds Roles in its namespaces only, so every list and watch is made once per
//! namespace and merged into one stream that a single reflector store can consume: the merged
//! stream announces one `Init` ... `InitDone` when every namespace has been listed, and turns a
//! later re-list of one namespace into `Apply`/`Delete` events, so a re-list of one namespace
//! never drops the objects of the others from the store.

use futures::stream::{self, BoxStream, StreamExt};
use kube::api::Api;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::collections::{BTreeSet, HashMap};

/// Where the controller acts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace, and cluster-scoped objects (cluster mode).
    #[default]
    All,
    /// Only these namespaces (never empty); cluster-scoped objects are out of scope.
    Namespaces(BTreeSet<String>),
}

impl Scope {
    /// The scope of `--namespace` values: all namespaces when none is given.
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(namespaces: I) -> Scope {
        let set: BTreeSet<String> = namespaces.into_iter().map(Into::into).filter(|n| !n.is_empty()).collect();
        if set.is_empty() { Scope::All } else { Scope::Namespaces(set) }
    }

    /// One namespace.
    pub fn namespace(ns: impl Into<String>) -> Scope {
        Scope::of([ns.into()])
    }

    /// The namespaces, or `None` in cluster mode.
    pub fn namespaces(&self) -> Option<&BTreeSet<String>> {
        match self {
            Scope::All => None,
            Scope::Namespaces(s) => Some(s),
        }
    }

    /// Whether an object in `namespace` (`None`: cluster-scoped) is in scope.
    pub fn contains(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (Scope::All, _) => true,
            (Scope::Namespaces(s), Some(ns)) => s.contains(ns),
            (Scope::Namespaces(_), None) => false,
        }
    }

    /// Why an object is out of scope, or `None` when it is in scope.
    pub fn refusal(&self, namespace: Option<&str>) -> Option<String> {
        let set = self.namespaces()?;
        let list = set.iter().cloned().collect::<Vec<_>>().join(", ");
        match namespace {
            Some(ns) if set.contains(ns) => None,
            Some(ns) => Some(format!(
                "namespace {ns} is outside the controller's namespaces ({list}); start the controller with --namespace {ns} (chart value watchNamespaces) or move the object"
            )),
            None => Some(format!(
                "cluster-scoped objects cannot be applied by a controller confined to namespaces ({list}); apply them as a cluster administrator or run the controller in cluster mode"
            )),
        }
    }

    /// One `Api` per namespace in scope, or one across all namespaces; `make` builds an `Api`
    /// for a namespace (`None`: all namespaces).
    pub fn apis<K>(&self, make: impl Fn(Option<&str>) -> Api<K>) -> Vec<Api<K>> {
        match self {
            Scope::All => vec![make(None)],
            Scope::Namespaces(s) => s.iter().map(|ns| make(Some(ns))).collect(),
        }
    }

    /// Typed `Api`s of a namespaced kind in scope.
    pub fn typed<K>(&self, client: &Client) -> Vec<Api<K>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        self.apis(|ns| match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        })
    }

    /// A watch of a namespaced kind confined to the scope, ready for a reflector.
    pub fn watcher<K>(&self, client: &Client, config: watcher::Config) -> BoxStream<'static, WatchItem<K>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
        K::DynamicType: Default,
    {
        watch_all(self.typed(client), config)
    }
}

/// One item of a watch stream.
pub type WatchItem<K> = Result<watcher::Event<K>, watcher::Error>;

/// Watches every `Api` and merges the streams (see the module docs); one `Api` is watched as is.
pub fn watch_all<K>(apis: Vec<Api<K>>, config: watcher::Config) -> BoxStream<'static, WatchItem<K>>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut streams: Vec<BoxStream<'static, WatchItem<K>>> =
        apis.into_iter().map(|api| watcher(api, config.clone()).boxed()).collect();
    if streams.len() == 1 {
        return streams.pop().expect("one stream");
    }
    merge(streams)
}

type Key = (Option<String>, String);

fn key_of<K: ResourceExt>(o: &K) -> Key {
    (o.namespace(), o.name_any())
}

/// Per-stream state of [`merge`].
struct Part<K> {
    /// Listed and watched objects, once the first list is done.
    known: HashMap<Key, K>,
    /// Objects of a list in progress.
    listing: Option<HashMap<Key, K>>,
    /// The first list is done.
    ready: bool,
}

/// Merges watch streams of disjoint sets of objects (one per namespace) into one stream with the
/// watcher's event protocol. Pure: no I/O beyond polling the given streams.
pub fn merge<K>(streams: Vec<BoxStream<'static, WatchItem<K>>>) -> BoxStream<'static, WatchItem<K>>
where
    K: Resource + Clone + Send + 'static,
{
    let n = streams.len();
    let tagged = stream::select_all(streams.into_iter().enumerate().map(|(i, s)| s.map(move |e| (i, e)).boxed()));
    let parts: Vec<Part<K>> = (0..n).map(|_| Part { known: HashMap::new(), listing: None, ready: false }).collect();
    tagged
        .scan(parts, |parts, (i, item)| {
            let out: Vec<WatchItem<K>> = match item {
                Err(e) => vec![Err(e)],
                Ok(ev) => step(parts, i, ev).into_iter().map(Ok).collect(),
            };
            futures::future::ready(Some(stream::iter(out)))
        })
        .flatten()
        .boxed()
}

/// The merged events for one event of stream `i`.
fn step<K: Resource + Clone>(parts: &mut [Part<K>], i: usize, ev: watcher::Event<K>) -> Vec<watcher::Event<K>> {
    use watcher::Event;
    let all_ready = |parts: &[Part<K>]| parts.iter().all(|p| p.ready);
    match ev {
        Event::Init => {
            parts[i].listing = Some(HashMap::new());
            vec![]
        }
        Event::InitApply(o) => {
            let relist = all_ready(parts);
            parts[i].listing.get_or_insert_with(HashMap::new).insert(key_of(&o), o.clone());
            // Once the merged stream is initialised, a re-listed object is an update.
            if relist { vec![Event::Apply(o)] } else { vec![] }
        }
        Event::InitDone => {
            let was_ready = all_ready(parts);
            let listed = parts[i].listing.take().unwrap_or_default();
            let old = std::mem::replace(&mut parts[i].known, listed);
            parts[i].ready = true;
            if was_ready {
                // A re-list: whatever disappeared meanwhile is deleted.
                old.into_iter()
                    .filter(|(k, _)| !parts[i].known.contains_key(k))
                    .map(|(_, o)| Event::Delete(o))
                    .collect()
            } else if all_ready(parts) {
                // The last first list: hand over everything at once.
                let mut out = vec![Event::Init];
                out.extend(parts.iter().flat_map(|p| p.known.values().cloned()).map(Event::InitApply));
                out.push(Event::InitDone);
                out
            } else {
                vec![]
            }
        }
        Event::Apply(o) => {
            parts[i].known.insert(key_of(&o), o.clone());
            if all_ready(parts) { vec![Event::Apply(o)] } else { vec![] }
        }
        Event::Delete(o) => {
            parts[i].known.remove(&key_of(&o));
            if all_ready(parts) { vec![Event::Delete(o)] } else { vec![] }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector;
    use watcher::Event;

    fn cm(ns: &str, name: &str, v: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.namespace = Some(ns.into());
        c.metadata.name = Some(name.into());
        c.data = Some([("v".to_string(), v.to_string())].into());
        c
    }

    fn names(store: &reflector::Store<ConfigMap>) -> Vec<String> {
        let mut v: Vec<String> = store
            .state()
            .iter()
            .map(|c| format!("{}/{}={}", c.namespace().unwrap(), c.name_any(), c.data.as_ref().unwrap()["v"]))
            .collect();
        v.sort();
        v
    }

    /// Feeds events of streams to [`step`] in the given order and a reflector store with the
    /// merged events; returns the store contents after each input event.
    fn run(inputs: Vec<(usize, Event<ConfigMap>)>) -> Vec<Vec<String>> {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let mut parts: Vec<Part<ConfigMap>> =
            (0..2).map(|_| Part { known: HashMap::new(), listing: None, ready: false }).collect();
        let mut out = vec![];
        for (i, ev) in inputs {
            for e in step(&mut parts, i, ev) {
                writer.apply_watcher_event(&e);
            }
            out.push(names(&store));
        }
        out
    }

    #[test]
    fn scope_membership_and_refusals() {
        assert_eq!(Scope::of(Vec::<String>::new()), Scope::All);
        assert_eq!(Scope::of([""]), Scope::All);
        let s = Scope::of(["shop", "ops", "shop"]);
        assert_eq!(s.namespaces().unwrap().len(), 2);
        assert!(s.contains(Some("shop")) && !s.contains(Some("data")) && !s.contains(None));
        assert!(Scope::All.contains(None) && Scope::All.refusal(Some("x")).is_none());
        assert!(
            s.refusal(Some("data"))
                .unwrap()
                .contains("namespace data is outside the controller's namespaces (ops, shop)")
        );
        assert!(s.refusal(None).unwrap().contains("cluster-scoped"));
        assert_eq!(s.refusal(Some("ops")), None);
    }

    #[test]
    fn merged_watch_initialises_once_every_namespace_is_listed() {
        let states = run(vec![
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x", "1"))),
            (0, Event::InitDone),
            // Stream 0 is ready, stream 1 is not: the store stays empty, updates are kept.
            (0, Event::Apply(cm("a", "x", "2"))),
            (0, Event::Apply(cm("a", "y", "1"))),
            (0, Event::Delete(cm("a", "y", "1"))),
            (1, Event::Init),
            (1, Event::InitApply(cm("b", "z", "1"))),
            (1, Event::InitDone),
        ]);
        assert!(states[..8].iter().all(Vec::is_empty), "{states:?}");
        assert_eq!(states[8], ["a/x=2", "b/z=1"]);
    }

    #[test]
    fn a_relist_of_one_namespace_keeps_the_others_and_deletes_what_vanished() {
        let states = run(vec![
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x", "1"))),
            (0, Event::InitApply(cm("a", "gone", "1"))),
            (0, Event::InitDone),
            (1, Event::Init),
            (1, Event::InitApply(cm("b", "z", "1"))),
            (1, Event::InitDone),
            // Stream 0 re-lists (a watch expired): x changed, `gone` was deleted meanwhile.
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x", "2"))),
            (0, Event::InitDone),
            (1, Event::Apply(cm("b", "w", "1"))),
            (1, Event::Delete(cm("b", "z", "1"))),
        ]);
        assert_eq!(states[6], ["a/gone=1", "a/x=1", "b/z=1"]);
        assert_eq!(states[8], ["a/gone=1", "a/x=2", "b/z=1"], "b stays during a's re-list");
        assert_eq!(states[9], ["a/x=2", "b/z=1"]);
        assert_eq!(states[11], ["a/x=2", "b/w=1"]);
    }
}

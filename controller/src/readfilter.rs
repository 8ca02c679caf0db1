//! Which watch events change what an operator reads (no I/O of its own).
//!
//! A controller that owns objects is woken by every event of every object it owns: for the App
//! operator, each status update the Deployment and PodDisruptionBudget controllers make as
//! instances come up, which the App reads little or nothing of (decision 0057). A [`ReadFilter`]
//! keeps, per object, a fingerprint of what the operator reads of it (a hash, see
//! [`Fingerprint`]) and lets an update through only when that fingerprint changes. Deletions
//! and every object of a (re)list pass as before; a relist forgets the objects it no longer
//! lists, so the filter holds one hash per watched object and no more.
//!
//! The filter sits after the reflector: the watch cache still sees every event.

use kube::Resource;
use kube::runtime::watcher;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

type Key = (Option<String>, String);

fn key<K: Resource>(obj: &K) -> Key {
    (obj.meta().namespace.clone(), obj.meta().name.clone().unwrap_or_default())
}

/// The fingerprints of the objects of one watch, and the function that takes them.
#[derive(Debug)]
pub struct ReadFilter<K> {
    read: fn(&K) -> u64,
    seen: HashMap<Key, u64>,
    /// Objects listed since the last `Init`; at `InitDone` the others are forgotten.
    relisted: Option<HashSet<Key>>,
}

impl<K: Resource> ReadFilter<K> {
    /// A filter fingerprinting each object with `read`.
    pub fn new(read: fn(&K) -> u64) -> Self {
        ReadFilter { read, seen: HashMap::new(), relisted: None }
    }

    /// Whether `event` may change what is read: false only for an update of an object already
    /// seen whose fingerprint is unchanged. Keeps the fingerprints current.
    pub fn wakes(&mut self, event: &watcher::Event<K>) -> bool {
        match event {
            watcher::Event::Apply(obj) => {
                let print = (self.read)(obj);
                self.seen.insert(key(obj), print) != Some(print)
            }
            watcher::Event::Delete(obj) => {
                self.seen.remove(&key(obj));
                true
            }
            watcher::Event::Init => {
                self.relisted = Some(HashSet::new());
                true
            }
            watcher::Event::InitApply(obj) => {
                let k = key(obj);
                if let Some(listed) = self.relisted.as_mut() {
                    listed.insert(k.clone());
                }
                self.seen.insert(k, (self.read)(obj));
                true
            }
            watcher::Event::InitDone => {
                if let Some(listed) = self.relisted.take() {
                    self.seen.retain(|k, _| listed.contains(k));
                }
                true
            }
        }
    }

    /// Objects fingerprinted.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// No object fingerprinted.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// A hash of the parts of an object an operator reads: values are added in their JSON form
/// ([`Fingerprint::json`], no document is built) or by their `Hash` ([`Fingerprint::hash`]).
#[derive(Debug, Default)]
pub struct Fingerprint(DefaultHasher);

struct HashWriter<'a>(&'a mut DefaultHasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Fingerprint {
    /// Adds `value` as JSON (serializing a Kubernetes type cannot fail; if it did, the part
    /// would hash as what was written of it).
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> &mut Self {
        let _ = serde_json::to_writer(HashWriter(&mut self.0), value);
        self.0.write_u8(0xff);
        self
    }

    /// Adds `value` by its `Hash`.
    pub fn hash<T: Hash + ?Sized>(&mut self, value: &T) -> &mut Self {
        value.hash(&mut self.0);
        self
    }

    /// What any operator reads of an object's metadata: identity, generation (a spec change of
    /// a workload), labels, annotations, owners, finalizers and deletion. Not the
    /// resourceVersion or managedFields, which every status update changes.
    pub fn meta(&mut self, m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &mut Self {
        self.hash(&m.uid).hash(&m.generation).json(&m.labels).json(&m.annotations);
        self.json(&m.owner_references).json(&m.finalizers).json(&m.deletion_timestamp)
    }

    /// The hash.
    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn read(s: &Service) -> u64 {
        Fingerprint::default().meta(&s.metadata).json(&s.spec).finish()
    }

    fn svc(name: &str, rv: &str, port: i32, lb: Option<&str>) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv,
                         "managedFields": [{"manager": format!("m{rv}")}]},
            "spec": {"ports": [{"port": port}]},
            "status": {"loadBalancer": {"ingress": lb.map(|ip| vec![serde_json::json!({"ip": ip})])}}
        }))
        .unwrap()
    }

    #[test]
    fn only_changes_of_what_is_read_wake() {
        let mut f = ReadFilter::new(read);
        assert!(f.wakes(&watcher::Event::Apply(svc("a", "1", 80, None))), "a new object wakes");
        assert!(!f.wakes(&watcher::Event::Apply(svc("a", "2", 80, Some("10.0.0.1")))), "status and bookkeeping only");
        assert!(f.wakes(&watcher::Event::Apply(svc("a", "3", 81, Some("10.0.0.1")))), "the spec changed");
        let mut relabeled = svc("a", "4", 81, None);
        relabeled.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
        assert!(f.wakes(&watcher::Event::Apply(relabeled)), "a label changed");
        assert!(f.wakes(&watcher::Event::Delete(svc("a", "5", 81, None))));
        assert!(f.wakes(&watcher::Event::Apply(svc("a", "6", 81, None))), "recreated after a delete");
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn a_relist_wakes_everything_and_forgets_what_it_no_longer_lists() {
        let mut f = ReadFilter::new(read);
        f.wakes(&watcher::Event::Apply(svc("a", "1", 80, None)));
        f.wakes(&watcher::Event::Apply(svc("b", "2", 80, None)));
        assert!(f.wakes(&watcher::Event::Init));
        assert!(f.wakes(&watcher::Event::InitApply(svc("a", "1", 80, None))), "listed objects always pass");
        assert!(f.wakes(&watcher::Event::InitDone));
        assert_eq!(f.len(), 1, "b was not listed again: forgotten");
        assert!(!f.wakes(&watcher::Event::Apply(svc("a", "7", 80, None))));
        let other =
            Service { metadata: ObjectMeta { name: Some("b".into()), ..Default::default() }, ..Default::default() };
        assert!(f.wakes(&watcher::Event::Apply(other)));
    }
}

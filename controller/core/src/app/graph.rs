//! The Apps of a tree related to each other (pure): lookup by id and dependency levels.

use super::{Model, absolute_id};
use crate::ids;
use crate::load::{Manifest, Typed};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One App of a tree.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// Its manifest.
    pub manifest: &'a Manifest,
    /// Its model.
    pub model: Model<'a>,
    /// Its id ([`Model::id`]).
    pub id: String,
}

/// Every App of a tree, found by id: its own and its canonical `/namespace/name`.
#[derive(Clone, Debug)]
pub struct Catalog<'a> {
    /// The Apps, in manifest order.
    pub entries: Vec<Entry<'a>>,
    by_id: BTreeMap<String, usize>,
}

impl<'a> Catalog<'a> {
    /// The Apps among `manifests`. Of two Apps with one id the later one is found (the loader
    /// reports such duplicates).
    pub fn of(manifests: &'a [Manifest]) -> Self {
        let entries: Vec<Entry<'a>> = manifests
            .iter()
            .filter_map(|m| match &m.typed {
                Typed::App(a) => {
                    let model = Model::of_manifest(m, a);
                    Some(Entry { manifest: m, model, id: model.id() })
                }
                _ => None,
            })
            .collect();
        let mut by_id = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_id.insert(e.id.clone(), i);
            by_id.insert(ids::id_of(e.model.namespace, e.model.name), i);
        }
        Self { entries, by_id }
    }

    /// The App with this absolute id (its own or its canonical one).
    pub fn find_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The App a parsed dependency names: by its absolute id, else by the canonical id of the
    /// location it maps to (`/shop/web/frontend` finds `/shop/web-frontend`).
    pub fn resolve(&self, segments: &[String]) -> Option<usize> {
        let loc = ids::location_of(segments);
        let canonical = loc.namespace.as_ref().map(|ns| ids::id_of(ns, &loc.name));
        self.find_id(&absolute_id(segments)).or(canonical.and_then(|c| self.find_id(&c)))
    }
}

type Key = (String, String);

/// Dependency depth of every App (0 = depends on nothing), keyed by (namespace, name). A
/// dependency counts when its absolute id is an App's id; a cycle counts as depth 0 (validation
/// reports it).
pub fn levels(manifests: &[Manifest]) -> HashMap<Key, u32> {
    let catalog = Catalog::of(manifests);
    let mut deps: HashMap<Key, Vec<Key>> = HashMap::new();
    for e in &catalog.entries {
        let targets = e
            .model
            .dependency_ids()
            .into_iter()
            .flatten()
            .filter_map(|segs| catalog.find_id(&absolute_id(&segs)))
            .map(|t| catalog.entries[t].model.key())
            .collect();
        deps.insert(e.model.key(), targets);
    }
    fn depth(k: &Key, deps: &HashMap<Key, Vec<Key>>, memo: &mut HashMap<Key, u32>, guard: &mut BTreeSet<Key>) -> u32 {
        if let Some(d) = memo.get(k) {
            return *d;
        }
        if !guard.insert(k.clone()) {
            return 0; // a cycle; validation reports it
        }
        let d =
            deps.get(k).map(|ts| ts.iter().map(|t| depth(t, deps, memo, guard) + 1).max().unwrap_or(0)).unwrap_or(0);
        guard.remove(k);
        memo.insert(k.clone(), d);
        d
    }
    let mut memo = HashMap::new();
    let keys: Vec<Key> = deps.keys().cloned().collect();
    for k in keys {
        depth(&k, &deps, &mut memo, &mut BTreeSet::new());
    }
    memo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadOptions, SourceFile, load_files};

    fn tree(docs: &[&str]) -> Vec<Manifest> {
        let files: Vec<SourceFile> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| SourceFile { path: format!("{i}.yaml"), bytes: d.as_bytes().to_vec() })
            .collect();
        load_files(&files, &LoadOptions::default()).manifests
    }

    fn app(id: &str, deps: &str) -> String {
        format!("apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {{id: {id}, cmd: x, dependencies: [{deps}]}}\n")
    }

    #[test]
    fn apps_are_found_by_id_and_by_location() {
        let m = tree(&[&app("/shop/web-frontend", ""), &app("/shop/db", "")]);
        let c = Catalog::of(&m);
        assert_eq!(c.find_id("/shop/db"), Some(1));
        let segs: Vec<String> = ["shop", "web", "frontend"].map(String::from).to_vec();
        assert_eq!(c.find_id(&absolute_id(&segs)), None);
        assert_eq!(c.resolve(&segs), Some(0), "a colliding id maps to the same location");
    }

    #[test]
    fn levels_count_the_longest_chain() {
        let m = tree(&[
            &app("/shop/web", "api"),
            &app("/shop/api", "db"),
            &app("/shop/db", ""),
            &app("/ops/a", "b"),
            &app("/ops/b", "a"),
        ]);
        let l = levels(&m);
        let at = |ns: &str, n: &str| l[&(ns.to_string(), n.to_string())];
        assert_eq!((at("shop", "web"), at("shop", "api"), at("shop", "db")), (2, 1, 0));
        let mut cycle = [at("ops", "a"), at("ops", "b")];
        cycle.sort();
        assert_eq!(cycle, [1, 2], "a cycle is cut where the walk re-enters it");
    }
}

//! Sync planning: desired objects against live ones and the inventory (pure).
//!
//! `plan_sync` pairs every desired object with its live twin, decides create / update /
//! unchanged by a semantic subset comparison (what Dromos sets must already be live; fields
//! others set or the API server defaults are ignored), lists prune candidates from the
//! inventory, applies the deletion guard and orders the work in waves: Namespaces, CRDs,
//! everything else, then Apps (and the objects they expand to) by dependency depth.

use crate::render::kind_rank;
use crate::translate::{APP_LABEL, MANAGED_BY};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Label naming the source (`<namespace>.<name>` of a GitSource, `local.<name>` for local
/// sync) that applied an object. Prune only ever considers objects carrying it.
pub const SOURCE_LABEL: &str = "dromos.io/source";

/// Identity of an object. Equality ignores the version: `apps/v1` and `apps/v1beta1` of the
/// same name are one object.
#[derive(Clone, Debug)]
pub struct ObjRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, if namespaced.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// The version-free key of an object: (group, kind, namespace, name).
pub type Key = (String, String, String, String);

impl ObjRef {
    /// Reads the identity of an object.
    pub fn of(v: &Value) -> Option<Self> {
        Some(Self {
            api_version: v["apiVersion"].as_str()?.to_string(),
            kind: v["kind"].as_str()?.to_string(),
            namespace: v["metadata"]["namespace"].as_str().map(str::to_string),
            name: v["metadata"]["name"].as_str()?.to_string(),
        })
    }

    /// API group (`""` for core).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
    }

    /// Version-free key.
    pub fn key(&self) -> Key {
        (self.group().to_string(), self.kind.clone(), self.namespace.clone().unwrap_or_default(), self.name.clone())
    }

    /// Compact inventory form `apiVersion|kind|namespace|name` (namespace empty when cluster-scoped).
    pub fn encode(&self) -> String {
        format!("{}|{}|{}|{}", self.api_version, self.kind, self.namespace.as_deref().unwrap_or(""), self.name)
    }

    /// Parses [`ObjRef::encode`]'s form.
    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.split('|');
        let (av, kind, ns, name) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || av.is_empty() || kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            api_version: av.into(),
            kind: kind.into(),
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: name.into(),
        })
    }

    /// `kind/namespace/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

impl PartialEq for ObjRef {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

/// Adds Dromos's ownership labels to a desired object.
pub fn stamp(obj: &mut Value, source: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let labels = meta.entry("labels").or_insert_with(|| Value::Object(Default::default()));
    if let Some(l) = labels.as_object_mut() {
        l.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
        l.insert(SOURCE_LABEL.into(), source.into());
    }
}

/// What to do with one desired object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Not live yet (or not yet labelled by this source): apply.
    Create,
    /// Live but some field Dromos sets differs: apply.
    Update,
    /// Live and equal on every field Dromos sets: nothing to write.
    Unchanged,
}

/// One desired object and its verdict.
#[derive(Clone, Debug)]
pub struct Step {
    /// Identity.
    pub obj: ObjRef,
    /// Verdict.
    pub action: Action,
    /// Apply wave: 0 Namespaces, 1 CRDs, 2 the rest, 3+n Apps at dependency depth n.
    pub wave: u32,
    /// Unified diff (live -> desired) of the fields Dromos sets, for updates.
    pub diff: Option<String>,
}

/// Verdict of the deletion guard.
#[derive(Clone, Debug, PartialEq)]
pub enum Guard {
    /// Pruning is within bounds (or allowed).
    Ok,
    /// The revision would delete too much of the inventory; nothing is applied.
    Blocked {
        /// Objects that would be deleted.
        deleting: usize,
        /// Objects in the inventory.
        inventory: usize,
        /// The configured bound.
        max_fraction: f64,
    },
}

/// Planning settings of a source.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Delete inventory objects that left the source.
    pub prune: bool,
    /// Largest share of the inventory one revision may delete.
    pub max_delete_fraction: f64,
    /// Ignore the guard.
    pub allow_mass_delete: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self { prune: true, max_delete_fraction: 0.5, allow_mass_delete: false }
    }
}

/// The plan of one revision.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Desired objects in apply order.
    pub steps: Vec<Step>,
    /// Inventory objects no longer desired, in reverse apply order (deleted after a fully
    /// successful apply).
    pub prune: Vec<ObjRef>,
    /// Deletion guard.
    pub guard: Guard,
}

impl Plan {
    /// Number of steps with an action.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }

    /// True when applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.steps.iter().all(|s| s.action == Action::Unchanged) && self.prune.is_empty()
    }
}

/// Dependency depth of every App: one definition, in the App model.
pub use crate::app::levels as app_levels;

fn wave_of(obj: &Value, levels: &HashMap<(String, String), u32>) -> u32 {
    let kind = obj["kind"].as_str().unwrap_or("");
    match kind {
        "Namespace" => return 0,
        "CustomResourceDefinition" => return 1,
        _ => {}
    }
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("").to_string();
    let app = if kind == "App" && obj["apiVersion"] == "dromos.io/v1alpha1" {
        obj["metadata"]["name"].as_str().map(str::to_string)
    } else {
        obj["metadata"]["labels"][APP_LABEL].as_str().map(str::to_string)
    };
    match app.and_then(|a| levels.get(&(ns, a))) {
        Some(l) => 3 + l,
        None => 2,
    }
}

/// Plans one revision. `live` holds the live objects this source labelled, by key.
pub fn plan_sync(
    desired: &[Value],
    live: &HashMap<Key, Value>,
    inventory: &[ObjRef],
    levels: &HashMap<(String, String), u32>,
    opts: &PlanOptions,
) -> Plan {
    let mut steps: Vec<(u32, u8, Key, Step)> = Vec::with_capacity(desired.len());
    let mut wanted: BTreeSet<Key> = BTreeSet::new();
    for d in desired {
        let Some(obj) = ObjRef::of(d) else { continue };
        let key = obj.key();
        wanted.insert(key.clone());
        let (action, diff) = match live.get(&key) {
            None => (Action::Create, None),
            Some(l) if is_subset(d, l) => (Action::Unchanged, None),
            Some(l) => (Action::Update, Some(diff_text(d, l))),
        };
        let rank = kind_rank(&obj.api_version, &obj.kind);
        steps.push((wave_of(d, levels), rank, key, Step { obj, action, wave: 0, diff }));
    }
    steps.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let steps: Vec<Step> = steps.into_iter().map(|(w, _, _, s)| Step { wave: w, ..s }).collect();

    let mut prune: Vec<ObjRef> = Vec::new();
    if opts.prune {
        let mut seen = BTreeSet::new();
        for inv in inventory {
            let k = inv.key();
            if !wanted.contains(&k) && seen.insert(k) {
                prune.push(inv.clone());
            }
        }
        // Delete dependents before what they need: reverse apply order.
        prune.sort_by(|a, b| {
            (kind_rank(&b.api_version, &b.kind), b.key()).cmp(&(kind_rank(&a.api_version, &a.kind), a.key()))
        });
    }
    let inv_len = inventory.len();
    let guard = if !opts.allow_mass_delete
        && inv_len > 0
        && !prune.is_empty()
        && prune.len() as f64 > opts.max_delete_fraction * inv_len as f64
    {
        Guard::Blocked { deleting: prune.len(), inventory: inv_len, max_fraction: opts.max_delete_fraction }
    } else {
        Guard::Ok
    };
    Plan { steps, prune, guard }
}

/// True when every field of `desired` has the same value in `live` (extra live fields, such
/// as defaults and fields of other managers, are ignored). Quantities compare by value
/// (`1024Mi` == `1Gi`), numbers numerically, and an empty list or map equals an absent one.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    if desired["kind"] == "Secret" && desired.get("stringData").is_some() {
        let mut d = desired.clone();
        if let Some(sd) = d.as_object_mut().and_then(|o| o.remove("stringData")) {
            let data =
                d.as_object_mut().expect("object").entry("data").or_insert_with(|| Value::Object(Default::default()));
            if let (Some(data), Some(sd)) = (data.as_object_mut(), sd.as_object()) {
                for (k, v) in sd {
                    data.insert(k.clone(), Value::String(base64(v.as_str().unwrap_or("").as_bytes())));
                }
            }
        }
        return sub(&d, live);
    }
    sub(desired, live)
}

fn sub(d: &Value, l: &Value) -> bool {
    match (d, l) {
        (Value::Object(dm), Value::Object(lm)) => dm.iter().all(|(k, dv)| match lm.get(k) {
            Some(lv) => sub(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Object(dm), Value::Null) => dm.is_empty(),
        (Value::Array(da), Value::Array(la)) => da.len() == la.len() && da.iter().zip(la).all(|(a, b)| sub(a, b)),
        (Value::Array(da), Value::Null) => da.is_empty(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => a == b || quantity_eq(a, b),
        (a, b) => a == b,
    }
}

/// Values the API server omits (Go's `omitempty`): absent live means equal.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
    }
}

/// Parses a Kubernetes quantity into its value (`500m` -> 0.5, `1Gi` -> 1073741824).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    Some(n * mult)
}

fn quantity_eq(a: &str, b: &str) -> bool {
    // Only strings that look like quantities on both sides: `1Gi` vs `1024Mi`.
    match (parse_quantity(a), parse_quantity(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(1.0),
        _ => false,
    }
}

/// Standard base64 with padding (Secret `data` values).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Projects `live` onto the fields present in `desired`, so a diff shows only what Dromos sets.
fn project(desired: &Value, live: &Value) -> Value {
    match (desired, live) {
        (Value::Object(dm), Value::Object(lm)) => {
            let mut out = serde_json::Map::new();
            for (k, dv) in dm {
                if let Some(lv) = lm.get(k) {
                    out.insert(k.clone(), project(dv, lv));
                }
            }
            Value::Object(out)
        }
        (Value::Array(da), Value::Array(la)) if da.len() == la.len() => {
            Value::Array(da.iter().zip(la).map(|(d, l)| project(d, l)).collect())
        }
        // Equal by value (`1Gi` live, `1024Mi` desired): show no change.
        (d, l) if sub(d, l) => d.clone(),
        (_, l) => l.clone(),
    }
}

/// A unified diff (live -> desired) of the fields Dromos sets.
pub fn diff_text(desired: &Value, live: &Value) -> String {
    let before = serde_saphyr::to_string(&project(desired, live)).unwrap_or_default();
    let after = serde_saphyr::to_string(desired).unwrap_or_default();
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(2)
        .header("live", "desired")
        .to_string()
}

/// Objects keyed for [`plan_sync`].
pub fn index_live(objects: impl IntoIterator<Item = Value>) -> HashMap<Key, Value> {
    objects.into_iter().filter_map(|v| Some((ObjRef::of(&v)?.key(), v))).collect()
}

/// The inventory after a sync: every desired object plus prune candidates whose deletion
/// failed (they are retried next time).
pub fn next_inventory(desired: &[Value], failed_deletes: &[ObjRef]) -> Vec<ObjRef> {
    let mut m: BTreeMap<Key, ObjRef> = BTreeMap::new();
    for o in desired.iter().filter_map(ObjRef::of).chain(failed_deletes.iter().cloned()) {
        m.insert(o.key(), o);
    }
    m.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}, "data": data})
    }

    #[test]
    fn inventory_entries_round_trip() {
        let r = ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        assert_eq!(r.encode(), "apps/v1|Deployment|shop|web");
        assert_eq!(ObjRef::decode(&r.encode()), Some(r));
        let ns = ObjRef::decode("v1|Namespace||shop").unwrap();
        assert_eq!(ns.namespace, None);
        assert!(ObjRef::decode("v1|Namespace").is_none());
    }

    #[test]
    fn subset_ignores_live_extras_and_normalises_quantities() {
        let d = json!({"spec": {"containers": [{"name": "m", "env": [{"name": "E", "value": ""}], "resources": {"limits": {"memory": "1024Mi", "cpu": "1000m"}}}], "tolerations": []}});
        let l = json!({"spec": {"containers": [{"name": "m", "image": "x", "env": [{"name": "E"}], "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}}], "dnsPolicy": "ClusterFirst"}});
        assert!(is_subset(&d, &l));
        let l2 =
            json!({"spec": {"containers": [{"name": "m", "resources": {"limits": {"memory": "2Gi", "cpu": "1"}}}]}});
        assert!(!is_subset(&d, &l2));
        assert!(!is_subset(&json!({"a": "1Gi"}), &json!({"a": "foo"})));
    }

    #[test]
    fn secrets_compare_string_data_with_data() {
        let d = json!({"kind": "Secret", "stringData": {"k": "hello"}});
        let l = json!({"kind": "Secret", "data": {"k": "aGVsbG8="}, "type": "Opaque"});
        assert!(is_subset(&d, &l));
        assert!(!is_subset(&d, &json!({"kind": "Secret", "data": {"k": "eA=="}})));
    }

    #[test]
    fn plan_creates_updates_skips_and_prunes() {
        let desired = vec![cm("a", json!({"x": "1"})), cm("b", json!({"x": "2"})), cm("c", json!({"x": "3"}))];
        let live = index_live(vec![cm("b", json!({"x": "2"})), cm("c", json!({"x": "old"})), cm("gone", json!({}))]);
        let inventory: Vec<ObjRef> =
            ["b", "c", "gone"].iter().map(|n| ObjRef::of(&cm(n, json!({}))).unwrap()).collect();
        let p = plan_sync(&desired, &live, &inventory, &HashMap::new(), &PlanOptions::default());
        let got: Vec<(&str, Action)> = p.steps.iter().map(|s| (s.obj.name.as_str(), s.action)).collect();
        assert_eq!(got, vec![("a", Action::Create), ("b", Action::Unchanged), ("c", Action::Update)]);
        let diff = p.steps[2].diff.as_ref().unwrap();
        assert!(diff.contains("-  x: old\n"), "{diff}");
        assert!(diff.contains("+  x: '3'\n") || diff.contains("+  x: \"3\"\n"), "{diff}");
        assert_eq!(p.prune.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), vec!["gone"]);
        assert_eq!(p.guard, Guard::Ok);
        assert!(!p.is_noop());
    }

    #[test]
    fn deletion_guard_blocks_mass_deletes_unless_allowed() {
        let inventory: Vec<ObjRef> = (0..10).map(|i| ObjRef::of(&cm(&format!("c{i}"), json!({}))).unwrap()).collect();
        let desired: Vec<Value> = (0..4).map(|i| cm(&format!("c{i}"), json!({}))).collect();
        let p = plan_sync(&desired, &HashMap::new(), &inventory, &HashMap::new(), &PlanOptions::default());
        assert_eq!(p.guard, Guard::Blocked { deleting: 6, inventory: 10, max_fraction: 0.5 });
        let opts = PlanOptions { allow_mass_delete: true, ..Default::default() };
        assert_eq!(plan_sync(&desired, &HashMap::new(), &inventory, &HashMap::new(), &opts).guard, Guard::Ok);
        let desired: Vec<Value> = (0..5).map(|i| cm(&format!("c{i}"), json!({}))).collect();
        assert_eq!(
            plan_sync(&desired, &HashMap::new(), &inventory, &HashMap::new(), &PlanOptions::default()).guard,
            Guard::Ok
        );
        let opts = PlanOptions { prune: false, ..Default::default() };
        let p = plan_sync(&[], &HashMap::new(), &inventory, &HashMap::new(), &opts);
        assert!(p.prune.is_empty());
    }

    #[test]
    fn waves_put_namespaces_and_crds_first_and_apps_by_dependency_depth() {
        let files: Vec<crate::SourceFile> = [
            ("db.yaml", "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/db, cmd: x}\n"),
            (
                "api.yaml",
                "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/api, cmd: x, dependencies: [db]}\n",
            ),
            (
                "web.yaml",
                "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web, cmd: x, dependencies: [/shop/api]}\n",
            ),
            ("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"),
            ("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n"),
        ]
        .iter()
        .map(|(p, t)| crate::SourceFile { path: p.to_string(), bytes: t.as_bytes().to_vec() })
        .collect();
        let tree = crate::check_tree(&files, &Default::default());
        assert!(tree.is_valid(), "{:?}", tree.diagnostics);
        let levels = app_levels(&tree.manifests);
        assert_eq!(levels[&("shop".to_string(), "web".to_string())], 2);
        let rendered = crate::render::render_manifests(&tree.manifests, &Default::default());
        let p = plan_sync(&rendered.objects, &HashMap::new(), &[], &levels, &PlanOptions::default());
        let order: Vec<String> = p.steps.iter().map(|s| format!("{}:{}/{}", s.wave, s.obj.kind, s.obj.name)).collect();
        assert_eq!(order[0], "0:Namespace/shop");
        assert_eq!(order[1], "2:ConfigMap/c");
        let pos = |s: &str| order.iter().position(|o| o == s).unwrap_or_else(|| panic!("{s} in {order:?}"));
        assert!(pos("3:Deployment/db") < pos("4:App/api"));
        assert!(pos("4:Deployment/api") < pos("5:App/web"));
    }

    #[test]
    fn stamping_adds_ownership_labels() {
        let mut o = cm("a", json!({}));
        stamp(&mut o, "ops.platform");
        assert_eq!(o["metadata"]["labels"][SOURCE_LABEL], "ops.platform");
        assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "dromos");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi"), "aGk=");
    }
}

/// Output formats of a plan report.
pub mod report {
    use super::{Action, Guard, Plan};
    use serde_json::json;
    use std::fmt::Write as _;

    fn verdict(p: &Plan) -> String {
        match &p.guard {
            Guard::Ok => "deletion guard: ok".into(),
            Guard::Blocked { deleting, inventory, max_fraction } => format!(
                "deletion guard: BLOCKED, this revision would delete {deleting} of {inventory} objects (limit {:.0}%); set allowMassDelete to proceed",
                max_fraction * 100.0
            ),
        }
    }

    fn summary(p: &Plan) -> String {
        format!(
            "{} to create, {} to update, {} unchanged, {} to delete",
            p.count(Action::Create),
            p.count(Action::Update),
            p.count(Action::Unchanged),
            p.prune.len()
        )
    }

    /// Terminal text: one line per change, diffs of updates, a summary.
    pub fn text(p: &Plan) -> String {
        let mut out = String::new();
        for s in &p.steps {
            match s.action {
                Action::Create => {
                    let _ = writeln!(out, "+ create {}", s.obj.display());
                }
                Action::Update => {
                    let _ = writeln!(out, "~ update {}", s.obj.display());
                    if let Some(d) = &s.diff {
                        for l in d.lines() {
                            let _ = writeln!(out, "    {l}");
                        }
                    }
                }
                Action::Unchanged => {}
            }
        }
        for o in &p.prune {
            let _ = writeln!(out, "- delete {}", o.display());
        }
        let _ = writeln!(out, "{}\n{}", summary(p), verdict(p));
        out
    }

    /// Markdown for a pull-request comment.
    pub fn markdown(p: &Plan, title: &str) -> String {
        let mut out = format!("### {title}\n\n**{}**\n\n", summary(p));
        if matches!(p.guard, Guard::Blocked { .. }) {
            let _ = writeln!(out, "> :warning: {}\n", verdict(p));
        }
        let changes: Vec<_> = p.steps.iter().filter(|s| s.action != Action::Unchanged).collect();
        if !changes.is_empty() || !p.prune.is_empty() {
            out.push_str("| action | kind | namespace | name |\n|---|---|---|---|\n");
            for s in &changes {
                let a = if s.action == Action::Create { "create" } else { "update" };
                let _ = writeln!(
                    out,
                    "| {a} | {} | {} | {} |",
                    s.obj.kind,
                    s.obj.namespace.as_deref().unwrap_or(""),
                    s.obj.name
                );
            }
            for o in &p.prune {
                let _ =
                    writeln!(out, "| delete | {} | {} | {} |", o.kind, o.namespace.as_deref().unwrap_or(""), o.name);
            }
        }
        for s in changes.iter().filter(|s| s.diff.is_some()) {
            let _ = write!(
                out,
                "\n<details><summary>{}</summary>\n\n```diff\n{}```\n</details>\n",
                s.obj.display(),
                s.diff.as_deref().unwrap_or("")
            );
        }
        out
    }

    /// Machine-readable report.
    pub fn json(p: &Plan) -> serde_json::Value {
        let step = |s: &super::Step| {
            json!({"action": match s.action { Action::Create => "create", Action::Update => "update", Action::Unchanged => "unchanged" },
                   "apiVersion": s.obj.api_version, "kind": s.obj.kind, "namespace": s.obj.namespace, "name": s.obj.name,
                   "wave": s.wave, "diff": s.diff})
        };
        json!({
            "summary": {"create": p.count(Action::Create), "update": p.count(Action::Update), "unchanged": p.count(Action::Unchanged), "delete": p.prune.len()},
            "steps": p.steps.iter().map(step).collect::<Vec<_>>(),
            "prune": p.prune.iter().map(|o| json!({"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name})).collect::<Vec<_>>(),
            "guard": match &p.guard { Guard::Ok => json!({"verdict": "ok"}), Guard::Blocked { deleting, inventory, max_fraction } => json!({"verdict": "blocked", "deleting": deleting, "inventory": inventory, "maxFraction": max_fraction}) },
        })
    }
}

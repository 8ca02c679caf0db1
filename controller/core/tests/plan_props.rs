//! Property test of the plan's comparison: for generated ConfigMaps and Deployments, "the plan
//! says unchanged" holds exactly when the API server would store the same thing. The server is
//! modelled here by where each generated value sits: a container's resources hold canonical
//! quantities, every other string (ConfigMap data, env values, annotations) is stored as
//! written.

use dromos_core::plan::{canonical_quantity, is_subset};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Quantities from a small pool, so that generated pairs are often equal by value
/// (`1k` / `1000` / `1e3` / `1000.0`) and sometimes equal as stored.
fn quantity() -> impl Strategy<Value = String> {
    (
        0u32..4,
        prop::sample::select(vec!["", ".0", ".5", ".50", ".1", ".10", ".001", "000"]),
        prop::sample::select(vec!["", "m", "k", "Ki", "Mi", "e3", "e0", "G", "P"]),
    )
        .prop_map(|(n, frac, suffix)| format!("{n}{frac}{suffix}"))
        // Values below a milli (`0.5m`) are not modelled: the plan compares those as written.
        .prop_filter("modelled quantity", |q| canonical_quantity(q).is_some())
}

/// Any string a manifest may hold: quantity-like ones and others.
fn plain() -> impl Strategy<Value = String> {
    prop_oneof![quantity(), "[a-z0-9.]{0,4}"]
}

/// One object shape with two versions of each value: `(plain leaves, quantity leaves)`.
#[derive(Clone, Debug)]
struct Pair {
    deployment: bool,
    plain: Vec<(String, String)>,
    quantities: Vec<(String, String)>,
}

fn pair() -> impl Strategy<Value = Pair> {
    let leaf = |s: BoxedStrategy<String>| {
        (s.clone(), s, any::<bool>()).prop_map(|(a, b, same)| if same { (a.clone(), a) } else { (a, b) })
    };
    (
        any::<bool>(),
        prop::collection::vec(leaf(plain().boxed()), 1..5),
        prop::collection::vec(leaf(quantity().boxed()), 0..4),
    )
        .prop_map(|(deployment, plain, quantities)| Pair {
            deployment,
            quantities: if deployment { quantities } else { Vec::new() },
            plain,
        })
}

/// The object built from one version of the values: `pick` chooses the version and `quantity`
/// maps a quantity leaf (to model the server's normalisation).
fn build(p: &Pair, pick: fn(&(String, String)) -> &String, quantity: fn(&str) -> String) -> Value {
    let annotations: serde_json::Map<String, Value> =
        p.plain.iter().enumerate().map(|(i, v)| (format!("a{i}"), json!(pick(v)))).collect();
    if !p.deployment {
        let data: serde_json::Map<String, Value> =
            p.plain.iter().enumerate().map(|(i, v)| (format!("k{i}"), json!(pick(v)))).collect();
        return json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": annotations}, "data": data});
    }
    let env: Vec<Value> =
        p.plain.iter().enumerate().map(|(i, v)| json!({"name": format!("E{i}"), "value": pick(v)})).collect();
    let resources: serde_json::Map<String, Value> =
        p.quantities.iter().enumerate().map(|(i, v)| (format!("r{i}"), json!(quantity(pick(v))))).collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "annotations": annotations},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "env": env, "resources": {"limits": resources.clone(), "requests": resources}}]}}}})
}

fn first(v: &(String, String)) -> &String {
    &v.0
}
fn second(v: &(String, String)) -> &String {
    &v.1
}
fn as_written(s: &str) -> String {
    s.to_string()
}
fn stored(s: &str) -> String {
    canonical_quantity(s).unwrap_or_else(|| panic!("{s} is a quantity"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn unchanged_exactly_when_the_server_would_store_the_same(p in pair()) {
        let live = build(&p, first, stored);
        let desired = build(&p, second, as_written);
        let would_store = build(&p, second, stored);
        prop_assert_eq!(is_subset(&desired, &live), would_store == live, "desired {} live {}", desired, live);
    }
}

//! Property-based fuzzing of every parser of dromos-core that reads user input: manifests
//! (YAML and JSON), DC/OS imports, schedules, Marathon constraints and their regexes, package
//! templates, options and repositories, and what notifications are made of. Each property runs
//! `DROMOS_FUZZ_CASES` cases (256 by default, the CI run); a long run on demand:
//!
//! ```text
//! DROMOS_FUZZ_CASES=100000 cargo test -p dromos-core --test fuzz --release
//! ```
//!
//! Proptest keeps the seed of every failure in `tests/proptest-regressions/<module>.txt`
//! (committed, replayed first on every run); a defect that was found and fixed also stays as an
//! explicit `#[test]` beside the code it fixed. Inputs are bounded in size so that every case
//! returns quickly; timings are not asserted. RELIABILITY.md lists the properties.

mod constraints;
mod import;
mod manifests;
mod notify;
mod package;
mod schedule;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property when `DROMOS_FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 256;

/// The proptest configuration of every property: `DROMOS_FUZZ_CASES` cases (default 256),
/// failures persisted in `tests/proptest-regressions/<module>.txt`.
pub fn config() -> Config {
    let cases = std::env::var("DROMOS_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_CASES);
    Config { cases, ..Config::default() }
}

/// Text made of pieces that matter to a parser (`pieces`) and arbitrary characters, at most
/// `max` pieces long.
pub fn text_of(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(pieces).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// A JSON value of bounded size: scalars (including huge and odd numbers and strings with
/// control characters) and nested arrays and objects whose keys come from `keys`, or anything.
pub fn json_value(keys: &'static [&'static str], depth: u32) -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        prop::sample::select(&[0i64, 1, -1, 2, 10, 60, 65535, 65536, i32::MAX as i64, i64::MIN][..])
            .prop_map(Value::from),
        prop::sample::select(&[0.5f64, 1e300, -1e-300, 0.001, 1.5][..]).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(depth, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<serde_json::Map<_, _>>())),
        ]
    })
}

/// A key from `keys` (most of the time) or any short string.
pub fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(keys).prop_map(str::to_string), 1 => "\\PC{0,8}"]
}

/// Strings that parsers treat specially somewhere: ids, separators, quotes, escapes, YAML
/// indicators, times, quantities, regexes, templates.
pub const STRINGS: &[&str] = &[
    "",
    " ",
    "/",
    "//",
    "/a/b",
    "../x",
    "./",
    "a",
    "A",
    "web",
    "-",
    "_",
    ".",
    "..",
    "*",
    "\n",
    "\t",
    "\r\n",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "é",
    "😀",
    "\"",
    "'",
    "\\",
    "#",
    ": ",
    "- ",
    "---",
    "&a",
    "*a",
    "!!str",
    "{}",
    "[]",
    "{{x}}",
    "null",
    "true",
    "1",
    "-1",
    "0x1f",
    "1e999",
    "99999999999999999999999",
    "1.5",
    "100Mi",
    "0.5",
    "UNIQUE",
    "LIKE",
    "GROUP_BY",
    "hostname",
    "@zone",
    "[a-z]+",
    "(a|b)",
    "a)|(b",
    "*/5 * * * *",
    "0 0 31 2 *",
    "R/2026-01-01T00:00:00Z/P1D",
    "R5//PT1S",
    "Europe/Berlin",
    "America/New_York",
    "2026-03-29T02:30:00",
    "DOCKER",
    "MESOS",
    "HTTP",
    "TCP",
    "COMMAND",
    "MESOS_HTTP",
    "BRIDGE",
    "HOST",
    "USER",
    "ALLOW",
    "FORBID",
    "NEVER",
    "ON_FAILURE",
    "docker.io/library/nginx:1",
    "http://example.com/a.tgz",
    "sleep 10",
    "$PORT0",
    "${X}",
];

/// One edit of a JSON value: a path chosen by the bits of `path` (two bits: stop here, else
/// the next bits pick a child), an operation `op` and a value to put in.
pub type Edit = (u64, u8, serde_json::Value);

/// Edits of JSON values.
pub fn edits(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec((any::<u64>(), any::<u8>(), json_value(keys, 2)), 1..4)
}

/// Applies `edits` to `v`: replace a value, remove or add a key, remove or add an item, wrap
/// a value in an array; keys added come from `keys`.
pub fn mutate_json(v: &mut serde_json::Value, edits: &[Edit], keys: &[&str]) {
    use serde_json::Value;
    for (path, op, new) in edits {
        let mut cur = &mut *v;
        let mut bits = *path;
        loop {
            let len = match &*cur {
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                _ => 0,
            };
            if len == 0 || bits % 4 == 0 {
                break;
            }
            let idx = (bits >> 2) as usize % len;
            bits >>= 6;
            cur = match cur {
                Value::Array(a) => &mut a[idx],
                Value::Object(m) => m.values_mut().nth(idx).expect("index in range"),
                _ => unreachable!("only collections have children"),
            };
        }
        let n = usize::from(*op / 8);
        match (op % 8, &mut *cur) {
            (0, Value::Object(m)) if !m.is_empty() => {
                let k = m.keys().nth(n % m.len()).cloned().expect("key in range");
                m.remove(&k);
            }
            (1 | 2, Value::Object(m)) => {
                let k = keys.get(n % keys.len().max(1)).copied().unwrap_or("x");
                m.insert(k.to_string(), new.clone());
            }
            (0, Value::Array(a)) if !a.is_empty() => {
                let at = n % a.len();
                a.remove(at);
            }
            (1 | 2, Value::Array(a)) => a.push(new.clone()),
            (3, slot) => *slot = Value::Array(vec![slot.take()]),
            (_, slot) => *slot = new.clone(),
        }
    }
}

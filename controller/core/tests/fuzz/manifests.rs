//! The manifest loader (`load::load_files`, `check_tree`, `prepare::check`, package checks and
//! the render of a valid tree) on arbitrary bytes, YAML-shaped text (mappings, sequences,
//! scalars, anchors and aliases, merge keys, deep nesting, huge numbers, odd tags, several
//! documents), documents generated from the CRD schemas, and mutations of `examples/`.
//!
//! Properties: nothing panics; every diagnostic names one of the input files and a line in it
//! (0, with column 0, for a whole-file problem); loading with several threads gives what one
//! thread gives; `prepare::prepare` succeeds exactly for a valid tree; a valid tree's render is
//! deterministic (twice, one or three threads, streamed or not) and its YAML and JSON read back
//! as the rendered objects.

use crate::{STRINGS, config, edits, mutate_json, text_of};
use dromos_core::package::{Repositories, read_repository};
use dromos_core::render::{self, Format};
use dromos_core::yaml::{Budget, parse_documents};
use dromos_core::{LoadOptions, RenderOptions, SourceFile, Tree, check_tree, prepare};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Every file under a directory of the repository, paths relative to it, sorted.
pub fn repo_files(dir: &str) -> Vec<SourceFile> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let path = p.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
                out.push(SourceFile { path, bytes: std::fs::read(&p).expect("readable file") });
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The files of `examples/`.
pub fn examples() -> &'static [SourceFile] {
    static FILES: OnceLock<Vec<SourceFile>> = OnceLock::new();
    FILES.get_or_init(|| repo_files("examples"))
}

/// The built-in catalog (`packages/`), as the binary embeds it.
fn catalog() -> &'static Repositories {
    static REPOS: OnceLock<Repositories> = OnceLock::new();
    REPOS.get_or_init(|| {
        let repo = read_repository(&repo_files("packages"));
        assert!(repo.problems.is_empty() && !repo.versions.is_empty(), "{:?}", repo.problems);
        Repositories { builtin: Arc::new(repo), others: Default::default() }
    })
}

fn file(path: &str, bytes: impl Into<Vec<u8>>) -> SourceFile {
    SourceFile { path: path.to_string(), bytes: bytes.into() }
}

/// Loads `files` every way the code base does and checks every property of the module.
pub fn check_all(files: &[SourceFile]) -> Result<Tree, TestCaseError> {
    let opts = LoadOptions::default();
    let mut tree = check_tree(files, &opts);
    check_positions(files, &tree)?;
    // The shell loads with the machine's threads: the same result, in the same order.
    let threaded = check_tree(files, &LoadOptions { threads: 3, ..LoadOptions::default() });
    prop_assert_eq!(&threaded.diagnostics, &tree.diagnostics);
    prop_assert_eq!(threaded.manifests.len(), tree.manifests.len());
    let checked = prepare::check(files, Vec::new(), &opts);
    prop_assert_eq!(&checked.diagnostics, &tree.diagnostics);
    match prepare::prepare(files, Vec::new(), &opts) {
        Ok(p) => prop_assert!(tree.is_valid() && p.objects.len() >= tree.manifests.len()),
        Err(t) => prop_assert!(!tree.is_valid() && t.diagnostics == tree.diagnostics),
    }
    prepare::check_packages(&mut tree, catalog());
    check_positions(files, &tree)?;
    if tree.is_valid() {
        check_render(&tree)?;
    }
    Ok(tree)
}

/// Every diagnostic names an input file and a line of it (or the line just past its end, where
/// the YAML parser reports an unexpected end of input); whole-file problems are line 0,
/// column 0; every manifest starts on a line of its file.
fn check_positions(files: &[SourceFile], tree: &Tree) -> Result<(), TestCaseError> {
    // Lines as YAML counts them: `\r\n`, `\r` and `\n` end one.
    let lines = |name: &str| {
        let f = files.iter().find(|f| f.path == name)?;
        let crlf = f.bytes.windows(2).filter(|w| w == b"\r\n").count();
        Some(1 + f.bytes.iter().filter(|b| **b == b'\n' || **b == b'\r').count() - crlf)
    };
    for d in &tree.diagnostics {
        let Some(n) = lines(&d.file) else {
            return Err(TestCaseError::fail(format!("diagnostic names no input file: {d:?}")));
        };
        prop_assert!(!d.code.is_empty(), "{:?}", d);
        prop_assert!(d.line as usize <= n + 1, "line {} of a file of {} lines: {:?}", d.line, n, d);
        if d.line == 0 {
            prop_assert_eq!(d.column, 0, "{:?}", d);
        } else {
            prop_assert!(d.column >= 1, "{:?}", d);
        }
    }
    for m in &tree.manifests {
        let n = lines(&m.file).unwrap_or(0);
        prop_assert!(m.pos.line >= 1 && m.pos.line as usize <= n, "{} at {:?}", m.file, m.pos);
    }
    Ok(())
}

/// A valid tree renders the same text every time, with one or three threads, streamed or
/// whole, and that text reads back as the objects.
fn check_render(tree: &Tree) -> Result<(), TestCaseError> {
    let opts = RenderOptions { packages: catalog().clone(), ..RenderOptions::default() };
    let rendered = render::render_manifests(&tree.manifests, &opts);
    let again = render::render_manifests(&tree.manifests, &opts);
    prop_assert_eq!(&rendered.objects, &again.objects);
    prop_assert_eq!(&rendered.warnings, &again.warnings);
    let yaml = render::render_serialized(&tree.manifests, &opts, Format::Yaml, 1);
    let yaml3 = render::render_serialized(&tree.manifests, &opts, Format::Yaml, 3);
    let text = yaml.text();
    prop_assert_eq!(&text, &yaml3.text());
    prop_assert_eq!(&text, &render::to_yaml_stream(&rendered.objects));
    prop_assert_eq!(yaml.objects, rendered.objects.len());
    let read: Vec<Value> = match parse_documents(&text, Budget::default()) {
        Ok(docs) => docs.into_iter().map(|d| d.value).collect(),
        Err(e) => return Err(TestCaseError::fail(format!("rendered YAML does not read back: {e}\n{text}"))),
    };
    prop_assert_eq!(&read, &rendered.objects, "rendered YAML reads back as other values:\n{}", text);
    let json = render::render_serialized(&tree.manifests, &opts, Format::Json, 2).text();
    let list: Value = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&list["items"], &Value::Array(rendered.objects));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// YAML-shaped text.

/// Scalars as YAML writes them: plain words, numbers (huge, hex, octal, special floats),
/// quoted strings with escapes (valid and not), block scalars.
const SCALARS: &[&str] = &[
    "a",
    "web",
    "/shop/web",
    "x y",
    "1",
    "-0",
    "+12",
    "0x7fffffffffffffff",
    "0x8000000000000000",
    "-0x10",
    "0x-5",
    "0o777",
    "0o9",
    "1_000",
    "1e400",
    "-1e400",
    "1e-400",
    ".inf",
    "-.Inf",
    ".nan",
    "99999999999999999999999999999",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "1.",
    ".5",
    "1e",
    "~",
    "null",
    "True",
    "yes",
    "on",
    "2026-01-01",
    "\"\"",
    "\"\\u00e9\\x41\\U0001F600\\N\\_\\L\\P\"",
    "\"\\q\"",
    "\"\\uD800\"",
    "\"a\\\n  b\"",
    "'it''s'",
    "'unterminated",
    "\"unterminated",
    "|\n  block\n   text\n",
    "|-\n  x\n",
    ">+\n  folded\n\n",
    "|2\n   x\n",
    "&a x",
    "*a",
    "*nosuch",
    "!!str 1",
    "!!int x",
    "!!float 1",
    "!!bool yes",
    "!!null x",
    "!!binary aGk=",
    "!!map {}",
    "!!seq []",
    "!custom x",
    "!<tag:yaml.org,2002:str> 1",
    "! x",
    "!!set {a}",
    "!!omap [a: 1]",
    "? complex",
    "@reserved",
    "`reserved",
    "%",
    "x # comment",
    "x#y",
    "\t",
    "\u{feff}x",
];

/// A YAML node to write, block or flow.
#[derive(Clone, Debug)]
enum Y {
    Scalar(String),
    Seq(Vec<Y>, bool),
    Map(Vec<(String, Y)>, bool),
    Anchor(u8, Box<Y>),
    Alias(u8),
    Tag(&'static str, Box<Y>),
    Merge(u8),
}

const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "spec",
    "id",
    "cmd",
    "instances",
    "cpus",
    "mem",
    "constraints",
    "dependencies",
    "schedule",
    "schedules",
    "cron",
    "run",
    "env",
    "labels",
    "a",
    "b",
    "<<",
    "? x",
    "\"q\"",
    "1",
    "true",
    "null",
    "",
];

const TAGS: &[&str] = &["!!str", "!!int", "!!map", "!!seq", "!x", "!<tag:x,2000:y>", "!", "!!binary", "!e!tag"];

fn y_node() -> impl Strategy<Value = Y> {
    let leaf = prop_oneof![
        6 => prop::sample::select(SCALARS).prop_map(|s| Y::Scalar(s.to_string())),
        2 => prop::sample::select(STRINGS).prop_map(|s| Y::Scalar(s.to_string())),
        1 => (0u8..4).prop_map(Y::Alias),
        1 => (0u8..4).prop_map(Y::Merge),
        1 => "\\PC{0,8}".prop_map(Y::Scalar),
    ];
    leaf.prop_recursive(6, 64, 5, |inner| {
        prop_oneof![
            3 => (prop::collection::vec(inner.clone(), 0..5), any::<bool>()).prop_map(|(v, b)| Y::Seq(v, b)),
            4 => (prop::collection::vec((prop::sample::select(KEYS).prop_map(str::to_string), inner.clone()), 0..6), any::<bool>())
                .prop_map(|(v, b)| Y::Map(v, b)),
            1 => (0u8..4, inner.clone()).prop_map(|(a, y)| Y::Anchor(a, Box::new(y))),
            1 => (prop::sample::select(TAGS), inner).prop_map(|(t, y)| Y::Tag(t, Box::new(y))),
        ]
    })
}

/// Writes a node in flow style.
fn flow(y: &Y, out: &mut String) {
    match y {
        Y::Scalar(s) => out.push_str(s.lines().next().unwrap_or("")),
        Y::Seq(items, _) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(x, out);
            }
            out.push(']');
        }
        Y::Map(entries, _) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                flow(v, out);
            }
            out.push('}');
        }
        Y::Anchor(a, y) => {
            out.push_str(&format!("&a{a} "));
            flow(y, out);
        }
        Y::Alias(a) | Y::Merge(a) => out.push_str(&format!("*a{a}")),
        Y::Tag(t, y) => {
            out.push_str(t);
            out.push(' ');
            flow(y, out);
        }
    }
}

/// Writes a node in block style (collections marked flow, and everything inside them, in
/// flow style) at `indent`; the caller has written what goes before it on the line.
fn block(y: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match y {
        Y::Seq(items, false) if !items.is_empty() => {
            for x in items {
                out.push('\n');
                out.push_str(&pad);
                out.push_str("- ");
                block_inline(x, indent + 2, out);
            }
        }
        Y::Map(entries, false) if !entries.is_empty() => {
            for (k, v) in entries {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(k);
                out.push(':');
                block_value(v, indent + 2, out);
            }
        }
        Y::Merge(a) => {
            out.push('\n');
            out.push_str(&pad);
            out.push_str(&format!("<<: *a{a}"));
        }
        Y::Scalar(s) if s.contains('\n') => {
            // A block scalar: its header, then its lines indented.
            let mut lines = s.lines();
            out.push(' ');
            out.push_str(lines.next().unwrap_or(""));
            for l in lines {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(l);
            }
        }
        other => {
            out.push(' ');
            flow(other, out);
        }
    }
}

/// A node written after `key:` (a new line for block collections).
fn block_value(y: &Y, indent: usize, out: &mut String) {
    match y {
        Y::Anchor(a, inner) => {
            out.push_str(&format!(" &a{a}"));
            block_value(inner, indent, out);
        }
        Y::Tag(t, inner) => {
            out.push(' ');
            out.push_str(t);
            block_value(inner, indent, out);
        }
        other => block(other, indent, out),
    }
}

/// A node written after `- ` (a block mapping may start on the same line).
fn block_inline(y: &Y, indent: usize, out: &mut String) {
    match y {
        Y::Map(entries, false) if !entries.is_empty() => {
            let pad = " ".repeat(indent);
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&pad);
                }
                out.push_str(k);
                out.push(':');
                block_value(v, indent + 2, out);
            }
        }
        other => {
            let mut s = String::new();
            block_value(other, indent, &mut s);
            out.push_str(s.trim_start_matches(' '));
        }
    }
}

/// A document: maybe a Dromos header (apiVersion, kind, metadata), then the node's entries.
fn yaml_document() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just(String::new()),
        prop::sample::select(
            &["App", "Job", "Package", "GitSource", "Offer", "SourcePolicy", "ConfigMap", "Namespace"][..]
        )
        .prop_map(|k| {
            let api = if matches!(k, "ConfigMap" | "Namespace") { "v1" } else { "dromos.io/v1alpha1" };
            format!("apiVersion: {api}\nkind: {k}")
        }),
    ];
    (
        header,
        y_node(),
        prop::sample::select(
            &["", "---", "--- ", "--- !!map", "%YAML 1.2\n---", "%TAG !e! tag:x,2000:\n---", "...\n---"][..],
        ),
    )
        .prop_map(|(h, y, start)| {
            let mut body = String::new();
            block(&y, 0, &mut body);
            let mut s = String::from(start);
            s.push('\n');
            s.push_str(&h);
            s.push_str(&body);
            s.push('\n');
            s
        })
}

/// Nesting past the depth budget (100), in flow and block style.
fn deep_document() -> impl Strategy<Value = String> {
    (1usize..260, 0u8..4).prop_map(|(n, style)| match style {
        0 => format!("{}x{}", "[".repeat(n), "]".repeat(n)),
        1 => format!("{}x{}", "{a: ".repeat(n), "}".repeat(n)),
        2 => (0..n).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect::<String>() + &" ".repeat(n) + "x\n",
        _ => (0..n).map(|i| format!("{}-\n", " ".repeat(i))).collect::<String>() + &" ".repeat(n) + "x\n",
    })
}

/// Anchors that double at every level ("billion laughs"), with or without merge keys.
fn alias_bomb() -> impl Strategy<Value = String> {
    (1usize..24, 2usize..10, any::<bool>()).prop_map(|(levels, width, merge)| {
        let mut s = String::from("a0: &a0 [x, y]\n");
        for i in 1..levels {
            if merge {
                s.push_str(&format!("a{i}: &a{i}\n"));
                for j in 0..width {
                    s.push_str(&format!("  k{j}: *a{}\n", i - 1));
                }
            } else {
                let refs = vec![format!("*a{}", i - 1); width].join(", ");
                s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
            }
        }
        s
    })
}

const YAML_PIECES: &[&str] = &[
    "\n",
    "\n  ",
    "\n- ",
    ": ",
    "- ",
    "? ",
    ", ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!x ",
    "'",
    "\"",
    "\\",
    "#",
    "|",
    ">",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "apiVersion: dromos.io/v1alpha1\n",
    "kind: App\n",
    "spec:\n",
    "  id: /a/b\n",
    "\t",
    "\r",
    "\u{feff}",
    "\u{0}",
    "\u{85}",
    "1e999",
    "0x",
    "~",
    "null",
];

/// A file name the loader reads.
fn manifest_path() -> impl Strategy<Value = String> {
    prop::sample::select(&["a.yaml", "b.yml", "c.json", "d/e.YAML", "x/y/z.yaml"][..]).prop_map(str::to_string)
}

// ---------------------------------------------------------------------------------------
// Documents from the CRD schemas.

/// A small deterministic generator, so that a seed drives a walk of a schema.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Values for fields with a meaning, by field name.
fn strings_for(field: &str) -> &'static [&'static str] {
    match field {
        "id" => &["/shop/web", "/shop/api", "/a/b/c", "web", "/web", "/", "/Bad", "/x/../y", "/a//b", "/shop/web-1"],
        "dependencies" | "parents" => &["/shop/web", "/shop/api", "../api", "ops.backup", "/missing", "web"],
        "cron" => {
            &["0 * * * *", "*/5 * * * *", "0 0 L * *", "0 9 15W * *", "0 9 * * 5#3", "@hourly", "61 * * * *", "* * *"]
        }
        "schedule" => &[
            "R/2026-01-01T00:00:00Z/P1D",
            "R5//PT1S",
            "R//PT0.5S",
            "R/2026-03-29T02:30:00/P1M",
            "R0/2026-01-01T00:00:00Z/PT1H",
            "R/+262143-12-31T23:59:59/P1D",
            "P1D",
        ],
        "timezone" | "scheduleTimeZone" => {
            &["UTC", "Europe/Berlin", "America/New_York", "Pacific/Apia", "Mars/Olympus", ""]
        }
        "image" => &["nginx:1.27", "docker.io/library/debian:bookworm", "", "UPPER", "a b"],
        "url" => {
            &["https://github.com/acme/app.git", "git@github.com:acme/app.git", "file:///tmp/x", "", "http://u:p@h/x"]
        }
        "name" | "portName" => &["http", "web", "kafka", "admin", "", "UPPER", "a_b", "x-y"],
        "version" => &["3.9.1", "1.0", "0.0.0", "latest", ""],
        "cmd" | "shell" => &["sleep 10", "echo $PORT0", ""],
        "path" | "containerPath" | "hostPath" | "mountPath" => &["/health", "data", "/", "", "../x"],
        "protocol" => &["HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_TCP", "udp", "tcp,udp"],
        "operator" => &["IS", "EQ", "LIKE", "UNLIKE", "UNIQUE", "is"],
        "attribute" => &["@zone", "hostname", "rack", "@region", ""],
        "mode" => &["container/bridge", "host", "container", "bridge"],
        "interval" => &["1m", "30s", "1h", "0s", "5"],
        "commit" => &["0123456789abcdef0123456789abcdef01234567", "abc"],
        "branch" => &["main", "release/1.0", ""],
        "tag" => &["v1.0.0", ""],
        "sourceNamespaces" | "targetNamespaces" => &["shop", "ops", "*", "team-*"],
        _ => &[],
    }
}

/// A value following `schema` for the field `field`, with wrong values now and then.
pub fn from_schema(schema: &Value, field: &str, rng: &mut Rng, depth: usize) -> Value {
    if rng.chance(80) {
        return json!(rng.pick(STRINGS));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        return e[rng.below(e.len())].clone();
    }
    if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
        && schema.get("properties").is_none()
    {
        return match rng.below(3) {
            0 => json!({}),
            1 => json!({"a": rng.pick(STRINGS), "b": {"c": [1, 2.5, null]}}),
            _ => json!({"brokers": {"count": rng.below(5)}, "image": rng.pick(STRINGS)}),
        };
    }
    match schema.get("type").and_then(Value::as_str).unwrap_or("") {
        "object" => {
            let mut m = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    if required.contains(&k.as_str()) || (depth < 5 && rng.chance(3)) {
                        m.insert(k.clone(), from_schema(s, k, rng, depth + 1));
                    }
                }
            }
            if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for i in 0..rng.below(3) {
                    let key = ["a", "VIP_0", "HAPROXY_GROUP", "key with space", "", "x.y/z"][rng.below(6)];
                    m.insert(format!("{key}{i}"), from_schema(ap, key, rng, depth + 1));
                }
            }
            Value::Object(m)
        }
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            let max = schema.get("maxItems").and_then(Value::as_u64).unwrap_or(4).min(4) as usize;
            let n = if depth > 6 { 0 } else { rng.below(max + 1) };
            if field == "constraints" && items.get("items").is_some() {
                return Value::Array((0..n).map(|_| constraint(rng)).collect());
            }
            Value::Array((0..n).map(|_| from_schema(&items, field, rng, depth + 1)).collect())
        }
        "string" => {
            let pool = strings_for(field);
            if !pool.is_empty() && !rng.chance(5) { json!(rng.pick(pool)) } else { json!(rng.pick(STRINGS)) }
        }
        "integer" => {
            json!([0i64, 1, 2, 3, 5, 60, 80, 8080, 65535, 65536, -1, i32::MAX as i64, i64::MAX][rng.below(13)])
        }
        "number" => json!([0.1, 0.5, 1.0, 2.0, 256.0, 0.0, -1.0, 1e300][rng.below(8)]),
        "boolean" => json!(rng.chance(2)),
        _ => json!(rng.pick(STRINGS)),
    }
}

const CONSTRAINT_FIELDS: &[&str] = &["hostname", "@hostname", "@zone", "@region", "rack", "", "bad key!", "a/b"];
const CONSTRAINT_OPS: &[&str] = &["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS", "unique", "EQ"];
const CONSTRAINT_VALUES: &[&str] =
    &["1", "2", "0", "-1", "a", "zone-[ab]", "rack-[0-9", "(?=a)", "a|b", "a)|(b", "", "99999999999"];

fn constraint(rng: &mut Rng) -> Value {
    let mut c = vec![json!(rng.pick(CONSTRAINT_FIELDS)), json!(rng.pick(CONSTRAINT_OPS))];
    if !rng.chance(3) {
        c.push(json!(rng.pick(CONSTRAINT_VALUES)));
    }
    Value::Array(c)
}

const KINDS: &[&str] = &["App", "Job", "Package", "GitSource", "Offer", "SourcePolicy"];

/// A Dromos document of `kind` generated from its CRD schema.
pub fn dromos_document(kind: &str, seed: u64) -> Value {
    let schema = dromos_core::load::crd_schema(kind).expect("a Dromos kind");
    let mut rng = Rng::new(seed);
    let spec = from_schema(&schema["properties"]["spec"], "spec", &mut rng, 0);
    let ns = *rng.pick(&["shop", "ops", "shop", "default", "Bad_NS"]);
    let name = *rng.pick(&["web", "api", "backup", "events", "x", "web"]);
    let mut spec = spec;
    if matches!(kind, "App" | "Job") && spec.is_object() {
        // Ids name the namespace and the object; mostly consistent with the metadata.
        let id = if kind == "App" { format!("/{ns}/{name}") } else { format!("{ns}.{name}") };
        match rng.below(4) {
            0 => {
                if let Some(m) = spec.as_object_mut() {
                    m.remove("id");
                }
            }
            1 => {}
            _ => spec["id"] = json!(id),
        }
    }
    let mut metadata = json!({"name": name, "namespace": ns});
    if kind == "Offer" || kind == "SourcePolicy" {
        metadata = json!({"name": name});
    }
    if rng.chance(4) {
        metadata["annotations"] = json!({"dromos.io/adopt": "true"});
    }
    json!({"apiVersion": "dromos.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec})
}

/// `n` generated documents (kinds from the seed), edited, written as YAML or JSON files.
fn generated_tree() -> impl Strategy<Value = Vec<SourceFile>> {
    (
        prop::collection::vec((any::<u64>(), 0..KINDS.len()), 1..4),
        edits(crate::import::FIELDS),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(docs, edits, yaml, together)| {
            let mut values: Vec<Value> = docs.iter().map(|(seed, k)| dromos_document(KINDS[*k], *seed)).collect();
            // Edits go to the first document (the others stay as generated).
            mutate_json(&mut values[0], &edits, crate::import::FIELDS);
            let write = |v: &Value| {
                if yaml { serde_saphyr::to_string(v).expect("JSON values serialise") } else { v.to_string() }
            };
            if together && yaml {
                let text: String = values.iter().map(|v| format!("---\n{}", write(v))).collect();
                vec![file("all.yaml", text)]
            } else {
                let ext = if yaml { "yaml" } else { "json" };
                values.iter().enumerate().map(|(i, v)| file(&format!("d{i}.{ext}"), write(v))).collect()
            }
        })
}

// ---------------------------------------------------------------------------------------
// Mutations of examples/.

/// One byte-level change of a file.
#[derive(Clone, Debug)]
pub enum ByteEdit {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Snippet(usize, &'static str),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, usize),
    Truncate(usize),
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| ByteEdit::Delete(a, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(a, b)| ByteEdit::Insert(a, b)),
        (any::<usize>(), prop::sample::select(YAML_PIECES)).prop_map(|(a, s)| ByteEdit::Snippet(a, s)),
        (any::<usize>(), prop::sample::select(SCALARS)).prop_map(|(a, s)| ByteEdit::Snippet(a, s)),
        any::<usize>().prop_map(ByteEdit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| ByteEdit::SwapLines(a, b)),
        (any::<usize>(), 0usize..5).prop_map(|(a, n)| ByteEdit::Indent(a, n)),
        any::<usize>().prop_map(ByteEdit::Truncate),
    ]
}

pub fn apply_byte_edit(bytes: &mut Vec<u8>, e: &ByteEdit) {
    let len = bytes.len();
    let at = |a: usize| if len == 0 { 0 } else { a % (len + 1) };
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let line = |a: usize| a % lines.len();
    match e {
        ByteEdit::Delete(a, n) => {
            let s = at(*a);
            bytes.drain(s..(s + n).min(len));
            return;
        }
        ByteEdit::Insert(a, b) => {
            let s = at(*a);
            bytes.splice(s..s, b.iter().copied());
            return;
        }
        ByteEdit::Snippet(a, s) => {
            let p = at(*a);
            bytes.splice(p..p, s.bytes());
            return;
        }
        ByteEdit::Truncate(a) => {
            bytes.truncate(at(*a));
            return;
        }
        ByteEdit::DuplicateLine(a) => {
            let i = line(*a);
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        ByteEdit::SwapLines(a, b) => {
            let (i, j) = (line(*a), line(*b));
            lines.swap(i, j);
        }
        ByteEdit::Indent(a, n) => {
            let i = line(*a);
            let l = &mut lines[i];
            let spaces = l.iter().take_while(|b| **b == b' ').count();
            if *n >= 2 {
                l.splice(0..0, std::iter::repeat_n(b' ', *n - 1));
            } else {
                l.drain(0..spaces.min(2 - n));
            }
        }
    }
    *bytes = lines.join(&b'\n');
}

/// The examples with one file changed byte by byte.
fn mutated_examples() -> impl Strategy<Value = Vec<SourceFile>> {
    (any::<usize>(), prop::collection::vec(byte_edit(), 1..5)).prop_map(|(which, edits)| {
        let mut files = examples().to_vec();
        let i = which % files.len();
        for e in &edits {
            apply_byte_edit(&mut files[i].bytes, e);
        }
        files
    })
}

/// The examples with one document's values edited (the file written back as YAML or JSON).
fn edited_examples() -> impl Strategy<Value = Vec<SourceFile>> {
    (any::<usize>(), edits(crate::import::FIELDS), any::<bool>()).prop_map(|(which, edits, as_json)| {
        let mut files = examples().to_vec();
        let i = which % files.len();
        let text = String::from_utf8(files[i].bytes.clone()).expect("examples are UTF-8");
        let mut docs: Vec<Value> =
            parse_documents(&text, Budget::default()).expect("examples parse").into_iter().map(|d| d.value).collect();
        let d = which / files.len() % docs.len();
        mutate_json(&mut docs[d], &edits, crate::import::FIELDS);
        files[i].bytes = if as_json && docs.len() == 1 {
            files[i].path = files[i].path.replace(".yaml", ".json");
            docs[0].to_string().into_bytes()
        } else {
            render::to_yaml_stream(&docs).into_bytes()
        };
        files
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_load_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), path in manifest_path()) {
        check_all(&[file(&path, bytes)])?;
    }

    #[test]
    fn yaml_pieces_load_without_panic(text in text_of(YAML_PIECES, 80), path in manifest_path()) {
        check_all(&[file(&path, text)])?;
    }

    #[test]
    fn yaml_shaped_documents(docs in prop::collection::vec(yaml_document(), 1..4), path in manifest_path()) {
        check_all(&[file(&path, docs.concat())])?;
    }

    #[test]
    fn deep_nesting_and_alias_bombs_stop_at_the_budget(deep in deep_document(), bomb in alias_bomb()) {
        for text in [deep, bomb] {
            let tree = check_all(&[file("deep.yaml", text)])?;
            for d in tree.diagnostics.iter().filter(|d| d.code == "yaml-budget") {
                prop_assert!(d.hint.is_some(), "{:?}", d);
            }
        }
    }

    #[test]
    fn documents_generated_from_the_crd_schemas(files in generated_tree()) {
        check_all(&files)?;
    }

    #[test]
    fn byte_mutations_of_the_examples(files in mutated_examples()) {
        check_all(&files)?;
    }

    #[test]
    fn value_mutations_of_the_examples(files in edited_examples()) {
        check_all(&files)?;
    }
}

/// The examples themselves are valid and pass every check (the base of the mutations).
#[test]
fn the_examples_pass_every_check() {
    let tree = check_all(examples()).unwrap_or_else(|e| panic!("{e}"));
    assert!(tree.is_valid(), "{:?}", tree.diagnostics);
}

/// A generated document of every kind passes the checks (a sanity check of the generator:
/// some seeds give valid documents, so the render properties are exercised).
#[test]
fn generated_documents_are_often_valid() {
    let mut valid = 0;
    for seed in 0..200u64 {
        let kind = KINDS[seed as usize % KINDS.len()];
        let text = serde_saphyr::to_string(&dromos_document(kind, seed)).expect("serialises");
        let tree = check_all(&[file("g.yaml", text)]).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        valid += usize::from(tree.is_valid());
    }
    assert!(valid >= 20, "only {valid} of 200 generated documents are valid");
}

//! Packages (`package`): the Mustache renderer (decision 0030), option values kept one scalar
//! (decision 0041, `package/scalars/`), option validation against the catalog's schemas, and
//! reading repositories.
//!
//! Properties: nothing panics; a template renders the same text twice, and text without tags
//! renders as itself; an option value, whatever it holds, lands as exactly one scalar (or, for
//! an object or array, one collection) where the template writes it, or the render is refused
//! naming that option; in a quoted scalar every string is accepted and kept byte for byte;
//! options resolved against a schema validate again; a repository of arbitrary or damaged files
//! reads, and each of its versions renders or fails with an error. There is no render budget
//! (output size or time) in the renderer; inputs here are bounded instead (RELIABILITY.md).

use crate::import::same;
use crate::manifests::{Rng, apply_byte_edit, byte_edit, from_schema, repo_files};
use crate::{STRINGS, config, edits, json_value, mutate_json, text_of};
use dromos_core::SourceFile;
use dromos_core::package::mustache::Template;
use dromos_core::package::options::{DefaultDraft, validate};
use dromos_core::package::{Instance, Layout, Meta, PackageVersion, RenderError, read_repository, render};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use std::sync::OnceLock;

const INST: Instance<'static> = Instance { namespace: "team", name: "demo", source: "fuzz" };

const NAMES: &[&str] = &["a", "b", "x", "items", "service", "name", ".", "a.b", "service.name"];

const MUSTACHE_PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{{a}}",
    "{{b}}",
    "{{{a}}}",
    "{{& a}}",
    "{{.}}",
    "{{#a}}",
    "{{/a}}",
    "{{^a}}",
    "{{#items}}",
    "{{/items}}",
    "{{service.name}}",
    "{{! c }}",
    "{{> p}}",
    "{{=<% %>=}}",
    "{{#}}",
    "{{/}}",
    "{{ }}",
    "\n",
    " ",
    "  ",
    "text",
    "é",
    "\r\n",
    "{",
    "}",
    "#",
    "/",
];

fn template_text() -> impl Strategy<Value = String> {
    text_of(MUSTACHE_PIECES, 30)
}

/// Data for templates: small values, lists of at most three items, so that nested sections
/// stay small (nothing in the renderer bounds them).
fn data() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(NAMES).prop_map(str::to_string), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What the renderer writes for a value: strings as they are, null as nothing, the rest as
/// compact JSON.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a Dromos-layout template writes the option `v`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ctx {
    Plain,
    DoubleQuoted,
    SingleQuoted,
    Affixed,
    Literal,
    FlowMap,
    FlowSeq,
    BlockSeq,
    Comment,
    Key,
}

const CTXS: &[Ctx] = &[
    Ctx::Plain,
    Ctx::DoubleQuoted,
    Ctx::SingleQuoted,
    Ctx::Affixed,
    Ctx::Literal,
    Ctx::FlowMap,
    Ctx::FlowSeq,
    Ctx::BlockSeq,
    Ctx::Comment,
    Ctx::Key,
];

fn template_for(ctx: Ctx, tag: &str) -> String {
    let body = match ctx {
        Ctx::Plain => format!("  k: {tag}\n"),
        Ctx::DoubleQuoted => format!("  k: \"{tag}\"\n"),
        Ctx::SingleQuoted => format!("  k: '{tag}'\n"),
        Ctx::Affixed => format!("  k: x-{tag}-y\n"),
        Ctx::Literal => format!("  k: |\n    {tag}\n"),
        Ctx::FlowMap => format!("  k: {{a: {tag}, b: end}}\n"),
        Ctx::FlowSeq => format!("  k: [{tag}, end]\n"),
        Ctx::BlockSeq => format!("  k:\n    - {tag}\n    - end\n"),
        Ctx::Comment => format!("  k: fixed # {tag}\n"),
        Ctx::Key => format!("  {tag}: 1\n"),
    };
    format!("apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\ndata:\n{body}  end: fixed\n")
}

fn dromos_pkg(template: String) -> PackageVersion {
    PackageVersion {
        layout: Layout::Dromos,
        dir: "p/1.0".into(),
        revision: None,
        meta: Meta { name: "p".into(), version: "1.0".into(), ..Default::default() },
        schema: Value::Null,
        resource: Value::Null,
        templates: vec![("templates/t.yaml.mustache".into(), template)],
    }
}

/// A plain scalar read back: the text as a string, or the number, boolean or null it reads as.
fn one_scalar(leaf: &Value, t: &str) -> bool {
    match leaf {
        Value::String(s) => s == t,
        Value::Array(_) | Value::Object(_) => false,
        _ => true,
    }
}

/// The value of `data.k` (or, for a key, the data) that the render must produce for `v`.
fn accepted(ctx: Ctx, v: &Value, data: &Value) -> Result<(), String> {
    let t = text(v);
    let tree = v.is_array() || v.is_object();
    let k = &data["k"];
    let plain = |leaf: &Value| if tree { same(leaf, v) } else { one_scalar(leaf, &t) };
    let ok = data["end"] == "fixed"
        && match ctx {
            Ctx::Plain => plain(k),
            Ctx::DoubleQuoted | Ctx::SingleQuoted => k == &json!(t),
            Ctx::Affixed => k == &json!(format!("x-{t}-y")),
            // An empty block scalar is empty, without its line break.
            Ctx::Literal => k == &json!(if t.is_empty() { t.clone() } else { format!("{t}\n") }),
            Ctx::FlowMap => k["b"] == "end" && k.as_object().is_some_and(|m| m.len() == 2) && plain(&k["a"]),
            Ctx::FlowSeq | Ctx::BlockSeq => k.as_array().is_some_and(|a| a.len() == 2) && k[1] == "end" && plain(&k[0]),
            Ctx::Comment => k == "fixed",
            Ctx::Key => {
                // One key (a plain scalar: `0x1f` is the integer 31 as a key, so its text may
                // differ), holding the template's value.
                let m = data.as_object().expect("data is a mapping");
                m.len() == 2 && (m.get(&t) == Some(&json!(1)) || m.iter().any(|(k, x)| k != "end" && x == &json!(1)))
            }
        };
    if ok { Ok(()) } else { Err(format!("{ctx:?}: {v:?} renders data {data}")) }
}

/// Option values: strings of any characters (and YAML indicators), numbers, booleans, null,
/// small objects and arrays with such keys and strings.
fn option_value() -> impl Strategy<Value = Value> {
    let s = prop_oneof![
        3 => "\\PC{0,16}",
        3 => text_of(&["\"", "'", "\\", "\n", "\r", "\t", ": ", " #", "#", "- ", "---", "...", "{", "}", "[", "]", ",", "&a", "*a", "!x", "|", ">", "%", "@", "`", "\u{85}", "\u{2028}", "\u{feff}", "\u{fffe}", "\u{0}", "\u{7f}", "a", " "], 10),
        1 => prop::sample::select(STRINGS).prop_map(str::to_string),
    ];
    let leaf = prop_oneof![
        6 => s.clone().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((s.clone(), inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn universe_pkg(template: &str) -> PackageVersion {
    PackageVersion {
        layout: Layout::Universe,
        dir: "packages/P/p/0".into(),
        revision: Some(0),
        meta: Meta { name: "p".into(), version: "1.0".into(), ..Default::default() },
        schema: Value::Null,
        resource: Value::Null,
        templates: vec![("marathon.json.mustache".into(), template.into())],
    }
}

/// The catalog's package versions and those of the test fixtures (both layouts).
fn packages() -> &'static [PackageVersion] {
    static PKGS: OnceLock<Vec<PackageVersion>> = OnceLock::new();
    PKGS.get_or_init(|| {
        let mut v = read_repository(&repo_files("packages")).versions;
        v.extend(read_repository(&repo_files("tests/fixtures/packages/repo")).versions);
        assert!(v.len() >= 5, "{} package versions", v.len());
        v
    })
}

/// The files of the catalog and of the fixture repository, for damaging.
fn repository_files() -> &'static [SourceFile] {
    static FILES: OnceLock<Vec<SourceFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut v = repo_files("packages");
        v.extend(repo_files("tests/fixtures/packages/repo"));
        v
    })
}

const REPO_PATHS: &[&str] = &[
    "p/1.0/package.yaml",
    "p/1.0/options.schema.json",
    "p/1.0/resource.json",
    "p/1.0/templates/a.yaml.mustache",
    "p/2/templates/b.yaml.mustache",
    "p/2/package.yaml",
    "packages/P/p/0/package.json",
    "packages/P/p/0/config.json",
    "packages/P/p/0/resource.json",
    "packages/P/p/0/marathon.json.mustache",
    "packages/P/p/x/package.json",
    "./q/1/package.yaml",
    "package.yaml",
];

const REPO_TEXTS: &[&str] = &[
    "name: p\nversion: \"1.0\"\n",
    "name: p\nversion: 2\n",
    "{\"name\": \"p\", \"version\": \"1.0\", \"packagingVersion\": \"4.0\"}",
    "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"default\": \"x\"}}}",
    "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"(\"}}}",
    "{\"$schema\": \"http://json-schema.org/draft-04/schema#\", \"type\": \"integer\", \"default\": 1}",
    "{\"$ref\": \"#/definitions/x\"}",
    "{\"$ref\": \"http://example.com/schema\"}",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: \"{{a}}\"}\n",
    "{\"id\": \"/p\", \"cmd\": \"sleep 1\", \"env\": {\"A\": \"{{a}}\"}}",
    "{{#a}}{{/b}}",
    "[]",
    "null",
    "",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mustache_templates(src in template_text(), d in data()) {
        let Ok(t) = Template::parse(&src) else { return Ok(()) };
        let out = t.render(&d);
        prop_assert_eq!(&out, &t.render(&d));
        if !src.contains("{{") {
            prop_assert_eq!(out.as_deref().ok(), Some(src.as_str()));
        }
        let lines = src.split('\n').count();
        let _ = t.render_with(&d, &mut |h, o| {
            assert!(!h.value.is_null() && h.line >= 1 && h.line <= lines, "{h:?}");
            o.push_str(&h.path);
        });
    }

    #[test]
    fn an_option_value_stays_one_scalar_where_the_template_writes_it(ctx in prop::sample::select(CTXS), v in option_value(), triple in any::<bool>()) {
        let tag = if triple { "{{{v}}}" } else { "{{v}}" };
        let pkg = dromos_pkg(template_for(ctx, tag));
        // The template itself renders with a neutral value.
        let neutral = render(&pkg, &json!({"v": "neutral"}), &INST).map_err(|e| TestCaseError::fail(format!("{ctx:?}: {e}")))?;
        prop_assert_eq!(neutral.objects.len(), 1);
        match render(&pkg, &json!({"v": v}), &INST) {
            Ok(r) => {
                prop_assert_eq!(r.objects.len(), 1, "{:?}: {:?}", ctx, r.objects);
                accepted(ctx, &v, &r.objects[0]["data"]).map_err(TestCaseError::fail)?;
                prop_assert_eq!(r.objects[0]["kind"].as_str(), Some("Thing"));
            }
            Err(RenderError::Options(errs)) => {
                prop_assert!(!errs.is_empty());
                for e in &errs {
                    prop_assert!(e.path == "v" || e.path.starts_with("v."), "{:?}", e);
                    prop_assert_eq!(e.rule.as_str(), "template");
                }
                // A string in a double-quoted scalar is escaped for it, never refused; in a
                // single-quoted one too, unless it breaks the line (YAML folds a line break
                // there) or holds a character YAML cannot print (`''` is the only escape).
                if let Some(s) = v.as_str() {
                    let unprintable = |c: char| c != '\t' && c != '\u{85}' && (c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}'));
                    let refusable = ctx == Ctx::SingleQuoted && s.contains(|c: char| matches!(c, '\n' | '\r') || unprintable(c));
                    prop_assert!(!matches!(ctx, Ctx::DoubleQuoted | Ctx::SingleQuoted) || refusable, "{:?} refused {:?}: {:?}", ctx, v, errs);
                }
            }
            Err(e @ RenderError::Template { .. }) => {
                // Only a key the loader cannot take (null, a collection, a duplicate) fails as
                // a template rather than as the option; and null, which writes nothing, where
                // the template needs text (`[, end]`): it is no value the check can name.
                prop_assert!(ctx == Ctx::Key || v.is_null(), "{:?} with {:?}: {}", ctx, v, e);
            }
        }
    }

    #[test]
    fn json_templates_keep_strings_inside_json_strings(v in option_value()) {
        let pkg = universe_pkg(r#"{"id": "/web", "cmd": "sleep 1", "cpus": 0.1, "mem": 32, "env": {"K": "{{v}}", "L": "x-{{v}}-y"}}"#);
        match render(&pkg, &json!({"v": v}), &INST) {
            Ok(r) => {
                let env = &r.objects[0]["spec"]["env"];
                prop_assert_eq!(&env["K"], &json!(text(&v)), "{}", r.objects[0]);
                prop_assert_eq!(&env["L"], &json!(format!("x-{}-y", text(&v))));
            }
            Err(RenderError::Options(errs)) => {
                prop_assert!(!v.is_string(), "a string in a JSON string is refused: {:?} {:?}", v, errs);
                prop_assert!(errs.iter().all(|e| e.path == "v" || e.path.starts_with("v.")), "{:?}", errs);
            }
            Err(e) => prop_assert!(!v.is_string(), "{:?}: {}", v, e),
        }
        let numbers = universe_pkg(r#"{"id": "/web", "cmd": "sleep 1", "cpus": {{v}}, "mem": 32}"#);
        if let Ok(r) = render(&numbers, &json!({"v": v}), &INST) {
            prop_assert!(!v.is_string(), "a string written as a JSON number was accepted: {:?} {:?}", v, r.objects);
        }
    }

    #[test]
    fn catalog_packages_with_generated_options(which in any::<usize>(), seed in any::<u64>(), edits in edits(crate::import::FIELDS)) {
        let pkg = &packages()[which % packages().len()];
        let mut rng = Rng::new(seed);
        let mut user = from_schema(&pkg.schema, "options", &mut rng, 0);
        mutate_json(&mut user, &edits, crate::import::FIELDS);
        let first = render(pkg, &user, &INST);
        prop_assert_eq!(&first, &render(pkg, &user, &INST));
        if let Ok(r) = first {
            if !pkg.schema.is_null() {
                let draft = if pkg.layout == Layout::Universe { DefaultDraft::Draft4 } else { DefaultDraft::Latest };
                prop_assert!(validate(&pkg.schema, &r.options, draft).is_ok(), "resolved options do not validate: {}", r.options);
            }
            prop_assert!(r.objects.iter().all(Value::is_object), "{:?}", r.objects);
        }
    }

    #[test]
    fn arbitrary_options_and_schemas(schema in json_value(&["type", "properties", "default", "required", "items", "pattern", "minimum", "maximum", "enum", "$ref", "$schema", "additionalProperties", "a", "b"], 4), user in json_value(&["a", "b"], 3)) {
        for draft in [DefaultDraft::Draft4, DefaultDraft::Latest] {
            let _ = dromos_core::package::options::resolve(&schema, &user, draft);
        }
        let _ = dromos_core::package::options::describe(&schema);
    }

    #[test]
    fn repositories_of_arbitrary_files(files in prop::collection::vec((prop::sample::select(REPO_PATHS), prop_oneof![prop::sample::select(REPO_TEXTS).prop_map(str::to_string), template_text(), "\\PC{0,40}"]), 0..8), user in json_value(&["a", "b"], 2)) {
        let files: Vec<SourceFile> = files.into_iter().map(|(p, t)| SourceFile { path: p.to_string(), bytes: t.into_bytes() }).collect();
        check_repository(&files, &user)?;
    }

    #[test]
    fn damaged_catalog_files(which in any::<usize>(), edits in prop::collection::vec(byte_edit(), 1..4), user in json_value(&["a", "b", "image", "brokers", "count"], 2)) {
        let all = repository_files();
        let i = which % all.len();
        let mut f = all[i].clone();
        for e in &edits {
            apply_byte_edit(&mut f.bytes, e);
        }
        // The damaged file with the rest of its package version.
        let dir: String = f.path.split('/').take(if f.path.starts_with("packages/") { 4 } else { 2 }).collect::<Vec<_>>().join("/");
        let mut files: Vec<SourceFile> = all.iter().filter(|g| g.path.starts_with(&dir) && g.path != f.path).cloned().collect();
        files.push(f);
        check_repository(&files, &user)?;
    }
}

/// Reads a repository and renders every version it holds, with `user` and with the defaults.
fn check_repository(files: &[SourceFile], user: &Value) -> Result<(), TestCaseError> {
    let repo = read_repository(files);
    for p in &repo.problems {
        prop_assert!(files.iter().any(|f| f.path == p.file || f.path.ends_with(&p.file)), "{:?}", p);
    }
    for v in &repo.versions {
        for options in [user, &Value::Null] {
            if let Ok(r) = render(v, options, &INST) {
                prop_assert!(r.objects.iter().all(Value::is_object), "{:?}", r.objects);
                // What the Package operator does with a render: take ownership of every object.
                let _ = dromos_core::install::own_objects(r.objects, "team", Some(&json!({"kind": "Package"})));
            }
        }
        let _ = repo.find(&v.meta.name, Some(&v.meta.version));
        let _ = repo.find(&v.meta.name, None);
    }
    Ok(())
}

/// The catalog and fixture packages render with their defaults, or need an option the schema
/// requires (the base of the mutations).
#[test]
fn the_packages_render_with_their_defaults() {
    for p in packages() {
        match render(p, &Value::Null, &INST) {
            // A service package may render its pod types only (HDFS).
            Ok(r) => assert!(!r.objects.is_empty() || r.service.is_some(), "{}", p.dir),
            Err(RenderError::Options(errs)) if errs.iter().all(|e| e.rule == "required") => {}
            Err(e) => panic!("{}: {e}", p.dir),
        }
    }
}

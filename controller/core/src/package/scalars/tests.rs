//! Injection attempts through option values, refused with the option named; benign values
//! with quotes and colons rendered as the same scalar.

use super::RULE;
use crate::load::SourceFile;
use crate::package::{Instance, Layout, Meta, OptionError, PackageVersion, RenderError, read_repository, render};
use proptest::prelude::*;
use serde_json::{Value, json};

const INST: Instance<'static> = Instance { namespace: "team", name: "demo", source: "test" };

fn pkg(layout: Layout, file: &str, template: &str) -> PackageVersion {
    PackageVersion {
        layout,
        dir: "p/1.0".into(),
        revision: None,
        meta: Meta { name: "p".into(), version: "1.0".into(), ..Default::default() },
        schema: Value::Null,
        resource: Value::Null,
        templates: vec![(file.into(), template.into())],
    }
}

fn yaml(template: &str, options: Value) -> Result<Vec<Value>, RenderError> {
    render(&pkg(Layout::Dromos, "templates/t.yaml.mustache", template), &options, &INST).map(|r| r.objects)
}

/// The errors of a refused render, each of them the `template` rule.
fn refused(r: Result<Vec<Value>, RenderError>) -> Vec<OptionError> {
    match r {
        Err(RenderError::Options(errs)) => {
            assert!(errs.iter().all(|e| e.rule == RULE && e.schema_path.is_empty()), "{errs:?}");
            errs
        }
        other => panic!("expected an option error, got {other:?}"),
    }
}

/// A Pod whose container image is written at `image` (`{{image}}`, `"{{image}}"`, ...).
fn pod(image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{{{instance.name}}}}\nspec:\n  containers:\n    - name: app\n      image: {image}\n      ports: [{{containerPort: 80}}]\n"
    )
}

/// The attack of issue 18: close the quote, start a line, add a key.
const PRIVILEGED: &str = "nginx:1\"\n      securityContext:\n        privileged: true\n      x: \"y";

#[test]
fn a_quote_and_newline_in_a_plain_image_is_refused_naming_the_option_file_and_line() {
    let errs = refused(yaml(&pod("{{image}}"), json!({"image": PRIVILEGED.trim_start_matches("nginx:1\"")})));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "image");
    assert!(errs[0].message.contains("p/1.0/templates/t.yaml.mustache line 8"), "{}", errs[0]);
    assert!(errs[0].to_string().starts_with("image: the value does not stay one scalar"), "{}", errs[0]);
}

#[test]
fn in_a_double_quoted_scalar_the_same_attack_is_escaped_into_one_scalar() {
    let objs = yaml(&pod("\"{{image}}\""), json!({"image": PRIVILEGED})).unwrap();
    let container = &objs[0]["spec"]["containers"][0];
    assert_eq!(container["image"], PRIVILEGED);
    assert!(container.get("securityContext").is_none() && container.get("x").is_none(), "{container}");
    assert_eq!(container["ports"], json!([{"containerPort": 80}]));
}

#[test]
fn colons_braces_and_brackets_that_make_structure_are_refused() {
    for bad in ["a: b", "{privileged: true}", "[a, b]", "x #", "- a", "&a x", "\"open", "*alias"] {
        let errs = refused(yaml(&pod("{{image}}"), json!({"image": bad})));
        assert_eq!(errs[0].path, "image", "{bad}: {errs:?}");
    }
    // In a flow mapping, `}` and `,` end the scalar.
    let flow = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: {{v}}, b: x}\n";
    for bad in ["x}", "x, privileged: true", "x]"] {
        assert_eq!(refused(yaml(flow, json!({"v": bad})))[0].path, "v", "{bad}");
    }
}

#[test]
fn multi_line_values_and_new_documents_are_refused_outside_quotes() {
    let block = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  conf: |\n    image = {{v}}\n    end\n";
    let second_doc = "x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding";
    for bad in ["a\nb", "a\n  extra: key", second_doc, "a\n\n  b"] {
        assert_eq!(refused(yaml(block, json!({"v": bad})))[0].path, "v", "block: {bad:?}");
        assert_eq!(refused(yaml(&pod("{{v}}"), json!({"v": bad})))[0].path, "v", "plain: {bad:?}");
    }
    // A value in a comment cannot start a line either.
    let comment = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n# image {{v}}\ndata: {a: b}\n";
    assert_eq!(refused(yaml(comment, json!({"v": "x\nkind: Secret"})))[0].path, "v");
    assert_eq!(yaml(comment, json!({"v": "x: {y} # z"})).unwrap()[0]["data"], json!({"a": "b"}));
}

#[test]
fn benign_quotes_and_colons_render_as_the_same_scalar() {
    let cases = [
        ("{{v}}", "registry.example.com:5000/team/app:1.2"),
        ("{{v}}", "it's \"quoted\""),
        ("\"{{v}}\"", "a: b, {c} [d] # e 'f' \"g\" \\h"),
        ("'{{v}}'", "it's: [ok] \"yes\""),
        ("x-{{v}}", "a:b"),
    ];
    for (at, v) in cases {
        let objs = yaml(&pod(at), json!({"v": v, "image": v})).unwrap();
        let want = if at.starts_with("x-") { format!("x-{v}") } else { v.to_string() };
        assert_eq!(objs[0]["spec"]["containers"][0]["image"], want.as_str(), "{at} with {v}");
    }
    // A block scalar keeps a one-line value with any punctuation.
    let block = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  conf: |\n    image = {{v}}\n";
    let v = "a: b # \"c\" {d} [e] --- 'f'";
    assert_eq!(yaml(block, json!({"v": v})).unwrap()[0]["data"]["conf"], format!("image = {v}\n"));
}

#[test]
fn objects_render_as_one_collection_and_every_error_names_its_option() {
    let t = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeSelector: {{{sel}}}\n  containers: [{name: a, image: \"{{image}}\"}]\n";
    let sel = json!({"disk\": ssd\nx": "a\"b", "zone": "z: 1"});
    let objs = yaml(t, json!({"sel": sel, "image": "i"})).unwrap();
    assert_eq!(objs[0]["spec"]["nodeSelector"], sel);
    // An object where the template writes a quoted scalar cannot stand there.
    let errs = refused(yaml(t, json!({"sel": {}, "image": {"a": "b"}})));
    assert_eq!(errs[0].path, "image");
    // Values of a list are named with their index; every template is checked.
    let racks = "{{#racks}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{name}}}\n{{/racks}}\n";
    let mut p = pkg(Layout::Dromos, "templates/a.yaml.mustache", racks);
    p.templates.push(("templates/b.yaml.mustache".into(), pod("{{image}}")));
    let opts = json!({"racks": [{"name": "r1"}, {"name": "r2\nkind: Secret"}], "image": "x: y"});
    let Err(RenderError::Options(errs)) = render(&p, &opts, &INST) else { panic!() };
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["racks.1.name", "image"]);
    assert!(errs[1].message.contains("templates/b.yaml.mustache"), "{}", errs[1]);
}

const APP: &str = r#"{"id": "/web", "cmd": "sleep 10", "cpus": {{cpus}}, "mem": 64, "instances": 1,
  "env": {"GREETING": "{{greeting}}"}}"#;

fn json_app(options: Value) -> Result<Vec<Value>, RenderError> {
    render(&pkg(Layout::Universe, "marathon.json.mustache", APP), &options, &INST).map(|r| r.objects)
}

fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

#[test]
fn json_templates_keep_strings_inside_json_strings() {
    let greeting = "hi\", \"PRIVILEGED\": \"true";
    let objs = json_app(json!({"cpus": 0.5, "greeting": greeting})).unwrap();
    assert_eq!(find(&objs[0], "GREETING"), Some(&json!(greeting)));
    assert!(find(&objs[0], "PRIVILEGED").is_none(), "{}", objs[0]);
    // A string where the template writes a number breaks out of the value.
    let errs = refused(json_app(json!({"cpus": "1, \"user\": \"root\"", "greeting": "g"})));
    assert_eq!(errs[0].path, "cpus");
    assert!(errs[0].message.contains("outside a JSON string"), "{}", errs[0]);
    assert_eq!(refused(json_app(json!({"cpus": "2", "greeting": "g"})))[0].path, "cpus");
    assert!(json_app(json!({"cpus": 2, "greeting": "g"})).is_ok());
}

fn kafka() -> PackageVersion {
    let file = |path: &str, text: &str| SourceFile { path: format!("kafka/3.9.1/{path}"), bytes: text.into() };
    let files = [
        file("package.yaml", include_str!("../../../../../packages/kafka/3.9.1/package.yaml")),
        file("options.schema.json", include_str!("../../../../../packages/kafka/3.9.1/options.schema.json")),
        file("service.yaml.mustache", include_str!("../../../../../packages/kafka/3.9.1/service.yaml.mustache")),
    ];
    read_repository(&files).find("kafka", None).unwrap().clone()
}

#[test]
fn the_kafka_image_attack_is_refused_by_the_schema_and_escaped_by_the_renderer() {
    let attack = "apache/kafka:3.9.1\"\n          securityContext:\n            privileged: true\n          x: \"";
    let k = kafka();
    let Err(RenderError::Options(errs)) = render(&k, &json!({"image": attack}), &INST) else { panic!() };
    assert_eq!((errs[0].path.as_str(), errs[0].rule.as_str()), ("image", "pattern"));
    // Without the pattern, the value is one scalar: the image, nothing privileged.
    let mut open = k.clone();
    open.schema["properties"]["image"].as_object_mut().unwrap().remove("pattern");
    let spec = render(&open, &json!({"image": attack}), &INST).unwrap().service.unwrap();
    assert_eq!(spec.pods["broker"].image.as_deref(), Some(attack));
    assert!(!format!("{spec:?}").contains("privileged: true\n"), "{spec:?}");
    // Defaults render as before.
    let plain = render(&k, &Value::Null, &INST).unwrap().service.unwrap();
    assert_eq!(plain.pods["broker"].image.as_deref(), Some("docker.io/apache/kafka:3.9.1"));
}

#[test]
fn double_quoted_escapes_round_trip_control_characters() {
    let v = "tab\there\r\n\u{0}\u{7f}\u{85}\u{2028}\u{feff}é😀\\";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: \"{{v}}\"}\n";
    assert_eq!(yaml(cm, json!({"v": v})).unwrap()[0]["data"]["v"], v);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the string, a value stays exactly itself in one scalar, or is refused as a
    /// template error naming it: never another structure.
    #[test]
    fn any_string_stays_one_scalar_or_is_refused(v in "[ -~\n\t\"'#:{}\\[\\],&*!|>%@`-]{0,24}") {
        let contexts = [
            ("\"{{v}}\"", v.clone()),
            ("'{{v}}'", v.clone()),
            ("x-{{v}}", format!("x-{v}")),
        ];
        for (at, want) in contexts {
            let t = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n  v: {at}\n  w: end\n");
            match yaml(&t, json!({"v": v})) {
                Ok(objs) => {
                    prop_assert_eq!(objs.len(), 1);
                    prop_assert_eq!(&objs[0]["data"], &json!({"v": want, "w": "end"}), "{}", at);
                }
                Err(RenderError::Options(errs)) => {
                    prop_assert!(!at.contains('"'), "double-quoted refused {:?}: {:?}", v, errs);
                    prop_assert_eq!(errs[0].path.as_str(), "v");
                }
                Err(e) => prop_assert!(false, "{:?}: {}", v, e),
            }
        }
    }
}

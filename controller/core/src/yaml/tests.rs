//! Parsing: positions, anchors, budgets, scalars, syntax errors.

use super::*;
use serde_json::json;

fn one(text: &str) -> Document {
    let mut docs = parse_documents(text, Budget::default()).unwrap();
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn scalars_follow_the_yaml_1_2_core_schema() {
    let d = one("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: yes\ng: 0x1F\nh: -3\ni: 1e3\n");
    assert_eq!(d.value, json!({"a":1,"b":1.5,"c":true,"d":null,"e":"1","f":"yes","g":31,"h":-3,"i":1000.0}));
}

#[test]
fn positions_are_recorded_per_field() {
    let d = one("spec:\n  instances: 3\n  constraints:\n    - [hostname, UNIQUE]\n");
    assert_eq!(d.index.pos("spec.instances"), Pos { line: 2, col: 3 });
    assert_eq!(d.index.pos("spec.constraints[0]"), Pos { line: 4, col: 7 });
    assert_eq!(d.index.pos("spec.constraints[0][1]"), Pos { line: 4, col: 18 });
    // Unknown paths fall back to the nearest ancestor.
    assert_eq!(d.index.pos("spec.instances.nope"), Pos { line: 2, col: 3 });
}

#[test]
fn hashed_paths_match_the_display_text() {
    let d = one("a:\n  \"odd key\": [x, {y: 1}]\n");
    assert_eq!(d.index.pos("a[\"odd key\"][1].y"), Pos { line: 2, col: 19 });
    assert_eq!(d.index.pos(&join_key(&join_index(&join_key("a", "odd key"), 1), "y")), Pos { line: 2, col: 19 });
    assert!(d.index.contains("a[\"odd key\"][0]"));
    assert!(!d.index.contains("a.odd key"));
}

#[test]
fn json_is_yaml() {
    let d = one("{\n  \"kind\": \"App\",\n  \"spec\": {\"cpus\": 0.5}\n}\n");
    assert_eq!(d.value, json!({"kind":"App","spec":{"cpus":0.5}}));
    assert_eq!(d.index.pos("spec.cpus"), Pos { line: 3, col: 12 });
}

#[test]
fn multi_document_files_skip_empty_documents() {
    let docs = parse_documents("---\na: 1\n---\n---\nb: 2\n", Budget::default()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].pos.line, 5);
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let d = one("base: &b {cpus: 1, mem: 64}\napp:\n  <<: *b\n  mem: 128\n");
    assert_eq!(d.value["app"], json!({"mem":128,"cpus":1}));
}

#[test]
fn duplicate_keys_are_errors() {
    let e = parse_documents("a: 1\nb: 2\na: 3\n", Budget::default()).unwrap_err();
    assert_eq!(e.code, "yaml-duplicate-key");
    assert_eq!(e.pos.line, 3);
}

#[test]
fn billion_laughs_fails_fast() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let e = parse_documents(&text, Budget::default()).unwrap_err();
    assert_eq!(e.code, "yaml-budget");
    assert!(e.message.contains("alias"), "{e}");
}

#[test]
fn deep_nesting_is_refused() {
    let text: String =
        (0..150).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect::<String>() + &" ".repeat(150) + "v\n";
    let e = parse_documents(&text, Budget::default()).unwrap_err();
    assert_eq!(e.code, "yaml-budget", "{e}");
    // Flow nesting is bounded by the parser itself.
    let text = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(parse_documents(&text, Budget::default()).is_err());
}

#[test]
fn syntax_errors_have_positions() {
    let e = parse_documents("a: [1, 2\nb: 3\n", Budget::default()).unwrap_err();
    assert_eq!(e.code, "yaml-syntax");
    assert!(e.pos.line >= 1);
}

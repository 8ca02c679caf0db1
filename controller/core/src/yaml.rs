//! Spanned YAML loading with budgets (pure).
//!
//! Parses YAML 1.2 (and therefore JSON) with `saphyr-parser` into JSON values while recording
//! the position of every field, so later steps can point at the exact line and column. Anchors,
//! aliases and merge keys (`<<`) are supported, with a budget on the nodes that aliases
//! expand to and on nesting depth: a "billion laughs" document fails fast with bounded memory.

use crate::diag::Pos;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::fmt;

/// Limits applied while parsing one file.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Maximum nodes (scalars and collections) in one file, aliases expanded.
    pub max_nodes: usize,
    /// Maximum nodes created by expanding aliases, across the file.
    pub max_alias_nodes: usize,
    /// Maximum nesting depth.
    pub max_depth: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self { max_nodes: 4_000_000, max_alias_nodes: 100_000, max_depth: 100 }
    }
}

/// Why a file could not be parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    /// Where parsing stopped.
    pub pos: Pos,
    /// What went wrong.
    pub message: String,
    /// Stable code: `yaml-syntax`, `yaml-budget`, `yaml-duplicate-key`, `yaml-key`.
    pub code: &'static str,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

/// Positions of fields inside one document, keyed by display path (`spec.ports[0].name`).
/// The root has the empty path.
///
/// Paths are stored as 64-bit FNV-1a hashes of their display text, computed incrementally while
/// parsing, so recording a position allocates nothing; a lookup hashes the queried text.
/// Entries are kept in a sorted vector (16 bytes each, no slack): a large tree holds one
/// index per document.
#[derive(Clone, Debug, Default)]
pub struct PathIndex {
    positions: Vec<(u64, Pos)>,
}

const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The hash of a display path, extended segment by segment exactly as [`join_key`] and
/// [`join_index`] extend the text.
#[derive(Clone, Copy, Debug)]
struct PathHash {
    hash: u64,
    empty: bool,
}

impl PathHash {
    fn root() -> Self {
        Self { hash: FNV_OFFSET, empty: true }
    }
    fn key(self, key: &str) -> Self {
        let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let hash = if plain {
            let h = if self.empty { self.hash } else { fnv(self.hash, b".") };
            fnv(h, key.as_bytes())
        } else {
            fnv(self.hash, format!("[{key:?}]").as_bytes())
        };
        Self { hash, empty: false }
    }
    fn index(self, i: usize) -> Self {
        let mut buf = itoa_buf(i);
        buf.insert(0, b'[');
        buf.push(b']');
        Self { hash: fnv(self.hash, &buf), empty: false }
    }
}

fn itoa_buf(mut i: usize) -> Vec<u8> {
    let mut digits = Vec::with_capacity(8);
    loop {
        digits.push(b'0' + (i % 10) as u8);
        i /= 10;
        if i == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

impl PathIndex {
    fn get(&self, hash: u64) -> Option<Pos> {
        self.positions.binary_search_by_key(&hash, |e| e.0).ok().map(|i| self.positions[i].1)
    }

    /// Position of `path`, or of its nearest recorded ancestor.
    pub fn pos(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.get(fnv(FNV_OFFSET, p.as_bytes())) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.get(FNV_OFFSET).unwrap_or_default(),
            }
        }
    }

    /// True when the exact path was present in the source.
    pub fn contains(&self, path: &str) -> bool {
        self.get(fnv(FNV_OFFSET, path.as_bytes())).is_some()
    }

    fn insert(&mut self, path: PathHash, pos: Pos) {
        self.positions.push((path.hash, pos));
    }

    /// Sorts for lookups; the first position recorded for a path wins.
    fn seal(&mut self) {
        self.positions.sort_by_key(|e| e.0);
        self.positions.dedup_by_key(|e| e.0);
        self.positions.shrink_to_fit();
    }
}

/// One parsed document.
#[derive(Clone, Debug)]
pub struct Document {
    /// The document as JSON.
    pub value: Value,
    /// Field positions.
    pub index: PathIndex,
    /// Where the document starts.
    pub pos: Pos,
}

/// Appends a map key to a display path.
pub fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// Appends a sequence index to a display path.
pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn pos_of(span: &Span) -> Pos {
    Pos { line: span.start.line() as u32, col: span.start.col() as u32 + 1 }
}

/// A spanned node before conversion to JSON.
#[derive(Clone, Debug)]
enum Node {
    Scalar(Value, Pos),
    Seq(Vec<Node>, Pos),
    Map(Vec<(Node, Node)>, Pos),
}

impl Node {
    fn pos(&self) -> Pos {
        match self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) => *p,
        }
    }
    fn size(&self) -> usize {
        match self {
            Node::Scalar(..) => 1,
            Node::Seq(items, _) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Node::Map(entries, _) => 1 + entries.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>(),
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    alias_nodes: usize,
    budget: Budget,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(YamlError {
                pos: Pos { line: e.marker().line() as u32, col: e.marker().col() as u32 + 1 },
                message: e.info().to_string(),
                code: "yaml-syntax",
            }),
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > self.budget.max_nodes {
            return Err(YamlError {
                pos,
                message: format!("document has more than {} nodes", self.budget.max_nodes),
                code: "yaml-budget",
            });
        }
        Ok(())
    }

    /// Builds the node that starts with `ev`.
    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<Node, YamlError> {
        let pos = pos_of(&span);
        if depth > self.budget.max_depth {
            return Err(YamlError {
                pos,
                message: format!("nesting deeper than {} levels", self.budget.max_depth),
                code: "yaml-budget",
            });
        }
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, pos)?;
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                (Node::Scalar(resolve_scalar(&text, style, tag.as_deref()), pos), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.count(1, pos)?;
                let mut items = Vec::new();
                loop {
                    let Some((ev, span)) = self.next()? else { return Err(eof(pos)) };
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span, depth + 1)?);
                }
                (Node::Seq(items, pos), anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.count(1, pos)?;
                let mut entries = Vec::new();
                loop {
                    let Some((ev, span)) = self.next()? else { return Err(eof(pos)) };
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(ev, span, depth + 1)?;
                    let Some((ev, span)) = self.next()? else { return Err(eof(pos)) };
                    let value = self.node(ev, span, depth + 1)?;
                    entries.push((key, value));
                }
                (Node::Map(entries, pos), anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(YamlError { pos, message: "alias to an unknown anchor".into(), code: "yaml-syntax" });
                };
                let size = target.size();
                self.alias_nodes += size;
                if self.alias_nodes > self.budget.max_alias_nodes {
                    return Err(YamlError {
                        pos,
                        message: format!(
                            "aliases expand to more than {} nodes (alias bomb?)",
                            self.budget.max_alias_nodes
                        ),
                        code: "yaml-budget",
                    });
                }
                let copy = target.clone();
                self.count(size, pos)?;
                return Ok(copy);
            }
            other => {
                return Err(YamlError {
                    pos,
                    message: format!("unexpected YAML event {other:?}"),
                    code: "yaml-syntax",
                });
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn eof(pos: Pos) -> YamlError {
    YamlError { pos, message: "unexpected end of input".into(), code: "yaml-syntax" }
}

/// Resolves a scalar with the YAML 1.2 core schema (JSON-compatible). Quoted and block scalars
/// are strings; `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` tags are honoured.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("tag:yaml.org,2002:str") | Some("!!str") => return Value::String(text.to_string()),
        Some("tag:yaml.org,2002:null") | Some("!!null") => return Value::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain && tag.is_none() {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n.into());
    }
    if let Some(f) = parse_float(text)
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    // .inf and .nan have no JSON form; keep the text so the schema check reports it.
    Value::String(text.to_string())
}

fn parse_int(t: &str) -> Option<i64> {
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = digits.strip_prefix("0x") {
        if t.starts_with(['-', '+']) {
            return None;
        }
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        if t.starts_with(['-', '+']) {
            return None;
        }
        i64::from_str_radix(o, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn parse_float(t: &str) -> Option<f64> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(if t.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if matches!(body, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let bytes = body.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int_part = digits(&mut i);
    let mut frac = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if int_part == 0 && frac == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Parses every document of a YAML (or JSON) text. Empty documents are skipped.
pub fn parse_documents(text: &str, budget: Budget) -> Result<Vec<Document>, YamlError> {
    let mut b =
        Builder { parser: Parser::new_from_str(text), anchors: HashMap::new(), nodes: 0, alias_nodes: 0, budget };
    let mut docs = Vec::new();
    while let Some((ev, span)) = b.next()? {
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                b.anchors.clear();
                let Some((ev, span)) = b.next()? else { break };
                if matches!(ev, Event::DocumentEnd) {
                    continue;
                }
                let node = b.node(ev, span, 0)?;
                let mut index = PathIndex::default();
                let pos = node.pos();
                let value = to_json(node, PathHash::root(), &mut index)?;
                index.seal();
                if !value.is_null() {
                    docs.push(Document { value, index, pos });
                }
            }
            other => {
                return Err(YamlError {
                    pos: pos_of(&span),
                    message: format!("unexpected YAML event {other:?}"),
                    code: "yaml-syntax",
                });
            }
        }
    }
    Ok(docs)
}

fn key_string(key: &Node) -> Result<String, YamlError> {
    match key {
        Node::Scalar(Value::String(s), _) => Ok(s.clone()),
        // Like sigs.k8s.io/yaml: numbers and booleans used as keys become their text.
        Node::Scalar(Value::Number(n), _) => Ok(n.to_string()),
        Node::Scalar(Value::Bool(b), _) => Ok(b.to_string()),
        other => Err(YamlError { pos: other.pos(), message: "mapping keys must be strings".into(), code: "yaml-key" }),
    }
}

fn to_json(node: Node, path: PathHash, index: &mut PathIndex) -> Result<Value, YamlError> {
    match node {
        Node::Scalar(v, pos) => {
            index.insert(path, pos);
            Ok(v)
        }
        Node::Seq(items, pos) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let p = path.index(i);
                index.insert(p, item.pos());
                out.push(to_json(item, p, index)?);
            }
            index.insert(path, pos);
            Ok(Value::Array(out))
        }
        Node::Map(entries, pos) => {
            let mut out = Map::new();
            let mut merged: Vec<(String, Value, Pos)> = Vec::new();
            for (k, v) in entries {
                let kpos = k.pos();
                if matches!(&k, Node::Scalar(Value::String(s), _) if s == "<<") {
                    // Merge key: explicit keys win, earlier merged maps win over later ones.
                    let sources = match v {
                        Node::Seq(items, _) => items,
                        single => vec![single],
                    };
                    for src in sources {
                        let Node::Map(src_entries, _) = src else {
                            return Err(YamlError {
                                pos: kpos,
                                message: "`<<` must merge a mapping".into(),
                                code: "yaml-key",
                            });
                        };
                        for (sk, sv) in src_entries {
                            let name = key_string(&sk)?;
                            let vpos = sk.pos();
                            let value = to_json(sv, path.key(&name), index)?;
                            merged.push((name, value, vpos));
                        }
                    }
                    continue;
                }
                let name = key_string(&k)?;
                if out.contains_key(&name) {
                    return Err(YamlError {
                        pos: kpos,
                        message: format!("duplicate key `{name}`"),
                        code: "yaml-duplicate-key",
                    });
                }
                let p = path.key(&name);
                index.insert(p, kpos);
                let value = to_json(v, p, index)?;
                out.insert(name, value);
            }
            for (name, value, vpos) in merged {
                if !out.contains_key(&name) {
                    index.insert(path.key(&name), vpos);
                    out.insert(name, value);
                }
            }
            index.insert(path, pos);
            Ok(Value::Object(out))
        }
    }
}

#[cfg(test)]
mod tests {
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
}

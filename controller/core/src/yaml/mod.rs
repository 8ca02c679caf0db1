//! Spanned YAML loading with budgets (pure).
//!
//! Parses YAML 1.2 (and therefore JSON) with `saphyr-parser` into JSON values while recording
//! the position of every field, so later steps can point at the exact line and column. Anchors,
//! aliases and merge keys (`<<`) are supported, with a budget on the nodes that aliases
//! expand to and on nesting depth: a "billion laughs" document fails fast with bounded memory.

mod index;
mod scalar;

pub use index::{PathIndex, join_index, join_key};

use crate::diag::Pos;
use index::PathHash;
use saphyr_parser::{Event, Parser, Span};
use scalar::resolve_scalar;
use serde_json::{Map, Value};
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
        Self { max_nodes: 1_000_000, max_alias_nodes: 100_000, max_depth: 100 }
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

/// Parses every document of a YAML (or JSON) text. Empty documents are skipped.
pub fn parse_documents(text: &str, budget: Budget) -> Result<Vec<Document>, YamlError> {
    parse_documents_counted(text, budget).map(|(docs, _)| docs)
}

/// [`parse_documents`], and the nodes the text held (aliases expanded).
pub fn parse_documents_counted(text: &str, budget: Budget) -> Result<(Vec<Document>, usize), YamlError> {
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
    Ok((docs, b.nodes))
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
mod tests;

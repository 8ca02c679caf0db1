//! Mustache templates over JSON values, as Cosmos renders Universe packages.
//!
//! Supported: variables `{{a.b}}`, unescaped `{{{a}}}` and `{{& a}}` (the same thing here,
//! since HTML escaping is off as in Cosmos), sections `{{#a}}..{{/a}}`, inverted sections
//! `{{^a}}..{{/a}}`, comments `{{! .. }}`, the implicit iterator `{{.}}`, dotted names resolved
//! up the context stack, and standalone lines (a section, inverted, closing or comment tag
//! alone on its line leaves no blank line). Not supported, and reported as errors: partials
//! and delimiter changes (Universe packages use neither).
//!
//! Values (`render`): strings as they are, numbers and booleans as JSON writes them, null and
//! missing names as nothing, objects and arrays as compact JSON. `render_with` lets the caller
//! write each value: packages escape it for the scalar it lands in (`package/scalars/`). Falsy
//! for sections: missing, null, false, the empty string and the empty list.

use serde_json::Value;

/// A template error: 1-based line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TemplateError {
    /// Line of the offending tag.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug)]
enum Node {
    Text(String),
    Var(String, usize),
    Section { name: String, inverted: bool, children: Vec<Node> },
}

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug)]
enum Tok {
    Text(String),
    Var(String, usize),
    Open(String, bool, usize),
    Close(String, usize),
}

fn line_at(src: &str, at: usize) -> usize {
    src[..at].matches('\n').count() + 1
}

fn tokenize(src: &str) -> Result<Vec<Tok>, TemplateError> {
    let mut toks = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < src.len() {
        let Some(off) = src[i..].find("{{") else {
            text.push_str(&src[i..]);
            break;
        };
        let start = i + off;
        text.push_str(&src[i..start]);
        let line = line_at(src, start);
        let triple = src[start..].starts_with("{{{");
        let (inner_start, closer) = if triple { (start + 3, "}}}") } else { (start + 2, "}}") };
        let Some(len) = src[inner_start..].find(closer) else {
            return Err(TemplateError {
                line,
                message: format!("tag opened with `{}` is never closed", &closer.replace('}', "{")),
            });
        };
        let inner = src[inner_start..inner_start + len].trim();
        let end = inner_start + len + closer.len();
        let sigil = if triple { '{' } else { inner.chars().next().unwrap_or(' ') };
        let name = |s: &str| s.trim().to_string();
        let standalone_kind = matches!(sigil, '#' | '^' | '/' | '!') && !triple;
        // Standalone: only whitespace between the previous newline (or start) and the tag,
        // and between the tag and the next newline (or end).
        let mut after = end;
        if standalone_kind {
            let line_start = text.rfind('\n').map_or(0, |p| p + 1);
            let rest = &src[end..];
            let nl = rest.find('\n');
            let after_ws = rest[..nl.unwrap_or(rest.len())].chars().all(|c| c == ' ' || c == '\t' || c == '\r');
            if after_ws && line_starts_here(src, start) {
                text.truncate(line_start);
                after = nl.map_or(src.len(), |n| end + n + 1);
            }
        }
        if !text.is_empty() {
            toks.push(Tok::Text(std::mem::take(&mut text)));
        }
        match sigil {
            '{' => toks.push(Tok::Var(name(inner), line)),
            '&' => toks.push(Tok::Var(name(&inner[1..]), line)),
            '#' => toks.push(Tok::Open(name(&inner[1..]), false, line)),
            '^' => toks.push(Tok::Open(name(&inner[1..]), true, line)),
            '/' => toks.push(Tok::Close(name(&inner[1..]), line)),
            '!' => {}
            '>' => return Err(TemplateError { line, message: "partials ({{> name}}) are not supported".into() }),
            '=' => {
                return Err(TemplateError {
                    line,
                    message: "delimiter changes ({{=<% %>=}}) are not supported".into(),
                });
            }
            _ => toks.push(Tok::Var(name(inner), line)),
        }
        i = after;
    }
    if !text.is_empty() {
        toks.push(Tok::Text(text));
    }
    Ok(toks)
}

/// True when only spaces or tabs precede `at` on its line in the source.
fn line_starts_here(src: &str, at: usize) -> bool {
    let line_start = src[..at].rfind('\n').map_or(0, |p| p + 1);
    src[line_start..at].chars().all(|c| c == ' ' || c == '\t')
}

fn build(toks: &mut std::vec::IntoIter<Tok>, open: Option<(&str, usize)>) -> Result<Vec<Node>, TemplateError> {
    let mut nodes = Vec::new();
    while let Some(t) = toks.next() {
        match t {
            Tok::Text(s) => nodes.push(Node::Text(s)),
            Tok::Var(n, line) => nodes.push(Node::Var(n, line)),
            Tok::Open(name, inverted, line) => {
                let children = build(toks, Some((&name, line)))?;
                nodes.push(Node::Section { name, inverted, children });
            }
            Tok::Close(name, line) => {
                return match open {
                    Some((o, _)) if o == name => Ok(nodes),
                    Some((o, _)) => {
                        Err(TemplateError { line, message: format!("`{{{{/{name}}}}}` closes `{{{{#{o}}}}}`") })
                    }
                    None => Err(TemplateError { line, message: format!("`{{{{/{name}}}}}` closes no open section") }),
                };
            }
        }
    }
    match open {
        Some((o, line)) => Err(TemplateError { line, message: format!("section `{o}` is never closed") }),
        None => Ok(nodes),
    }
}

impl Template {
    /// Parses a template.
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        let toks = tokenize(src)?;
        let nodes = build(&mut toks.into_iter(), None)?;
        Ok(Self { nodes })
    }

    /// Whether the template's literal text contains `needle` (tags and values aside).
    pub fn text_contains(&self, needle: &str) -> bool {
        fn any(nodes: &[Node], needle: &str) -> bool {
            nodes.iter().any(|n| match n {
                Node::Text(t) => t.contains(needle),
                Node::Var(..) => false,
                Node::Section { children, .. } => any(children, needle),
            })
        }
        any(&self.nodes, needle)
    }

    /// Renders with `data` as the root context, every value written as it is (see the module
    /// comment).
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        self.render_with(data, &mut |hole, out| write_value(hole.value, out))
    }

    /// Renders with `data` as the root context; `fill` writes each interpolated value, in
    /// output order, so a caller can escape or replace it and record where it landed. A render
    /// longer than [`MAX_OUTPUT`] stops there and is an error: sections over lists nest, and a
    /// few options could otherwise multiply a template into gigabytes.
    pub fn render_with(
        &self,
        data: &Value,
        fill: &mut dyn FnMut(&Hole<'_>, &mut String),
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut stack = vec![Frame { value: data, path: String::new() }];
        render_nodes(&self.nodes, &mut stack, &mut out, fill).map_err(|line| TemplateError {
            line,
            message: format!("the render exceeds {} MiB (sections over long option lists?)", MAX_OUTPUT >> 20),
        })?;
        Ok(out)
    }
}

/// The longest render of one template, in bytes.
pub const MAX_OUTPUT: usize = 16 << 20;

/// One interpolation met while rendering: a variable tag and the value it names.
#[derive(Debug)]
pub struct Hole<'a> {
    /// Dotted path of the value in the data (`kafka.image`, `racks.0.name`).
    pub path: String,
    /// Line of the tag in the template.
    pub line: usize,
    /// The value (never `Null`: null and missing names write nothing and are not holes).
    pub value: &'a Value,
}

/// Writes a value as the renderer does by default: strings as they are, numbers and booleans
/// as JSON writes them, objects and arrays as compact JSON.
pub fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        other => out.push_str(&other.to_string()),
    }
}

/// A context on the stack and its dotted path in the data.
struct Frame<'a> {
    value: &'a Value,
    path: String,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

fn lookup<'a>(stack: &[Frame<'a>], name: &str) -> Option<(&'a Value, String)> {
    if name == "." {
        return stack.last().map(|f| (f.value, f.path.clone()));
    }
    let mut parts = name.split('.');
    let first = parts.next()?;
    let (mut v, frame) =
        stack.iter().rev().find_map(|f| f.value.as_object().and_then(|m| m.get(first)).map(|v| (v, f)))?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some((v, join(&frame.path, name)))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => true,
    }
}

/// Renders `nodes`; `Err(line)` once the output passes [`MAX_OUTPUT`] (the line of the last
/// tag written, 0 for text).
fn render_nodes<'a>(
    nodes: &'a [Node],
    stack: &mut Vec<Frame<'a>>,
    out: &mut String,
    fill: &mut dyn FnMut(&Hole<'_>, &mut String),
) -> Result<(), usize> {
    for n in nodes {
        match n {
            Node::Text(s) => {
                if out.len() + s.len() > MAX_OUTPUT {
                    return Err(0);
                }
                out.push_str(s)
            }
            Node::Var(name, line) => {
                if let Some((value, path)) = lookup(stack, name).filter(|(v, _)| !v.is_null()) {
                    fill(&Hole { path, line: *line, value }, out);
                    if out.len() > MAX_OUTPUT {
                        return Err(*line);
                    }
                }
            }
            Node::Section { name, inverted, children } => {
                let found = lookup(stack, name);
                let v = found.as_ref().map(|(v, _)| *v);
                if *inverted {
                    if !truthy(v) {
                        render_nodes(children, stack, out, fill)?;
                    }
                    continue;
                }
                if !truthy(v) {
                    continue;
                }
                let Some((v, path)) = found else { continue };
                let items: Vec<(&Value, String)> = match v {
                    Value::Array(a) => a.iter().enumerate().map(|(i, x)| (x, format!("{path}.{i}"))).collect(),
                    other => vec![(other, path)],
                };
                for (value, path) in items {
                    stack.push(Frame { value, path });
                    let r = render_nodes(children, stack, out, fill);
                    stack.pop();
                    r?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, d: Value) -> String {
        Template::parse(t).unwrap().render(&d).unwrap()
    }

    #[test]
    fn nested_sections_cannot_multiply_a_render_past_the_budget() {
        // 3 nested sections over 1,000 items each: 10^9 copies of the text without a budget.
        let items: Vec<Value> = (0..1000).map(|i| json!({"i": i})).collect();
        let t = Template::parse("{{#a}}{{#a}}{{#a}}0123456789{{/a}}{{/a}}{{/a}}").unwrap();
        let e = t.render(&json!({"a": items})).unwrap_err();
        assert!(e.message.contains("exceeds 16 MiB"), "{e}");
    }

    #[test]
    fn variables_are_not_html_escaped() {
        assert_eq!(r("{{a}} {{{a}}} {{& a}}", json!({"a": "<x&\"y\">"})), "<x&\"y\"> <x&\"y\"> <x&\"y\">");
        assert_eq!(r("{{n}}/{{b}}/{{z}}/{{missing}}", json!({"n": 1.5, "b": true, "z": null})), "1.5/true//");
    }

    #[test]
    fn dotted_names_resolve_up_the_stack() {
        let d = json!({"service": {"name": "k", "tls": {"on": true}}, "kafka": {"cpus": 2}});
        assert_eq!(r("{{#service.tls.on}}{{service.name}}:{{kafka.cpus}}{{/service.tls.on}}", d), "k:2");
    }

    #[test]
    fn sections_iterate_lists_and_inverted_sections_render_on_falsy() {
        let d = json!({"xs": [{"v": 1}, {"v": 2}], "e": [], "f": false, "s": ""});
        assert_eq!(r("{{#xs}}[{{v}}]{{/xs}}{{^e}}E{{/e}}{{^f}}F{{/f}}{{^s}}S{{/s}}{{#f}}no{{/f}}", d), "[1][2]EFS");
        assert_eq!(r("{{#xs}}{{.}}{{/xs}}", json!({"xs": ["a", "b"]})), "ab");
    }

    #[test]
    fn standalone_section_lines_leave_no_blank_line() {
        let t = "a: 1\n  {{#on}}\nb: 2\n  {{/on}}\n{{! note }}\nc: 3\n";
        assert_eq!(r(t, json!({"on": true})), "a: 1\nb: 2\nc: 3\n");
        assert_eq!(r(t, json!({"on": false})), "a: 1\nc: 3\n");
    }

    #[test]
    fn structural_errors_name_the_line() {
        assert_eq!(Template::parse("x\n{{#a}}\n{{/b}}").unwrap_err().line, 3);
        assert!(Template::parse("{{#a}}").unwrap_err().message.contains("never closed"));
        assert!(Template::parse("{{> p}}").unwrap_err().message.contains("partials"));
        assert!(Template::parse("{{a").is_err());
    }
}

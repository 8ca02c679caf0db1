//! Interpolated values stay where the template writes them (pure).
//!
//! A template is rendered twice. The *probe* writes a placeholder token (letters and digits,
//! valid in every YAML and JSON scalar position) for every string value and for every key and
//! string inside an object or array value; numbers and booleans are written as they are (their
//! text cannot form YAML or JSON syntax). Parsing the probe tells, for each token, the style
//! of the scalar it landed in. The *real* render then writes each string escaped for that
//! style: inside a double-quoted scalar (every JSON string) with YAML/JSON escape sequences,
//! inside a single-quoted one with `'` doubled, elsewhere as it is. Last, both texts are parsed
//! into YAML events side by side: they must be the same events, and every scalar of the real
//! text must read exactly as the probe's with each token replaced by its value. Anything else
//! (a new key, a second document, a scalar cut by ` #` or reshaped by a line break, a text
//! that no longer parses) means a value changed the structure: the value whose text is at, or
//! last before, the first difference is named. In a JSON template (Universe layout) a string
//! value must land inside a JSON string. See docs/dcos/packages.md, "Option values".

use super::Layout;
use super::mustache::{Template, write_value};
use super::options::OptionError;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The `rule` of an [`OptionError`] for a value that would change a rendered document.
pub const RULE: &str = "template";

/// Why a checked render failed.
#[derive(Debug)]
pub(super) enum CheckError {
    /// Values that do not stay one scalar (or one collection) where they are written.
    Options(Vec<OptionError>),
    /// The template does not render to YAML (JSON) even with neutral values: what is wrong.
    Template(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A number or a boolean: written as it is in both renders.
    Literal,
    /// A string: one token.
    Text,
    /// An object or array: compact JSON, a token per key and string.
    Tree,
}

/// Where a render put something: char offsets (what the YAML parser reports) and lines.
#[derive(Clone, Copy, Debug, Default)]
struct At {
    start: usize,
    end: usize,
    start_line: usize,
    end_line: usize,
}

/// One interpolation of the render.
#[derive(Debug)]
struct Slot {
    path: String,
    line: usize,
    kind: Kind,
    /// Its tokens (`Text`: one; `Tree`: one per key and string).
    tokens: std::ops::Range<usize>,
    probe: At,
    real: At,
    /// Its text holds characters other than letters, digits and `._/@+=,:-`.
    suspicious: bool,
}

/// Placeholder tokens: `<prefix><index>z`, and the value each stands for.
struct Tokens {
    prefix: String,
    raw: Vec<String>,
}

impl Tokens {
    fn push(&mut self, raw: &str) -> String {
        self.raw.push(raw.to_string());
        format!("{}{}z", self.prefix, self.raw.len() - 1)
    }

    /// Each token in `text`: its index and byte range.
    fn find(&self, text: &str) -> Vec<(usize, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(off) = text[from..].find(&self.prefix) {
            let start = from + off;
            let digits_at = start + self.prefix.len();
            let digits = text[digits_at..].bytes().take_while(u8::is_ascii_digit).count();
            let end = digits_at + digits;
            let index = text[digits_at..end].parse::<usize>().ok().filter(|i| *i < self.raw.len());
            match index {
                Some(i) if text[end..].starts_with('z') => {
                    out.push((i, start..end + 1));
                    from = end + 1;
                }
                _ => from = start + 1,
            }
        }
        out
    }

    /// `text` with every token replaced by its value.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (i, r) in self.find(text) {
            out.push_str(&text[last..r.start]);
            out.push_str(&self.raw[i]);
            last = r.end;
        }
        out.push_str(&text[last..]);
        out
    }
}

/// Byte offsets of a growing text to char offsets and lines, in one pass.
#[derive(Default)]
struct Cursor {
    byte: usize,
    chr: usize,
    line: usize,
}

impl Cursor {
    fn at(&mut self, text: &str) -> (usize, usize) {
        let seg = &text[self.byte..];
        self.chr += seg.chars().count();
        self.line += seg.matches('\n').count();
        self.byte = text.len();
        (self.chr, self.line + 1)
    }
}

fn is_safe(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || "._/@+=,:-".contains(c))
}

/// A copy of an object or array value with every key and string replaced by a token.
fn tokenize_tree(v: &Value, tokens: &mut Tokens) -> Value {
    match v {
        Value::String(s) => Value::String(tokens.push(s)),
        Value::Array(items) => Value::Array(items.iter().map(|x| tokenize_tree(x, tokens)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let key = tokens.push(k);
                out.insert(key, tokenize_tree(x, tokens));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A token prefix that the template's own text does not contain.
fn choose_prefix(tpl: &Template) -> String {
    (0u32..).map(|n| format!("dromosv{n}x")).find(|p| !tpl.text_contains(p)).unwrap_or_default()
}

/// Renders `tpl` with `data` so that every value stays one scalar (an object or array value:
/// one collection) where the template writes it; `file` names the template in errors.
pub(super) fn render_checked(tpl: &Template, data: &Value, layout: Layout, file: &str) -> Result<String, CheckError> {
    let mut tokens = Tokens { prefix: choose_prefix(tpl), raw: Vec::new() };
    let (probe, mut slots) = render_probe(tpl, data, &mut tokens).map_err(|e| CheckError::Template(e.to_string()))?;
    let styles = match styles(&probe, &tokens) {
        Ok(s) => s,
        Err((index, line, info)) => return Err(probe_failed(&slots, index, line, &info, layout, file)),
    };
    if layout == Layout::Universe {
        let outside: Vec<OptionError> = slots
            .iter()
            .filter(|s| s.kind == Kind::Text && styles.get(&s.tokens.start) != Some(&ScalarStyle::DoubleQuoted))
            .map(|s| error(s, file, "a string is written outside a JSON string there (only numbers, booleans, objects and arrays may be)"))
            .collect();
        if !outside.is_empty() {
            return Err(CheckError::Options(outside));
        }
    }
    let real = render_real(tpl, data, &mut slots, &styles).map_err(|e| CheckError::Template(e.to_string()))?;
    match compare(&probe, &real, &tokens) {
        Ok(()) => Ok(real),
        Err((at, what)) => match blame(&slots, at, |s| s.real) {
            Some(s) => Err(CheckError::Options(vec![error(s, file, &what)])),
            None => Err(CheckError::Template(what)),
        },
    }
}

fn render_probe(
    tpl: &Template,
    data: &Value,
    tokens: &mut Tokens,
) -> Result<(String, Vec<Slot>), super::mustache::TemplateError> {
    let mut slots = Vec::new();
    let mut cur = Cursor::default();
    let text = tpl.render_with(data, &mut |hole, out| {
        let (start, start_line) = cur.at(out);
        let first = tokens.raw.len();
        let kind = match hole.value {
            Value::String(s) => {
                out.push_str(&tokens.push(s));
                Kind::Text
            }
            Value::Array(_) | Value::Object(_) => {
                out.push_str(&tokenize_tree(hole.value, tokens).to_string());
                Kind::Tree
            }
            other => {
                write_value(other, out);
                Kind::Literal
            }
        };
        let (end, end_line) = cur.at(out);
        let suspicious = tokens.raw[first..].iter().any(|r| !is_safe(r));
        slots.push(Slot {
            path: hole.path.clone(),
            line: hole.line,
            kind,
            tokens: first..tokens.raw.len(),
            probe: At { start, end, start_line, end_line },
            real: At::default(),
            suspicious,
        });
    })?;
    Ok((text, slots))
}

fn render_real(
    tpl: &Template,
    data: &Value,
    slots: &mut [Slot],
    styles: &HashMap<usize, ScalarStyle>,
) -> Result<String, super::mustache::TemplateError> {
    let mut cur = Cursor::default();
    let mut n = 0;
    tpl.render_with(data, &mut |hole, out| {
        let (start, start_line) = cur.at(out);
        // Both renders walk the same nodes over the same data, so the n-th hole is slot n.
        let slot = slots.get_mut(n);
        n += 1;
        let style = slot.as_ref().and_then(|s| styles.get(&s.tokens.start));
        match (hole.value, style) {
            (Value::String(s), Some(ScalarStyle::DoubleQuoted)) => escape_double_quoted(s, out),
            (Value::String(s), Some(ScalarStyle::SingleQuoted)) => out.push_str(&s.replace('\'', "''")),
            // An object or array inside a single-quoted scalar (its tokens in a double-quoted
            // one are the JSON's own strings: a flow collection).
            (v @ (Value::Object(_) | Value::Array(_)), Some(ScalarStyle::SingleQuoted)) => {
                out.push_str(&v.to_string().replace('\'', "''"))
            }
            (v, _) => write_value(v, out),
        }
        let (end, end_line) = cur.at(out);
        if let Some(s) = slot {
            s.real = At { start, end, start_line, end_line };
        }
    })
}

/// Writes `s` as the inside of a YAML double-quoted scalar, which is also the inside of a JSON
/// string: `"` and `\` escaped, control characters, line and paragraph separators and the
/// byte order mark as `\uXXXX` (`\n`, `\r`, `\t` for the common ones).
pub fn escape_double_quoted(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
}

/// The style of the scalar each token landed in, or where the probe stops parsing (char
/// index, line, what is wrong).
fn styles(probe: &str, tokens: &Tokens) -> Result<HashMap<usize, ScalarStyle>, (usize, usize, String)> {
    let mut out = HashMap::new();
    let mut parser = Parser::new_from_str(probe);
    while let Some(ev) = parser.next_event() {
        match ev {
            Err(e) => return Err((e.marker().index(), e.marker().line(), e.info().to_string())),
            Ok((Event::Scalar(text, style, ..), _)) => {
                for (i, _) in tokens.find(&text) {
                    out.insert(i, style);
                }
            }
            Ok((Event::StreamEnd, _)) => break,
            Ok(_) => {}
        }
    }
    Ok(out)
}

/// The probe does not parse: an object or array value written where it cannot stand (at or
/// just before the error, on its line) is named; otherwise the template itself is broken.
fn probe_failed(slots: &[Slot], index: usize, line: usize, info: &str, layout: Layout, file: &str) -> CheckError {
    let culprit = slots.iter().rev().filter(|s| s.kind == Kind::Tree).find(|s| {
        (s.probe.start <= index && index <= s.probe.end) || (s.probe.end <= index && s.probe.end_line == line)
    });
    let what = if layout == Layout::Universe { "JSON" } else { "YAML" };
    match culprit {
        Some(s) => {
            CheckError::Options(vec![error(s, file, &format!("an object or array cannot stand there ({info})"))])
        }
        None => CheckError::Template(format!("rendered text is not {what}: {info} at line {line}")),
    }
}

/// Where the real text differs from the probe (char range and line) and how.
type Divergence = (Place, String);

/// A char range of a rendered text and the line where it starts.
#[derive(Clone, Copy, Debug)]
struct Place {
    start: usize,
    end: usize,
    line: usize,
}

/// Compares the events of the probe and of the real text (see the module comment).
fn compare(probe: &str, real: &str, tokens: &Tokens) -> Result<(), Divergence> {
    let mut ps = Parser::new_from_str(probe);
    let mut rs = Parser::new_from_str(real);
    loop {
        let (pe, _) = match ps.next_event() {
            Some(Ok(x)) => x,
            // The probe parsed before; it cannot fail now.
            _ => return Ok(()),
        };
        let (re, span): (Event, Span) = match rs.next_event() {
            Some(Ok(x)) => x,
            Some(Err(e)) => {
                let (start, line) = (e.marker().index(), e.marker().line());
                return Err((
                    Place { start, end: start, line },
                    format!("the rendered text no longer parses: {} at line {}", e.info(), e.marker().line()),
                ));
            }
            None => {
                let end = real.chars().count();
                let line = real.lines().count();
                return Err((Place { start: end, end, line }, "the rendered text ends early".into()));
            }
        };
        if let Some(what) = differ(&pe, &re, tokens) {
            let place = Place { start: span.start.index(), end: span.end.index(), line: span.start.line() };
            return Err((place, format!("{what} (rendered line {})", place.line)));
        }
        if pe == Event::StreamEnd {
            return Ok(());
        }
    }
}

fn tag_text(tag: &Option<std::borrow::Cow<'_, saphyr_parser::Tag>>) -> String {
    tag.as_ref().map(|t| format!("{}{}", t.handle, t.suffix)).unwrap_or_default()
}

fn clip(s: &str) -> String {
    let mut c: String = s.chars().take(60).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    format!("{c:?}")
}

/// How one probe event and one real event differ, when they do.
fn differ(pe: &Event, re: &Event, tokens: &Tokens) -> Option<String> {
    match (pe, re) {
        (Event::Scalar(pt, pstyle, pa, ptag), Event::Scalar(rt, rstyle, ra, rtag)) => {
            let want = tokens.substitute(pt);
            if want != *rt || pstyle != rstyle {
                return Some(format!("a scalar reads {} where it should read {}", clip(rt), clip(&want)));
            }
            (pa != ra || tokens.substitute(&tag_text(ptag)) != tag_text(rtag))
                .then(|| "a scalar changes its anchor or tag".to_string())
        }
        (Event::SequenceStart(pa, ptag), Event::SequenceStart(ra, rtag))
        | (Event::MappingStart(pa, ptag), Event::MappingStart(ra, rtag)) => (pa != ra
            || tokens.substitute(&tag_text(ptag)) != tag_text(rtag))
        .then(|| "a collection changes its anchor or tag".to_string()),
        (p, r) if p == r => None,
        (p, r) => Some(format!("the rendered text has {} where the template has {}", describe(r), describe(p))),
    }
}

fn describe(e: &Event) -> &'static str {
    match e {
        Event::Scalar(..) => "a scalar",
        Event::SequenceStart(..) => "a sequence",
        Event::SequenceEnd => "the end of a sequence",
        Event::MappingStart(..) => "a mapping",
        Event::MappingEnd => "the end of a mapping",
        Event::DocumentStart(_) => "a new document",
        Event::DocumentEnd => "the end of a document",
        Event::Alias(_) => "an alias",
        Event::StreamStart | Event::StreamEnd | Event::Nothing => "the end of the text",
    }
}

/// The value to name for a difference at `at` of the real text: one whose text overlaps it,
/// else the first one after it on its line, else the last one before it; values with
/// characters other than letters, digits and `._/@+=,:-` first.
fn blame<'a>(slots: &'a [Slot], at: Place, span: impl Fn(&Slot) -> At) -> Option<&'a Slot> {
    let (a, b) = (at.start, at.end.max(at.start.saturating_add(1)));
    let values: Vec<&Slot> = slots.iter().filter(|s| s.kind != Kind::Literal).collect();
    let pick = |c: Vec<&'a Slot>| c.iter().find(|s| s.suspicious).or(c.first()).copied();
    let overlapping = values.iter().copied().filter(|s| {
        let r = span(s);
        (r.start < b && r.end > a) || (r.start <= a && a <= r.end)
    });
    let after_on_line = values.iter().copied().filter(|s| span(s).start >= a && span(s).start_line == at.line);
    let before = values.iter().rev().copied().filter(|s| span(s).end <= a);
    pick(overlapping.collect())
        .or_else(|| pick(after_on_line.collect()))
        .or_else(|| pick(before.collect()))
        .or_else(|| pick(values.clone()))
}

fn error(slot: &Slot, file: &str, what: &str) -> OptionError {
    OptionError {
        path: if slot.path.is_empty() { "(options)".into() } else { slot.path.clone() },
        rule: RULE.into(),
        schema_path: String::new(),
        message: format!("the value does not stay one scalar where {file} line {} writes it: {what}", slot.line),
    }
}

#[cfg(test)]
mod tests;

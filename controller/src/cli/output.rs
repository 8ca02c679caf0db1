//! How listing and describing commands print (pure formatting; the commands write it to
//! stdout): aligned tables, wide tables, JSON and YAML.

use clap::ValueEnum;
use serde_json::Value;

/// `-o` of every listing and describing command.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub(crate) enum ListFormat {
    /// An aligned table (or the text of a describing command).
    #[default]
    Table,
    /// The table with more columns.
    Wide,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl ListFormat {
    /// Whether the text form prints its extra columns.
    pub(crate) fn wide(self) -> bool {
        self == ListFormat::Wide
    }
}

/// `value` as JSON (pretty, with a final newline) or YAML; `None` for the table formats.
pub(crate) fn structured(format: ListFormat, value: &Value) -> Option<String> {
    match format {
        ListFormat::Json => Some(serde_json::to_string_pretty(value).expect("JSON values serialise") + "\n"),
        ListFormat::Yaml => Some(serde_saphyr::to_string(value).expect("JSON values serialise to YAML")),
        ListFormat::Table | ListFormat::Wide => None,
    }
}

/// Rows under a header, columns aligned two spaces apart; the last column is not padded and
/// trailing blanks are trimmed. Cells wider than their header widen the column.
pub(crate) fn table<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.as_ref().chars().count());
        }
    }
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(c);
                l.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    let mut out = String::new();
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(AsRef::as_ref).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_by_characters_and_structured_forms_round_trip() {
        let t = table(&["NAME", "STATE"], &[vec!["ünïcode", "Running"], vec!["a", ""]]);
        assert_eq!(t, "NAME     STATE\nünïcode  Running\na\n");
        let v = serde_json::json!({"a": [1, "x"]});
        let json = structured(ListFormat::Json, &v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v);
        let yaml = structured(ListFormat::Yaml, &v).unwrap();
        assert_eq!(serde_saphyr::from_str::<Value>(&yaml).unwrap(), v);
        assert_eq!(structured(ListFormat::Wide, &v), None);
    }
}

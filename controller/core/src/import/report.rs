//! The import report: every field not carried over, why, and what to do instead (pure).

use serde::Serialize;
use std::fmt::Write as _;

/// What happened to a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The field's behaviour is gone.
    Dropped,
    /// Carried in a form that behaves close to, not exactly like, the original.
    Approximated,
    /// Nothing the original system did is lost (it ignored the field too, or it is only
    /// bookkeeping), but the user should know.
    Note,
}

impl Effect {
    fn label(self) -> &'static str {
        match self {
            Effect::Dropped => "dropped",
            Effect::Approximated => "approximated",
            Effect::Note => "note",
        }
    }
}

/// One report line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Input name.
    pub file: String,
    /// JSON path of the original field, e.g. `$.groups[0].apps[1].tty`.
    pub path: String,
    /// The object it belongs to, `Kind namespace/name`.
    pub object: String,
    /// Dropped, approximated or a note.
    pub effect: Effect,
    /// The original value, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Why it is not carried as is.
    pub why: String,
    /// What to do instead.
    pub instead: String,
}

/// Everything an import did not carry over exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Entries sorted by file, path and effect.
    pub entries: Vec<Entry>,
}

impl Report {
    /// Sorts entries by file, then JSON path (deterministic output).
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| (&a.file, &a.path, a.effect, &a.why).cmp(&(&b.file, &b.path, b.effect, &b.why)));
        self.entries.dedup();
    }

    /// Entries that lose behaviour (dropped or approximated): the import is lossy when > 0.
    pub fn losses(&self) -> usize {
        self.entries.iter().filter(|e| e.effect != Effect::Note).count()
    }

    /// Number of entries with an effect.
    pub fn count(&self, effect: Effect) -> usize {
        self.entries.iter().filter(|e| e.effect == effect).count()
    }

    /// The report as text: one block per entry, then a summary line.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.entries {
            let value = e.value.as_deref().map(|v| format!(" = {v}")).unwrap_or_default();
            let _ = writeln!(s, "{:<13}{} {}{} ({})", e.effect.label(), e.file, e.path, value, e.object);
            let _ = writeln!(s, "{:13}why: {}", "", e.why);
            let _ = writeln!(s, "{:13}instead: {}", "", e.instead);
        }
        let _ = writeln!(
            s,
            "{} dropped, {} approximated, {} note(s)",
            self.count(Effect::Dropped),
            self.count(Effect::Approximated),
            self.count(Effect::Note)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, effect: Effect) -> Entry {
        Entry {
            file: "a.json".into(),
            path: path.into(),
            object: "App shop/web".into(),
            effect,
            value: Some("true".into()),
            why: "no field".into(),
            instead: "patch it".into(),
        }
    }

    #[test]
    fn notes_are_not_losses_and_text_is_sorted() {
        let mut r = Report { entries: vec![entry("$.z", Effect::Note), entry("$.a", Effect::Dropped)] };
        r.sort();
        assert_eq!(r.losses(), 1);
        let t = r.text();
        assert!(t.starts_with("dropped      a.json $.a = true (App shop/web)\n"), "{t}");
        assert!(t.ends_with("1 dropped, 0 approximated, 1 note(s)\n"), "{t}");
    }
}

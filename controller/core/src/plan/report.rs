//! Output formats of a plan report: text, Markdown and JSON (pure).

use super::{Action, Guard, Plan};
use serde_json::json;
use std::fmt::Write as _;

fn verdict(p: &Plan) -> String {
    match &p.guard {
        Guard::Ok => "deletion guard: ok".into(),
        Guard::Blocked { deleting, inventory, max_fraction } => format!(
            "deletion guard: BLOCKED, this revision would delete {deleting} of {inventory} objects (limit {:.0}%); set allowMassDelete to proceed",
            max_fraction * 100.0
        ),
    }
}

fn summary(p: &Plan) -> String {
    format!(
        "{} to create, {} to update, {} unchanged, {} to delete",
        p.count(Action::Create),
        p.count(Action::Update),
        p.count(Action::Unchanged),
        p.prune.len()
    )
}

/// Terminal text: one line per change, diffs of updates, a summary.
pub fn text(p: &Plan) -> String {
    let mut out = String::new();
    for s in &p.steps {
        match s.action {
            Action::Create => {
                let _ = writeln!(out, "+ create {}", s.obj.display());
            }
            Action::Update => {
                let _ = writeln!(out, "~ update {}", s.obj.display());
                if let Some(d) = &s.diff {
                    for l in d.lines() {
                        let _ = writeln!(out, "    {l}");
                    }
                }
            }
            Action::Unchanged => {}
        }
    }
    for o in &p.prune {
        let _ = writeln!(out, "- delete {}", o.display());
    }
    for (o, why) in &p.kept {
        let _ = writeln!(out, "= keep {} ({})", o.display(), why.explain());
    }
    for f in &p.skipped {
        let _ = writeln!(out, "  skip {} ({})", f.path, f.rule);
    }
    let _ = writeln!(out, "{}\n{}", summary(p), verdict(p));
    out
}

/// Markdown for a pull-request comment.
pub fn markdown(p: &Plan, title: &str) -> String {
    let mut out = format!("### {title}\n\n**{}**\n\n", summary(p));
    if matches!(p.guard, Guard::Blocked { .. }) {
        let _ = writeln!(out, "> :warning: {}\n", verdict(p));
    }
    let changes: Vec<_> = p.steps.iter().filter(|s| s.action != Action::Unchanged).collect();
    if !changes.is_empty() || !p.prune.is_empty() {
        out.push_str("| action | kind | namespace | name |\n|---|---|---|---|\n");
        for s in &changes {
            let a = if s.action == Action::Create { "create" } else { "update" };
            let _ = writeln!(
                out,
                "| {a} | {} | {} | {} |",
                s.obj.kind,
                s.obj.namespace.as_deref().unwrap_or(""),
                s.obj.name
            );
        }
        for o in &p.prune {
            let _ = writeln!(out, "| delete | {} | {} | {} |", o.kind, o.namespace.as_deref().unwrap_or(""), o.name);
        }
    }
    for (o, why) in &p.kept {
        let _ = writeln!(out, "\n> kept, not deleted: {} ({})", o.display(), why.explain());
    }
    if !p.skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n> not read as manifests: {}",
            p.skipped.iter().map(|f| format!("`{}` ({})", f.path, f.rule)).collect::<Vec<_>>().join(", ")
        );
    }
    for s in changes.iter().filter(|s| s.diff.is_some()) {
        let _ = write!(
            out,
            "\n<details><summary>{}</summary>\n\n```diff\n{}```\n</details>\n",
            s.obj.display(),
            s.diff.as_deref().unwrap_or("")
        );
    }
    out
}

/// Machine-readable report.
pub fn json(p: &Plan) -> serde_json::Value {
    let step = |s: &super::Step| {
        json!({"action": match s.action { Action::Create => "create", Action::Update => "update", Action::Unchanged => "unchanged" },
               "apiVersion": s.obj.api_version, "kind": s.obj.kind, "namespace": s.obj.namespace, "name": s.obj.name,
               "wave": s.wave, "diff": s.diff})
    };
    json!({
        "summary": {"create": p.count(Action::Create), "update": p.count(Action::Update), "unchanged": p.count(Action::Unchanged), "delete": p.prune.len()},
        "steps": p.steps.iter().map(step).collect::<Vec<_>>(),
        "prune": p.prune.iter().map(|o| json!({"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name})).collect::<Vec<_>>(),
        "skipped": p.skipped.iter().map(|f| json!({"path": f.path, "rule": f.rule})).collect::<Vec<_>>(),
        "kept": p.kept.iter().map(|(o, why)| json!({"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name, "reason": format!("{why:?}")})).collect::<Vec<_>>(),
        "guard": match &p.guard { Guard::Ok => json!({"verdict": "ok"}), Guard::Blocked { deleting, inventory, max_fraction } => json!({"verdict": "blocked", "deleting": deleting, "inventory": inventory, "maxFraction": max_fraction}) },
    })
}

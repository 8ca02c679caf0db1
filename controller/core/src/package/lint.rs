//! `dromos package lint` (pure): what a package author should know before publishing a
//! version. Its options schema is valid and documented; it renders with the defaults and with
//! every example of the schema (`examples` at the top: option sets an installer might give);
//! its service specification, if any, is valid, every pod type is deployed by the `deploy`
//! plan and updated by the `update` plan; every rendered object names its kind and a valid
//! name; the test file (`test.yaml`) parses.

use super::{Instance, PackageVersion, options, render};
use crate::service::ServiceSpec;
use serde_json::Value;

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// An error makes the lint fail; a warning does not.
    pub error: bool,
    /// The file it is about (relative to the repository).
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Every finding of one package version. `test` is the text of its `test.yaml`, if it has
/// one.
pub fn lint(pkg: &PackageVersion, test: Option<&str>) -> Vec<Finding> {
    let mut out = vec![];
    let schema_file = format!("{}/options.schema.json", pkg.dir);
    if pkg.schema.is_null() {
        err(&mut out, &schema_file, "no options schema: installers cannot be told what they may set".into());
    } else {
        if let Err(e) =
            options::validate(&pkg.schema, &Value::Object(Default::default()), options::DefaultDraft::Latest)
            && let Some(bad) = e.iter().find(|e| e.path == "(schema)")
        {
            err(&mut out, &schema_file, format!("not a valid JSON Schema: {}", bad.message));
        }
        for d in options::describe(&pkg.schema) {
            if d.description.is_empty() {
                err(&mut out, &schema_file, format!("option {} has no description", d.path));
            }
        }
    }
    let inst = Instance { namespace: "lint", name: &pkg.meta.name, source: "lint" };
    let mut sets = vec![("the defaults".to_string(), Value::Null)];
    if let Some(examples) = pkg.schema.get("examples").and_then(Value::as_array) {
        sets.extend(examples.iter().enumerate().map(|(i, e)| (format!("examples[{i}]"), e.clone())));
    }
    for (what, options) in &sets {
        match render(pkg, options, &inst) {
            Err(e) => err(&mut out, &pkg.dir, format!("does not render with {what}: {e}")),
            Ok(r) => {
                let service = r.service.clone();
                let objects = super::complete_objects(pkg, r, options, &inst);
                for o in &objects {
                    check_object(o, &pkg.dir, what, &mut out);
                }
                if let Some(spec) = &service {
                    for (warning, message) in check_service(spec) {
                        out.push(Finding {
                            error: !warning,
                            file: format!("{}/{}", pkg.dir, super::SERVICE_FILE),
                            message: format!("with {what}: {message}"),
                        });
                    }
                }
            }
        }
    }
    if let Some(text) = test
        && let Err(diags) = crate::service::test_spec::parse(&format!("{}/test.yaml", pkg.dir), text)
    {
        out.extend(diags.into_iter().map(|d| Finding {
            error: true,
            file: format!("{}:{}", d.file, d.line),
            message: if d.field.is_empty() { d.message } else { format!("{}: {}", d.field, d.message) },
        }));
    }
    out.dedup();
    out
}

fn check_object(o: &Value, dir: &str, what: &str, out: &mut Vec<Finding>) {
    let kind = o["kind"].as_str().unwrap_or_default();
    if kind.is_empty() || o["apiVersion"].as_str().is_none_or(str::is_empty) {
        err(out, dir, format!("with {what}: an object without apiVersion and kind: {}", short(o)));
        return;
    }
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !ok {
        err(
            out,
            dir,
            format!("with {what}: {kind} {name:?}: not a valid object name (lowercase letters, digits, '-', '.')"),
        );
    }
    if o.to_string().contains("{{") {
        err(out, dir, format!("with {what}: {kind} {name}: an unrendered `{{{{` tag"));
    }
}

fn err(out: &mut Vec<Finding>, file: &str, message: String) {
    out.push(Finding { error: true, file: file.into(), message });
}

fn short(o: &Value) -> String {
    o.to_string().chars().take(120).collect()
}

/// (warning, message) of a valid specification: pod types no plan launches or updates.
fn check_service(spec: &ServiceSpec) -> Vec<(bool, String)> {
    let mut out = vec![];
    let in_plan = |plan: &str, pod: &str| spec.plans.get(plan).is_some_and(|p| p.phases.iter().any(|ph| ph.pod == pod));
    for (pod, p) in &spec.pods {
        if !in_plan("deploy", pod) {
            out.push((false, format!("pod type {pod} is in no phase of the deploy plan: it would never be launched")));
        }
        if spec.plans.contains_key("update") && !in_plan("update", pod) {
            out.push((
                true,
                format!(
                    "pod type {pod} is in no phase of the update plan: a change to it waits for its pods to restart"
                ),
            ));
        }
        if p.count == 0 {
            out.push((true, format!("pod type {pod} has count 0")));
        }
    }
    // Phases that cover only some instances leave the others to no step.
    for (name, plan) in &spec.plans {
        for pod in spec.pods.keys() {
            let phases: Vec<_> = plan.phases.iter().filter(|ph| &ph.pod == pod).collect();
            if !phases.is_empty() && phases.iter().all(|ph| !ph.instances.is_empty()) {
                out.push((
                    true,
                    format!(
                        "plan {name}: pod type {pod} only has phases of chosen instances; the others are in no step"
                    ),
                ));
            }
        }
    }
    out
}

//! The DC/OS import (`import::import`: Marathon apps, groups and pods, Metronome jobs and
//! schedules, Chronos jobs, Cosmos installs) on arbitrary text, arbitrary JSON shaped by the
//! field names of those systems, and mutations of the fixtures of `tests/fixtures/import/`.
//!
//! Properties: nothing panics; text that is not JSON is an error naming `line:column`; errors
//! name an input; an import that succeeds writes objects at distinct paths whose YAML reads
//! back as exactly the object, and whose files never hold a field the schema refuses
//! (decision 0008: "an import can never write a field `dromos validate` refuses"); other
//! validation errors are allowed (the input may be invalid for its own system too, as
//! `verify_import` says), and `verify_import` runs on every import without panicking.

use crate::manifests::repo_files;
use crate::{config, edits, json_value, mutate_json, text_of};
use dromos_core::import::{Flavor, ImportOptions, Input, import};
use dromos_core::verify::verify_import;
use dromos_core::yaml::{Budget, parse_documents};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Field names of Marathon, Metronome, Chronos and Cosmos documents (from the fixtures and the
/// APIs), and of Dromos specs.
pub const FIELDS: &[&str] = &[
    "id",
    "apps",
    "groups",
    "pods",
    "dependencies",
    "cmd",
    "args",
    "instances",
    "cpus",
    "mem",
    "disk",
    "gpus",
    "container",
    "type",
    "docker",
    "image",
    "network",
    "portMappings",
    "containerPort",
    "hostPort",
    "servicePort",
    "protocol",
    "name",
    "labels",
    "env",
    "constraints",
    "healthChecks",
    "path",
    "portIndex",
    "port",
    "command",
    "value",
    "gracePeriodSeconds",
    "intervalSeconds",
    "timeoutSeconds",
    "maxConsecutiveFailures",
    "ignoreHttp1xx",
    "readinessChecks",
    "portName",
    "httpStatusCodesForReady",
    "upgradeStrategy",
    "minimumHealthCapacity",
    "maximumOverCapacity",
    "portDefinitions",
    "requirePorts",
    "fetch",
    "uri",
    "uris",
    "extract",
    "executable",
    "cache",
    "volumes",
    "containerPath",
    "hostPath",
    "mode",
    "persistent",
    "size",
    "external",
    "secrets",
    "secret",
    "networks",
    "acceptedResourceRoles",
    "role",
    "user",
    "backoffSeconds",
    "backoffFactor",
    "maxLaunchDelaySeconds",
    "killSelection",
    "unreachableStrategy",
    "residency",
    "tty",
    "forcePullImage",
    "parameters",
    "key",
    "privileged",
    "containers",
    "resources",
    "endpoints",
    "exec",
    "shell",
    "argv",
    "volumeMounts",
    "mountPath",
    "scaling",
    "scheduling",
    "placement",
    "run",
    "schedules",
    "cron",
    "timezone",
    "concurrencyPolicy",
    "enabled",
    "startingDeadlineSeconds",
    "restart",
    "policy",
    "activeDeadlineSeconds",
    "artifacts",
    "maxLaunchDelay",
    "taskKillGracePeriodSeconds",
    "attribute",
    "operator",
    "description",
    "schedule",
    "scheduleTimeZone",
    "parents",
    "retries",
    "softError",
    "concurrent",
    "disabled",
    "environmentVariables",
    "arguments",
    "epsilon",
    "async",
    "owner",
    "runAsUser",
    "packageName",
    "packageVersion",
    "options",
    "appId",
    "service",
    "DCOS_PACKAGE_NAME",
    "DCOS_PACKAGE_VERSION",
    "DCOS_PACKAGE_OPTIONS",
    "DCOS_PACKAGE_SOURCE",
    "VIP_0",
    "HAPROXY_GROUP",
    "packagingVersion",
    "replace",
    "spec",
    "metadata",
    "kind",
    "apiVersion",
    "version",
];

/// One input: its file name (Metronome reads a job id from `<id>.schedule.json`) and value.
type Doc = (String, Value);

/// The fixture sets: each flavor and its JSON inputs.
fn fixtures() -> &'static [(Flavor, Vec<Doc>)] {
    static SETS: OnceLock<Vec<(Flavor, Vec<Doc>)>> = OnceLock::new();
    SETS.get_or_init(|| {
        let all = repo_files("tests/fixtures/import");
        let set = |dir: &str, flavor| {
            let docs: Vec<Doc> = all
                .iter()
                .filter_map(|f| {
                    let name = f.path.strip_prefix(&format!("{dir}/"))?;
                    let v = serde_json::from_slice(&f.bytes).unwrap_or_else(|e| panic!("{}: {e}", f.path));
                    Some((name.to_string(), v))
                })
                .collect();
            assert!(!docs.is_empty(), "no fixtures in {dir}");
            (flavor, docs)
        };
        vec![
            set("marathon", Flavor::Marathon),
            set("metronome", Flavor::Metronome),
            set("chronos", Flavor::Chronos),
            set("cosmos", Flavor::Package),
        ]
    })
}

fn flavor() -> impl Strategy<Value = Flavor> {
    prop::sample::select(vec![Flavor::Marathon, Flavor::Metronome, Flavor::Chronos, Flavor::Package])
}

/// Imports `inputs` and checks the properties of the module.
fn check_import(flavor: Flavor, inputs: &[Input]) -> Result<(), TestCaseError> {
    let names: BTreeSet<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    let opts = ImportOptions::default();
    match import(flavor, inputs, &opts) {
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(names.contains(e.file.as_str()), "error names no input: {:?}", e);
                prop_assert!(!e.path.is_empty() && !e.message.is_empty(), "{:?}", e);
                let _ = e.to_string();
            }
        }
        Ok(imp) => {
            let mut paths = BTreeSet::new();
            for o in &imp.objects {
                prop_assert!(paths.insert(o.path()), "two objects written to {}", o.path());
                prop_assert!(names.contains(o.source.as_str()), "{} comes from no input", o.display());
                let yaml = o.to_yaml();
                let docs = parse_documents(&yaml, Budget::default()).map_err(|e| {
                    TestCaseError::fail(format!("{}: written YAML does not parse: {e}\n{yaml}", o.path()))
                })?;
                prop_assert_eq!(docs.len(), 1, "{}", yaml);
                // Integers beyond i64 read back as floats (the YAML reader's integers are i64).
                prop_assert!(same(&docs[0].value, &o.value), "{} reads back as another value:\n{}", o.path(), yaml);
            }
            for e in &imp.report.entries {
                prop_assert!(names.contains(e.file.as_str()), "report entry names no input: {:?}", e);
            }
            let (diagnostics, _) = verify_import(&imp.objects, &opts);
            for d in diagnostics.iter().filter(|d| d.is_error()) {
                prop_assert!(
                    !matches!(d.code, "unknown-field" | "wrong-type" | "yaml-syntax" | "yaml-budget" | "invalid-utf8"),
                    "the import wrote what the schema refuses: {:?}\n{}",
                    d,
                    imp.objects.iter().find(|o| o.path() == d.file).map(|o| o.to_yaml()).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// JSON values equal, numbers compared as floats.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

fn inputs(docs: &[Value]) -> Vec<Input> {
    docs.iter().enumerate().map(|(i, v)| Input { name: format!("in{i}.json"), text: v.to_string() }).collect()
}

fn named_inputs(docs: &[Doc]) -> Vec<Input> {
    docs.iter().map(|(n, v)| Input { name: n.clone(), text: v.to_string() }).collect()
}

const JSON_PIECES: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\"id\"", "\"apps\"", "\"/a\"", "null", "true", "1", "-0", "1e999", "0.5",
    "\\u0000", "\\ud800", " ", "\n",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_an_error_or_an_import(text in text_of(JSON_PIECES, 60), f in flavor()) {
        let inputs = [Input { name: "t.json".into(), text: text.clone() }];
        if serde_json::from_str::<Value>(&text).is_err() {
            let errs = import(f, &inputs, &ImportOptions::default()).expect_err("not JSON");
            prop_assert!(errs.iter().any(|e| e.path.contains(':') && e.message.contains("not valid JSON")), "{:?}", errs);
        }
        check_import(f, &inputs)?;
    }

    #[test]
    fn arbitrary_json_documents(docs in prop::collection::vec(json_value(FIELDS, 5), 1..4), f in flavor()) {
        check_import(f, &inputs(&docs))?;
    }

    #[test]
    fn mutations_of_the_fixtures(set in 0usize..4, which in any::<usize>(), edits in edits(FIELDS), all in any::<bool>()) {
        let (flavor, docs) = &fixtures()[set];
        let mut docs = docs.clone();
        let i = which % docs.len();
        mutate_json(&mut docs[i].1, &edits, FIELDS);
        // Either the edited document alone or with the rest of its set (ids resolve across
        // inputs: dependencies, parents, schedule files).
        let docs = if all { docs } else { vec![docs[i].clone()] };
        check_import(*flavor, &named_inputs(&docs))?;
    }

    #[test]
    fn fixtures_as_another_flavor(set in 0usize..4, f in flavor()) {
        check_import(f, &named_inputs(&fixtures()[set].1))?;
    }
}

/// The fixtures themselves import (the base of the mutations).
#[test]
fn the_fixtures_import() {
    for (flavor, docs) in fixtures() {
        let imp = import(*flavor, &named_inputs(docs), &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{flavor:?}: {e:?}"));
        assert!(!imp.objects.is_empty(), "{flavor:?}");
        check_import(*flavor, &named_inputs(docs)).unwrap_or_else(|e| panic!("{flavor:?}: {e}"));
    }
}

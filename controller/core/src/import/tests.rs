//! Edge cases of each converter, on small inline documents.

use super::*;
use serde_json::json;

pub(crate) fn run(flavor: Flavor, docs: &[(&str, Value)]) -> Import {
    try_run(flavor, docs).unwrap_or_else(|e| panic!("{e:?}"))
}

fn try_run(flavor: Flavor, docs: &[(&str, Value)]) -> Result<Import, Vec<ImportError>> {
    let inputs: Vec<Input> = docs.iter().map(|(n, v)| Input { name: n.to_string(), text: v.to_string() }).collect();
    import(flavor, &inputs, &ImportOptions::default())
}

pub(crate) fn spec<'a>(i: &'a Import, path: &str) -> &'a Value {
    &i.objects.iter().find(|o| o.path() == path).unwrap_or_else(|| panic!("no {path}")).value["spec"]
}

pub(crate) fn paths(r: &Report) -> Vec<(&str, Effect)> {
    r.entries.iter().map(|e| (e.path.as_str(), e.effect)).collect()
}

#[test]
fn what_cannot_be_carried_is_reported_field_by_field() {
    let app = json!({"id": "/a/b", "cmd": "x", "args": ["y"], "tty": true, "frobnicate": 3,
        "dependencies": ["/elsewhere"], "constraints": [["@zone", "GROUP_BY"], ["hostname", "unique"], ["rack", "LIKE", "(?=a)"]],
        "healthChecks": [{"protocol": "HTTP", "portIndex": 0, "intervalSeconds": 10, "timeoutSeconds": 20}]});
    let i = run(Flavor::Marathon, &[("a.json", app)]);
    assert_eq!(
        paths(&i.report),
        vec![
            ("$.args", Effect::Dropped),
            ("$.constraints[0]", Effect::Dropped),
            ("$.constraints[2]", Effect::Dropped),
            ("$.dependencies[0]", Effect::Dropped),
            ("$.frobnicate", Effect::Dropped),
            ("$.healthChecks[0].timeoutSeconds", Effect::Approximated),
            ("$.tty", Effect::Dropped),
        ]
    );
    let s = spec(&i, "a/b.app.yaml");
    assert_eq!(s["constraints"], json!([["hostname", "UNIQUE"]]));
    assert_eq!(s["healthChecks"][0]["timeoutSeconds"], 9);
    assert!(i.report.entries[4].why.contains("`frobnicate`"));
    assert_eq!(i.report.losses(), 7);
}

#[test]
fn marathon_back_off_is_left_out_a_note_for_defaults_dropped_otherwise() {
    let app = json!({"id": "/a/b", "cmd": "x", "backoffSeconds": 1, "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 900});
    let i = run(Flavor::Marathon, &[("a.json", app)]);
    assert_eq!(
        paths(&i.report),
        vec![
            ("$.backoffFactor", Effect::Note),
            ("$.backoffSeconds", Effect::Note),
            ("$.maxLaunchDelaySeconds", Effect::Dropped),
        ]
    );
    let s = spec(&i, "a/b.app.yaml");
    assert!(s.get("backoffSeconds").is_none() && s.get("maxLaunchDelaySeconds").is_none(), "{s}");
}

#[test]
fn package_labels_make_a_package_with_decoded_options() {
    use base64::Engine as _;
    let opts = base64::engine::general_purpose::STANDARD.encode(br#"{"brokers": {"count": 5}}"#);
    let app = json!({"id": "/data/kafka", "cmd": "scheduler", "labels": {
        "DCOS_PACKAGE_NAME": "kafka", "DCOS_PACKAGE_VERSION": "2.9.0", "DCOS_PACKAGE_OPTIONS": opts}});
    let i = run(Flavor::Marathon, &[("k.json", app)]);
    assert_eq!(i.objects.len(), 1);
    assert_eq!(i.objects[0].kind, "Package");
    assert_eq!(
        spec(&i, "data/kafka.package.yaml"),
        &json!({"name": "kafka", "version": "2.9.0", "options": {"brokers": {"count": 5}}})
    );
    assert_eq!(i.report.losses(), 0);
    assert_eq!(i.report.count(Effect::Note), 1);
}

#[test]
fn cosmos_installs_are_named_by_app_id_service_name_or_package() {
    let docs = [
        ("a.json", json!({"packageName": "kafka", "appId": "/data/events", "options": {"service": {"name": "x"}}})),
        (
            "b.json",
            json!([{"packageName": "jenkins", "options": {"service": {"name": "CI Jenkins"}}}, {"packageName": "Marathon_LB", "packageVersion": "1.0", "replace": true}]),
        ),
    ];
    let i = run(Flavor::Package, &docs);
    let names: Vec<String> = i.objects.iter().map(Imported::path).collect();
    assert_eq!(
        names,
        ["data/events.package.yaml", "default/ci-jenkins.package.yaml", "default/marathon-lb.package.yaml"]
    );
    assert_eq!(paths(&i.report), vec![("$[1].replace", Effect::Dropped)]);
}

#[test]
fn bad_input_names_file_and_json_path() {
    let e = try_run(
        Flavor::Marathon,
        &[("a.json", json!({"apps": [{"id": "/a/b", "cpus": "lots"}, {"cmd": "x"}, {"id": "/Bad/id"}]}))],
    )
    .unwrap_err();
    let msgs: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(msgs[0], "a.json: $.apps[0].cpus: expected a number, found \"lots\"");
    assert_eq!(msgs[1], "a.json: $.apps[1].id: missing `id` (a string)");
    assert!(msgs[2].starts_with("a.json: $.apps[2].id: segment `Bad`"), "{msgs:?}");
    let inputs = [Input { name: "x.json".into(), text: "{\n\"id\": }".into() }];
    let e = import(Flavor::Chronos, &inputs, &ImportOptions::default()).unwrap_err();
    assert!(e[0].to_string().starts_with("x.json: 2:7: not valid JSON"), "{e:?}");
    // Two ids, one name: refused rather than one overwriting the other.
    let e = try_run(
        Flavor::Marathon,
        &[("a.json", json!([{"id": "/s/web-a", "cmd": "x"}, {"id": "/s/web/a", "cmd": "y"}]))],
    )
    .unwrap_err();
    assert!(e[0].message.contains("both would be written to s/web-a.app.yaml"), "{e:?}");
}

#[test]
fn metronome_schedule_files_join_their_job() {
    let job = |id: &str| json!({"id": id, "run": {"cmd": "x"}});
    let sched = json!({"id": "s", "cron": "0 * * * *"});
    let i = run(
        Flavor::Metronome,
        &[("j.json", json!([job("ops.a"), job("ops.b")])), ("dir/ops.b.schedule.json", sched.clone())],
    );
    assert!(spec(&i, "ops/a.job.yaml").get("schedules").is_none());
    assert_eq!(spec(&i, "ops/b.job.yaml")["schedules"], json!([{"id": "s", "cron": "0 * * * *"}]));
    // The only job of an import takes any schedule file.
    let i =
        run(Flavor::Metronome, &[("j.json", job("solo")), ("s.json", json!([sched.clone(), {"cron": "5 * * * *"}]))]);
    assert_eq!(spec(&i, "default/solo.job.yaml")["schedules"].as_array().unwrap().len(), 1);
    assert_eq!(paths(&i.report), vec![("$[1]", Effect::Dropped)]);
    assert_eq!(i.report.entries[0].file, "s.json");
    // Otherwise the file name must say which job.
    let e =
        try_run(Flavor::Metronome, &[("j.json", json!([job("ops.a"), job("ops.b")])), ("s.json", sched)]).unwrap_err();
    assert!(e[0].message.contains("cannot tell which job"), "{e:?}");
}

/// Found by the fuzz suite (`mutations_of_the_fixtures`, Cosmos package names `\r\n` and
/// `\0`): input text quoted in the comment above a manifest ended the comment, so a name could
/// add YAML (a whole document) to the written file, or made it unreadable.
#[test]
fn line_breaks_in_quoted_input_stay_inside_the_comments() {
    // Before: the file held a Secret of the name's making, then the App.
    let evil = "x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\n---\n#";
    let i = run(Flavor::Chronos, &[("c.json", json!([{"name": evil, "command": "true"}]))]);
    let yaml = i.objects[0].to_yaml();
    let docs = crate::yaml::parse_documents(&yaml, crate::yaml::Budget::default()).unwrap();
    assert_eq!(docs.len(), 1, "{yaml}");
    assert_eq!(docs[0].value, i.objects[0].value);
    assert!(yaml.starts_with("# Chronos job `x\n# ---\n# apiVersion: v1\n"), "{yaml}");
    // And a character YAML cannot hold (`\0`, shrunk from a Cosmos package name) is escaped.
    let i = run(Flavor::Chronos, &[("c.json", json!([{"name": "a\u{0}b\u{7f}\u{fffe}\tc", "command": "true"}]))]);
    let yaml = i.objects[0].to_yaml();
    assert!(yaml.starts_with("# Chronos job `a\\u{0}b\\u{7f}\\u{fffe}\tc`"), "{yaml}");
    assert_eq!(
        crate::yaml::parse_documents(&yaml, crate::yaml::Budget::default()).unwrap()[0].value,
        i.objects[0].value
    );
}

#[test]
fn output_does_not_depend_on_input_order() {
    let a = ("a.json", json!({"id": "/x/a", "cmd": "a", "dependencies": ["/x/b"]}));
    let b = ("b.json", json!({"id": "/x/b", "cmd": "b", "tty": true}));
    let one = run(Flavor::Marathon, &[a.clone(), b.clone()]);
    let two = run(Flavor::Marathon, &[b, a]);
    assert_eq!(one.objects, two.objects);
    assert_eq!(one.report, two.report);
    assert_eq!(
        one.objects[0].to_yaml(),
        "# Marathon app /x/a from a.json $\napiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: a\n  namespace: x\nspec:\n  id: /x/a\n  cmd: a\n  dependencies:\n  - /x/b\n"
    );
}

fn cx_run<T>(f: impl FnOnce(&mut Cx) -> T) -> (T, State) {
    let mut st = State::default();
    let mut cx = Cx { file: "f.json", object: "App a/b".into(), reasons: &[], kind: "App", st: &mut st };
    let t = f(&mut cx);
    (t, st)
}

#[test]
fn carry_keeps_known_fields_and_reports_the_rest() {
    let schema = spec_schema("App", &[]);
    let v = serde_json::json!({"cmd": "x", "instances": 2.0, "tty": true, "executor": "", "labels": {"a": 1}});
    let (out, st) = cx_run(|cx| carry(&v, schema, "$", "", cx));
    assert_eq!(out.unwrap(), serde_json::json!({"cmd": "x", "instances": 2, "labels": {"a": "1"}}));
    assert!(st.errors.is_empty());
    let e = &st.report.entries;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].path.as_str(), e[0].effect), ("$.tty", Effect::Dropped));
}

#[test]
fn carry_reports_wrong_types_with_their_path() {
    let schema = spec_schema("App", &[]);
    let v = serde_json::json!({"instances": "three", "healthChecks": [{"protocol": "SMTP"}]});
    let (_, st) = cx_run(|cx| carry(&v, schema, "$.apps[0]", "", cx));
    let msgs: Vec<String> = st.errors.iter().map(|e| format!("{} {}", e.path, e.message)).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].starts_with("$.apps[0].instances expected an integer"), "{msgs:?}");
    assert!(msgs[1].starts_with("$.apps[0].healthChecks[0].protocol `SMTP` is not one of"), "{msgs:?}");
}

#[test]
fn dns_labels_from_free_text() {
    assert_eq!(dns_label("SAMPLE_JOB1"), "sample-job1");
    assert_eq!(dns_label("  Nightly  ETL (v2) "), "nightly-etl-v2");
    assert_eq!(dns_label("___"), "");
    assert_eq!(dns_label(&"a".repeat(70)).len(), 63);
}

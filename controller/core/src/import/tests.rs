//! Edge cases of each converter, on small inline documents.

use super::*;
use serde_json::json;

fn run(flavor: Flavor, docs: &[(&str, Value)]) -> Import {
    try_run(flavor, docs).unwrap_or_else(|e| panic!("{e:?}"))
}

fn try_run(flavor: Flavor, docs: &[(&str, Value)]) -> Result<Import, Vec<ImportError>> {
    let inputs: Vec<Input> = docs.iter().map(|(n, v)| Input { name: n.to_string(), text: v.to_string() }).collect();
    import(flavor, &inputs, &ImportOptions::default())
}

fn spec<'a>(i: &'a Import, path: &str) -> &'a Value {
    &i.objects.iter().find(|o| o.path() == path).unwrap_or_else(|| panic!("no {path}")).value["spec"]
}

fn paths(r: &Report) -> Vec<(&str, Effect)> {
    r.entries.iter().map(|e| (e.path.as_str(), e.effect)).collect()
}

#[test]
fn group_ids_and_dependencies_resolve_against_their_group() {
    let root = json!({"id": "/", "groups": [
        {"id": "/data", "apps": [{"id": "db", "cmd": "db"}]},
        {"id": "shop", "dependencies": ["../data"], "apps": [
            {"id": "api", "cmd": "api"},
            {"id": "web", "cmd": "web", "dependencies": ["api", "/shop/api"]}
        ], "groups": [{"id": "jobs", "dependencies": ["../api"], "pods": [
            {"id": "mail", "containers": [{"name": "m", "exec": {"command": {"shell": "mail"}}}]}
        ]}]}
    ]});
    let i = run(Flavor::Marathon, &[("g.json", root)]);
    assert_eq!(spec(&i, "shop/web.app.yaml")["dependencies"], json!(["/shop/api", "/data/db"]));
    assert_eq!(spec(&i, "shop/api.app.yaml")["dependencies"], json!(["/data/db"]));
    // Inherited from /shop (outer groups first) and /shop/jobs.
    assert_eq!(spec(&i, "shop/jobs-mail.app.yaml")["dependencies"], json!(["/data/db", "/shop/api"]));
    assert_eq!(spec(&i, "shop/jobs-mail.app.yaml")["id"], "/shop/jobs/mail");
    assert!(i.report.entries.is_empty(), "{:?}", i.report.entries);
    let (diags, _) = verify(&i.objects, &ImportOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn deprecated_marathon_fields_take_their_modern_form() {
    let apps = json!({"apps": [
        {"id": "/a/host", "cmd": "x", "ports": [8080, 0], "uris": ["https://e.com/a.tgz"]},
        {"id": "/a/bridge", "container": {"docker": {"image": "i", "network": "BRIDGE",
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}}, "ports": [10001]},
        {"id": "/a/ip", "container": {"docker": {"image": "i", "network": "USER"}},
            "ipAddress": {"networkName": "overlay", "discovery": {"ports": [{"number": 9000, "name": "rpc", "protocol": "tcp"}]}}}
    ]});
    let i = run(Flavor::Marathon, &[("a.json", apps)]);
    let host = spec(&i, "a/host.app.yaml");
    assert_eq!(host["portDefinitions"], json!([{"port": 8080}, {"port": 0}]));
    assert_eq!(host["fetch"], json!([{"uri": "https://e.com/a.tgz"}]));
    assert!(host.get("ports").is_none() && host.get("uris").is_none());
    let bridge = spec(&i, "a/bridge.app.yaml");
    assert_eq!(bridge["networks"], json!([{"mode": "container/bridge"}]));
    assert_eq!(bridge["container"]["portMappings"], json!([{"containerPort": 80, "hostPort": 0}]));
    assert!(bridge.get("portDefinitions").is_none(), "service ports of bridge apps are not host ports");
    let ip = spec(&i, "a/ip.app.yaml");
    assert_eq!(ip["networks"], json!([{"mode": "container", "name": "overlay"}]));
    assert_eq!(ip["container"]["portMappings"], json!([{"containerPort": 9000, "protocol": "tcp", "name": "rpc"}]));
    assert!(i.report.entries.is_empty(), "{:?}", i.report.entries);
    let (diags, _) = verify(&i.objects, &ImportOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
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

#[test]
fn chronos_names_parents_commands_and_defaults() {
    let jobs = json!([
        {"name": "Nightly ETL", "command": "etl", "schedule": "R5//P1D", "cpus": 0.5, "mem": 64, "disk": 10},
        {"name": "report", "command": "/bin/report", "arguments": ["it's", "--all"], "shell": false, "parents": ["Nightly ETL"], "cpus": 1, "mem": 32, "disk": 1},
        {"name": "bad", "command": "x", "schedule": "every day", "cpus": 1, "mem": 32, "disk": 1}
    ]);
    let i = run(Flavor::Chronos, &[("c.json", jobs)]);
    assert_eq!(spec(&i, "default/nightly-etl.job.yaml")["schedule"], "R5//P1D");
    let r = spec(&i, "default/report.job.yaml");
    assert_eq!(r["parents"], json!(["nightly-etl"]));
    assert_eq!(r["run"]["cmd"], r#"/bin/report 'it'\''s' --all"#);
    assert!(spec(&i, "default/bad.job.yaml").get("schedule").is_none());
    assert_eq!(paths(&i.report), vec![("$[1].shell", Effect::Approximated), ("$[2].schedule", Effect::Dropped)]);
    assert_eq!(i.objects[1].comments[1], "named `nightly-etl`: Kubernetes names are lower-case DNS labels");
    let (diags, _) = verify(&i.objects, &ImportOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
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

//! Reading repositories, resolving options and rendering packages, on small in-memory trees.

use super::*;
use crate::import::{self, Flavor, ImportOptions, Input};
use base64::Engine as _;
use serde_json::json;

fn inst<'a>(namespace: &'a str, source: &'a str) -> Instance<'a> {
    Instance { namespace, name: "test", source }
}

pub(crate) fn file(path: &str, text: &str) -> SourceFile {
    SourceFile { path: path.into(), bytes: text.as_bytes().to_vec() }
}

/// A small Universe package, written for these tests: a web server with an optional TLS
/// sidecar port, two revisions.
fn universe_repo() -> Vec<SourceFile> {
    let pkg = |v: &str, up: &str| {
        format!(
            r#"{{"packagingVersion": "4.0", "name": "webby", "version": "{v}", "maintainer": "ops@example.com",
               "description": "A small web server", "tags": ["web", "http"], "upgradesFrom": [{up}], "downgradesTo": ["1.0.0"]}}"#
        )
    };
    let config = r#"{
      "$schema": "http://json-schema.org/schema#",
      "type": "object",
      "properties": {
        "service": {
          "type": "object", "description": "Service settings",
          "properties": {
            "name": {"type": "string", "default": "webby", "description": "Marathon app id"},
            "tls": {"type": "boolean", "default": false, "description": "Expose a TLS port"}
          },
          "required": ["name"]
        },
        "web": {
          "type": "object",
          "properties": {
            "cpus": {"type": "number", "default": 0.5, "minimum": 0.1},
            "mem": {"type": "integer", "default": 256, "minimum": 32, "maximum": 4096},
            "instances": {"type": "integer", "default": 2},
            "greeting": {"type": "string", "default": "hello <world> & friends"}
          }
        }
      }
    }"#;
    let resource = r#"{"assets": {"container": {"docker": {"web": "example/webby:2.1"}}}}"#;
    let template = r#"{
  "id": "{{service.name}}",
  "cpus": {{web.cpus}},
  "mem": {{web.mem}},
  "instances": {{web.instances}},
  "container": {"type": "DOCKER", "docker": {"image": "{{resource.assets.container.docker.web}}"}},
  "env": {"GREETING": "{{{web.greeting}}}"{{#service.tls}}, "TLS": "on"{{/service.tls}}},
  "portDefinitions": [
    {"port": 0, "name": "http"}{{#service.tls}},
    {"port": 0, "name": "https"}{{/service.tls}}
  ],
  "labels": {"ROLE": "web"{{^service.tls}}, "PLAIN": "yes"{{/service.tls}}}
}"#;
    let mut files = Vec::new();
    for (rev, v, up) in [("0", "1.0.0", ""), ("1", "2.1.0", r#""1.0.0""#)] {
        let dir = format!("packages/W/webby/{rev}");
        files.push(file(&format!("{dir}/package.json"), &pkg(v, up)));
        files.push(file(&format!("{dir}/config.json"), config));
        files.push(file(&format!("{dir}/resource.json"), resource));
        files.push(file(&format!("{dir}/marathon.json.mustache"), template));
    }
    files.push(file("README.md", "not a package"));
    files
}

#[test]
fn universe_layout_is_read_with_revisions_ordering_versions() {
    let repo = read_repository(&universe_repo());
    assert!(repo.problems.is_empty(), "{:?}", repo.problems);
    assert_eq!(repo.names(), vec!["webby"]);
    let newest = repo.find("webby", None).unwrap();
    assert_eq!((newest.meta.version.as_str(), newest.revision, newest.layout), ("2.1.0", Some(1), Layout::Universe));
    assert_eq!(newest.meta.tags, vec!["web", "http"]);
    assert_eq!(repo.find("webby", Some("1.0.0")).unwrap().dir, "packages/W/webby/0");
    assert!(repo.find("webby", Some("9")).unwrap_err().contains("versions: 1.0.0, 2.1.0"));
    assert!(repo.find("nope", None).is_err());
}

#[test]
fn universe_package_renders_to_the_expected_app() {
    let repo = read_repository(&universe_repo());
    let pkg = repo.find("webby", None).unwrap();
    let user = json!({"service": {"name": "/shop/front", "tls": true}, "web": {"instances": 3}});
    let out = render(pkg, &user, &inst("default", "repo")).unwrap();
    assert_eq!(out.objects.len(), 1, "{:?}", out.objects);
    let app = &out.objects[0];
    let opts_b64 = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&user).unwrap());
    // Golden: the Marathon import conversion of the rendered app, plus the package labels.
    let expected = {
        let rendered = json!({
            "id": "/shop/front", "cpus": 0.5, "mem": 256, "instances": 3,
            "container": {"type": "DOCKER", "docker": {"image": "example/webby:2.1"}},
            "env": {"GREETING": "hello <world> & friends", "TLS": "on"},
            "portDefinitions": [{"port": 0, "name": "http"}, {"port": 0, "name": "https"}],
            "labels": {"ROLE": "web"}
        });
        let input = Input { name: "x".into(), text: rendered.to_string() };
        let mut v =
            import::import(Flavor::Marathon, &[input], &ImportOptions::default()).unwrap().objects.remove(0).value;
        v["metadata"]["labels"] = json!({LABEL_PACKAGE: "webby", LABEL_INSTANCE: "test"});
        v["metadata"]["annotations"] = json!({
            ANN_VERSION: "2.1.0", ANN_SOURCE: "repo#packages/W/webby/1", ANN_OPTIONS: opts_b64
        });
        v
    };
    assert_eq!(app, &expected);
    // And the facts the golden stands for, so a wrong conversion cannot agree with itself.
    assert_eq!(app["kind"], "App");
    assert_eq!(
        (app["metadata"]["namespace"].as_str(), app["metadata"]["name"].as_str()),
        (Some("shop"), Some("front"))
    );
    let text = app.to_string();
    assert!(text.contains("hello <world> & friends"), "HTML escaping must be off: {text}");
    assert!(text.contains("example/webby:2.1") && text.contains("https"), "{text}");
    assert_eq!(out.options["web"]["mem"], 256);
}

#[test]
fn inverted_section_renders_when_the_option_is_off() {
    let repo = read_repository(&universe_repo());
    let out = render(repo.find("webby", None).unwrap(), &Value::Null, &inst("apps", "repo")).unwrap();
    let text = out.objects[0].to_string();
    assert!(!text.contains("https") && !text.contains("TLS"), "{text}");
    assert_eq!(out.objects[0]["metadata"]["name"], "webby");
    assert_eq!(out.objects[0]["metadata"]["namespace"], "apps");
}

#[test]
fn schema_errors_stop_rendering_and_name_the_option() {
    let repo = read_repository(&universe_repo());
    let pkg = repo.find("webby", None).unwrap();
    let err = render(pkg, &json!({"web": {"mem": 9000, "cpus": "lots"}}), &inst("default", "repo")).unwrap_err();
    let RenderError::Options(errs) = &err else { panic!("{err:?}") };
    let got: Vec<_> = errs.iter().map(|e| (e.path.as_str(), e.rule.as_str())).collect();
    assert_eq!(got, vec![("web.cpus", "type"), ("web.mem", "maximum")]);
    assert!(err.to_string().contains("web.mem"), "{err}");
}

#[test]
fn version_change_follows_upgrades_from_and_downgrades_to() {
    let repo = read_repository(&universe_repo());
    let v1 = &repo.find("webby", Some("1.0.0")).unwrap().meta;
    let v2 = &repo.find("webby", Some("2.1.0")).unwrap().meta;
    assert!(check_version_change(v1, v2).is_ok());
    assert!(check_version_change(v2, v2).is_ok());
    // 2.1.0 may go back to 1.0.0 because it lists it in downgradesTo.
    assert!(check_version_change(v2, v1).is_ok());
    let v3 = Meta { version: "3.0.0".into(), upgrades_from: vec!["2.0.0".into()], ..v2.clone() };
    let err = check_version_change(v2, &v3).unwrap_err();
    assert!(err.contains("upgradesFrom (2.0.0)"), "{err}");
    let any = Meta { upgrades_from: vec!["*".into()], ..v3 };
    assert!(check_version_change(v1, &any).is_ok());
}

pub(crate) fn dromos_repo() -> Vec<SourceFile> {
    vec![
        file(
            "echo/1.2.0/package.yaml",
            "name: echo\nversion: 1.2.0\ndescription: Echo server\nmaintainer: team@example.com\ntags: [test]\nupgradesFrom: ['1.1.0']\n",
        ),
        file(
            "echo/1.2.0/options.schema.json",
            r#"{"type": "object", "properties": {"replicas": {"type": "integer", "default": 1, "minimum": 1},
                "debug": {"type": "boolean", "default": false}}}"#,
        ),
        file(
            "echo/1.2.0/templates/10-deployment.yaml.mustache",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: echo\nspec:\n  replicas: {{replicas}}\n  template:\n    spec:\n      containers:\n        - name: echo\n          image: example/echo\n          {{#debug}}\n          args: [--debug]\n          {{/debug}}\n",
        ),
        file(
            "echo/1.2.0/templates/20-rbac.yaml.mustache",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: echo-reader\nrules: []\n",
        ),
        file("echo/1.10.0/package.yaml", "name: echo\nversion: 1.10.0\n"),
        file("echo/1.10.0/templates/a.yaml.mustache", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\n"),
        file("broken/1.0/package.yaml", "version: 1.0\n"),
    ]
}

#[test]
fn dromos_layout_renders_yaml_documents_in_file_order() {
    let repo = read_repository(&dromos_repo());
    assert_eq!(repo.problems.len(), 1, "{:?}", repo.problems);
    assert!(repo.problems[0].message.contains("`name`"));
    assert_eq!(repo.find("echo", None).unwrap().meta.version, "1.10.0", "numeric ordering");
    let pkg = repo.find("echo", Some("1.2.0")).unwrap();
    let out = render(pkg, &json!({"replicas": 2, "debug": true}), &inst("ns1", "git")).unwrap();
    assert_eq!(out.objects.len(), 2);
    let d = &out.objects[0];
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["args"], json!(["--debug"]));
    assert_eq!(d["metadata"]["namespace"], "ns1");
    assert_eq!(d["metadata"]["labels"][LABEL_PACKAGE], "echo");
    assert!(out.objects[1]["metadata"].get("namespace").is_none(), "cluster-scoped objects get no namespace");
    let plain = render(pkg, &Value::Null, &inst("ns1", "git")).unwrap();
    assert!(plain.objects[0]["spec"]["template"]["spec"]["containers"][0].get("args").is_none());
    assert_eq!(plain.objects[0]["spec"]["replicas"], 1);
    let bad = render(pkg, &json!({"replicas": 0}), &inst("ns1", "git")).unwrap_err();
    assert!(bad.to_string().contains("replicas"), "{bad}");
}

#[test]
fn expand_package_picks_the_version_and_names_objects_after_the_instance() {
    let repo = read_repository(&dromos_repo());
    let spec: dromos_crds::PackageSpec =
        serde_json::from_value(json!({"name": "echo", "version": "1.2.0", "options": {"replicas": 3}})).unwrap();
    let (v, out) = expand_package(&spec, "team", "my-echo", &repo).unwrap();
    assert_eq!(v.meta.version, "1.2.0");
    assert_eq!(out.objects[0]["spec"]["replicas"], 3);
    assert_eq!(out.objects[0]["metadata"]["labels"][LABEL_INSTANCE], "my-echo");
    assert_eq!(out.objects[0]["metadata"]["annotations"][ANN_SOURCE], "builtin#echo/1.2.0");
    let missing: dromos_crds::PackageSpec = serde_json::from_value(json!({"name": "echo", "version": "9"})).unwrap();
    let err = expand_package(&missing, "team", "x", &repo).unwrap_err();
    assert_eq!(err.reason(), "PackageNotFound");
    assert!(err.to_string().contains("versions: 1.2.0, 1.10.0"), "{err}");
    let bad: dromos_crds::PackageSpec =
        serde_json::from_value(json!({"name": "echo", "version": "1.2.0", "options": {"replicas": "x"}})).unwrap();
    assert_eq!(expand_package(&bad, "team", "x", &repo).unwrap_err().reason(), "InvalidOptions");
}

#[test]
fn instance_is_in_the_context_of_dromos_templates() {
    let files = vec![
        file("p/1.0/package.yaml", "name: p\nversion: '1.0'\n"),
        file(
            "p/1.0/templates/a.yaml.mustache",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{instance.name}}-cfg'}\ndata: {ns: '{{instance.namespace}}', v: '{{instance.version}}', sel: '{{{sel}}}'}\n",
        ),
    ];
    let repo = read_repository(&files);
    let out = render(repo.find("p", None).unwrap(), &json!({"sel": {"a": "b"}}), &inst("ns1", "s")).unwrap();
    let cm = &out.objects[0];
    assert_eq!(cm["metadata"]["name"], "test-cfg");
    assert_eq!(cm["data"], json!({"ns": "ns1", "v": "1.0", "sel": "{\"a\":\"b\"}"}));
}

#[test]
fn repository_reference_of_a_spec() {
    let spec = |v: Value| -> dromos_crds::PackageSpec { serde_json::from_value(v).unwrap() };
    assert_eq!(repo_ref(&spec(json!({"name": "k"}))), RepoRef::Builtin);
    assert_eq!(repo_ref(&spec(json!({"name": "k", "repository": {"builtin": true}}))), RepoRef::Builtin);
    let r = repo_ref(&spec(json!({"name": "k", "repository": {"gitSource": "g", "path": "/pkgs/"}})));
    assert_eq!(r, RepoRef::Path { git_source: Some("g".into()), path: "pkgs".into() });
    assert_eq!(r.to_string(), "gitsource/g:pkgs");
    assert_eq!(files_under(&dromos_repo(), "echo")[0].path, "1.2.0/package.yaml");
}

#[test]
fn source_labels_fit_and_cannot_be_a_gitsource() {
    assert_eq!(source_label("team", "kafka"), "pkg_team.kafka");
    let long = source_label(&"n".repeat(60), &"p".repeat(60));
    assert!(long.len() <= 63 && long.starts_with("pkg_"), "{long}");
    assert_ne!(long, source_label(&"n".repeat(60), &"q".repeat(60)));
}

#[test]
fn health_of_workloads_apps_and_plain_objects() {
    let sts = |ready: i64, updated: i64, og: i64| {
        json!({"kind": "StatefulSet", "metadata": {"generation": 2}, "spec": {"replicas": 3},
               "status": {"observedGeneration": og, "readyReplicas": ready, "updatedReplicas": updated,
                          "currentRevision": "a", "updateRevision": "a"}})
    };
    assert_eq!(health("StatefulSet", Some(&sts(3, 3, 2))).0, "Ready");
    let (h, m) = health("StatefulSet", Some(&sts(2, 3, 2)));
    assert_eq!((h, m.as_deref()), ("Progressing", Some("2/3 ready, 3/3 updated")));
    assert_eq!(health("StatefulSet", Some(&sts(3, 3, 1))).0, "Progressing", "generation not observed");
    let dep = |replicas: i64| {
        json!({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 2},
               "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": 2,
                          "availableReplicas": 2, "updatedReplicas": 2}})
    };
    assert_eq!(health("Deployment", Some(&dep(2))).0, "Ready");
    assert_eq!(health("Deployment", Some(&dep(3))).0, "Progressing", "an old pod still runs");
    let app = |status: &str, og: i64| {
        json!({"apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"generation": 4},
               "status": {"conditions": [{"type": "Ready", "status": status, "observedGeneration": og, "message": "m"}]}})
    };
    assert_eq!(health("App", Some(&app("True", 4))).0, "Ready");
    assert_eq!(health("App", Some(&app("True", 3))).0, "Progressing");
    assert_eq!(health("App", Some(&app("False", 4))), ("Progressing", Some("m".into())));
    assert_eq!(health("ConfigMap", Some(&json!({"kind": "ConfigMap"}))).0, "Exists");
    assert_eq!(health("Deployment", None).0, "Missing");
    // A cache still holding generation 1 after the apply returned generation 2: its status is
    // about the old pods.
    assert_eq!(health_after_apply("Deployment", Some(&dep(2)), Some(1)).0, "Ready");
    assert_eq!(
        health_after_apply("Deployment", Some(&dep(2)), Some(2)),
        ("Progressing", Some("waiting to observe generation 2".into()))
    );
    assert_eq!(health_after_apply("Deployment", Some(&dep(2)), None).0, "Ready");
    assert_eq!(health_after_apply("Deployment", None, Some(2)).0, "Missing");
}

/// Found by the fuzz suite (`repositories_of_arbitrary_files`, shrunk to a template `[]`): a
/// document that is not a mapping, or whose `metadata` is not one, rendered, and the Package
/// operator then panicked writing `metadata.namespace` into it (`install::own_objects`). Such a
/// render is a template error.
#[test]
fn documents_that_are_not_objects_are_template_errors() {
    for (text, why) in [
        ("[]", "it is not a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\njust text\n", "line 5 is not an object"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: 5\n", "`metadata` is not a mapping"),
    ] {
        let files = [
            file("p/2/package.yaml", r#"{"name": "p", "version": "1.0"}"#),
            file("p/2/templates/b.yaml.mustache", text),
        ];
        let repo = read_repository(&files);
        match render(&repo.versions[0], &Value::Null, &inst("team", "test")) {
            Err(e @ RenderError::Template { .. }) => assert!(e.to_string().contains(why), "{text:?}: {e}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

//! Tests of `dromos import`: fixture sets against golden files, the behaviour of imported Apps
//! and Jobs, exit codes, `--strict`, and `--from` a live API.
//!
//! Golden files are regenerated explicitly with `DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos`.

mod common;

use common::{dromos, dromos_in, golden, repo};
use std::collections::BTreeSet;
use std::path::Path;

/// (system argument, fixture directory under tests/fixtures/import).
const IMPORT_SETS: [(&str, &str); 4] =
    [("marathon", "marathon"), ("metronome", "metronome"), ("chronos", "chronos"), ("package", "cosmos")];

/// Every file under `dir`, by relative path.
fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// Compares a directory of outputs with `tests/golden/<name>/`: same file names, same texts.
fn golden_tree(name: &str, actual: &std::collections::BTreeMap<String, String>) {
    let root = repo().join("tests/golden").join(name);
    if std::env::var("DROMOS_UPDATE_GOLDEN").as_deref() == Ok("1") {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        let expected: BTreeSet<String> = read_tree(&root).into_keys().collect();
        let got: BTreeSet<String> = actual.keys().cloned().collect();
        assert_eq!(got, expected, "files of {} differ (DROMOS_UPDATE_GOLDEN=1 to accept)", root.display());
    }
    for (rel, text) in actual {
        golden(&format!("{name}/{rel}"), text);
    }
}

#[test]
fn import_fixtures_match_golden_files_and_pass_validate_and_render() {
    for (system, dir) in IMPORT_SETS {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let report = tmp.path().join("report.txt");
        let fixtures = format!("tests/fixtures/import/{dir}");
        let (code, stdout, stderr) = dromos_in(
            &repo(),
            &["import", system, &fixtures, "-o", out.to_str().unwrap(), "--report", report.to_str().unwrap()],
        );
        // Every fixture set has something Kubernetes cannot carry, on purpose.
        assert_eq!(code, 3, "{system}: {stdout}{stderr}");
        assert!(stdout.starts_with("imported "), "{stdout}");
        let files = read_tree(&out);
        assert!(files.len() >= 3, "{system}: {files:?}");
        golden_tree(&format!("import/{dir}"), &files);
        golden(&format!("import/{dir}.report.txt"), &std::fs::read_to_string(&report).unwrap());
        // Render approximations of the written files, printed like `dromos render` does.
        golden(&format!("import/{dir}.warnings.txt"), &stderr);

        // Imported Packages keep their DC/OS Universe versions, which the built-in catalog does
        // not hold (it ships current versions with options of its own): validate must say so,
        // at the version, for each of them and for nothing else.
        let packages: Vec<&String> = files.keys().filter(|f| f.ends_with(".package.yaml")).collect();
        let (code, stdout, _) = dromos(&["validate", out.to_str().unwrap()]);
        let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("error[")).collect();
        assert!(
            errors
                .iter()
                .all(|l| l.starts_with("error[package-not-found]") || l.starts_with("error[package-repository]")),
            "{system}: {stdout}"
        );
        assert!(errors.len() <= packages.len(), "{system}: {stdout}");
        assert_eq!(code == 0, errors.is_empty(), "{system}: {stdout}");

        // Round trip of everything else: what import writes is valid and renders.
        if packages.len() == files.len() {
            continue;
        }
        let rest = tmp.path().join("rest");
        for (rel, text) in files.iter().filter(|(f, _)| !f.ends_with(".package.yaml")) {
            let path = rest.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let (code, stdout, _) = dromos(&["validate", rest.to_str().unwrap()]);
        assert_eq!(code, 0, "{system}: {stdout}");
        assert!(stdout.contains(&format!("{} object(s), valid", files.len() - packages.len())), "{stdout}");
        let (code, rendered, err) = dromos(&["render", rest.to_str().unwrap()]);
        assert_eq!(code, 0, "{system}: {err}");
        golden(&format!("import/{dir}.render.yaml"), &rendered);
    }
}

/// Rendered objects of an imported fixture set, as JSON values.
fn import_and_render(system: &str, dir: &str) -> Vec<serde_json::Value> {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let fixtures = format!("tests/fixtures/import/{dir}");
    let (code, _, err) = dromos_in(&repo(), &["import", system, &fixtures, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    // Packages keep DC/OS versions the built-in catalog lacks (see the round-trip test): they
    // are read as written, the rest is rendered.
    let mut packages = Vec::new();
    for (rel, text) in read_tree(&out).into_iter().filter(|(f, _)| f.ends_with(".package.yaml")) {
        packages.push(serde_saphyr::from_str::<serde_json::Value>(&text).unwrap());
        std::fs::remove_file(out.join(rel)).unwrap();
    }
    let (code, json, err) = dromos(&["render", out.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut items = list["items"].as_array().unwrap().clone();
    items.extend(packages);
    items
}

/// Marathon apps of a group tree with their absolute ids (relative ids resolved).
fn marathon_apps(v: &serde_json::Value, group: &str, out: &mut Vec<(String, serde_json::Value)>) {
    let abs =
        |id: &str| if id.starts_with('/') { id.to_string() } else { format!("{}/{id}", group.trim_end_matches('/')) };
    if let Some(items) = v.as_array() {
        return items.iter().for_each(|i| marathon_apps(i, group, out));
    }
    if let Some(app) = v.get("app") {
        return marathon_apps(app, group, out);
    }
    if ["apps", "pods", "groups"].iter().any(|k| v.get(*k).is_some()) {
        let gid = v.get("id").and_then(|i| i.as_str()).map(abs).unwrap_or_else(|| "/".into());
        for k in ["apps", "pods", "groups"] {
            for it in v.get(k).and_then(|x| x.as_array()).into_iter().flatten() {
                marathon_apps(it, &gid, out);
            }
        }
        return;
    }
    out.push((abs(v["id"].as_str().unwrap()), v.clone()));
}

#[test]
fn imported_apps_render_the_behaviour_of_their_marathon_definitions() {
    let rendered = import_and_render("marathon", "marathon");
    let mut apps = Vec::new();
    for f in ["root-group.json", "apps.json", "pods.json", "single-app.json"] {
        let text = std::fs::read_to_string(repo().join("tests/fixtures/import/marathon").join(f)).unwrap();
        marathon_apps(&serde_json::from_str(&text).unwrap(), "/", &mut apps);
    }
    assert_eq!(apps.len(), 10);
    let mut checked = 0;
    for (id, src) in &apps {
        if src["labels"].get("DCOS_PACKAGE_NAME").is_some() {
            let pkg = rendered.iter().find(|o| o["kind"] == "Package").expect("package");
            assert_eq!(pkg["spec"]["name"], src["labels"]["DCOS_PACKAGE_NAME"]);
            assert_eq!(pkg["spec"]["options"]["nodes"]["count"], 3, "options decoded from DCOS_PACKAGE_OPTIONS");
            continue;
        }
        assert_workload_of_marathon_app(&rendered, id, src);
        checked += 1;
    }
    assert_eq!(checked, 9);
    assert_dependencies_resolved(&rendered);
    assert_deprecated_fields_modernised(&rendered);
}

/// The workload rendered for the Marathon app (or pod) `src` with absolute id `id`: its kind,
/// replicas, resources, probes and scheduling follow the definition.
fn assert_workload_of_marathon_app(rendered: &[serde_json::Value], id: &str, src: &serde_json::Value) {
    let workload = rendered
        .iter()
        .find(|o| {
            (o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
                && o["metadata"]["annotations"]["dromos.io/id"] == id
        })
        .unwrap_or_else(|| panic!("no workload for {id}"));
    let persistent = src
        .pointer("/container/volumes")
        .and_then(|v| v.as_array())
        .is_some_and(|v| v.iter().any(|x| x.get("persistent").is_some()))
        || src["volumes"].as_array().is_some_and(|v| v.iter().any(|x| x.get("persistent").is_some()));
    assert_eq!(workload["kind"], if persistent { "StatefulSet" } else { "Deployment" }, "{id}");
    let instances = src.get("instances").or(src.pointer("/scaling/instances")).and_then(|i| i.as_i64()).unwrap_or(1);
    assert_eq!(workload["spec"]["replicas"], instances, "{id}");
    let pod = &workload["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    assert_resources(id, src, containers);
    assert_health_checks(id, src, containers);
    // Constraints reach the scheduler.
    let has_constraints = src["constraints"].as_array().is_some_and(|c| !c.is_empty())
        || src.pointer("/scheduling/placement/constraints").and_then(|c| c.as_array()).is_some_and(|c| !c.is_empty());
    // Imported apps get the default placement mode (exact): the Dromos scheduler holds the
    // constraints, the template names it and carries no compiled affinity.
    assert_eq!(pod["schedulerName"], "dromos", "{id}: {pod}");
    if has_constraints {
        assert!(pod.get("affinity").is_none() && pod.get("topologySpreadConstraints").is_none(), "{id}: {pod}");
    }
}

/// Resources: app-level for apps, per container for pods.
fn assert_resources(id: &str, src: &serde_json::Value, containers: &[serde_json::Value]) {
    let wanted: Vec<(f64, f64)> = match src.get("containers").and_then(|c| c.as_array()) {
        Some(cs) => cs
            .iter()
            .map(|c| (c["resources"]["cpus"].as_f64().unwrap(), c["resources"]["mem"].as_f64().unwrap()))
            .collect(),
        None => vec![(src["cpus"].as_f64().unwrap_or(1.0), src["mem"].as_f64().unwrap_or(128.0))],
    };
    for (c, (cpus, mem)) in containers.iter().zip(&wanted) {
        let req = &c["resources"]["requests"];
        let cpu = req["cpu"].as_str().unwrap();
        let cpu =
            cpu.strip_suffix('m').map(|m| m.parse::<f64>().unwrap() / 1000.0).unwrap_or_else(|| cpu.parse().unwrap());
        assert_eq!(cpu, *cpus, "{id} cpu");
        assert_eq!(req["memory"], format!("{mem}Mi"), "{id} mem");
    }
}

/// Health checks: the first one becomes the liveness probe of the matching kind.
fn assert_health_checks(id: &str, src: &serde_json::Value, containers: &[serde_json::Value]) {
    let checks: Vec<&serde_json::Value> = match src.get("containers").and_then(|c| c.as_array()) {
        Some(cs) => cs.iter().map(|c| &c["healthCheck"]).collect(),
        None => src["healthChecks"].as_array().map(|h| h.iter().take(1).collect()).unwrap_or_default(),
    };
    for (i, hc) in checks.iter().enumerate() {
        let probe = &containers[i]["livenessProbe"];
        let proto = hc.get("protocol").and_then(|p| p.as_str()).unwrap_or("");
        let kind = if hc.get("http").is_some() || proto.contains("HTTP") {
            "httpGet"
        } else if hc.get("tcp").is_some() || proto.contains("TCP") {
            "tcpSocket"
        } else if hc.is_null() {
            continue;
        } else {
            "exec"
        };
        assert!(probe.get(kind).is_some(), "{id}: {proto} should render {kind}: {probe}");
        if proto.ends_with("HTTPS") || hc.pointer("/http/scheme").is_some_and(|s| s == "HTTPS") {
            assert_eq!(probe[kind]["scheme"], "HTTPS", "{id}");
        }
    }
    if src["healthChecks"].as_array().is_none_or(|h| h.is_empty()) && src.get("containers").is_none() {
        assert!(containers[0].get("livenessProbe").is_none(), "{id}");
    }
}

/// The rendered App `ns/name`.
fn rendered_app<'a>(rendered: &'a [serde_json::Value], ns: &str, name: &str) -> &'a serde_json::Value {
    rendered
        .iter()
        .find(|o| o["kind"] == "App" && o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name)
        .unwrap()
}

/// Dependencies: relative ones resolved, group dependencies inherited and expanded to Apps.
fn assert_dependencies_resolved(rendered: &[serde_json::Value]) {
    let deps = |ns: &str, name: &str| -> Vec<String> {
        let app = rendered_app(rendered, ns, name);
        app["spec"]["dependencies"].as_array().into_iter().flatten().map(|d| d.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(deps("shop", "api"), ["/data/cache", "/data/db"]);
    assert_eq!(deps("shop", "workers-mailer"), ["/shop/api", "/data/cache", "/data/db"]);
    assert_eq!(deps("shop", "web"), ["/data/cache", "/data/db"]);
    assert!(deps("data", "db").is_empty());
}

/// Deprecated fields in their modern form; the VIP label becomes a Service on the VIP port.
fn assert_deprecated_fields_modernised(rendered: &[serde_json::Value]) {
    let find = |ns: &str, name: &str| rendered_app(rendered, ns, name);
    assert_eq!(find("shop", "api")["spec"]["networks"], serde_json::json!([{"mode": "container/bridge"}]));
    assert_eq!(find("shop", "api")["spec"]["container"]["portMappings"][0]["labels"]["VIP_0"], "/shop/api:80");
    assert_eq!(find("shop", "web")["spec"]["portDefinitions"], serde_json::json!([{"port": 8000}]));
    assert_eq!(find("shop", "web")["spec"]["fetch"][1]["uri"], "https://assets.example.com/site.tgz");
    assert_eq!(find("shop", "workers-mailer")["spec"]["networks"][0]["name"], "dcos");
    assert!(find("shop", "api")["spec"]["container"]["docker"].get("portMappings").is_none());
    // The VIP label becomes a Service on the VIP port.
    let svc = rendered.iter().find(|o| {
        o["kind"] == "Service" && o["metadata"]["namespace"] == "shop" && o["metadata"]["name"] == "shop-api"
    });
    let svc = svc
        .or_else(|| {
            rendered.iter().find(|o| {
                o["kind"] == "Service" && o["metadata"]["namespace"] == "shop" && o["metadata"]["name"] == "api"
            })
        })
        .expect("service for /shop/api");
    assert!(svc["spec"]["ports"].as_array().unwrap().iter().any(|p| p["port"] == 80), "{svc}");
}

#[test]
fn imported_jobs_keep_schedules_dependencies_and_placement() {
    let rendered = import_and_render("metronome", "metronome");
    let job = |ns: &str, name: &str| {
        rendered
            .iter()
            .find(|o| {
                o["kind"] == "Job"
                    && o["apiVersion"] == "dromos.io/v1alpha1"
                    && o["metadata"]["namespace"] == ns
                    && o["metadata"]["name"] == name
            })
            .unwrap()
            .clone()
    };
    let backup = job("ops", "backup");
    assert_eq!(backup["spec"]["schedules"][0]["cron"], "0 2 * * *");
    assert_eq!(backup["spec"]["schedules"][0]["timezone"], "Europe/Paris");
    assert_eq!(backup["spec"]["schedules"][0]["startingDeadlineSeconds"], 600);
    assert_eq!(
        backup["spec"]["run"]["restart"],
        serde_json::json!({"policy": "ON_FAILURE", "activeDeadlineSeconds": 1800})
    );
    assert_eq!(backup["spec"]["run"]["placement"]["constraints"].as_array().unwrap().len(), 2);
    assert_eq!(job("ops", "verify")["spec"]["dependencies"], serde_json::json!([{"id": "ops.backup"}]));
    assert_eq!(job("reports", "monthly")["spec"]["schedules"].as_array().unwrap().len(), 1);
    // The separate schedule file joined its job; every job renders to the run template the job
    // controller creates its runs from.
    let cleanup = rendered
        .iter()
        .find(|o| o["kind"] == "Job" && o["apiVersion"] == "dromos.io/v1alpha1" && o["metadata"]["name"] == "cleanup")
        .unwrap();
    let schedule = &cleanup["spec"]["schedules"][0];
    assert_eq!(schedule["cron"], "30 4 * * 0");
    assert_eq!(schedule["timezone"], "UTC");
    assert_eq!(schedule["concurrencyPolicy"], "FORBID");
    assert_eq!(schedule["enabled"], false);
    for name in ["backup-run", "monthly-run", "verify-run", "cleanup-run"] {
        assert!(rendered.iter().any(|o| o["kind"] == "PodTemplate" && o["metadata"]["name"] == name), "{name}");
    }

    let rendered = import_and_render("chronos", "chronos");
    let job =
        |name: &str| rendered.iter().find(|o| o["kind"] == "Job" && o["metadata"]["name"] == name).unwrap().clone();
    let extract = job("etl-extract");
    assert_eq!(extract["spec"]["schedule"], "R/2026-03-01T02:00:00.000Z/PT1H");
    assert_eq!(extract["spec"]["scheduleTimeZone"], "Europe/Berlin");
    assert_eq!(extract["spec"]["retries"], 3);
    assert_eq!(
        extract["spec"]["run"]["placement"]["constraints"][0],
        serde_json::json!({"attribute": "rack", "operator": "IS", "value": "rack-1"})
    );
    assert_eq!(job("etl-transform")["spec"]["parents"], serde_json::json!(["etl-extract"]));
    assert_eq!(job("etl-transform")["spec"]["softError"], true);
    assert_eq!(job("etl-load")["spec"]["parents"], serde_json::json!(["etl-transform"]));
    assert_eq!(job("etl-load")["spec"]["disabled"], true);
}

/// Writes `files` into a fresh directory.
fn fixture_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn import_exit_codes_strict_and_unreadable_input() {
    let lossless =
        r#"{"id": "/team/web", "cmd": "serve", "instances": 2, "portDefinitions": [{"port": 0, "name": "http"}]}"#;
    let lossy = r#"{"id": "/team/web", "cmd": "serve", "tty": true}"#;
    let cases: [(&str, &str, i32, bool); 4] = [
        ("lossless", lossless, 0, true),
        ("lossy", lossy, 3, true),
        ("broken", "{\"id\": \"/team/web\",\n  \"cmd\": }", 1, false),
        // Marathon refuses this too: the env refers to an undeclared secret. Files are written
        // for the user to fix, and the validation errors are printed.
        ("invalid", r#"{"id": "/team/web", "cmd": "serve", "env": {"A": {"secret": "nope"}}}"#, 1, true),
    ];
    for (what, json, code, writes) in cases {
        let dir = fixture_dir(&[("app.json", json)]);
        let out = dir.path().join("out");
        let (c, stdout, stderr) =
            dromos_in(dir.path(), &["import", "marathon", "app.json", "-o", out.to_str().unwrap()]);
        assert_eq!(c, code, "{what}: {stdout}{stderr}");
        assert_eq!(out.join("team/web.app.yaml").exists(), writes, "{what}");
        match what {
            "lossless" => assert!(stderr.ends_with("0 dropped, 0 approximated, 0 note(s)\n"), "{stderr}"),
            "lossy" => assert!(stderr.contains("dropped      app.json $.tty = true (App team/web)"), "{stderr}"),
            "broken" => {
                assert!(stderr.contains("error: app.json: 2:10: not valid JSON"), "{stderr}");
                assert!(stderr.contains("nothing written"), "{stderr}");
            }
            _ => assert!(stderr.contains("error[unknown-secret]"), "{stderr}"),
        }
    }
    // --strict refuses any loss and writes nothing.
    let dir = fixture_dir(&[("app.json", lossy)]);
    let out = dir.path().join("out");
    let (c, _, stderr) =
        dromos_in(dir.path(), &["import", "marathon", "app.json", "--strict", "-o", out.to_str().unwrap()]);
    assert_eq!(c, 3, "{stderr}");
    assert!(stderr.contains("--strict: nothing written"), "{stderr}");
    assert!(!out.exists());
    // A strict lossless import writes.
    let dir = fixture_dir(&[("app.json", lossless)]);
    let out = dir.path().join("out");
    let (c, _, stderr) =
        dromos_in(dir.path(), &["import", "marathon", "app.json", "--strict", "-o", out.to_str().unwrap()]);
    assert_eq!(c, 0, "{stderr}");
    assert!(out.join("team/web.app.yaml").exists());
    // Wrong types name the file and the JSON path; a missing file is an error too.
    let dir =
        fixture_dir(&[("apps.json", r#"{"apps": [{"id": "/a/b", "cmd": "x"}, {"id": "/a/c", "instances": "two"}]}"#)]);
    let (c, _, stderr) = dromos_in(dir.path(), &["import", "marathon", "apps.json", "-o", "out"]);
    assert_eq!(c, 1);
    assert!(stderr.contains("error: apps.json: $.apps[1].instances: expected an integer, found \"two\""), "{stderr}");
    assert!(!dir.path().join("out").exists());
    let (c, _, stderr) = dromos_in(dir.path(), &["import", "chronos", "missing.json"]);
    assert_eq!(c, 1);
    assert!(stderr.contains("reading missing.json"), "{stderr}");
}

/// A one-shot HTTP server answering every request with `body`; returns its URL and the
/// request lines and headers it received.
fn serve_json(body: String, requests: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..requests {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            seen.push(head);
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
        seen
    });
    (url, handle)
}

#[test]
fn import_from_a_live_marathon_and_metronome_api() {
    let group = std::fs::read_to_string(repo().join("tests/fixtures/import/marathon/root-group.json")).unwrap();
    let (url, server) = serve_json(group, 1);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) =
        dromos_in(tmp.path(), &["import", "marathon", "--from", &url, "--token", "abc", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let requests = server.join().unwrap();
    assert!(
        requests[0].starts_with("GET /v2/groups?embed=group.groups&embed=group.apps&embed=group.pods HTTP/1.1"),
        "{requests:?}"
    );
    assert!(requests[0].contains("authorization: token=abc") || requests[0].contains("Authorization: token=abc"));
    // The same objects as importing the file.
    let from_api = read_tree(&out);
    assert_eq!(from_api.len(), 5, "{:?}", from_api.keys());
    assert!(from_api["shop/api.app.yaml"].contains(&format!("from {url}/v2/groups")));
    assert!(
        stderr.contains(&format!(
            "{url}/v2/groups?embed=group.groups&embed=group.apps&embed=group.pods $.groups[1].apps[1].tty"
        )),
        "{stderr}"
    );

    let jobs = std::fs::read_to_string(repo().join("tests/fixtures/import/metronome/jobs.json")).unwrap();
    let (url, server) = serve_json(jobs, 1);
    let (code, _, stderr) =
        dromos_in(tmp.path(), &["import", "metronome", "--from", &url, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(server.join().unwrap()[0].starts_with("GET /v1/jobs?embed=schedules HTTP/1.1"));
    assert!(out.join("ops/backup.job.yaml").exists());

    // An API error is reported with its status; nothing is written.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ =
            s.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\nConnection: close\r\n\r\nneeds login!");
    });
    let (code, _, stderr) = dromos_in(tmp.path(), &["import", "chronos", "--from", &url, "-o", "elsewhere"]);
    t.join().unwrap();
    assert_eq!(code, 1);
    assert!(stderr.contains("401 Unauthorized: needs login!"), "{stderr}");
    assert!(!tmp.path().join("elsewhere").exists());
}

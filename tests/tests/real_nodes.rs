//! Apps and Jobs on real nodes: containerd and a kubelet run the containers, the kubelet
//! runs the probes Dromos renders from Marathon health checks, and the test talks to the pods
//! over the nodes' bridge. Needs `tests/cluster/up --real-nodes 1` (CI:
//! `DROMOS_REAL_NODES=1 tests/cluster/with-cluster cargo test -p dromos-tests --test real_nodes`);
//! without a Ready real node every test fails with that command. Not part of
//! `cargo test --workspace` (`test = false` in tests/Cargo.toml): the KWOK suite runs without root.

use dromos::operators::manager::ManagerOptions;
use dromos_crds::App;
use dromos_tests::real::{T, app_where, counts, operator, pod_ip, state, the_pod};
use dromos_tests::{
    REAL_ROLE, TestNamespace, app_object as app, client, http_get, images, install_crds, real_nodes, wait_for,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn restart_count(p: &Pod) -> i32 {
    p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).map(|cs| cs[0].restart_count).unwrap_or(0)
}

async fn events_of(ns: &TestNamespace, kind: &str, name: &str) -> Vec<Event> {
    let l = ns.api::<Event>().list(&ListParams::default()).await.unwrap();
    l.items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
        })
        .collect()
}

/// An App with a container image and an HTTP health check: healthy because the kubelet's probe
/// of the running httpd passes; when the check starts failing, the kubelet kills the container
/// after maxConsecutiveFailures probes and starts it again, and the App says so in its status
/// (unhealthy, then `restarts: 1`) and with an `InstanceRestarted` Event.
#[tokio::test]
async fn an_app_becomes_healthy_by_its_http_check_and_restarts_when_the_check_fails() {
    let c = client().await;
    install_crds(&c).await;
    let nodes = real_nodes(&c).await;
    let ns = TestNamespace::new(&c, "real-health").await;
    let (_ctx, _task) = operator(&c, &ns);
    let spec = json!({
        "instances": 1, "cpus": 0.1, "mem": 32,
        "container": {"type": "DOCKER", "docker": {"image": images::HTTP}},
        "portDefinitions": [{"port": 0, "name": "http"}],
        "acceptedResourceRoles": [REAL_ROLE],
        "healthChecks": [{"protocol": "HTTP", "path": "/cgi-bin/health", "portIndex": 0,
                          "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 1,
                          "maxConsecutiveFailures": 3}]
    });
    ns.api::<App>().create(&PostParams::default(), &app("web", spec)).await.unwrap();

    let a = app_where(&ns, "web", "Running, 1 healthy", |a| state(a) == "Running" && counts(a).1 == 1).await;
    assert_eq!(counts(&a), (1, 1, 0, 0));
    let pod = the_pod(&ns, "web").await;
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap();
    assert!(nodes.contains(&node), "web runs on {node}, not on a real node ({nodes:?})");
    // Port 0 became 10000 (PORT0), where the image's httpd listens.
    let addr = format!("{}:10000", pod_ip(&pod));
    assert_eq!(http_get(&addr, "/cgi-bin/health").await, Some((200, "ok\n".into())));
    // The kubelet's probes reached the container: httpd logged them.
    let logs = ns.api::<Pod>().logs(&pod.name_any(), &LogParams::default()).await.unwrap();
    assert!(logs.contains("url:/cgi-bin/health"), "no probe in the container's log:\n{logs}");

    // Health now fails: readiness drops at the first failed probe, liveness kills after 3.
    assert_eq!(http_get(&addr, "/cgi-bin/fail").await.map(|r| r.0), Some(200));
    assert_eq!(http_get(&addr, "/cgi-bin/health").await.map(|r| r.0), Some(503));
    app_where(&ns, "web", "1 unhealthy instance", |a| counts(a).2 == 1).await;
    let a = app_where(&ns, "web", "restarted once and healthy again", |a| {
        state(a) == "Running" && counts(a) == (1, 1, 0, 1)
    })
    .await;
    assert_eq!(a.status.as_ref().unwrap().healthy, Some(1));

    // Restarted in place: the same pod, its container started again with a fresh filesystem.
    let after = the_pod(&ns, "web").await;
    assert_eq!((after.name_any(), restart_count(&after)), (pod.name_any(), 1));
    assert_eq!(http_get(&addr, "/cgi-bin/health").await, Some((200, "ok\n".into())));
    let previous =
        ns.api::<Pod>().logs(&pod.name_any(), &LogParams { previous: true, ..Default::default() }).await.unwrap();
    assert!(previous.contains("serve: stopped"), "the killed container did not get SIGTERM:\n{previous}");

    let app_events = events_of(&ns, "App", "web").await;
    let restarted = app_events
        .iter()
        .find(|e| e.reason.as_deref() == Some("InstanceRestarted"))
        .unwrap_or_else(|| panic!("no InstanceRestarted event on the App: {app_events:#?}"));
    let note = restarted.note.clone().unwrap_or_default();
    assert!(note.contains(&pod.name_any()) && note.contains("1 restart"), "{note}");
    let pod_events = events_of(&ns, "Pod", &pod.name_any()).await;
    assert!(
        pod_events.iter().any(|e| e.reason.as_deref() == Some("Killing")
            && e.note.as_deref().unwrap_or_default().contains("failed liveness probe")),
        "no liveness kill among the pod's events: {pod_events:#?}"
    );
    ns.delete().await;
}

/// A rolling upgrade of 3 instances with `minimumHealthCapacity: 0.5` and no over-capacity:
/// polling every instance's health endpoint throughout, at least 2 always answer 200, and at
/// the end all 3 are new pods that serve.
#[tokio::test]
async fn a_rolling_upgrade_keeps_the_minimum_health_capacity_serving() {
    let c = client().await;
    install_crds(&c).await;
    real_nodes(&c).await;
    let ns = TestNamespace::new(&c, "real-roll").await;
    let (_ctx, _task) = operator(&c, &ns);
    let spec = |v: &str| {
        json!({
            "instances": 3, "cpus": 0.05, "mem": 16, "env": {"V": v},
            "container": {"type": "DOCKER", "docker": {"image": images::HTTP}},
            "portDefinitions": [{"port": 0, "name": "http"}],
            "acceptedResourceRoles": [REAL_ROLE],
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0},
            "healthChecks": [{"protocol": "HTTP", "path": "/cgi-bin/health", "portIndex": 0,
                              "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 1}]
        })
    };
    let apps = ns.api::<App>();
    apps.create(&PostParams::default(), &app("roll", spec("1"))).await.unwrap();
    let a = app_where(&ns, "roll", "Running, 3 healthy", |a| state(a) == "Running" && counts(a).1 == 3).await;
    let old_version = a.status.unwrap().version;
    let pods_api = ns.api::<Pod>();
    let live = || async {
        let l = pods_api.list(&ListParams::default().labels("dromos.io/app=roll")).await.unwrap();
        l.items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect::<Vec<Pod>>()
    };
    let old: Vec<String> = live().await.iter().map(|p| p.name_any()).collect();
    let serving = |pods: Vec<Pod>| async move {
        let mut n = 0;
        for p in pods {
            if let Some(ip) = p.status.as_ref().and_then(|s| s.pod_ip.clone())
                && http_get(&format!("{ip}:10000"), "/cgi-bin/health").await.is_some_and(|r| r.0 == 200)
            {
                n += 1;
            }
        }
        n
    };
    assert_eq!(serving(live().await).await, 3);

    let patch = json!({"spec": {"env": {"V": "2"}}});
    apps.patch("roll", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    let (mut min, mut samples) = (usize::MAX, 0);
    let done = tokio::time::timeout(T, async {
        loop {
            let pods = live().await;
            let fresh = pods.iter().filter(|p| !old.contains(&p.name_any())).count();
            let n = serving(pods).await;
            min = min.min(n);
            samples += 1;
            if fresh == 3 && n == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(done.is_ok(), "the rollout did not finish within {T:?} ({samples} samples, fewest serving {min})");
    assert!(min >= 2, "only {min} of 3 instances served during the rollout ({samples} samples)");
    let a = app_where(&ns, "roll", "the upgrade recorded", |a| {
        state(a) == "Running"
            && a.status.as_ref().and_then(|s| s.last_deployment.as_ref()).is_some_and(|d| d.reason == "Upgrade")
    })
    .await;
    assert_ne!(a.status.unwrap().version, old_version);
    ns.delete().await;
}

/// An App with only `cmd` (Marathon ran it on the agent with the App's ports in PORT0...): the
/// command really runs, with Marathon's environment, and serves on its assigned port.
#[tokio::test]
async fn an_app_with_only_cmd_serves_on_its_assigned_port() {
    let c = client().await;
    install_crds(&c).await;
    let nodes = real_nodes(&c).await;
    let ns = TestNamespace::new(&c, "real-cmd").await;
    let (_ctx, _task) = operator(&c, &ns);
    let cmd = "mkdir -p /tmp/www && echo \"$MARATHON_APP_ID on $HOST port $PORT0\" > /tmp/www/index.html \
               && exec httpd -f -p $PORT0 -h /tmp/www";
    let spec = json!({
        "instances": 1, "cpus": 0.1, "mem": 32, "cmd": cmd,
        "portDefinitions": [{"port": 0, "name": "http"}],
        "acceptedResourceRoles": [REAL_ROLE],
        "healthChecks": [{"protocol": "TCP", "portIndex": 0, "gracePeriodSeconds": 30,
                          "intervalSeconds": 2, "timeoutSeconds": 1}]
    });
    ns.api::<App>().create(&PostParams::default(), &app("hello", spec)).await.unwrap();
    app_where(&ns, "hello", "Running, 1 healthy", |a| state(a) == "Running" && counts(a).1 == 1).await;
    let pod = the_pod(&ns, "hello").await;
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap();
    assert!(nodes.contains(&node), "hello runs on {node}, not on a real node ({nodes:?})");
    let (code, body) = http_get(&format!("{}:10000", pod_ip(&pod)), "/").await.expect("an answer on PORT0");
    assert_eq!((code, body.trim()), (200, format!("/{}/hello on {node} port 10000", ns.name).as_str()));
    ns.delete().await;
}

/// Job runs on a real node (pinned with `dromos.io/role IS real`): a command exiting 0 records
/// a success; one exiting 1 is retried once (`retries: 1`) and then recorded as failed; a
/// Chronos child of the successful job runs after it, the child of the failed one never.
#[tokio::test]
async fn job_runs_succeed_on_exit_0_and_fail_after_their_retries_on_exit_1() {
    use dromos_crds::Job;
    use k8s_openapi::api::batch::v1::Job as BatchJob;
    let c = client().await;
    install_crds(&c).await;
    let nodes = real_nodes(&c).await;
    let ns = TestNamespace::new(&c, "real-jobs").await;
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (_m, _task) =
        dromos_tests::operators(&c, ManagerOptions { scope, jobs: Some(Default::default()), ..Default::default() });
    let job = |name: &str, spec: serde_json::Value| -> Job {
        serde_json::from_value(
            json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": name}, "spec": spec}),
        )
        .unwrap()
    };
    let run = |cmd: &str| {
        json!({"cpus": 0.05, "mem": 16, "docker": {"image": images::EXIT}, "cmd": cmd,
               "placement": {"constraints": [{"attribute": "dromos.io/role", "operator": "IS", "value": REAL_ROLE}]}})
    };
    let jobs = ns.api::<Job>();
    let pp = PostParams::default();
    jobs.create(&pp, &job("after-ok", json!({"parents": ["ok"], "run": run("exit-with 0")}))).await.unwrap();
    jobs.create(&pp, &job("after-bad", json!({"parents": ["bad"], "run": run("exit-with 0")}))).await.unwrap();
    jobs.create(&pp, &job("ok", json!({"schedule": "R1//PT1H", "retries": 0, "run": run("exit-with 0")})))
        .await
        .unwrap();
    jobs.create(&pp, &job("bad", json!({"schedule": "R1//PT1H", "retries": 1, "run": run("exit-with 1")})))
        .await
        .unwrap();

    let job_where = |name: &'static str, what: &'static str, f: fn(&Job) -> bool| {
        let jobs = jobs.clone();
        async move {
            wait_for(&format!("{name}: {what}"), T, || async {
                let j = jobs.get(name).await.ok()?;
                f(&j).then_some(j)
            })
            .await
        }
    };
    let st = |j: &Job| j.status.clone().unwrap_or_default();
    let ok = job_where("ok", "one successful run", |j| j.status.as_ref().is_some_and(|s| s.success_count == 1)).await;
    let r = &st(&ok).runs[0];
    assert_eq!((r.result.as_str(), r.attempts), ("Succeeded", 1), "{r:#?}");
    let bad = job_where("bad", "one failed run", |j| j.status.as_ref().is_some_and(|s| s.failure_count == 1)).await;
    let r = &st(&bad).runs[0];
    assert_eq!((r.result.as_str(), r.attempts), ("Failed", 2), "{r:#?}");
    assert_eq!(st(&bad).success_count, 0);
    let child =
        job_where("after-ok", "one successful run", |j| j.status.as_ref().is_some_and(|s| s.success_count == 1)).await;
    let (parent_run, child_run) = (&st(&ok).runs[0], &st(&child).runs[0]);
    let time = |t: &Option<String>| dromos_core::runs::parse_time(t.as_deref().expect("a time")).expect("RFC 3339");
    assert!(
        time(&parent_run.finish_time) <= time(&child_run.created_time),
        "the child started before its parent finished: {parent_run:#?} {child_run:#?}"
    );

    // The attempts really ran the command on a real node and ended with its exit code.
    let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap().items;
    let exits = |job: &str| -> Vec<(String, i32)> {
        let mut v: Vec<(String, i32)> = pods
            .iter()
            .filter(|p| p.labels().get("dromos.io/job").map(String::as_str) == Some(job))
            .map(|p| {
                let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
                let code = p
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .and_then(|cs| cs[0].state.as_ref()?.terminated.as_ref().map(|t| t.exit_code))
                    .unwrap_or(-1);
                (node, code)
            })
            .collect();
        v.sort();
        v
    };
    for (node, _) in exits("ok").iter().chain(&exits("bad")) {
        assert!(nodes.contains(node), "a run went to {node}, not a real node");
    }
    assert_eq!(exits("ok").iter().map(|e| e.1).collect::<Vec<_>>(), [0]);
    assert_eq!(exits("bad").iter().map(|e| e.1).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(
        ns.api::<BatchJob>().list(&ListParams::default().labels("dromos.io/job=bad")).await.unwrap().items.len(),
        2
    );
    // The failed parent's child never ran.
    let orphan = jobs.get("after-bad").await.unwrap();
    assert!(st(&orphan).runs.is_empty(), "{:#?}", st(&orphan).runs);
    ns.delete().await;
}

/// Serves `files` (path -> bytes) over HTTP/1.0 on `addr` until dropped; returns the bound
/// address and the paths requested so far.
async fn serve_files(
    addr: &str,
    files: Vec<(&'static str, Vec<u8>)>,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let bound = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let files = Arc::new(files);
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let (files, log) = (files.clone(), log.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let answer = match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let mut a = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                        a.extend_from_slice(body);
                        a
                    }
                    None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                };
                let _ = s.write_all(&answer).await;
            });
        }
    });
    (bound, seen, server)
}

/// An App's `fetch` URIs are downloaded by its init container (the test fetch image) from a
/// server of the test on the nodes' bridge, extracted into the sandbox, and used by `cmd`.
#[tokio::test]
async fn fetch_uris_are_downloaded_and_extracted_into_the_sandbox() {
    let c = client().await;
    install_crds(&c).await;
    let nodes = real_nodes(&c).await;
    // The bridge's own address (the pods' gateway, 10.X.0.1) is where pods reach this machine.
    let node: k8s_openapi::api::core::v1::Node = kube::Api::all(c.clone()).get(&nodes[0]).await.unwrap();
    let ip = node.status.unwrap().addresses.unwrap().into_iter().find(|a| a.type_ == "InternalIP").unwrap().address;
    let gateway = format!("{}.0.1", ip.rsplitn(3, '.').nth(2).unwrap());
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("site")).unwrap();
    std::fs::write(site.path().join("site/index.html"), "fetched and extracted\n").unwrap();
    let tar = std::process::Command::new("tar")
        .args(["-czf", "site.tar.gz", "site"])
        .current_dir(site.path())
        .status()
        .expect("tar");
    assert!(tar.success());
    let tgz = std::fs::read(site.path().join("site.tar.gz")).unwrap();
    let (addr, seen, _server) =
        serve_files(&format!("{gateway}:0"), vec![("/site.tar.gz", tgz), ("/note.txt", b"a note\n".to_vec())]).await;

    let ns = TestNamespace::new(&c, "real-fetch").await;
    let (_ctx, _task) = operator(&c, &ns);
    let spec = json!({
        "instances": 1, "cpus": 0.05, "mem": 16,
        "cmd": "cp $MESOS_SANDBOX/note.txt $MESOS_SANDBOX/site/ && exec httpd -f -p $PORT0 -h $MESOS_SANDBOX/site",
        "fetch": [{"uri": format!("http://{addr}/site.tar.gz")}, {"uri": format!("http://{addr}/note.txt")}],
        "portDefinitions": [{"port": 0, "name": "http"}],
        "acceptedResourceRoles": [REAL_ROLE],
        "healthChecks": [{"protocol": "TCP", "portIndex": 0, "gracePeriodSeconds": 30,
                          "intervalSeconds": 2, "timeoutSeconds": 1}]
    });
    ns.api::<App>().create(&PostParams::default(), &app("site", spec)).await.unwrap();
    app_where(&ns, "site", "Running, 1 healthy", |a| state(a) == "Running" && counts(a).1 == 1).await;
    let pod = the_pod(&ns, "site").await;
    let at = format!("{}:10000", pod_ip(&pod));
    assert_eq!(http_get(&at, "/index.html").await, Some((200, "fetched and extracted\n".into())));
    assert_eq!(http_get(&at, "/note.txt").await, Some((200, "a note\n".into())));
    let mut requested = seen.lock().unwrap().clone();
    requested.sort();
    assert_eq!(requested, ["/note.txt", "/site.tar.gz"], "each URI fetched once, by the init container");
    let init = pod.spec.as_ref().unwrap().init_containers.as_ref().expect("a fetch init container");
    assert_eq!(init[0].image.as_deref(), Some(images::FETCH));
    ns.delete().await;
}

const REAL_SERVICE: &str = r#"pods:
  node:
    count: {{count}}
    image: dromos.test/http:1
    role: real
    volumes: [{name: data, path: /data, size: 64Mi, ephemeral: true}]
    tasks:
      init: {goal: ONCE, cmd: "echo made > /data/created", cpus: 0.05, memory: 16}
      server:
        goal: RUNNING
        cmd: exec httpd -f -p 8080 -h /www
        cpus: 0.05
        memory: 32
        ports: {http: 8080}
        readiness: {cmd: "wget -q -O- http://127.0.0.1:8080/ | grep -q {{greeting}}", intervalSeconds: 1}
        configs:
          index: {path: /www/index.html, content: "{{greeting}}\n"}
        decommission: "{{decommission}}"
plans:
  deploy:
    phases: [{name: nodes, pod: node}]
"#;

/// A service package on a real node: the kubelet runs its ONCE task, mounts its rendered
/// configuration file and executes its command readiness check (a step completes only when
/// the server answers with the file); a smaller count runs the task's decommission command in
/// the container through the API server's exec before the instance goes, and a command that
/// exits 1 keeps the instance and fails the step with the exit code.
#[tokio::test]
async fn a_service_runs_its_tasks_checks_and_decommission_commands_in_real_containers() {
    use dromos_crds::Package;
    use dromos_crds::package::ElementStatus;
    let c = client().await;
    install_crds(&c).await;
    real_nodes(&c).await;
    let ns = TestNamespace::new(&c, "real-svc").await;
    let schema = json!({"type": "object", "properties": {
        "count": {"type": "integer", "default": 2}, "greeting": {"type": "string", "default": "hello"},
        "decommission": {"type": "string", "default": "test -e /data/created"}}});
    let dir = "pkgs/web/1.0.0";
    let files = vec![
        (format!("{dir}/package.yaml"), "name: web\nversion: 1.0.0\ndescription: real\n".to_string()),
        (format!("{dir}/options.schema.json"), schema.to_string()),
        (format!("{dir}/service.yaml.mustache"), REAL_SERVICE.to_string()),
    ];
    let _remote = dromos_tests::repo::git_catalog(&ns, &files).await;
    let cache = tempfile::tempdir().unwrap();
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        packages: Some(dromos::operators::packages::Options {
            concurrency: 1,
            cache_dir: cache.path().to_path_buf(),
            allow_file_urls: true,
        }),
        ..Default::default()
    };
    let (_m, _task) = dromos_tests::operators(&c, opts);
    let pkg: Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": "web"},
        "spec": {"name": "web", "repository": {"gitSource": "catalog", "path": "pkgs"}, "options": {"count": 2}}
    }))
    .unwrap();
    let api = ns.api::<Package>();
    api.create(&PostParams::default(), &pkg).await.unwrap();
    let plan = |p: &Package, name: &str| p.status.as_ref()?.plans.iter().find(|x| x.name == name).cloned();
    let package_where = |what: &'static str, f: Box<dyn Fn(&Package) -> bool + Send + Sync>| {
        let api = api.clone();
        async move { wait_for(what, T, || async { api.get("web").await.ok().filter(|p| f(p)) }).await }
    };
    package_where(
        "deployed",
        Box::new(move |p| plan(p, "deploy").is_some_and(|x| x.status == ElementStatus::Complete)),
    )
    .await;
    let pods = ns.api::<Pod>();
    for i in 0..2 {
        let pod = pods.get(&format!("web-node-{i}")).await.unwrap();
        let at = format!("{}:8080", pod.status.as_ref().unwrap().pod_ip.as_ref().unwrap());
        assert_eq!(http_get(&at, "/index.html").await, Some((200, "hello\n".into())), "the rendered file, served");
        let init = &pod.status.as_ref().unwrap().init_container_statuses.as_ref().unwrap()[0];
        let exit = init.state.as_ref().and_then(|s| s.terminated.as_ref()).map(|t| t.exit_code);
        assert_eq!((init.name.as_str(), exit), ("init", Some(0)), "the ONCE task ran");
    }

    // Scale down: the decommission command runs in node-1's container (exit 0), then it goes.
    let patch = |body: serde_json::Value| {
        let api = api.clone();
        async move { api.patch("web", &PatchParams::default(), &Patch::Merge(&body)).await.unwrap() }
    };
    patch(json!({"spec": {"options": {"count": 1}}})).await;
    package_where(
        "decommissioned",
        Box::new(move |p| plan(p, "decommission").is_some_and(|x| x.status == ElementStatus::Complete)),
    )
    .await;
    wait_for("web-node-1 gone", T, || async { pods.get_opt("web-node-1").await.unwrap().is_none().then_some(()) })
        .await;
    let events = ns.api::<Event>().list(&ListParams::default()).await.unwrap().items;
    assert!(
        events.iter().any(|e| e.reason.as_deref() == Some("DecommissionStarted")
            && e.note.as_deref() == Some("running the decommission commands of web-node-1")),
        "{events:#?}"
    );

    // Back to two; a decommission command that exits 1 keeps the instance and fails the step.
    patch(json!({"spec": {"options": {"count": 2, "decommission": "test -e /data/never"}}})).await;
    package_where(
        "two again",
        Box::new(move |p| {
            plan(p, "deploy").is_some_and(|x| x.status == ElementStatus::Complete && x.phases[0].steps.len() == 2)
        }),
    )
    .await;
    wait_for("web-node-1 ready", T, || async {
        let p = pods.get_opt("web-node-1").await.ok()??;
        p.status?.conditions?.iter().any(|c| c.type_ == "Ready" && c.status == "True").then_some(())
    })
    .await;
    patch(json!({"spec": {"options": {"count": 1}}})).await;
    let p = package_where(
        "decommission failed",
        Box::new(move |p| plan(p, "decommission").is_some_and(|x| x.status == ElementStatus::Error)),
    )
    .await;
    let failed = plan(&p, "decommission").unwrap();
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("step node-1:remove failed: decommission: task server: `test -e /data/never`"),
        "{message}"
    );
    assert!(message.contains("exit code 1"), "the container's own exit code: {message}");
    let kept = pods.get("web-node-1").await.unwrap();
    assert!(kept.metadata.deletion_timestamp.is_none(), "a failed decommission removes nothing");
    ns.delete().await;
}

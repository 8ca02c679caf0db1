//! `dromos plan PATH --source NAMESPACE/NAME` against the real control plane: a GitSource
//! synced by the operator, then a checkout of its repository changed as a pull request would,
//! planned with the binary. Changes, deletions (objects the source owns), the deletion guard,
//! an object that belongs to nobody, a SourcePolicy refusal, and `--revision`.

use dromos::operators::manager::ManagerOptions;
use dromos_crds::GitSource;
use dromos_tests::repo::commit;
use dromos_tests::{TestNamespace, client, install_crds, wait_for};
use git2::Repository;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use std::path::Path;
use std::time::Duration;

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

/// Runs `dromos plan` with `args` (KUBECONFIG from the environment); (exit code, stdout).
fn plan(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(dromos_tests::dromos_bin())
        .arg("plan")
        .args(args)
        .output()
        .expect("run dromos plan");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

fn write(dir: &Path, file: &str, text: Option<&str>) {
    let p = dir.join(file);
    match text {
        Some(t) => {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        None => std::fs::remove_file(p).unwrap(),
    }
}

/// A GitSource `repo` reading `deploy/` of a fresh repository (six ConfigMaps), synced by the
/// operator; the operator runs while the returned task lives.
struct Synced {
    c: kube::Client,
    ns: TestNamespace,
    url: String,
    source: String,
    _remote: tempfile::TempDir,
    _cache: tempfile::TempDir,
    _task: dromos_tests::Task,
}

async fn synced(prefix: &str) -> Synced {
    dromos_tests::init_tracing();
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, prefix).await;
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let files: Vec<(String, String)> =
        (0..6).map(|i| (format!("deploy/c{i}.yaml"), cm(&format!("c{i}"), "1"))).collect();
    let mut refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    refs.push(("README.md", Some("not a manifest, outside spec.path")));
    let head = commit(&repo, "main", &refs, "initial");
    repo.set_head("refs/heads/main").unwrap(); // what a clone checks out
    let cache = tempfile::tempdir().unwrap();
    let opts = dromos_tests::gitsource_options(cache.path());
    let scope = dromos::scope::Scope::namespace(ns.name.clone());
    let (_m, task) = dromos_tests::operators(&c, ManagerOptions { scope, gitsource: Some(opts), ..Default::default() });
    let url = format!("file://{}", remote.path().display());
    let gs: GitSource = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "repo"},
        "spec": {"url": url, "interval": "1h", "path": "deploy"}
    }))
    .unwrap();
    ns.api::<GitSource>().create(&PostParams::default(), &gs).await.unwrap();
    let rev = format!("main@sha1:{head}");
    wait_for("the source applied", Duration::from_secs(60), || async {
        let gs = ns.api::<GitSource>().get("repo").await.ok()?;
        (gs.status?.last_applied_revision.as_deref() == Some(rev.as_str())).then_some(())
    })
    .await;
    let source = format!("{}/repo", ns.name);
    Synced { c, ns, url, source, _remote: remote, _cache: cache, _task: task }
}

#[tokio::test]
async fn a_branch_is_planned_against_what_the_gitsource_owns() {
    let s = synced("plansrc").await;
    let (c, url, source) = (s.c.clone(), s.url.clone(), s.source.clone());
    let ns = &s.ns;

    // A checkout with no change plans nothing.
    let work = tempfile::tempdir().unwrap();
    let checkout = Repository::clone(&url, work.path()).unwrap();
    let dir = work.path();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("source: GitSource {source}")) && out.contains("cluster: "), "{out}");

    // A pull request: one change, one deletion, one addition.
    write(dir, "deploy/c1.yaml", Some(&cm("c1", "2")));
    write(dir, "deploy/c2.yaml", None);
    write(dir, "deploy/new.yaml", Some(&cm("new", "1")));
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 2, "{out}");
    let line = |prefix: &str, name: &str| out.lines().any(|l| l.starts_with(prefix) && l.contains(name));
    assert!(line("~ update", "/c1"), "{out}");
    assert!(out.contains("-  value: \"1\"") || out.contains("value: \"2\""), "the diff shows the value: {out}");
    assert!(line("- delete", "/c2"), "the owned object whose file left is deleted: {out}");
    assert!(line("+ create", "/new"), "{out}");
    assert!(!line("+ create", "/c0"), "what the source owns is not created again: {out}");
    let remote = url.trim_start_matches("file://");
    let shown = dromos_tests::shown_as(
        &out,
        &[(ns.name.as_str(), "team-a"), (remote, "/srv/git/deploy.git"), (dir.to_str().unwrap(), "/home/me/deploy")],
    );
    dromos_tests::walkthrough("docs/pr-review.md", "plan-source", &shown);

    // --rendered: an App of the branch shows the objects it expands to, dry-run on the cluster.
    let app = "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {cmd: 'sleep 1', cpus: 0.1, mem: 32}\n";
    write(dir, "deploy/web.yaml", Some(app));
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source, "--rendered"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("rendered objects of the Apps (compared with the API server's dry-run answers)"), "{out}");
    assert!(out.contains(&format!("+ create Deployment/{}/web (of App/{}/web)", ns.name, ns.name)), "{out}");
    write(dir, "deploy/web.yaml", None);

    // Markdown for a pull-request comment, and JSON.
    let (code, md) = plan(&[dir.to_str().unwrap(), "--source", &source, "-o", "markdown"]);
    assert_eq!(code, 2, "{md}");
    assert!(md.starts_with("### dromos plan:") && md.contains(&format!("GitSource {source}")), "{md}");
    let (_, json) = plan(&[dir.to_str().unwrap(), "--source", &source, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON output");
    assert!(v["header"].as_array().is_some_and(|h| !h.is_empty()), "{v}");

    // An object that exists and belongs to nobody is refused, as the sync would.
    let stray: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "new"}})).unwrap();
    ns.api::<ConfigMap>().create(&PostParams::default(), &stray).await.unwrap();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused") && out.contains("/new"), "{out}");
    Api::<ConfigMap>::namespaced(c.clone(), &ns.name).delete("new", &Default::default()).await.unwrap();

    // Deleting most of what it owns: the deletion guard refuses.
    for i in 0..5 {
        let f = format!("deploy/c{i}.yaml");
        if dir.join(&f).exists() {
            write(dir, &f, None);
        }
    }
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    assert_eq!(code, 1, "{out}");
    assert!(out.to_lowercase().contains("guard") || out.contains("refus"), "{out}");

    // --revision plans a commit of the checkout's repository, not its working tree.
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    let base = checkout.head().unwrap().peel_to_commit().unwrap();
    let mut index = checkout.index().unwrap();
    let blob = cm("c3", "9");
    std::fs::write(dir.join("deploy/c3.yaml"), &blob).unwrap();
    index.add_path(Path::new("deploy/c3.yaml")).unwrap();
    let tree = checkout.find_tree(index.write_tree().unwrap()).unwrap();
    checkout.commit(Some("refs/heads/feature"), &sig, &sig, "c3 to 9", &tree, &[&base]).unwrap();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source, "--revision", "feature"]);
    assert_eq!(code, 2, "{out}");
    assert!(line_in(&out, "~ update", "/c3") && !line_in(&out, "- delete", "/c2"), "{out}");
    assert!(out.contains("revision feature ("), "{out}");

    // A SourcePolicy that does not allow the repository: refused before anything is read.
    let policy: dromos_crds::SourcePolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "SourcePolicy",
        "metadata": {"name": format!("only-github-{}", ns.name)},
        "spec": {"sourceNamespaces": [ns.name], "repositories": ["https://github.com/example/*"]}
    }))
    .unwrap();
    let policies: Api<dromos_crds::SourcePolicy> = Api::all(c.clone());
    policies.create(&PostParams::default(), &policy).await.unwrap();
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source]);
    policies.delete(&policy.metadata.name.clone().unwrap(), &Default::default()).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PolicyViolation") && out.contains("spec.url"), "{out}");

    // Flags that only make sense for a local source are refused with --source.
    let (code, out) = plan(&[dir.to_str().unwrap(), "--source", &source, "--no-prune"]);
    assert_eq!(code, 2, "clap refuses the combination: {out}");
    assert!(out.contains("cannot be used with"), "{out}");
    s.ns.delete().await;
}

fn line_in(out: &str, prefix: &str, name: &str) -> bool {
    out.lines().any(|l| l.starts_with(prefix) && l.contains(name))
}

/// A fake GitHub API on loopback: the comments of pull request 5 of `o/r`, and every request.
#[derive(Default)]
struct Forge {
    comments: Vec<serde_json::Value>,
    requests: Vec<String>,
}

async fn github(state: std::sync::Arc<std::sync::Mutex<Forge>>) -> String {
    use axum::body::Bytes;
    use axum::extract::{Path as P, RawQuery, State};
    use axum::routing::{get, patch};
    type S = std::sync::Arc<std::sync::Mutex<Forge>>;
    type Json = ([(axum::http::HeaderName, &'static str); 1], String);
    fn json(v: serde_json::Value) -> Json {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string())
    }
    async fn list(State(s): State<S>, RawQuery(q): RawQuery) -> Json {
        let mut f = s.lock().unwrap();
        let page = q.unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix("page=").map(str::to_string));
        f.requests.push(format!("GET page {}", page.clone().unwrap_or_default()));
        json(if page.as_deref().unwrap_or("1") == "1" { serde_json::json!(f.comments) } else { serde_json::json!([]) })
    }
    async fn create(State(s): State<S>, body: Bytes) -> Json {
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut f = s.lock().unwrap();
        f.requests.push("POST".into());
        let c = serde_json::json!({"id": 100 + f.comments.len(), "body": body["body"]});
        f.comments.push(c.clone());
        json(c)
    }
    async fn update(State(s): State<S>, P(id): P<u64>, body: Bytes) -> Json {
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut f = s.lock().unwrap();
        f.requests.push(format!("PATCH {id}"));
        for c in f.comments.iter_mut().filter(|c| c["id"] == id) {
            c["body"] = body["body"].clone();
        }
        json(serde_json::json!({"id": id}))
    }
    let app = axum::Router::new()
        .route("/repos/o/r/issues/5/comments", get(list).post(create))
        .route("/repos/o/r/issues/comments/{id}", patch(update))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Runs integrations/pr-plan.sh as a GitHub Actions job would; (exit code, output).
async fn pr_script(dir: &Path, source: &str, api: &str) -> (i32, String) {
    let script = dromos_tests::chart::repo_root().join("integrations/pr-plan.sh");
    let (dir, source, api) = (dir.to_path_buf(), source.to_string(), api.to_string());
    // The fake forge answers on this runtime: the script runs on a blocking thread.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg(&script)
            .current_dir(&dir)
            .env("DROMOS", dromos_tests::dromos_bin())
            .env("DROMOS_SOURCE", &source)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GITHUB_TOKEN", "t0ken")
            .env("GITHUB_API_URL", &api)
            .env("DROMOS_PR", "5")
            .output()
            .expect("run pr-plan.sh")
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_pull_request_script_annotates_plans_and_keeps_one_comment() {
    let s = synced("prscript").await;
    let work = tempfile::tempdir().unwrap();
    Repository::clone(&s.url, work.path()).unwrap();
    let dir = work.path();
    let forge = std::sync::Arc::new(std::sync::Mutex::new(Forge::default()));
    let api = github(forge.clone()).await;

    // A change: the plan is posted as a new comment.
    write(dir, "deploy/c1.yaml", Some(&cm("c1", "2")));
    let (code, out) = pr_script(dir, &s.source, &api).await;
    assert_eq!(code, 0, "{out}");
    {
        let f = forge.lock().unwrap();
        assert_eq!(f.comments.len(), 1, "{:?}", f.requests);
        let body = f.comments[0]["body"].as_str().unwrap();
        assert!(body.starts_with("<!-- dromos-plan -->") && body.contains("c1") && body.contains(&s.source), "{body}");
    }

    // An invalid manifest: annotations on its line, the same comment updated, exit 1.
    let app =
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  cmd: sleep 1\n  instancess: 3\n";
    write(dir, "deploy/web.yaml", Some(app));
    let (code, out) = pr_script(dir, &s.source, &api).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("::error file=./deploy/web.yaml,line=7") || out.contains("::error file=deploy/web.yaml,line=7"),
        "{out}"
    );
    {
        let f = forge.lock().unwrap();
        assert_eq!(f.comments.len(), 1, "still one comment: {:?}", f.requests);
        assert!(f.requests.iter().any(|r| r == "PATCH 100"), "{:?}", f.requests);
        let body = f.comments[0]["body"].as_str().unwrap();
        assert!(body.contains("invalid") && body.contains("instancess"), "{body}");
    }
    s.ns.delete().await;
}

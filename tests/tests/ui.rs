//! The web UI in headless Chromium through WebDriver (tests/src/browser.rs), against the real
//! control plane with `examples/` synced (the GitSource, App and Job operators and the
//! scheduler in process): `dromos ui` shows each page's rows, a change made through the API
//! appears without a reload, restart / run-now / suspend / resume work (by mouse and by
//! keyboard), a source's page plans a new commit as a diff (and shows an invalid one's
//! diagnostics), the catalog lists a Git repository's packages, the package form refuses an
//! invalid option and produces a manifest `dromos validate` accepts and a patch `git apply`
//! takes, installs a Git repository's package and changes an installed Package, SourcePolicies
//! refuse a package repository and a repository URL in the UI too, axe-core finds nothing
//! serious on any page; `dromos controller --ui` hides what RBAC
//! hides and answers 403 to actions on it.
//!
//! Screenshots of every page are written to a temporary directory, or to `docs/ui/` with
//! `DROMOS_UI_SCREENSHOTS=docs/ui` (how the committed ones are made).

use dromos_crds::{App, GitSource, Job, Offer};
use dromos_tests::browser::{Browser, axe_source, http};
use dromos_tests::{Running, TestNamespace, app_object, client, free_addr, install_crds, unique_suffix, wait_for};
use fantoccini::Locator;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

async fn create<K>(api: &Api<K>, v: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(v).expect("object");
    api.create(&PostParams::default(), &obj).await.expect("create")
}

fn job(name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"run": {"cmd": "true", "cpus": 0.1, "mem": 32}});
    for (k, v) in extra.as_object().expect("object") {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": name}, "spec": spec})
}

/// Starts `dromos ui --no-open` and returns it with its printed sign-in link.
fn start_local_ui() -> (Running, String) {
    let mut child = Command::new(dromos_tests::dromos_bin())
        .args(["ui", "--no-open", "--allow-local-git", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dromos ui");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let running = Running(child);
    let url = rx.recv_timeout(Duration::from_secs(60)).expect("dromos ui printed its link within 60 s");
    (running, url)
}

fn shots_dir() -> (std::path::PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("DROMOS_UI_SCREENSHOTS") {
        Ok(d) => (dromos_tests::chart::repo_root().join(d), None),
        Err(_) => {
            let t = tempfile::tempdir().expect("temp dir");
            (t.path().to_path_buf(), Some(t))
        }
    }
}

/// Clicks the element `css` names. A live update may redraw the page between finding the element
/// and clicking it: WebDriver then refuses the click (a stale element, never clicked) and the
/// element is found again in the new page.
async fn click(b: &Browser, css: &str) {
    for _ in 0..10 {
        let element = b.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        match element.click().await {
            Ok(_) => return,
            Err(e) if e.is_stale_element_reference() => continue,
            Err(e) => panic!("click {css}: {e}"),
        }
    }
    panic!("{css} was redrawn under every one of 10 clicks");
}

/// Types `text` into a table's filter box. A live update may redraw the page between finding
/// the box and typing: then it is found again.
async fn filter(b: &Browser, table: &str, text: &str) {
    let css = format!("#{table}-filter");
    for _ in 0..10 {
        if let Ok(f) = b.client.find(Locator::Css(&css)).await
            && f.clear().await.is_ok()
            && f.send_keys(text).await.is_ok()
        {
            let now = b.client.find(Locator::Css(&css)).await.ok();
            let value = match now {
                Some(f) => f.prop("value").await.ok().flatten(),
                None => None,
            };
            if value.as_deref() == Some(text) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not type {text:?} into {css}");
}

async fn check_a11y(b: &Browser, axe: &str, page: &str, found: &mut Vec<String>) {
    for v in b.axe_serious(axe).await {
        found.push(format!("{page}: {v}"));
    }
}

/// Namespaces of the Apps, Jobs and Packages of `examples/`.
const EXAMPLE_NAMESPACES: [&str; 4] = ["shop", "ops", "reports", "data"];

/// `examples/` synced from a local repository by the GitSource operator, with the App and Job
/// operators and the Dromos scheduler placing the Apps (the quickstart's storage nodes added):
/// what the pages show. Dropped: nothing of it is left.
struct Examples {
    c: kube::Client,
    ns: String,
    remote: tempfile::TempDir,
    _cache: tempfile::TempDir,
    _operators: Vec<dromos_tests::Task>,
    _lock: dromos_tests::ExamplesLock,
}

impl Examples {
    const SOURCE: &str = "examples";

    async fn sync(c: &kube::Client, ns: &str) -> Self {
        use dromos::operators::{apps, gitsource, jobs, manager::ManagerOptions, scheduler};
        let lock = dromos_tests::examples_lock();
        dromos_tests::wait_namespaces_settled(c, &EXAMPLE_NAMESPACES).await;
        let mut scope: Vec<String> = EXAMPLE_NAMESPACES.iter().map(|s| s.to_string()).collect();
        scope.push(ns.to_string());
        let (_, workloads) = dromos_tests::operators(
            c,
            ManagerOptions {
                scope: dromos::scope::Scope::of(scope),
                apps: Some(apps::Options { concurrency: 4, ..Default::default() }),
                jobs: Some(jobs::Options::default()),
                // Offers are cluster-wide: this scheduler places without publishing them.
                scheduler: Some(scheduler::Options { offers: false, ..Default::default() }),
                ..Default::default()
            },
        );
        // What a failed run left: gone before the sync (the App operator releases finalizers).
        let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
        for n in EXAMPLE_NAMESPACES {
            let _ = nss.delete(n, &Default::default()).await;
        }
        for n in EXAMPLE_NAMESPACES {
            wait_for(&format!("namespace {n} gone"), Duration::from_secs(120), || async {
                nss.get_opt(n).await.expect("namespace").is_none().then_some(())
            })
            .await;
        }
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(c.clone());
        let now = nodes.list(&Default::default()).await.expect("nodes").items;
        dromos::quickstart::add_capacity(c, &now, &mut std::io::sink()).await.expect("the storage nodes");
        let remote = tempfile::tempdir().expect("remote");
        let files = dromos::quickstart::files_of(&dromos_tests::chart::repo_root().join("examples")).expect("examples");
        let commit = dromos::quickstart::commit_tree(remote.path(), &files, "examples").expect("commit");
        let cache = tempfile::tempdir().expect("cache");
        let label = format!("ui-{}", unique_suffix());
        let (_, git) = dromos_tests::operators(
            c,
            ManagerOptions {
                scope: dromos::scope::Scope::All,
                gitsource: Some(gitsource::Options {
                    selector: Some(format!("dromos.io/ui-test={label}")),
                    ..dromos_tests::gitsource_options(cache.path())
                }),
                ..Default::default()
            },
        );
        create(
            &Api::<GitSource>::namespaced(c.clone(), ns),
            json!({"apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
                "metadata": {"name": Self::SOURCE, "labels": {"dromos.io/ui-test": label}},
                "spec": {"url": format!("file://{}", remote.path().display()), "interval": "1h", "prune": true,
                    "allowMassDelete": true}}),
        )
        .await;
        let ex = Examples {
            c: c.clone(),
            ns: ns.to_string(),
            remote,
            _cache: cache,
            _operators: vec![workloads, git],
            _lock: lock,
        };
        ex.wait_applied(&commit, Duration::from_secs(120)).await;
        // The Apps run: the scheduler placed them, KWOK made them ready.
        for id in ["shop/db", "shop/api", "shop/frontend"] {
            let (ans, name) = id.split_once('/').expect("id");
            let api: Api<App> = Api::namespaced(c.clone(), ans);
            wait_for(&format!("App {id} running all its instances"), Duration::from_secs(180), || async {
                let st = api.get(name).await.ok()?.status?;
                (st.running.unwrap_or(0) > 0 && st.running == st.instances).then_some(())
            })
            .await;
        }
        ex
    }

    async fn wait_applied(&self, commit: &str, timeout: Duration) {
        let sources: Api<GitSource> = Api::namespaced(self.c.clone(), &self.ns);
        wait_for(&format!("GitSource {} applied {commit}", Self::SOURCE), timeout, || async {
            let st = sources.get(Self::SOURCE).await.ok()?.status?;
            st.last_applied_revision.filter(|r| r.contains(commit)).map(|_| st.inventory.len())
        })
        .await;
    }

    /// Commits `files` (path, content) over the examples.
    fn commit(&self, changed: &[(&str, &str)]) -> String {
        let mut files =
            dromos::quickstart::files_of(&dromos_tests::chart::repo_root().join("examples")).expect("examples");
        for (path, text) in changed {
            files.retain(|(p, _)| p.as_str() != *path);
            files.push((path.to_string(), text.as_bytes().to_vec()));
        }
        files.sort();
        dromos::quickstart::commit_tree(self.remote.path(), &files, "change").expect("commit")
    }

    /// Prunes what the sync applied (an empty revision), deletes the examples' namespaces while
    /// the App operator still runs, and the storage nodes.
    async fn remove(self) {
        let empty = dromos::quickstart::commit_tree(self.remote.path(), &[], "remove everything").expect("commit");
        dromos::status::request_source_reconcile(&self.c, &self.ns, Self::SOURCE, false).await.expect("reconcile");
        let sources: Api<GitSource> = Api::namespaced(self.c.clone(), &self.ns);
        wait_for("the examples pruned", Duration::from_secs(120), || async {
            let st = sources.get(Self::SOURCE).await.ok()?.status?;
            (st.last_applied_revision.is_some_and(|r| r.contains(&empty)) && st.inventory.is_empty()).then_some(())
        })
        .await;
        let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.c.clone());
        for n in EXAMPLE_NAMESPACES {
            let _ = nss.delete(n, &Default::default()).await;
        }
        for n in EXAMPLE_NAMESPACES {
            wait_for(&format!("namespace {n} gone"), Duration::from_secs(120), || async {
                nss.get_opt(n).await.expect("namespace").is_none().then_some(())
            })
            .await;
        }
        dromos::quickstart::remove_capacity(&self.c).await.expect("remove the storage nodes");
    }
}

/// A package repository in a Git repository (GitSource `catalog` of the test's namespace).
fn repository_files() -> Vec<(String, String)> {
    let template =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{instance.name}}\ndata:\n  greeting: {{greeting}}\n";
    let schema = r#"{"type": "object", "properties": {"greeting": {"type": "string", "default": "hello"}}}"#;
    [
        (
            "pkgs/greeter/1.0.0/package.yaml",
            "name: greeter\nversion: 1.0.0\ndescription: Says hello from a Git repository\n",
        ),
        ("pkgs/greeter/1.0.0/options.schema.json", schema),
        ("pkgs/greeter/1.0.0/templates/10-configmap.yaml.mustache", template),
    ]
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_cluster_live_and_actions_work() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "ui").await;
    let n = ns.name.clone();
    let examples = Examples::sync(&c, &n).await;
    let apps: Api<App> = ns.api();
    let jobs: Api<Job> = ns.api();
    let sources: Api<GitSource> = ns.api();
    let spec = json!({"cmd": "sleep 3600", "instances": 2, "cpus": 0.1, "mem": 32});
    apps.create(&PostParams::default(), &app_object("web", spec.clone())).await.expect("app web");
    apps.create(&PostParams::default(), &app_object("worker", spec.clone())).await.expect("app worker");
    create(
        &jobs,
        job("backup", json!({"schedules": [{"id": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Paris"}]})),
    )
    .await;
    create(&jobs, job("verify", json!({"parents": ["backup"]}))).await;
    create(
        &sources,
        json!({"apiVersion": "dromos.io/v1alpha1", "kind": "GitSource", "metadata": {"name": "platform"},
            "spec": {"url": "https://git.example.com/platform.git", "path": "clusters/prod", "secretRef": {"name": "platform-git"}}}),
    )
    .await;
    // Packages from a Git repository, and one whose repository's GitSource does not exist.
    let _catalog = dromos_tests::repo::git_catalog(&ns, &repository_files()).await;
    for (name, gs) in [("hello", "catalog"), ("lost", "nowhere")] {
        create(
            &ns.api::<dromos_crds::Package>(),
            json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Package", "metadata": {"name": name},
                "spec": {"name": "greeter", "repository": {"gitSource": gs, "path": "pkgs"},
                    "options": {"greeting": "bonjour", "unlisted": {"kept": true}}}}),
        )
        .await;
    }
    let offers: Api<Offer> = Api::all(c.clone());
    // What a failed run left (its rows would show on the Overview).
    for o in offers.list(&Default::default()).await.expect("offers").items {
        if o.name_any().starts_with("ui-node-") {
            let _ = offers.delete(&o.name_any(), &Default::default()).await;
        }
    }
    let offer_name = format!("ui-node-{}", unique_suffix());
    let res = |cpus: f64| json!({"cpus": cpus, "mem": 4096.0, "disk": 10240.0, "gpus": 0, "ports": [{"begin": 31000, "end": 32000}]});
    create(
        &offers,
        json!({"apiVersion": "dromos.io/v1alpha1", "kind": "Offer", "metadata": {"name": offer_name},
            "spec": {"nodeName": offer_name, "zone": "zone-ui", "roles": ["ui-role"], "total": res(8.0), "free": res(6.0),
                "attributes": {"rack": "r9"}}}),
    )
    .await;

    let (_ui, login) = start_local_ui();
    let base = login.split("/login").next().expect("base URL").to_string();
    let axe = axe_source();
    let (shots, _keep) = shots_dir();
    let mut a11y = vec![];
    let b = Browser::start().await;

    // Sign in through the printed link: lands on the Overview.
    b.client.goto(&login).await.expect("open the sign-in link");
    b.wait_text("the Overview", "main h1", T, |t| t == "Overview").await;
    b.wait_text("the live indicator", "#live", T, |t| t == "live").await;
    b.wait_text("the Offer's role and zone", "#res-table", T, |t| t.contains("ui-role") && t.contains("zone-ui")).await;
    b.screenshot(&shots.join("overview.png")).await;
    check_a11y(&b, &axe, "overview", &mut a11y).await;

    // Services: the examples' Apps with their running instances.
    b.open(&base, "services").await;
    filter(&b, "apps", "shop/").await;
    b.wait_text("the examples' Apps, healthy", "#apps-table tbody", T, |t| {
        ["shop/db", "shop/api", "shop/frontend"]
            .iter()
            .all(|id| t.lines().any(|l| l.contains(id) && l.contains("healthy")))
    })
    .await;
    b.screenshot(&shots.join("services.png")).await;
    check_a11y(&b, &axe, "services", &mut a11y).await;

    // This test's Apps, filtered to its namespace.
    filter(&b, "apps", &n).await;
    b.wait_text("both Apps", "#apps-table tbody", T, |t| {
        t.contains(&format!("{n}/web")) && t.contains(&format!("{n}/worker"))
    })
    .await;

    // A change made through the API appears without a reload.
    b.client.execute("window.__noReload = 42; return 0;", vec![]).await.expect("mark the page");
    apps.create(&PostParams::default(), &app_object("late-arrival", spec.clone())).await.expect("app");
    b.wait_text("the new App, live", "#apps-table tbody", T, |t| t.contains("late-arrival")).await;
    let mark = b.client.execute("return window.__noReload || 0;", vec![]).await.expect("read the mark");
    assert_eq!(mark, json!(42), "the page was reloaded instead of updated");
    let filter_kept: String = b
        .client
        .execute("return document.getElementById('apps-filter').value;", vec![])
        .await
        .expect("filter")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(filter_kept, n, "a live update keeps the filter");

    // An example App's page: its instances on their nodes.
    b.open(&base, "services/shop/frontend").await;
    b.wait_text("the placement section", "main", T, |t| t.contains("Placement") && t.contains("Instances")).await;
    b.screenshot(&shots.join("service.png")).await;
    check_a11y(&b, &axe, "service detail", &mut a11y).await;

    // Restart by keyboard alone: Tab to the Restart button, then Enter.
    b.open(&base, &format!("services/{n}/web")).await;
    b.wait_text("the placement section", "main", T, |t| t.contains("Placement") && t.contains("Instances")).await;
    b.client
        .execute("document.activeElement && document.activeElement.blur(); document.body.focus(); return 0;", vec![])
        .await
        .unwrap();
    let mut reached = false;
    for _ in 0..30 {
        b.client.active_element().await.expect("focus").send_keys("\u{E004}").await.expect("Tab");
        let id = b.client.active_element().await.expect("focus").attr("id").await.expect("id");
        if id.as_deref() == Some("restart") {
            reached = true;
            break;
        }
    }
    assert!(reached, "the Restart button is reachable with Tab");
    b.client.active_element().await.expect("focus").send_keys("\u{E007}").await.expect("Enter");
    b.wait_text("the restart confirmation", "#status", T, |t| t.contains("restart of App")).await;
    let web = apps.get("web").await.expect("app");
    assert!(web.annotations().contains_key(dromos_core::translate::RESTART_ANNOTATION), "restart annotation set");

    // Jobs: the examples' Jobs and their graph; this test's Jobs; run now.
    b.open(&base, "jobs").await;
    b.wait_text("the examples' dependency", ".graphwrap", T, |t| t.contains("ops/backup-verify runs after ops/backup"))
        .await;
    filter(&b, "jobs", "ops/").await;
    b.wait_text("the examples' Jobs", "#jobs-table tbody", T, |t| {
        t.contains("ops/backup") && t.contains("ops/backup-verify")
    })
    .await;
    b.screenshot(&shots.join("jobs.png")).await;
    check_a11y(&b, &axe, "jobs", &mut a11y).await;
    filter(&b, "jobs", &n).await;
    b.wait_text("both Jobs", "#jobs-table tbody", T, |t| {
        t.contains(&format!("{n}/backup")) && t.contains(&format!("{n}/verify"))
    })
    .await;
    b.wait_text("the dependency", ".graphwrap", T, |t| t.contains(&format!("{n}/verify runs after {n}/backup"))).await;
    b.client.find(Locator::Css(&format!("svg.graph a[data-job='{n}/verify']"))).await.expect("graph node of verify");
    b.open(&base, &format!("jobs/{n}/backup")).await;
    b.wait_text("next runs in Paris time", "#next-runs", T, |t| {
        t.contains("02:00:00+01:00") || t.contains("02:00:00+02:00")
    })
    .await;
    b.screenshot(&shots.join("job.png")).await;
    check_a11y(&b, &axe, "job detail", &mut a11y).await;
    click(&b, "#run-now").await;
    b.wait_text("the run confirmation", "#status", T, |t| t.contains("run of Job")).await;
    let backup = jobs.get("backup").await.expect("job");
    assert!(backup.annotations().contains_key(dromos_core::runs::RUN_REQUEST_ANNOTATION), "run requested");

    // Nodes: the Offer.
    b.open(&base, "nodes").await;
    filter(&b, "nodes", &offer_name).await;
    b.wait_text("the Offer", "#nodes-table tbody", T, |t| {
        t.contains(&offer_name) && t.contains("6 / 8") && t.contains("rack=r9")
    })
    .await;
    b.screenshot(&shots.join("nodes.png")).await;
    check_a11y(&b, &axe, "nodes", &mut a11y).await;

    // Sources: the examples' source, in sync, and the GitSource the examples declare.
    b.open(&base, "sources").await;
    b.wait_text("the examples' GitSource", "#sources-table tbody", T, |t| {
        t.lines().any(|l| l.contains(&format!("{n}/examples")) && l.contains("yes")) && t.contains("ops/platform")
    })
    .await;
    b.screenshot(&shots.join("sources.png")).await;
    check_a11y(&b, &axe, "sources", &mut a11y).await;

    // The plan of the newest revision: a commit the controller has not applied yet (the
    // source's interval is an hour) shows as an update with its diff.
    let flags = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: feature-flags\n  namespace: shop\ndata:\n  checkout-v2: \"false\"\n";
    let config =
        std::fs::read_to_string(dromos_tests::chart::repo_root().join("examples/shop/config.yaml")).expect("config");
    let (nginx, _) = config.split_once("---").expect("two documents in examples/shop/config.yaml");
    examples.commit(&[("shop/config.yaml", &format!("{nginx}---\n{flags}"))]);
    b.open(&base, &format!("sources/{n}/examples")).await;
    let summary = b.wait_text("the plan", "#plan", Duration::from_secs(60), |t| t.contains("to update")).await;
    assert!(summary.contains("0 to create, 1 to update") && summary.contains("0 to delete"), "{summary}");
    let change = b
        .wait_text(
            "the changed ConfigMap with its diff",
            ".plan-change[data-object='ConfigMap/shop/feature-flags']",
            T,
            |t| t.contains("update ConfigMap/shop/feature-flags"),
        )
        .await;
    let line = |sign: char, value: &str| {
        change.lines().any(|l| l.starts_with(sign) && l.contains("checkout-v2:") && l.contains(value))
    };
    assert!(line('-', "true") && line('+', "false"), "the diff of the flag: {change}");
    b.client
        .execute("document.getElementById('plan-title').scrollIntoView(); return 0;", vec![])
        .await
        .expect("scroll");
    b.screenshot(&shots.join("source.png")).await;
    check_a11y(&b, &axe, "source detail", &mut a11y).await;
    // An invalid revision: its diagnostics at file:line instead of a plan.
    examples.commit(&[("shop/broken.yaml", "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: broken\n  namespace: shop\nspec:\n  instances: -1\n")]);
    click(&b, "#plan-again").await;
    let refusal = b.wait_text("the refusal", "#plan", Duration::from_secs(60), |t| t.contains("refuse")).await;
    assert!(refusal.contains("ValidationFailed") && refusal.contains("shop/broken.yaml:"), "{refusal}");

    // A source reading its repository with a Secret: no plan, and why.
    b.open(&base, &format!("sources/{n}/platform")).await;
    b.wait_text("the credentials message", "#plan-refusal", T, |t| t.contains("never reads Secrets")).await;
    // Suspend, then resume once the page shows it suspended (live).
    click(&b, "#source-suspend").await;
    b.wait_text("the suspend confirmation", "#status", T, |t| t.contains("suspended")).await;
    assert_eq!(sources.get("platform").await.expect("source").spec.suspend, Some(true));
    wait_for("the Resume button (live update)", T, || async {
        b.client.find(Locator::Css("#source-resume")).await.ok()
    })
    .await;
    click(&b, "#source-resume").await;
    b.wait_text("the resume confirmation", "#status", T, |t| t.contains("resume of GitSource")).await;
    let platform = sources.get("platform").await.expect("source");
    assert_eq!(platform.spec.suspend, Some(false));
    assert!(platform.annotations().contains_key(dromos_core::gitsource::RECONCILE_REQUEST_ANNOTATION));

    // Packages: the built-in catalog and the repositories Packages name, each row saying
    // where it comes from; a repository that cannot be read is a row with its error.
    b.open(&base, "packages").await;
    b.wait_text("the catalog", "#catalog-table tbody", T, |t| t.contains("kafka") && t.contains("greeter")).await;
    b.client.execute("window.scrollTo(0, 0); return 0;", vec![]).await.expect("scroll");
    b.screenshot(&shots.join("packages.png")).await;
    check_a11y(&b, &axe, "packages", &mut a11y).await;
    filter(&b, "catalog", "greeter").await;
    b.wait_text("the Git repository's package", "#catalog-table tbody", T, |t| {
        t.contains("Says hello from a Git repository") && t.contains(&format!("GitSource {n}/catalog, path pkgs"))
    })
    .await;
    filter(&b, "catalog", "nowhere").await;
    b.wait_text("the unreadable repository", "#catalog-table tbody", T, |t| {
        t.contains(&format!("GitSource {n}/nowhere")) && t.contains("cannot be read")
    })
    .await;

    // The form refuses an invalid option, then produces a manifest that `dromos validate`
    // accepts, and a patch that `git apply` takes.
    b.open(&base, "packages/kafka").await;
    b.wait_text("the package form", "main", T, |t| t.contains("brokers.count")).await;
    let count = b.client.find(Locator::Css("#opt-brokers-count")).await.expect("the brokers.count field");
    count.send_keys("three").await.expect("type");
    b.wait_text("the field's error, as typed", "#opt-brokers-count-err", T, |t| t.contains("must be a number")).await;
    assert_eq!(count.attr("aria-invalid").await.expect("attr").as_deref(), Some("true"));
    click(&b, "#generate").await;
    b.wait_text("the refusal", "#form-errors", T, |t| t.contains("invalid")).await;
    let produced = b.client.find(Locator::Css("#manifest")).await.expect("manifest").text().await.expect("text");
    assert!(produced.is_empty(), "no manifest for invalid options: {produced}");
    count.clear().await.expect("clear");
    count.send_keys("5").await.expect("type");
    b.wait_text("no error", "#opt-brokers-count-err", T, str::is_empty).await;
    let nsf = b.client.find(Locator::Css("#pkg-namespace")).await.expect("namespace field");
    nsf.clear().await.expect("clear");
    nsf.send_keys("data").await.expect("type");
    b.screenshot(&shots.join("package-form.png")).await;
    check_a11y(&b, &axe, "package form", &mut a11y).await;
    click(&b, "#generate").await;
    let yaml = b.wait_text("the manifest", "#manifest", T, |t| t.contains("kind: Package")).await;
    assert!(yaml.contains("count: 5") && yaml.contains("namespace: data"), "{yaml}");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("kafka.yaml"), format!("{yaml}\n")).expect("write manifest");
    let out =
        Command::new(dromos_tests::dromos_bin()).arg("validate").arg(dir.path()).output().expect("dromos validate");
    assert!(
        out.status.success(),
        "dromos validate refused the produced manifest:\n{yaml}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The patch: the examples declare Package data/events in data/kafka.yaml, which it changes.
    let name = b.client.find(Locator::Css("#pkg-name")).await.expect("name field");
    name.clear().await.expect("clear");
    name.send_keys("events").await.expect("type");
    b.client
        .find(Locator::Css("#patch-source"))
        .await
        .expect("the GitSource choice")
        .select_by_value(&format!("{n}/examples"))
        .await
        .expect("choose the examples' source");
    click(&b, "#make-patch").await;
    b.wait_text("the patch", "#patch", Duration::from_secs(60), |t| t.starts_with("diff --git")).await;
    let patch = b
        .client
        .execute("return document.getElementById('patch').textContent;", vec![])
        .await
        .expect("the patch's text")
        .as_str()
        .unwrap_or_default()
        .to_string();
    let note = b.client.find(Locator::Css("#patch-note")).await.expect("note").text().await.expect("text");
    assert!(note.contains("Changes data/kafka.yaml"), "{note}");
    let download = b.client.find(Locator::Css("#download-patch")).await.expect("download link");
    assert_eq!(download.attr("download").await.expect("attr").as_deref(), Some("events.patch"));
    check_a11y(&b, &axe, "package form with a patch", &mut a11y).await;
    let checkout = tempfile::tempdir().expect("checkout");
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(checkout.path()).output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["clone", "-q", "-b", "main", &format!("file://{}", examples.remote.path().display()), "."]);
    std::fs::write(checkout.path().join("events.patch"), &patch).expect("write patch");
    git(&["apply", "events.patch"]);
    let changed = std::fs::read_to_string(checkout.path().join("data/kafka.yaml")).expect("data/kafka.yaml");
    assert!(changed.contains("count: 5") && changed.contains("name: events"), "{changed}");

    // A package of a configured repository: its catalog row opens the form, whose manifest
    // names that repository; the Package must be in the GitSource's namespace.
    b.open(&base, "packages").await;
    filter(&b, "catalog", "Says hello").await;
    b.wait_text("the greeter row", "#catalog-table tbody", T, |t| t.contains("greeter")).await;
    click(&b, "#catalog-table tbody a").await;
    b.wait_text("the form of the Git repository's package", "#pkg-origin", T, |t| {
        t.contains(&format!("GitSource {n}/catalog, path pkgs"))
    })
    .await;
    let greeting = b.client.find(Locator::Css("#opt-greeting")).await.expect("the greeting field");
    greeting.send_keys("hi there").await.expect("type");
    let nsf = b.client.find(Locator::Css("#pkg-namespace")).await.expect("namespace field");
    assert_eq!(nsf.prop("value").await.expect("value").as_deref(), Some(n.as_str()), "the GitSource's namespace");
    nsf.clear().await.expect("clear");
    nsf.send_keys("elsewhere").await.expect("type");
    click(&b, "#generate").await;
    b.wait_text("the namespace refused", "#form-errors", T, |t| t.contains(&format!("must be in namespace {n}"))).await;
    nsf.clear().await.expect("clear");
    nsf.send_keys(&n).await.expect("type");
    click(&b, "#generate").await;
    let yaml = b.wait_text("the manifest", "#manifest", T, |t| t.contains("kind: Package")).await;
    for want in ["name: greeter", "gitSource: catalog", "path: pkgs", "greeting: hi there", &format!("namespace: {n}")]
    {
        assert!(yaml.contains(want), "{want:?} in\n{yaml}");
    }
    check_a11y(&b, &axe, "package form of a Git repository", &mut a11y).await;
    // `dromos validate` reads no GitSource repository; the API server checks the manifest
    // against the Package schema (a dry run writes nothing).
    let parsed: dromos_crds::Package = serde_saphyr::from_str(&yaml).expect("the manifest is a Package");
    ns.api::<dromos_crds::Package>()
        .create(&PostParams { dry_run: true, ..Default::default() }, &parsed)
        .await
        .expect("the API server accepts the manifest");

    // Changing an installed Package: its row opens the form with its version and options; an
    // option no field shows is kept.
    b.open(&base, "packages").await;
    filter(&b, "installed", &format!("{n}/hello")).await;
    b.wait_text("the installed Package", "#installed-table tbody", T, |t| t.contains(&format!("{n}/hello"))).await;
    click(&b, "#installed-table tbody a").await;
    b.wait_text("the change form", "main h1", T, |t| t == format!("Change Package {n}/hello")).await;
    let greeting = b.client.find(Locator::Css("#opt-greeting")).await.expect("the greeting field");
    assert_eq!(greeting.prop("value").await.expect("value").as_deref(), Some("bonjour"), "the current option");
    greeting.clear().await.expect("clear");
    greeting.send_keys("salut").await.expect("type");
    click(&b, "#generate").await;
    let yaml = b.wait_text("the changed manifest", "#manifest", T, |t| t.contains("greeting: salut")).await;
    for want in ["name: hello", "gitSource: catalog", "kept: true", &format!("namespace: {n}")] {
        assert!(yaml.contains(want), "{want:?} in\n{yaml}");
    }
    b.screenshot(&shots.join("package-change.png")).await;
    check_a11y(&b, &axe, "package change form", &mut a11y).await;

    let _ = offers.delete(&offer_name, &Default::default()).await;
    examples.remove().await;

    // SourcePolicies hold for the UI's fetches too: a package repository the namespace's
    // Packages may not install from is refused by the form, and a repository its GitSources
    // may not fetch is not fetched (not even from what the catalog read a moment ago).
    let policies: Api<dromos_crds::SourcePolicy> = Api::all(c.clone());
    let policy = format!("ui-{n}");
    create(
        &policies,
        json!({"apiVersion": "dromos.io/v1alpha1", "kind": "SourcePolicy", "metadata": {"name": policy},
            "spec": {"sourceNamespaces": [n], "packageRepositories": ["builtin"]}}),
    )
    .await;
    b.open(&base, &format!("packages/greeter/from/{n}/catalog/pkgs")).await;
    b.wait_text("the form", "#pkg-origin", T, |t| t.contains("GitSource")).await;
    click(&b, "#generate").await;
    b.wait_text("the package repository refused", "#form-errors", T, |t| {
        t.contains(&format!("SourcePolicy {policy}")) && t.contains("gitsource/catalog")
    })
    .await;
    let mut p = policies.get(&policy).await.expect("policy");
    p.spec.repositories = Some(vec!["https://git.example.com/*".into()]);
    policies.replace(&policy, &PostParams::default(), &p).await.expect("narrow the policy");
    b.open(&base, &format!("sources/{n}/catalog")).await;
    let refusal = b.wait_text("the fetch refused", "#plan-refusal", T, |t| t.contains("not among the allowed")).await;
    assert!(refusal.contains("the UI does not fetch it"), "{refusal}");
    b.open(&base, "packages").await;
    filter(&b, "catalog", &format!("{n}/catalog")).await;
    b.wait_text("the catalog's repository refused", "#catalog-table tbody", T, |t| {
        t.contains("cannot be read") && t.contains("not among the allowed repositories") && !t.contains("Says hello")
    })
    .await;
    b.client.goto(&format!("{base}/#/packages/greeter/from/{n}/catalog/pkgs")).await.expect("navigate");
    b.wait_text("no form", "main", T, |t| t.contains("Cannot show this page") && t.contains("not among the allowed"))
        .await;
    policies.delete(&policy, &Default::default()).await.expect("delete the policy");
    assert!(a11y.is_empty(), "axe-core found serious or critical problems:\n{}", a11y.join("\n"));
    b.close().await;
    ns.delete().await;
}

/// The controller's UI acts as the token's user: a user who may read namespace A only sees
/// nothing of B, and gets 403 on B's actions; sessions need a CSRF token for actions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_ui_shows_and_does_what_rbac_allows() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let c = client().await;
    install_crds(&c).await;
    let a = TestNamespace::new(&c, "ui-a").await;
    let bns = TestNamespace::new(&c, "ui-b").await;
    let spec = json!({"cmd": "sleep 3600", "instances": 1, "cpus": 0.1, "mem": 32});
    a.api::<App>().create(&PostParams::default(), &app_object("mine", spec.clone())).await.expect("app");
    bns.api::<App>().create(&PostParams::default(), &app_object("theirs", spec.clone())).await.expect("app");
    create(&bns.api::<Job>(), job("their-job", json!({}))).await;
    create(&a.api::<ServiceAccount>(), json!({"metadata": {"name": "viewer"}})).await;
    create(
        &a.api::<Role>(),
        json!({"metadata": {"name": "ui-user"}, "rules": [
            {"apiGroups": ["dromos.io"], "resources": ["apps", "jobs", "gitsources", "packages"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]}]}),
    )
    .await;
    create(
        &a.api::<RoleBinding>(),
        json!({"metadata": {"name": "ui-user"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ui-user"},
            "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": a.name}]}),
    )
    .await;
    let token = dromos_tests::chart::token_for(&c, &a.name, "viewer").await;

    let (listen, ui_addr) = (free_addr(), free_addr());
    let cache = tempfile::tempdir().expect("cache");
    let controller = Running(
        Command::new(dromos_tests::dromos_bin())
            .args(["controller", "--namespace", &a.name, "--listen", &listen, "--ui", "--ui-listen", &ui_addr])
            .args(["--no-apps", "--no-scheduler", "--no-packages", "--no-notifier", "--no-offers", "--cache-dir"])
            .arg(cache.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dromos controller --ui"),
    );
    wait_for("the UI listening", Duration::from_secs(60), || async {
        dromos_tests::http_get(&ui_addr, "/api/session").await.filter(|(code, _)| *code == 401)
    })
    .await;
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let (code, body) = http(&ui_addr, "GET", "/api/apps", &auth, "").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"mine\""), "A's App is listed: {body}");
    assert!(!body.contains("theirs") && !body.contains(&bns.name), "nothing of B: {body}");
    let (_, jobs_body) = http(&ui_addr, "GET", "/api/jobs", &auth, "").await;
    assert!(!jobs_body.contains("their-job") && !jobs_body.contains(&bns.name), "no Job of B: {jobs_body}");
    let (_, overview) = http(&ui_addr, "GET", "/api/overview", &auth, "").await;
    assert!(overview.contains("\"appTotal\":1"), "the Overview counts A's App only: {overview}");
    let (code, _) = http(&ui_addr, "GET", &format!("/api/apps/{}/theirs", bns.name), &auth, "").await;
    assert_eq!(code, 403, "B's App is forbidden");
    let (code, body) = http(&ui_addr, "POST", &format!("/api/apps/{}/theirs/restart", bns.name), &auth, "{}").await;
    assert_eq!(code, 403, "restarting B's App: {body}");
    let (code, _) = http(&ui_addr, "POST", &format!("/api/jobs/{}/their-job/run", bns.name), &auth, "{}").await;
    assert_eq!(code, 403, "running B's Job");
    let (code, _) = http(&ui_addr, "GET", &format!("/api/sources/{}/any/plan", bns.name), &auth, "").await;
    assert_eq!(code, 403, "planning B's sources");
    let their = bns.api::<App>().get("theirs").await.expect("app");
    assert!(!their.annotations().contains_key(dromos_core::translate::RESTART_ANNOTATION), "B's App untouched");
    let (code, body) = http(&ui_addr, "POST", &format!("/api/apps/{}/mine/restart", a.name), &auth, "{}").await;
    assert_eq!(code, 200, "restarting A's App: {body}");
    let (code, _) = http(&ui_addr, "GET", "/api/apps", &[("Authorization", "Bearer not-a-token")], "").await;
    assert_eq!(code, 401, "an unknown token");

    // A session (cookie) needs the CSRF token for actions.
    let login = json!({"token": token}).to_string();
    let (code, _) = http(&ui_addr, "POST", "/api/login", &[("Content-Type", "application/json")], &login).await;
    assert_eq!(code, 200);
    let cookie = session_cookie(&ui_addr, &login).await;
    let with_cookie = [("Cookie", cookie.as_str())];
    let (code, session) = http(&ui_addr, "GET", "/api/session", &with_cookie, "").await;
    assert_eq!(code, 200, "{session}");
    let session: serde_json::Value = serde_json::from_str(&session).expect("session JSON");
    assert_eq!(session["user"], format!("system:serviceaccount:{}:viewer", a.name));
    let path = format!("/api/apps/{}/mine/restart", a.name);
    let (code, body) = http(&ui_addr, "POST", &path, &with_cookie, "{}").await;
    assert_eq!(code, 403, "no CSRF token: {body}");
    let csrf = session["csrf"].as_str().expect("csrf");
    let (code, body) =
        http(&ui_addr, "POST", &path, &[("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf)], "{}").await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = http(
        &ui_addr,
        "POST",
        &path,
        &[("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf), ("Origin", "http://evil.example")],
        "{}",
    )
    .await;
    assert_eq!(code, 403, "a cross-origin action");

    // In the browser: sign in with the token; the Services page lists A's App and nothing of B.
    let b = Browser::start().await;
    let base = format!("http://{ui_addr}");
    b.client.goto(&base).await.expect("open the UI");
    let field = wait_for("the sign-in form", T, || async { b.client.find(Locator::Css("#token")).await.ok() }).await;
    field.send_keys(&token).await.expect("type the token");
    click(&b, "#login button[type=submit]").await;
    b.wait_text("the Overview", "main h1", T, |t| t == "Overview").await;
    b.open(&base, "services").await;
    let rows = b.wait_text("A's App", "#apps-table tbody", T, |t| t.contains(&format!("{}/mine", a.name))).await;
    assert!(!rows.contains(&bns.name), "the browser shows nothing of B: {rows}");
    b.close().await;
    drop(controller);

    // Behind an authenticating proxy: the user and groups come from its headers, RBAC still
    // decides, and actions need the identity's CSRF token.
    let (listen, ui_addr) = (free_addr(), free_addr());
    let _proxied = Running(
        Command::new(dromos_tests::dromos_bin())
            .args(["controller", "--namespace", &a.name, "--listen", &listen, "--ui", "--ui-listen", &ui_addr])
            .args(["--ui-proxy-user-header", "X-Forwarded-User", "--ui-proxy-groups-header", "X-Forwarded-Groups"])
            .args(["--no-apps", "--no-scheduler", "--no-packages", "--no-notifier", "--no-offers", "--cache-dir"])
            .arg(cache.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dromos controller --ui behind a proxy"),
    );
    wait_for("the proxied UI listening", Duration::from_secs(60), || async {
        dromos_tests::http_get(&ui_addr, "/api/session").await.filter(|(code, _)| *code == 401)
    })
    .await;
    let user = format!("system:serviceaccount:{}:viewer", a.name);
    let groups = format!("system:serviceaccounts,system:serviceaccounts:{},system:authenticated", a.name);
    let proxied = [("X-Forwarded-User", user.as_str()), ("X-Forwarded-Groups", groups.as_str())];
    let (code, body) = http(&ui_addr, "GET", "/api/apps", &proxied, "").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"mine\"") && !body.contains(&bns.name), "A's App only: {body}");
    let (_, session) = http(&ui_addr, "GET", "/api/session", &proxied, "").await;
    let session: serde_json::Value = serde_json::from_str(&session).expect("session JSON");
    assert_eq!(session["user"], user);
    let csrf = session["csrf"].as_str().expect("a CSRF token for a proxy's user").to_string();
    let theirs = format!("/api/apps/{}/theirs/restart", bns.name);
    let (code, body) = http(&ui_addr, "POST", &theirs, &proxied, "{}").await;
    assert!(code == 403 && body.contains("CSRF"), "no CSRF token: {code} {body}");
    let with_csrf = [proxied[0], proxied[1], ("X-CSRF-Token", csrf.as_str())];
    let (code, body) = http(&ui_addr, "POST", &theirs, &with_csrf, "{}").await;
    assert!(code == 403 && body.contains("forbidden"), "RBAC refuses B's App: {code} {body}");
    let (code, body) = http(&ui_addr, "POST", &format!("/api/apps/{}/mine/restart", a.name), &with_csrf, "{}").await;
    assert_eq!(code, 200, "{body}");
    a.delete().await;
    bns.delete().await;
}

/// The `dromos-ui` cookie the UI sets for a login.
async fn session_cookie(addr: &str, login: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{login}",
        login.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.expect("read");
    let line = buf.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a Set-Cookie header");
    let cookie = line.split_once(':').map(|(_, v)| v.trim()).unwrap_or("").split(';').next().unwrap_or("").to_string();
    assert!(cookie.starts_with("dromos-ui="), "{line}");
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"), "{line}");
    cookie
}

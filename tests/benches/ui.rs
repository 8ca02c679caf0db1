//! Benchmark: the web UI's Services page with many Apps, in headless Chromium.
//!
//!     tests/cluster/up && export KUBECONFIG=$HOME/.cache/dromos/cluster/kubeconfig
//!     cargo bench -p dromos-tests --bench ui           # args: APPS [ROUNDS], default 10000 5
//!
//! Creates APPS Apps in one namespace (no operator runs: the rows are the objects as stored),
//! starts `dromos ui` (the release binary), signs in, and measures
//!   * time to first render: from opening `#/services` in a fresh page load to the table showing
//!     its first page and the count of all APPS rows (median of ROUNDS loads);
//!   * change to page: from creating one more App through the API to its row on the page,
//!     filtered to its name, without a reload (median of ROUNDS changes).
//!
//! Timed by polling the page every 20 ms, so figures are at that resolution. Prints figures;
//! asserts only that the page shows what it must. Fails, never skips, without a cluster or
//! chromedriver.

use dromos_crds::App;
use dromos_tests::browser::Browser;
use dromos_tests::{Running, TestNamespace, app_object, client, install_crds};
use fantoccini::Locator;
use futures::StreamExt;
use kube::api::{Api, PostParams};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

async fn page_text(b: &Browser, css: &str) -> String {
    match b.client.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn until(b: &Browser, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if ok(&page_text(b, css).await) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{what} did not show within 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n_apps = args.first().copied().unwrap_or(10_000);
    let rounds = args.get(1).copied().unwrap_or(5).max(1);
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "bench-ui").await;
    let apps: Api<App> = ns.api();
    let spec = serde_json::json!({"cmd": "sleep 3600", "instances": 1, "cpus": 0.1, "mem": 32});
    let t = Instant::now();
    let created = futures::stream::iter(0..n_apps)
        .map(|i| {
            let apps = apps.clone();
            let app = app_object(&format!("svc-{i:05}"), spec.clone());
            async move { apps.create(&PostParams::default(), &app).await.is_ok() }
        })
        .buffer_unordered(64)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    assert_eq!(created, n_apps, "every App was created");
    println!("created {n_apps} Apps in {:.1} s", t.elapsed().as_secs_f64());

    // The UI's log, with its watches' errors (debug), printed at the end: a change the page
    // shows late is explained by them.
    let log = tempfile::NamedTempFile::new().expect("log file");
    let bin = dromos_tests::dromos_bin();
    let ui_started = Instant::now();
    println!("UI started at {}", dromos_core::time::fmt_time(chrono::Utc::now()));
    let mut child = Command::new(bin)
        .args(["ui", "--no-open", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info,dromos::ui::live=debug")
        .stdout(Stdio::piped())
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("start dromos ui");
    let stdout = child.stdout.take().expect("stdout");
    let _ui = Running(child);
    // Read every line: a pipe closed after the first would fail the UI's next print.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let login = rx.recv_timeout(Duration::from_secs(600)).expect("dromos ui printed its link");
    let base = login.split("/login").next().expect("base").to_string();
    let b = Browser::start().await;
    b.client.goto(&login).await.expect("sign in");
    until(&b, "main h1", "the Overview", |t| t == "Overview").await;

    let mut first = vec![];
    for _ in 0..rounds {
        b.client.goto("about:blank").await.expect("blank");
        let start = Instant::now();
        b.client.goto(&format!("{base}/#/services")).await.expect("open Services");
        until(&b, "#apps-count", "the Services table", |t| {
            t.split_whitespace().nth(2).and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n >= n_apps)
        })
        .await;
        first.push(start.elapsed());
        let rows = b.client.find_all(Locator::Css("#apps-table tbody tr")).await.expect("rows").len();
        assert_eq!(rows, 100, "the first page holds 100 rows");
    }

    let filter = b.client.find(Locator::Css("#apps-filter")).await.expect("filter");
    filter.send_keys("live-").await.expect("type");
    let mut live = vec![];
    for i in 0..rounds {
        let name = format!("live-{i}");
        apps.create(&PostParams::default(), &app_object(&name, spec.clone())).await.expect("create");
        let start = Instant::now();
        until(&b, "#apps-table tbody", "the new App", |t| t.contains(&name)).await;
        live.push(start.elapsed());
        println!(
            "change {i}: created at {} ({:.1} s after the UI started), on the page {} ms later",
            dromos_core::time::fmt_time(chrono::Utc::now() - start.elapsed()),
            (start - ui_started).as_secs_f64(),
            start.elapsed().as_millis()
        );
    }
    let text = std::fs::read_to_string(log.path()).unwrap_or_default();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("UI watch of")).collect();
    println!("the UI's watches failed {} time(s)", errors.len());
    for e in errors.iter().take(10) {
        println!("  {e}");
    }
    println!(
        "Services page, {n_apps} Apps: first render median {} ms (of {rounds}: {:?} ms); change to page median {} ms (of {rounds}: {:?} ms)",
        median(first.clone()).as_millis(),
        first.iter().map(Duration::as_millis).collect::<Vec<_>>(),
        median(live.clone()).as_millis(),
        live.iter().map(Duration::as_millis).collect::<Vec<_>>(),
    );
    b.close().await;
    ns.delete().await;
}

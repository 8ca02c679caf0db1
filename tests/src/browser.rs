//! Headless Chromium driven through WebDriver (chromedriver and the `fantoccini` client), for
//! the web UI's tests; axe-core from the npm registry for its accessibility check.
//!
//! * [`Browser::start`] runs Debian's `chromedriver` with a fresh profile and fails loudly,
//!   with the command to install it, when it is missing: browser tests never skip.
//! * [`axe_source`] installs axe-core once into `~/.cache/dromos/axe-core` (npm) and returns
//!   its script; nothing of it is committed.
//! * [`http`] sends one HTTP/1.1 request with headers and a body (actions, RBAC checks).

use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Version of axe-core the accessibility check installs.
pub const AXE_VERSION: &str = "4.10.3";

const INSTALL: &str = "install them with `apt-get install -y chromium chromium-driver` (Debian), as .ci/run does";

/// A chromedriver process and a WebDriver session of headless Chromium.
#[allow(missing_debug_implementations)]
pub struct Browser {
    /// The session.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(name)).find(|p| p.is_file())
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session with a fresh
    /// profile. Panics when chromedriver or chromium is missing.
    pub async fn start() -> Self {
        let driver_bin = which("chromedriver")
            .unwrap_or_else(|| panic!("the web UI tests need chromedriver, which is not on PATH: {INSTALL}"));
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|n| which(n))
            .unwrap_or_else(|| panic!("the web UI tests need chromium, which is not on PATH: {INSTALL}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Its own process group: Chromium and its helpers are killed with it (`stop`), also when
        // a test fails and the session is never closed.
        let driver = Command::new(&driver_bin)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", driver_bin.display()));
        let profile = tempfile::tempdir().expect("profile dir");
        let args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": chromium.to_string_lossy(), "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            match ClientBuilder::native().capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if start.elapsed() > Duration::from_secs(30) => {
                    panic!("no WebDriver session from chromedriver at {url} within 30 s: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser { client, driver, _profile: profile }
    }

    /// Text of the first element matching `css`, once it satisfies `ok` (polled for `timeout`).
    pub async fn wait_text(&self, what: &str, css: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = el.text().await
            {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what} in `{css}`; last text: {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Opens `#/route` of the UI at `base` and waits until the page rendered its data
    /// (`main[data-rendered]` set after the hash changed).
    pub async fn open(&self, base: &str, route: &str) {
        let before: String = self.rendered().await;
        self.client.goto(&format!("{base}/#/{route}")).await.expect("navigate");
        let start = Instant::now();
        loop {
            let now = self.rendered().await;
            let want = format!("{}|{}", now.split('|').next().unwrap_or(""), route.trim_start_matches('/'));
            if now != before && now == want {
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let text = self.client.find(Locator::Css("main")).await.ok();
                let text = match text {
                    Some(m) => m.text().await.unwrap_or_default(),
                    None => String::new(),
                };
                panic!("page #/{route} did not render within 20 s; main: {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn rendered(&self) -> String {
        self.client
            .execute(
                "const m = document.querySelector('main'); \
                 return m ? (m.getAttribute('data-rendered') || '') + '|' + (m.getAttribute('data-route') || '') : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Runs axe-core in the page; the serious and critical violations as `id: help (n nodes)`.
    pub async fn axe_serious(&self, axe: &str) -> Vec<String> {
        self.client.execute(axe, vec![]).await.expect("load axe-core into the page");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v =>
                   ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
                     targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))),
                   e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: 0, targets: []}]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        result
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{}: {} ({} nodes: {})", v["id"], v["help"], v["nodes"], v["targets"]))
            .collect()
    }

    /// A PNG of the window at `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the session, then chromedriver and every process of its group.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        drop(self);
    }

    fn stop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// axe-core's script, installed from the npm registry into `~/.cache/dromos/axe-core` on first
/// use (`npm install axe-core@AXE_VERSION`). Panics, with the command, when npm is missing or
/// the install fails.
pub fn axe_source() -> String {
    let home = std::env::var("HOME").expect("HOME");
    let cache = std::env::var("DROMOS_CACHE").unwrap_or_else(|_| format!("{home}/.cache/dromos"));
    let dir = std::path::Path::new(&cache).join("axe-core");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    let version_file = dir.join("node_modules/axe-core/package.json");
    let installed = std::fs::read_to_string(&version_file)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["version"] == AXE_VERSION);
    if !installed || !script.is_file() {
        std::fs::create_dir_all(&dir).expect("axe-core cache dir");
        let npm = which("npm").unwrap_or_else(|| {
            panic!("the accessibility check installs axe-core with npm, which is not on PATH: apt-get install -y npm")
        });
        let status = Command::new(npm)
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&dir)
            .arg(format!("axe-core@{AXE_VERSION}"))
            .status()
            .expect("run npm");
        assert!(status.success(), "npm install axe-core@{AXE_VERSION} into {} failed", dir.display());
    }
    std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("reading {}: {e}", script.display()))
}

/// One HTTP/1.1 request to `addr` (plain HTTP): the status and the body.
pub async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("send request");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .expect("answer within 30 s")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    // axum answers these bodies with a Content-Length, never chunked.
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (code, body.to_string())
}

//! A smart-HTTP Git server for tests: `git http-backend` (CGI), behind basic auth or open, on
//! 127.0.0.1 only, serving the bare repositories under a directory. Every request is answered
//! with `Connection: close`; requests and their status codes are recorded.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Largest request head or body read from a client.
const MAX_REQUEST: usize = 16 << 20;

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct GitHttpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<(String, u16)>>>,
    stop: Arc<AtomicBool>,
}

impl GitHttpServer {
    /// Serves the repositories under `root` to clients sending `user`:`password` as basic
    /// auth; others get 401 with a Basic challenge.
    pub fn start(root: &Path, user: &str, password: &str) -> Self {
        let expected = format!("Basic {}", dromos_core::plan::base64(format!("{user}:{password}").as_bytes()));
        Self::serve(root, Some(expected))
    }

    /// Serves the repositories under `root` to anyone (Flux sends no basic auth over plain
    /// HTTP: the side-by-side bench reads both tools' repository this way).
    pub fn open(root: &Path) -> Self {
        Self::serve(root, None)
    }

    fn serve(root: &Path, expected: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let log: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (root, log2, stop2) = (root.to_path_buf(), log.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (root, log, expected) = (root.clone(), log2.clone(), expected.clone());
                std::thread::spawn(move || handle(conn, &root, expected.as_deref(), &log));
            }
        });
        Self { addr, log, stop }
    }

    /// `(path and query, status)` of every request answered so far.
    pub fn requests(&self) -> Vec<(String, u16)> {
        self.log.lock().expect("log lock").clone()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    let mut head = line.len();
    loop {
        let mut h = String::new();
        head += r.read_line(&mut h).ok()?;
        if head > MAX_REQUEST {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request { method, target, headers, body: Vec::new() };
    if req.header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if n == 0 || req.body.len() + n > MAX_REQUEST {
                let mut end = String::new();
                r.read_line(&mut end).ok()?;
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            req.body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = req.header("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
        req.body = vec![0; n.min(MAX_REQUEST)];
        r.read_exact(&mut req.body).ok()?;
    }
    Some(req)
}

/// Answers one request. It is logged before the answer is written: a client that has its
/// answer must find its request in the log.
fn handle(conn: TcpStream, root: &PathBuf, expected_auth: Option<&str>, log: &Mutex<Vec<(String, u16)>>) -> Option<()> {
    let record = |target: &str, status: u16| log.lock().expect("log lock").push((target.to_string(), status));
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let req = read_request(&mut reader)?;
    let mut out = conn;
    if expected_auth.is_some_and(|e| req.header("Authorization") != Some(e)) {
        let head = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        record(&req.target, 401);
        out.write_all(head.as_bytes()).ok()?;
        return Some(());
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let mut cmd = std::process::Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "test")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (header, var) in [
        ("Content-Type", "CONTENT_TYPE"),
        ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
        ("Git-Protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = req.header(header) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd.spawn().ok()?;
    let mut stdin = child.stdin.take()?;
    let body = req.body;
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().ok()?;
    let _ = writer.join();
    let cgi = output.stdout;
    let split = cgi.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    let split = split.or_else(|| cgi.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2)));
    let (head_end, body_start) = split.unwrap_or((0, 0));
    let mut status = 200u16;
    let mut head = String::new();
    for line in String::from_utf8_lossy(&cgi[..head_end]).lines() {
        match line.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("Status") => {
                status = v.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(500);
            }
            Some(_) => head.push_str(&format!("{line}\r\n")),
            None => {}
        }
    }
    let body = &cgi[body_start..];
    let response =
        format!("HTTP/1.1 {status} CGI\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    record(&req.target, status);
    out.write_all(response.as_bytes()).ok()?;
    out.write_all(body).ok()?;
    Some(())
}

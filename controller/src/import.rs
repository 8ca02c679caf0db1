//! `dromos import`: reading DC/OS definitions from files or a live API and writing the
//! manifests (I/O). The conversion itself is `dromos_core::import`.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use dromos_core::import::{Flavor, Imported, Input};
use http_body_util::{BodyExt, Empty};
use std::path::{Path, PathBuf};

/// Inputs are JSON files; others in a directory are skipped.
fn is_json(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Reads every JSON file named or under a named directory (recursively, sorted, hidden
/// entries skipped). Names in the report are the paths as given, joined with the relative
/// path inside a directory.
pub fn read_inputs(paths: &[PathBuf], max_file_bytes: u64) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files).with_context(|| format!("reading {}", p.display()))?;
            files.sort();
            for f in files {
                out.push(read_one(&f, max_file_bytes)?);
            }
        } else {
            out.push(read_one(p, max_file_bytes)?);
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        let meta = std::fs::metadata(&p)?;
        if meta.is_dir() {
            walk(&p, out)?;
        } else if is_json(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn read_one(p: &Path, max: u64) -> Result<Input> {
    let name = p.to_string_lossy().into_owned();
    let meta = std::fs::metadata(p).with_context(|| format!("reading {name}"))?;
    if meta.len() > max {
        bail!("{name}: file is {} bytes, more than the limit of {max} (--max-file-bytes)", meta.len());
    }
    let bytes = std::fs::read(p).with_context(|| format!("reading {name}"))?;
    let text = String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{name}: not UTF-8 ({e})"))?;
    Ok(Input { name, text: text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text) })
}

/// The API paths read for `--from`, per system.
pub fn api_paths(flavor: Flavor) -> Result<&'static [&'static str]> {
    Ok(match flavor {
        // The root group with every nested group, app and pod.
        Flavor::Marathon => &["/v2/groups?embed=group.groups&embed=group.apps&embed=group.pods"],
        // Every job with its schedules.
        Flavor::Metronome => &["/v1/jobs?embed=schedules"],
        Flavor::Chronos => &["/v1/scheduler/jobs"],
        Flavor::Package => bail!(
            "--from reads Marathon, Metronome or Chronos; import the Marathon root group instead, its package apps become Packages"
        ),
    })
}

/// Reads the definitions from a live API: one GET per path of [`api_paths`], with
/// `Authorization: token=<token>` (DC/OS ACS) when a token is given.
pub fn fetch_inputs(flavor: Flavor, base: &str, token: Option<&str>, max_bytes: u64) -> Result<Vec<Input>> {
    let paths = api_paths(flavor)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ssl = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls())?;
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        // No ALPN: the client speaks HTTP/1.1 only, which every Marathon/Metronome serves.
        let connector = hyper_openssl::client::legacy::HttpsConnector::with_connector(http, ssl)?;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, Empty<Bytes>>(connector);
        let mut out = Vec::new();
        for p in paths {
            let url = format!("{}{p}", base.trim_end_matches('/'));
            let mut req = hyper::Request::get(&url).header("Accept", "application/json");
            if let Some(t) = token {
                req = req.header("Authorization", format!("token={t}"));
            }
            let req = req.body(Empty::new()).with_context(|| format!("bad URL {url}"))?;
            let resp = tokio::time::timeout(std::time::Duration::from_secs(60), client.request(req))
                .await
                .with_context(|| format!("GET {url}: no answer within 60 s"))?
                .with_context(|| format!("GET {url}"))?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), max_bytes as usize)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("GET {url}: reading the body: {e}"))?
                .to_bytes();
            if !status.is_success() {
                bail!("GET {url}: {status}: {}", String::from_utf8_lossy(&body).chars().take(300).collect::<String>());
            }
            let text = String::from_utf8(body.to_vec()).with_context(|| format!("GET {url}: body is not UTF-8"))?;
            out.push(Input { name: url, text });
        }
        Ok(out)
    })
}

/// Writes every object under `dir` at its [`Imported::path`].
pub fn write_objects(dir: &Path, objects: &[Imported]) -> Result<()> {
    for o in objects {
        let path = dir.join(o.path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, o.to_yaml()).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

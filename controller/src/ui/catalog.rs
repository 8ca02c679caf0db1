//! The Packages page's catalog beyond the built-in one (I/O: Git, the Kubernetes API as the
//! caller): the package repositories that installed Packages name in `spec.repository`, read
//! as the Package operator reads them (the GitSource's last applied commit, else its ref; the
//! package files under `repository.path`), but fetched by the UI with no credentials. A
//! repository that cannot be read is one row with its error. The package form reads a
//! package from such a repository with [`repository`].

use super::{ApiError, Ui};
use crate::git::{self, Credentials, GitRef};
use axum::http::StatusCode;
use dromos_core::package::{self, RepoRef};
use dromos_crds::{GitSource, Package};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Repositories read for one page: more are one row saying so.
pub const MAX_REPOSITORIES: usize = 20;
/// How long a repository's rows are kept before it is read again (the page redraws on every
/// change in the cluster).
pub const KEEP: Duration = Duration::from_secs(60);
/// Largest package file read, as the Package operator reads.
const MAX_FILE_BYTES: usize = 4 << 20;

/// A repository read: (URL, ref or commit, path).
type RepoKey = (String, String, String);

/// A repository as read: its packages, or why it could not be read.
type Read = Result<Arc<package::Repository>, String>;

/// Repositories read lately: when, and what was read.
#[derive(Debug, Default)]
pub struct Recent(std::sync::Mutex<HashMap<RepoKey, (Instant, Read)>>);

/// (namespace, GitSource, path) of each configured repository among `installed`.
fn repositories(installed: &[Package]) -> BTreeSet<(String, String, String)> {
    installed
        .iter()
        .filter_map(|p| match package::repo_ref(&p.spec) {
            RepoRef::Builtin => None,
            RepoRef::Path { path, .. } => {
                let gs = crate::operators::packages::git_source_of(p)?;
                Some((p.namespace().unwrap_or_default(), gs, path))
            }
        })
        .collect()
}

fn error_row(repository: &str, message: String) -> Value {
    json!({"name": "", "versions": [], "description": "", "tags": [], "repository": repository, "error": message})
}

/// One row per package of `repo`: its versions and the newest one's description and tags,
/// labelled with where it comes from.
pub fn rows_of(repo: &package::Repository, label: &str) -> Vec<Value> {
    repo.names()
        .into_iter()
        .map(|name| {
            let vs = repo.versions_of(name);
            let newest = vs[vs.len() - 1];
            json!({"name": name, "versions": vs.iter().map(|v| v.meta.version.clone()).collect::<Vec<_>>(),
                "description": newest.meta.description, "tags": newest.meta.tags, "repository": label})
        })
        .collect()
}

/// The rows of every configured repository of `installed` that the caller may read the
/// GitSource of. Each row names its repository as `source` (`NS/NAME`) and `path`, which the
/// package form reads it with.
pub async fn configured(ui: &Ui, client: &Client, installed: &[Package]) -> Vec<Value> {
    let repos = repositories(installed);
    let mut rows = vec![];
    for (i, (ns, gs, path)) in repos.iter().enumerate() {
        let label = format!("GitSource {ns}/{gs}, path {}", if path.is_empty() { "." } else { path });
        if i >= MAX_REPOSITORIES {
            rows.push(error_row(&label, format!("not read: the page reads at most {MAX_REPOSITORIES} repositories")));
            continue;
        }
        match repository(ui, client, ns, gs, path).await {
            Ok(repo) => {
                let mut these = rows_of(&repo, &label);
                for r in &mut these {
                    r["source"] = json!(format!("{ns}/{gs}"));
                    r["path"] = json!(path);
                }
                these.extend(repo.problems.iter().map(|p| error_row(&label, p.to_string())));
                if these.is_empty() {
                    these.push(error_row(&label, "no package in this directory".into()));
                }
                rows.extend(these);
            }
            Err(e) => rows.push(error_row(&label, e.1)),
        }
    }
    rows
}

/// The package repository under `path` of GitSource `ns`/`name`, read as the Package
/// operator reads it, once the caller may read that GitSource (its 403 or 404 otherwise), the
/// GitSource needs no Secret and the SourcePolicies let its URL be fetched (else 422 with
/// why). Read at most once per [`KEEP`] for every caller; the checks are made on every call.
pub async fn repository(
    ui: &Ui,
    client: &Client,
    ns: &str,
    name: &str,
    path: &str,
) -> Result<Arc<package::Repository>, ApiError> {
    let gs = match Api::<GitSource>::namespaced(client.clone(), ns).get(name).await {
        Ok(gs) => gs,
        Err(kube::Error::Api(ae)) => {
            let code = StatusCode::from_u16(ae.code).unwrap_or(StatusCode::BAD_GATEWAY);
            return Err(ApiError(code, format!("reading the GitSource: {}", ae.message)));
        }
        Err(e) => return Err(ApiError(StatusCode::BAD_GATEWAY, format!("reading the GitSource: {e}"))),
    };
    read(ui, &gs, path).await.map_err(|m| ApiError(StatusCode::UNPROCESSABLE_ENTITY, m))
}

/// The packages of one repository, from [`Recent`] when read within [`KEEP`].
async fn read(ui: &Ui, gs: &GitSource, path: &str) -> Read {
    if let Some(secret) = &gs.spec.secret_ref {
        return Err(format!(
            "the GitSource reads its repository with Secret {} (spec.secretRef); the UI reads no Secret, so it \
             cannot read these packages",
            secret.name
        ));
    }
    // Before the rows read lately: a policy written since forbids them too.
    super::plan::repository_allowed(ui, gs).await?;
    // The commit the GitSource last applied, as the Package operator installs from it.
    let applied = gs.status.as_ref().and_then(|s| s.last_applied_revision.clone());
    let gref = match applied.as_deref().and_then(|r| r.rsplit_once("@sha1:")) {
        Some((_, commit)) => GitRef::Commit(commit.to_string()),
        None => GitRef::from_spec(gs.spec.git_ref.as_ref()),
    };
    let key = (gs.spec.url.clone(), format!("{gref:?}"), path.to_string());
    if let Some((at, read)) = ui.recent.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key)
        && at.elapsed() < KEEP
    {
        return read.clone();
    }
    let read = fetch(ui, gs, gref, path).await;
    let mut recent = ui.recent.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    recent.retain(|_, (at, _)| at.elapsed() < KEEP);
    recent.insert(key, (Instant::now(), read.clone()));
    read
}

async fn fetch(ui: &Ui, gs: &GitSource, gref: GitRef, path: &str) -> Read {
    let Ok(_turn) = ui.plans.acquire().await else { return Err("the UI is stopping".into()) };
    let cache = ui.git.cache.clone();
    let (url, dir) = (gs.spec.url.clone(), path.to_string());
    let files = git::bounded(cache.limits, move || {
        let (repo, f) = cache.fetch(&url, &gref, &Credentials::default())?;
        let sub = if dir.is_empty() { None } else { Some(dir.as_str()) };
        git::read_tree_filtered(&repo, &f.commit, sub, MAX_FILE_BYTES, crate::packages::is_package_file)
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(package::read_repository(&files.files)))
}

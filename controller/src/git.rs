//! Fetching Git revisions and reading manifest trees from commits (I/O, blocking: call from
//! `spawn_blocking`).
//!
//! Repositories are cached as bare clones under a cache directory, one per URL and
//! credential, so a commit in the cache is only served to a source that fetched it with the
//! same credential ([0039](../../docs/decisions/0039-git-cache-keyed-by-credential.md)). They are
//! fetched with git2 over https (basic auth or bearer token), ssh (private key; the host key
//! must be in the given known_hosts, unknown hosts are rejected) or, when the [`Cache`] allows
//! local repositories, `file://`. Files are read from the commit's tree: no working tree is
//! checked out. URLs and Git errors reach messages only through
//! [`dromos_core::giturl::redact`].

use dromos_core::giturl;
use dromos_core::{Diagnostic, Pos, SourceFile};
use git2::{
    CertificateCheckStatus, Cred, FetchOptions, ObjectType, Oid, RemoteCallbacks, Repository, TreeWalkMode,
    TreeWalkResult,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to follow in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitRef {
    /// A branch (its newest commit).
    Branch(String),
    /// A tag.
    Tag(String),
    /// A fixed commit (full SHA-1).
    Commit(String),
}

impl GitRef {
    /// From the GitSource spec; the default is branch `main`.
    pub fn from_spec(r: Option<&dromos_crds::gitsource::GitRef>) -> Self {
        match r {
            Some(r) if r.commit.is_some() => GitRef::Commit(r.commit.clone().unwrap_or_default()),
            Some(r) if r.tag.is_some() => GitRef::Tag(r.tag.clone().unwrap_or_default()),
            Some(r) if r.branch.is_some() => GitRef::Branch(r.branch.clone().unwrap_or_default()),
            _ => GitRef::Branch("main".into()),
        }
    }

    fn label(&self) -> String {
        match self {
            GitRef::Branch(b) => b.clone(),
            GitRef::Tag(t) => t.clone(),
            GitRef::Commit(_) => "commit".into(),
        }
    }
}

/// Credentials from the source's Secret. Its `Debug` shows which fields are set, never their
/// values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// https user name (default `git` when only a password/token is given).
    pub username: Option<String>,
    /// https password or personal access token.
    pub password: Option<String>,
    /// https bearer token (sent as an Authorization header).
    pub bearer_token: Option<String>,
    /// ssh private key (PEM / OpenSSH).
    pub identity: Option<String>,
    /// ssh known_hosts content; required for ssh.
    pub known_hosts: Option<String>,
}

impl Credentials {
    /// The credentials a Secret holds (`username`, `password`, `bearerToken`, `identity`,
    /// `known_hosts`; `data` first, then `stringData`).
    pub fn from_secret(s: &k8s_openapi::api::core::v1::Secret) -> Self {
        let get = |k: &str| {
            s.data
                .as_ref()
                .and_then(|d| d.get(k))
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                .or_else(|| s.string_data.as_ref().and_then(|d| d.get(k).cloned()))
        };
        Self {
            username: get("username"),
            password: get("password"),
            bearer_token: get("bearerToken"),
            identity: get("identity"),
            known_hosts: get("known_hosts"),
        }
    }

    /// The values no message may show.
    fn secrets(&self) -> Vec<&str> {
        [&self.password, &self.bearer_token, &self.identity].into_iter().flatten().map(String::as_str).collect()
    }

    /// The credential's part of a cache key: a digest of every field (known_hosts included,
    /// since it decides which server is trusted); `anonymous` without any.
    fn cache_key(&self) -> String {
        if *self == Self::default() {
            return "anonymous".into();
        }
        let mut h = Sha256::new();
        for field in [&self.username, &self.password, &self.bearer_token, &self.identity, &self.known_hosts] {
            // Length-prefixed, so no two different field lists hash the same bytes.
            match field {
                Some(v) => h.update(format!("{}:{v}", v.len())),
                None => h.update("-"),
            }
        }
        hex(&h.finalize())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { giturl::MASK } else { "-" };
        f.debug_struct("Credentials")
            .field("username", &set(&self.username))
            .field("password", &set(&self.password))
            .field("bearer_token", &set(&self.bearer_token))
            .field("identity", &set(&self.identity))
            .field("known_hosts", &set(&self.known_hosts))
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fetched revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// Commit SHA-1.
    pub commit: String,
    /// `<ref>@sha1:<commit>`, as shown in status.
    pub revision: String,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The remote could not be reached or refused us.
    #[error("fetching {url}: {message}")]
    Fetch {
        /// Remote URL, redacted.
        url: String,
        /// git2's message, redacted.
        message: String,
    },
    /// The URL names a transport this controller may not use (a local repository in cluster
    /// mode, the cache itself): nothing was fetched.
    #[error("{0}")]
    UrlNotAllowed(String),
    /// The ref does not exist.
    #[error("{0} not found in the repository")]
    RefNotFound(String),
    /// The path does not exist in the commit.
    #[error("path `{0}` is not a directory in the commit")]
    PathNotFound(String),
    /// Local repository problem.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// Cache directory problem.
    #[error("cache: {0}")]
    Io(#[from] std::io::Error),
    /// The fetch exceeded its time or size bound (`FetchLimits`).
    #[error("{0}")]
    Timeout(String),
    /// The credentials Secret cannot be read with the source's identity (missing, or the
    /// identity may not read it): nothing was fetched.
    #[error("{0}")]
    SecretUnavailable(String),
}

impl GitError {
    /// Stable reason, used as Event reason and metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            GitError::Fetch { .. } => "FetchFailed",
            GitError::UrlNotAllowed(_) => "URLNotAllowed",
            GitError::RefNotFound(_) => "RefNotFound",
            GitError::PathNotFound(_) => "PathNotFound",
            GitError::Git(_) => "GitError",
            GitError::Io(_) => "CacheError",
            GitError::SecretUnavailable(_) => "SecretUnavailable",
            GitError::Timeout(_) => "FetchTimeout",
        }
    }

    /// The Secret of `secretRef` could not be read.
    pub fn secret(message: String) -> Self {
        GitError::SecretUnavailable(message)
    }

    /// True when retrying cannot help until the spec or the controller's flags change.
    pub fn is_refusal(&self) -> bool {
        matches!(self, GitError::UrlNotAllowed(_))
    }
}

/// An index entry for the blob `id` of `size` bytes at `path` with file `mode` (`0o100644`,
/// `0o120000` for a symlink). Times, device and owner are zero, so a tree written from such
/// entries depends on the contents only.
pub fn blob_entry(path: &str, mode: u32, id: git2::Oid, size: usize) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: size as u32,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// Where fetched repositories are kept, and which URLs may be fetched into it.
#[derive(Clone, Debug)]
pub struct Cache {
    /// The cache directory: one bare repository per URL and credential.
    pub root: PathBuf,
    /// Local repositories (`file://` URLs and plain paths) may be fetched: `dromos quickstart`
    /// and the tests; `dromos controller` only with `--allow-local-git`. The cache itself is
    /// refused either way.
    pub allow_local: bool,
    /// Bounds of one network fetch.
    pub limits: FetchLimits,
}

/// Bounds of one network fetch: a remote that stops answering, or sends without end, fails
/// the fetch (the last applied revision stays) instead of holding a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// The whole fetch, from connecting to the last byte. A transfer is stopped when it is
    /// exceeded. A remote that sends nothing at all is cut by the socket timeouts
    /// ([`set_socket_timeouts`], the same bound, set by the binary at start); without them (a
    /// library caller, or SSH) it holds its fetch, and others of the same repository and
    /// credential wait at most this long for it, then fail (`FetchTimeout`).
    pub timeout: Duration,
    /// Bytes received from the remote.
    pub max_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(120), max_bytes: 512 << 20 }
    }
}

/// Sets libgit2's own socket timeouts for the whole process: connecting gives up after
/// `connect`, and a read or write on a remote's socket that waits longer than `io` fails the
/// fetch. A remote that accepts a connection and then never answers frees its thread after
/// `io`, instead of holding it until the remote closes. HTTP and HTTPS remotes go through these
/// sockets; SSH's transport (libssh2) reads its socket itself and is bounded only by
/// [`bounded`].
///
/// Call it once, before any thread uses libgit2: `cli::run` does, before the runtime starts.
#[allow(unsafe_code)]
pub fn set_socket_timeouts(connect: Duration, io: Duration) -> Result<(), git2::Error> {
    let ms = |d: Duration| std::ffi::c_int::try_from(d.as_millis()).unwrap_or(std::ffi::c_int::MAX);
    // SAFETY: the two options are plain integers in libgit2's global settings, read when a
    // socket is opened or waited on. libgit2 asks that they are not set while another thread
    // uses it; the only caller runs before any other thread exists.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(ms(connect))?;
        git2::opts::set_server_timeout_in_milliseconds(ms(io))?;
    }
    Ok(())
}

/// Runs `work` (a fetch and the reading of its tree) off the async runtime and waits for it at
/// most `limits.timeout` and a little more: a remote that accepts a connection and never
/// answers blocks its thread inside libgit2, and the caller gets `FetchTimeout` instead of
/// waiting with it (the thread ends when the connection does; fetches of the same repository
/// wait for it at most the same bound, see [`Cache::fetch`]).
pub async fn bounded<T: Send + 'static>(
    limits: FetchLimits,
    work: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    let grace = Duration::from_secs(5);
    match tokio::time::timeout(limits.timeout + grace, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(GitError::Timeout(format!("the fetch stopped: {join}"))),
        Err(_) => Err(GitError::Timeout(format!("no answer from the remote within {}s", limits.timeout.as_secs()))),
    }
}

/// When each ref of each cache directory was last fetched, and when a push was last announced
/// for each repository: what [`Cache::fetch_shared`] may reuse.
#[derive(Default)]
struct Recent {
    fetches: std::sync::Mutex<std::collections::HashMap<(PathBuf, String), Instant>>,
    pushes: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
}

impl Recent {
    /// Entries kept at most (cache directories and refs, announced repositories).
    const MAX: usize = 10_000;

    fn fresh(&self, key: &(PathBuf, String), url: &str, asked: Instant, max_age: Duration) -> bool {
        let Some(started) = self.fetches.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).copied()
        else {
            return false;
        };
        let pushed = self.pushes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&push_key(url)).copied();
        started + max_age >= asked && pushed.is_none_or(|p| started > p)
    }

    fn fetched(&self, key: (PathBuf, String), started: Instant) {
        let mut f = self.fetches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if f.len() >= Self::MAX {
            f.clear();
        }
        f.insert(key, started);
    }
}

static RECENT: std::sync::LazyLock<Recent> = std::sync::LazyLock::new(Recent::default);

/// The repository a push webhook names, in the form URLs are compared in.
fn push_key(url: &str) -> String {
    crate::http::normalize_url(giturl::split_userinfo(url).0.as_str())
}

/// A push to `url` was announced (a webhook): fetches that started before now are not shared
/// with later reads of it.
pub fn notice_push(url: &str) {
    let mut p = RECENT.pushes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if p.len() >= Recent::MAX {
        p.clear();
    }
    p.insert(push_key(url), Instant::now());
}

/// Repositories of the cache being fetched now (at most one fetch per directory), and the
/// signal that one finished.
static IN_FLIGHT: std::sync::LazyLock<(std::sync::Mutex<std::collections::HashSet<PathBuf>>, std::sync::Condvar)> =
    std::sync::LazyLock::new(Default::default);

/// Marks a cache directory as being fetched until dropped.
struct InFlight(PathBuf);

impl InFlight {
    /// Waits up to `wait` for another fetch of `dir` to finish, then marks it.
    fn enter(dir: &Path, wait: Duration) -> Result<Self, GitError> {
        let (set, done) = &*IN_FLIGHT;
        let start = Instant::now();
        let mut busy = set.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while busy.contains(dir) {
            let left = wait.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(GitError::Timeout(format!(
                    "another fetch of this repository has not finished for {}s (a remote that stopped answering)",
                    wait.as_secs()
                )));
            }
            busy = done.wait_timeout(busy, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        busy.insert(dir.to_path_buf());
        Ok(InFlight(dir.to_path_buf()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let (set, done) = &*IN_FLIGHT;
        set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.0);
        done.notify_all();
    }
}

impl Cache {
    /// The cache directory of `url` fetched with `creds`: a source with other credentials, or
    /// none, gets another directory, so it never reads what this one fetched.
    pub fn dir_for(&self, url: &str, creds: &Credentials) -> PathBuf {
        let mut h = Sha256::new();
        h.update(format!("{}:{url}", url.len()));
        h.update(creds.cache_key());
        self.root.join(hex(&h.finalize()[..10]))
    }

    /// Refuses a URL naming a local repository unless they are allowed, and always one
    /// inside the cache. Network URLs pass.
    pub fn check_url(&self, url: &str) -> Result<(), GitError> {
        if giturl::has_remote_scheme(url) || (giturl::is_scp_like(url) && !Path::new(url).exists()) {
            return Ok(());
        }
        let shown = giturl::redact_url(url);
        if !self.allow_local {
            return Err(GitError::UrlNotAllowed(format!(
                "`{shown}` is a repository on the controller's file system; use an https, ssh or git URL \
                 (local repositories are refused unless the controller runs with --allow-local-git)"
            )));
        }
        let Some(path) = giturl::local_path(url) else {
            return Err(GitError::UrlNotAllowed(format!(
                "`{shown}`: a local repository is named as `file:///path` or a plain path, without percent-encoding \
                 or a host other than localhost"
            )));
        };
        // The cache holds other sources' repositories, fetched with their credentials.
        if let (Ok(p), Ok(root)) = (std::fs::canonicalize(path), std::fs::canonicalize(&self.root))
            && p.starts_with(&root)
        {
            return Err(GitError::UrlNotAllowed(format!(
                "`{shown}` is inside the controller's Git cache, which holds other sources' repositories"
            )));
        }
        Ok(())
    }

    /// Fetches `r` from `url` into the cache and returns the commit it points to. Credentials
    /// written into an http(s) URL are used as a user name and password (the Secret's win).
    pub fn fetch(&self, url: &str, r: &GitRef, creds: &Credentials) -> Result<(Repository, Fetched), GitError> {
        self.fetch_shared(url, r, creds, Duration::ZERO)
    }

    /// [`Cache::fetch`], or the answer of a fetch of the same ref into the same cache directory
    /// (same URL and credentials) that started at most `max_age` before this call and after
    /// the last push announced for the URL ([`notice_push`]). Many sources reading one
    /// repository then make one fetch between them, not one each. A fetch that started after
    /// this call (this one waited for it) always counts, whatever `max_age`.
    pub fn fetch_shared(
        &self,
        url: &str,
        r: &GitRef,
        creds: &Credentials,
        max_age: Duration,
    ) -> Result<(Repository, Fetched), GitError> {
        let asked = Instant::now();
        self.check_url(url)?;
        let (url, url_user, url_password) = giturl::split_userinfo(url);
        let mut creds = creds.clone();
        // A user name alone in a URL is usually a token (`https://TOKEN@host/...`).
        let token_user = url_password.is_none().then(|| url_user.clone()).flatten();
        if creds.username.is_none() && creds.password.is_none() {
            (creds.username, creds.password) = (url_user, url_password);
        }
        let mut secrets = creds.secrets();
        secrets.extend(token_user.as_deref());
        let failed = |e: git2::Error| GitError::Fetch {
            url: giturl::redact(&url, &secrets),
            message: giturl::redact(e.message(), &secrets),
        };
        let dir = self.dir_for(&url, &creds);
        std::fs::create_dir_all(&dir)?;
        let repo = match Repository::open_bare(&dir) {
            Ok(r) => r,
            Err(_) => Repository::init_bare(&dir)?,
        };
        // A pinned commit already in this directory was fetched with these credentials from
        // this URL: it needs no network.
        let have_commit =
            matches!(r, GitRef::Commit(c) if Oid::from_str(c).ok().and_then(|o| repo.find_commit(o).ok()).is_some());
        if !have_commit {
            let _fetching = InFlight::enter(&dir, self.limits.timeout)?;
            let key = (dir.clone(), format!("{r:?}"));
            if !RECENT.fresh(&key, &url, asked, max_age) {
                let started = Instant::now();
                let stopped = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
                fetch_refs(&repo, &url, r, &creds, self.limits, stopped.clone()).map_err(|e| {
                    match stopped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                        Some(why) => GitError::Timeout(giturl::redact(&format!("fetching {url}: {why}"), &secrets)),
                        None => failed(e),
                    }
                })?;
                RECENT.fetched(key, started);
            }
        }
        let oid = resolve(&repo, r)?;
        let commit = oid.to_string();
        let revision = format!("{}@sha1:{commit}", r.label());
        drop(repo.find_commit(oid)?);
        Ok((repo, Fetched { commit, revision }))
    }
}

fn known_host_matches(known_hosts: &str, host: &str, key_b64: &str) -> bool {
    known_hosts.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).any(|line| {
        let mut parts = line.split_whitespace();
        let (Some(hosts), Some(_kind), Some(key)) = (parts.next(), parts.next(), parts.next()) else { return false };
        key == key_b64
            && hosts.split(',').any(|h| {
                let h = h.trim_start_matches('[');
                let h = h.split(']').next().unwrap_or(h);
                h == host
            })
    })
}

/// Fetches the refs `r` needs from `url` into `repo`.
/// The transfer stops (and `stopped` says why) past `limits`.
fn fetch_refs(
    repo: &Repository,
    url: &str,
    r: &GitRef,
    creds: &Credentials,
    limits: FetchLimits,
    stopped: std::sync::Arc<std::sync::Mutex<Option<String>>>,
) -> Result<(), git2::Error> {
    let refspecs: Vec<String> = match r {
        GitRef::Branch(b) => vec![format!("+refs/heads/{b}:refs/remotes/origin/{b}")],
        GitRef::Tag(t) => vec![format!("+refs/tags/{t}:refs/tags/{t}")],
        GitRef::Commit(_) => vec!["+refs/heads/*:refs/remotes/origin/*".into(), "+refs/tags/*:refs/tags/*".into()],
    };
    let mut cb = RemoteCallbacks::new();
    let creds_cb = creds.clone();
    let mut attempts = 0;
    cb.credentials(move |_url, user_from_url, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY)
            && let Some(key) = &creds_cb.identity
        {
            return Cred::ssh_key_from_memory(user_from_url.unwrap_or("git"), None, key, None);
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
            && let Some(p) = &creds_cb.password
        {
            let user = creds_cb.username.as_deref().or(user_from_url).unwrap_or("git");
            return Cred::userpass_plaintext(user, p);
        }
        Err(git2::Error::from_str("the remote needs credentials; set spec.secretRef"))
    });
    let known_hosts = creds.known_hosts.clone();
    cb.certificate_check(move |cert, host| {
        if let Some(hk) = cert.as_hostkey() {
            let Some(raw) = hk.hostkey() else {
                return Err(git2::Error::from_str("ssh host key unavailable; cannot verify the host"));
            };
            let key = dromos_core::plan::base64(raw);
            return match &known_hosts {
                Some(kh) if known_host_matches(kh, host, &key) => Ok(CertificateCheckStatus::CertificateOk),
                Some(_) => Err(git2::Error::from_str(&format!(
                    "host key of {host} is not in known_hosts; refusing to connect"
                ))),
                None => {
                    Err(git2::Error::from_str(&format!("no known_hosts for {host}: set `known_hosts` in the secret")))
                }
            };
        }
        // TLS certificates are checked by libgit2 against the system trust store.
        Ok(CertificateCheckStatus::CertificatePassthrough)
    });
    let deadline = Instant::now() + limits.timeout;
    let over = {
        let stopped = stopped.clone();
        move |received: usize| {
            let why = if Instant::now() > deadline {
                format!("no complete answer within {}s", limits.timeout.as_secs())
            } else if received > limits.max_bytes {
                format!("the remote sent more than {} MiB", limits.max_bytes >> 20)
            } else {
                return false;
            };
            *stopped.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
            true
        }
    };
    let over2 = over.clone();
    cb.transfer_progress(move |p| !over(p.received_bytes()));
    cb.sideband_progress(move |_| !over2(0));
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(cb);
    fo.download_tags(git2::AutotagOption::None);
    let header;
    if let Some(t) = &creds.bearer_token {
        header = format!("Authorization: Bearer {t}");
        fo.custom_headers(&[header.as_str()]);
    }
    let mut remote = repo.remote_anonymous(url)?;
    let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
    remote.fetch(&specs, Some(&mut fo), None)
}

/// The commit `r` names in the cache.
fn resolve(repo: &Repository, r: &GitRef) -> Result<Oid, GitError> {
    Ok(match r {
        GitRef::Branch(b) => repo
            .find_reference(&format!("refs/remotes/origin/{b}"))
            .map_err(|_| GitError::RefNotFound(format!("branch `{b}`")))?
            .peel_to_commit()?
            .id(),
        GitRef::Tag(t) => repo
            .find_reference(&format!("refs/tags/{t}"))
            .map_err(|_| GitError::RefNotFound(format!("tag `{t}`")))?
            .peel_to_commit()?
            .id(),
        GitRef::Commit(c) => {
            let oid = Oid::from_str(c).map_err(|_| GitError::RefNotFound(format!("commit `{c}`")))?;
            repo.find_commit(oid).map_err(|_| GitError::RefNotFound(format!("commit `{c}`")))?.id()
        }
    })
}

fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// What one revision may hold, so that no commit can exhaust the controller's memory: a file
/// over `max_file_bytes`, or a revision over `max_files` kept files or `max_total_bytes` in
/// all, is an error of that revision (nothing of it is applied; the last good one stays).
/// Sizes are read from the object database before any blob is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeBudget {
    /// Largest file read.
    pub max_file_bytes: usize,
    /// Most bytes of kept files in one revision.
    pub max_total_bytes: usize,
    /// Most kept files in one revision.
    pub max_files: usize,
}

/// Bytes of manifests one revision may hold by default: with parsing and rendering a tree takes
/// several times its size in memory, and the chart's controller has 512 MiB.
pub const MAX_REVISION_BYTES: usize = 64 << 20;
/// Files one revision may hold by default.
pub const MAX_REVISION_FILES: usize = 20_000;

impl TreeBudget {
    /// The default revision budget with `max_file_bytes` per file.
    pub fn with_file_limit(max_file_bytes: usize) -> Self {
        Self { max_file_bytes, max_total_bytes: MAX_REVISION_BYTES, max_files: MAX_REVISION_FILES }
    }
}

/// Reads the manifest files of `commit` under `subpath` (relative paths in the result), and
/// its `.dromosignore` files, whose rules the loader applies.
/// Symlinks are followed inside `subpath` and refused when they leave it.
pub fn read_tree(
    repo: &Repository,
    commit: &str,
    subpath: Option<&str>,
    max_file_bytes: usize,
) -> Result<crate::fsread::TreeFiles, GitError> {
    let budget = TreeBudget::with_file_limit(max_file_bytes);
    read_tree_budgeted(repo, commit, subpath, &budget, dromos_core::load::is_loader_input)
}

/// Like [`read_tree`], keeping the files whose relative path `keep` accepts (package
/// repositories hold templates and schemas, not only manifests).
pub fn read_tree_filtered(
    repo: &Repository,
    commit: &str,
    subpath: Option<&str>,
    max_file_bytes: usize,
    keep: fn(&str) -> bool,
) -> Result<crate::fsread::TreeFiles, GitError> {
    read_tree_budgeted(repo, commit, subpath, &TreeBudget::with_file_limit(max_file_bytes), keep)
}

/// Like [`read_tree_filtered`], within `budget`.
pub fn read_tree_budgeted(
    repo: &Repository,
    commit: &str,
    subpath: Option<&str>,
    budget: &TreeBudget,
    keep: fn(&str) -> bool,
) -> Result<crate::fsread::TreeFiles, GitError> {
    let commit = repo.find_commit(Oid::from_str(commit)?)?;
    let root_tree = commit.tree()?;
    let sub = normalize(subpath.unwrap_or("")).ok_or_else(|| GitError::PathNotFound(subpath.unwrap_or("").into()))?;
    let tree = if sub.is_empty() {
        root_tree
    } else {
        let entry = root_tree.get_path(Path::new(&sub)).map_err(|_| GitError::PathNotFound(sub.clone()))?;
        entry.to_object(repo)?.into_tree().map_err(|_| GitError::PathNotFound(sub.clone()))?
    };
    let mut out = crate::fsread::TreeFiles::default();
    let err = |file: &str, code: &'static str, msg: String| Diagnostic::error(code, file, Pos::default(), "", msg);
    let entries = kept_entries(&tree, keep, budget.max_files)?;
    if entries.len() > budget.max_files {
        let at = entries.last().map(|e| e.0.clone()).unwrap_or_default();
        let msg = format!("the revision holds more than {} manifest files; nothing of it is read", budget.max_files);
        out.diagnostics.push(err(&at, "revision-too-large", msg));
        return Ok(out);
    }
    let odb = repo.odb()?;
    let mut total = 0usize;
    for (path, oid, mode) in entries {
        let blob_oid = if mode == 0o120000 {
            match symlink_target(repo, &tree, &path, oid, budget.max_file_bytes)? {
                Ok(id) => id,
                Err(target) => {
                    let msg = format!("symlink to `{target}` leaves the source directory or is broken");
                    out.diagnostics.push(err(&path, "symlink-escape", msg));
                    continue;
                }
            }
        } else {
            oid
        };
        // The size from the object header: a large blob is never loaded.
        let (size, _) = odb.read_header(blob_oid)?;
        if size > budget.max_file_bytes {
            let msg = format!("file is {size} bytes, more than the limit of {}", budget.max_file_bytes);
            out.diagnostics.push(err(&path, "file-too-large", msg));
            continue;
        }
        total += size;
        if total > budget.max_total_bytes {
            let msg = format!(
                "the revision's manifests exceed {} bytes in all (reached at this file); nothing of it is applied",
                budget.max_total_bytes
            );
            out.diagnostics.push(err(&path, "revision-too-large", msg));
            out.files.clear();
            return Ok(out);
        }
        out.files.push(SourceFile { path, bytes: repo.find_blob(blob_oid)?.content().to_vec() });
    }
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Blobs under `tree` whose path `keep` accepts, hidden entries (but `.dromosignore`) left out;
/// the walk stops once
/// more than `max` are found.
fn kept_entries(
    tree: &git2::Tree<'_>,
    keep: fn(&str) -> bool,
    max: usize,
) -> Result<Vec<(String, Oid, i32)>, GitError> {
    let mut entries: Vec<(String, Oid, i32)> = Vec::new();
    let walked = tree.walk(TreeWalkMode::PreOrder, |dir, e| {
        if e.name().is_ok_and(|n| n.starts_with('.')) && e.kind() == Some(ObjectType::Tree) {
            return TreeWalkResult::Skip;
        }
        if e.kind() == Some(ObjectType::Blob) {
            let name = e.name().unwrap_or_default();
            let path = format!("{dir}{name}");
            // Hidden files are left out too, except the ignore rules the loader applies.
            let hidden = name.starts_with('.') && name != dromos_core::load::IGNORE_FILE;
            if !hidden && keep(&path) {
                entries.push((path, e.id(), e.filemode()));
                if entries.len() > max {
                    return TreeWalkResult::Abort;
                }
            }
        }
        TreeWalkResult::Ok
    });
    // Our own stop is an error to libgit2; any other error means an incomplete tree, which
    // must never be taken for the revision (its objects would be pruned).
    match walked {
        Err(e) if entries.len() <= max => Err(e.into()),
        _ => Ok(entries),
    }
}

/// The blob a symlink inside the tree points to, or the target text when it leaves the tree or
/// is broken.
fn symlink_target(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    path: &str,
    oid: Oid,
    max_bytes: usize,
) -> Result<Result<Oid, String>, GitError> {
    let (size, _) = repo.odb()?.read_header(oid)?;
    if size > max_bytes.min(4096) {
        return Ok(Err(format!("<{size} bytes>")));
    }
    let target = String::from_utf8_lossy(repo.find_blob(oid)?.content()).into_owned();
    let base = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let joined = if target.starts_with('/') { None } else { normalize(&format!("{base}/{target}")) };
    Ok(joined.and_then(|j| tree.get_path(Path::new(&j)).ok().map(|e| e.id())).ok_or(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_matching() {
        let kh = "# comment\ngit.example.com,10.0.0.5 ssh-ed25519 AAAAKEY\n[git.example.com]:2222 ssh-rsa BBBB\n";
        assert!(known_host_matches(kh, "git.example.com", "AAAAKEY"));
        assert!(known_host_matches(kh, "10.0.0.5", "AAAAKEY"));
        assert!(known_host_matches(kh, "git.example.com", "BBBB"));
        assert!(!known_host_matches(kh, "evil.example.com", "AAAAKEY"));
        assert!(!known_host_matches(kh, "git.example.com", "CCCC"));
    }

    fn commit(repo: &Repository, msg: &str) -> Oid {
        let sig = git2::Signature::now("test", "test@dromos.io").unwrap();
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let parent = repo.find_reference("refs/heads/main").ok().and_then(|r| r.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("refs/heads/main"), &sig, &sig, msg, &tree, &parents).unwrap()
    }

    #[test]
    fn a_recent_fetch_is_shared_until_a_push_is_announced() {
        let remote = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(remote.path()).unwrap();
        let a = commit(&repo, "a");
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache { root: dir.path().to_path_buf(), allow_local: true, limits: FetchLimits::default() };
        let url = format!("file://{}", remote.path().display());
        let (main, creds) = (GitRef::Branch("main".into()), Credentials::default());
        let got = |max_age| cache.fetch_shared(&url, &main, &creds, max_age).unwrap().1.commit;
        let minute = Duration::from_secs(60);
        assert_eq!(got(minute), a.to_string());
        let b = commit(&repo, "b");
        assert_eq!(got(minute), a.to_string(), "the fetch made just before is shared");
        assert_eq!(got(Duration::ZERO), b.to_string(), "nothing that started before the call");
        let c = commit(&repo, "c");
        notice_push(&url);
        assert_eq!(got(minute), c.to_string(), "a push announced after the last fetch ends the sharing");
        assert_eq!(cache.fetch(&url, &main, &creds).unwrap().1.commit, c.to_string());
    }

    #[test]
    fn path_normalisation() {
        assert_eq!(normalize("a/./b/../c"), Some("a/c".into()));
        assert_eq!(normalize("../x"), None);
    }
}

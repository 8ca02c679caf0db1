//! Git fetching against real repositories made in temp dirs (no cluster needed), some served
//! over smart HTTP with basic auth on 127.0.0.1.

use dromos::git::{Cache, Credentials, GitError, GitRef, read_tree};
use dromos_tests::githttp::GitHttpServer;
use dromos_tests::repo::commit;
use git2::Repository;
use std::path::Path;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n";

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// A cache that may fetch local repositories, as the quickstart's.
fn local_cache(cache: &Path) -> Cache {
    Cache { root: cache.to_path_buf(), allow_local: true, limits: Default::default() }
}

fn main_branch() -> GitRef {
    GitRef::Branch("main".into())
}

#[test]
fn fetches_branches_tags_and_commits_and_reads_a_subdirectory() {
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let c1 = commit(
        &repo,
        "main",
        &[("deploy/a.yaml", Some(CM)), ("deploy/README.md", Some("docs")), ("other/b.yaml", Some(CM))],
        "one",
    );
    repo.tag_lightweight("v1", &repo.find_object(c1, None).unwrap(), false).unwrap();
    let cache = tempfile::tempdir().unwrap();

    let (local, f) = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default())
        .unwrap();
    assert_eq!(f.commit, c1.to_string());
    assert_eq!(f.revision, format!("main@sha1:{c1}"));
    let t = read_tree(&local, &f.commit, Some("deploy"), 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["a.yaml"]);
    assert_eq!(t.files[0].bytes, CM.as_bytes());

    // A new commit is seen by the next fetch.
    let c2 = commit(&repo, "main", &[("deploy/b.yml", Some(CM)), ("deploy/a.yaml", None)], "two");
    let (local, f) = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default())
        .unwrap();
    assert_eq!(f.commit, c2.to_string());
    let t = read_tree(&local, &f.commit, Some("deploy/"), 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["b.yml"]);

    // Tags and pinned commits.
    let (_, f) = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Tag("v1".into()), &Credentials::default())
        .unwrap();
    assert_eq!((f.commit.as_str(), f.revision.starts_with("v1@sha1:")), (c1.to_string().as_str(), true));
    let (local, f) = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Commit(c1.to_string()), &Credentials::default())
        .unwrap();
    assert_eq!(f.commit, c1.to_string());
    let t = read_tree(&local, &f.commit, None, 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["deploy/a.yaml", "other/b.yaml"]);
}

#[test]
fn missing_refs_paths_and_remotes_are_errors() {
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let c = commit(&repo, "main", &[("a.yaml", Some(CM))], "one");
    let cache = tempfile::tempdir().unwrap();
    let e = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Tag("nope".into()), &Credentials::default())
        .err()
        .expect("fetch must fail");
    assert!(matches!(e, GitError::RefNotFound(_) | GitError::Fetch { .. }), "{e}");
    let e = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Branch("nope".into()), &Credentials::default())
        .err()
        .expect("fetch must fail");
    assert!(matches!(e, GitError::RefNotFound(_) | GitError::Fetch { .. }), "{e}");
    let e = local_cache(cache.path())
        .fetch("file:///nonexistent/dromos/repo", &GitRef::Branch("main".into()), &Credentials::default())
        .err()
        .expect("fetch must fail");
    assert_eq!(e.reason(), "FetchFailed", "{e}");
    let (local, _) = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default())
        .unwrap();
    assert!(matches!(read_tree(&local, &c.to_string(), Some("missing"), 1 << 20), Err(GitError::PathNotFound(_))));
}

#[test]
fn symlinks_in_the_tree_are_followed_inside_and_refused_outside() {
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let c = commit(
        &repo,
        "main",
        &[
            ("deploy/a.yaml", Some(CM)),
            ("deploy/alias.yaml", Some("->a.yaml")),
            ("deploy/escape.yaml", Some("->../secret.yaml")),
            ("secret.yaml", Some(CM)),
        ],
        "links",
    );
    let cache = tempfile::tempdir().unwrap();
    let (local, _) = local_cache(cache.path())
        .fetch(&url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default())
        .unwrap();
    let t = read_tree(&local, &c.to_string(), Some("deploy"), 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["a.yaml", "alias.yaml"]);
    assert_eq!(t.files[1].bytes, CM.as_bytes());
    assert_eq!(t.diagnostics.len(), 1);
    assert_eq!((t.diagnostics[0].file.as_str(), t.diagnostics[0].code), ("escape.yaml", "symlink-escape"));
}

fn user(name: &str, password: &str) -> Credentials {
    Credentials { username: Some(name.into()), password: Some(password.into()), ..Default::default() }
}

#[test]
fn a_cached_commit_is_served_only_to_the_credential_that_fetched_it() {
    let served = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(served.path().join("private.git")).unwrap();
    let c1 = commit(&repo, "main", &[("a.yaml", Some(CM))], "one").to_string();
    let server = GitHttpServer::start(served.path(), "alice", "wonderland");
    let url = format!("http://{}/private.git", server.addr);
    let dir = tempfile::tempdir().unwrap();
    // Network URLs only: this is the cache of `dromos controller` without --allow-local-git.
    let cache = Cache { root: dir.path().to_path_buf(), allow_local: false, limits: Default::default() };
    let alice = user("alice", "wonderland");

    let (_, f) = cache.fetch(&url, &main_branch(), &alice).expect("alice reads her repository");
    assert_eq!(f.commit, c1);
    let (local, f) = cache.fetch(&url, &GitRef::Commit(c1.clone()), &alice).expect("the pinned commit");
    assert_eq!(read_tree(&local, &f.commit, None, 1 << 20).unwrap().files.len(), 1);

    // The commit is in the cache now; naming it without alice's credential reads nothing.
    for (who, creds) in [("anonymous", Credentials::default()), ("mallory", user("alice", "guess"))] {
        for r in [GitRef::Commit(c1.clone()), main_branch()] {
            let before = server.requests().len();
            let e = cache.fetch(&url, &r, &creds).err().unwrap_or_else(|| panic!("{who} must not read {r:?}"));
            assert_eq!(e.reason(), "FetchFailed", "{who}: {e}");
            let asked = server.requests()[before..].to_vec();
            assert!(asked.iter().any(|(_, code)| *code == 401), "{who} was challenged by the server: {asked:?}");
        }
    }
    assert_ne!(cache.dir_for(&url, &alice), cache.dir_for(&url, &Credentials::default()));
    assert_ne!(cache.dir_for(&url, &alice), cache.dir_for(&url, &user("alice", "guess")));

    // Credentials written into the URL are alice's credential, and never part of a message.
    let in_url = format!("http://alice:wonderland@{}/private.git", server.addr);
    assert_eq!(cache.fetch(&in_url, &GitRef::Commit(c1.clone()), &Credentials::default()).unwrap().1.commit, c1);
    let wrong = format!("http://alice:WRONGPASS@{}/private.git", server.addr);
    let e = cache.fetch(&wrong, &GitRef::Commit(c1.clone()), &Credentials::default()).err().expect("a wrong password");
    assert!(!format!("{e} {e:?}").contains("WRONGPASS"), "{e:?}");
    assert!(e.to_string().contains(&server.addr.to_string()), "the message names the server: {e}");
    let e = cache.fetch(&url, &main_branch(), &user("alice", "S3CRET-GUESS")).err().expect("a wrong password");
    assert!(!format!("{e} {e:?} {:?}", user("alice", "S3CRET-GUESS")).contains("S3CRET"), "{e:?}");
}

#[test]
fn local_repositories_are_refused_unless_allowed_and_the_cache_always() {
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    commit(&repo, "main", &[("a.yaml", Some(CM))], "one");
    let dir = tempfile::tempdir().unwrap();
    let strict = Cache { root: dir.path().join("cache"), allow_local: false, limits: Default::default() };
    let plain = remote.path().display().to_string();
    let upper = format!("FILE://{plain}");
    for u in [url(remote.path()), plain.clone(), upper, format!("file://localhost{plain}")] {
        let e = strict.fetch(&u, &main_branch(), &Credentials::default()).err().expect("refused");
        assert_eq!(e.reason(), "URLNotAllowed", "{u}: {e}");
        assert!(e.to_string().contains("--allow-local-git"), "{e}");
    }
    assert!(!strict.root.exists(), "nothing was fetched");

    // Allowed, a local repository is fetched; the cache itself never is.
    let lenient = Cache { root: strict.root.clone(), allow_local: true, limits: Default::default() };
    lenient.fetch(&url(remote.path()), &main_branch(), &Credentials::default()).unwrap();
    let cached = lenient.dir_for(&url(remote.path()), &Credentials::default());
    let name = cached.file_name().unwrap().to_string_lossy().into_owned();
    let sneaky = format!("file://{}/../cache/{name}", lenient.root.display());
    for u in [url(&cached), cached.display().to_string(), sneaky, url(&lenient.root)] {
        let e = lenient.fetch(&u, &main_branch(), &Credentials::default()).err().expect("the cache is refused");
        assert_eq!(e.reason(), "URLNotAllowed", "{u}: {e}");
        assert!(e.to_string().contains("Git cache"), "{e}");
    }
    let e = lenient.fetch(&format!("file://{}%2e", plain), &main_branch(), &Credentials::default()).err().unwrap();
    assert_eq!(e.reason(), "URLNotAllowed", "percent-encoded local paths are refused: {e}");
}

#[test]
fn a_revision_over_its_budget_is_an_error_naming_the_file() {
    use dromos::git::{TreeBudget, read_tree_budgeted};
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let big = format!("{CM}data: {{v: \"{}\"}}\n", "x".repeat(700));
    let c = commit(
        &repo,
        "main",
        &[("a.yaml", Some(&big)), ("b.yaml", Some(&big)), ("c.yaml", Some(CM)), ("notes.md", Some(&"y".repeat(5000)))],
        "three manifests",
    )
    .to_string();
    let keep = dromos_core::load::is_manifest_path;
    let budget = |max_file_bytes, max_total_bytes, max_files| TreeBudget { max_file_bytes, max_total_bytes, max_files };
    let codes = |t: &dromos::fsread::TreeFiles| -> Vec<(String, &'static str)> {
        t.diagnostics.iter().map(|d| (d.file.clone(), d.code)).collect()
    };
    // Within every limit: the three manifests (the large non-manifest file is never read).
    let t = read_tree_budgeted(&repo, &c, None, &budget(1000, 4000, 3), keep).unwrap();
    assert_eq!(t.files.len(), 3);
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    // A file over its limit is refused by name; the others are read.
    let t = read_tree_budgeted(&repo, &c, None, &budget(500, 4000, 3), keep).unwrap();
    assert_eq!(codes(&t), [("a.yaml".to_string(), "file-too-large"), ("b.yaml".to_string(), "file-too-large")]);
    assert_eq!(t.files.len(), 1);
    // Too many bytes in all: an error at the file that crossed the line, and no file at all.
    let t = read_tree_budgeted(&repo, &c, None, &budget(1000, 1000, 3), keep).unwrap();
    assert_eq!(codes(&t), [("b.yaml".to_string(), "revision-too-large")]);
    assert!(t.files.is_empty());
    // Too many files: the walk stops, an error, no file.
    let t = read_tree_budgeted(&repo, &c, None, &budget(1000, 4000, 2), keep).unwrap();
    assert_eq!(codes(&t).iter().map(|c| c.1).collect::<Vec<_>>(), ["revision-too-large"]);
    assert!(t.files.is_empty());
}

/// A GitSource reads a commit's `.dromosignore` files (other hidden entries, such as
/// `.github/`, are not read, as in a directory) and the loader applies the same rules as
/// `dromos validate` on a directory: the revision is valid and only the manifests are objects.
#[test]
fn a_revision_with_other_tools_files_loads_only_its_manifests() {
    let remote = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(remote.path()).unwrap();
    let c = commit(
        &repo,
        "main",
        &[
            ("deploy/a.yaml", Some(CM)),
            ("deploy/kustomization.yaml", Some("resources: [a.yaml]\n")),
            ("deploy/chart/Chart.yaml", Some("apiVersion: v2\nname: c\nversion: 1.0.0\n")),
            ("deploy/chart/templates/x.yaml", Some("metadata: {name: {{ .Values.name }}}\n")),
            ("deploy/.github/workflows/ci.yml", Some("on: push\njobs: {}\n")),
            ("deploy/drafts/b.yaml", Some("kind: [\n")),
            ("deploy/.dromosignore", Some("drafts/\n")),
        ],
        "manifests beside other tools",
    )
    .to_string();
    let cache = tempfile::tempdir().unwrap();
    let (local, _) =
        local_cache(cache.path()).fetch(&url(remote.path()), &main_branch(), &Credentials::default()).unwrap();
    let t = read_tree(&local, &c, Some("deploy"), 1 << 20).unwrap();
    let names: Vec<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
    assert!(names.contains(&".dromosignore") && !names.iter().any(|n| n.starts_with(".github")), "{names:?}");
    let prepared = dromos_core::prepare::prepare(&t.files, t.diagnostics, &Default::default())
        .unwrap_or_else(|tree| panic!("refused: {:?}", tree.diagnostics));
    assert_eq!(prepared.objects.len(), 1);
    let skipped: Vec<(&str, &str)> = prepared.tree.skipped.iter().map(|s| (s.path.as_str(), s.rule.as_str())).collect();
    assert_eq!(
        skipped,
        vec![
            (".dromosignore", ".dromosignore files hold rules, not manifests"),
            ("chart/Chart.yaml", "default rule `Chart.yaml`"),
            ("chart/templates/x.yaml", "inside the Helm chart of chart/Chart.yaml"),
            ("drafts/b.yaml", ".dromosignore:1 `drafts/`"),
            ("kustomization.yaml", "default rule `kustomization.yaml`"),
        ]
    );
}

//! Git fetching against real repositories made in temp dirs (no cluster needed).

use dromos::git::{Credentials, GitError, GitRef, fetch, read_tree};
use dromos_tests::repo::commit;
use git2::Repository;
use std::path::Path;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n";

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
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

    let (local, f) =
        fetch(cache.path(), &url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default()).unwrap();
    assert_eq!(f.commit, c1.to_string());
    assert_eq!(f.revision, format!("main@sha1:{c1}"));
    let t = read_tree(&local, &f.commit, Some("deploy"), 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["a.yaml"]);
    assert_eq!(t.files[0].bytes, CM.as_bytes());

    // A new commit is seen by the next fetch.
    let c2 = commit(&repo, "main", &[("deploy/b.yml", Some(CM)), ("deploy/a.yaml", None)], "two");
    let (local, f) =
        fetch(cache.path(), &url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default()).unwrap();
    assert_eq!(f.commit, c2.to_string());
    let t = read_tree(&local, &f.commit, Some("deploy/"), 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["b.yml"]);

    // Tags and pinned commits.
    let (_, f) = fetch(cache.path(), &url(remote.path()), &GitRef::Tag("v1".into()), &Credentials::default()).unwrap();
    assert_eq!((f.commit.as_str(), f.revision.starts_with("v1@sha1:")), (c1.to_string().as_str(), true));
    let (local, f) =
        fetch(cache.path(), &url(remote.path()), &GitRef::Commit(c1.to_string()), &Credentials::default()).unwrap();
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
    let e = fetch(cache.path(), &url(remote.path()), &GitRef::Tag("nope".into()), &Credentials::default())
        .err()
        .expect("fetch must fail");
    assert!(matches!(e, GitError::RefNotFound(_) | GitError::Fetch { .. }), "{e}");
    let e = fetch(cache.path(), &url(remote.path()), &GitRef::Branch("nope".into()), &Credentials::default())
        .err()
        .expect("fetch must fail");
    assert!(matches!(e, GitError::RefNotFound(_) | GitError::Fetch { .. }), "{e}");
    let e =
        fetch(cache.path(), "file:///nonexistent/dromos/repo", &GitRef::Branch("main".into()), &Credentials::default())
            .err()
            .expect("fetch must fail");
    assert_eq!(e.reason(), "FetchFailed", "{e}");
    let (local, _) =
        fetch(cache.path(), &url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default()).unwrap();
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
    let (local, _) =
        fetch(cache.path(), &url(remote.path()), &GitRef::Branch("main".into()), &Credentials::default()).unwrap();
    let t = read_tree(&local, &c.to_string(), Some("deploy"), 1 << 20).unwrap();
    assert_eq!(t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["a.yaml", "alias.yaml"]);
    assert_eq!(t.files[1].bytes, CM.as_bytes());
    assert_eq!(t.diagnostics.len(), 1);
    assert_eq!((t.diagnostics[0].file.as_str(), t.diagnostics[0].code), ("escape.yaml", "symlink-escape"));
}

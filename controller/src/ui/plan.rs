//! The Sources page's plan and the package form's patch (I/O: Git, the Kubernetes API as the
//! caller). Both read the newest revision of a GitSource's ref, fetched by the UI itself into
//! its own Git cache with no credentials: the UI never reads a Secret, so a source with
//! `spec.secretRef` gets a message instead. The plan is `dromos plan --source`'s (the
//! controller's checks in its order, then `sync::review`), except that the live state is read
//! as the signed-in user, not as the source's identity: it shows what the user may see.

use super::{ApiError, Ui};
use crate::fsread::TreeFiles;
use crate::git::{self, Credentials, GitRef};
use crate::operators::gitsource;
use axum::http::StatusCode;
use dromos_core::ui as view;
use dromos_crds::GitSource;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

/// How the UI fetches GitSources' repositories.
#[derive(Clone, Debug)]
pub struct GitAccess {
    /// Where fetched repositories go and which URLs may be fetched (local repositories only
    /// with `--allow-local-git`), with the bounds of one fetch.
    pub cache: git::Cache,
    /// The controller's identity rules (`--default-service-account`,
    /// `--require-service-account`): a source they refuse is shown refused, as the controller
    /// would. `dromos ui`: the defaults.
    pub rules: dromos_core::tenancy::IdentityRules,
}

/// Plans and patches computed at once by one UI process (each fetches, parses a revision and
/// lists live objects): more wait for a turn.
pub const CONCURRENT_PLANS: usize = 2;
/// Largest file of a revision read for a plan, as the GitSource operator reads.
const MAX_FILE_BYTES: usize = 8 << 20;

/// The newest revision of `gs`'s ref and the files under its path, or why there is none to
/// show (a JSON answer for the page).
async fn fetch_newest(ui: &Ui, gs: &GitSource) -> Result<(git::Fetched, TreeFiles), Value> {
    let (ns, name) = (gs.namespace().unwrap_or_default(), gs.name_any());
    if let Some(secret) = &gs.spec.secret_ref {
        return Err(json!({"state": "needsCredentials", "message": format!(
            "GitSource {ns}/{name} reads its repository with the credentials of Secret {} (spec.secretRef); \
             the UI never reads Secrets, so it cannot fetch the repository and shows no plan. \
             `dromos plan CHECKOUT --source {ns}/{name}` plans a checkout of it.", secret.name)}));
    }
    if let Err(message) = repository_allowed(ui, gs).await {
        return Err(json!({"state": "refused", "reason": dromos_core::tenancy::POLICY_VIOLATION, "message": message}));
    }
    let _turn = ui.plans.acquire().await.map_err(|e| json!({"state": "fetchFailed", "message": e.to_string()}))?;
    let cache = ui.git.cache.clone();
    let (url, gref, path) = (gs.spec.url.clone(), GitRef::from_spec(gs.spec.git_ref.as_ref()), gs.spec.path.clone());
    git::bounded(cache.limits, move || {
        let (repo, f) = cache.fetch(&url, &gref, &Credentials::default())?;
        let files = git::read_tree(&repo, &f.commit, path.as_deref(), MAX_FILE_BYTES)?;
        Ok((f, files))
    })
    .await
    .map_err(|e| json!({"state": "fetchFailed", "reason": e.reason(), "message": e.to_string()}))
}

/// Whether the SourcePolicies that select `gs`'s namespace let its URL be fetched: the check
/// the controller makes before any fetch. Read with the UI's own client (the fetch is the UI
/// process's, not the user's); when that client may not read them, as the user may not with
/// `dromos ui`, the fetch is not checked.
pub(crate) async fn repository_allowed(ui: &Ui, gs: &GitSource) -> Result<(), String> {
    let all = match policies_as(&ui.base).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(()),
        Err(e) => return Err(format!("reading SourcePolicies: {}", e.1)),
    };
    let ns = gs.namespace().unwrap_or_default();
    dromos_core::tenancy::Policies::select(&all, &ns)
        .check_repository(&gs.spec.url)
        .map_err(|v| format!("GitSource {ns}/{}: spec.url: {v}; the UI does not fetch it", gs.name_any()))
}

fn diagnostics_json(diags: &[dromos_core::diag::Diagnostic], files: &[dromos_core::SourceFile]) -> Value {
    let source = |f: &str| files.iter().find(|x| x.path == f).and_then(|x| std::str::from_utf8(&x.bytes).ok());
    json!({
        "diagnostics": diags.iter().map(|d| json!({"severity": format!("{:?}", d.severity).to_lowercase(),
            "file": d.file, "line": d.line, "field": d.field, "message": d.message})).collect::<Vec<_>>(),
        "text": dromos_core::diag::render_text(diags, source),
    })
}

/// Every SourcePolicy the caller may read; `None` when it may not list them (the plan then
/// says the policies were not checked).
pub(crate) async fn policies_as(
    client: &Client,
) -> Result<Option<Vec<(String, dromos_crds::SourcePolicySpec)>>, ApiError> {
    let api: Api<dromos_crds::SourcePolicy> = Api::all(client.clone());
    match api.list(&Default::default()).await {
        Ok(l) => {
            let mut all: Vec<_> = l.items.into_iter().map(|p| (p.name_any(), p.spec)).collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Some(all))
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Some(vec![])),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The plan of `gs`'s newest revision against the live state as `client` (the caller) reads
/// it: `{"state": "planned", "revision", ..., "plan"}`, or `invalid` / `refused` with
/// diagnostics at file:line, or `needsCredentials` / `fetchFailed` with a message.
pub async fn plan_source(ui: &Ui, client: &Client, gs: &GitSource) -> Result<Value, ApiError> {
    let (f, files) = match fetch_newest(ui, gs).await {
        Ok(x) => x,
        Err(v) => return Ok(v),
    };
    let revision = f.revision.clone();
    let policies = policies_as(client).await?;
    let mut notes = vec![];
    let checked = match &policies {
        Some(p) => p.clone(),
        None => {
            notes.push("you may not read SourcePolicies: the plan does not check them".to_string());
            vec![]
        }
    };
    let identity = match gitsource::identity_of(&ui.git.rules, &checked, gs) {
        Ok(i) => i,
        Err((reason, message)) => {
            return Ok(json!({"state": "refused", "revision": revision, "reason": reason, "message": message,
                "notes": notes}));
        }
    };
    let opts = dromos_core::load::LoadOptions {
        default_namespace: gitsource::default_namespace(gs),
        threads: crate::threads(),
        ..Default::default()
    };
    let TreeFiles { files, diagnostics } = files;
    let (files, prepared) = tokio::task::spawn_blocking(move || {
        let p = dromos_core::prepare::prepare(&files, diagnostics, &opts);
        (files, p)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("loading the revision: {e}")))?;
    let prepared = match prepared {
        Ok(p) => p,
        Err(tree) => {
            let mut v = diagnostics_json(&tree.diagnostics, &files);
            v["state"] = json!("invalid");
            v["revision"] = json!(revision);
            v["reason"] = json!("ValidationFailed");
            v["message"] = json!("the revision is invalid: the controller applies nothing of it");
            return Ok(v);
        }
    };
    let mut resolver = crate::sync::Resolver::default();
    let violations = gitsource::policy_violations(client, &mut resolver, &checked, gs, &prepared.tree).await;
    if !violations.is_empty() {
        let mut v = diagnostics_json(&violations, &files);
        v["state"] = json!("refused");
        v["revision"] = json!(revision);
        v["reason"] = json!(dromos_core::tenancy::POLICY_VIOLATION);
        v["message"] = json!("SourcePolicies refuse objects of the revision: the controller applies nothing of it");
        return Ok(v);
    }
    let inventory = crate::sync::status_inventory(gs.status.as_ref())
        .map_err(|e| ApiError(axum::http::StatusCode::UNPROCESSABLE_ENTITY, format!("status.inventoryPacked: {e}")))?;
    let settings = gitsource::settings(gs);
    let (mut plan, refused, desired) =
        crate::sync::review(client, &mut resolver, prepared.objects, &prepared.levels, &inventory, &settings).await?;
    plan.skipped = prepared.tree.skipped;
    let mut v = json!({
        "state": "planned",
        "revision": revision,
        "actingAs": identity.to_string(),
        "notes": notes,
        "plan": view::plan_view(&plan, &desired, &refused, view::PLAN_DIFFS),
        "warnings": diagnostics_json(&prepared.tree.diagnostics, &files)["diagnostics"],
    });
    v["blocked"] = json!(!refused.is_empty() || matches!(plan.guard, dromos_core::plan::Guard::Blocked { .. }));
    Ok(v)
}

/// The package form's patch: `yaml` (a Package `namespace/name`) written into `gs`'s
/// repository. Where a valid document of the newest revision already declares that Package
/// and is alone in its file, the patch changes that file; else it adds
/// `<spec.path>/packages/<name>.yaml` ([`view::package_file`]). A file holding other
/// documents besides it is not rewritten: the answer says where it is.
pub async fn package_patch(ui: &Ui, gs: &GitSource, namespace: &str, name: &str, yaml: &str) -> Value {
    let (f, files) = match fetch_newest(ui, gs).await {
        Ok(x) => x,
        Err(v) => return v,
    };
    let mut v = patch_for(gs, &files, namespace, name, yaml);
    v["revision"] = json!(f.revision);
    v
}

/// [`package_patch`] on the files of `gs`'s path in a revision.
pub(crate) fn patch_for(gs: &GitSource, files: &TreeFiles, namespace: &str, name: &str, yaml: &str) -> Value {
    let default_namespace = gitsource::default_namespace(gs);
    let opts = dromos_core::load::LoadOptions { default_namespace, threads: 1, ..Default::default() };
    let loaded = dromos_core::load::load_files(&files.files, &opts);
    let found = loaded.manifests.iter().find(|m| {
        m.kind == "Package" && m.name == name && m.namespace.as_deref().unwrap_or(&opts.default_namespace) == namespace
    });
    let sub = gs.spec.path.as_deref().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty());
    let in_repo = |file: &str| match sub {
        Some(s) => format!("{s}/{file}"),
        None => file.to_string(),
    };
    let (path, old) = match found {
        Some(m) => {
            let docs = loaded.manifests.iter().filter(|o| o.file == m.file).count();
            let text = files.files.iter().find(|x| x.path == m.file).and_then(|x| std::str::from_utf8(&x.bytes).ok());
            match text {
                Some(t) if docs == 1 => (in_repo(&m.file), Some(t.to_string())),
                _ => {
                    let file = in_repo(&m.file);
                    return json!({"state": "elsewhere", "file": file, "message": format!(
                        "Package {namespace}/{name} is declared in {file} with other documents; change it there by hand")});
                }
            }
        }
        None => (view::package_file(gs.spec.path.as_deref(), name), None),
    };
    let action = if old.is_some() { "change" } else { "add" };
    match view::file_patch(&path, old.as_deref(), yaml) {
        Some(patch) => json!({"state": "patch", "file": path, "action": action, "patch": patch}),
        None => json!({"state": "unchanged", "file": path, "message": format!("{path} already holds this manifest")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@dromos.io", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn source(path: Option<&str>) -> GitSource {
        serde_json::from_value(json!({"apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
            "metadata": {"name": "s", "namespace": "ops"}, "spec": {"url": "https://git.example.com/r.git", "path": path}}))
        .expect("GitSource")
    }

    fn files_at(dir: &std::path::Path, path: &str) -> TreeFiles {
        let repo = git2::Repository::open(dir).expect("repo");
        let head = repo.head().expect("HEAD").peel_to_commit().expect("commit").id().to_string();
        git::read_tree(&repo, &head, Some(path), 1 << 20).expect("tree")
    }

    fn manifest(count: u32) -> String {
        let m = view::package_manifest(
            "kafka",
            "1.0.0",
            "events",
            "data",
            &json!({"brokers": {"count": count}}),
            &json!(null),
        );
        serde_saphyr::to_string(&m).expect("yaml")
    }

    /// The patches apply with `git apply` to a real repository: a new file under
    /// `<path>/packages/`, then a change of the file that declares the Package, wherever it is.
    #[test]
    fn patches_apply_to_the_repository() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(d.join("clusters/prod/apps")).expect("mkdir");
        std::fs::write(
            d.join("clusters/prod/apps/web.yaml"),
            "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {name: web, namespace: shop}\nspec: {cmd: sleep 1, cpus: 0.1, mem: 32}\n",
        )
        .expect("write");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "base"]);
        let gs = source(Some("clusters/prod"));

        let v = patch_for(&gs, &files_at(d, "clusters/prod"), "data", "events", &manifest(3));
        assert_eq!((v["state"].as_str(), v["action"].as_str()), (Some("patch"), Some("add")), "{v}");
        assert_eq!(v["file"], "clusters/prod/packages/events.yaml");
        let patch = d.join("add.patch");
        std::fs::write(&patch, v["patch"].as_str().expect("patch")).expect("write patch");
        git(d, &["apply", "--check", "add.patch"]);
        git(d, &["apply", "add.patch"]);
        assert_eq!(std::fs::read_to_string(d.join("clusters/prod/packages/events.yaml")).expect("added"), manifest(3));
        std::fs::remove_file(&patch).expect("rm");
        // Moved elsewhere under the path and committed: the next patch changes that file.
        std::fs::rename(d.join("clusters/prod/packages/events.yaml"), d.join("clusters/prod/apps/kafka.yaml"))
            .expect("mv");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "kafka"]);
        let v = patch_for(&gs, &files_at(d, "clusters/prod"), "data", "events", &manifest(5));
        assert_eq!(
            (v["action"].as_str(), v["file"].as_str()),
            (Some("change"), Some("clusters/prod/apps/kafka.yaml")),
            "{v}"
        );
        std::fs::write(&patch, v["patch"].as_str().expect("patch")).expect("write patch");
        git(d, &["apply", "--check", "add.patch"]);
        git(d, &["apply", "add.patch"]);
        assert_eq!(std::fs::read_to_string(d.join("clusters/prod/apps/kafka.yaml")).expect("changed"), manifest(5));
        // Once committed, the same manifest again: nothing to patch.
        std::fs::remove_file(&patch).expect("rm");
        git(d, &["commit", "-qam", "five"]);
        let v = patch_for(&gs, &files_at(d, "clusters/prod"), "data", "events", &manifest(5));
        assert_eq!(v["state"], "unchanged", "{v}");
        // Declared beside other documents: not rewritten.
        std::fs::write(
            d.join("clusters/prod/apps/kafka.yaml"),
            format!(
                "{}---\n{}",
                manifest(5),
                std::fs::read_to_string(d.join("clusters/prod/apps/web.yaml")).expect("web")
            ),
        )
        .expect("write");
        std::fs::remove_file(d.join("clusters/prod/apps/web.yaml")).expect("rm");
        git(d, &["commit", "-qam", "together"]);
        let v = patch_for(&gs, &files_at(d, "clusters/prod"), "data", "events", &manifest(7));
        assert_eq!(v["state"], "elsewhere", "{v}");
    }
}

//! `dromos plan PATH --source NAMESPACE/NAME`: what a branch would do to the cluster a
//! GitSource manages (I/O: the cluster, the working tree or a local repository).
//!
//! The checks and the plan are the controller's own, in its order: the source's identity and
//! the SourcePolicies that select it (`gitsource::identity_of`), the tree at the source's
//! `spec.path` loaded and validated, the per-object policy check with file and line, then the
//! plan against exactly what the source owns (its `dromos.io/source=<ns>.<name>` label and the
//! inventory in its status) with its prune and deletion-guard settings, read as the identity
//! the source acts as, and the objects a sync would refuse to take.

use super::args::PlanFormat;
use crate::operators::gitsource;
use anyhow::{Context, Result, bail};
use dromos_core::tenancy::IdentityRules;
use dromos_crds::GitSource;
use kube::ResourceExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What to plan and how to print it.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) path: PathBuf,
    pub(crate) source: String,
    pub(crate) revision: Option<String>,
    pub(crate) rules: IdentityRules,
    pub(crate) output: PlanFormat,
    /// With the render options of the controller: show the Apps' native objects.
    pub(crate) rendered: Option<dromos_core::RenderOptions>,
}

/// Exit 0: no change; 2: changes; 1: the controller would refuse the revision (invalid, a
/// policy violation, the deletion guard, an object it may not take).
pub(crate) fn run(req: Request) -> Result<ExitCode> {
    super::block_on(plan(req))
}

async fn plan(req: Request) -> Result<ExitCode> {
    let (ns, name) = req
        .source
        .split_once('/')
        .filter(|(n, m)| !n.is_empty() && !m.is_empty())
        .with_context(|| format!("--source {}: expected NAMESPACE/NAME", req.source))?;
    let crate::apiclient::Cluster { client, described: cluster, .. } = crate::apiclient::connect().await?;
    let gs = kube::Api::<GitSource>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .with_context(|| format!("reading GitSource {ns}/{name} on {cluster}"))?;
    let policies = source_policies(&client).await?;
    let mut out = Report::new(req.output, &gs, &cluster, &req);

    let identity = match gitsource::identity_of(&req.rules, &policies, &gs) {
        Ok(i) => i,
        Err((reason, message)) => return Ok(out.refused(reason, &message)),
    };
    out.line(&format!("acting as: {identity}"));
    let files = read_files(&req.path, req.revision.as_deref(), gs.spec.path.as_deref())?;
    out.line(&format!("tree: {}", files.1));
    let files = files.0;
    let opts = dromos_core::load::LoadOptions {
        default_namespace: gitsource::default_namespace(&gs),
        threads: crate::threads(),
        ..Default::default()
    };
    let source_text =
        |f: &str| files.files.iter().find(|x| x.path == f).and_then(|x| std::str::from_utf8(&x.bytes).ok());
    let prepared = match dromos_core::prepare::prepare(&files.files, files.diagnostics.clone(), &opts) {
        Ok(p) => p,
        Err(tree) => {
            let text = dromos_core::diag::render_text(&tree.diagnostics, source_text);
            return Ok(
                out.refused("ValidationFailed", &format!("the revision is invalid; nothing would be applied\n{text}"))
            );
        }
    };
    let mut resolver = crate::sync::Resolver::default();
    let violations = gitsource::policy_violations(&client, &mut resolver, &policies, &gs, &prepared.tree).await;
    if !violations.is_empty() {
        let text = dromos_core::diag::render_text(&violations, source_text);
        return Ok(out.refused(dromos_core::tenancy::POLICY_VIOLATION, &format!("nothing would be applied\n{text}")));
    }
    let acting = match identity.user() {
        Some(user) => crate::operators::impersonate(&client, &user)?,
        None => client.clone(),
    };
    let inventory: Vec<dromos_core::plan::ObjRef> = crate::sync::status_inventory(gs.status.as_ref())
        .map_err(|e| anyhow::anyhow!("GitSource {ns}/{name}: status.inventoryPacked: {e}"))?;
    let settings = gitsource::settings(&gs);
    let (mut plan, refused, desired) =
        crate::sync::review(&acting, &mut resolver, prepared.objects, &prepared.levels, &inventory, &settings)
            .await
            .with_context(|| format!("planning as {identity}"))?;
    plan.skipped = prepared.tree.skipped;
    // The App operator applies the native objects as the controller, not as the source: the
    // dry-run goes through the caller's own identity.
    let native = match &req.rendered {
        Some(render) => Some(crate::native::against_cluster(&client, &plan, &desired, render).await),
        None => None,
    };
    Ok(out.plan(&plan, &refused, native.as_ref()))
}

/// Every SourcePolicy (none when the CRD is not installed); unreadable policies are an error,
/// since the plan could not say what the controller would refuse.
async fn source_policies(client: &kube::Client) -> Result<Vec<(String, dromos_crds::SourcePolicySpec)>> {
    let api: kube::Api<dromos_crds::SourcePolicy> = kube::Api::all(client.clone());
    match api.list(&Default::default()).await {
        Ok(l) => {
            let mut all: Vec<_> = l.items.into_iter().map(|p| (p.name_any(), p.spec)).collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(all)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(vec![]),
        Err(e) => bail!("reading SourcePolicies (the plan applies them as the controller does): {e}"),
    }
}

/// The files of the source's `spec.path` in the working tree at `root`, or at `revision` of
/// the Git repository that holds `root`; with a description of where they came from.
fn read_files(
    root: &Path,
    revision: Option<&str>,
    subpath: Option<&str>,
) -> Result<(crate::fsread::TreeFiles, String)> {
    match revision {
        None => {
            let dir = match subpath {
                Some(p) if !p.trim_matches('/').is_empty() => root.join(p.trim_matches('/')),
                _ => root.to_path_buf(),
            };
            let files =
                crate::fsread::fetch_tree(&dir, 8 << 20).with_context(|| format!("reading {}", dir.display()))?;
            Ok((files, format!("working tree {}", dir.display())))
        }
        Some(rev) => {
            let repo = git2::Repository::discover(root)
                .with_context(|| format!("--revision needs a Git repository at {}", root.display()))?;
            let commit = repo
                .revparse_single(rev)
                .and_then(|o| o.peel_to_commit())
                .with_context(|| format!("--revision {rev}: no such commit in {}", root.display()))?;
            let id = commit.id().to_string();
            let files = crate::git::read_tree(&repo, &id, subpath, 8 << 20).map_err(|e| anyhow::anyhow!("{e}"))?;
            let at = subpath.map(|p| format!(" path {p}")).unwrap_or_default();
            Ok((files, format!("revision {rev} ({id}){at}")))
        }
    }
}

/// The printed result: a header naming the source, the cluster and the identity, then the
/// plan or the refusal.
struct Report {
    format: PlanFormat,
    header: Vec<String>,
    title: String,
}

impl Report {
    fn new(format: PlanFormat, gs: &GitSource, cluster: &str, req: &Request) -> Self {
        let id = format!("{}/{}", gs.namespace().unwrap_or_default(), gs.name_any());
        let header = vec![
            format!(
                "source: GitSource {id} ({}{})",
                gs.spec.url,
                gs.spec.path.as_ref().map(|p| format!(", path {p}")).unwrap_or_default()
            ),
            format!("cluster: {cluster}"),
        ];
        let title = format!("dromos plan: {} against GitSource {id}", req.path.display());
        Self { format, header, title }
    }

    fn line(&mut self, l: &str) {
        self.header.push(l.to_string());
    }

    fn refused(self, reason: &str, message: &str) -> ExitCode {
        match self.format {
            PlanFormat::Json => {
                let v = serde_json::json!({"header": self.header, "refused": {"reason": reason, "message": message}});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            PlanFormat::Markdown => {
                println!("### {}\n", self.title);
                for h in &self.header {
                    println!("- {h}");
                }
                println!("\n**The controller would refuse this revision ({reason}).**\n\n```\n{message}\n```");
            }
            PlanFormat::Text => {
                for h in &self.header {
                    println!("{h}");
                }
                println!("refused ({reason}): {message}");
            }
        }
        ExitCode::from(1)
    }

    fn plan(
        self,
        plan: &dromos_core::plan::Plan,
        refused: &[dromos_core::outcome::Failure],
        native: Option<&dromos_core::plan::native::Native>,
    ) -> ExitCode {
        use dromos_core::plan::native as n;
        let lines: Vec<String> =
            refused.iter().map(|f| format!("{}: {} ({})", f.obj.display(), f.message, f.reason)).collect();
        match self.format {
            PlanFormat::Json => {
                let mut v = dromos_core::plan::report::json(plan);
                v["header"] = serde_json::json!(self.header);
                v["refused"] =
                    serde_json::json!(refused
                    .iter()
                    .map(|f| serde_json::json!({"object": f.obj.display(), "reason": f.reason, "message": f.message}))
                    .collect::<Vec<_>>());
                if let Some(native) = native {
                    v["rendered"] = n::json(native);
                }
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            PlanFormat::Markdown => {
                let mut text = dromos_core::plan::report::markdown(plan, &self.title);
                let head: String = self.header.iter().map(|h| format!("- {h}\n")).collect();
                text = match text.split_once('\n') {
                    Some((first, rest)) => format!("{first}\n\n{head}{rest}"),
                    None => format!("{text}\n{head}"),
                };
                print!("{text}");
                if !lines.is_empty() {
                    println!("\n**Refused: nothing of this revision would be applied.**\n");
                    for l in &lines {
                        println!("- {l}");
                    }
                }
                print!("{}", native.map(n::markdown).unwrap_or_default());
            }
            PlanFormat::Text => {
                for h in &self.header {
                    println!("{h}");
                }
                print!("{}", dromos_core::plan::report::text(plan));
                if !lines.is_empty() {
                    println!("refused: nothing of this revision would be applied:");
                    for l in &lines {
                        println!("  {l}");
                    }
                }
                print!("{}", native.map(n::text).unwrap_or_default());
            }
        }
        if !refused.is_empty() || matches!(plan.guard, dromos_core::plan::Guard::Blocked { .. }) {
            ExitCode::from(1)
        } else if plan.is_noop() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        }
    }
}

//! Rendering a whole tree into the objects Dromos applies, in apply order (pure).

use crate::diag::Diagnostic;
use crate::load::{Manifest, Typed};
use crate::package;
use crate::translate::{Expansion, RenderOptions, render_app, render_job};
use serde_json::Value;

/// Everything a valid tree expands to.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Objects in apply order: the manifests themselves, then their expansions.
    pub objects: Vec<Value>,
    /// Approximations and other warnings, with positions in the source manifests.
    pub warnings: Vec<Diagnostic>,
}

/// Apply order rank of a kind: namespaces and CRDs first, workloads last.
pub fn kind_rank(api_version: &str, kind: &str) -> u8 {
    match (api_version, kind) {
        (_, "Namespace") => 0,
        (_, "CustomResourceDefinition") => 1,
        (_, "PriorityClass" | "StorageClass" | "IngressClass" | "RuntimeClass") => 2,
        (_, "ClusterRole" | "ClusterRoleBinding") => 3,
        (_, "ServiceAccount" | "ResourceQuota" | "LimitRange" | "NetworkPolicy") => 4,
        (_, "Role" | "RoleBinding") => 5,
        (_, "Secret" | "ConfigMap") => 6,
        (_, "PersistentVolume" | "PersistentVolumeClaim") => 7,
        (_, "Service") => 8,
        ("dromos.io/v1alpha1", "GitSource") => 9,
        ("dromos.io/v1alpha1", "Package") => 10,
        ("dromos.io/v1alpha1", "App") => 11,
        ("dromos.io/v1alpha1", "Job") => 12,
        (_, "PodTemplate") => 13,
        (_, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => 14,
        (_, "Job" | "CronJob") => 15,
        (_, "PodDisruptionBudget" | "HorizontalPodAutoscaler") => 16,
        (_, "Ingress") => 17,
        _ => 12,
    }
}

fn sort_key(v: &Value) -> (u8, String, String, String) {
    let av = v["apiVersion"].as_str().unwrap_or("");
    let kind = v["kind"].as_str().unwrap_or("");
    (
        kind_rank(av, kind),
        kind.to_string(),
        v["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
        v["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

/// Expands one manifest. Non-Dromos objects expand to nothing.
pub fn expand(m: &Manifest, opts: &RenderOptions) -> Expansion {
    match &m.typed {
        Typed::App(app) => render_app(m, app, opts),
        Typed::Job(job) => render_job(m, job, opts),
        Typed::Package(p) => {
            let ns = m.namespace.as_deref().unwrap_or("default");
            // Failures are reported by `package_diagnostics`, which runs the same expansion.
            match opts
                .packages
                .get(&package::repo_ref(&p.spec))
                .map(|r| package::expand_complete(&p.spec, ns, &m.name, r))
            {
                Some(Ok((objects, warnings))) => {
                    Expansion { objects, warnings: warnings.into_iter().map(|w| ("spec".to_string(), w)).collect() }
                }
                _ => Expansion::default(),
            }
        }
        _ => Expansion::default(),
    }
}

/// Errors of the Package objects of a tree: repository not given, package or version not
/// found, options refused by the schema (one diagnostic per option, at `spec.options.<path>`),
/// templates that fail.
pub fn package_diagnostics(manifests: &[Manifest], opts: &RenderOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        let Typed::Package(p) = &m.typed else { continue };
        let ns = m.namespace.as_deref().unwrap_or("default");
        let rref = package::repo_ref(&p.spec);
        let Some(repo) = opts.packages.get(&rref) else {
            out.push(
                m.error("package-repository", "spec.repository", format!("package repository {rref} is not available here"))
                    .with_hint("`dromos render` reads the built-in catalog and `repository.path` directories of this tree; the operator reads GitSource repositories"),
            );
            continue;
        };
        match package::expand_package(&p.spec, ns, &m.name, repo) {
            Ok(_) => {}
            Err(package::ExpandError::Render(package::RenderError::Options(errs))) => {
                for e in errs {
                    let field = if e.path == "(options)" {
                        "spec.options".to_string()
                    } else {
                        format!("spec.options.{}", e.path)
                    };
                    let message = if e.schema_path.is_empty() {
                        e.message
                    } else {
                        format!("{} (schema rule `{}`)", e.message, e.rule)
                    };
                    out.push(m.error("invalid-package-option", &field, message));
                }
            }
            Err(e @ package::ExpandError::NotFound(_)) => {
                let field = if p.spec.version.is_some() { "spec.version" } else { "spec.name" };
                out.push(m.error("package-not-found", field, e.to_string()));
            }
            Err(e) => out.push(m.error("package-render", "spec", e.to_string())),
        }
    }
    out
}

/// Renders every manifest and its expansion, sorted in apply order.
pub fn render_manifests(manifests: &[Manifest], opts: &RenderOptions) -> Rendered {
    render_with(manifests, opts, |_| true)
}

fn render_with(manifests: &[Manifest], opts: &RenderOptions, expand_it: impl Fn(&Manifest) -> bool) -> Rendered {
    let mut out = Rendered::default();
    for m in manifests {
        out.objects.push(m.value.clone());
        if !expand_it(m) {
            continue;
        }
        let exp = expand(m, opts);
        for (path, msg) in exp.warnings {
            out.warnings.push(m.warning("approximation", &path, msg));
        }
        out.objects.extend(exp.objects);
    }
    out.objects.sort_by_cached_key(sort_key);
    out
}

/// Dromos kinds whose expansion an in-cluster operator owns. Sync applies these objects
/// themselves and leaves their native objects to the operator; `dromos render` still shows the
/// expansion, computed by the same functions the operator calls.
pub const OPERATED_KINDS: &[&str] = &["App", "Job", "Package"];

/// The objects a sync applies, in apply order: every manifest, plus the expansion of Dromos
/// objects no operator owns.
pub fn sync_objects(manifests: &[Manifest], opts: &RenderOptions) -> Rendered {
    render_with(manifests, opts, |m| !(m.group() == "dromos.io" && OPERATED_KINDS.contains(&m.kind.as_str())))
}

/// [`sync_objects`], moving each document out of `manifests` instead of copying it: a tree of
/// 100,000 documents is otherwise held twice at the peak of a sync. CustomResourceDefinitions
/// keep theirs (the SourcePolicy check reads their scope); the others are left `null`.
pub fn take_sync_objects(manifests: &mut [Manifest], opts: &RenderOptions) -> Rendered {
    let mut out = Rendered::default();
    for m in manifests.iter_mut() {
        let exp = if m.group() == "dromos.io" && OPERATED_KINDS.contains(&m.kind.as_str()) {
            Expansion::default()
        } else {
            expand(m, opts)
        };
        for (path, msg) in exp.warnings {
            out.warnings.push(m.warning("approximation", &path, msg));
        }
        let value = if m.kind == "CustomResourceDefinition" { m.value.clone() } else { std::mem::take(&mut m.value) };
        out.objects.push(value);
        out.objects.extend(exp.objects);
    }
    out.objects.sort_by_cached_key(sort_key);
    out
}

/// Output formats of [`render_serialized`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A `---` separated YAML stream.
    Yaml,
    /// A Kubernetes `List` in JSON.
    Json,
}

/// Serialised output of [`render_serialized`]: the text is the concatenation of `chunks`.
#[derive(Clone, Debug, Default)]
pub struct RenderedText {
    /// Pieces of the output in order; write them one after the other.
    pub chunks: Vec<String>,
    /// Approximations and other warnings.
    pub warnings: Vec<Diagnostic>,
    /// Number of objects.
    pub objects: usize,
}

impl RenderedText {
    /// The whole text (tests; the CLI writes the chunks instead).
    pub fn text(&self) -> String {
        self.chunks.concat()
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(String::len).sum()
    }

    /// True when there is no output.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renders and serialises every object straight away, so a large tree never holds all
/// expanded objects as JSON values at once, only their text, sorted in apply order.
/// `threads` workers share the manifests.
pub fn render_serialized(manifests: &[Manifest], opts: &RenderOptions, format: Format, threads: usize) -> RenderedText {
    type Chunk = (Vec<((u8, String, String, String), String)>, Vec<Diagnostic>);
    let work = |part: &[Manifest]| -> Chunk {
        let mut texts = Vec::new();
        let mut warnings = Vec::new();
        let mut emit = |v: &Value| {
            let text = match format {
                Format::Yaml => format!("---\n{}", serde_saphyr::to_string(v).expect("JSON values serialise to YAML")),
                Format::Json => {
                    let body = serde_json::to_string_pretty(v).expect("JSON values serialise");
                    let mut indented = String::with_capacity(body.len() + body.len() / 8);
                    for (j, line) in body.lines().enumerate() {
                        if j > 0 {
                            indented.push('\n');
                        }
                        indented.push_str("    ");
                        indented.push_str(line);
                    }
                    indented
                }
            };
            texts.push((sort_key(v), text));
        };
        for m in part {
            emit(&m.value);
            let exp = expand(m, opts);
            for (path, msg) in exp.warnings {
                warnings.push(m.warning("approximation", &path, msg));
            }
            exp.objects.iter().for_each(&mut emit);
        }
        (texts, warnings)
    };
    let threads = threads.clamp(1, 64).min(manifests.len().max(1));
    let parts: Vec<Chunk> = if threads == 1 {
        vec![work(manifests)]
    } else {
        let size = manifests.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = manifests.chunks(size).map(|part| scope.spawn(move || work(part))).collect();
            handles.into_iter().map(|h| h.join().expect("render thread panicked")).collect()
        })
    };
    let mut texts = Vec::new();
    let mut out = RenderedText::default();
    for (t, w) in parts {
        texts.extend(t);
        out.warnings.extend(w);
    }
    // Stable sort on the same key as render_manifests, so both orders agree.
    texts.sort_by(|a, b| a.0.cmp(&b.0));
    out.objects = texts.len();
    let n = texts.len();
    match format {
        Format::Yaml => out.chunks = texts.into_iter().map(|(_, t)| t).collect(),
        Format::Json => {
            out.chunks.reserve(n * 2 + 2);
            out.chunks.push("{\n  \"apiVersion\": \"v1\",\n  \"items\": [".to_string());
            for (i, (_, t)) in texts.into_iter().enumerate() {
                out.chunks.push(if i == 0 { "\n".into() } else { ",\n".into() });
                out.chunks.push(t);
            }
            out.chunks.push("\n  ],\n  \"kind\": \"List\"\n}\n".to_string());
        }
    }
    out
}

/// Serialises objects as a multi-document YAML stream.
pub fn to_yaml_stream(objects: &[Value]) -> String {
    let mut s = String::new();
    for o in objects {
        s.push_str("---\n");
        s.push_str(&serde_saphyr::to_string(o).expect("JSON values serialise to YAML"));
    }
    s
}

/// Serialises objects as a Kubernetes `List`.
pub fn to_json_list(objects: &[Value]) -> String {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
    serde_json::to_string_pretty(&list).expect("JSON values serialise") + "\n"
}

#[cfg(test)]
mod tests {
    use crate::package::files_under;
    use crate::package::tests::{dromos_repo, file};
    use serde_json::json;

    #[test]
    fn package_directories_beside_manifests_are_not_loaded_as_manifests() {
        let mut files = dromos_repo();
        files.retain(|f| !f.path.starts_with("broken"));
        for f in &mut files {
            f.path = format!("pkgs/{}", f.path);
        }
        files.push(file("pkgs/echo/1.2.0/values.yaml", "not: a manifest\n"));
        files.push(file(
            "apps/echo.yaml",
            "apiVersion: dromos.io/v1alpha1\nkind: Package\nmetadata: {name: e, namespace: t}\nspec:\n  name: echo\n  version: 1.2.0\n  repository: {path: pkgs}\n  options: {replicas: 0}\n",
        ));
        let tree = crate::check_tree(&files, &crate::LoadOptions::default());
        assert!(tree.is_valid(), "{:?}", tree.diagnostics);
        assert_eq!(tree.manifests.len(), 1);
        // The same expansion `dromos render` uses: the option error points into the manifest.
        let repo = crate::package::read_repository(&files_under(&files, "pkgs"));
        let mut opts = crate::RenderOptions::default();
        opts.packages
            .others
            .insert(crate::package::RepoRef::Path { git_source: None, path: "pkgs".into() }, std::sync::Arc::new(repo));
        let diags = super::package_diagnostics(&tree.manifests, &opts);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!((diags[0].code, diags[0].field.as_str()), ("invalid-package-option", "spec.options.replicas"));
        assert_eq!(diags[0].line, 8);
        assert!(diags[0].message.contains("minimum"), "{}", diags[0].message);
        // Without the repository the error says where packages are read from.
        let none = super::package_diagnostics(&tree.manifests, &crate::RenderOptions::default());
        assert_eq!(none[0].code, "package-repository");
        // Valid options expand in `render_manifests`.
        let mut ok = tree.manifests.clone();
        ok[0].value["spec"]["options"]["replicas"] = json!(2);
        if let crate::Typed::Package(p) = &mut ok[0].typed {
            p.spec.options = Some(json!({"replicas": 2}));
        }
        let rendered = super::render_manifests(&ok, &opts);
        let kinds: Vec<_> = rendered.objects.iter().map(|o| o["kind"].as_str().unwrap().to_string()).collect();
        assert_eq!(kinds, vec!["ClusterRole", "Package", "Deployment"]);
    }
}

//! Rendering a package version for one installed instance, and expanding a Package object
//! (pure).

use super::{Layout, OptionError, PackageVersion, RepoRef, Repository, mustache, options, repo_ref, scalars};
use crate::import::{self, Flavor, ImportOptions, Input};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Why a package did not render.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Options refused by the schema.
    #[error("invalid options:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Options(Vec<OptionError>),
    /// A template that does not parse, or output that is not what the layout requires.
    #[error("{file}: {message}")]
    Template {
        /// Template file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// A rendered package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderedPackage {
    /// Options after defaults.
    pub options: Value,
    /// Objects (Dromos or Kubernetes manifests), in template order.
    pub objects: Vec<Value>,
    /// What the Marathon conversion did not carry over (Universe layout).
    pub warnings: Vec<String>,
    /// The service specification, for a version that has one (`service.yaml.mustache`).
    pub service: Option<crate::service::ServiceSpec>,
}

/// Labels and annotations standing for Cosmos' `DCOS_PACKAGE_*` labels.
pub const LABEL_PACKAGE: &str = "dromos.io/package";
/// Annotation: package version (`DCOS_PACKAGE_VERSION`).
pub const ANN_VERSION: &str = "dromos.io/package-version";
/// Annotation: repository and package directory (`DCOS_PACKAGE_SOURCE`).
pub const ANN_SOURCE: &str = "dromos.io/package-source";
/// Annotation: the user's options as base64 JSON (`DCOS_PACKAGE_OPTIONS`).
pub const ANN_OPTIONS: &str = "dromos.io/package-options";

/// Label naming the Package object (instance) a rendered object belongs to.
pub const LABEL_INSTANCE: &str = "dromos.io/package-instance";

/// The installed instance a package is rendered for.
#[derive(Clone, Copy, Debug)]
pub struct Instance<'a> {
    /// Namespace of the Package, and of rendered objects that name none.
    pub namespace: &'a str,
    /// Name of the Package object; Dromos-layout templates read it as `{{instance.name}}`.
    pub name: &'a str,
    /// Names the repository in the source annotation.
    pub source: &'a str,
}

/// Renders a package version with the user's options for one instance.
pub fn render(pkg: &PackageVersion, user: &Value, inst: &Instance) -> Result<RenderedPackage, RenderError> {
    let namespace = inst.namespace;
    let draft = match pkg.layout {
        Layout::Universe => options::DefaultDraft::Draft4,
        Layout::Dromos => options::DefaultDraft::Latest,
    };
    let user = if user.is_null() { Value::Object(Map::new()) } else { user.clone() };
    let resolved = if pkg.schema.is_null() {
        user.clone()
    } else {
        options::resolve(&pkg.schema, &user, draft).map_err(RenderError::Options)?
    };
    let mut context = match &resolved {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    context.insert("resource".into(), pkg.resource.clone());
    if pkg.layout == Layout::Dromos {
        context.insert(
            "instance".into(),
            json!({"name": inst.name, "namespace": inst.namespace, "version": pkg.meta.version}),
        );
    }
    let context = Value::Object(context);
    let mut out = RenderedPackage { options: resolved, ..Default::default() };
    let mut texts = Vec::with_capacity(pkg.templates.len());
    let mut option_errors = Vec::new();
    for (file, src) in &pkg.templates {
        let path = format!("{}/{file}", pkg.dir);
        let tpl_err = |message: String| RenderError::Template { file: path.clone(), message };
        let tpl = mustache::Template::parse(src).map_err(|e| tpl_err(e.to_string()))?;
        match scalars::render_checked(&tpl, &context, pkg.layout, &path) {
            Ok(text) => texts.push((file, text)),
            Err(scalars::CheckError::Options(errs)) => option_errors.extend(errs),
            Err(scalars::CheckError::Template(message)) => return Err(tpl_err(message)),
        }
    }
    if !option_errors.is_empty() {
        return Err(RenderError::Options(option_errors));
    }
    for (file, text) in texts {
        let tpl_err = |message: String| RenderError::Template { file: format!("{}/{file}", pkg.dir), message };
        match pkg.layout {
            Layout::Universe => {
                let app: Value =
                    serde_json::from_str(&text).map_err(|e| tpl_err(format!("rendered text is not JSON: {e}")))?;
                if !app.is_object() {
                    return Err(tpl_err("rendered JSON must be one object (a Marathon app)".into()));
                }
                let input = Input { name: format!("{}/{file}", pkg.dir), text };
                let imported =
                    import::import(Flavor::Marathon, &[input], &ImportOptions { default_namespace: namespace.into() })
                        .map_err(|errs| {
                            tpl_err(
                                errs.iter()
                                    .map(|e| format!("{}: {}", e.path, e.message))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            )
                        })?;
                out.warnings
                    .extend(imported.report.entries.iter().map(|e| format!("{}: {}: {}", e.object, e.path, e.why)));
                out.objects.extend(imported.objects.into_iter().map(|o| o.value));
            }
            Layout::Dromos if file == super::SERVICE_FILE => {
                let path = format!("{}/{file}", pkg.dir);
                let spec = crate::service::parse(&path, &text).map_err(|diags| {
                    tpl_err(
                        diags
                            .iter()
                            .map(|d| match d.field.as_str() {
                                "" => format!("line {}: {}", d.line, d.message),
                                f => format!("line {}: {f}: {}", d.line, d.message),
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?;
                // What the native rendering of a pod type's placement only approximates.
                for (pod, p) in &spec.pods {
                    let list: Vec<_> =
                        crate::constraints::parse_constraints(&p.placement).ok.into_iter().map(|(_, c)| c).collect();
                    let native = crate::constraints::render_native(&list, &BTreeMap::new());
                    out.warnings
                        .extend(native.warnings.into_iter().map(|(_, w)| format!("{path}: pods.{pod}.placement: {w}")));
                }
                out.service = Some(spec);
            }
            Layout::Dromos => {
                let docs = crate::yaml::parse_documents(&text, crate::yaml::Budget::default())
                    .map_err(|e| tpl_err(format!("rendered text is not YAML: {} at {:?}", e.message, e.pos)))?;
                // Every document is an object: a mapping, its `metadata` (when given) one too (the
                // operator writes into both).
                if let Some(d) = docs
                    .iter()
                    .find(|d| !d.value.is_object() || d.value.get("metadata").is_some_and(|m| !m.is_object()))
                {
                    let what =
                        if d.value.is_object() { "its `metadata` is not a mapping" } else { "it is not a mapping" };
                    return Err(tpl_err(format!("the document at line {} is not an object: {what}", d.pos.line)));
                }
                out.objects.extend(docs.into_iter().map(|d| d.value).filter(|v| !v.is_null()));
            }
        }
    }
    label_objects(&mut out.objects, pkg, &user, inst);
    Ok(out)
}

/// The StatefulSets and Services of a rendered service specification with `replicas` per pod
/// type (what the plans decided), labelled and annotated like every object of the render.
pub fn service_objects(
    pkg: &PackageVersion,
    spec: &crate::service::ServiceSpec,
    replicas: &BTreeMap<String, u32>,
    user: &Value,
    inst: &Instance,
) -> Vec<Value> {
    let owner = service_owner(pkg, inst);
    let mut objects: Vec<Value> = spec
        .pods
        .keys()
        .flat_map(|p| crate::service::render::objects(spec, p, replicas.get(p).copied().unwrap_or(0), &owner))
        .collect();
    label_objects(&mut objects, pkg, user, inst);
    objects
}

/// Every object of a render as it is once the plans have run: the templates' objects and, for
/// a service, its pod types at their full counts (what `dromos package render` and
/// `dromos render` show; the operator creates them step by step).
pub fn complete_objects(pkg: &PackageVersion, rendered: RenderedPackage, user: &Value, inst: &Instance) -> Vec<Value> {
    let mut objects = rendered.objects;
    if let Some(spec) = &rendered.service {
        let counts: BTreeMap<String, u32> = spec.pods.iter().map(|(n, p)| (n.clone(), p.count)).collect();
        objects.extend(service_objects(pkg, spec, &counts, user, inst));
    }
    objects
}

/// The revision of every pod type of a service (the plans' targets).
pub fn service_revisions(
    pkg: &PackageVersion,
    spec: &crate::service::ServiceSpec,
    inst: &Instance,
) -> BTreeMap<String, String> {
    crate::service::render::revisions(spec, &service_owner(pkg, inst))
}

fn service_owner<'a>(pkg: &PackageVersion, inst: &Instance<'a>) -> crate::service::render::Owner<'a> {
    crate::service::render::Owner {
        namespace: inst.namespace,
        instance: inst.name,
        labels: BTreeMap::from([
            (LABEL_PACKAGE.to_string(), pkg.meta.name.clone()),
            (LABEL_INSTANCE.to_string(), inst.name.to_string()),
        ]),
    }
}

/// Stamps what Cosmos' `DCOS_PACKAGE_*` labels said on every rendered object, and puts
/// namespaced objects without a namespace into the instance's.
fn label_objects(objects: &mut [Value], pkg: &PackageVersion, user: &Value, inst: &Instance) {
    let (namespace, source) = (inst.namespace, inst.source);
    let encoded = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(user).unwrap_or_default());
    for o in objects {
        if !o.is_object() {
            continue;
        }
        let api = o["apiVersion"].as_str().unwrap_or_default().to_string();
        let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_string();
        let cluster = crate::load::is_cluster_scoped(&group, o["kind"].as_str().unwrap_or_default());
        let md = o.as_object_mut().map(|m| m.entry("metadata").or_insert_with(|| json!({}))).filter(|m| m.is_object());
        let Some(md) = md else { continue };
        if md.get("namespace").is_none() && !cluster {
            md["namespace"] = json!(namespace);
        }
        if !md.get("labels").is_some_and(Value::is_object) {
            md["labels"] = json!({});
        }
        md["labels"][LABEL_PACKAGE] = json!(pkg.meta.name);
        md["labels"][LABEL_INSTANCE] = json!(inst.name);
        if !md.get("annotations").is_some_and(Value::is_object) {
            md["annotations"] = json!({});
        }
        md["annotations"][ANN_VERSION] = json!(pkg.meta.version);
        md["annotations"][ANN_SOURCE] = json!(format!("{source}#{}", pkg.dir));
        md["annotations"][ANN_OPTIONS] = json!(encoded);
    }
}

/// Why a Package could not be expanded: the status reason and the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The repository is not available.
    #[error("package repository {0} is not available")]
    NoRepository(RepoRef),
    /// No such package or version.
    #[error("{0}")]
    NotFound(String),
    /// Options refused or a template that fails.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl ExpandError {
    /// Stable reason (condition reason, Event reason).
    pub fn reason(&self) -> &'static str {
        match self {
            ExpandError::NoRepository(_) => "RepositoryUnavailable",
            ExpandError::NotFound(_) => "PackageNotFound",
            ExpandError::Render(RenderError::Options(_)) => "InvalidOptions",
            ExpandError::Render(RenderError::Template { .. }) => "TemplateFailed",
        }
    }
}

/// Expands one Package object: finds its version in `repo` (the newest when the spec names
/// none) and renders it with its options. The operator and `dromos render` both call this.
pub fn expand_package<'r>(
    spec: &dromos_crds::package::PackageSpec,
    namespace: &str,
    name: &str,
    repo: &'r Repository,
) -> Result<(&'r PackageVersion, RenderedPackage), ExpandError> {
    let pkg = repo.find(&spec.name, spec.version.as_deref()).map_err(ExpandError::NotFound)?;
    let source = repo_ref(spec).to_string();
    let user = spec.options.clone().unwrap_or(Value::Null);
    let out = render(pkg, &user, &Instance { namespace, name, source: &source })?;
    Ok((pkg, out))
}

/// [`expand_package`] with [`complete_objects`]: what a Package renders once its plans ran.
pub fn expand_complete(
    spec: &dromos_crds::package::PackageSpec,
    namespace: &str,
    name: &str,
    repo: &Repository,
) -> Result<(Vec<Value>, Vec<String>), ExpandError> {
    let (pkg, out) = expand_package(spec, namespace, name, repo)?;
    let source = repo_ref(spec).to_string();
    let user = spec.options.clone().unwrap_or(Value::Null);
    let warnings = out.warnings.clone();
    Ok((complete_objects(pkg, out, &user, &Instance { namespace, name, source: &source }), warnings))
}

/// The `dromos.io/source` label value of objects a Package renders: `pkg_<ns>.<name>`
/// (`_` never occurs in a namespace, so it cannot be mistaken for a GitSource's
/// `<ns>.<name>`); long values are shortened with a hash to fit the 63-character limit.
pub fn source_label(namespace: &str, name: &str) -> String {
    let full = format!("pkg_{namespace}.{name}");
    if full.len() <= 63 {
        return full;
    }
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(full.as_bytes());
    let hex: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &full[..50]).trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

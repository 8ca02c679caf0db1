//! Tenancy decisions (pure): whose identity a source acts with, and what the SourcePolicies
//! that select it allow.
//!
//! A source (a GitSource, or a Package) acts as a ServiceAccount of its own namespace
//! ([`identity`]); every SourcePolicy whose `sourceNamespaces` match the source's namespace
//! applies to it, and an object, repository or ServiceAccount is allowed only when every one
//! of them allows it ([`Policies`]). The shell resolves whether a kind is cluster-scoped
//! (discovery) and passes the answer in.

use crate::Tree;
use crate::diag::Diagnostic;
use crate::load::Typed;
use dromos_crds::SourcePolicySpec;

/// Diagnostic code (and status reason) of a policy violation.
pub const POLICY_VIOLATION: &str = "PolicyViolation";
/// Status reason of a source refused for want of a ServiceAccount.
pub const SERVICE_ACCOUNT_REQUIRED: &str = "ServiceAccountRequired";

/// The controller's identity settings (`--default-service-account`,
/// `--require-service-account`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentityRules {
    /// ServiceAccount used by sources that name none.
    pub default_service_account: Option<String>,
    /// A source with no ServiceAccount (named or default) applies nothing.
    pub require_service_account: bool,
}

/// Who a source's requests run as.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// The controller's own identity (no ServiceAccount named, none required).
    Controller,
    /// A ServiceAccount of the source's namespace, impersonated.
    ServiceAccount {
        /// Its namespace (always the source's).
        namespace: String,
        /// Its name.
        name: String,
    },
}

impl Identity {
    /// The user name the API server knows it by, for `Impersonate-User` (`None`: the
    /// controller itself).
    pub fn user(&self) -> Option<String> {
        match self {
            Identity::Controller => None,
            Identity::ServiceAccount { namespace, name } => Some(format!("system:serviceaccount:{namespace}:{name}")),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Controller => f.write_str("the controller's identity"),
            Identity::ServiceAccount { namespace, name } => write!(f, "ServiceAccount {namespace}/{name}"),
        }
    }
}

/// The identity of a source in `namespace` naming `named` (its `serviceAccountName`), or why
/// it may not act at all.
pub fn identity(rules: &IdentityRules, namespace: &str, named: Option<&str>) -> Result<Identity, String> {
    let chosen = named.filter(|n| !n.is_empty()).or(rules.default_service_account.as_deref().filter(|n| !n.is_empty()));
    match chosen {
        Some(name) => {
            crate::ids::check_dns_subdomain(name).map_err(|e| format!("serviceAccountName `{name}`: {e}"))?;
            Ok(Identity::ServiceAccount { namespace: namespace.to_string(), name: name.to_string() })
        }
        None if rules.require_service_account => {
            Err("the controller requires a ServiceAccount (--require-service-account) and this source names none \
             in spec.serviceAccountName; nothing is applied"
                .into())
        }
        None => Ok(Identity::Controller),
    }
}

/// The field manager earlier versions wrote every source's objects as; a sync hands its fields
/// over to the source's own manager ([`hand_over_fields`]).
pub const LEGACY_FIELD_MANAGER: &str = "dromos";

/// The field manager of a source's writes: one per source, so two sources writing the same
/// field conflict instead of taking it from each other.
pub fn field_manager(source_id: &str) -> String {
    // Field managers are at most 128 characters.
    let mut m = format!("dromos/{source_id}");
    if m.len() > 128 {
        let mut cut = 128;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
    }
    m
}

/// The annotation a manifest carries to take over an object that exists and that no Dromos
/// source created.
pub const ADOPT_ANNOTATION: &str = "dromos.io/adopt";

/// Whether a source may write `desired` over an object that exists but is not in its
/// inventory, given the live object's labels: `Err((reason, message))` when it may not.
/// Another source's object is never taken; an object nobody labelled only with the
/// manifest's `dromos.io/adopt: "true"`.
pub fn adoption(
    source: &str,
    desired: &serde_json::Value,
    live_labels: &serde_json::Value,
) -> Result<(), (&'static str, String)> {
    let owner = live_labels[crate::plan::SOURCE_LABEL].as_str().filter(|o| !o.is_empty());
    match owner {
        Some(o) if o == source => Ok(()),
        Some(o) => Err((
            "OwnedByAnotherSource",
            format!("exists and belongs to source {o} (label {}); remove it there first", crate::plan::SOURCE_LABEL),
        )),
        None if desired["metadata"]["annotations"][ADOPT_ANNOTATION] == "true" => Ok(()),
        None => Err((
            "AdoptionRefused",
            format!(
                "exists and was not created by this source; to take it over (and prune it when its file \
                 goes), annotate the manifest {ADOPT_ANNOTATION}: \"true\""
            ),
        )),
    }
}

/// `managedFields` with every server-side-apply entry of the manager `legacy` handed to
/// `manager` (renamed, or merged into `manager`'s entry of the same apiVersion), or `None`
/// when `legacy` has none. The fields stay owned, by the new manager: a field later removed
/// from Git is then removed from the object, which a stale owner would prevent.
pub fn hand_over_fields(managed_fields: &serde_json::Value, legacy: &str, manager: &str) -> Option<serde_json::Value> {
    let entries = managed_fields.as_array()?;
    let is_apply = |e: &serde_json::Value, m: &str| e["manager"] == m && e["operation"] == "Apply";
    if !entries.iter().any(|e| is_apply(e, legacy)) {
        return None;
    }
    let mut out: Vec<serde_json::Value> = entries.iter().filter(|e| !is_apply(e, legacy)).cloned().collect();
    for old in entries.iter().filter(|e| is_apply(e, legacy)) {
        match out.iter_mut().find(|e| is_apply(e, manager) && e["apiVersion"] == old["apiVersion"]) {
            Some(e) => merge_fields(&mut e["fieldsV1"], &old["fieldsV1"]),
            None => {
                let mut renamed = old.clone();
                renamed["manager"] = manager.into();
                out.push(renamed);
            }
        }
    }
    Some(serde_json::Value::Array(out))
}

/// The union of two `fieldsV1` sets (nested objects of `f:`/`k:`/`v:` keys).
fn merge_fields(into: &mut serde_json::Value, from: &serde_json::Value) {
    if into.is_null() {
        *into = from.clone();
        return;
    }
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            merge_fields(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
        }
    }
}

/// True when `pattern` (where `*` matches any run of characters, possibly empty) matches
/// the whole of `s`.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A kind pattern (`Kind`, `group/Kind`, `*`, `group/*`, `*/Kind`) against a group and kind.
fn kind_matches(pattern: &str, group: &str, kind: &str) -> bool {
    match pattern.rsplit_once('/') {
        Some((g, k)) => glob(g, group) && glob(k, kind),
        None if pattern == "*" => true,
        None => group.is_empty() && glob(pattern, kind),
    }
}

/// One rule broken: which policy, which rule, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The SourcePolicy's name.
    pub policy: String,
    /// The rule (the policy's field), e.g. `targetNamespaces`.
    pub rule: &'static str,
    /// What was refused.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SourcePolicy {}, rule {})", self.message, self.policy, self.rule)
    }
}

/// The SourcePolicies that select one source's namespace.
#[derive(Clone, Debug)]
pub struct Policies<'a> {
    namespace: String,
    selected: Vec<(&'a str, &'a SourcePolicySpec)>,
}

impl<'a> Policies<'a> {
    /// The policies among `all` (name, spec) whose `sourceNamespaces` match `namespace`.
    pub fn select(all: &'a [(String, SourcePolicySpec)], namespace: &str) -> Self {
        let selected = all
            .iter()
            .filter(|(_, p)| p.source_namespaces.iter().any(|pat| glob(pat, namespace)))
            .map(|(n, p)| (n.as_str(), p))
            .collect();
        Policies { namespace: namespace.to_string(), selected }
    }

    /// Names of the selected policies.
    pub fn names(&self) -> Vec<&str> {
        self.selected.iter().map(|(n, _)| *n).collect()
    }

    /// The first policy whose rule `rule` refuses; `allows(spec)` is `None` when the policy
    /// does not set the rule (no restriction), else whether it allows.
    fn first_refusal(
        &self,
        rule: &'static str,
        allows: impl Fn(&SourcePolicySpec) -> Option<bool>,
        message: impl FnOnce() -> String,
    ) -> Result<(), Violation> {
        match self.selected.iter().find(|(_, p)| allows(p) == Some(false)) {
            Some((name, _)) => Err(Violation { policy: name.to_string(), rule, message: message() }),
            None => Ok(()),
        }
    }

    /// A GitSource's repository URL (compared without credentials).
    pub fn check_repository(&self, url: &str) -> Result<(), Violation> {
        let url = crate::giturl::redact_url(url);
        let bare = strip_userinfo(&url);
        // Patterns match text: a path that is not in normal form could match one prefix and
        // name another repository (`team-a/../team-b`), so it matches nothing.
        let normal = !bare.contains("/../") && !bare.ends_with("/..") && !bare.contains("/./") && !bare.contains('\\');
        self.first_refusal(
            "repositories",
            |p| p.repositories.as_ref().map(|r| normal && r.iter().any(|pat| glob(pat, &bare))),
            || format!("repository {bare} is not among the allowed repositories"),
        )
    }

    /// A Package's repository, as `builtin` or `gitsource/NAME`.
    pub fn check_package_repository(&self, repository: &str) -> Result<(), Violation> {
        self.first_refusal(
            "packageRepositories",
            |p| p.package_repositories.as_ref().map(|r| r.iter().any(|pat| glob(pat, repository))),
            || format!("package repository {repository} is not among the allowed package repositories"),
        )
    }

    /// The ServiceAccount a source names.
    pub fn check_service_account(&self, name: &str) -> Result<(), Violation> {
        self.first_refusal(
            "serviceAccounts",
            |p| p.service_accounts.as_ref().map(|r| r.iter().any(|pat| glob(pat, name))),
            || format!("ServiceAccount {name} is not among the ServiceAccounts sources may use"),
        )
    }

    /// An object of `group`/`kind` in `namespace` (`None`: cluster-scoped).
    pub fn check_object(&self, group: &str, kind: &str, namespace: Option<&str>) -> Result<(), Violation> {
        let shown = if group.is_empty() { kind.to_string() } else { format!("{group}/{kind}") };
        self.first_refusal(
            "deniedKinds",
            |p| p.denied_kinds.as_ref().map(|d| !d.iter().any(|pat| kind_matches(pat, group, kind))),
            || format!("kind {shown} is denied"),
        )?;
        match namespace {
            None => self.first_refusal(
                "clusterScopedKinds",
                |p| Some(p.cluster_scoped_kinds.iter().flatten().any(|pat| kind_matches(pat, group, kind))),
                || format!("cluster-scoped kind {shown} is not among the allowed cluster-scoped kinds"),
            ),
            Some(ns) => self.first_refusal(
                "targetNamespaces",
                |p| Some(self.targets_allow(p, ns)),
                || format!("namespace {ns} is not among the namespaces this source may write"),
            ),
        }
    }

    /// Every policy violation of a valid tree synced by the GitSource `source_name`, at the file and line of the object (or field)
    /// that breaks it. `cluster_scoped(group, kind)` says whether a kind is cluster-scoped;
    /// `default_namespace` is where namespaced objects that name none go.
    pub fn check_tree(
        &self,
        tree: &Tree,
        source_name: &str,
        default_namespace: &str,
        cluster_scoped: &dyn Fn(&str, &str) -> bool,
    ) -> Vec<Diagnostic> {
        if self.selected.is_empty() {
            return vec![];
        }
        let mut out = vec![];
        for m in &tree.manifests {
            let (group, kind) = (m.group(), m.kind.as_str());
            let namespace = if cluster_scoped(group, kind) {
                None
            } else {
                Some(m.namespace.as_deref().unwrap_or(default_namespace))
            };
            let mut refuse = |field: &str, v: Violation| {
                out.push(Diagnostic::error("policy-violation", &m.file, m.index.pos(field), field, v.to_string()));
            };
            if let Err(v) = self.check_object(group, kind, namespace) {
                let field = if m.index.contains("metadata.namespace") { "metadata.namespace" } else { "kind" };
                refuse(field, v);
            }
            match &m.typed {
                Typed::GitSource(gs) => {
                    if let Err(v) = self.check_repository(&gs.spec.url) {
                        refuse("spec.url", v);
                    }
                    if let Some(sa) = &gs.spec.service_account_name
                        && let Err(v) = self.check_service_account(sa)
                    {
                        refuse("spec.serviceAccountName", v);
                    }
                }
                Typed::Package(p) => {
                    if let Err(v) = self.check_package_repository(&package_repository(&p.spec, Some(source_name))) {
                        refuse("spec.repository", v);
                    }
                    if let Some(sa) = &p.spec.service_account_name
                        && let Err(v) = self.check_service_account(sa)
                    {
                        refuse("spec.serviceAccountName", v);
                    }
                }
                Typed::App(app) => {
                    let model = crate::app::Model::of_manifest(m, app);
                    for (i, dep) in model.dependencies().into_iter().enumerate() {
                        if let Ok((ns, _)) = dep
                            && let Err(v) = self.check_reference(&ns)
                        {
                            refuse(&format!("spec.dependencies[{i}]"), v);
                        }
                    }
                }
                Typed::Job(job) => {
                    let refs =
                        job.spec.parents.iter().enumerate().map(|(i, p)| (format!("spec.parents[{i}]"), p.as_str()));
                    let deps = job.spec.dependencies.iter().enumerate();
                    for (field, r) in
                        refs.chain(deps.map(|(i, d)| (format!("spec.dependencies[{i}].id"), d.id.as_str())))
                    {
                        let Ok(segs) = crate::ids::parse_job_id(r) else { continue };
                        if let Some(ns) = crate::ids::location_of(&segs).namespace
                            && let Err(v) = self.check_reference(&ns)
                        {
                            refuse(&field, v);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// A reference (an App dependency, a Job parent) into `namespace`: allowed where the
    /// source may write.
    pub fn check_reference(&self, namespace: &str) -> Result<(), Violation> {
        self.first_refusal(
            "targetNamespaces",
            |p| Some(self.targets_allow(p, namespace)),
            || format!("a reference into namespace {namespace}, where this source may not write"),
        )
    }

    /// Whether `p`'s `targetNamespaces` (default: the source's own) hold `ns`.
    fn targets_allow(&self, p: &SourcePolicySpec, ns: &str) -> bool {
        let own = ["$self".to_string()];
        let targets = p.target_namespaces.as_deref().unwrap_or(&own);
        targets.iter().any(|pat| if pat == "$self" { ns == self.namespace } else { glob(pat, ns) })
    }
}

/// A Package's repository as policies name it: `builtin` or `gitsource/NAME`. A repository
/// with a path and no GitSource is the one the Package was synced from (`synced_from`, the
/// GitSource's name; a Package applied otherwise has none and names `gitsource/`).
pub fn package_repository(spec: &dromos_crds::PackageSpec, synced_from: Option<&str>) -> String {
    match &spec.repository {
        Some(r) if r.builtin != Some(true) => match (&r.git_source, &r.path) {
            (Some(gs), _) => format!("gitsource/{gs}"),
            (None, Some(_)) => format!("gitsource/{}", synced_from.unwrap_or_default()),
            (None, None) => "builtin".into(),
        },
        _ => "builtin".into(),
    }
}

fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((auth, path)) => format!("{scheme}://{}/{path}", auth.rsplit_once('@').map(|x| x.1).unwrap_or(auth)),
            None => format!("{scheme}://{}", rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest)),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests;

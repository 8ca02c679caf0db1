//! The service specification of a package version (`service.yaml.mustache`, rendered with the
//! options first): pod types with a count, placement, volumes and tasks, and plans of phases.
//! Parsed strictly (an unknown field is an error) and validated with every problem at its line.

use crate::diag::Diagnostic;
use crate::yaml::{Budget, PathIndex, join_index, join_key, parse_documents};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Most instances of one pod type.
pub const MAX_COUNT: u32 = 1000;

/// A service: pod types and plans.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// Pod types by name.
    pub pods: BTreeMap<String, PodSpec>,
    /// Plans by name; `deploy` is required, `update` defaults to `deploy`'s shape, `recovery`
    /// and `decommission` are generated.
    pub plans: BTreeMap<String, PlanSpec>,
}

/// A pod type: `count` instances (a StatefulSet), each with its own volumes.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSpec {
    /// Instances.
    pub count: u32,
    /// Image of every task (a task may give its own).
    #[serde(default)]
    pub image: Option<String>,
    /// Marathon constraints, e.g. `[["hostname", "UNIQUE"]]`, held by the Dromos scheduler.
    #[serde(default)]
    pub placement: Vec<Vec<String>>,
    /// The role whose reserved nodes the instances run on (the SDK's pre-reserved role; Apps'
    /// `acceptedResourceRoles: [ROLE]`): only nodes labelled `dromos.io/role=ROLE`, whose
    /// `NoSchedule` taint of that role the pods tolerate.
    #[serde(default)]
    pub role: Option<String>,
    /// Node labels every instance requires (beside `placement`).
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Persistent volumes of each instance.
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    /// Group that owns the volumes (the pod's `fsGroup`), for images that run as a non-root
    /// user.
    #[serde(default)]
    pub fs_group: Option<u32>,
    /// Tasks by name.
    pub tasks: BTreeMap<String, TaskSpec>,
}

/// A persistent volume of each instance.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeSpec {
    /// Name (the claim is `<name>-<pod>-<index>`).
    pub name: String,
    /// Mount path in every task.
    pub path: String,
    /// Size, a Kubernetes quantity (`10Gi`).
    pub size: String,
    /// Storage class of the claims (the cluster's default if unset; `""` binds only volumes
    /// without a class, made by hand).
    #[serde(default)]
    pub storage_class: Option<String>,
    /// Not a claim but an `emptyDir` of at most `size`: lives and dies with the pod (tests,
    /// caches). A ONCE task's marker on it is gone with the pod, so the task runs again.
    #[serde(default)]
    pub ephemeral: bool,
}

/// What a task is for.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Goal {
    /// Runs for the life of the instance (the container).
    Running,
    /// Runs to completion each time the instance starts (an init container).
    Finished,
    /// Runs to completion once per instance and its volumes (an init container that leaves a
    /// marker on the first volume): formats, bootstraps.
    Once,
}

/// A task.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskSpec {
    /// Goal state.
    pub goal: Goal,
    /// Shell command.
    pub cmd: String,
    /// Image, else the pod type's.
    #[serde(default)]
    pub image: Option<String>,
    /// CPUs: a number (`0.5`) or a Kubernetes quantity (`500m`).
    #[serde(deserialize_with = "cpus")]
    #[schemars(with = "Amount")]
    pub cpus: f64,
    /// Memory: a number of MiB (`2048`, Marathon's unit) or a Kubernetes quantity (`2Gi`).
    #[serde(deserialize_with = "mebibytes")]
    #[schemars(with = "Amount")]
    pub memory: f64,
    /// Named ports.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// Environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// What must pass before a step launching this task is complete.
    #[serde(default)]
    pub readiness: Option<Check>,
    /// Configuration files by name, rendered with the package options like the rest of this
    /// file, and mounted read-only at their path. Part of the revision: a changed file runs
    /// the `update` plan.
    #[serde(default)]
    pub configs: BTreeMap<String, ConfigFile>,
    /// Shell command run in this task's container before its instance is removed by the
    /// `decommission` plan (Cassandra's `nodetool decommission`); the removal waits for it to
    /// exit 0.
    #[serde(default)]
    pub decommission: Option<String>,
}

/// A number, or a Kubernetes quantity as a string.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Amount {
    Number(f64),
    Quantity(String),
}

fn amount<'de, D: serde::Deserializer<'de>>(d: D, unit: f64) -> Result<f64, D::Error> {
    match Amount::deserialize(d)? {
        Amount::Number(n) => Ok(n),
        Amount::Quantity(q) => crate::plan::parse_quantity(&q).map(|v| v / unit).ok_or_else(|| {
            serde::de::Error::custom(format!("{q:?} is not a number or a quantity such as 500m or 2Gi"))
        }),
    }
}

fn cpus<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    amount(d, 1.0)
}

fn mebibytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    amount(d, 1024.0 * 1024.0)
}

/// A configuration file of a task.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Absolute path of the file in the task's container.
    pub path: String,
    /// Its content.
    pub content: String,
}

/// Largest total size of a pod type's configuration files (they live in one ConfigMap).
pub const MAX_CONFIG_BYTES: usize = 512 * 1024;

/// A readiness check: a command or an HTTP GET.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Check {
    /// Shell command that exits 0 when ready.
    #[serde(default)]
    pub cmd: Option<String>,
    /// HTTP GET answering 2xx or 3xx when ready.
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// A TCP connection that opens when ready.
    #[serde(default)]
    pub tcp: Option<TcpCheck>,
    /// Seconds between checks.
    #[serde(default = "five")]
    pub interval_seconds: u32,
    /// Seconds a check may take.
    #[serde(default = "five")]
    pub timeout_seconds: u32,
    /// Seconds before the first check.
    #[serde(default)]
    pub delay_seconds: u32,
}

fn five() -> u32 {
    5
}

/// An HTTP readiness check.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCheck {
    /// Name of one of the task's ports.
    pub port: String,
    /// Path.
    #[serde(default = "root")]
    pub path: String,
}

/// A TCP readiness check.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpCheck {
    /// Name of one of the task's ports.
    pub port: String,
}

fn root() -> String {
    "/".into()
}

/// How a plan runs its phases, or a phase its steps.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One after the other, each when the previous is complete.
    #[default]
    Serial,
    /// All at once (phases: those whose `dependsOn` are complete).
    Parallel,
    /// Steps only: the first step at the first `proceed`, the rest one by one at the second.
    SerialCanary,
    /// Steps only: the first step at the first `proceed`, the rest at once at the second.
    ParallelCanary,
}

impl Strategy {
    /// The name shown in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Serial => "serial",
            Strategy::Parallel => "parallel",
            Strategy::SerialCanary => "serial-canary",
            Strategy::ParallelCanary => "parallel-canary",
        }
    }

    /// Parses [`Strategy::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Strategy::Serial, Strategy::Parallel, Strategy::SerialCanary, Strategy::ParallelCanary]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// Canary strategies hold their first steps for `proceed`.
    pub fn is_canary(self) -> bool {
        matches!(self, Strategy::SerialCanary | Strategy::ParallelCanary)
    }

    /// Serial after the canary steps.
    pub fn is_serial(self) -> bool {
        matches!(self, Strategy::Serial | Strategy::SerialCanary)
    }
}

/// A plan.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanSpec {
    /// How phases run (serial or parallel).
    #[serde(default)]
    pub strategy: Strategy,
    /// Phases, in order.
    pub phases: Vec<PhaseSpec>,
}

/// A phase: one step per instance of a pod type.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhaseSpec {
    /// Phase name.
    pub name: String,
    /// The pod type whose instances it steps through.
    pub pod: String,
    /// How its steps run.
    #[serde(default)]
    pub strategy: Strategy,
    /// Tasks its steps launch, in order (default: the pod type's tasks, ONCE and FINISHED
    /// first).
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Phases of the same plan that must be complete before this one starts (for a parallel
    /// plan).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The instances it steps through (default: all of the pod type's, in order): a phase of
    /// seeds `[0]` before the phase of every node. Indices at or above the count are skipped.
    #[serde(default)]
    pub instances: Vec<u32>,
}

/// Plans Dromos generates; a package may not define them.
pub const GENERATED_PLANS: [&str; 2] = ["recovery", "decommission"];

/// JSON Schema (draft 2020-12) of the specification, for editors and generated clients
/// (`dromos schema service`). What the schema cannot say (references between pod types,
/// tasks and phases, constraint syntax) [`validate`] checks.
pub fn json_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(ServiceSpec)).unwrap_or_default();
    s["title"] = serde_json::json!("Dromos service specification (service.yaml.mustache, rendered)");
    s
}

/// Parses and validates the rendered specification of file `file`: the spec, or every problem
/// with its line.
pub fn parse(file: &str, text: &str) -> Result<ServiceSpec, Vec<Diagnostic>> {
    let docs = parse_documents(text, Budget::default())
        .map_err(|e| vec![Diagnostic::error(e.code, file, e.pos, "", e.message)])?;
    let [doc] = docs.as_slice() else {
        let pos = docs.get(1).map(|d| d.pos).unwrap_or_default();
        return Err(vec![Diagnostic::error("service-documents", file, pos, "", "one YAML document expected")]);
    };
    let spec: ServiceSpec = serde_path_to_error::deserialize(&doc.value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        vec![Diagnostic::error("service-field", file, doc.index.pos(&path), &path, e.into_inner().to_string())]
    })?;
    let problems = validate(&spec);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems
            .into_iter()
            .map(|(path, msg)| Diagnostic::error("service-invalid", file, pos(&doc.index, &path), &path, msg))
            .collect())
    }
}

fn pos(index: &PathIndex, path: &str) -> crate::diag::Pos {
    index.pos(path)
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Every problem of a parsed spec, as (field path, message).
pub fn validate(spec: &ServiceSpec) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut bad = |path: String, msg: String| out.push((path, msg));
    if spec.pods.is_empty() {
        bad("pods".into(), "at least one pod type is required".into());
    }
    for (name, pod) in &spec.pods {
        let at = join_key("pods", name);
        if !dns_label(name) {
            bad(at.clone(), format!("pod type {name:?}: lowercase letters, digits and '-', at most 40"));
        }
        if let Some(role) = &pod.role
            && (role.is_empty()
                || role.len() > 63
                || !role.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        {
            bad(
                join_key(&at, "role"),
                format!("{role:?}: a role name (letters, digits, -, _ and ., at most 63; not `*`)"),
            );
        }
        if pod.count > MAX_COUNT {
            bad(join_key(&at, "count"), format!("{} instances: at most {MAX_COUNT}", pod.count));
        }
        for p in crate::constraints::parse_constraints(&pod.placement).problems {
            let field = join_index(&join_key(&at, "placement"), p.index);
            bad(field, p.error.message);
        }
        let mut volumes = BTreeSet::new();
        for (i, v) in pod.volumes.iter().enumerate() {
            let vat = join_index(&join_key(&at, "volumes"), i);
            if !dns_label(&v.name) || !volumes.insert(v.name.as_str()) {
                bad(
                    join_key(&vat, "name"),
                    format!("volume {:?}: a unique name of lowercase letters, digits and '-'", v.name),
                );
            }
            if !v.path.starts_with('/') {
                bad(join_key(&vat, "path"), format!("{:?}: an absolute path", v.path));
            }
            if crate::plan::parse_quantity(&v.size).is_none() {
                bad(join_key(&vat, "size"), format!("{:?}: a quantity such as 10Gi", v.size));
            }
            if let Some(class) = &v.storage_class
                && (class.len() > 253 || class.contains('/'))
            {
                bad(join_key(&vat, "storageClass"), format!("{class:?}: a storage class name"));
            }
        }
        let config_bytes: usize = pod.tasks.values().flat_map(|t| t.configs.values()).map(|c| c.content.len()).sum();
        if config_bytes > MAX_CONFIG_BYTES {
            bad(join_key(&at, "tasks"), format!("{config_bytes} bytes of configs: at most {MAX_CONFIG_BYTES}"));
        }
        if pod.tasks.is_empty() {
            bad(join_key(&at, "tasks"), "at least one task is required".into());
        }
        if !pod.tasks.values().any(|t| t.goal == Goal::Running) {
            bad(join_key(&at, "tasks"), "one task with goal RUNNING is required (the instance's process)".into());
        }
        if pod.tasks.values().any(|t| t.goal == Goal::Once) && pod.volumes.is_empty() {
            bad(join_key(&at, "volumes"), "a ONCE task needs a volume (its marker lives there)".into());
        }
        for (tname, t) in &pod.tasks {
            let tat = join_key(&join_key(&at, "tasks"), tname);
            if !dns_label(tname) {
                bad(tat.clone(), format!("task {tname:?}: lowercase letters, digits and '-', at most 40"));
            }
            if t.image.is_none() && pod.image.is_none() {
                bad(join_key(&tat, "image"), "no image: give one here or on the pod type".into());
            }
            if !(t.cpus > 0.0 && t.cpus.is_finite()) {
                bad(join_key(&tat, "cpus"), format!("{}: more than 0", t.cpus));
            }
            if !(t.memory >= 4.0 && t.memory.is_finite()) {
                bad(join_key(&tat, "memory"), format!("{} MiB: at least 4", t.memory));
            }
            let mut paths = BTreeSet::new();
            for (cname, c) in &t.configs {
                let cfat = join_key(&join_key(&tat, "configs"), cname);
                if !dns_label(cname) {
                    bad(cfat.clone(), format!("config {cname:?}: lowercase letters, digits and '-', at most 40"));
                }
                if !c.path.starts_with('/') || c.path.ends_with('/') || c.path.contains("..") {
                    bad(join_key(&cfat, "path"), format!("{:?}: an absolute file path", c.path));
                } else if !paths.insert(c.path.as_str()) {
                    bad(join_key(&cfat, "path"), format!("{:?}: another config of this task has it", c.path));
                }
            }
            if t.decommission.is_some() && t.goal != Goal::Running {
                bad(join_key(&tat, "decommission"), "a decommission command belongs to a RUNNING task".into());
            }
            if let Some(c) = &t.readiness {
                let cat = join_key(&tat, "readiness");
                let port = match (&c.cmd, &c.http, &c.tcp) {
                    (Some(_), None, None) => None,
                    (None, Some(h), None) => Some(("http", &h.port)),
                    (None, None, Some(t)) => Some(("tcp", &t.port)),
                    _ => {
                        bad(cat.clone(), "give exactly one of cmd, http and tcp".into());
                        None
                    }
                };
                if let Some((kind, port)) = port
                    && !t.ports.contains_key(port)
                {
                    bad(join_key(&join_key(&cat, kind), "port"), format!("{port:?} is not a port of task {tname}"));
                }
                if t.goal != Goal::Running {
                    bad(cat, "a readiness check belongs to a RUNNING task".into());
                }
            }
        }
    }
    if !spec.plans.contains_key("deploy") {
        bad("plans".into(), "a `deploy` plan is required".into());
    }
    for (pname, plan) in &spec.plans {
        let at = join_key("plans", pname);
        if GENERATED_PLANS.contains(&pname.as_str()) {
            bad(at.clone(), format!("plan {pname:?} is generated by Dromos; give it another name"));
        }
        if plan.strategy.is_canary() {
            bad(join_key(&at, "strategy"), "canary strategies apply to a phase's steps".into());
        }
        if plan.phases.is_empty() {
            bad(join_key(&at, "phases"), "at least one phase is required".into());
        }
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        for (i, phase) in plan.phases.iter().enumerate() {
            let fat = join_index(&join_key(&at, "phases"), i);
            if names.iter().filter(|n| **n == phase.name).count() > 1 {
                bad(join_key(&fat, "name"), format!("phase {:?} appears more than once", phase.name));
            }
            let Some(pod) = spec.pods.get(&phase.pod) else {
                bad(join_key(&fat, "pod"), format!("no pod type {:?}", phase.pod));
                continue;
            };
            for (j, t) in phase.tasks.iter().enumerate() {
                if !pod.tasks.contains_key(t) {
                    bad(join_index(&join_key(&fat, "tasks"), j), format!("pod type {} has no task {t:?}", phase.pod));
                }
            }
            let mut seen = BTreeSet::new();
            for (j, i) in phase.instances.iter().enumerate() {
                if *i >= MAX_COUNT || !seen.insert(*i) {
                    bad(
                        join_index(&join_key(&fat, "instances"), j),
                        format!("{i}: each instance once, below {MAX_COUNT}"),
                    );
                }
            }
            for (j, d) in phase.depends_on.iter().enumerate() {
                let dat = join_index(&join_key(&fat, "dependsOn"), j);
                if !names.contains(&d.as_str()) {
                    bad(dat, format!("no phase {d:?} in plan {pname}"));
                } else if d == &phase.name {
                    bad(dat, "a phase cannot depend on itself".into());
                }
            }
        }
        if let Some(cycle) = dependency_cycle(plan) {
            bad(join_key(&at, "phases"), format!("dependsOn cycle: {}", cycle.join(" -> ")));
        }
    }
    out
}

/// A cycle of `dependsOn` in `plan`, if any.
fn dependency_cycle(plan: &PlanSpec) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> =
        plan.phases.iter().map(|p| (p.name.as_str(), p.depends_on.iter().map(String::as_str).collect())).collect();
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| *s == n) {
            let mut c: Vec<String> = stack[i..].iter().map(|s| s.to_string()).collect();
            c.push(n.to_string());
            return Some(c);
        }
        if !done.insert(n) {
            return None;
        }
        stack.push(n);
        for d in deps.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, deps, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    deps.keys().find_map(|n| visit(n, &deps, &mut vec![], &mut done))
}

/// The tasks a phase's steps launch, in order: the phase's list, else ONCE, then FINISHED, then
/// RUNNING tasks of the pod type (each group by name).
pub fn phase_tasks(spec: &ServiceSpec, phase: &PhaseSpec) -> Vec<String> {
    if !phase.tasks.is_empty() {
        return phase.tasks.clone();
    }
    let Some(pod) = spec.pods.get(&phase.pod) else { return vec![] };
    let mut out = vec![];
    for goal in [Goal::Once, Goal::Finished, Goal::Running] {
        out.extend(pod.tasks.iter().filter(|(_, t)| t.goal == goal).map(|(n, _)| n.clone()));
    }
    out
}

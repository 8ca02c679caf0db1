//! The clap definitions of the `dromos` command line: commands, flags, help text and defaults
//! (pure data; the command modules beside this one run them).

use super::output::ListFormat;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Dromos: Marathon, Metronome and Universe semantics on Kubernetes, declared in Git.
#[derive(Debug, Parser)]
#[command(name = "dromos", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The kubeconfig file of commands that talk to a cluster (default: $KUBECONFIG, then
    /// ~/.kube/config, then the in-cluster account).
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of its current one.
    #[arg(long, global = true, value_name = "NAME")]
    pub(super) context: Option<String>,
    /// Log lines as text (coloured only on a terminal, never with NO_COLOR set) or as JSON, one
    /// object per line with the fields of the enclosing spans (the object reconciled and its
    /// revision).
    #[arg(long, global = true, value_enum, default_value = "text", env = "DROMOS_LOG_FORMAT")]
    pub(super) log_format: LogFormat,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum DiagFormat {
    Text,
    Json,
    /// GitHub Actions annotations (`::error file=...,line=...::message`).
    Github,
    /// A SARIF 2.1.0 log, for code-scanning uploads.
    Sarif,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum ObjFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum ImportSystem {
    /// Marathon apps, groups (the root group too), pods and app lists.
    Marathon,
    /// Metronome jobs, with embedded schedules or schedule files.
    Metronome,
    /// Chronos jobs, scheduled and dependent.
    Chronos,
    /// Cosmos install bodies `{packageName, packageVersion, options, appId}` and Marathon apps
    /// of packages.
    Package,
}

#[derive(Debug, clap::Args)]
pub(super) struct SourceArgs {
    /// Source name: objects are labelled `dromos.io/source=local.<name>`; the inventory is the
    /// ConfigMap `dromos-inventory-<name>`. Default: the directory's name.
    #[arg(long)]
    pub(super) name: Option<String>,
    /// Namespace of the inventory ConfigMap.
    #[arg(long, default_value = "default")]
    pub(super) inventory_namespace: String,
    /// Namespace of namespaced objects that name none.
    #[arg(long, default_value = "default")]
    pub(super) default_namespace: String,
    /// Client-side limit on API requests per second (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    pub(super) qps: f64,
    /// Requests allowed at once above --qps.
    #[arg(long, default_value_t = 100)]
    pub(super) burst: u32,
    /// Take over fields owned by other field managers instead of reporting conflicts.
    #[arg(long)]
    pub(super) force: bool,
    /// Do not delete objects that left the directory.
    #[arg(long)]
    pub(super) no_prune: bool,
    /// Largest share of the inventory one sync may delete.
    #[arg(long, default_value_t = 0.5)]
    pub(super) max_delete_fraction: f64,
    /// Allow deleting more than --max-delete-fraction.
    #[arg(long)]
    pub(super) allow_mass_delete: bool,
    /// Parallel writes.
    #[arg(long, default_value_t = 32)]
    pub(super) concurrency: usize,
}

#[derive(Debug, clap::Args)]
pub(super) struct TreeArgs {
    /// A directory of manifests (walked recursively) or one file.
    pub(super) path: PathBuf,
    /// Namespace of namespaced Dromos objects that name none.
    #[arg(long, default_value = "default")]
    pub(super) default_namespace: String,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub(super) max_file_bytes: usize,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Check every manifest of a tree; exit 0 when valid, 1 when not.
    Validate {
        #[command(flatten)]
        tree: TreeArgs,
        /// Diagnostics as rustc-style text or JSON.
        #[arg(long, short, value_enum, default_value = "text")]
        output: DiagFormat,
    },
    /// Print every object a tree applies, expansions included, in apply order.
    Render {
        #[command(flatten)]
        tree: TreeArgs,
        /// Objects as a YAML stream or a JSON List.
        #[arg(long, short, value_enum, default_value = "yaml")]
        output: ObjFormat,
        /// Image for Apps and Jobs that only give `cmd`.
        #[arg(long)]
        default_image: Option<String>,
        /// Image of the init container that downloads `fetch` URIs.
        #[arg(long)]
        fetch_image: Option<String>,
    },
    /// Apply a directory to the cluster of the current kubeconfig (once, or on every save with
    /// --watch): validate, plan, server-side apply in waves, prune what left the directory.
    Sync {
        /// Directory of manifests.
        path: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        /// Keep running and sync on every change, debounced.
        #[arg(long)]
        watch: bool,
        /// Quiet period after a change before syncing, in milliseconds.
        #[arg(long, default_value_t = 500)]
        debounce_ms: u64,
    },
    /// Show what syncing a directory would change: per object create / update / delete /
    /// unchanged, diffs, prune candidates and the deletion guard. Exit 0 no changes, 2
    /// changes, 1 errors (invalid tree, guard refusal).
    Plan {
        /// Directory of manifests.
        path: PathBuf,
        #[command(flatten)]
        local: SourceArgs,
        /// Plan against this snapshot of live objects (YAML stream or List) instead of a cluster.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// text, markdown (for a pull-request comment) or json.
        #[arg(long, short, value_enum, default_value = "text")]
        output: PlanFormat,
        /// Plan against what this GitSource owns (NAMESPACE/NAME): PATH is a checkout of its
        /// repository (the source's spec.path is read inside it), checked and planned with the
        /// source's identity, SourcePolicies, prune and deletion-guard settings, as the
        /// controller would.
        #[arg(long, alias = "gitsource", value_name = "NAMESPACE/NAME", conflicts_with_all = [
            "snapshot", "name", "inventory_namespace", "default_namespace", "qps", "burst", "force",
            "no_prune", "max_delete_fraction", "allow_mass_delete", "concurrency"])]
        source: Option<String>,
        /// With --source: plan this commit of the repository holding PATH (a branch, tag or
        /// SHA) instead of the working tree.
        #[arg(long, requires = "source")]
        revision: Option<String>,
        /// With --source: the controller's --default-service-account (sources naming no
        /// serviceAccountName act as it).
        #[arg(long, value_name = "NAME", requires = "source")]
        default_service_account: Option<String>,
        /// With --source: the controller's --require-service-account.
        #[arg(long, requires = "source")]
        require_service_account: bool,
        /// Also show the native objects the Apps expand to (Deployments, StatefulSets,
        /// Services, PodDisruptionBudgets) as the App operator would apply them: against a
        /// cluster compared through a server-side dry-run, against --snapshot as rendered.
        #[arg(long)]
        rendered: bool,
        /// With --rendered: the controller's --default-image (Apps that give only `cmd`).
        #[arg(long, value_name = "IMAGE", requires = "rendered", default_value = dromos_core::translate::DEFAULT_IMAGE)]
        default_image: String,
        /// With --rendered: the controller's --fetch-image (the init container of `fetch`).
        #[arg(long, value_name = "IMAGE", requires = "rendered", default_value = dromos_core::translate::DEFAULT_FETCH_IMAGE)]
        fetch_image: String,
    },
    /// Run the controllers against the cluster of the current kubeconfig (or in-cluster config):
    /// GitSources (fetch, validate, plan, apply, prune, report), Jobs (schedules,
    /// dependencies, retries, deadlines, history), Apps and Packages.
    Controller(ControllerArgs),
    /// The web UI on this machine: serves it on a loopback address with the kubeconfig's
    /// user (every page shows what that user may read; actions run as that user), prints the
    /// sign-in link and opens it in the browser. Runs until interrupted.
    Ui {
        /// Loopback address to listen on (`127.0.0.1:0`: a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Print the link only; do not open a browser (`open` on macOS, `xdg-open` elsewhere).
        #[arg(long)]
        no_open: bool,
        /// Let the Sources page's plan and the package form's patch fetch GitSources whose
        /// repository is on this machine (`file://` URLs and plain paths), as `dromos controller
        /// --allow-local-git` lets sources do. Off by default.
        #[arg(long)]
        allow_local_git: bool,
    },
    /// Run the main job end to end on the local control plane of tests/cluster (started unless
    /// it runs; the first start builds it, about 6 minutes): install the CRDs, commit examples/ to
    /// a Git repository in a temporary directory, run the controller syncing it, print the Apps,
    /// Jobs and Packages with their health, then remove what it applied. Exit 0 when all are
    /// ready, 3 when not.
    Quickstart {
        /// Keep the controller running after printing (until Ctrl-C).
        #[arg(long)]
        keep_running: bool,
        /// Manifests to sync (default: examples/ of the repository). With --kubeconfig, the
        /// cluster of that kubeconfig is used instead of the local control plane (never
        /// started or stopped).
        #[arg(long)]
        examples: Option<PathBuf>,
        /// Longest wait for the objects to settle, in seconds.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
    /// Apps of the cluster: list them, explain, scale, kill, restart, list versions of and roll
    /// back one.
    App {
        #[command(subcommand)]
        action: AppAction,
    },
    /// Apps, Jobs and Packages of the cluster with their health, in one table.
    Status {
        /// Only this namespace (default: the context's namespace).
        #[arg(long, short, conflicts_with = "all_namespaces")]
        namespace: Option<String>,
        /// Every namespace.
        #[arg(long, short = 'A')]
        all_namespaces: bool,
        /// table, wide (adds the version and when Ready last changed), json or yaml.
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// GitSources of the cluster: list them, show one, reconcile one now, suspend or resume
    /// its syncs.
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Print a shell completion script for bash, zsh or fish to stdout
    /// (e.g. `dromos completion bash > /etc/bash_completion.d/dromos`).
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Write man pages generated from this command line (dromos.1 and one page per
    /// subcommand, dromos-app-scale.1 ...) into a directory.
    Man {
        /// Directory to write the pages into (created when missing).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Turn DC/OS definitions into Dromos manifests, one file per object at
    /// OUTDIR/<namespace>/<name>.<kind>.yaml, and report every field not carried over.
    /// Exit 0 lossless, 3 something dropped or approximated, 1 unreadable input or output that
    /// does not validate.
    Import(ImportArgs),
    /// Packages of a repository directory (default: the built-in catalog): list them, describe
    /// one, render one.
    Package {
        #[command(subcommand)]
        command: PackageCommand,
    },
    /// Dromos Jobs of the cluster: list them, start a run now, show the history, stop runs.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Service packages (a package version with a service specification): their plans, pods
    /// and endpoints, as the DC/OS SDK's service CLI had them.
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Write the CRD manifests into crds/ and charts/dromos/crds/ and the manifest reference into
    /// docs/reference/ (or check that they are up to date).
    /// JSON Schema (draft 2020-12) of a Dromos kind's manifests, or of the service
    /// specification (`service`), for editors (the YAML language server's `$schema`) and for
    /// generating typed clients; every one with --output-dir.
    Schema {
        /// App, Job, Package, GitSource, SourcePolicy, Offer, Notifier or service.
        #[arg(required_unless_present = "output_dir")]
        kind: Option<String>,
        /// Write `<kind>.schema.json` for every kind and `service.schema.json` here.
        #[arg(long, value_name = "DIR", conflicts_with = "kind")]
        output_dir: Option<PathBuf>,
    },
    Crds {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Only check that the files are up to date; exit 1 when stale.
        #[arg(long)]
        check: bool,
        /// Print the CRDs to stdout instead of writing files.
        #[arg(long, conflicts_with = "check")]
        stdout: bool,
        /// Create the Dromos CRDs in the cluster, or replace the ones there with this
        /// version's (what the chart's pre-install and pre-upgrade hook runs; Helm itself never
        /// upgrades CRDs). Writes no files.
        #[arg(long, conflicts_with_all = ["check", "stdout"])]
        apply: bool,
    },
}

/// Where a listing looks: one namespace (default: the context's) or all.
#[derive(Debug, clap::Args)]
pub(super) struct ListScope {
    /// Only this namespace (default: the context's namespace).
    #[arg(long, short, conflicts_with = "all_namespaces")]
    pub(super) namespace: Option<String>,
    /// Every namespace.
    #[arg(long, short = 'A')]
    pub(super) all_namespaces: bool,
    /// table, wide (more columns), json or yaml (the objects as the API server returns them).
    #[arg(long, short, value_enum, default_value = "table")]
    pub(super) output: ListFormat,
}

/// One named object and its namespace.
#[derive(Debug, clap::Args)]
pub(super) struct Target {
    /// Name of the object.
    pub(super) name: String,
    /// Its namespace (default: the context's namespace).
    #[arg(long, short)]
    pub(super) namespace: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(super) enum SourceCommand {
    /// GitSources with their URL, ref, applied revision, readiness and whether they are
    /// suspended.
    List {
        #[command(flatten)]
        scope: ListScope,
    },
    /// One GitSource: spec, revisions, conditions, last sync, diagnostics.
    Get {
        #[command(flatten)]
        target: Target,
        /// table (a description), wide (also the inventory), json or yaml (the object).
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Ask the controller to fetch and sync now (annotation `dromos.io/reconcile-requested-at`)
    /// and wait until it has: exit 0 when the revision is applied, 1 with the status message
    /// when the sync failed or the wait timed out.
    Reconcile {
        #[command(flatten)]
        target: Target,
        /// Longest wait for the controller, in seconds.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86400))]
        timeout: u64,
    },
    /// Stop syncing (spec.suspend: true): the last applied state stays, drift is not reverted.
    Suspend {
        #[command(flatten)]
        target: Target,
    },
    /// Sync again (spec.suspend: false), and wait for that sync as `reconcile` does.
    Resume {
        #[command(flatten)]
        target: Target,
        /// Longest wait for the controller, in seconds.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86400))]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum AppAction {
    /// Apps with their state, instances, version and readiness.
    List {
        #[command(flatten)]
        scope: ListScope,
    },
    /// Why instances are not placed: the Dromos scheduler's decline summary (offers declined
    /// per reason) and the state of every instance.
    Why {
        /// App name.
        name: String,
        /// Namespace of the App (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// table (the text), wide (also each instance's pod IP), json or yaml (the placement
        /// status and the instances).
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Set the number of instances (spec.instances). An App a source manages (label
    /// dromos.io/source: a GitSource, a sync or a Package) is refused unless --force, since its
    /// next sync reverts the change; an App annotated dromos.io/autoscaled: "true" is not.
    Scale {
        #[command(flatten)]
        target: Target,
        /// Instances wanted (0 suspends the App and keeps its definition).
        #[arg(value_parser = clap::value_parser!(i32).range(0..=100_000))]
        instances: i32,
        /// Write to an App managed by a GitSource or a sync anyway.
        #[arg(long)]
        force: bool,
    },
    /// Kill every instance (its pods are deleted and the App's workload starts new ones), or
    /// with --scale kill them and scale the App to 0, as Marathon's kill-and-scale did.
    Kill {
        #[command(flatten)]
        target: Target,
        /// Also scale the App to 0 instances, so none is started again.
        #[arg(long)]
        scale: bool,
        /// With --scale: write to an App managed by a GitSource or a sync anyway.
        #[arg(long, requires = "scale")]
        force: bool,
    },
    /// The versions of an App the operator recorded (newest first): what `rollback` can go
    /// back to.
    Versions {
        #[command(flatten)]
        target: Target,
        /// table, wide (also the image or command of each version), json or yaml.
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Put back the spec of a recorded version (default: the one before the current), keeping
    /// the current instances; it rolls out under the upgrade strategy. An App a source manages
    /// is refused unless --force.
    Rollback {
        #[command(flatten)]
        target: Target,
        /// The version to go back to (a version hash of `dromos app versions`, or a unique
        /// prefix of one).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Write to an App managed by a GitSource or a sync anyway.
        #[arg(long)]
        force: bool,
    },
    /// Replace every instance without a spec change (like `kubectl rollout restart`), honouring
    /// the App's upgrade strategy; recorded in the App's status when done.
    Restart {
        /// App name.
        name: String,
        /// Namespace of the App (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum PackageCommand {
    /// Every package with its versions, newest last.
    List {
        /// Repository directory (Universe `packages/<L>/<name>/<rev>/` or `<name>/<version>/`);
        /// default: the built-in catalog.
        #[arg(long)]
        repo: Option<PathBuf>,
        /// table, wide (also maintainer, tags and directory of the newest version), json or
        /// yaml.
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Metadata of one package version, or its options with --config.
    #[command(disable_version_flag = true)]
    Describe {
        /// Package name.
        name: String,
        /// Version (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// Print the options with their types, defaults and descriptions.
        #[arg(long)]
        config: bool,
        /// Repository directory (default: the built-in catalog).
        #[arg(long)]
        repo: Option<PathBuf>,
        /// table (text), wide (with --config: also whether each option is required), json or
        /// yaml.
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Render one package version with options to a YAML stream of objects. Exit 1 when the
    /// options are refused by the package's schema.
    #[command(disable_version_flag = true)]
    Render {
        /// Package name.
        name: String,
        /// Version (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// Options file (JSON or YAML), merged over the schema defaults.
        #[arg(long)]
        options: Option<PathBuf>,
        /// Namespace of objects that name none.
        #[arg(long, short, default_value = "default")]
        namespace: String,
        /// Name of the installed instance (`{{instance.name}}`; default: the package name).
        #[arg(long)]
        instance: Option<String>,
        /// Repository directory (default: the built-in catalog).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Scaffold a package: `NAME/1.0.0/` with package.yaml, an options schema, a service
    /// specification, a template, test.yaml and a README, in the current directory (or --dir).
    /// It lints clean and passes `dromos package test`.
    Init {
        /// Package name (lowercase letters, digits and '-').
        name: String,
        /// Repository directory to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Check the packages of a repository directory: options schema valid and documented,
    /// renders with the defaults and with the schema's `examples`, service plans launch and
    /// update every pod type, test.yaml parses. Exit 1 on an error.
    #[command(disable_version_flag = true)]
    Lint {
        /// Only this package.
        name: Option<String>,
        /// Only this version.
        #[arg(long)]
        version: Option<String>,
        /// Repository directory (default: the built-in catalog).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Install a package on the cluster of the kubeconfig as its test.yaml says, in a namespace
    /// of its own with the Package operator running in this process: lint, deploy plan, smoke
    /// checks (Jobs), update plan (one instance at a time where serial), checks again,
    /// uninstall. Prints each stage with its time; exit 1 when one failed.
    #[command(disable_version_flag = true)]
    Test {
        /// Package name.
        name: String,
        /// Version (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// Repository directory.
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Namespace to test in (default: a new `pkgtest-<name>-<random>`, deleted afterwards).
        #[arg(long, short)]
        namespace: Option<String>,
        /// Keep the namespace and what is in it.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum JobCommand {
    /// Start a run now (the job controller creates it and records it in the history).
    Run {
        /// Job name.
        name: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
    },
    /// Print the recent runs: id, trigger, scheduled, start and finish times, result, attempts.
    History {
        /// Job name.
        name: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// table, wide (also creation and retry times), json or yaml (the Job's status).
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Jobs with their trigger, state, counts, next run and active runs.
    List {
        #[command(flatten)]
        scope: ListScope,
    },
    /// Stop the active runs of a Job, or one run (annotation `dromos.io/kill-requested`): the
    /// controller deletes their batch Jobs and records them as failed, without retries; waits
    /// until it has.
    Kill {
        /// Job name.
        name: String,
        /// The run to stop (a run id of `dromos job history`); default: every active run.
        run: Option<String>,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// Longest wait for the controller, in seconds.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ServiceCommand {
    /// Plans: show their state as a tree, pause, resume (a canary's proceed), force-complete,
    /// restart.
    Plan {
        #[command(subcommand)]
        command: ServicePlanCommand,
    },
    /// Pods: list them with their state, restart one in place, replace one (new volumes,
    /// wherever it fits).
    Pod {
        #[command(subcommand)]
        command: ServicePodCommand,
    },
    /// The stable DNS names and ports of each pod type's instances.
    Endpoints {
        /// Package name.
        name: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// table, json or yaml.
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ServicePlanCommand {
    /// Every plan, or one, as a tree of phases and steps with their states.
    Show {
        /// Package name.
        name: String,
        /// Plan name (default: every plan).
        plan: Option<String>,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// table (the tree), json or yaml (status.plans).
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Hold a plan or phase: no step starts until resumed.
    Pause(PlanTarget),
    /// Undo a pause; on a canary phase, let the next canary step go.
    Resume(PlanTarget),
    /// Mark a step, phase or plan complete without waiting.
    ForceComplete(PlanTarget),
    /// Run a step, phase or plan again, restarting its pods.
    Restart(PlanTarget),
    /// Start a plan of the package's own (a `plans.<name>` other than deploy and update, e.g. a
    /// rolling restart): its steps restart their instances as its phases' strategies say.
    Start {
        /// Package name.
        name: String,
        /// Plan name.
        plan: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
    },
}

/// Which plan, phase or step a plan command applies to.
#[derive(Debug, clap::Args)]
pub(super) struct PlanTarget {
    /// Package name.
    pub(super) name: String,
    /// Plan name (deploy, update, recovery, decommission, or the package's own).
    pub(super) plan: String,
    /// Phase name.
    #[arg(long)]
    pub(super) phase: Option<String>,
    /// Step name (within --phase), e.g. `broker-1`.
    #[arg(long, requires = "phase")]
    pub(super) step: Option<String>,
    /// Namespace (default: the context's namespace).
    #[arg(long, short)]
    pub(super) namespace: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(super) enum ServicePodCommand {
    /// Each instance: pod type, index, node, ready, revision, restarts.
    List {
        /// Package name.
        name: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// table, wide, json or yaml (the pods).
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// One instance in detail: its pod, node, revision against its pod type's, each task
    /// (container) with its state, restarts and last exit, its volume claims, and the plan
    /// steps about it.
    Status {
        /// Package name.
        name: String,
        /// Instance, `<pod type>-<index>` (e.g. `broker-1`).
        instance: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
        /// table (text), json or yaml.
        #[arg(long, short, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Restart an instance in place: its pod is deleted and comes back with the same volumes.
    Restart {
        /// Package name.
        name: String,
        /// Instance, `<pod type>-<index>` (e.g. `broker-1`).
        instance: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
    },
    /// Replace an instance: the recovery plan deletes its pod and volumes, and it comes back
    /// empty wherever it fits (annotation `dromos.io/replace` on the pod).
    Replace {
        /// Package name.
        name: String,
        /// Instance, `<pod type>-<index>`.
        instance: String,
        /// Namespace (default: the context's namespace).
        #[arg(long, short)]
        namespace: Option<String>,
    },
}

// Flags of `dromos controller` (no doc comment: clap would take it as the command's about).
#[derive(Debug, clap::Args)]
pub(super) struct ControllerArgs {
    /// Confine the controller to this namespace (repeatable, or comma-separated): GitSources,
    /// Apps and Jobs are watched there only, and syncs list, watch and apply there only,
    /// refusing objects elsewhere and cluster-scoped ones (`OutOfScope`). Default: cluster
    /// mode, every namespace.
    #[arg(long = "namespace", value_name = "NS", value_delimiter = ',')]
    pub(super) namespaces: Vec<String>,
    /// Reconcile only GitSources whose labels match this selector (e.g. `shard=a`), so
    /// several controllers can share a cluster.
    #[arg(long)]
    pub(super) selector: Option<String>,
    /// Cache of fetched repositories.
    #[arg(long, env = "DROMOS_GIT_CACHE", default_value = "/tmp/dromos-git-cache")]
    pub(super) cache_dir: PathBuf,
    /// Let GitSources (and the Packages reading them) fetch repositories on the controller's
    /// file system (`file://` URLs and plain paths). Off by default: a source could otherwise
    /// read any repository the controller's file system holds. The Git cache is refused even
    /// with this flag.
    #[arg(long)]
    pub(super) allow_local_git: bool,
    /// ServiceAccount (in the source's own namespace) that GitSources and Packages naming none
    /// in `spec.serviceAccountName` act as, through impersonation.
    #[arg(long, value_name = "NAME")]
    pub(super) default_service_account: Option<String>,
    /// Lockdown: a GitSource or Package with no ServiceAccount (named or default) applies
    /// nothing and says why (`ServiceAccountRequired`); without this flag it acts with the
    /// controller's own identity.
    #[arg(long)]
    pub(super) require_service_account: bool,
    /// GitSources reconciled at once.
    #[arg(long, default_value_t = 4)]
    pub(super) concurrency: u16,
    /// Parallel writes within one sync.
    #[arg(long, default_value_t = 32)]
    pub(super) write_concurrency: usize,
    /// Bound of one Git fetch, from connecting to the last byte (a remote that stops answering
    /// fails the fetch; the last applied revision stays).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(super) fetch_timeout_secs: u64,
    /// Jobs reconciled at once (run creation at a busy minute; BENCHMARKS.md).
    #[arg(long, default_value_t = 64)]
    pub(super) job_concurrency: u16,
    /// Address of /metrics, /healthz and /readyz, and of the webhook (POST /hook) unless
    /// --webhook-listen gives it an address of its own.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub(super) listen: String,
    /// Serve the webhook (POST /hook, nothing else) on this address instead of --listen, so
    /// the webhook can be exposed without exposing the metrics and health endpoints.
    #[arg(long, value_name = "ADDR")]
    pub(super) webhook_listen: Option<String>,
    /// Shared secret of push webhooks (GitHub HMAC signature or GitLab token); the hook is
    /// off without it.
    #[arg(long, env = "DROMOS_WEBHOOK_SECRET", hide_env_values = true)]
    pub(super) webhook_secret: Option<String>,
    /// Elect a leader through a Lease so only one replica reconciles (off for a single
    /// replica run by hand).
    #[arg(long)]
    pub(super) leader_elect: bool,
    /// Namespace of the leader Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub(super) lease_namespace: String,
    /// `/healthz` answers 503 (and the kubelet's liveness probe restarts the process) when a
    /// reconcile has run this many seconds, or the scheduling or offer loop has not cycled for
    /// as long: a hung loop. Longer than the slowest sync you expect (--fetch-timeout-secs
    /// bounds the fetch).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(10..=86400))]
    pub(super) stuck_after_secs: u64,
    /// Client-side limit on API requests per second across all sources (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    pub(super) qps: f64,
    /// Requests allowed at once above --qps.
    #[arg(long, default_value_t = 100)]
    pub(super) burst: u32,
    /// Do not run the App operator (Apps are then only stored, not run).
    #[arg(long)]
    pub(super) no_apps: bool,
    /// Apps reconciled at once. Each reconcile is mostly waiting on the API server (its
    /// finalizer, its objects, its status), so this is a bound on requests in flight more than
    /// on CPU.
    #[arg(long, default_value_t = crate::operators::apps::DEFAULT_CONCURRENCY)]
    pub(super) app_concurrency: u16,
    /// Do not run the Dromos scheduler (pods of Apps in the exact placement mode then stay
    /// Pending; set `placementMode: native` to use kube-scheduler).
    #[arg(long)]
    pub(super) no_scheduler: bool,
    /// After a change, gather pending pods this long (ms) before placing them in one batch.
    #[arg(long, default_value_t = 50)]
    pub(super) schedule_batch_ms: u64,
    /// Do not publish Offer resources.
    #[arg(long)]
    pub(super) no_offers: bool,
    /// At most one Offer write per node per this many seconds (unchanged offers are never
    /// written).
    #[arg(long, default_value_t = 10)]
    pub(super) offer_interval_secs: u64,
    /// Do not run the Package operator (Packages are then only stored, not installed).
    #[arg(long)]
    pub(super) no_packages: bool,
    /// Packages reconciled at once.
    #[arg(long, default_value_t = 4)]
    pub(super) package_concurrency: u16,
    /// Do not run the Notifier operator (Notifiers are then only stored, nothing is sent).
    #[arg(long)]
    pub(super) no_notifier: bool,
    /// Image of the containers of Apps and Jobs that give only `cmd` (the App operator and
    /// the Job controller; `dromos render --default-image`). On an air-gapped cluster, a copy
    /// in your own registry.
    #[arg(long, value_name = "IMAGE", default_value = dromos_core::translate::DEFAULT_IMAGE)]
    pub(super) default_image: String,
    /// Image of the init container that downloads `fetch` URIs (needs sh, curl, tar, unzip).
    #[arg(long, value_name = "IMAGE", default_value = dromos_core::translate::DEFAULT_FETCH_IMAGE)]
    pub(super) fetch_image: String,
    /// Export traces (a `reconcile` span per object and pass, a GitSource's `sync`) with OTLP
    /// over HTTP (protobuf) to this collector base URL, e.g. `http://otel-collector:4318`; spans
    /// go to `<URL>/v1/traces` as service `dromos`. Off when unset. The `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER` and `OTEL_BSP_*` variables are honoured.
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub(super) otlp_endpoint: Option<String>,
    /// Serve the web UI on --ui-listen. Every request needs a Kubernetes bearer token (or the
    /// headers of the authenticating proxy of --ui-proxy-user-header) and reads and acts by
    /// impersonating its user, so RBAC decides what each person sees (docs/ui.md).
    #[arg(long)]
    pub(super) ui: bool,
    /// Address of the web UI (with --ui).
    #[arg(long, default_value = "0.0.0.0:8081", value_name = "ADDR")]
    pub(super) ui_listen: String,
    /// Trust this header, set by an authenticating proxy in front of the UI, to name the user
    /// (e.g. `X-Forwarded-User`). Only when that proxy is the only way to reach --ui-listen:
    /// anyone who can reach it directly can name any user.
    #[arg(long, value_name = "HEADER", requires = "ui")]
    pub(super) ui_proxy_user_header: Option<String>,
    /// The proxy's header with the user's groups, comma-separated (e.g. `X-Forwarded-Groups`).
    #[arg(long, value_name = "HEADER", requires = "ui_proxy_user_header")]
    pub(super) ui_proxy_groups_header: Option<String>,
}

// Arguments of `dromos import` (no doc comment: clap would take it as the command's about).
#[derive(Debug, clap::Args)]
pub(super) struct ImportArgs {
    /// Where the definitions come from.
    #[arg(value_enum)]
    pub(super) system: ImportSystem,
    /// JSON files, or directories walked for `*.json`.
    #[arg(required_unless_present = "from")]
    pub(super) paths: Vec<PathBuf>,
    /// Read from a live API instead: Marathon (`http://marathon:8080`), Metronome or Chronos.
    #[arg(long, conflicts_with = "paths")]
    pub(super) from: Option<String>,
    /// DC/OS ACS token for --from, sent as `Authorization: token=<token>`.
    #[arg(long, env = "DROMOS_DCOS_TOKEN", hide_env_values = true)]
    pub(super) token: Option<String>,
    /// Output directory.
    #[arg(long, short, default_value = "imported")]
    pub(super) output: PathBuf,
    /// Write nothing and exit 3 when anything would be dropped or approximated.
    #[arg(long)]
    pub(super) strict: bool,
    /// Write the report to this file instead of stderr.
    #[arg(long)]
    pub(super) report: Option<PathBuf>,
    /// Namespace of objects whose id names none (one-segment ids, Chronos jobs).
    #[arg(long, default_value = "default")]
    pub(super) default_namespace: String,
    /// Largest input accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub(super) max_file_bytes: u64,
}

//! Command line of `dromos` (I/O: reads trees, prints results, sets exit codes).

use crate::{crdgen, fsread};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use dromos_core::{LoadOptions, RenderOptions, diag, render};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Dromos: Marathon, Metronome and Universe semantics on Kubernetes, declared in Git.
#[derive(Debug, Parser)]
#[command(name = "dromos", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiagFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ObjFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ImportSystem {
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

impl ImportSystem {
    fn flavor(self) -> dromos_core::import::Flavor {
        use dromos_core::import::Flavor;
        match self {
            ImportSystem::Marathon => Flavor::Marathon,
            ImportSystem::Metronome => Flavor::Metronome,
            ImportSystem::Chronos => Flavor::Chronos,
            ImportSystem::Package => Flavor::Package,
        }
    }
}

#[derive(Debug, clap::Args)]
struct SourceArgs {
    /// Source name: objects are labelled `dromos.io/source=local.<name>`; the inventory is the
    /// ConfigMap `dromos-inventory-<name>`. Default: the directory's name.
    #[arg(long)]
    name: Option<String>,
    /// Namespace of the inventory ConfigMap.
    #[arg(long, default_value = "default")]
    inventory_namespace: String,
    /// Namespace of namespaced objects that name none.
    #[arg(long, default_value = "default")]
    default_namespace: String,
    /// Client-side limit on API requests per second (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    qps: f64,
    /// Requests allowed at once above --qps.
    #[arg(long, default_value_t = 100)]
    burst: u32,
    /// Take over fields owned by other field managers instead of reporting conflicts.
    #[arg(long)]
    force: bool,
    /// Do not delete objects that left the directory.
    #[arg(long)]
    no_prune: bool,
    /// Largest share of the inventory one sync may delete.
    #[arg(long, default_value_t = 0.5)]
    max_delete_fraction: f64,
    /// Allow deleting more than --max-delete-fraction.
    #[arg(long)]
    allow_mass_delete: bool,
    /// Parallel writes.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

impl SourceArgs {
    fn name_for(&self, path: &std::path::Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            let n = path
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "default".into());
            n.to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
                .collect()
        })
    }

    fn settings(&self, name: &str) -> crate::sync::SyncSettings {
        crate::sync::SyncSettings {
            source: format!("local.{name}"),
            force: self.force,
            force_owned: true,
            plan: dromos_core::plan::PlanOptions {
                prune: !self.no_prune,
                max_delete_fraction: self.max_delete_fraction,
                allow_mass_delete: self.allow_mass_delete,
            },
            concurrency: self.concurrency,
            default_namespace: self.default_namespace.clone(),
            limiter: limiter(self.qps, self.burst),
            scope: crate::scope::Scope::All,
        }
    }
}

#[derive(Debug, clap::Args)]
struct TreeArgs {
    /// A directory of manifests (walked recursively) or one file.
    path: PathBuf,
    /// Namespace of namespaced Dromos objects that name none.
    #[arg(long, default_value = "default")]
    default_namespace: String,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_file_bytes: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        source: SourceArgs,
        /// Plan against this snapshot of live objects (YAML stream or List) instead of a cluster.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// text, markdown (for a pull-request comment) or json.
        #[arg(long, short, value_enum, default_value = "text")]
        output: PlanFormat,
    },
    /// Run the controllers against the cluster of the current kubeconfig (or in-cluster config):
    /// GitSources (fetch, validate, plan, apply, prune, report), Jobs (schedules,
    /// dependencies, retries, deadlines, history), Apps and Packages.
    Controller {
        /// Confine the controller to this namespace (repeatable, or comma-separated): GitSources,
        /// Apps and Jobs are watched there only, and syncs list, watch and apply there only,
        /// refusing objects elsewhere and cluster-scoped ones (`OutOfScope`). Default: cluster
        /// mode, every namespace.
        #[arg(long = "namespace", value_name = "NS", value_delimiter = ',')]
        namespaces: Vec<String>,
        /// Reconcile only GitSources whose labels match this selector (e.g. `shard=a`), so
        /// several controllers can share a cluster.
        #[arg(long)]
        selector: Option<String>,
        /// Cache of fetched repositories.
        #[arg(long, env = "DROMOS_GIT_CACHE", default_value = "/tmp/dromos-git-cache")]
        cache_dir: PathBuf,
        /// GitSources reconciled at once.
        #[arg(long, default_value_t = 4)]
        concurrency: u16,
        /// Parallel writes within one sync.
        #[arg(long, default_value_t = 32)]
        write_concurrency: usize,
        /// Jobs reconciled at once (run creation at a busy minute; BENCHMARKS.md).
        #[arg(long, default_value_t = 64)]
        job_concurrency: u16,
        /// Address of /metrics, /healthz, /readyz and the webhook (POST /hook).
        #[arg(long, default_value = "0.0.0.0:8080")]
        listen: String,
        /// Shared secret of push webhooks (GitHub HMAC signature or GitLab token); the hook is
        /// off without it.
        #[arg(long, env = "DROMOS_WEBHOOK_SECRET", hide_env_values = true)]
        webhook_secret: Option<String>,
        /// Elect a leader through a Lease so only one replica reconciles (off for a single
        /// replica run by hand).
        #[arg(long)]
        leader_elect: bool,
        /// Namespace of the leader Lease.
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// Client-side limit on API requests per second across all sources (0: unlimited).
        #[arg(long, default_value_t = 0.0)]
        qps: f64,
        /// Requests allowed at once above --qps.
        #[arg(long, default_value_t = 100)]
        burst: u32,
        /// Do not run the App operator (Apps are then only stored, not run).
        #[arg(long)]
        no_apps: bool,
        /// Apps reconciled at once.
        #[arg(long, default_value_t = 16)]
        app_concurrency: u16,
        /// Do not run the Dromos scheduler (pods of Apps in the exact placement mode then stay
        /// Pending; set `placementMode: native` to use kube-scheduler).
        #[arg(long)]
        no_scheduler: bool,
        /// After a change, gather pending pods this long (ms) before placing them in one batch.
        #[arg(long, default_value_t = 50)]
        schedule_batch_ms: u64,
        /// Do not publish Offer resources.
        #[arg(long)]
        no_offers: bool,
        /// At most one Offer write per node per this many seconds (unchanged offers are never
        /// written).
        #[arg(long, default_value_t = 10)]
        offer_interval_secs: u64,
        /// Do not run the Package operator (Packages are then only stored, not installed).
        #[arg(long)]
        no_packages: bool,
        /// Packages reconciled at once.
        #[arg(long, default_value_t = 4)]
        package_concurrency: u16,
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
        /// Manifests to sync (default: examples/ of the repository).
        #[arg(long)]
        examples: Option<PathBuf>,
        /// Use this kubeconfig instead of the local control plane (never started or stopped).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Longest wait for the objects to settle, in seconds.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
    /// Act on one App in the cluster.
    App {
        #[command(subcommand)]
        action: AppAction,
    },
    /// Apps, Jobs and Packages of the cluster with their health, in one table.
    Status {
        /// Only this namespace (default: all namespaces).
        #[arg(long, short)]
        namespace: Option<String>,
    },
    /// Turn DC/OS definitions into Dromos manifests, one file per object at
    /// OUTDIR/<namespace>/<name>.<kind>.yaml, and report every field not carried over.
    /// Exit 0 lossless, 3 something dropped or approximated, 1 unreadable input or output that
    /// does not validate.
    Import {
        /// Where the definitions come from.
        #[arg(value_enum)]
        system: ImportSystem,
        /// JSON files, or directories walked for `*.json`.
        #[arg(required_unless_present = "from")]
        paths: Vec<PathBuf>,
        /// Read from a live API instead: Marathon (`http://marathon:8080`), Metronome or Chronos.
        #[arg(long, conflicts_with = "paths")]
        from: Option<String>,
        /// DC/OS ACS token for --from, sent as `Authorization: token=<token>`.
        #[arg(long, env = "DROMOS_DCOS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Output directory.
        #[arg(long, short, default_value = "imported")]
        output: PathBuf,
        /// Write nothing and exit 3 when anything would be dropped or approximated.
        #[arg(long)]
        strict: bool,
        /// Write the report to this file instead of stderr.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Namespace of objects whose id names none (one-segment ids, Chronos jobs).
        #[arg(long, default_value = "default")]
        default_namespace: String,
        /// Largest input accepted, in bytes.
        #[arg(long, default_value_t = 64 * 1024 * 1024)]
        max_file_bytes: u64,
    },
    /// Packages of a repository directory (default: the built-in catalog): list them, describe
    /// one, render one.
    Package {
        #[command(subcommand)]
        command: PackageCommand,
    },
    /// Runs of a Dromos Job: start one now, or show the history.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Write the CRD manifests into crds/ and charts/dromos/crds/ and the manifest reference into
    /// docs/reference/ (or check that they are up to date).
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
    },
}

#[derive(Debug, Subcommand)]
enum AppAction {
    /// Why instances are not placed: the Dromos scheduler's decline summary (offers declined
    /// per reason) and the state of every instance.
    Why {
        /// App name.
        name: String,
        /// Namespace of the App.
        #[arg(long, short, default_value = "default")]
        namespace: String,
    },
    /// Replace every instance without a spec change (like `kubectl rollout restart`), honouring
    /// the App's upgrade strategy; recorded in the App's status when done.
    Restart {
        /// App name.
        name: String,
        /// Namespace of the App.
        #[arg(long, short, default_value = "default")]
        namespace: String,
    },
}

#[derive(Debug, Subcommand)]
enum PackageCommand {
    /// Every package with its versions, newest last.
    List {
        /// Repository directory (Universe `packages/<L>/<name>/<rev>/` or `<name>/<version>/`);
        /// default: the built-in catalog.
        #[arg(long)]
        repo: Option<PathBuf>,
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
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Start a run now (the job controller creates it and records it in the history).
    Run {
        /// Job name.
        name: String,
        /// Namespace.
        #[arg(long, short, default_value = "default")]
        namespace: String,
    },
    /// Print the recent runs: id, trigger, scheduled, start and finish times, result, attempts.
    History {
        /// Job name.
        name: String,
        /// Namespace.
        #[arg(long, short, default_value = "default")]
        namespace: String,
    },
}

/// A shared request limiter, or none when `qps` is 0.
fn limiter(qps: f64, burst: u32) -> Option<std::sync::Arc<crate::ratelimit::Limiter>> {
    (qps > 0.0).then(|| std::sync::Arc::new(crate::ratelimit::Limiter::new(qps, burst)))
}

/// Worker threads for the pure core: the machine's parallelism.
pub fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Loads and validates a tree from disk.
/// Loads and validates a tree from disk, Package objects included (expanded from the built-in
/// catalog and the tree's package directories); returns those repositories for rendering.
fn check(tree: &TreeArgs) -> Result<(dromos_core::Tree, BTreeMap<String, String>, dromos_core::package::Repositories)> {
    let files = fsread::fetch_tree(&tree.path, tree.max_file_bytes)
        .with_context(|| format!("reading {}", tree.path.display()))?;
    let opts = LoadOptions {
        max_file_bytes: tree.max_file_bytes,
        default_namespace: tree.default_namespace.clone(),
        ..Default::default()
    };
    let mut result = dromos_core::check_tree(&files.files, &opts);
    result.diagnostics.extend(files.diagnostics);
    let packages = crate::packages::tree_repositories(&tree.path, &result.manifests)?;
    let render_opts = RenderOptions { packages: packages.clone(), ..Default::default() };
    result.diagnostics.extend(render::package_diagnostics(&result.manifests, &render_opts));
    diag::sort_diagnostics(&mut result.diagnostics);
    let sources =
        files.files.iter().filter_map(|f| Some((f.path.clone(), String::from_utf8(f.bytes.clone()).ok()?))).collect();
    Ok((result, sources, packages))
}

fn print_diagnostics(
    diags: &[dromos_core::Diagnostic],
    sources: &BTreeMap<String, String>,
    format: DiagFormat,
    to: &mut dyn Write,
) -> Result<()> {
    match format {
        DiagFormat::Text => write!(to, "{}", diag::render_text(diags, |f| sources.get(f).map(String::as_str)))?,
        DiagFormat::Json => writeln!(to, "{}", serde_json::to_string_pretty(diags)?)?,
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs the CLI and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Controller {
            namespaces,
            selector,
            cache_dir,
            concurrency,
            write_concurrency,
            job_concurrency,
            listen,
            webhook_secret,
            leader_elect,
            lease_namespace,
            qps,
            burst,
            no_apps,
            app_concurrency,
            no_scheduler,
            schedule_batch_ms,
            no_offers,
            offer_interval_secs,
            no_packages,
            package_concurrency,
        } => runtime()?.block_on(async {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .try_init();
            let client = kube::Client::try_default().await.context("connecting to the cluster")?;
            crate::controller::check_crds(&client).await?;
            let scope = crate::scope::Scope::of(namespaces);
            let opts = crate::controller::ControllerOptions {
                scope: scope.clone(),
                selector,
                cache_dir,
                concurrency,
                write_concurrency,
                limiter: limiter(qps, burst),
            };
            tracing::info!(?opts, %listen, webhook = webhook_secret.is_some(), "dromos controller starting");
            let app_opts = crate::apps::AppOptions {
                scope: scope.clone(),
                concurrency: app_concurrency,
                render: RenderOptions::default(),
            };
            let jobs = crate::jobs::context(
                client.clone(),
                crate::jobs::JobOptions {
                    scope: scope.clone(),
                    concurrency: job_concurrency,
                    ..Default::default()
                },
            );
            let pkg_opts = crate::package_operator::PackageOptions {
                scope: scope.clone(),
                concurrency: package_concurrency,
                cache_dir: opts.cache_dir.clone(),
            };
            let ctx = crate::controller::context(client.clone(), opts);
            let pkg_client = client.clone();
            let app_client = client.clone();
            let scheduler_client = client.clone();
            let scheduler_opts = crate::scheduler::SchedulerOptions {
                scope: scope.clone(),
                batch_window: std::time::Duration::from_millis(schedule_batch_ms),
                offers: !no_offers,
                offer_interval: std::time::Duration::from_secs(offer_interval_secs.max(1)),
                ..Default::default()
            };
            let controllers = {
                let ctx = ctx.clone();
                async move {
                    let apps = async move {
                        if !no_apps {
                            crate::apps::run(app_client, app_opts).await;
                        }
                    };
                    let scheduler = async move {
                        if !no_scheduler {
                            crate::scheduler::run(scheduler_client, scheduler_opts).await;
                        }
                    };
                    let packages = async move {
                        if !no_packages {
                            crate::package_operator::run(pkg_client, pkg_opts).await;
                        }
                    };
                    tokio::join!(crate::controller::run(ctx), crate::jobs::run(jobs), apps, scheduler, packages);
                }
            };
            let state = std::sync::Arc::new(crate::http::HttpState {
                metrics: ctx.metrics.clone(),
                ready: std::sync::atomic::AtomicBool::new(true),
                webhook_secret,
                client,
                scope,
                trigger: ctx.trigger.clone(),
            });
            let listener =
                tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("listening on {listen}"))?;
            let server = axum::serve(listener, crate::http::router(state));
            let controller = async {
                if leader_elect {
                    let identity =
                        std::env::var("HOSTNAME").unwrap_or_else(|_| format!("dromos-{}", std::process::id()));
                    let cfg = crate::leader::LeaseConfig {
                        namespace: lease_namespace,
                        name: "dromos-controller".into(),
                        identity,
                        duration: std::time::Duration::from_secs(15),
                        retry: std::time::Duration::from_secs(3),
                    };
                    let leading = crate::leader::campaign(ctx.client(), cfg);
                    crate::leader::run_while_leading(leading, controllers).await
                } else {
                    controllers.await;
                    Ok(())
                }
            };
            tokio::select! {
                r = controller => r?,
                r = server => r?,
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            }
            Ok(ExitCode::SUCCESS)
        }),
        Command::Quickstart { keep_running, examples, kubeconfig, timeout } => runtime()?.block_on(async {
            // The repository checkout this binary was built from (tests/cluster, examples/).
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default();
            let log = std::env::temp_dir().join("dromos-quickstart.log");
            let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
            let opts = crate::quickstart::QuickstartOptions {
                examples: examples.unwrap_or_else(|| root.join("examples")),
                root,
                kubeconfig,
                keep_running,
                timeout: std::time::Duration::from_secs(timeout),
                log,
            };
            let mut out = std::io::stdout();
            let report = crate::quickstart::run(opts, &mut out).await?;
            Ok(if report.rows.iter().all(|r| r.healthy) { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }),
        Command::Job { command } => runtime()?.block_on(async {
            let client =
                kube::Client::try_default().await.context("connecting to the cluster of the current kubeconfig")?;
            match command {
                JobCommand::Run { name, namespace } => {
                    let req = crate::jobs::request_run(&client, &namespace, &name).await?;
                    println!(
                        "requested a run of job {namespace}/{name} ({req}); follow it with `dromos job history {name} -n {namespace}`"
                    );
                }
                JobCommand::History { name, namespace } => {
                    let api: kube::Api<dromos_crds::Job> = kube::Api::namespaced(client, &namespace);
                    let job = api
                        .get_opt(&name)
                        .await
                        .with_context(|| format!("reading job {namespace}/{name}"))?
                        .with_context(|| format!("job {namespace}/{name} not found"))?;
                    print!("{}", crate::jobs::history_table(&job));
                }
            }
            Ok(ExitCode::SUCCESS)
        }),
        Command::Sync { path, source, watch, debounce_ms } => {
            let name = source.name_for(&path);
            let settings = source.settings(&name);
            let store = crate::local::InventoryStore { namespace: source.inventory_namespace.clone(), name };
            runtime()?.block_on(async {
                let client =
                    kube::Client::try_default().await.context("connecting to the cluster of the current kubeconfig")?;
                if watch {
                    crate::local::watch_dir(
                        &client,
                        &path,
                        &store,
                        &settings,
                        std::time::Duration::from_millis(debounce_ms),
                    )
                    .await?;
                    return Ok(ExitCode::SUCCESS);
                }
                let mut resolver = crate::sync::Resolver::default();
                let outcome = crate::local::sync_dir(&client, &mut resolver, &path, &store, &settings).await?;
                println!("{}", crate::local::describe(&outcome));
                Ok(if outcome.failures.is_empty() && !outcome.blocked() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            })
        }
        Command::Plan { path, source, snapshot, output } => {
            let name = source.name_for(&path);
            let settings = source.settings(&name);
            let prepared = crate::local::prepare_dir(&path, &settings.default_namespace)?;
            let plan = match snapshot {
                Some(file) => {
                    let (live, inventory) = crate::local::snapshot(&file, &settings.source)?;
                    let mut desired = prepared.objects;
                    for d in &mut desired {
                        dromos_core::plan::stamp(d, &settings.source);
                        let group = d["apiVersion"]
                            .as_str()
                            .unwrap_or("")
                            .rsplit_once('/')
                            .map(|x| x.0.to_string())
                            .unwrap_or_default();
                        let kind = d["kind"].as_str().unwrap_or("").to_string();
                        if d["metadata"]["namespace"].is_null() && !dromos_core::load::is_cluster_scoped(&group, &kind)
                        {
                            d["metadata"]["namespace"] = serde_json::Value::String(settings.default_namespace.clone());
                        }
                    }
                    dromos_core::plan::plan_sync(&desired, &live, &inventory, &prepared.levels, &settings.plan)
                }
                None => runtime()?.block_on(async {
                    let client = kube::Client::try_default()
                        .await
                        .context("connecting to the cluster of the current kubeconfig")?;
                    let store = crate::local::InventoryStore {
                        namespace: source.inventory_namespace.clone(),
                        name: name.clone(),
                    };
                    let inventory = store.load(&client).await?;
                    let mut resolver = crate::sync::Resolver::default();
                    let (plan, _, _) = crate::sync::plan_live(
                        &client,
                        &mut resolver,
                        prepared.objects,
                        &prepared.levels,
                        &inventory,
                        &settings,
                    )
                    .await?;
                    anyhow::Ok(plan)
                })?,
            };
            let text = match output {
                PlanFormat::Text => dromos_core::plan::report::text(&plan),
                PlanFormat::Markdown => {
                    dromos_core::plan::report::markdown(&plan, &format!("dromos plan: {}", path.display()))
                }
                PlanFormat::Json => serde_json::to_string_pretty(&dromos_core::plan::report::json(&plan))? + "\n",
            };
            print!("{text}");
            Ok(if matches!(plan.guard, dromos_core::plan::Guard::Blocked { .. }) {
                ExitCode::from(1)
            } else if plan.is_noop() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Validate { tree, output } => {
            let (result, sources, _) = check(&tree)?;
            let mut stdout = std::io::stdout().lock();
            if output == DiagFormat::Text && result.diagnostics.is_empty() {
                writeln!(stdout, "{}: {} object(s), valid", tree.path.display(), result.manifests.len())?;
            } else {
                print_diagnostics(&result.diagnostics, &sources, output, &mut stdout)?;
            }
            Ok(if result.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Render { tree, output, default_image, fetch_image } => {
            let (result, sources, packages) = check(&tree)?;
            let mut stderr = std::io::stderr().lock();
            if !result.is_valid() {
                print_diagnostics(&result.diagnostics, &sources, DiagFormat::Text, &mut stderr)?;
                return Ok(ExitCode::from(1));
            }
            let mut opts = RenderOptions { packages, ..Default::default() };
            if let Some(i) = default_image {
                opts.default_image = i;
            }
            if let Some(i) = fetch_image {
                opts.fetch_image = i;
            }
            let format = match output {
                ObjFormat::Yaml => render::Format::Yaml,
                ObjFormat::Json => render::Format::Json,
            };
            let text = render::render_serialized(&result.manifests, &opts, format, threads());
            let mut warnings = result.diagnostics.clone();
            warnings.extend(text.warnings.iter().cloned());
            diag::sort_diagnostics(&mut warnings);
            if !warnings.is_empty() {
                print_diagnostics(&warnings, &sources, DiagFormat::Text, &mut stderr)?;
            }
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            for chunk in &text.chunks {
                stdout.write_all(chunk.as_bytes())?;
            }
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::App { action: AppAction::Why { name, namespace } } => runtime()?.block_on(async {
            let client = kube::Client::try_default().await.context("connecting to the cluster")?;
            let text = crate::scheduler::why(&client, &namespace, &name).await?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }),
        Command::App { action: AppAction::Restart { name, namespace } } => runtime()?.block_on(async {
            let client = kube::Client::try_default().await.context("connecting to the cluster")?;
            let at = crate::status::restart_app(&client, &namespace, &name).await?;
            println!(
                "app {namespace}/{name}: restart requested at {at}; `dromos status -n {namespace}` shows the rollout"
            );
            Ok(ExitCode::SUCCESS)
        }),
        Command::Status { namespace } => runtime()?.block_on(async {
            let client = kube::Client::try_default().await.context("connecting to the cluster")?;
            let rows = crate::status::collect(&client, namespace.as_deref()).await?;
            print!("{}", crate::status::table(&rows));
            Ok(if rows.iter().all(|r| r.healthy) { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }),
        Command::Import { system, paths, from, token, output, strict, report, default_namespace, max_file_bytes } => {
            import(ImportArgs {
                flavor: system.flavor(),
                paths,
                from,
                token,
                output,
                strict,
                report,
                default_namespace,
                max_file_bytes,
            })
        }
        Command::Package { command } => {
            let mut out = std::io::stdout().lock();
            match command {
                PackageCommand::List { repo } => crate::packages::list(repo.as_deref(), &mut out),
                PackageCommand::Describe { name, version, config, repo } => {
                    crate::packages::describe(repo.as_deref(), &name, version.as_deref(), config, &mut out)
                }
                PackageCommand::Render { name, version, options, namespace, instance, repo } => {
                    let source = repo.as_ref().map_or("builtin".to_string(), |r| r.display().to_string());
                    let instance_name = instance.unwrap_or_else(|| name.clone());
                    let inst = dromos_core::package::Instance {
                        namespace: &namespace,
                        name: &instance_name,
                        source: &source,
                    };
                    crate::packages::render(
                        repo.as_deref(),
                        &name,
                        version.as_deref(),
                        options.as_deref(),
                        inst,
                        &mut out,
                    )
                }
            }
        }
        Command::Crds { root, check, stdout } => {
            if stdout {
                let mut out = std::io::stdout().lock();
                for (_, text) in crdgen::render_crds() {
                    out.write_all(text.as_bytes())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            if check {
                let stale = crdgen::stale_crds(&root);
                if stale.is_empty() {
                    println!("CRDs are up to date");
                    return Ok(ExitCode::SUCCESS);
                }
                for p in stale {
                    eprintln!("stale: {} (run `dromos crds`)", p.display());
                }
                return Ok(ExitCode::from(1));
            }
            for p in crdgen::write_crds(&root)? {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

struct ImportArgs {
    flavor: dromos_core::import::Flavor,
    paths: Vec<PathBuf>,
    from: Option<String>,
    token: Option<String>,
    output: PathBuf,
    strict: bool,
    report: Option<PathBuf>,
    default_namespace: String,
    max_file_bytes: u64,
}

/// `dromos import`: read, convert, verify, report, write.
fn import(a: ImportArgs) -> Result<ExitCode> {
    use dromos_core::import;
    let mut stderr = std::io::stderr().lock();
    let inputs = match &a.from {
        Some(url) => crate::import::fetch_inputs(a.flavor, url, a.token.as_deref(), a.max_file_bytes),
        None => crate::import::read_inputs(&a.paths, a.max_file_bytes),
    };
    let inputs = match inputs {
        Ok(i) => i,
        Err(e) => {
            writeln!(stderr, "error: {e:#}")?;
            return Ok(ExitCode::from(1));
        }
    };
    let opts = import::ImportOptions { default_namespace: a.default_namespace.clone() };
    let result = match import::import(a.flavor, &inputs, &opts) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                writeln!(stderr, "error: {e}")?;
            }
            writeln!(stderr, "{} error(s); nothing written", errors.len())?;
            return Ok(ExitCode::from(1));
        }
    };
    // The written files must pass `dromos validate`; render warnings say what Kubernetes
    // approximates.
    let (diags, warnings) = dromos_core::verify::verify_import(&result.objects, &opts);
    let texts: BTreeMap<String, String> = result.objects.iter().map(|o| (o.path(), o.to_yaml())).collect();
    let mut shown = diags.clone();
    shown.extend(warnings);
    diag::sort_diagnostics(&mut shown);
    if !shown.is_empty() {
        write!(stderr, "{}", diag::render_text(&shown, |f| texts.get(f).map(String::as_str)))?;
    }
    let invalid = diags.iter().any(dromos_core::Diagnostic::is_error);
    let text = result.report.text();
    match &a.report {
        Some(p) => std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?,
        None => write!(stderr, "{text}")?,
    }
    let lossy = result.report.losses() > 0;
    if a.strict && (lossy || invalid) {
        writeln!(stderr, "--strict: nothing written")?;
        return Ok(ExitCode::from(if invalid { 1 } else { 3 }));
    }
    crate::import::write_objects(&a.output, &result.objects)?;
    let count = |k: &str| result.objects.iter().filter(|o| o.kind == k).count();
    println!(
        "imported {} object(s) into {}: {} App, {} Job, {} Package",
        result.objects.len(),
        a.output.display(),
        count("App"),
        count("Job"),
        count("Package")
    );
    Ok(if invalid {
        ExitCode::from(1)
    } else if lossy {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

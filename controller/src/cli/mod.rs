//! Command line of `dromos` (I/O: reads trees, prints results, sets exit codes). The clap
//! definitions are in `args`; each command is run by its own module, [`run`] only dispatches.

mod app;
mod args;
mod controller;
mod crds;
mod import;
mod job;
mod objects;
pub(crate) mod output;
mod package;
mod plan_source;
mod quickstart;
mod service;
mod shell;
mod source;
mod sync;
mod ui;
mod validate;

pub use shell::{man_pages, reference_markdown};

pub use args::Cli;

use anyhow::Result;
use args::Command;
use std::process::ExitCode;

/// Runs the CLI and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let Cli { kubeconfig, context, log_format, command } = cli;
    let _ = LOG_FORMAT.set(log_format);
    // Before any thread: libgit2's socket timeouts are process-wide (`git::set_socket_timeouts`).
    let fetch_timeout = match &command {
        Command::Controller(args) => std::time::Duration::from_secs(args.fetch_timeout_secs),
        _ => crate::git::FetchLimits::default().timeout,
    };
    crate::git::set_socket_timeouts(fetch_timeout.min(std::time::Duration::from_secs(30)), fetch_timeout)
        .map_err(|e| anyhow::anyhow!("setting Git's socket timeouts: {e}"))?;
    if let Command::Quickstart { keep_running, examples, timeout } = command {
        anyhow::ensure!(
            context.is_none(),
            "quickstart uses the current context of --kubeconfig; --context is not taken"
        );
        return quickstart::run(keep_running, examples, kubeconfig, timeout);
    }
    if !matches!(command, Command::Controller(_)) {
        quiet_broken_pipe();
    }
    // Generated from the command line itself: no cluster.
    match &command {
        Command::Completion { shell: which } => return shell::completion(*which),
        Command::Man { dir } => return shell::man(dir),
        _ => {}
    }
    crate::apiclient::select(crate::apiclient::Selection { kubeconfig, context });
    match command {
        Command::Quickstart { .. } => unreachable!("handled above"),
        Command::Controller(args) => controller::run(args),
        Command::Ui { listen, no_open, allow_local_git } => ui::run(&listen, no_open, allow_local_git),
        Command::Job { command } => job::run(command),
        Command::Schema { kind, output_dir } => crds::schema(kind.as_deref(), output_dir.as_deref()),
        Command::Service { command } => service::run(command),
        Command::Sync { path, source, watch, debounce_ms } => sync::run(path, source, watch, debounce_ms),
        Command::Plan {
            path,
            local,
            snapshot,
            output,
            source,
            revision,
            default_service_account,
            require_service_account,
            rendered,
            default_image,
            fetch_image,
        } => {
            let render = dromos_core::RenderOptions { default_image, fetch_image, ..Default::default() };
            let rendered = rendered.then_some(render);
            match source {
                Some(source) => plan_source::run(plan_source::Request {
                    path,
                    source,
                    revision,
                    rules: dromos_core::tenancy::IdentityRules { default_service_account, require_service_account },
                    output,
                    rendered,
                }),
                None => sync::plan(path, local, snapshot, output, rendered),
            }
        }
        Command::Validate { tree, output } => validate::run(&tree, output),
        Command::Render { tree, output, default_image, fetch_image } => {
            validate::render(&tree, output, default_image, fetch_image)
        }
        Command::App { action } => app::run(action),
        Command::Status { namespace, all_namespaces, output } => app::status(namespace, all_namespaces, output),
        Command::Source { command } => source::run(command),
        Command::Completion { .. } | Command::Man { .. } => unreachable!("handled above"),
        Command::Import(args) => import::run(args),
        Command::Package { command } => package::run(command),
        Command::Crds { root, check, stdout, apply } => crds::run(&root, check, stdout, apply),
    }
}

/// A shared request limiter, or none when `qps` is 0.
fn limiter(qps: f64, burst: u32) -> Option<std::sync::Arc<crate::ratelimit::Limiter>> {
    (qps > 0.0).then(|| std::sync::Arc::new(crate::ratelimit::Limiter::new(qps, burst)))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs a command's future to its end on a fresh runtime, then shuts the runtime down without
/// waiting more than a moment for blocking work still running (a Git fetch inside libgit2
/// whose remote stopped answering, a file read): dropping a runtime waits for every blocking
/// task, so a command whose work is done could otherwise hang on one that never returns.
fn block_on<T>(fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let rt = runtime()?;
    let out = rt.block_on(fut);
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    out
}

/// The log filter of `RUST_LOG`, `info` when unset or invalid.
fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
}

/// `--log-format` of this run.
static LOG_FORMAT: std::sync::OnceLock<args::LogFormat> = std::sync::OnceLock::new();

/// Colour codes only for a terminal, and never when `NO_COLOR` is set to anything but empty
/// (no-color.org): pod logs and files get plain text.
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Logging of long-running commands to stderr, as `--log-format` says, and, given a tracer
/// (`--otlp-endpoint`), their spans exported through it. `RUST_LOG` filters both.
fn init_logging(traces: Option<opentelemetry_sdk::trace::Tracer>) {
    use std::io::IsTerminal;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match LOG_FORMAT.get().copied().unwrap_or(args::LogFormat::Text) {
        args::LogFormat::Json => fmt.json().with_current_span(true).with_span_list(true).boxed(),
        args::LogFormat::Text => {
            fmt.with_ansi(colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref())).boxed()
        }
    };
    let _ = tracing_subscriber::registry()
        .with(log_filter())
        .with(logs)
        .with(traces.map(|t| tracing_opentelemetry::layer().with_tracer(t)))
        .try_init();
}

/// Output piped into a reader that stops early (`dromos app list | head`) ends the command
/// quietly with 141 (what a shell reports for SIGPIPE), as other command-line tools do: Rust
/// ignores SIGPIPE, so printing panics on the broken pipe instead. Not for `dromos
/// controller`, whose reconciles catch their panics.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg =
            payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if msg.is_some_and(|m| m.contains("Broken pipe") || m.contains("BrokenPipe")) {
            std::process::exit(141);
        }
        default(info)
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(super::colour(true, None));
        assert!(super::colour(true, Some(OsStr::new(""))), "an empty NO_COLOR is unset (no-color.org)");
        assert!(!super::colour(true, Some(OsStr::new("1"))));
        assert!(!super::colour(false, None), "a pod log or a file is not a terminal");
    }

    /// A command whose work is done returns although blocking work it started never ends
    /// (dropping a runtime waits for every blocking task; `block_on` bounds that wait).
    #[test]
    fn a_command_returns_while_blocking_work_still_runs() {
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (done, returned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let out = super::block_on(async move {
                // Blocks until the test ends: for the command, it never ends.
                tokio::task::spawn_blocking(move || {
                    let _ = blocked.recv();
                });
                Ok(7)
            });
            let _ = done.send(out.ok());
        });
        // A liveness bound, not a speed target: without the fix this waits forever.
        let out = returned.recv_timeout(std::time::Duration::from_secs(60));
        drop(release);
        assert_eq!(out, Ok(Some(7)), "the command did not return while a blocking task ran");
    }
}

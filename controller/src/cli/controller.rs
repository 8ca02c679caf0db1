//! `dromos controller`: the operators, the HTTP server and leader election against the cluster
//! of the current kubeconfig (I/O: the cluster, a listening socket).

use super::args::ControllerArgs;
use super::{limiter, log_filter, runtime};
use crate::operators::{apps, gitsource, jobs, manager, packages, scheduler};
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Runs the controller until it fails or is interrupted.
pub(crate) fn run(args: ControllerArgs) -> Result<ExitCode> {
    runtime()?.block_on(serve(args))
}

/// The operators to start and their settings, from the flags.
fn manager_options(args: &ControllerArgs, scope: crate::scope::Scope) -> manager::ManagerOptions {
    manager::ManagerOptions {
        scope,
        gitsource: Some(gitsource::Options {
            selector: args.selector.clone(),
            cache_dir: args.cache_dir.clone(),
            allow_file_urls: args.allow_local_git,
            concurrency: args.concurrency,
            write_concurrency: args.write_concurrency,
            limiter: limiter(args.qps, args.burst),
        }),
        apps: (!args.no_apps).then(|| apps::Options { concurrency: args.app_concurrency, ..Default::default() }),
        jobs: Some(jobs::Options { concurrency: args.job_concurrency, ..Default::default() }),
        packages: (!args.no_packages).then(|| packages::Options {
            concurrency: args.package_concurrency,
            cache_dir: args.cache_dir.clone(),
            allow_file_urls: args.allow_local_git,
        }),
        scheduler: (!args.no_scheduler).then(|| scheduler::Options {
            batch_window: std::time::Duration::from_millis(args.schedule_batch_ms),
            offers: !args.no_offers,
            offer_interval: std::time::Duration::from_secs(args.offer_interval_secs.max(1)),
            ..Default::default()
        }),
    }
}

/// Starts the operators and serves /metrics, the health endpoints and the webhook; with
/// `--leader-elect` the operators run only while this replica holds the Lease.
async fn serve(args: ControllerArgs) -> Result<ExitCode> {
    let _ = tracing_subscriber::fmt().with_env_filter(log_filter()).try_init();
    let client = kube::Client::try_default().await.context("connecting to the cluster")?;
    manager::check_crds(&client).await?;
    let scope = crate::scope::Scope::of(args.namespaces.clone());
    let opts = manager_options(&args, scope.clone());
    let ControllerArgs { listen, webhook_secret, leader_elect, lease_namespace, .. } = args;
    tracing::info!(?opts, %listen, webhook = webhook_secret.is_some(), "dromos controller starting");
    let manager = manager::Manager::start(client.clone(), opts);
    let sources = manager.context::<gitsource::Context>().context("the GitSource operator runs")?;
    let state = std::sync::Arc::new(crate::http::HttpState {
        metrics: sources.metrics.clone(),
        ready: std::sync::atomic::AtomicBool::new(true),
        webhook_secret,
        client: client.clone(),
        scope,
        trigger: sources.trigger.clone(),
    });
    let controllers = manager.run();
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("listening on {listen}"))?;
    let server = axum::serve(listener, crate::http::router(state));
    let controller = async {
        if leader_elect {
            let identity = std::env::var("HOSTNAME").unwrap_or_else(|_| format!("dromos-{}", std::process::id()));
            let cfg = crate::leader::LeaseConfig {
                namespace: lease_namespace,
                name: "dromos-controller".into(),
                identity,
                duration: std::time::Duration::from_secs(15),
                retry: std::time::Duration::from_secs(3),
            };
            let leading = crate::leader::campaign(client.clone(), cfg);
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
}

//! `dromos controller`: the operators, the HTTP server and leader election against the cluster
//! of the current kubeconfig (I/O: the cluster, a listening socket).

use super::args::ControllerArgs;
use super::{block_on, limiter};
use crate::operators::{apps, gitsource, jobs, manager, notifier, packages, scheduler};
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Runs the controller until it fails or is interrupted.
pub(crate) fn run(args: ControllerArgs) -> Result<ExitCode> {
    block_on(serve(args))
}

/// The operators to start and their settings, from the flags.
fn manager_options(args: &ControllerArgs, scope: crate::scope::Scope) -> manager::ManagerOptions {
    let render = dromos_core::RenderOptions {
        default_image: args.default_image.clone(),
        fetch_image: args.fetch_image.clone(),
        ..Default::default()
    };
    manager::ManagerOptions {
        scope,
        gitsource: Some(gitsource::Options {
            selector: args.selector.clone(),
            cache_dir: args.cache_dir.clone(),
            allow_file_urls: args.allow_local_git,
            concurrency: args.concurrency,
            write_concurrency: args.write_concurrency,
            limiter: limiter(args.qps, args.burst),
            fetch_timeout: std::time::Duration::from_secs(args.fetch_timeout_secs),
        }),
        apps: (!args.no_apps).then(|| apps::Options { concurrency: args.app_concurrency, render: render.clone() }),
        jobs: Some(jobs::Options { concurrency: args.job_concurrency, render }),
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
        notifier: (!args.no_notifier).then(notifier::Options::default),
        identity: dromos_core::tenancy::IdentityRules {
            default_service_account: args.default_service_account.clone(),
            require_service_account: args.require_service_account,
        },
    }
}

/// Sets up logging and, with `--otlp-endpoint`, trace export; runs the controller; flushes the
/// spans still queued however it ended.
async fn serve(args: ControllerArgs) -> Result<ExitCode> {
    let traces = args.otlp_endpoint.as_deref().map(crate::telemetry::Traces::start).transpose()?;
    super::init_logging(traces.as_ref().map(crate::telemetry::Traces::tracer));
    let result = run_controller(args).await;
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    result
}

/// Starts the operators and serves /metrics, the health endpoints and the webhook (on its own
/// listener with `--webhook-listen`); with
/// `--leader-elect` the operators run only while this replica holds the Lease.
async fn run_controller(args: ControllerArgs) -> Result<ExitCode> {
    let client = crate::apiclient::infer().await?;
    manager::check_crds(&client).await?;
    let scope = crate::scope::Scope::of(args.namespaces.clone());
    let opts = manager_options(&args, scope.clone());
    let ui_watch = scope.namespaces().map(|n| n.iter().cloned().collect::<Vec<_>>());
    // The UI fetches into the controller's cache with its flags; without credentials, its
    // repositories share directories with sources that have none (decision 0039).
    let ui_git = crate::ui::plan::GitAccess {
        cache: crate::git::Cache {
            root: args.cache_dir.clone(),
            allow_local: args.allow_local_git,
            limits: crate::git::FetchLimits {
                timeout: std::time::Duration::from_secs(args.fetch_timeout_secs),
                ..Default::default()
            },
        },
        rules: opts.identity.clone(),
    };
    let ControllerArgs {
        listen,
        webhook_listen,
        webhook_secret,
        leader_elect,
        lease_namespace,
        ui,
        ui_listen,
        ui_proxy_user_header,
        ui_proxy_groups_header,
        ..
    } = args;
    tracing::info!(
        ?opts,
        %listen,
        ?webhook_listen,
        webhook = webhook_secret.is_some(),
        otlp_endpoint = ?args.otlp_endpoint,
        "dromos controller starting"
    );
    let manager = manager::Manager::start(client.clone(), opts);
    let sources = manager.context::<gitsource::Context>().context("the GitSource operator runs")?;
    let state = std::sync::Arc::new(crate::http::HttpState {
        metrics: sources.metrics.clone(),
        objects: manager.objects(),
        stuck_after: std::time::Duration::from_secs(args.stuck_after_secs),
        ready: std::sync::atomic::AtomicBool::new(false),
        webhook_secret,
        client: client.clone(),
        scope,
        trigger: sources.trigger.clone(),
    });
    let controllers = manager.run();
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("listening on {listen}"))?;
    // With --webhook-listen the main listener keeps /metrics and the probes only, and the
    // webhook's listener serves nothing but POST /hook.
    let (routes, hook_server) = match &webhook_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
            let hook = std::future::IntoFuture::into_future(axum::serve(l, crate::http::hook_router(state.clone())));
            (crate::http::ops_router(state.clone()), futures::future::Either::Left(hook))
        }
        None => (
            crate::http::router(state.clone()),
            futures::future::Either::Right(std::future::pending::<std::io::Result<()>>()),
        ),
    };
    let server = axum::serve(listener, routes);
    // The web UI on its own listener: every request authenticated and impersonated.
    let ui_server = match ui {
        true => {
            let proxy =
                ui_proxy_user_header.map(|user| crate::ui::auth::ProxyHeaders { user, groups: ui_proxy_groups_header });
            let state = crate::ui::Ui::start(
                client.clone(),
                crate::ui::auth::Mode::Cluster { proxy },
                vec![],
                ui_watch,
                ui_git,
            );
            let l = tokio::net::TcpListener::bind(&ui_listen)
                .await
                .with_context(|| format!("listening on {ui_listen} (--ui-listen)"))?;
            tracing::info!(addr = %ui_listen, "web UI listening");
            futures::future::Either::Left(crate::ui::serve(l, state, std::future::pending()))
        }
        false => futures::future::Either::Right(std::future::pending::<std::io::Result<()>>()),
    };
    let lease = leader_elect.then(|| crate::leader::LeaseConfig {
        namespace: lease_namespace,
        name: "dromos-controller".into(),
        identity: std::env::var("HOSTNAME").unwrap_or_else(|_| format!("dromos-{}", std::process::id())),
        duration: std::time::Duration::from_secs(15),
        retry: std::time::Duration::from_secs(3),
    });
    let controller = async {
        match &lease {
            Some(cfg) => {
                let leading = crate::leader::campaign(client.clone(), cfg.clone());
                tokio::spawn(mirror_leadership(leading.clone(), state.clone()));
                crate::leader::run_while_leading(leading, controllers).await
            }
            None => {
                state.ready.store(true, std::sync::atomic::Ordering::Relaxed);
                controllers.await;
                Ok(())
            }
        }
    };
    tokio::select! {
        r = controller => r?,
        r = server => r?,
        r = hook_server => r?,
        r = ui_server => r?,
        s = shutdown_signal() => tracing::info!("{s}; stopping"),
    }
    // Stop taking webhooks, and hand the Lease over at once instead of after its duration.
    state.ready.store(false, std::sync::atomic::Ordering::Relaxed);
    if let Some(cfg) = &lease {
        let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> = kube::Api::namespaced(client, &cfg.namespace);
        match crate::leader::release(&api, cfg).await {
            Ok(true) => tracing::info!("released the Lease"),
            Ok(false) => {}
            Err(e) => tracing::warn!("releasing the Lease: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Keeps `ready` equal to "this replica leads".
async fn mirror_leadership(
    mut leading: tokio::sync::watch::Receiver<bool>,
    state: std::sync::Arc<crate::http::HttpState>,
) {
    loop {
        state.ready.store(*leading.borrow_and_update(), std::sync::atomic::Ordering::Relaxed);
        if leading.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends a pod), naming which.
async fn shutdown_signal() -> &'static str {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term => "terminated",
    }
}

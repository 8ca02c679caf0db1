//! `dromos ui`: the web UI on a loopback address with the kubeconfig's user (I/O: a listening
//! socket, the cluster, a browser).

use super::block_on;
use anyhow::{Context, Result, bail};
use std::process::ExitCode;

/// The program that opens a URL in the desktop's browser.
pub(crate) const OPENER: &str = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };

/// Serves the UI until interrupted.
pub(crate) fn run(listen: &str, no_open: bool, allow_local_git: bool) -> Result<ExitCode> {
    let addr: std::net::SocketAddr =
        listen.parse().with_context(|| format!("--listen {listen:?} is not an IP address and port"))?;
    if !addr.ip().is_loopback() {
        bail!(
            "--listen {addr}: `dromos ui` acts with your kubeconfig's credentials and listens on a loopback address only; \
             to share a UI, run the controller with --ui (docs/ui.md)"
        );
    }
    block_on(async move {
        super::init_logging(None);
        let cluster = crate::apiclient::connect().await?;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        let port = listener.local_addr()?.port();
        let hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        let login_token = crate::ui::auth::random_hex(24);
        let url = format!("http://{}/login?token={login_token}", hosts[if addr.is_ipv6() { 2 } else { 0 }]);
        // Repositories fetched for plans and patches live as long as this process.
        let cache = tempfile::Builder::new().prefix("dromos-ui-git-").tempdir().context("creating the Git cache")?;
        let git = crate::ui::plan::GitAccess {
            cache: crate::git::Cache {
                root: cache.path().to_path_buf(),
                allow_local: allow_local_git,
                limits: Default::default(),
            },
            rules: Default::default(),
        };
        let ui = crate::ui::Ui::start(
            cluster.client.clone(),
            crate::ui::auth::Mode::Local { login_token },
            hosts,
            None,
            git,
        );
        println!("Dromos UI for {}: {url}", cluster.described);
        println!("(the link signs this browser in; keep it private. Ctrl-C stops the UI.)");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if !no_open {
            // Best effort: a terminal without a desktop still has the printed link.
            let _ = std::process::Command::new(OPENER)
                .arg(&url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        crate::ui::serve(listener, ui, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

//! Kubernetes clients with bounded waits (I/O). kube's defaults bound connecting (30 s) and
//! writing (295 s) but not reading, so a request to an API server that accepts it and never
//! answers would wait forever and hold its reconcile (or command) with it. Every client Dromos
//! makes comes from here:
//!
//! * the answer's headers must arrive within [`RESPONSE_TIMEOUT`] (watches answer with headers
//!   at once and then stream, so they are not cut by it);
//! * no read may wait longer than [`READ_TIMEOUT`], a little more than the 290 s after which
//!   the API server ends a watch itself, so a silent stream is a dead one.

use std::time::Duration;

/// Longest wait for an answer's status and headers.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence on a connection that is reading an answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(295);

/// A client from `config` with both bounds.
pub fn from_config(mut config: kube::Config) -> kube::Result<kube::Client> {
    config.read_timeout.get_or_insert(READ_TIMEOUT);
    Ok(bounded(kube::Client::try_from(config)?, RESPONSE_TIMEOUT))
}

/// Which kubeconfig and context commands use (`--kubeconfig`, `--context`, as kubectl): none
/// set means `$KUBECONFIG` or `~/.kube/config` and its current context, else the in-cluster
/// account.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// A kubeconfig file instead of `$KUBECONFIG`.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// A context of it instead of its current one.
    pub context: Option<String>,
}

static SELECTION: std::sync::OnceLock<Selection> = std::sync::OnceLock::new();

/// Sets the selection for every client this process makes (once, before any).
pub fn select(selection: Selection) {
    let _ = SELECTION.set(selection);
}

/// A cluster connection and what commands print about it.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // kube::Client has no Debug
pub struct Cluster {
    /// The client (both bounds).
    pub client: kube::Client,
    /// The namespace of the context (`default` when it names none).
    pub namespace: String,
    /// "context NAME (URL)", or "URL (in-cluster)".
    pub described: String,
}

/// The cluster of the selection.
pub async fn connect() -> anyhow::Result<Cluster> {
    use anyhow::Context;
    let sel = SELECTION.get().cloned().unwrap_or_default();
    let (config, context) = if sel.kubeconfig.is_some() || sel.context.is_some() {
        let kc = match &sel.kubeconfig {
            Some(p) => kube::config::Kubeconfig::read_from(p)
                .with_context(|| format!("reading the kubeconfig {}", p.display()))?,
            None => kube::config::Kubeconfig::read().context("reading the kubeconfig")?,
        };
        let context = sel.context.clone().or_else(|| kc.current_context.clone());
        let opts = kube::config::KubeConfigOptions { context: sel.context.clone(), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kc, &opts).await.with_context(|| match &sel.context {
            Some(c) => format!("using context {c}"),
            None => "using the kubeconfig's current context".to_string(),
        })?;
        (config, context)
    } else {
        let config = kube::Config::infer().await.context("reading the kubeconfig")?;
        (config, kube::config::Kubeconfig::read().ok().and_then(|k| k.current_context))
    };
    let described = match context {
        Some(c) => format!("context {c} ({})", config.cluster_url),
        None => format!("{} (in-cluster)", config.cluster_url),
    };
    let namespace = config.default_namespace.clone();
    let client = from_config(config).context("connecting to the cluster")?;
    Ok(Cluster { client, namespace, described })
}

/// The client of the selection (see [`connect`]).
pub async fn infer() -> anyhow::Result<kube::Client> {
    Ok(connect().await?.client)
}

/// `base` (same connection pool and credentials) with every answer's headers due within
/// `timeout`; a late one fails the request as a timeout.
pub fn bounded(base: kube::Client, timeout: Duration) -> kube::Client {
    let namespace = base.default_namespace().to_string();
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let inner = base.clone();
        let what = format!("{} {}", req.method(), req.uri().path());
        async move {
            match tokio::time::timeout(timeout, inner.send(req)).await {
                Ok(answer) => answer,
                Err(_) => Err(kube::Error::Service(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{what}: the API server did not answer within {timeout:?}"),
                )))),
            }
        }
    });
    kube::Client::new(service, namespace)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A server that accepts connections and never answers: the request fails as a timeout
    /// instead of waiting forever.
    #[tokio::test]
    async fn a_silent_api_server_fails_the_request() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = vec![];
            while let Ok((s, _)) = listener.accept().await {
                open.push(s); // read nothing, answer nothing
            }
        });
        let client = super::bounded(
            kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap(),
            Duration::from_millis(300),
        );
        let err = client.apiserver_version().await.expect_err("a silent server cannot answer");
        assert!(err.to_string().contains("did not answer within"), "{err}");
        held.abort();
    }
}

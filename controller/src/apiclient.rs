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

/// The client of the current kubeconfig (or the in-cluster account), with both bounds.
pub async fn infer() -> anyhow::Result<kube::Client> {
    use anyhow::Context;
    let config = kube::Config::infer().await.context("reading the kubeconfig")?;
    from_config(config).context("connecting to the cluster")
}

/// Like [`infer`], with a description of the cluster for commands to print before they act:
/// the kubeconfig context and the API server's address.
pub async fn infer_described() -> anyhow::Result<(kube::Client, String)> {
    use anyhow::Context;
    let config = kube::Config::infer().await.context("reading the kubeconfig")?;
    let context = kube::config::Kubeconfig::read().ok().and_then(|k| k.current_context);
    let described = match context {
        Some(c) => format!("context {c} ({})", config.cluster_url),
        None => format!("{} (in-cluster)", config.cluster_url),
    };
    Ok((from_config(config).context("connecting to the cluster")?, described))
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

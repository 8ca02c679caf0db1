//! OpenTelemetry trace export over OTLP/HTTP (I/O: a background thread, HTTP requests):
//! `dromos controller --otlp-endpoint URL`, off by default. Every tracing span of the controller
//! (a `reconcile` per object and pass, a GitSource's `sync`) becomes an OTLP span of the service
//! `dromos`, with its fields as attributes and its log lines as span events.
//!
//! The SDK's batch processor keeps finished spans in a bounded queue (2048, `OTEL_BSP_*`
//! variables change it; spans beyond it are dropped, never waited for) and exports from a
//! thread of its own; each request is a task on the controller's runtime, sent by the hyper
//! client the rest of the controller uses. A failed export is logged and the spans of that
//! batch are dropped: tracing never stops or slows a reconcile. [`Traces::shutdown`] flushes
//! what is queued when the controller stops. docs/decisions/0049-otlp-traces-over-http.md.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter, Tracer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The service name of the spans unless `OTEL_SERVICE_NAME` names another.
pub const SERVICE_NAME: &str = "dromos";
/// Bound of one export request, connecting and reading the answer included (OTLP's default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the last spans when the controller stops.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from the collector (it is an empty or a small partial-success message).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The trace pipeline of a running controller: hand [`Traces::tracer`] to the tracing layer,
/// call [`Traces::shutdown`] before the runtime stops.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// A pipeline exporting to `endpoint`, the collector's base URL (`http://collector:4318`):
    /// spans go to `<endpoint>/v1/traces`, as with `OTEL_EXPORTER_OTLP_ENDPOINT`. Must be called
    /// on the runtime that will send the requests. `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `OTEL_BSP_*`
    /// are honoured.
    pub fn start(endpoint: &str) -> Result<Self> {
        let url = traces_url(endpoint)?;
        let client = RuntimeClient::new(tokio::runtime::Handle::try_current().context("OTLP export needs a runtime")?)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .with_context(|| format!("OTLP exporter to {url}"))?;
        let exporter = Logged { inner: exporter, url, failing: AtomicBool::new(false) };
        let mut resource = opentelemetry_sdk::Resource::builder()
            .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
        if std::env::var_os("OTEL_SERVICE_NAME").is_none_or(|v| v.is_empty()) {
            resource = resource.with_service_name(SERVICE_NAME);
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter).build())
            .with_resource(resource.build())
            .build();
        Ok(Self { provider })
    }

    /// The tracer of `tracing_opentelemetry::layer().with_tracer(...)`.
    pub fn tracer(&self) -> Tracer {
        self.provider.tracer("dromos")
    }

    /// Exports the spans still queued (bounded by [`SHUTDOWN_TIMEOUT`]) and stops the pipeline;
    /// a failure is logged. Waits on a blocking thread: the export itself needs the runtime.
    pub async fn shutdown(self) {
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT)).await {
            Ok(Ok(())) => tracing::debug!("flushed the OTLP trace export"),
            Ok(Err(e)) => tracing::warn!("flushing the OTLP trace export: {e}"),
            Err(e) => tracing::warn!("flushing the OTLP trace export: {e}"),
        }
    }
}

/// `<base>/v1/traces` of an http(s) base URL.
fn traces_url(endpoint: &str) -> Result<String> {
    let uri: http::Uri = endpoint.parse().with_context(|| format!("--otlp-endpoint {endpoint:?} is not a URL"))?;
    anyhow::ensure!(
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some(),
        "--otlp-endpoint {endpoint:?}: expected http://HOST:PORT or https://HOST:PORT (OTLP over HTTP, port 4318 by convention)"
    );
    Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
}

/// Logs failed exports: the first failure at warn, later ones at debug until an export works
/// again (said at info), so a collector that is down costs one log line, not one per batch.
#[derive(Debug)]
struct Logged<E> {
    inner: E,
    url: String,
    failing: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for Logged<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Err(e) if !self.failing.swap(true, Ordering::Relaxed) => {
                tracing::warn!(spans, url = %self.url, "OTLP trace export failed, spans dropped: {e}; further failures are logged at debug level until an export succeeds")
            }
            Err(e) => tracing::debug!(spans, url = %self.url, "OTLP trace export failed, spans dropped: {e}"),
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                tracing::info!(url = %self.url, "OTLP trace export works again")
            }
            Ok(()) => {}
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

type Connector = hyper_openssl::client::legacy::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// An HTTP/1.1 client (TLS by OpenSSL for `https`) whose requests run as tasks of the runtime
/// it was made on, so the SDK's export thread, which has no runtime, can send them.
#[derive(Debug)]
struct RuntimeClient {
    client: hyper_util::client::legacy::Client<Connector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl RuntimeClient {
    fn new(runtime: tokio::runtime::Handle) -> Result<Self> {
        let ssl = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls())?;
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(EXPORT_TIMEOUT));
        let connector = hyper_openssl::client::legacy::HttpsConnector::with_connector(http, ssl)?;
        // Built inside the runtime: the pool's idle-connection timer needs one.
        let _entered = runtime.enter();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { client, runtime })
    }
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let send = async {
                let response = client.request(request.map(Full::new)).await?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await?.to_bytes();
                Ok::<_, HttpError>(Response::from_parts(parts, body))
            };
            match tokio::time::timeout(EXPORT_TIMEOUT, send).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {} s", EXPORT_TIMEOUT.as_secs()).into()),
            }
        });
        task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_endpoint_is_a_base_url_like_otel_exporter_otlp_endpoint() {
        assert_eq!(traces_url("http://collector:4318").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("https://otel.example/").unwrap(), "https://otel.example/v1/traces");
        assert_eq!(traces_url("http://127.0.0.1:4318/otlp").unwrap(), "http://127.0.0.1:4318/otlp/v1/traces");
        for bad in ["collector:4318", "grpc://collector:4317", "", "http://"] {
            assert!(traces_url(bad).is_err(), "{bad} accepted");
        }
    }
}

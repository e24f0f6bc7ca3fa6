//! Telemetry, set up in one place for every command.
//!
//! * **Logs to stderr** through `tracing`, filtered by `WARDEN_LOG` (default
//!   `warn`), as text or, with `--log-format json`, one JSON object a line.
//! * **OpenTelemetry over OTLP/HTTP** — traces, metrics and logs — switched
//!   on by the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or a
//!   signal's own `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`),
//!   `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, or
//!   `http/json`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//!   `OTEL_SERVICE_NAME` (default `warden`), `OTEL_RESOURCE_ATTRIBUTES`;
//!   `OTEL_SDK_DISABLED=true` turns it off. Spans, metrics and log records
//!   leave through the SDK's batch processors, which run on threads of their
//!   own and drop data rather than make a call wait when the collector is
//!   slow; [`Telemetry::shutdown`] flushes them.
//! * **Prometheus text** for `GET /metrics` ([`Telemetry::metrics_registry`]),
//!   read from the same instruments.
//!
//! With no endpoint set, no span leaves the process and the spans Warden
//! declares are disabled at their call sites (the stderr filter does not want
//! them), so telemetry costs nothing measurable.
//!
//! What is recorded is decided where it is recorded: spans and metrics carry
//! ids, names, outcomes and measurements, never arguments, results, headers,
//! query strings or secrets (which stay `SecretString`s and are never
//! formatted).

use clap::ValueEnum;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::time::Duration;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// How lines on stderr look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event.
    #[default]
    Text,
    /// For log pipelines: one JSON object per line.
    Json,
}

/// What [`init`] installed; [`Telemetry::shutdown`] flushes it.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    logger: Option<SdkLoggerProvider>,
    registry: Option<prometheus::Registry>,
}

/// The OpenTelemetry instrumentation scope of everything Warden records.
const SCOPE: &str = "warden";

/// How long the flush at shutdown may take per signal.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the global subscriber, and the OpenTelemetry providers the
/// environment asks for. `prometheus`: keep metrics for `GET /metrics`.
/// Call once, before the async runtime starts.
pub(crate) fn init(format: LogFormat, prometheus: bool) -> Result<Telemetry, String> {
    let signals = Signals::from_env();
    let resource = resource();
    let mut telemetry = Telemetry::default();
    // One HTTP client (and its thread) for every exporter.
    let client = signals.any().then(http_client).transpose()?;
    let exporting = |on: bool| client.clone().filter(|_| on);

    if let Some(client) = exporting(signals.traces) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol()?)
            .with_http_client(client)
            .build()
            .map_err(|e| format!("cannot set up the OTLP trace exporter: {e}"))?;
        telemetry.tracer = Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource.clone())
                .build(),
        );
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    if let Some(client) = exporting(signals.logs) {
        let exporter = opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_protocol(protocol()?)
            .with_http_client(client)
            .build()
            .map_err(|e| format!("cannot set up the OTLP log exporter: {e}"))?;
        telemetry.logger = Some(
            SdkLoggerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource.clone())
                .build(),
        );
    }

    // One meter provider feeds both readers, so OTLP and `/metrics` agree;
    // with neither, instruments stay the API's no-ops.
    if signals.metrics || prometheus {
        let mut meter = SdkMeterProvider::builder().with_resource(resource);
        if let Some(client) = exporting(signals.metrics) {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(protocol()?)
                .with_http_client(client)
                .build()
                .map_err(|e| format!("cannot set up the OTLP metric exporter: {e}"))?;
            meter = meter.with_periodic_exporter(exporter);
        }
        if prometheus {
            let registry = prometheus::Registry::new();
            let reader = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .scope_info_enabled(false)
                .build()
                .map_err(|e| format!("cannot set up the Prometheus metrics: {e}"))?;
            meter = meter.with_reader(reader);
            telemetry.registry = Some(registry);
        }
        let meter = meter.build();
        opentelemetry::global::set_meter_provider(meter.clone());
        telemetry.meter = Some(meter);
    }

    let stderr_filter = EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| EnvFilter::new(LevelFilter::WARN.to_string()));
    let stderr = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    }
    .with_filter(stderr_filter);
    let traces = telemetry.tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(SCOPE))
            .with_threads(false)
            .with_location(false)
            // No busy/idle timing on every enter and exit of a span.
            .with_tracked_inactivity(false)
            .with_filter(exported())
    });
    let logs = telemetry
        .logger
        .as_ref()
        .map(|provider| OpenTelemetryTracingBridge::new(provider).with_filter(exported()));
    tracing_subscriber::registry()
        .with(stderr)
        .with(traces)
        .with(logs)
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))?;
    Ok(telemetry)
}

impl Telemetry {
    /// The registry `GET /metrics` renders, when it is served.
    pub(crate) fn metrics_registry(&self) -> Option<prometheus::Registry> {
        self.registry.clone()
    }

    /// Flushes what is still batched and stops the exporters. Call after the
    /// async runtime has finished: the flush blocks.
    pub(crate) fn shutdown(self) {
        let report = |signal: &str, result: opentelemetry_sdk::error::OTelSdkResult| {
            if let Err(e) = result {
                eprintln!("warden: flushing {signal} at shutdown failed: {e}");
            }
        };
        if let Some(tracer) = self.tracer {
            report("spans", tracer.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
        }
        if let Some(logger) = self.logger {
            report(
                "log records",
                logger.shutdown_with_timeout(SHUTDOWN_TIMEOUT),
            );
        }
        if let Some(meter) = self.meter {
            report("metrics", meter.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
        }
    }
}

/// Which signals the environment sends to an OTLP endpoint: all three with
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, or each with its own `…_{SIGNAL}_ENDPOINT`.
#[derive(Debug, Clone, Copy, Default)]
struct Signals {
    traces: bool,
    metrics: bool,
    logs: bool,
}

impl Signals {
    fn any(self) -> bool {
        self.traces || self.metrics || self.logs
    }

    fn from_env() -> Signals {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Signals::default();
        }
        let all = set("OTEL_EXPORTER_OTLP_ENDPOINT");
        Signals {
            traces: all || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            metrics: all || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
            logs: all || set("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
        }
    }
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL`: OTLP over HTTP, protobuf unless JSON is asked for.
fn protocol() -> Result<Protocol, String> {
    match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL")
        .ok()
        .as_deref()
        .map(str::trim)
    {
        None | Some("" | "http/protobuf") => Ok(Protocol::HttpBinary),
        Some("http/json") => Ok(Protocol::HttpJson),
        Some("grpc") => Err(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: Warden exports \
             OTLP over HTTP; use http/protobuf (a collector's port 4318) or http/json"
                .into(),
        ),
        Some(other) => Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json, not `{other}`"
        )),
    }
}

/// The exporters' HTTP client: rustls with ring and the webpki roots, and
/// `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds, default 10 s) per export.
/// Blocking, because the batch processors export from their own threads.
fn http_client() -> Result<reqwest::blocking::Client, String> {
    let timeout = match std::env::var("OTEL_EXPORTER_OTLP_TIMEOUT") {
        Ok(ms) => Duration::from_millis(ms.trim().parse().map_err(|_| {
            format!("OTEL_EXPORTER_OTLP_TIMEOUT must be a number of milliseconds, not `{ms}`")
        })?),
        Err(_) => Duration::from_secs(10),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS for OTLP: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot set up the OTLP HTTP client: {e}"))
}

/// `service.name` `warden` unless `OTEL_SERVICE_NAME` or
/// `OTEL_RESOURCE_ATTRIBUTES` name the service, plus `service.version`.
fn resource() -> Resource {
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| {
            a.split(',')
                .any(|kv| kv.trim_start().starts_with("service.name="))
        });
    let builder = Resource::builder();
    let builder = if named {
        builder
    } else {
        builder.with_service_name(SCOPE)
    };
    builder
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What leaves the process: Warden's own spans and events from `info` up,
/// and warnings from libraries — except the exporters' own HTTP stack, whose
/// events about an export would feed the next export.
fn exported() -> Targets {
    Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("warden", LevelFilter::INFO)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
}

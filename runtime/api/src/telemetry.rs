//! Request telemetry: a server span and a duration measurement per request,
//! the caller's W3C trace context honoured, and `GET /metrics`.
//!
//! The span records the method, the matched route template and the status —
//! never headers, the query string or a body. A `traceparent` (and
//! `tracestate`) header makes the span, and so every tool call under it, part
//! of the caller's trace; handlers that run work elsewhere (MCP) find the
//! span in the request's extensions as [`RequestSpan`].

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;
use opentelemetry_http::HeaderExtractor;
use secrecy::SecretString;
use sha2::Digest as _;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// What `GET /metrics` renders: the Prometheus registry the process's meter
/// provider reads into.
#[derive(Clone)]
pub struct MetricsEndpoint(Arc<prometheus::Registry>, Option<Arc<SecretString>>);

impl MetricsEndpoint {
    /// Serves `registry` at `GET /metrics`, to anyone who can connect.
    pub fn new(registry: prometheus::Registry) -> Self {
        MetricsEndpoint(Arc::new(registry), None)
    }

    /// Serves only requests with `Authorization: Bearer {token}`; others get
    /// 401.
    #[must_use]
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.1 = Some(Arc::new(token));
        self
    }

    /// Whether `headers` carry the endpoint's token, when it has one.
    fn admits(&self, headers: &axum::http::HeaderMap) -> bool {
        use secrecy::ExposeSecret as _;
        use subtle::ConstantTimeEq as _;
        let Some(token) = &self.1 else {
            return true;
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Equal-length digests: the comparison takes the same time whatever
        // was presented.
        let digest = |text: &str| sha2::Sha256::digest(text.as_bytes());
        bool::from(digest(presented).ct_eq(&digest(token.expose_secret())))
    }
}

/// `GET /metrics` alone, for a listener of its own (`warden serve
/// --metrics-listen`): scrapers reach it, API clients never do.
pub fn metrics_router(endpoint: MetricsEndpoint) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let endpoint = endpoint.clone();
                async move { render(&endpoint, &headers) }
            }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsEndpoint")
    }
}

impl PartialEq for MetricsEndpoint {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The request's server span, for work a handler hands to other tasks.
#[derive(Clone, Debug)]
pub(crate) struct RequestSpan(pub(crate) tracing::Span);

/// `http.server.request.duration`, per OpenTelemetry's HTTP conventions.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    duration: Histogram<f64>,
}

impl HttpMetrics {
    /// Instruments from the process's meter provider (no-ops without one).
    pub(crate) fn new() -> Self {
        let meter = opentelemetry::global::meter("warden");
        HttpMetrics {
            duration: meter
                .f64_histogram("http.server.request.duration")
                .with_description("Duration of HTTP server requests")
                .with_unit("s")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .build(),
        }
    }
}

/// The middleware: span, trace context, duration.
pub(crate) async fn observe(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %match &route {
            Some(route) => format!("{method} {route}"),
            None => method.to_string(),
        },
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = route.as_deref(),
        http.response.status_code = tracing::field::Empty,
    );
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        // Fails only when no OpenTelemetry layer is installed: nothing to join.
        let _ = span.set_parent(parent);
    }
    request.extensions_mut().insert(RequestSpan(span.clone()));

    let response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.to_string()),
        KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
    ];
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route));
    }
    state
        .http_metrics
        .duration
        .record(started.elapsed().as_secs_f64(), &attributes);
    response
}

/// Metrics in the Prometheus text format: tool calls, durations, fuel,
/// sandbox gauges and HTTP request durations.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`warden serve --metrics-token` is set and the request does not carry it",
            body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The endpoint is turned off (`warden serve --no-metrics-endpoint`) or on its own listener (`--metrics-listen`)",
            body = crate::problem::Problem, content_type = "application/problem+json")))]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let Some(endpoint) = state.metrics else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the metrics endpoint is turned off or served on another address",
        ));
    };
    render(&endpoint, &headers)
}

fn render(
    endpoint: &MetricsEndpoint,
    headers: &axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if !endpoint.admits(headers) {
        let mut error = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the metrics endpoint needs its bearer token",
        )
        .into_response();
        error
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(error);
    }
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&endpoint.0.gather())
        .map_err(|e| {
            tracing::error!("cannot encode metrics: {e}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the metrics could not be encoded",
            )
        })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus::TEXT_FORMAT),
        )],
        text,
    )
        .into_response())
}

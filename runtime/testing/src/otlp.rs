//! An OpenTelemetry collector's OTLP/HTTP receiver: `POST /v1/traces`,
//! `/v1/metrics` and `/v1/logs`, in binary protobuf
//! (`application/x-protobuf`) or JSON (`application/json`), decoded with the
//! `opentelemetry-proto` messages. Answers as the collector does: an empty
//! `Export…ServiceResponse` in the request's encoding, 415 for another
//! content type, 400 for a body that does not decode.

use crate::server::Server;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::{Arc, Mutex, MutexGuard};

/// A running OTLP/HTTP receiver. Point an exporter at [`OtlpReceiver::endpoint`]
/// (`OTEL_EXPORTER_OTLP_ENDPOINT`).
pub struct OtlpReceiver {
    server: Server,
    state: Arc<Mutex<Received>>,
}

#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    logs: Vec<ExportLogsServiceRequest>,
    /// Every body as it arrived, for searching the raw bytes.
    bodies: Vec<Bytes>,
    /// Content types of the accepted requests.
    content_types: Vec<String>,
}

/// A span with the resource that sent it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The resource's attributes (`service.name`, …).
    pub resource: Vec<KeyValue>,
    /// The span.
    pub span: Span,
}

impl ReceivedSpan {
    /// The span's attribute `key` as text (strings as they are, numbers and
    /// booleans formatted).
    pub fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }

    /// The trace id, as lowercase hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id, as lowercase hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent's span id, as lowercase hex (empty for a root span).
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

/// A log record with the resource that sent it.
#[derive(Debug, Clone)]
pub struct ReceivedLog {
    /// The resource's attributes.
    pub resource: Vec<KeyValue>,
    /// The record.
    pub record: LogRecord,
}

impl ReceivedLog {
    /// The record's body as text.
    pub fn body(&self) -> Option<String> {
        self.record
            .body
            .as_ref()
            .and_then(|v| v.value.as_ref())
            .map(text)
    }

    /// The trace id the record is correlated with, as lowercase hex.
    pub fn trace_id(&self) -> String {
        hex(&self.record.trace_id)
    }

    /// The span id the record is correlated with, as lowercase hex.
    pub fn span_id(&self) -> String {
        hex(&self.record.span_id)
    }
}

/// `key`'s value among `attributes`, as text.
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(text)
}

fn text(value: &any_value::Value) -> String {
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl OtlpReceiver {
    /// Starts a receiver on `127.0.0.1:0`.
    pub async fn start() -> OtlpReceiver {
        let state = Arc::new(Mutex::new(Received::default()));
        let router = Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/metrics", post(metrics))
            .route("/v1/logs", post(logs))
            .with_state(state.clone());
        OtlpReceiver {
            server: Server::start(router).await,
            state,
        }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.server.origin()
    }

    fn state(&self) -> MutexGuard<'_, Received> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every span received, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let state = self.state();
        let mut spans = Vec::new();
        for request in &state.traces {
            for resource_spans in &request.resource_spans {
                let resource = resource_spans
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                for scope in &resource_spans.scope_spans {
                    for span in &scope.spans {
                        spans.push(ReceivedSpan {
                            resource: resource.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        spans
    }

    /// Every log record received, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        let state = self.state();
        let mut logs = Vec::new();
        for request in &state.logs {
            for resource_logs in &request.resource_logs {
                let resource = resource_logs
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                for scope in &resource_logs.scope_logs {
                    for record in &scope.log_records {
                        logs.push(ReceivedLog {
                            resource: resource.clone(),
                            record: record.clone(),
                        });
                    }
                }
            }
        }
        logs
    }

    /// Every metric data set received, in arrival order (a metric exported
    /// periodically appears once per export).
    pub fn metrics(&self) -> Vec<Metric> {
        let state = self.state();
        state
            .metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| s.metrics.clone())
            .collect()
    }

    /// Every request body as it arrived, and its decoded form, as text to
    /// search (strings appear verbatim in both encodings).
    pub fn everything(&self) -> String {
        let state = self.state();
        let mut all = String::new();
        for body in &state.bodies {
            all.push_str(&String::from_utf8_lossy(body));
            all.push('\n');
        }
        for request in &state.traces {
            all.push_str(&format!("{request:?}\n"));
        }
        for request in &state.metrics {
            all.push_str(&format!("{request:?}\n"));
        }
        for request in &state.logs {
            all.push_str(&format!("{request:?}\n"));
        }
        all
    }

    /// The content types of the export requests received.
    pub fn content_types(&self) -> Vec<String> {
        self.state().content_types.clone()
    }
}

/// How a request was encoded, and so how to answer it.
#[derive(Clone, Copy)]
enum Encoding {
    Protobuf,
    Json,
}

fn encoding(headers: &HeaderMap) -> Option<Encoding> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    match content_type.split(';').next()?.trim() {
        "application/x-protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(
    encoding: Encoding,
    body: &[u8],
) -> Result<T, String> {
    match encoding {
        Encoding::Protobuf => T::decode(body).map_err(|e| e.to_string()),
        Encoding::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
    }
}

fn answer<T: Message + serde::Serialize>(encoding: Encoding, response: &T) -> Response {
    match encoding {
        Encoding::Protobuf => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            response.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(response).unwrap_or_default(),
        )
            .into_response(),
    }
}

/// Checks the encoding, decodes, keeps the request, answers.
fn receive<Req, Resp>(
    state: &Mutex<Received>,
    headers: &HeaderMap,
    body: Bytes,
    keep: impl FnOnce(&mut Received, Req),
    response: Resp,
) -> Response
where
    Req: Message + Default + serde::de::DeserializeOwned,
    Resp: Message + serde::Serialize,
{
    let Some(encoding) = encoding(headers) else {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-protobuf or application/json",
        )
            .into_response();
    };
    let request = match decode::<Req>(encoding, &body) {
        Ok(request) => request,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("undecodable body: {e}")).into_response();
        }
    };
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        state.content_types.push(content_type.to_owned());
    }
    state.bodies.push(body);
    keep(&mut state, request);
    answer(encoding, &response)
}

async fn traces(
    State(state): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(
        &state,
        &headers,
        body,
        |s, r: ExportTraceServiceRequest| s.traces.push(r),
        ExportTraceServiceResponse::default(),
    )
}

async fn metrics(
    State(state): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(
        &state,
        &headers,
        body,
        |s, r: ExportMetricsServiceRequest| s.metrics.push(r),
        ExportMetricsServiceResponse::default(),
    )
}

async fn logs(
    State(state): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(
        &state,
        &headers,
        body,
        |s, r: ExportLogsServiceRequest| s.logs.push(r),
        ExportLogsServiceResponse::default(),
    )
}

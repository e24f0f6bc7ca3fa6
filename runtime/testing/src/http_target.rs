//! A plain HTTP server for outbound-policy tests.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body::{Frame, SizeHint};
use serde_json::{Map, Value, json};

use crate::recorded::RecordedRequest;
use crate::server::Server;

/// A plain HTTP server on `127.0.0.1` with a few routes that outbound-policy
/// tests need (any method on each):
///
/// - `/redirect?to=<url-encoded URL>`: `302 Found` with `Location: <URL>`;
///   `&status=301|303|307|308` answers that status instead;
/// - `/status/{code}`: that status (200–999) with body `{"status":code}`
///   (no body for 204 and 304);
/// - `/echo-headers`: `200` with a JSON object of the received headers
///   (lowercase name → value; repeated headers joined with `", "`), to show that
///   a credential echoed back by an upstream never reaches the tool;
///   `?encoding=base64|hex|json-unicode|url` encodes the whole document, and
///   `&chunk=N` sends it in `N`-byte frames;
/// - `/slow?ms=N`: waits `N` ms before sending the response head, then `200`
///   `{"ok":true,"slept_ms":N}`;
/// - `/bytes?n=N`: `200` with an `N`-byte body of `a`s (streamed, with a
///   `content-length`);
/// - anything else: `200` `{"ok":true,"method":…,"path":…}`.
///
/// Every request is recorded. Dropping the handle shuts the server down.
pub struct HttpTarget {
    server: Server,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("origin", &self.origin())
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// Starts a server on `127.0.0.1:0`.
    pub async fn start() -> HttpTarget {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new().fallback(handle).with_state(requests.clone());
        HttpTarget {
            server: Server::start(router).await,
            requests,
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// `origin()` followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().expect("requests lock").clone()
    }
}

async fn handle(
    State(requests): State<Arc<Mutex<Vec<RecordedRequest>>>>,
    req: Request,
) -> Response {
    let req = RecordedRequest::read(req).await;
    requests.lock().expect("requests lock").push(req.clone());

    let path = req.path.as_str();
    if path == "/redirect" {
        let Some(to) = req.query_param("to") else {
            return json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "missing query parameter `to`"}),
            );
        };
        let Ok(location) = HeaderValue::from_str(&to) else {
            return json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "`to` is not a valid header value"}),
            );
        };
        let status = match req.query_param("status").as_deref() {
            None => StatusCode::FOUND,
            Some(code @ ("301" | "302" | "303" | "307" | "308")) => {
                StatusCode::from_bytes(code.as_bytes()).expect("redirect status")
            }
            Some(other) => {
                return json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": format!("not a redirect status: {other}")}),
                );
            }
        };
        return Response::builder()
            .status(status)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .expect("redirect response");
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let status = code
            .parse::<u16>()
            .ok()
            .filter(|code| *code >= 200)
            .and_then(|code| StatusCode::from_u16(code).ok());
        let Some(status) = status else {
            return json(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("not a final status code: {code}")}),
            );
        };
        if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            return Response::builder()
                .status(status)
                .body(Body::empty())
                .expect("status response");
        }
        return json(status, &json!({"status": status.as_u16()}));
    }
    if path == "/echo-headers" {
        let mut headers = Map::new();
        for (name, value) in &req.headers {
            match headers.get_mut(name) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        let text = serde_json::to_string(&Value::Object(headers)).expect("serialize JSON");
        // `encoding` re-encodes the whole document, as debugging APIs and
        // error pages do; `chunk=N` sends it in N-byte frames.
        let body = match req.query_param("encoding").as_deref() {
            None => text,
            Some("base64") => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(&text)
            }
            Some("hex") => text.bytes().map(|b| format!("{b:02x}")).collect(),
            Some("json-unicode") => text.encode_utf16().map(|u| format!("\\u{u:04x}")).collect(),
            Some("url") => form_urlencoded::byte_serialize(text.as_bytes()).collect(),
            Some(other) => {
                return json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": format!("unknown encoding {other}")}),
                );
            }
        };
        let chunk = req
            .query_param("chunk")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
            .max(1);
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::new(ChunkedBody {
                data: Bytes::from(body),
                chunk,
            }))
            .expect("echo response");
    }
    if path == "/slow" {
        let Some(ms) = req.query_param("ms").and_then(|ms| ms.parse::<u64>().ok()) else {
            return json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "`ms` must be a non-negative integer"}),
            );
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return json(StatusCode::OK, &json!({"ok": true, "slept_ms": ms}));
    }
    if path == "/bytes" {
        let Some(n) = req.query_param("n").and_then(|n| n.parse::<u64>().ok()) else {
            return json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "`n` must be a non-negative integer"}),
            );
        };
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::new(RepeatBody { remaining: n }))
            .expect("bytes response");
    }
    json(
        StatusCode::OK,
        &json!({"ok": true, "method": req.method, "path": req.path}),
    )
}

fn json(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::to_vec(value).expect("serialize JSON"),
        ))
        .expect("JSON response")
}

/// A body of `remaining` bytes of `a`, produced in chunks, with an exact size hint
/// (so the response carries a `content-length`).
struct RepeatBody {
    remaining: u64,
}

static CHUNK: [u8; 64 * 1024] = [b'a'; 64 * 1024];

impl http_body::Body for RepeatBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK.len() as u64);
        self.remaining -= n;
        let n = usize::try_from(n).expect("chunk fits in usize");
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// `data` in frames of `chunk` bytes.
struct ChunkedBody {
    data: Bytes,
    chunk: usize,
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.chunk.min(self.data.len());
        let frame = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

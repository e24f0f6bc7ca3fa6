//! What a stand-in received.

use axum::body::{Body, to_bytes};
use http::Request;

/// The largest request body a stand-in reads; anything larger is cut off.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request as a stand-in received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `"POST"`.
    pub method: String,
    /// The path as sent, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string (without `?`), if there was one.
    pub query: Option<String>,
    /// Every header in the order received, names in lowercase (a header sent
    /// twice appears twice).
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Reads a whole request into a record.
    pub(crate) async fn read(req: Request<Body>) -> RecordedRequest {
        Self::read_at_most(req, MAX_BODY).await.0
    }

    /// Reads a request whose body may be at most `limit` bytes. The flag is
    /// `false` when the body was larger (or could not be read): reading stops
    /// there and the record's body is empty.
    pub(crate) async fn read_at_most(req: Request<Body>, limit: usize) -> (RecordedRequest, bool) {
        let (parts, body) = req.into_parts();
        let (body, complete) = match to_bytes(body, limit).await {
            Ok(bytes) => (bytes.to_vec(), true),
            Err(_) => (Vec::new(), false),
        };
        let record = RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        };
        (record, complete)
    }

    /// The query parameters, decoded.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    /// The last value of query parameter `name`, decoded.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

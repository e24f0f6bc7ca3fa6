//! A complete response, read into memory.

use std::borrow::Cow;
use std::fmt;

use ::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::{Error, Url};

/// A complete HTTP response: status, headers and the whole body.
#[derive(Clone)]
pub struct Response {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    pub(super) url: Url,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url.to_string())
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// The status code, e.g. [`StatusCode::OK`]; `status().as_u16()` gives
    /// the number.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The first value of the header `name` (case-insensitive), if it is
    /// there and is text ([`HeaderValue::to_str`](::http::HeaderValue::to_str));
    /// [`headers`](Response::headers) has the raw bytes.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// Every header; a repeated header has one value per time it was sent.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body's bytes, by value.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as text; invalid UTF-8 is replaced with `�`.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON into `T`. Fails with [`Error::Json`] when it
    /// is not JSON or not shaped like `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Json(format!(
                "the response from {} (status {}) is not the JSON expected: {e}",
                self.url.host(),
                self.status.as_u16()
            ))
        })
    }
}

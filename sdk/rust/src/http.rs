//! Outbound HTTP for tools: a small blocking client over
//! `wasi:http/outgoing-handler`.
//!
//! ```no_run
//! use std::time::Duration;
//! use warden_sdk::http::{Request, Response};
//! use warden_sdk::prelude::*;
//!
//! # fn demo() -> Result<Value, ToolError> {
//! let response: Response = Request::get("https://api.example.com/v1/things")
//!     .query("q", "blue shoes") // sent as `?q=blue%20shoes`
//!     .header("accept", "application/json")
//!     .timeout(Duration::from_secs(5))
//!     .send()?; // an `http::Error` converts into a `ToolError`
//! match response.status() {
//!     200 => Ok(response.json::<Value>()?),
//!     401 => Err(ToolError::Unauthorized("the API refused our credentials".into())),
//!     404 => Err(ToolError::NotFound("no such thing".into())),
//!     status => Err(ToolError::Upstream(format!("the API answered {status}"))),
//! }
//! # }
//! ```
//!
//! # What the host does with a request
//!
//! Every request, including every redirect hop, goes through the host's
//! policy before anything leaves the machine:
//!
//! - **Allowed hosts.** Only origins the tool declared with `allowed_host`
//!   (or the operator granted) are reachable; anything else fails with
//!   [`Error::Denied`]. Addresses on private networks are refused unless the
//!   operator allows them.
//! - **Credentials.** For hosts named in a `credential(...)`, the host sets
//!   the credential's header (say `authorization: Bearer …`) itself,
//!   replacing any value the tool set. The tool never sees the value, and
//!   [`Context::secret`](crate::Context::secret) refuses to read it.
//! - **OAuth2.** With `oauth2(...)` the host refreshes the access token when
//!   it expires or when a credential host answers 401, and retries once. A
//!   401 that reaches the tool means the grant itself is no longer valid:
//!   answer [`ToolError::Unauthorized`].
//! - **Limits.** A call may make a bounded number of requests, request and
//!   response bodies are capped, and every request shares the call's
//!   deadline. The host never follows redirects; this client does (see
//!   [`Request::follow_redirects`]), each hop being a new request.
//!
//! # Errors
//!
//! [`Request::send`] fails only when there is no HTTP response at all: a
//! refused, unreachable or timed-out request, a malformed URL, a body over
//! [`MAX_RESPONSE_BODY`]. Any status code, 4xx and 5xx included, is a
//! [`Response`] for the tool to interpret. `?` turns an [`Error`] into a
//! [`ToolError`] (see the `From` impl below for the mapping); match on it
//! when a case needs its own message.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::wasi::http::outgoing_handler;
use crate::__private::bindings::wasi::http::types as wasi;
use crate::__private::bindings::wasi::io::streams::StreamError;
use crate::ToolError;

/// The largest response body [`Request::send`] reads (16 MiB); a longer one
/// fails with [`Error::Body`]. The host may enforce a smaller cap.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// How many redirects [`Request::send`] follows before giving up with
/// [`Error::TooManyRedirects`].
pub const MAX_REDIRECTS: usize = 5;

/// Request bodies are written in chunks of at most this many bytes.
const WRITE_CHUNK: usize = 4096;

/// Response bodies are read in chunks of at most this many bytes.
const READ_CHUNK: u64 = 64 * 1024;

/// The only headers the tool set that a redirect carries to another origin
/// (scheme, host or port): they describe what the tool wants back, never
/// who it is. Anything else (`authorization`, `cookie`, and custom
/// credentials such as `x-api-key` or `private-token` alike) stays with the
/// origin the tool addressed it to.
const CROSS_ORIGIN_SAFE: [&str; 6] = [
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "range",
    "user-agent",
];

/// Headers that describe the request body: carried to another origin only
/// when the hop repeats the body (a 307 or 308, or a 301 or 302 answering
/// anything but a `POST`).
const BODY_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
];

/// An HTTP request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `TRACE` (Warden refuses it: it would echo credential headers back)
    Trace,
    /// `CONNECT` (Warden refuses it: it would tunnel past the policy)
    Connect,
}

impl Method {
    /// The method's name, e.g. `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
        }
    }

    /// Parses a method name, ignoring case (`"get"`, `"POST"`, …).
    pub fn parse(name: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
            Method::Options,
            Method::Trace,
            Method::Connect,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }

    fn to_wasi(self) -> wasi::Method {
        match self {
            Method::Get => wasi::Method::Get,
            Method::Head => wasi::Method::Head,
            Method::Post => wasi::Method::Post,
            Method::Put => wasi::Method::Put,
            Method::Patch => wasi::Method::Patch,
            Method::Delete => wasi::Method::Delete,
            Method::Options => wasi::Method::Options,
            Method::Trace => wasi::Method::Trace,
            Method::Connect => wasi::Method::Connect,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request produced no usable response.
///
/// The `Display` text is written for the tool's author and logs; converting
/// into a [`ToolError`] (with `?`) gives a message fit for the LLM:
///
/// | error | becomes |
/// | --- | --- |
/// | `Denied` | `ToolError::Internal` ("the tool is not allowed to reach …"); the host reports the call as `host_denied` anyway |
/// | `InvalidUrl`, `InvalidHeader` | `ToolError::Internal` (a bug in the tool) |
/// | `Timeout`, `Transport`, `TooManyRedirects`, `Body`, `Json` | `ToolError::Upstream` |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be requested: not `http`/`https`, no host, a bad port…
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request header's name or value is invalid, or the name is one the
    /// host sets itself (`host`, `connection`, `transfer-encoding`, …).
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// The host's policy refused the request (`HTTP-request-denied`): the
    /// origin is not allowed, resolves to a forbidden address, or the call
    /// made too many requests.
    Denied {
        /// The URL that was refused.
        url: String,
    },
    /// Connecting, the DNS lookup or the response took too long.
    Timeout {
        /// The URL that timed out.
        url: String,
    },
    /// The request failed on the way (DNS, connection, TLS, protocol).
    Transport {
        /// The URL that failed.
        url: String,
        /// What went wrong, from the `wasi:http` error code.
        message: String,
    },
    /// Redirects went on for more than [`MAX_REDIRECTS`] hops.
    TooManyRedirects {
        /// The URL of the last redirect.
        url: String,
    },
    /// Sending or reading a body failed, or the response body is larger than
    /// [`MAX_RESPONSE_BODY`] (or the host's cap).
    Body(String),
    /// A JSON body could not be serialized, or a response is not the JSON
    /// expected.
    Json(String),
}

impl Error {
    /// The origin (`scheme://host[:port]`) of the URL the error is about.
    fn origin(url: &str) -> String {
        Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.origin())
    }

    /// The host name of the URL the error is about.
    fn host(url: &str) -> String {
        Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.host().to_owned())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => write!(f, "invalid URL `{url}`: {reason}"),
            Error::InvalidHeader { name } => write!(
                f,
                "the request header `{name}` is invalid or may not be set by the tool"
            ),
            Error::Denied { url } => write!(
                f,
                "the host refused the request to {}: the tool may not reach it",
                Error::origin(url)
            ),
            Error::Timeout { url } => {
                write!(f, "the request to {} timed out", Error::origin(url))
            }
            Error::Transport { url, message } => {
                write!(f, "the request to {} failed: {message}", Error::origin(url))
            }
            Error::TooManyRedirects { url } => write!(
                f,
                "more than {MAX_REDIRECTS} redirects, the last one from {}",
                Error::origin(url)
            ),
            Error::Body(message) | Error::Json(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for ToolError {
    fn from(e: Error) -> ToolError {
        match &e {
            Error::Denied { url } => ToolError::Internal(format!(
                "the tool is not allowed to reach {}",
                Error::origin(url)
            )),
            Error::InvalidUrl { .. } | Error::InvalidHeader { .. } => {
                ToolError::Internal(format!("the tool built a bad request: {e}"))
            }
            Error::Timeout { url } => ToolError::Upstream(format!(
                "{} did not answer in time; try again shortly",
                Error::host(url)
            )),
            Error::Transport { url, message } => {
                ToolError::Upstream(format!("could not reach {}: {message}", Error::host(url)))
            }
            Error::TooManyRedirects { url } => ToolError::Upstream(format!(
                "{} redirected the request too many times",
                Error::host(url)
            )),
            Error::Body(message) => ToolError::Upstream(message.clone()),
            Error::Json(message) => ToolError::Upstream(format!(
                "the service answered something unexpected: {message}"
            )),
        }
    }
}

/// An absolute `http` or `https` URL, as this client sends it.
///
/// Parsing is deliberately small: a scheme (`http` or `https`), a host name
/// (ASCII; international names in punycode) or an IP address (IPv6 in
/// brackets), an optional port, a path and a query. User names and passwords
/// are refused; a fragment is dropped. Characters that may not appear in a
/// path or query (spaces, non-ASCII…) are percent-encoded; existing `%XX`
/// escapes are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    https: bool,
    /// Lowercase; IPv6 addresses in brackets.
    host: String,
    /// `None` for the scheme's default port.
    port: Option<u16>,
    /// Starts with `/`, percent-encoded.
    path: String,
    /// Without the `?`, percent-encoded.
    query: Option<String>,
}

impl Url {
    /// Parses an absolute URL.
    pub fn parse(input: &str) -> Result<Url, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: input.to_owned(),
            reason: reason.to_owned(),
        };
        let text = input.trim();
        if text.chars().any(|c| c.is_ascii_control()) {
            return Err(invalid("it contains control characters"));
        }
        let text = text.split_once('#').map_or(text, |(before, _)| before);
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("it is not an absolute http:// or https:// URL"))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(invalid("only http and https URLs are supported"));
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        if authority.contains('@') {
            return Err(invalid(
                "user names and passwords in URLs are not supported",
            ));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (address, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address is missing its `]`"))?;
            let address: Ipv6Addr = address
                .parse()
                .map_err(|_| invalid("the IPv6 address is malformed"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| invalid("unexpected text after the IPv6 address"))?,
                ),
            };
            (format!("[{address}]"), port)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            (host.to_ascii_lowercase(), port)
        };
        if !host.starts_with('[') {
            if host.is_empty() {
                return Err(invalid("it has no host"));
            }
            if !host.is_ascii() {
                return Err(invalid(
                    "international host names must be written in punycode (xn--…)",
                ));
            }
            let valid_label = |label: &str| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if !host.split('.').all(valid_label) {
                return Err(invalid("the host name is malformed"));
            }
        }
        let default_port = if https { 443 } else { 80 };
        let port = match port {
            None | Some("") => None,
            Some(digits) => {
                let number = digits
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| digits.parse::<u16>().ok())
                    .flatten()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| invalid("the port is not a number from 1 to 65535"))?;
                (number != default_port).then_some(number)
            }
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        Ok(Url {
            https,
            host,
            port,
            path: match path {
                "" => "/".to_owned(),
                path => encode_path(path),
            },
            query: query.map(encode_query),
        })
    }

    /// `"https"` or `"http"`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The host: a lowercase name, an IPv4 address, or an IPv6 address in
    /// brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, or `None` when it is the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, with the scheme's default filled in.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// The percent-encoded path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The percent-encoded query, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// `scheme://host[:port]`, the form `allowed_host` uses.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority())
    }

    /// Appends `key=value` to the query, both percent-encoded.
    pub fn append_query(&mut self, key: &str, value: &str) {
        let pair = format!("{}={}", encode_component(key), encode_component(value));
        match &mut self.query {
            Some(query) if !query.is_empty() => {
                query.push('&');
                query.push_str(&pair);
            }
            _ => self.query = Some(pair),
        }
    }

    /// Resolves a redirect's `location` (absolute, scheme-relative,
    /// absolute-path or relative) against this URL.
    pub fn join(&self, location: &str) -> Result<Url, Error> {
        let location = location.trim();
        if has_scheme(location) {
            return Url::parse(location);
        }
        if location.starts_with("//") {
            return Url::parse(&format!("{}:{location}", self.scheme()));
        }
        let location = location
            .split_once('#')
            .map_or(location, |(before, _)| before);
        let (path, query) = match location.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (location, None),
        };
        let path = if path.is_empty() {
            self.path.clone()
        } else if path.starts_with('/') {
            path.to_owned()
        } else {
            let directory = &self.path[..=self.path.rfind('/').unwrap_or(0)];
            format!("{directory}{path}")
        };
        let query = match (location.is_empty(), query) {
            (true, _) => self.query.clone(),
            (false, query) => query.map(encode_query),
        };
        Ok(Url {
            https: self.https,
            host: self.host.clone(),
            port: self.port,
            path: encode_path(&remove_dot_segments(&path)),
            query,
        })
    }

    /// `host[:port]`.
    fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// `path[?query]`.
    fn path_with_query(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path_with_query())
    }
}

/// Whether `s` starts with a URL scheme (`letter *( letter / digit / + - . ) :`).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// RFC 3986 section 5.2.4, for relative redirects.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    output.push("");
                }
            }
            ".." => {
                output.pop();
                if last {
                    output.push("");
                }
            }
            segment => output.push(segment),
        }
    }
    format!("/{}", output.join("/"))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Percent-encodes every byte of `s` for which `keep` is false, keeping
/// valid `%XX` escapes as they are.
fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if escape || (b != b'%' && keep(b)) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

fn encode_path(path: &str) -> String {
    encode(path, |b| {
        is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@' | b'/')
    })
}

fn encode_query(query: &str) -> String {
    encode(query, |b| {
        is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@' | b'/' | b'?')
    })
}

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9
/// - . _ ~`, so that `s` can stand as one path segment or one query value:
/// a space becomes `%20`, `/` becomes `%2F`, `@` becomes `%40` and `%`
/// itself becomes `%25`.
///
/// ```
/// use warden_sdk::http::encode_component;
///
/// let calendar = "team@group.calendar.google.com";
/// let url = format!("https://www.googleapis.com/calendar/v3/calendars/{}/events",
///     encode_component(calendar));
/// assert!(url.ends_with("/calendars/team%40group.calendar.google.com/events"));
/// ```
///
/// [`Request::query`] encodes its key and value this way already.
pub fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// An HTTP request under construction. Build it with [`Request::get`] and
/// friends, add what it needs, then [`send`](Request::send) it.
///
/// Nothing is checked until `send`: an invalid URL or header surfaces there.
#[derive(Clone)]
pub struct Request {
    method: Method,
    url: Result<Url, Error>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    follow_redirects: bool,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may hold keys: show only the names.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(ToString::to_string))
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("follow_redirects", &self.follow_redirects)
            .finish()
    }
}

impl Request {
    /// A request with any method. The URL must be absolute `http` or
    /// `https`; see [`Url`] for what is accepted.
    pub fn new(method: Method, url: impl AsRef<str>) -> Request {
        Request {
            method,
            url: Url::parse(url.as_ref()),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            follow_redirects: true,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl AsRef<str>) -> Request {
        Request::new(Method::Get, url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl AsRef<str>) -> Request {
        Request::new(Method::Head, url)
    }

    /// A `POST` request.
    pub fn post(url: impl AsRef<str>) -> Request {
        Request::new(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl AsRef<str>) -> Request {
        Request::new(Method::Put, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl AsRef<str>) -> Request {
        Request::new(Method::Patch, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl AsRef<str>) -> Request {
        Request::new(Method::Delete, url)
    }

    /// Appends `key=value` to the URL's query string, percent-encoding both
    /// (a space becomes `%20`, `&` becomes `%26`). Repeat for more pairs.
    pub fn query(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Request {
        if let Ok(url) = &mut self.url {
            url.append_query(key.as_ref(), value.as_ref());
        }
        self
    }

    /// Adds a header; calling it twice with the same name sends both values.
    /// Header names are case-insensitive. Headers the host manages
    /// (`host`, `connection`, `transfer-encoding`, …) are refused at `send`,
    /// and on a credential host the host replaces the credential's header.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Request {
        self.headers.push((
            name.as_ref().to_ascii_lowercase(),
            value.as_ref().to_owned(),
        ));
        self
    }

    /// Sets the request body. Set a `content-type` header to match.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON and `content-type` to
    /// `application/json`. Fails with [`Error::Json`] if `value` does not
    /// serialize (a map with non-string keys, say).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Request, Error> {
        self.body = serde_json::to_vec(value)
            .map_err(|e| Error::Json(format!("the request body is not valid JSON: {e}")))?;
        self.headers.retain(|(name, _)| name != "content-type");
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        Ok(self)
    }

    /// Gives up connecting, and waiting for the response to start, after
    /// `timeout` (each redirect hop gets the full time). Without it, the
    /// host's limits and the call's deadline apply; they apply anyway, when
    /// tighter.
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Whether to follow redirects (301, 302, 303, 307 and 308 with a
    /// `location`), at most [`MAX_REDIRECTS`] of them. On by default.
    ///
    /// A 303, and a 301 or 302 answering a `POST`, continue as a `GET`
    /// without the body; 307 and 308 repeat the method and body. Each hop is
    /// a new request that passes the host's policy again (a redirect to a
    /// host the tool may not reach fails with [`Error::Denied`]). When off,
    /// the redirect itself is the [`Response`].
    ///
    /// Headers the tool set go on unchanged while the redirects stay on the
    /// same origin (scheme, host and port). A hop to another origin keeps
    /// only `accept`, `accept-encoding`, `accept-language`, `cache-control`,
    /// `range` and `user-agent`, plus `content-type`, `content-length`,
    /// `content-encoding` and `content-language` when the body is repeated;
    /// every other header is dropped, so a credential the tool put in a
    /// header of its own choosing (`x-api-key`, `private-token`, …) is never
    /// handed to a server it was not meant for. What is dropped stays
    /// dropped for the rest of the chain, even if a later hop comes back to
    /// the first origin. (Credentials the host injects for a
    /// `credential(...)` are set by the host on each hop, for its declared
    /// hosts only.)
    pub fn follow_redirects(mut self, follow: bool) -> Request {
        self.follow_redirects = follow;
        self
    }

    /// Sends the request and reads the whole response, blocking until done.
    ///
    /// Any HTTP status is a `Response`; an error means there is no response
    /// to look at (see [`Error`]).
    pub fn send(self) -> Result<Response, Error> {
        let Request {
            mut method,
            url,
            mut headers,
            mut body,
            timeout,
            follow_redirects,
        } = self;
        let mut url = url?;
        let mut redirects = 0;
        loop {
            let response = send_once(method, &url, &headers, &body, timeout)?;
            let status = response.status;
            if !follow_redirects || !matches!(status, 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            let Some(location) = response.header("location") else {
                return Ok(response);
            };
            if redirects == MAX_REDIRECTS {
                return Err(Error::TooManyRedirects {
                    url: url.to_string(),
                });
            }
            redirects += 1;
            let next = url.join(location)?;
            let (next_method, keep_body) = redirect_hop(status, method, &url, &next, &mut headers);
            method = next_method;
            if !keep_body {
                body.clear();
            }
            url = next;
        }
    }
}

/// How a redirect with `status` from `from` to `to` changes a request made
/// with `method`: returns the next hop's method and whether the body is
/// repeated, and removes from `headers` (names in lowercase) what must not
/// go on. See [`Request::follow_redirects`] for the rules.
fn redirect_hop(
    status: u16,
    method: Method,
    from: &Url,
    to: &Url,
    headers: &mut Vec<(String, String)>,
) -> (Method, bool) {
    let (method, keep_body) = if (status == 303 && method != Method::Head)
        || (matches!(status, 301 | 302) && method == Method::Post)
    {
        headers.retain(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-type" | "content-length" | "content-encoding"
            )
        });
        (Method::Get, false)
    } else {
        (method, true)
    };
    if to.origin() != from.origin() {
        headers.retain(|(name, _)| {
            let name = name.as_str();
            CROSS_ORIGIN_SAFE.contains(&name) || (keep_body && BODY_HEADERS.contains(&name))
        });
    }
    (method, keep_body)
}

/// One request, no redirects.
fn send_once(
    method: Method,
    url: &Url,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<Response, Error> {
    let fields = wasi::Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|_| Error::InvalidHeader { name: name.clone() })?;
    }
    let request = wasi::OutgoingRequest::new(fields);
    let invalid = |reason: &str| Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    request
        .set_method(&method.to_wasi())
        .map_err(|()| invalid("the method was refused"))?;
    let scheme = if url.https {
        wasi::Scheme::Https
    } else {
        wasi::Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("the scheme was refused"))?;
    request
        .set_authority(Some(&url.authority()))
        .map_err(|()| invalid("the host was refused"))?;
    request
        .set_path_with_query(Some(&url.path_with_query()))
        .map_err(|()| invalid("the path was refused"))?;
    let outgoing_body = request
        .body()
        .map_err(|()| Error::Body("the request body was already taken".into()))?;
    let options = timeout.map(|timeout| {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = wasi::RequestOptions::new();
        // A host that does not support one of these keeps its own limit.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    });

    // Hand the request over first and write the body after, so the host
    // consumes it as it is written.
    let future = outgoing_handler::handle(request, options).map_err(|code| error(code, url))?;
    let written = write_body(outgoing_body, body);
    let response = {
        let pollable = future.subscribe();
        pollable.block();
        match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error(code, url)),
            Some(Err(())) | None => {
                return Err(Error::Transport {
                    url: url.to_string(),
                    message: "the response was lost".into(),
                });
            }
        }
    };
    // The server answered, so a body it did not read in full does not
    // matter any more; without an answer the write error would have been
    // reported above by the host's error code.
    drop(written);

    let status = response.status();
    let headers = {
        let fields = response.headers();
        fields
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect()
    };
    let body = read_body(&response, url)?;
    drop(response);
    Ok(Response {
        status,
        headers,
        body,
        url: url.clone(),
    })
}

/// Writes `body` and finishes it, consuming the body resource.
fn write_body(outgoing: wasi::OutgoingBody, body: &[u8]) -> Result<(), Error> {
    let failed = |what: String| Error::Body(format!("sending the request body failed: {what}"));
    if !body.is_empty() {
        let stream = outgoing
            .write()
            .map_err(|()| failed("the body stream was already taken".into()))?;
        for chunk in body.chunks(WRITE_CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| failed(stream_error(e)))?;
        }
        // The stream must go before its body is finished.
        drop(stream);
    }
    wasi::OutgoingBody::finish(outgoing, None).map_err(|code| failed(describe(&code)))
}

/// Reads the whole response body, in chunks, up to [`MAX_RESPONSE_BODY`].
fn read_body(response: &wasi::IncomingResponse, url: &Url) -> Result<Vec<u8>, Error> {
    let incoming = response
        .consume()
        .map_err(|()| Error::Body("the response body was already taken".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| Error::Body("the response body stream was already taken".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                    return Err(Error::Body(format!(
                        "the response from {} is larger than {} MiB",
                        url.host(),
                        MAX_RESPONSE_BODY / (1024 * 1024)
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match wasi::http_error_code(&e) {
                    Some(code) => error(code, url),
                    None => Error::Body(format!(
                        "reading the response from {} failed: {}",
                        url.host(),
                        e.to_debug_string()
                    )),
                });
            }
        }
    }
    // The stream must go before its body is finished.
    drop(stream);
    drop(wasi::IncomingBody::finish(incoming));
    Ok(body)
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "the stream was closed".into(),
        StreamError::LastOperationFailed(e) => match wasi::http_error_code(&e) {
            Some(code) => describe(&code),
            None => e.to_debug_string(),
        },
    }
}

/// The [`Error`] for a `wasi:http` error code.
fn error(code: wasi::ErrorCode, url: &Url) -> Error {
    use wasi::ErrorCode as E;
    let url_text = url.to_string();
    match code {
        E::HttpRequestDenied => Error::Denied { url: url_text },
        E::DnsTimeout
        | E::ConnectionTimeout
        | E::ConnectionReadTimeout
        | E::ConnectionWriteTimeout
        | E::HttpResponseTimeout => Error::Timeout { url: url_text },
        E::HttpResponseBodySize(_) => Error::Body(format!(
            "the response from {} is larger than the host allows",
            url.host()
        )),
        E::HttpRequestBodySize(_) => {
            Error::Body("the request body is larger than the host allows".into())
        }
        code => Error::Transport {
            url: url_text,
            message: describe(&code),
        },
    }
}

/// A plain description of a `wasi:http` error code.
fn describe(code: &wasi::ErrorCode) -> String {
    use wasi::ErrorCode as E;
    let text = match code {
        E::DnsTimeout => "the DNS lookup timed out",
        E::DnsError(payload) => {
            return match &payload.rcode {
                Some(rcode) => format!("the host name could not be resolved ({rcode})"),
                None => "the host name could not be resolved".into(),
            };
        }
        E::DestinationNotFound => "the destination was not found",
        E::DestinationUnavailable => "the destination is unavailable",
        E::DestinationIpProhibited => "the destination address is prohibited",
        E::DestinationIpUnroutable => "the destination address is unroutable",
        E::ConnectionRefused => "the connection was refused",
        E::ConnectionTerminated => "the connection was closed unexpectedly",
        E::ConnectionTimeout => "connecting timed out",
        E::ConnectionReadTimeout => "waiting for data timed out",
        E::ConnectionWriteTimeout => "sending data timed out",
        E::ConnectionLimitReached => "too many connections are open",
        E::TlsProtocolError => "the TLS handshake failed",
        E::TlsCertificateError => "the server's TLS certificate was not accepted",
        E::TlsAlertReceived(payload) => {
            return match &payload.alert_message {
                Some(message) => format!("the server sent a TLS alert: {message}"),
                None => "the server sent a TLS alert".into(),
            };
        }
        E::HttpRequestDenied => "the host refused the request",
        E::HttpRequestLengthRequired => "the server requires a content length",
        E::HttpRequestBodySize(_) => "the request body is too large",
        E::HttpRequestMethodInvalid => "the request method is invalid",
        E::HttpRequestUriInvalid => "the request URL is invalid",
        E::HttpRequestUriTooLong => "the request URL is too long",
        E::HttpRequestHeaderSectionSize(_) | E::HttpRequestHeaderSize(_) => {
            "the request headers are too large"
        }
        E::HttpRequestTrailerSectionSize(_) | E::HttpRequestTrailerSize(_) => {
            "the request trailers are too large"
        }
        E::HttpResponseIncomplete => "the response was cut short",
        E::HttpResponseHeaderSectionSize(_) | E::HttpResponseHeaderSize(_) => {
            "the response headers are too large"
        }
        E::HttpResponseBodySize(_) => "the response body is too large",
        E::HttpResponseTrailerSectionSize(_) | E::HttpResponseTrailerSize(_) => {
            "the response trailers are too large"
        }
        E::HttpResponseTransferCoding(_) => "the response uses an unsupported transfer coding",
        E::HttpResponseContentCoding(_) => "the response uses an unsupported content coding",
        E::HttpResponseTimeout => "the response timed out",
        E::HttpUpgradeFailed => "the protocol upgrade failed",
        E::HttpProtocolError => "the server broke the HTTP protocol",
        E::LoopDetected => "a request loop was detected",
        E::ConfigurationError => "the host's HTTP configuration is invalid",
        E::InternalError(message) => {
            return match message {
                Some(message) => message.clone(),
                None => "an internal error occurred".into(),
            };
        }
    };
    text.to_owned()
}

/// A complete HTTP response: status, headers and the whole body.
#[derive(Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    url: Url,
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
    /// The status code, e.g. `200`.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of the header `name` (case-insensitive). Values that
    /// are not UTF-8 are decoded lossily.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header as `(lowercase name, value)`, in the order received; a
    /// repeated header appears once per value.
    pub fn headers(&self) -> &[(String, String)] {
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
                self.status
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn invalid(s: &str) -> String {
        match Url::parse(s) {
            Err(Error::InvalidUrl { reason, .. }) => reason,
            other => panic!("{s} parsed: {other:?}"),
        }
    }

    #[test]
    fn parses_urls() {
        let u = url("https://API.Example.com/v1/things?q=x#frag");
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.path(), u.query()),
            ("https", "api.example.com", None, "/v1/things", Some("q=x"))
        );
        assert_eq!(u.origin(), "https://api.example.com");
        assert_eq!(u.to_string(), "https://api.example.com/v1/things?q=x");

        let u = url("http://127.0.0.1:8080");
        assert_eq!(
            (u.host(), u.port(), u.path()),
            ("127.0.0.1", Some(8080), "/")
        );
        assert_eq!(u.origin(), "http://127.0.0.1:8080");

        let u = url("http://[::1]:9000/a?b");
        assert_eq!((u.host(), u.port_or_default()), ("[::1]", 9000));
        assert_eq!(u.to_string(), "http://[::1]:9000/a?b");
        assert_eq!(url("https://[2001:DB8::1]/").host(), "[2001:db8::1]");

        // Default ports are dropped, an empty port means the default.
        assert_eq!(url("https://a.example:443/").port(), None);
        assert_eq!(url("http://a.example:/").port(), None);
        assert_eq!(url("http://a.example:443/").port(), Some(443));
        assert_eq!(url("https://a.example?x=1").path(), "/");
    }

    #[test]
    fn encodes_what_must_be_encoded() {
        let u = url("https://a.example/a b/ü?x=a b&y=%2F&z=100%");
        assert_eq!(u.path(), "/a%20b/%C3%BC");
        assert_eq!(u.query(), Some("x=a%20b&y=%2F&z=100%25"));

        let mut u = url("https://a.example/p");
        u.append_query("q", "blue shoes & socks");
        u.append_query("email", "a+b@example.com");
        assert_eq!(
            u.query(),
            Some("q=blue%20shoes%20%26%20socks&email=a%2Bb%40example.com")
        );
        let mut u = url("https://a.example/p?");
        u.append_query("k", "é");
        assert_eq!(u.query(), Some("k=%C3%A9"));
    }

    #[test]
    fn refuses_bad_urls() {
        assert!(invalid("ftp://a.example/").contains("http and https"));
        assert!(invalid("a.example/x").contains("absolute"));
        assert!(invalid("https://user:pw@a.example/").contains("passwords"));
        assert!(invalid("https:///x").contains("no host"));
        assert!(invalid("https://a.example:99999/").contains("port"));
        assert!(invalid("https://a.example:0/").contains("port"));
        assert!(invalid("https://a.example:8x/").contains("port"));
        assert!(invalid("https://bücher.example/").contains("punycode"));
        assert!(invalid("https://a..example/").contains("malformed"));
        assert!(invalid("https://[::1/").contains("]"));
        assert!(invalid("https://[zz::1]/").contains("IPv6"));
        assert!(invalid("https://[::1]x/").contains("after"));
        assert!(invalid("https://a.example/a\nb").contains("control"));
    }

    #[test]
    fn joins_redirect_locations() {
        let base = url("https://a.example:8443/dir/page?x=1");
        let join = |l: &str| base.join(l).unwrap().to_string();
        assert_eq!(join("http://b.example/z"), "http://b.example/z");
        assert_eq!(join("//c.example/y"), "https://c.example/y");
        assert_eq!(join("/root?q=2"), "https://a.example:8443/root?q=2");
        assert_eq!(join("other"), "https://a.example:8443/dir/other");
        assert_eq!(join("../up/./x"), "https://a.example:8443/up/x");
        assert_eq!(
            join("?only=query"),
            "https://a.example:8443/dir/page?only=query"
        );
        assert_eq!(join(""), "https://a.example:8443/dir/page?x=1");
        assert_eq!(join("sub/"), "https://a.example:8443/dir/sub/");
        assert!(base.join("ftp://x.example/").is_err());
    }

    #[test]
    fn methods_parse() {
        assert_eq!(Method::parse("patch"), Some(Method::Patch));
        assert_eq!(Method::parse("GET"), Some(Method::Get));
        assert_eq!(Method::parse("BREW"), None);
    }

    #[test]
    fn errors_become_tool_errors() {
        let denied = Error::Denied {
            url: "https://evil.example/steal?x=1".into(),
        };
        assert_eq!(
            ToolError::from(denied),
            ToolError::Internal("the tool is not allowed to reach https://evil.example".into())
        );
        let timeout = Error::Timeout {
            url: "https://api.example.com/v1".into(),
        };
        assert_eq!(
            ToolError::from(timeout),
            ToolError::Upstream("api.example.com did not answer in time; try again shortly".into())
        );
        let transport = Error::Transport {
            url: "https://api.example.com/v1".into(),
            message: "the connection was refused".into(),
        };
        assert_eq!(
            ToolError::from(transport.clone()).message(),
            "could not reach api.example.com: the connection was refused"
        );
        assert_eq!(
            transport.to_string(),
            "the request to https://api.example.com failed: the connection was refused"
        );
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Everything a tool might set, credentials of its own naming included.
    const SET: [(&str, &str); 12] = [
        ("accept", "application/json"),
        ("accept-language", "en"),
        ("user-agent", "tool/1"),
        ("authorization", "Bearer t"),
        ("proxy-authorization", "Basic p"),
        ("cookie", "session=s"),
        ("x-api-key", "sk-1"),
        ("x-auth-token", "tok"),
        ("private-token", "glpat"),
        ("referer", "https://a.example/?token=x"),
        ("content-type", "application/json"),
        ("content-length", "2"),
    ];

    #[test]
    fn same_origin_redirects_keep_every_header() {
        let from = url("https://a.example/v1/old");
        for (status, to) in [
            (302, "/v1/new"),
            (307, "https://A.example:443/v2"),
            (308, "?page=2"),
        ] {
            let to = from.join(to).unwrap();
            let mut h = headers(&SET);
            assert_eq!(
                redirect_hop(status, Method::Get, &from, &to, &mut h),
                (Method::Get, true)
            );
            assert_eq!(h, headers(&SET), "{status} {to}");
        }
    }

    #[test]
    fn cross_origin_redirects_keep_only_safe_headers() {
        let from = url("https://a.example/v1");
        // Another host, another scheme, another port: each is another origin.
        for to in [
            "https://b.example/v1",
            "http://a.example/v1",
            "https://a.example:8443/v1",
            "https://sub.a.example/v1",
        ] {
            let to = url(to);
            // The method and body go on: so do the headers describing the body.
            for status in [307, 308] {
                let mut h = headers(&SET);
                assert_eq!(
                    redirect_hop(status, Method::Put, &from, &to, &mut h),
                    (Method::Put, true)
                );
                assert_eq!(
                    names(&h),
                    [
                        "accept",
                        "accept-language",
                        "user-agent",
                        "content-type",
                        "content-length"
                    ],
                    "{status} {to}"
                );
            }
            // A POST turned into a GET loses its body and what describes it.
            for status in [301, 302, 303] {
                let mut h = headers(&SET);
                assert_eq!(
                    redirect_hop(status, Method::Post, &from, &to, &mut h),
                    (Method::Get, false)
                );
                assert_eq!(
                    names(&h),
                    ["accept", "accept-language", "user-agent"],
                    "{status} {to}"
                );
            }
        }
    }

    #[test]
    fn redirect_methods_and_bodies() {
        let from = url("https://a.example/");
        let to = url("https://a.example/next");
        let hop = |status, method| {
            let mut h = headers(&[("content-type", "text/plain"), ("x-api-key", "k")]);
            let next = redirect_hop(status, method, &from, &to, &mut h);
            (next, names(&h).join(","))
        };
        let body_dropped = "x-api-key".to_owned();
        let body_kept = "content-type,x-api-key".to_owned();
        assert_eq!(
            hop(303, Method::Put),
            ((Method::Get, false), body_dropped.clone())
        );
        assert_eq!(
            hop(303, Method::Head),
            ((Method::Head, true), body_kept.clone())
        );
        assert_eq!(
            hop(301, Method::Post),
            ((Method::Get, false), body_dropped.clone())
        );
        assert_eq!(hop(302, Method::Post), ((Method::Get, false), body_dropped));
        assert_eq!(
            hop(302, Method::Put),
            ((Method::Put, true), body_kept.clone())
        );
        assert_eq!(
            hop(307, Method::Post),
            ((Method::Post, true), body_kept.clone())
        );
        assert_eq!(hop(308, Method::Patch), ((Method::Patch, true), body_kept));
    }

    #[test]
    fn debug_hides_header_values() {
        let request = Request::get("https://a.example/").header("x-api-key", "sk-secret");
        let debug = format!("{request:?}");
        assert!(debug.contains("x-api-key"));
        assert!(!debug.contains("sk-secret"));
    }
}

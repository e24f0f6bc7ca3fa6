//! Outbound HTTP for tools: a small blocking client over
//! `wasi:http/outgoing-handler`.
//!
//! ```no_run
//! use std::time::Duration;
//! use warden_sdk::http::{Request, Response, StatusCode};
//! use warden_sdk::prelude::*;
//!
//! # fn demo() -> Result<Value, ToolError> {
//! let response: Response = Request::get("https://api.example.com/v1/things")
//!     .query("q", "blue shoes") // sent as `?q=blue%20shoes`
//!     .header("accept", "application/json")
//!     .timeout(Duration::from_secs(5))
//!     .send()?; // an `http::Error` converts into a `ToolError`
//! match response.status() {
//!     StatusCode::OK => Ok(response.json::<Value>()?),
//!     StatusCode::UNAUTHORIZED => {
//!         Err(ToolError::Unauthorized("the API refused our credentials".into()))
//!     }
//!     StatusCode::NOT_FOUND => Err(ToolError::NotFound("no such thing".into())),
//!     status => Err(ToolError::Upstream(format!("the API answered {status}"))),
//! }
//! # }
//! ```
//!
//! The vocabulary is the ecosystem's: [`Method`], [`StatusCode`] and the
//! header types are the [`http`](https://docs.rs/http) crate's, re-exported
//! here; [`Url`] is a [`url::Url`](https://docs.rs/url) checked to be
//! something this client will send.
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
//!   answer [`ToolError`](crate::ToolError)`::Unauthorized`.
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
//! [`ToolError`](crate::ToolError) (see [`Error`] for the mapping); match on
//! it when a case needs its own message.
//!
//! # Why not `wstd`
//!
//! `wstd` is a well-kept async `wasi:http` client, but tools are synchronous
//! functions and this client is a few blocking calls on the bindings the SDK
//! generates anyway; an async runtime would add size and nothing a tool uses.

mod error;
mod redirect;
mod request;
mod response;
mod transport;
mod url;

pub use self::error::Error;
pub use self::request::Request;
pub use self::response::Response;
pub use self::url::{Url, encode_component};
pub use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
pub use ::http::{Method, StatusCode};

/// The largest response body [`Request::send`] reads (16 MiB); a longer one
/// fails with [`Error::Body`]. The host may enforce a smaller cap.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// How many redirects [`Request::send`] follows before giving up with
/// [`Error::TooManyRedirects`].
pub const MAX_REDIRECTS: usize = 5;

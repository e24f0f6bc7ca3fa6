//! Why a request produced no response, and what the LLM hears about it.

use std::fmt;

use super::{MAX_REDIRECTS, Url};
use crate::ToolError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

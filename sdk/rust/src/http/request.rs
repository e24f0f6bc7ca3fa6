//! Building a request and sending it, following redirects.

use std::fmt;
use std::time::Duration;

use ::http::header::{CONTENT_TYPE, LOCATION};
use ::http::{HeaderName, HeaderValue, Method};
use serde::Serialize;

use super::redirect::{FOLLOWED, redirect_hop};
use super::{Error, MAX_REDIRECTS, Response, Url, transport};

/// An HTTP request under construction. Build it with [`Request::get`] and
/// friends, add what it needs, then [`send`](Request::send) it.
///
/// Nothing is checked until `send`: an invalid URL or header surfaces there.
#[derive(Clone)]
pub struct Request {
    method: Method,
    url: Result<Url, Error>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The first header [`Request::header`] could not take, reported by `send`.
    invalid_header: Option<String>,
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
            invalid_header: None,
            body: Vec::new(),
            timeout: None,
            follow_redirects: true,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl AsRef<str>) -> Request {
        Request::new(Method::GET, url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl AsRef<str>) -> Request {
        Request::new(Method::HEAD, url)
    }

    /// A `POST` request.
    pub fn post(url: impl AsRef<str>) -> Request {
        Request::new(Method::POST, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl AsRef<str>) -> Request {
        Request::new(Method::PUT, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl AsRef<str>) -> Request {
        Request::new(Method::PATCH, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl AsRef<str>) -> Request {
        Request::new(Method::DELETE, url)
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
        let (name, value) = (name.as_ref(), value.as_ref());
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(mut value)) => {
                // Keeps it out of `Debug` output, should anything print it.
                value.set_sensitive(true);
                self.headers.push((name, value));
            }
            _ => {
                self.invalid_header.get_or_insert_with(|| name.to_owned());
            }
        }
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
        self.headers.retain(|(name, _)| name != CONTENT_TYPE);
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
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
            invalid_header,
            mut body,
            timeout,
            follow_redirects,
        } = self;
        let mut url = url?;
        if let Some(name) = invalid_header {
            return Err(Error::InvalidHeader { name });
        }
        let mut redirects = 0;
        loop {
            let response = transport::send_once(&method, &url, &headers, &body, timeout)?;
            let status = response.status;
            if !follow_redirects || !FOLLOWED.contains(&status) {
                return Ok(response);
            }
            let Some(location) = response.headers.get(LOCATION) else {
                return Ok(response);
            };
            let location = String::from_utf8_lossy(location.as_bytes());
            if redirects == MAX_REDIRECTS {
                return Err(Error::TooManyRedirects {
                    url: url.to_string(),
                });
            }
            redirects += 1;
            let next = url.join(&location)?;
            let (next_method, keep_body) = redirect_hop(status, &method, &url, &next, &mut headers);
            method = next_method;
            if !keep_body {
                body.clear();
            }
            url = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_header_values() {
        let request = Request::get("https://a.example/").header("x-api-key", "sk-secret");
        let debug = format!("{request:?}");
        assert!(debug.contains("x-api-key"));
        assert!(!debug.contains("sk-secret"));
    }
}

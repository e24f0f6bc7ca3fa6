//! The host's outbound HTTP policy for `wasi:http/outgoing-handler`.
//!
//! Deny by default: with no policy granting anything, every request a tool
//! makes is refused with `HTTP-request-denied` and recorded, so a call that
//! fails because of it can be reported as `host_denied`.

use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// What the policy refused during one call, for the call report.
#[derive(Debug, Default)]
pub(crate) struct HttpPolicy {
    /// `scheme://host[:port]` of each refused request, in order.
    pub denied: Vec<String>,
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                )>,
            > + Send,
    > {
        // Never log the path or query: they may carry tokens.
        let uri = request.uri();
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("?"),
            uri.authority().map(|a| a.as_str()).unwrap_or("?")
        );
        tracing::debug!(%origin, "outbound request denied by policy");
        self.denied.push(origin);
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

//! The policy as wasmtime's `WasiHttpHooks`: admission, then the send path
//! inside the request's tracing span.

use super::policy::HttpPolicy;
use tracing::Instrument as _;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let admitted = self.admit(request.method(), request.uri());
        // Method, host, port and status: never the path's query, headers
        // or bodies, which may carry tokens.
        let uri = request.uri();
        let span = tracing::info_span!(
            "HTTP outbound",
            otel.name = %request.method(),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = %request.method(),
            server.address = uri.host(),
            server.port = uri.port_u16(),
            url.scheme = uri.scheme_str(),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        Box::new(
            async move {
                let (out, target) = admitted?;
                let response = out.send(request, target, options).await;
                let span = tracing::Span::current();
                match &response {
                    Ok(response) => {
                        span.record("http.response.status_code", response.status().as_u16());
                    }
                    Err(e) => {
                        span.record("error.type", error_type(e));
                        span.record("otel.status_code", "ERROR");
                    }
                }
                Ok((
                    response?,
                    Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                ))
            }
            .instrument(span),
        )
    }
}

/// The variant of a wasi-http error code, without any text it carries.
fn error_type(e: &HttpError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

//! One request over `wasi:http/outgoing-handler`, and the host's error
//! codes in plain words.

use std::time::Duration;

use ::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::{Error, MAX_RESPONSE_BODY, Response, Url};
use crate::__private::bindings::wasi::http::outgoing_handler;
use crate::__private::bindings::wasi::http::types as wasi;
use crate::__private::bindings::wasi::io::streams::StreamError;

/// Request bodies are written in chunks of at most this many bytes.
const WRITE_CHUNK: usize = 4096;

/// Response bodies are read in chunks of at most this many bytes.
const READ_CHUNK: u64 = 64 * 1024;

/// The `wasi:http` method for `method`; methods without a case of their own
/// (the host refuses `TRACE` and `CONNECT` anyway) go as `other`.
fn to_wasi(method: &Method) -> wasi::Method {
    match *method {
        Method::GET => wasi::Method::Get,
        Method::HEAD => wasi::Method::Head,
        Method::POST => wasi::Method::Post,
        Method::PUT => wasi::Method::Put,
        Method::PATCH => wasi::Method::Patch,
        Method::DELETE => wasi::Method::Delete,
        Method::OPTIONS => wasi::Method::Options,
        Method::TRACE => wasi::Method::Trace,
        Method::CONNECT => wasi::Method::Connect,
        ref other => wasi::Method::Other(other.as_str().to_owned()),
    }
}

/// One request, no redirects.
pub(super) fn send_once(
    method: &Method,
    url: &Url,
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<Response, Error> {
    let fields = wasi::Fields::new();
    for (name, value) in headers {
        fields
            .append(name.as_str(), value.as_bytes())
            .map_err(|_| Error::InvalidHeader {
                name: name.as_str().to_owned(),
            })?;
    }
    let request = wasi::OutgoingRequest::new(fields);
    let invalid = |reason: &str| Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    request
        .set_method(&to_wasi(method))
        .map_err(|()| invalid("the method was refused"))?;
    let scheme = if url.is_https() {
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
        .set_path_with_query(Some(url.path_with_query()))
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

    let status = StatusCode::from_u16(response.status()).map_err(|_| Error::Transport {
        url: url.to_string(),
        message: format!(
            "the server answered the invalid status {}",
            response.status()
        ),
    })?;
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers().entries() {
        // The host's fields hold only valid names and values.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_wasi() {
        assert!(matches!(to_wasi(&Method::PATCH), wasi::Method::Patch));
        assert!(matches!(to_wasi(&Method::GET), wasi::Method::Get));
        let brew = Method::from_bytes(b"BREW").unwrap();
        assert!(matches!(to_wasi(&brew), wasi::Method::Other(name) if name == "BREW"));
    }
}

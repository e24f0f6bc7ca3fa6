//! Sends one HTTP/1.1 request to an address the policy already checked.
//!
//! Like `wasmtime_wasi_http::default_send_request`, but the connection goes
//! to the resolved, checked address (never a second lookup), and the response
//! body is capped.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// Timeouts and caps for one request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendLimits {
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub max_response_body_bytes: u64,
    /// When the connection is torn down whatever happens.
    pub deadline: std::time::Instant,
}

/// A TLS-capable HTTP/1.1 client; one per sandbox.
#[derive(Clone)]
pub(crate) struct Client {
    tls: tokio_rustls::TlsConnector,
}

impl Client {
    pub fn new() -> Client {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Client {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// Sends `request` (whose URI still carries scheme and authority) to
    /// `addr`, verifying TLS certificates against `host`.
    pub async fn send<B>(
        &self,
        mut request: http::Request<B>,
        addr: SocketAddr,
        host: &str,
        https: bool,
        limits: SendLimits,
    ) -> Result<http::Response<WasiBody>, HttpError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let connect = async {
            let tcp = TcpStream::connect(addr).await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    HttpError::ConnectionRefused
                } else {
                    HttpError::Connect(e)
                }
            })?;
            let _ = tcp.set_nodelay(true);
            let deadline = tokio::time::Instant::from_std(limits.deadline);
            if !https {
                return plain_handshake(tcp, deadline).await;
            }
            let name = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => rustls::pki_types::ServerName::from(ip),
                Err(_) => rustls::pki_types::ServerName::try_from(host.to_owned())?,
            };
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|_| HttpError::TlsCertificateError)?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake::<_, B>(TokioIo::new(tls)).await?;
            tokio::spawn(tokio::time::timeout_at(deadline, drive(conn)));
            Ok(sender)
        };
        let mut sender = tokio::time::timeout(limits.connect_timeout, connect)
            .await
            .map_err(|_| HttpError::ConnectionTimeout)??;

        // The request line carries only the path: scheme and authority are
        // for proxies. The `host` header is already set.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        *request.uri_mut() = http::Uri::builder()
            .path_and_query(path)
            .build()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;

        let response =
            tokio::time::timeout(limits.first_byte_timeout, sender.send_request(request))
                .await
                .map_err(|_| HttpError::ConnectionReadTimeout)??;
        Ok(response.map(|incoming| {
            CappedBody {
                inner: incoming,
                remaining: limits.max_response_body_bytes,
                limit: limits.max_response_body_bytes,
            }
            .boxed_unsync()
        }))
    }
}

async fn plain_handshake<B>(
    tcp: TcpStream,
    deadline: tokio::time::Instant,
) -> Result<hyper::client::conn::http1::SendRequest<B>, HttpError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, conn) = hyper::client::conn::http1::handshake::<_, B>(TokioIo::new(tcp)).await?;
    tokio::spawn(tokio::time::timeout_at(deadline, drive(conn)));
    Ok(sender)
}

/// Drives a connection until the response is read or the request dropped.
async fn drive(conn: impl Future<Output = Result<(), hyper::Error>>) {
    if let Err(e) = conn.await {
        tracing::debug!("outbound connection ended: {e}");
    }
}

/// A response body that fails once it exceeds its cap.
struct CappedBody {
    inner: hyper::body::Incoming,
    remaining: u64,
    limit: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.remaining {
                self.remaining = 0;
                return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(self.limit)))));
            }
            self.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads a whole request body into memory (so it can be sent again after an
/// OAuth2 refresh), drawing its bytes from the call's `budget`.
pub(crate) async fn collect_limited(
    body: WasiBody,
    budget: &std::sync::atomic::AtomicU64,
    limit: u64,
) -> Result<Bytes, HttpError> {
    use std::sync::atomic::Ordering;
    let mut body = body;
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let len = data.len() as u64;
            budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(len)
                })
                .map_err(|_| HttpError::HttpRequestBodySize(Some(limit)))?;
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

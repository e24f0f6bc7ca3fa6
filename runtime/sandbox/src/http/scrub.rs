//! Response scrubbing: every spelling of a host-only secret
//! (`crate::encodings`) is overwritten in response headers and bodies
//! before the guest reads them, so an upstream that reflects the request
//! (echo endpoints, debugging APIs, error pages) cannot hand the guest the
//! credential the host injected.

use crate::encodings::Scrubber;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// Scrubs `response`'s header values and body with `scrubber`.
pub(crate) fn response(
    mut response: http::Response<WasiBody>,
    scrubber: Arc<Scrubber>,
) -> http::Response<WasiBody> {
    for value in response.headers_mut().values_mut() {
        let mut bytes = value.as_bytes().to_vec();
        if scrubber.scrub(&mut bytes) {
            // `*` keeps a valid header value valid.
            *value = http::HeaderValue::from_bytes(&bytes).expect("still a header value");
        }
    }
    response.map(|inner| {
        ScrubbedBody {
            inner,
            scrubber,
            held: BytesMut::new(),
            ended: false,
            trailers: None,
        }
        .boxed_unsync()
    })
}

/// A body whose data passes through a [`Scrubber`]. It holds back the last
/// `overlap` bytes of what it has seen, so a secret split across two frames
/// is scrubbed whole; the held bytes go out with the next frame or at the
/// end. Lengths are kept, so the size hint stays true.
struct ScrubbedBody {
    inner: WasiBody,
    scrubber: Arc<Scrubber>,
    held: BytesMut,
    ended: bool,
    /// Trailers that arrived while bytes were held back.
    trailers: Option<Frame<Bytes>>,
}

impl Body for ScrubbedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                if this.held.is_empty() {
                    return Poll::Ready(this.trailers.take().map(Ok));
                }
                let mut rest = std::mem::take(&mut this.held);
                this.scrubber.scrub(&mut rest);
                return Poll::Ready(Some(Ok(Frame::data(rest.freeze()))));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.ended = true,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let data = match frame.into_data() {
                        Ok(data) => data,
                        // Trailers end the body: they go out after what
                        // is held.
                        Err(frame) => {
                            this.trailers = Some(frame);
                            this.ended = true;
                            continue;
                        }
                    };
                    this.held.extend_from_slice(&data);
                    this.scrubber.scrub(&mut this.held);
                    let keep = this.scrubber.overlap().min(this.held.len());
                    let ready = this.held.len() - keep;
                    if ready == 0 {
                        continue;
                    }
                    let out = this.held.split_to(ready);
                    return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.held.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let held = self.held.len() as u64;
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + held);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + held);
        }
        hint
    }
}

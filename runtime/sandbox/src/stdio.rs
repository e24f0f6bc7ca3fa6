//! Bounded capture of a tool's stdout and stderr.
//!
//! A tool that prints more than the limit keeps running: the excess is
//! dropped (and counted), never turned into a write error that would make an
//! innocent `println!` panic.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

/// An output stream that keeps the first `capacity` bytes written to it.
#[derive(Debug, Clone)]
pub(crate) struct BoundedOutput {
    capacity: usize,
    inner: Arc<Mutex<Captured>>,
}

impl BoundedOutput {
    pub fn new(capacity: usize) -> Self {
        BoundedOutput {
            capacity,
            inner: Arc::default(),
        }
    }

    fn append(&self, buf: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(inner.bytes.len());
        let kept = buf.len().min(room);
        inner.bytes.extend_from_slice(&buf[..kept]);
        inner.dropped += buf.len() - kept;
    }

    /// What was captured, as (lossy) UTF-8, and how many bytes were dropped.
    pub fn contents(&self) -> (String, usize) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (
            String::from_utf8_lossy(&inner.bytes).into_owned(),
            inner.dropped,
        )
    }
}

impl IsTerminal for BoundedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for BoundedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for BoundedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl AsyncWrite for BoundedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

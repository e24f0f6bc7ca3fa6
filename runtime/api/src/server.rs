//! The HTTP/1.1 server loop: hyper connections under Warden's limits.
//!
//! `axum::serve` has no timeouts and no connection cap, so a client that
//! opens connections and never finishes a request holds them (and their file
//! descriptors) forever. Here every connection:
//!
//! * counts against [`ServerLimits::max_connections`] and, per client
//!   address, [`ServerLimits::max_connections_per_ip`]; a connection over
//!   either cap is closed as soon as it is accepted;
//! * must deliver each request's headers within
//!   [`ServerLimits::header_read_timeout`], counted from when the connection
//!   opens or from the end of the previous response, so it is also the
//!   keep-alive idle timeout;
//! * must deliver each request body within
//!   [`ServerLimits::request_body_timeout`];
//! * is closed gracefully when the server shuts down.

use crate::self_wake::SelfWakes;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// What one listener allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Open connections at once, all clients together.
    pub max_connections: usize,
    /// Open connections at once from one client address; 0 for no cap
    /// (behind a reverse proxy every connection comes from the proxy).
    pub max_connections_per_ip: usize,
    /// Time for a request's headers to arrive, from when the connection
    /// opens or from the end of the previous response.
    pub header_read_timeout: Duration,
    /// Time for a request's body to arrive once its headers did.
    pub request_body_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 10_000,
            max_connections_per_ip: 512,
            header_read_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves,
/// then stops accepting and waits for in-flight requests (bound that wait by
/// racing this future against a timer if needed). Accepted sockets get
/// `TCP_NODELAY`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.request_body_timeout));
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = Arc::new(PerIp {
        max: limits.max_connections_per_ip,
        open: Mutex::default(),
    });
    let stopping = CancellationToken::new();
    let tasks = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: neither is fatal. Back off briefly
                    // so a full descriptor table is not spun on.
                    tracing::debug!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!("connection refused: {} open", limits.max_connections);
            continue;
        };
        let Some(ip_slot) = PerIp::enter(&per_ip, peer.ip()) else {
            tracing::debug!("connection refused: too many open from one address");
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::trace!("failed to set TCP_NODELAY: {error}");
        }
        let service = TowerToHyperService::new(router.clone());
        let stopping = stopping.clone();
        // Polled again at once when a request wakes its own connection (see
        // `self_wake.rs`), instead of waking another worker thread.
        tasks.spawn(SelfWakes::new(async move {
            let _held = (permit, ip_slot);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::trace!("connection ended: {error}");
            }
        }));
    }
    drop(listener);
    stopping.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Open connections per client address; entries go when their count does.
struct PerIp {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIp {
    fn enter(this: &Arc<PerIp>, ip: IpAddr) -> Option<IpSlot> {
        if this.max == 0 {
            return Some(IpSlot(None));
        }
        let mut open = this.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= this.max {
            return None;
        }
        *count += 1;
        Some(IpSlot(Some((this.clone(), ip))))
    }
}

/// One connection counted against its address; uncounted on drop.
struct IpSlot(Option<(Arc<PerIp>, IpAddr)>);

impl Drop for IpSlot {
    fn drop(&mut self) {
        let Some((per_ip, ip)) = self.0.take() else {
            return;
        };
        let mut open = per_ip.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

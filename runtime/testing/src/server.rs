//! The HTTP server every stand-in runs: axum on a tokio task, shut down on drop.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server; dropping it stops accepting connections and closes the
/// open ones once their in-flight requests finish.
pub(crate) struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `router` on a new tokio task.
    pub(crate) async fn start(router: Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("warden-testing: bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("warden-testing: local address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // Either an explicit signal or the handle being dropped.
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                eprintln!("warden-testing: server on {addr} failed: {error}");
            }
        });
        Server {
            addr,
            shutdown: Some(shutdown),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("warden-testing: operating system randomness");
    bytes
}

/// `N` random bytes as lowercase hex.
pub(crate) fn random_hex<const N: usize>() -> String {
    random_bytes::<N>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

//! warden-api's integration tests: the router served on a real bound port,
//! over a real store (SQLite, and PostgreSQL when `WARDEN_TEST_POSTGRES_URL`
//! is set) and a real sandbox running the components built from `tools/`.

// The store's test databases (SQLite file / throwaway PostgreSQL database).
#[path = "../../../store/tests/all/support.rs"]
#[allow(
    dead_code,
    reason = "shared with the store's tests; not every helper is used here"
)]
mod support;

mod calls;
mod console;
mod mcp;
mod oauth;
mod once;
mod phone;
mod routes;
mod worker;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use support::TestDb;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use warden_api::{ApiSettings, Role};
use warden_core::KeyRing;
use warden_core::{Core, CoreSettings};
use warden_sandbox::{Sandbox, SandboxConfig};

/// One sandbox for the test binary, as in a server.
pub fn sandbox() -> Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            Sandbox::new(SandboxConfig {
                max_instances: 32,
                ..SandboxConfig::default()
            })
            .expect("sandbox")
        })
        .clone()
}

pub fn keys() -> KeyRing {
    support::ring(&support::entry("k1", 7))
}

pub fn component(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every log line of the test binary (all levels down to DEBUG), to look for
/// leaked secrets.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

/// Asserts that `needle` appeared in no log line so far (of any test).
#[track_caller]
pub fn assert_never_logged(needle: &str) {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!logs.is_empty(), "no logs were captured");
    let logs = String::from_utf8_lossy(&logs);
    for spelling in warden_sandbox::redacted_spellings(needle) {
        assert!(
            !logs.contains(&spelling),
            "a secret appeared in a log line (spelled {spelling:?})"
        );
    }
}

/// Whether some log line so far (of any test) contains every one of `needles`.
pub fn logged(needles: &[&str]) -> bool {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs)
        .lines()
        .any(|line| needles.iter().all(|needle| line.contains(needle)))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with `status` and `kind`.
    #[track_caller]
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["kind"], kind, "{body}");
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string() && body["type"].is_string());
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        body
    }
}

/// Who a request is made as: an organization's API key on `/v1`, or a
/// console session (its cookie and CSRF token) on `/console/api/v1`.
#[derive(Debug, Clone)]
pub enum Caller {
    Key(String),
    Console { cookie: String, csrf: String },
}

/// A Warden API served on 127.0.0.1:0 for one test.
pub struct Server {
    pub addr: SocketAddr,
    pub core: Core,
    /// Every response body this server sent, to look for leaked secrets.
    pub seen: Arc<Mutex<Vec<u8>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(db: &TestDb, core: CoreSettings, api: ApiSettings) -> Server {
        capture_logs();
        let core = Core::new(db.store.clone(), sandbox(), keys(), core);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let api = ApiSettings {
            public_url: format!("http://{addr}"),
            ..api
        };
        let router = warden_api::router(core.clone(), api);
        let task = tokio::spawn(warden_api::serve(
            listener,
            router,
            warden_api::ServerLimits::default(),
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            core,
            seen: Arc::default(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn default(db: &TestDb) -> Server {
        Self::start(db, CoreSettings::default(), ApiSettings::default()).await
    }

    pub async fn with_role(db: &TestDb, role: Role) -> Server {
        Self::start(
            db,
            CoreSettings::default(),
            ApiSettings {
                role,
                ..ApiSettings::default()
            },
        )
        .await
    }

    /// A new organization and its API key.
    pub async fn org(&self, name: &str) -> String {
        let (_, key) = self.core.create_organization(name).await.unwrap();
        key.key.expose_secret().to_owned()
    }

    /// A new worker token.
    pub async fn worker_token(&self) -> String {
        let issued = self.core.create_worker_token("test worker").await.unwrap();
        issued.token.expose_secret().to_owned()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        self.seen.lock().unwrap().extend_from_slice(&body);
        assert!(
            status < 500 || status == 502 || status == 503 || status == 504,
            "{method} {path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), &[], Vec::new()).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send("DELETE", path, Some(token), &[], Vec::new())
            .await
    }

    pub async fn json(&self, method: &str, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            method,
            path,
            Some(token),
            &[("content-type", "application/json")],
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn upload(&self, token: &str, bytes: Vec<u8>) -> Reply {
        self.send(
            "POST",
            "/v1/tools",
            Some(token),
            &[("content-type", "application/wasm")],
            bytes,
        )
        .await
    }

    /// Signs in to the console with `key`: the session's cookie (as a
    /// browser would send it back) and CSRF token.
    pub async fn console(&self, key: &str) -> Caller {
        let reply = self
            .send(
                "POST",
                "/console/api/session",
                None,
                &[("content-type", "application/json")],
                serde_json::to_vec(&serde_json::json!({ "api_key": key })).unwrap(),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let set_cookie = reply.header("set-cookie").expect("a session cookie");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let csrf = reply.json()["csrf_token"].as_str().unwrap().to_owned();
        Caller::Console { cookie, csrf }
    }

    /// `method path` (a `/v1` path) as `caller`, with a JSON body if any.
    pub async fn call(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut headers = Vec::new();
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        match caller {
            Caller::Key(key) => self.send(method, path, Some(key), &headers, body).await,
            Caller::Console { cookie, csrf } => {
                headers.push(("cookie", cookie));
                headers.push(("x-csrf-token", csrf));
                self.send(method, &format!("/console/api{path}"), None, &headers, body)
                    .await
            }
        }
    }

    /// Asserts that `needle` appeared in no response body so far.
    #[track_caller]
    pub fn assert_never_sent(&self, needle: &str) {
        let seen = self.seen.lock().unwrap();
        let seen = String::from_utf8_lossy(&seen);
        for spelling in warden_sandbox::redacted_spellings(needle) {
            assert!(
                !seen.contains(&spelling),
                "a secret appeared in a response body (spelled {spelling:?})"
            );
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

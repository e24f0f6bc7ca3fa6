//! `warden-api`: Warden's HTTP surfaces on axum.
//!
//! * `/v1` — the safe management API, authenticated by organization API keys
//!   (`Authorization: Bearer wdn_…`), everything scoped to the key's
//!   organization ([`warden_core::Catalog`]).
//! * `/worker/v1` — the worker plane, authenticated by worker tokens
//!   (`wdw_…`): an agent's toolset as LLM function schemas, invocations, and
//!   call sessions for inbound calls.
//! * `/mcp` — MCP (streamable HTTP) for one call, authenticated by the call
//!   session's token (`wds_…`): the session agent's tools ([`mcp`]).
//! * `/healthz`, `/readyz`, `/metrics` (Prometheus text), `/openapi.json`
//!   (generated with utoipa) and `/docs` (a self-contained reference page),
//!   unauthenticated.
//!
//! Every error is `application/problem+json` with a `kind`; the status
//! mapping is documented in [`problem`]. Nothing here ever returns or logs a
//! secret: secret bodies are parsed straight into `SecretString`, their
//! rejections never quote the body, and request spans record only the
//! method, the matched route and the status ([`telemetry`]).

pub mod console;
mod dto;
mod extract;
mod livekit;
pub mod mcp;
pub mod oauth;
mod openapi;
pub mod problem;
mod rate_limit;
mod self_wake;
mod server;
mod system;
mod telemetry;
mod v1;
mod worker;

pub use problem::{ApiError, PROBLEM_JSON, Problem};
pub use server::{ServerLimits, serve};
pub use telemetry::{MetricsEndpoint, metrics_router};
pub use v1::{DEFAULT_PAGE_SIZE, MAX_COMPONENT_BYTES, MAX_PAGE_SIZE};
pub use worker::DEADLINE_HEADER;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use rate_limit::Limiter;
use std::sync::Arc;
use warden_core::Core;

/// JSON request bodies: at most 1 MiB.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Which surfaces a replica serves. Every role also serves `/healthz`,
/// `/readyz`, `/openapi.json` and `/docs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Role {
    /// `/v1`, `/worker/v1` and `/mcp`.
    #[default]
    All,
    /// `/v1` only.
    Api,
    /// `/worker/v1` and `/mcp` only.
    Worker,
}

/// A token bucket per (organization, tool) on invocations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained calls per second.
    pub per_second: f64,
    /// Calls allowed at once on a full bucket.
    pub burst: u32,
}

impl RateLimit {
    /// The default for uploads: 12 a minute per organization, 10 at once.
    pub const UPLOADS: RateLimit = RateLimit {
        per_second: 0.2,
        burst: 10,
    };
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 50.0,
            burst: 100,
        }
    }
}

/// How the router is built.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// Which surfaces to mount.
    pub role: Role,
    /// Invocation rate limit per (organization, tool); `None` turns it off.
    pub rate_limit: Option<RateLimit>,
    /// Upload (`POST /v1/tools`) rate limit per organization; `None` turns
    /// it off. Uploads also run one at a time per organization (core).
    pub upload_rate_limit: Option<RateLimit>,
    /// Where clients reach this server (`https://warden.example.com`), for
    /// the URLs it hands out, such as a call session's MCP URL. `warden
    /// serve` defaults it to `http://{bind address}`.
    pub public_url: String,
    /// What `GET /metrics` serves; `None` answers it 404.
    pub metrics: Option<MetricsEndpoint>,
}

/// [`ApiSettings::public_url`] when none is given: `warden serve`'s default
/// address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            role: Role::All,
            rate_limit: Some(RateLimit::default()),
            upload_rate_limit: Some(RateLimit::UPLOADS),
            public_url: DEFAULT_PUBLIC_URL.to_owned(),
            metrics: None,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) core: Core,
    pub(crate) limiter: Option<Arc<Limiter>>,
    pub(crate) upload_limiter: Option<Arc<Limiter>>,
    pub(crate) openapi: axum::body::Bytes,
    /// The MCP endpoint's public URL, handed out with call sessions.
    pub(crate) mcp_url: Arc<str>,
    /// The OAuth2 callback's public URL: the redirect URI of connections.
    pub(crate) oauth_callback_url: Arc<str>,
    /// The public URL's origin (`https://warden.example.com`), which the
    /// console's requests may name as their `Origin`.
    pub(crate) public_origin: Arc<str>,
    /// Whether the console's cookie is `Secure` (the public URL is HTTPS).
    pub(crate) secure_cookies: bool,
    pub(crate) metrics: Option<MetricsEndpoint>,
    pub(crate) http_metrics: telemetry::HttpMetrics,
}

/// The application: the routes of `settings.role`, body limits, problem+json
/// for unknown routes and methods, and request spans and metrics
/// ([`telemetry`]).
pub fn router(core: Core, settings: ApiSettings) -> Router {
    let state = AppState {
        core,
        limiter: settings.rate_limit.and_then(Limiter::new).map(Arc::new),
        upload_limiter: settings
            .upload_rate_limit
            .and_then(Limiter::new)
            .map(Arc::new),
        openapi: axum::body::Bytes::from(system::openapi_document()),
        mcp_url: format!(
            "{}{}",
            settings.public_url.trim_end_matches('/'),
            mcp::MCP_PATH
        )
        .into(),
        oauth_callback_url: format!(
            "{}{}",
            settings.public_url.trim_end_matches('/'),
            oauth::CALLBACK_PATH
        )
        .into(),
        public_origin: origin_of(&settings.public_url).into(),
        secure_cookies: settings.public_url.starts_with("https://"),
        metrics: settings.metrics,
        http_metrics: telemetry::HttpMetrics::new(),
    };
    let mut app = system::routes();
    if matches!(settings.role, Role::All | Role::Api) {
        app = app
            .merge(v1::routes())
            .merge(oauth::routes())
            .merge(oauth::callback_routes())
            .merge(console::routes(&state));
    }
    if matches!(settings.role, Role::All | Role::Worker) {
        app = app
            .merge(worker::routes())
            .merge(livekit::routes())
            .merge(mcp::routes(&state));
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}

/// `scheme://authority` of a URL (what a browser sends as `Origin`).
fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{authority}")
        }
        None => url.to_owned(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

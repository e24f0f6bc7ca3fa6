//! The console at `/console`: a browser app embedded in the binary, and the
//! routes it calls.
//!
//! * `/console/` serves the built app (`console/dist`, embedded at compile
//!   time) under a Content-Security-Policy that allows scripts and styles
//!   from this origin only: no inline script, no `eval`.
//! * `POST /console/api/session` exchanges an organization API key for a
//!   session, sent back only as an HttpOnly, SameSite=Strict cookie scoped
//!   to `/console/api`; the page never keeps the key. `GET` tells the page
//!   its session (and CSRF token), `DELETE` signs out.
//! * `/console/api/v1/…` is the `/v1` API with the session standing in for
//!   the key: the same handlers, so the same organization scoping, limits,
//!   audit and errors. A request that changes anything must carry the
//!   session's CSRF token in `X-CSRF-Token`, and is refused if the browser
//!   says it comes from another site.
//!
//! The cookie is accepted nowhere else: `/v1`, `/worker/v1` and `/mcp` read
//! only the `Authorization` header, and browsers do not send the cookie
//! outside `/console/api`.

use crate::AppState;
use crate::extract::SecretJson;
use crate::problem::ApiError;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use rust_embed::Embed;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use warden_core::{CONSOLE_SESSION_TTL, ConsoleSessionView, Principal};

/// The built console (`npm run build` in `console/`).
#[derive(Embed)]
#[folder = "../../console/dist"]
struct Assets;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "warden_console";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Where the cookie is sent.
const COOKIE_PATH: &str = "/console/api";
/// The console's Content-Security-Policy.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";
/// The longest `Cookie` value read for the session.
const MAX_COOKIE_TOKEN: usize = 256;

/// The session a console request acts for, put there by
/// [`require_session`] and read by [`crate::extract::OrgAuth`].
#[derive(Clone)]
pub(crate) struct ConsolePrincipal(pub(crate) Principal);

pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let api = crate::v1::routes()
        .merge(crate::oauth::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_session,
        ));
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(index))
        .route("/console/{*file}", get(asset))
        .route(
            "/console/api/session",
            get(session).post(sign_in).delete(sign_out),
        )
        .nest("/console/api", api)
}

// ----- the app -----

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

/// One embedded file, revalidated by its hash (`ETag`).
fn serve(file: &str, request: &HeaderMap) -> Response {
    let Some(found) = Assets::get(file) else {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such console file")
            .into_response();
    };
    let etag = format!("\"{}\"", hex(&found.metadata.sha256_hash()));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        found.data.into_owned().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(file)),
    );
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure_page(headers);
    response
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The headers every console response carries.
fn secure_page(headers: &mut HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

// ----- the session -----

/// `POST /console/api/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    api_key: SecretString,
}

/// A console session as the page sees it.
#[derive(Serialize)]
struct SessionBody {
    organization_id: String,
    organization_name: String,
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

impl SessionBody {
    fn new(view: ConsoleSessionView, organization_name: String) -> Self {
        SessionBody {
            organization_id: view.principal.organization_id,
            organization_name,
            csrf_token: view.csrf_token,
            expires_at: view.expires_at,
        }
    }
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<SecretJson<SignIn>, ApiError>,
) -> Result<Response, ApiError> {
    same_site(&state, &headers)?;
    let SecretJson(body) = body
        .map_err(|e| e.with_detail("the body must be a JSON object `{\"api_key\": \"wdn_…\"}`"))?;
    let signed = state
        .core
        .sign_in_console(body.api_key.expose_secret())
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        signed.token.expose_secret(),
        CONSOLE_SESSION_TTL.as_secs(),
        if state.secure_cookies { "; Secure" } else { "" },
    );
    let mut response =
        Json(SessionBody::new(signed.session, signed.organization_name)).into_response();
    set_cookie(&mut response, &cookie);
    Ok(response)
}

async fn session(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let view = current(&state, &headers).await?;
    let name = state.core.console_organization_name(&view).await?;
    let mut response = Json(SessionBody::new(view, name)).into_response();
    no_store(&mut response);
    Ok(response)
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = cookie_token(&headers) {
        // A live session is ended only by its own page.
        if let Ok(view) = state.core.console_session(&token).await {
            guard_change(&state, &headers, &view)?;
            state.core.sign_out_console(&token).await?;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(
        &mut response,
        &format!("{SESSION_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    Ok(response)
}

/// Lets a console API request through with its session's principal, or
/// refuses it: 401 without a live session, 403 when a request that may
/// change something lacks the CSRF token or comes from another site.
async fn require_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let view = current(&state, request.headers()).await?;
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        guard_change(&state, request.headers(), &view)?;
    }
    request
        .extensions_mut()
        .insert(ConsolePrincipal(view.principal));
    let mut response = next.run(request).await;
    no_store(&mut response);
    Ok(response)
}

/// The live session of the request's cookie, or 401.
async fn current(state: &AppState, headers: &HeaderMap) -> Result<ConsoleSessionView, ApiError> {
    let token = cookie_token(headers)
        .ok_or_else(|| ApiError::unauthenticated("sign in to the console first"))?;
    state
        .core
        .console_session(&token)
        .await
        .map_err(|_| ApiError::unauthenticated("the console session has ended: sign in again"))
}

/// A state-changing request must come from the console's own page.
fn guard_change(
    state: &AppState,
    headers: &HeaderMap,
    view: &ConsoleSessionView,
) -> Result<(), ApiError> {
    same_site(state, headers)?;
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if presented.is_empty() || !view.csrf_matches(presented) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "this request must carry the session's `X-CSRF-Token`",
        ));
    }
    Ok(())
}

/// Refuses a request the browser marks as coming from another site (Fetch
/// metadata), or whose `Origin` is neither this server's public URL nor the
/// host the request was sent to.
fn same_site(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "console requests must come from the console's own page",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.as_bytes();
        let host = headers.get(header::HOST).map(HeaderValue::as_bytes);
        let authority = origin
            .iter()
            .position(|&b| b == b':')
            .and_then(|at| origin.get(at + 3..))
            .filter(|_| origin.starts_with(b"http://") || origin.starts_with(b"https://"));
        let own_host = host.is_some() && authority == host;
        if !own_host && origin != state.public_origin.as_bytes() {
            return Err(refused());
        }
    }
    Ok(())
}

/// The session token in the request's `Cookie` headers, if any.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The cookie `name` in the request's `Cookie` headers, if any (at most
/// [`MAX_COOKIE_TOKEN`] bytes: every Warden cookie is shorter).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && value.len() <= MAX_COOKIE_TOKEN)
        .map(str::to_owned)
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    no_store(response);
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

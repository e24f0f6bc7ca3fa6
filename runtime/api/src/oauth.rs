//! Connecting an account for a tool that declares OAuth2.
//!
//! `POST /v1/tools/{tool_id}/oauth/start` (an organization key) gives the
//! provider's authorization URL; the provider sends the operator's browser
//! back to the public `GET /oauth/callback`, which exchanges the code and
//! answers with a small page saying what happened (no script, nothing
//! loaded from anywhere, never cached, never sent as a referrer: the URL
//! holds the code). `DELETE /v1/tools/{tool_id}/oauth` disconnects.

use crate::AppState;
use crate::console::ConsolePrincipal;
use crate::extract::{ApiPath, OrgAuth};
use crate::problem::{ApiError, Problems};
use axum::Extension;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;
use warden_core::{OAuthCallback, OAuthFailure};

/// The path of the public callback the provider redirects to.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// The longest callback query read; a provider's is a few hundred bytes.
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The organization's routes, beside `/v1` (and under the console's API).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tools/{tool_id}/oauth/start", post(start))
        .route("/v1/tools/{tool_id}/oauth", delete(disconnect))
}

/// The provider's way back: public, answered with a page.
pub(crate) fn callback_routes() -> Router<AppState> {
    Router::new().route(CALLBACK_PATH, get(callback))
}

/// Where to send the browser to connect the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthStart {
    /// The provider's authorization URL (authorization code with PKCE, the
    /// tool's scopes, offline access). Open it in a browser signed in to
    /// the account to connect; it works once, for ten minutes.
    pub authorization_url: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// What disconnecting did.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthDisconnect {
    /// Whether the grant was revoked at the provider (where it offers
    /// revocation); the tokens are dropped either way.
    pub revoked_at_provider: bool,
}

/// Starts connecting the organization's account for a tool that declares
/// OAuth2. The tool's `client_id` and `client_secret` secrets (the
/// organization's OAuth2 client at the provider, whose redirect URI must be
/// Warden's `{public URL}/oauth/callback`) must be set. The provider sends
/// the browser back to Warden, which seals the tokens as the tool's
/// secrets; `GET /v1/tools/{tool_id}` then shows `oauth.connected`.
///
/// Started from the console, the connection is also bound to the browser (a
/// cookie sent only to the callback): another browser handed the provider's
/// link connects nothing.
#[utoipa::path(post, path = "/v1/tools/{tool_id}/oauth/start", tag = "secrets", security(("api_key" = [])),
    params(("tool_id" = String, Path)),
    responses((status = 200, body = OAuthStart), Problems))]
pub(crate) async fn start(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    console: Option<Extension<ConsolePrincipal>>,
    ApiPath(tool_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let started = state
        .core
        .catalog(&p)
        .start_oauth(&tool_id, &state.oauth_callback_url, console.is_some())
        .await?;
    let mut response = Json(OAuthStart {
        authorization_url: started.authorization_url,
        expires_at: started.expires_at,
    })
    .into_response();
    if let Some(binding) = &started.browser_binding {
        // Lax, not Strict: the provider's redirect back is a cross-site
        // navigation, on which browsers send Lax cookies only.
        let cookie = format!(
            "{}={}; Path={CALLBACK_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{}",
            binding.cookie,
            binding.value.expose_secret(),
            warden_core::OAUTH_STATE_TTL.num_seconds(),
            if state.secure_cookies { "; Secure" } else { "" },
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Disconnects the organization's account for a tool: revokes the grant at
/// the provider where it offers revocation, then drops the access and
/// refresh tokens (the client id and secret stay). If the provider cannot
/// be reached, nothing is dropped (502).
#[utoipa::path(delete, path = "/v1/tools/{tool_id}/oauth", tag = "secrets", security(("api_key" = [])),
    params(("tool_id" = String, Path)),
    responses((status = 200, body = OAuthDisconnect), Problems))]
pub(crate) async fn disconnect(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(tool_id): ApiPath<String>,
) -> Result<Json<OAuthDisconnect>, ApiError> {
    let done = state.core.catalog(&p).disconnect_oauth(&tool_id).await?;
    Ok(Json(OAuthDisconnect {
        revoked_at_provider: done.revoked_at_provider,
    }))
}

/// Where the provider sends the browser back (`code` and `state`, or
/// `error` and `state`). Answers with a page, never JSON.
#[utoipa::path(get, path = "/oauth/callback", tag = "secrets",
    params(
        ("state" = Option<String>, Query, description = "The state the connection was started with"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("error" = Option<String>, Query, description = "The provider's error code"),
    ),
    responses(
        (status = 200, description = "Connected", content_type = "text/html"),
        (status = 400, description = "Nothing connected: declined, expired, replayed or refused", content_type = "text/html"),
        (status = 502, description = "Nothing connected: the provider failed", content_type = "text/html"),
    ))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return page(
            StatusCode::BAD_REQUEST,
            "Nothing was connected",
            &OAuthFailure::Malformed("it is too long".into()).to_string(),
        );
    }
    let mut callback = OAuthCallback::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "state" => &mut callback.state,
            "code" => &mut callback.code,
            "error" => &mut callback.error,
            _ => continue,
        };
        // The first of each counts.
        slot.get_or_insert_with(|| value.into_owned());
    }
    // The binding of this connection, if the browser started it from the
    // console: used (or refused) once, so it is not kept.
    let binding = callback
        .state
        .as_deref()
        .map(warden_core::browser_binding_cookie);
    callback.browser = binding
        .as_deref()
        .and_then(|name| crate::console::cookie(&headers, name));
    let brought = callback.browser.is_some();
    let mut response = finish(&state, callback).await;
    if let Some(name) = binding.filter(|_| brought) {
        let clear = format!("{name}=; Path={CALLBACK_PATH}; Max-Age=0; HttpOnly; SameSite=Lax");
        if let Ok(value) = HeaderValue::from_str(&clear) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

async fn finish(state: &AppState, callback: OAuthCallback) -> Response {
    match state.core.finish_oauth(callback).await {
        Ok(connected) => {
            tracing::info!(
                organization_id = %connected.organization_id,
                tool_id = %connected.tool_id,
                "OAuth2 account connected"
            );
            page(
                StatusCode::OK,
                "Account connected",
                &format!(
                    "The tool {} can now act for this account. Warden keeps the tokens sealed \
                     and refreshes them itself.",
                    connected.tool_name
                ),
            )
        }
        Err(failure) => {
            tracing::info!(reason = %failure, "OAuth2 connection not made");
            let status = match &failure {
                OAuthFailure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                OAuthFailure::Exchange(warden_core::ConnectError::Unavailable(_)) => {
                    StatusCode::BAD_GATEWAY
                }
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, "Nothing was connected", &failure.to_string())
        }
    }
}

/// A page with a title and one paragraph, escaped.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Warden: {title}</title></head>\n<body><main><h1>{title}</h1>\n<p>{message}</p>\n\
         <p><a href=\"/console/\">Back to the console</a>, or close this window.</p></main></body></html>\n",
        title = html_escape::encode_text(title),
        message = html_escape::encode_text(message),
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

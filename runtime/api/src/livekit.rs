//! `POST /livekit/webhook`: LiveKit's webhooks, verified with the LiveKit API
//! key and secret (the `Authorization` header is a token LiveKit signs,
//! carrying the body's SHA-256). Unsigned, tampered or expired requests get
//! 401 and change nothing. Each event id is applied once: a replay of a
//! verified request (same event id) is answered 204 and changes nothing.

use crate::AppState;
use crate::problem::{ApiError, Problems};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/livekit/webhook", post(webhook))
}

/// Receives a LiveKit webhook: `room_finished` ends the room's call sessions
/// and revokes their MCP tokens; participant joins and leaves are recorded on
/// the sessions. An event already applied (same event id) is answered 204 and
/// changes nothing; an event without an id is 400. 503 when LiveKit is not
/// configured.
#[utoipa::path(post, path = "/livekit/webhook", tag = "calls",
    request_body(content = String, content_type = "application/webhook+json",
        description = "A LiveKit WebhookEvent, signed in the Authorization header"),
    responses((status = 204, description = "Verified and applied, or applied before (a replay)"), Problems))]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let outcome = state.core.livekit_webhook(&body, authorization).await?;
    if outcome.replayed {
        tracing::debug!(
            event = %outcome.event,
            event_id = %outcome.event_id,
            "LiveKit webhook replayed: its event was applied already, nothing changed"
        );
    } else {
        tracing::info!(
            event = %outcome.event,
            event_id = %outcome.event_id,
            sessions = outcome.call_session_ids.len(),
            "LiveKit webhook applied"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

//! The one HTTP error type: every failure is answered as
//! `application/problem+json` (RFC 9457) with a machine-readable `kind`.
//!
//! # Status mapping
//!
//! Domain errors ([`CoreError`]):
//!
//! | error | status | kind |
//! | --- | --- | --- |
//! | `NotFound` (also: another organization's ids, a secret the tool does not declare) | 404 | `not_found` |
//! | `Conflict` | 409 | `conflict` |
//! | `InProgress` (a call with the same call id is running) | 409 + `Retry-After: 1` | `in_progress` |
//! | `CallIdReused` (the call id was used with other arguments) | 409 | `call_id_reused` |
//! | `Invalid` (bad cursor, unknown function name, …) | 400 | `invalid_request` |
//! | `InvalidConfig` | 422 | `invalid_config` |
//! | `InvalidComponent` | 422 | `invalid_component` |
//! | `Disabled` (inactive agent, disabled tool or function) | 409 | `disabled` |
//! | `Provider` (an OAuth2 provider failed) | 502 | `upstream` |
//! | `Unauthenticated`, `InvalidSession` | 401 + `WWW-Authenticate: Bearer` | `unauthenticated` |
//! | `Sealed`, `Store`, anything else | 500, generic detail (logged) | `internal` |
//!
//! The request itself: a malformed or oversized body is 400
//! `malformed_body` / 413 `payload_too_large`; a body that does not arrive
//! within the server's request-body timeout is 408 `request_timeout`; a
//! rate limit is 429 `rate_limited` or `busy` with `Retry-After`.
//!
//! Errors of a tool call (the tool's own `tool-error` or the sandbox's
//! verdict) keep their `kind`; the `detail` is the (redacted) message meant
//! for the LLM:
//!
//! | kind | status | why |
//! | --- | --- | --- |
//! | `invalid_arguments`, `unknown_function`, `not_found` | 422 | the call asked for something wrong |
//! | `not_configured`, `unauthorized` | 424 | the tool's configuration or credentials are missing or refused |
//! | `upstream`, `rate_limited`, `host_denied`, `internal`, `trap`, `stack_overflow`, `fuel_exhausted`, `memory_limit`, `output_too_large`, `invalid_component` | 502 | the tool (or what it talks to) failed; the server itself is fine |
//! | `timeout` | 504 | the call ran past its deadline |
//! | `overloaded` | 503 + `Retry-After: 1` | no instance slot in time |

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::{
    ContentBuilder, Ref, RefOr,
    response::{Response as OpenApiResponse, ResponseBuilder},
};
use warden_core::CoreError;
use warden_core::{ErrorKind, ToolCallError as ToolError};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:warden:problem:{kind}`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a human (or, for tool errors, the LLM).
    pub detail: String,
    /// A stable, machine-readable error kind (`not_found`, `invalid_arguments`, …).
    pub kind: String,
    /// The audit row of the invocation that failed, for tool errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// For a tool error repeated from the recorded outcome of an earlier run
    /// of the same call id (exactly-once calls): that run's audit row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
}

/// An error answered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    invocation_id: Option<String>,
    replay_of: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a kind and a message for the client.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            detail: detail.into(),
            invocation_id: None,
            replay_of: None,
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// A well-formed body that says something impossible.
    pub(crate) fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail)
    }

    pub(crate) fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// A server-side failure: logged with its detail, answered generically.
    pub(crate) fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!("{context}: {error}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred",
        )
    }

    /// 429 with `Retry-After`; `what` says what there were too many of.
    pub(crate) fn rate_limited(retry_after_secs: u64, what: &str) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many {what}; retry later"),
        );
        error.retry_after = Some(retry_after_secs.max(1));
        error
    }

    /// A tool call's error, with the audit row it was recorded under.
    pub(crate) fn tool(error: &ToolError, invocation_id: Option<String>) -> Self {
        let status = tool_status(error.kind);
        let mut api = Self::new(status, error.kind.as_str(), error.message.clone());
        api.invocation_id = invocation_id;
        if error.kind == ErrorKind::Overloaded {
            api.retry_after = Some(1);
        }
        api
    }

    /// The same error, marked as the replay of the run `replay_of`.
    pub(crate) fn replayed(mut self, replay_of: Option<String>) -> Self {
        self.replay_of = replay_of;
        self
    }

    /// The same error with another message (e.g. one that quotes nothing).
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// The HTTP status of a tool error kind (see the module's table).
pub fn tool_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidArguments | ErrorKind::UnknownFunction | ErrorKind::NotFound => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorKind::NotConfigured | ErrorKind::Unauthorized => StatusCode::FAILED_DEPENDENCY,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl ApiError {
    /// A LiveKit failure: the callee's side (busy, no answer, declined) is a
    /// conflict with the request; LiveKit refusing or failing Warden is a bad
    /// gateway. The messages name no credential.
    fn livekit(error: &warden_livekit::LiveKitError) -> Self {
        use warden_livekit::LiveKitError as E;
        let (status, kind) = match error {
            E::Busy { .. } => (StatusCode::CONFLICT, "line_busy"),
            E::NotAnswered { .. } => (StatusCode::CONFLICT, "not_answered"),
            E::CallFailed { .. } => (StatusCode::CONFLICT, "call_failed"),
            E::InvalidPhoneNumber(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone_number"),
            E::Unauthorized { .. } => (StatusCode::BAD_GATEWAY, "livekit_unauthorized"),
            E::Unreachable { .. } => (StatusCode::BAD_GATEWAY, "livekit_unreachable"),
            _ => (StatusCode::BAD_GATEWAY, "livekit_error"),
        };
        Self::new(status, kind, error.to_string())
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            CoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            CoreError::Refused(error) => Self::tool(&error, None),
            CoreError::Provider(message) => Self::new(StatusCode::BAD_GATEWAY, "upstream", message),
            CoreError::Busy(message) => {
                let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "busy", message);
                error.retry_after = Some(1);
                error
            }
            CoreError::InProgress(message) => {
                let mut error = Self::new(StatusCode::CONFLICT, "in_progress", message);
                error.retry_after = Some(1);
                error
            }
            CoreError::CallIdReused(message) => {
                Self::new(StatusCode::CONFLICT, "call_id_reused", message)
            }
            CoreError::Invalid(message) => Self::bad_request(message),
            CoreError::Unprocessable(message) => Self::unprocessable(message),
            CoreError::UnknownName(message) => Self::not_found(message),
            CoreError::InvalidConfig(message) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_config",
                format!("invalid configuration: {message}"),
            ),
            CoreError::InvalidComponent(message) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_component",
                format!("invalid component: {message}"),
            ),
            CoreError::Disabled(message) => Self::new(StatusCode::CONFLICT, "disabled", message),
            CoreError::Unauthenticated => Self::unauthenticated("invalid or revoked credentials"),
            CoreError::InvalidSession => Self::unauthenticated("invalid or expired session token"),
            CoreError::NotConfigured(message) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", message)
            }
            CoreError::LiveKit(error) => Self::livekit(&error),
            CoreError::Webhook(error) => Self::new(
                StatusCode::UNAUTHORIZED,
                "webhook_refused",
                format!("webhook refused: {error}"),
            ),
            other => Self::internal("request failed", &other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            type_: format!("urn:warden:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            kind: self.kind.to_owned(),
            invocation_id: self.invocation_id,
            replay_of: self.replay_of,
        };
        let mut response = (self.status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The error responses every operation may give, for the OpenAPI document.
pub struct Problems;

impl utoipa::IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<OpenApiResponse>> {
        [
            ("400", "Malformed request (bad JSON syntax, query or path)"),
            ("401", "Missing, unknown or revoked credentials"),
            ("404", "Unknown id (or another organization's)"),
            (
                "409",
                "Conflict; the agent/tool/function is disabled; or (exactly-once calls) \
                 a call with this call_id is still running (`in_progress`, see Retry-After) \
                 or was made with other arguments (`call_id_reused`)",
            ),
            ("413", "Body too large"),
            ("415", "Wrong content type"),
            (
                "422",
                "Well-formed but invalid body, configuration, component or arguments",
            ),
            (
                "424",
                "The tool is not configured or its credentials are refused",
            ),
            ("429", "Rate limited (see Retry-After)"),
            ("500", "Internal error"),
            ("502", "The tool or its upstream failed"),
            ("503", "Overloaded (see Retry-After)"),
            ("504", "The tool call timed out"),
        ]
        .into_iter()
        .map(|(status, description)| {
            (
                status.to_owned(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            PROBLEM_JSON,
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build(),
                        )
                        .build(),
                ),
            )
        })
        .collect()
    }
}

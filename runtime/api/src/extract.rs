//! Extractors: credentials, and JSON/query/path parsing whose rejections are
//! answered as problem+json.

use crate::AppState;
use crate::console::ConsolePrincipal;
use crate::problem::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;
use warden_core::{Principal, WorkerPrincipal};

/// The bearer token of a request, or 401.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthenticated("an `Authorization: Bearer` header is required")
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthenticated("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthenticated(
            "the Authorization header must use the Bearer scheme",
        ));
    }
    Ok(token.trim())
}

/// An organization API key, authenticated: the safe API's caller.
pub struct OrgAuth(pub Principal);

impl FromRequestParts<AppState> for OrgAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Under `/console/api`, the console session stands in for the key
        // (checked by the console's layer, which alone sets this).
        if let Some(ConsolePrincipal(principal)) = parts.extensions.get::<ConsolePrincipal>() {
            return Ok(OrgAuth(principal.clone()));
        }
        let token = bearer(parts)?;
        // Worker tokens (`wdw_…`) are refused by the core: only `wdn_` keys
        // are organization keys.
        Ok(OrgAuth(state.core.authenticate(token).await?))
    }
}

/// A worker token, authenticated: the worker API's caller. Its
/// organization, if the token has one, limits which agents it finds.
pub struct WorkerAuth(pub WorkerPrincipal);

impl FromRequestParts<AppState> for WorkerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        Ok(WorkerAuth(state.core.authenticate_worker(token).await?))
    }
}

/// A bearer credential for the worker plane, not yet checked: for handlers
/// that check it in the same round trip as they load what they need
/// ([`warden_core::Core::prepare_for_worker`]).
pub struct WorkerBearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for WorkerBearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(WorkerBearer(bearer(parts)?.to_owned()))
    }
}

/// Whether `error` (or one of its sources) is the server's request-body
/// timeout ([`crate::ServerLimits::request_body_timeout`]).
pub(crate) fn body_timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    // A source chain is short; the bound only guards a cyclic one.
    for _ in 0..16 {
        let Some(error) = next else {
            return false;
        };
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// 408: the body did not arrive in time.
pub(crate) fn body_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body did not arrive within the server's request-body timeout",
    )
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if body_timed_out(rejection) {
        return body_timeout();
    }
    let status = rejection.status();
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "malformed_body",
    };
    let status = if status.is_server_error() {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError::new(status, kind, rejection.body_text())
}

/// A JSON body (≤ the router's body limit); rejections become problem+json.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// A JSON body holding secret material: a rejection never quotes the body
/// (serde's messages may echo values), only says what was expected.
pub struct SecretJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for SecretJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(SecretJson(value)),
            Err(rejection) if body_timed_out(&rejection) => Err(body_timeout()),
            Err(rejection) => Err(json_rejection(&rejection).with_detail(
                "the body must be a JSON object `{\"value\": \"…\"}` with a string value and \
                 no other fields, sent as application/json",
            )),
        }
    }
}

/// Query parameters; rejections become 400 problem+json.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        rejection.body_text(),
    )
}

/// Path parameters; rejections become 400 problem+json.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_path",
        rejection.body_text(),
    )
}

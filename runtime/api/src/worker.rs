//! The worker API, `/worker/v1`: worker tokens only. A worker acts across
//! organizations; each request finds the agent's organization from the agent
//! itself, then goes through the organization-scoped core. A token limited to
//! one organization finds only that organization's agents: every route answers
//! another organization's agent exactly as an unknown agent (404).
//!
//! Invocations run inside the handler's future, never in a detached task, so
//! a client that disconnects (the caller barged in) drops the call and with
//! it the sandbox instance.

use crate::AppState;
use crate::dto::{Invoke, InvokeResult, LlmFunction, LlmTool, OpenSession, SessionOpened, Toolset};
use crate::extract::{ApiJson, ApiPath, WorkerAuth, WorkerBearer};
use crate::problem::{ApiError, Problems};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Json;
use axum::routing::{get, post};
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};
use warden_core::{InboundCall, InvocationRequest, PreparedInvocation};

/// The optional header that tightens a call's wall clock, in milliseconds.
pub const DEADLINE_HEADER: &str = "x-warden-deadline-ms";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/worker/v1/agents/{agent_id}/toolset", get(toolset))
        .route("/worker/v1/agents/{agent_id}/invoke", post(invoke))
        .route("/worker/v1/sessions", post(open_session))
}

/// The agent's prompt and its enabled functions as LLM function schemas.
#[utoipa::path(get, path = "/worker/v1/agents/{agent_id}/toolset", tag = "worker", security(("worker_token" = [])),
    params(("agent_id" = String, Path)),
    responses((status = 200, body = Toolset), Problems))]
pub(crate) async fn toolset(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Toolset>, ApiError> {
    let agent = state.core.worker_agent(&worker, &agent_id).await?;
    let toolset = state
        .core
        .toolset(&agent.organization_id, &agent.id)
        .await?;
    Ok(Json(Toolset {
        agent_id: agent.id,
        name: agent.name,
        system_prompt: agent.system_prompt,
        tools: toolset
            .functions
            .into_iter()
            .map(|f| LlmTool {
                type_: "function".to_owned(),
                function: LlmFunction {
                    name: f.name,
                    description: f.description,
                    parameters: f.parameters,
                },
            })
            .collect(),
    }))
}

/// Invokes one of the agent's functions. Tool errors come back as a problem
/// whose `kind` is the tool error's and whose `detail` is meant for the LLM.
///
/// With a `call_id`, a function that is not read-only runs once per call id
/// (per agent and function): a retry with the same arguments is answered with
/// the recorded outcome, marked by `replay_of`, without the tool running; one
/// that arrives while the first still runs waits for it (until its deadline)
/// or gets 409 `in_progress`; the same `call_id` with other arguments is 409
/// `call_id_reused`. Outcomes are kept for 24 hours unless the operator says
/// otherwise (`warden serve --call-outcome-ttl SECONDS`).
///
/// With a `call_session_id`, the call is made during that phone call: tools
/// built against contract 0.2.0 get its record (the caller's number among
/// it). An unknown session, or one of another agent, is 404; an ended one 409.
#[utoipa::path(post, path = "/worker/v1/agents/{agent_id}/invoke", tag = "worker", security(("worker_token" = [])),
    params(("agent_id" = String, Path),
        ("X-Warden-Deadline-Ms" = Option<i64>, Header, minimum = 1, nullable = false,
            description = "Tighter wall clock for this call, in milliseconds (a positive whole number)")),
    request_body = Invoke,
    responses((status = 200, body = InvokeResult), Problems))]
pub(crate) async fn invoke(
    State(state): State<AppState>,
    WorkerBearer(token): WorkerBearer,
    path: Result<ApiPath<String>, ApiError>,
    headers: HeaderMap,
    body: Result<ApiJson<Invoke>, ApiError>,
) -> Result<Json<InvokeResult>, ApiError> {
    // The token is checked in the same query that loads the call's data; a
    // request that is refused before that query is still answered 401 first
    // when its token is not valid, as every worker route is.
    let parsed = (|| {
        let ApiPath(agent_id) = path?;
        let ApiJson(body) = body?;
        Ok::<_, ApiError>((agent_id, body, deadline(&headers)?))
    })();
    let (agent_id, body, deadline) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            state.core.authenticate_worker(&token).await?;
            return Err(error);
        }
    };
    // One query checks the token and loads the agent (whichever organization
    // it belongs to, or only within the token's organization if it has one),
    // the tool, the association and the secrets; the rate limit applies
    // before anything runs.
    let prepared = state
        .core
        .prepare_for_worker(
            &token,
            InvocationRequest {
                organization_id: None,
                agent_id,
                function: body.name,
                arguments: body.arguments,
                caller_call_id: !body.call_id.is_empty(),
                call_id: body.call_id,
                call_session_id: body.call_session_id,
                call: None,
                deadline,
            },
        )
        .await?;
    run(&state, prepared).await
}

/// Runs a prepared call under the invocation rate limit: the answer of
/// both invoke routes (the worker's, and `/v1`'s under an organization key).
pub(crate) async fn run(
    state: &AppState,
    prepared: PreparedInvocation,
) -> Result<Json<InvokeResult>, ApiError> {
    if let Some(limiter) = &state.limiter
        && let Err(retry_after) = limiter.check(prepared.organization_id(), prepared.tool_name())
    {
        return Err(ApiError::rate_limited(
            retry_after,
            "calls to this tool for this organization",
        ));
    }
    let invoked = state.core.run(prepared).await?;
    match invoked.result {
        Ok(result) => Ok(Json(InvokeResult {
            result,
            spoken: invoked.spoken,
            invocation_id: invoked.invocation_id,
            replay_of: invoked.replay_of,
        })),
        Err(error) => {
            Err(ApiError::tool(&error, Some(invoked.invocation_id)).replayed(invoked.replay_of))
        }
    }
}

/// The deadline the optional [`DEADLINE_HEADER`] sets.
pub(crate) fn deadline(headers: &HeaderMap) -> Result<Option<Instant>, ApiError> {
    let Some(value) = headers.get(DEADLINE_HEADER) else {
        return Ok(None);
    };
    let millis = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|ms| *ms > 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "X-Warden-Deadline-Ms must be a positive whole number of milliseconds",
            )
        })?;
    Ok(Instant::now().checked_add(Duration::from_millis(millis)))
}

/// Opens a call session for an inbound call to an agent: the MCP URL and the
/// session token (shown only in this response) the call's MCP client uses.
/// The token works only for this agent's tools, only at the MCP endpoint,
/// until the session ends or expires (two hours).
#[utoipa::path(post, path = "/worker/v1/sessions", tag = "worker", security(("worker_token" = [])),
    request_body = OpenSession,
    responses((status = 201, body = SessionOpened), Problems))]
pub(crate) async fn open_session(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    ApiJson(body): ApiJson<OpenSession>,
) -> Result<(StatusCode, Json<SessionOpened>), ApiError> {
    let issued = state
        .core
        .open_inbound_session(
            &worker,
            InboundCall {
                agent_id: body.agent_id,
                room_name: body.room_name,
                phone_number: body.phone_number,
                agent_number: body.agent_number,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionOpened {
            call_session_id: issued.record.id,
            mcp_url: state.mcp_url.to_string(),
            session_token: issued.token.expose_secret().to_owned(),
            expires_at: issued.record.expires_at,
        }),
    ))
}

//! The safe management API, `/v1`: organization API keys, everything scoped
//! to the key's organization. Another organization's ids answer 404.

use crate::AppState;
use crate::dto::{
    Agent, AgentGetQuery, AgentPage, AgentPatch, AgentQuery, AgentTool, AgentToolSettings,
    CallStarted, HealthQuery, Installed, InvocationPage, InvocationQuery, Invoke, InvokeResult,
    NewAgent, Secret, SetSecret, StartCall, TestResult, Tool, ToolHealth, WasmComponent,
};
use crate::extract::{ApiJson, ApiPath, ApiQuery, OrgAuth, SecretJson};
use crate::problem::{ApiError, Problems};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use secrecy::ExposeSecret;
use warden_core::{AgentFilter, InvocationFilter, NewVoiceAgent, PageRequest, VoiceAgentUpdate};
use warden_core::{AgentToolInput, InvocationRequest};

/// Component uploads: at most 32 MiB.
pub const MAX_COMPONENT_BYTES: usize = 32 * 1024 * 1024;
/// Default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Default window of `GET /v1/tools/{tool_id}/health`, in minutes.
const DEFAULT_WINDOW_MINUTES: u32 = 60;
/// Largest window of `GET /v1/tools/{tool_id}/health`, in minutes (30 days).
pub(crate) const MAX_WINDOW_MINUTES: u32 = 43_200;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/tools",
            get(list_tools)
                .post(install_tool)
                .layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        )
        .route(
            "/v1/tools/inspect",
            post(inspect_tool).layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        )
        .route("/v1/tools/{tool_id}", get(get_tool).delete(delete_tool))
        .route("/v1/tools/{tool_id}/secrets", get(list_secrets))
        .route(
            "/v1/tools/{tool_id}/secrets/{name}",
            put(set_secret).delete(delete_secret),
        )
        .route("/v1/tools/{tool_id}/health", get(tool_health))
        .route("/v1/agents", post(create_agent).get(list_agents))
        .route(
            "/v1/agents/{agent_id}",
            get(get_agent).patch(update_agent).delete(delete_agent),
        )
        .route("/v1/agents/{agent_id}/tools", get(list_agent_tools))
        .route(
            "/v1/agents/{agent_id}/tools/{tool_id}",
            put(set_agent_tool).delete(delete_agent_tool),
        )
        .route(
            "/v1/agents/{agent_id}/tools/{tool_id}/test",
            post(test_agent_tool),
        )
        .route("/v1/agents/{agent_id}/invoke", post(invoke_agent))
        .route("/v1/agents/{agent_id}/calls", post(start_call))
        .route("/v1/invocations", get(list_invocations))
}

/// A query parameter outside its documented range: 400, like any other
/// query the OpenAPI document does not allow.
fn out_of_range(name: &str, max: u32) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        format!("`{name}` must be between 1 and {max}"),
    )
}

/// The page a listing asked for; `limit` outside 1..=[`MAX_PAGE_SIZE`] is
/// refused rather than silently changed.
fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(out_of_range("limit", MAX_PAGE_SIZE));
    }
    Ok(PageRequest {
        limit,
        cursor: cursor.filter(|c| !c.is_empty()),
    })
}

// ----- tools -----

/// Lists the tools this organization can use (platform tools and its own).
#[utoipa::path(get, path = "/v1/tools", tag = "tools", security(("api_key" = [])),
    responses((status = 200, body = Vec<Tool>), Problems))]
pub(crate) async fn list_tools(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
) -> Result<Json<Vec<Tool>>, ApiError> {
    let tools = state.core.catalog(&p).list_tools().await?;
    Ok(Json(tools))
}

/// One tool: metadata, config schema, functions, hosts, secret status.
#[utoipa::path(get, path = "/v1/tools/{tool_id}", tag = "tools", security(("api_key" = [])),
    params(("tool_id" = String, Path)),
    responses((status = 200, body = Tool), Problems))]
pub(crate) async fn get_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(tool_id): ApiPath<String>,
) -> Result<Json<Tool>, ApiError> {
    Ok(Json(state.core.catalog(&p).tool(&tool_id).await?))
}

/// Installs a component (`application/wasm`, ≤ 32 MiB) as a tool private to
/// this organization. 201 when new, 200 when these bytes were installed already.
#[utoipa::path(post, path = "/v1/tools", tag = "tools", security(("api_key" = [])),
    request_body(content = WasmComponent, content_type = "application/wasm"),
    responses((status = 201, body = Installed), (status = 200, body = Installed), Problems))]
pub(crate) async fn install_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let component = component_body(&state, &p, &headers, body)?;
    let installed = state.core.catalog(&p).install_tool(component).await?;
    let status = if installed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(installed)).into_response())
}

/// An upload's body: a component sent as `application/wasm`, not empty,
/// within [`MAX_COMPONENT_BYTES`] and the organization's upload rate limit.
fn component_body(
    state: &AppState,
    p: &warden_core::Principal,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if content_type.as_deref() != Some("application/wasm") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a component upload must be sent as `Content-Type: application/wasm`",
        ));
    }
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if crate::extract::body_timed_out(&rejection) {
            crate::extract::body_timeout()
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "payload_too_large",
                format!("a component may be at most {MAX_COMPONENT_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_component",
            "the body is empty: send the component's bytes",
        ));
    }
    if let Some(limiter) = &state.upload_limiter
        && let Err(retry_after) = limiter.check(&p.organization_id, "")
    {
        return Err(ApiError::rate_limited(
            retry_after,
            "uploads for this organization",
        ));
    }
    Ok(body.to_vec())
}

/// Checks a component as an upload would (it loads in the sandbox, its
/// metadata is valid, and it keeps earlier versions' host-only secrets and
/// credential hosts) and shows what installing it would install. Nothing is
/// stored. Counts against the upload rate limit.
#[utoipa::path(post, path = "/v1/tools/inspect", tag = "tools", security(("api_key" = [])),
    request_body(content = WasmComponent, content_type = "application/wasm"),
    responses((status = 200, body = warden_core::ToolPreview), Problems))]
pub(crate) async fn inspect_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<warden_core::ToolPreview>, ApiError> {
    let component = component_body(&state, &p, &headers, body)?;
    Ok(Json(state.core.catalog(&p).inspect_tool(component).await?))
}

/// Deletes one of this organization's own tools.
#[utoipa::path(delete, path = "/v1/tools/{tool_id}", tag = "tools", security(("api_key" = [])),
    params(("tool_id" = String, Path)),
    responses((status = 204, description = "Deleted"), Problems))]
pub(crate) async fn delete_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(tool_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.catalog(&p).delete_tool(&tool_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- secrets -----

/// Sets a secret the tool declares (a name it does not declare is 404).
/// Write-only: the response is its status.
#[utoipa::path(put, path = "/v1/tools/{tool_id}/secrets/{name}", tag = "secrets", security(("api_key" = [])),
    params(("tool_id" = String, Path), ("name" = String, Path)),
    request_body = SetSecret,
    responses((status = 200, body = Secret), Problems))]
pub(crate) async fn set_secret(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath((tool_id, name)): ApiPath<(String, String)>,
    SecretJson(body): SecretJson<SetSecret>,
) -> Result<Json<Secret>, ApiError> {
    if body.value.expose_secret().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the secret's value must not be empty",
        ));
    }
    let status = state
        .core
        .catalog(&p)
        .set_secret(&tool_id, &name, body.value)
        .await?;
    Ok(Json(status))
}

/// The tool's declared secrets and whether each is set — never values.
#[utoipa::path(get, path = "/v1/tools/{tool_id}/secrets", tag = "secrets", security(("api_key" = [])),
    params(("tool_id" = String, Path)),
    responses((status = 200, body = Vec<Secret>), Problems))]
pub(crate) async fn list_secrets(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(tool_id): ApiPath<String>,
) -> Result<Json<Vec<Secret>>, ApiError> {
    let secrets = state.core.catalog(&p).list_secrets(&tool_id).await?;
    Ok(Json(secrets))
}

/// Deletes a secret's value.
#[utoipa::path(delete, path = "/v1/tools/{tool_id}/secrets/{name}", tag = "secrets", security(("api_key" = [])),
    params(("tool_id" = String, Path), ("name" = String, Path)),
    responses((status = 204, description = "Deleted"), Problems))]
pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath((tool_id, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .catalog(&p)
        .delete_secret(&tool_id, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Call statistics of a tool over a window.
#[utoipa::path(get, path = "/v1/tools/{tool_id}/health", tag = "audit", security(("api_key" = [])),
    params(("tool_id" = String, Path), HealthQuery),
    responses((status = 200, body = ToolHealth), Problems))]
pub(crate) async fn tool_health(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(tool_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HealthQuery>,
) -> Result<Json<ToolHealth>, ApiError> {
    let window = query.window_minutes.unwrap_or(DEFAULT_WINDOW_MINUTES);
    if !(1..=MAX_WINDOW_MINUTES).contains(&window) {
        return Err(out_of_range("window_minutes", MAX_WINDOW_MINUTES));
    }
    let since = chrono::Utc::now() - chrono::Duration::minutes(i64::from(window));
    let stats = state.core.catalog(&p).tool_health(&tool_id, since).await?;
    Ok(Json(ToolHealth::new(tool_id, window, since, stats)))
}

// ----- agents -----

/// Creates a voice agent.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", security(("api_key" = [])),
    request_body = NewAgent,
    responses((status = 201, body = Agent), Problems))]
pub(crate) async fn create_agent(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiJson(body): ApiJson<NewAgent>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    let agent = state
        .core
        .catalog(&p)
        .create_agent(NewVoiceAgent {
            name: body.name,
            description: body.description,
            system_prompt: body.system_prompt,
            is_active: body.is_active,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(agent.into())))
}

/// Lists agents, newest first.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", security(("api_key" = [])),
    params(AgentQuery),
    responses((status = 200, body = AgentPage), Problems))]
pub(crate) async fn list_agents(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiQuery(query): ApiQuery<AgentQuery>,
) -> Result<Json<AgentPage>, ApiError> {
    let filter = AgentFilter {
        is_active: query.is_active,
        name_contains: query.name.filter(|n| !n.is_empty()),
    };
    let page = state
        .core
        .catalog(&p)
        .list_agents(&filter, &page(query.limit, query.cursor)?)
        .await?;
    Ok(Json(AgentPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One agent, optionally with its tools.
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path), AgentGetQuery),
    responses((status = 200, body = Agent), Problems))]
pub(crate) async fn get_agent(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(agent_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AgentGetQuery>,
) -> Result<Json<Agent>, ApiError> {
    let view = state
        .core
        .catalog(&p)
        .agent(&agent_id, query.include_tools)
        .await?;
    Ok(Json(view))
}

/// Changes an agent's fields.
#[utoipa::path(patch, path = "/v1/agents/{agent_id}", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path)),
    request_body = AgentPatch,
    responses((status = 200, body = Agent), Problems))]
pub(crate) async fn update_agent(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<AgentPatch>,
) -> Result<Json<Agent>, ApiError> {
    let agent = state
        .core
        .catalog(&p)
        .update_agent(
            &agent_id,
            VoiceAgentUpdate {
                name: body.name,
                description: body.description,
                system_prompt: body.system_prompt,
                is_active: body.is_active,
            },
        )
        .await?;
    Ok(Json(agent.into()))
}

/// Deletes an agent and its tool associations.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path)),
    responses((status = 204, description = "Deleted"), Problems))]
pub(crate) async fn delete_agent(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.catalog(&p).delete_agent(&agent_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- agent tools -----

/// Lets an agent use a tool (configuration checked against the tool's schema).
#[utoipa::path(put, path = "/v1/agents/{agent_id}/tools/{tool_id}", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path), ("tool_id" = String, Path)),
    request_body = AgentToolSettings,
    responses((status = 200, body = AgentTool), Problems))]
pub(crate) async fn set_agent_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath((agent_id, tool_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AgentToolSettings>,
) -> Result<Json<AgentTool>, ApiError> {
    let view = state
        .core
        .catalog(&p)
        .set_agent_tool(
            &agent_id,
            &tool_id,
            AgentToolInput {
                config: body.config,
                is_enabled: body.is_enabled,
                function_enables: body.function_enables,
            },
        )
        .await?;
    Ok(Json(view))
}

/// The tools an agent uses.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/tools", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path)),
    responses((status = 200, body = Vec<AgentTool>), Problems))]
pub(crate) async fn list_agent_tools(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Vec<AgentTool>>, ApiError> {
    let views = state.core.catalog(&p).agent_tools(&agent_id).await?;
    Ok(Json(views))
}

/// Stops an agent from using a tool.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}/tools/{tool_id}", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path), ("tool_id" = String, Path)),
    responses((status = 204, description = "Deleted"), Problems))]
pub(crate) async fn delete_agent_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath((agent_id, tool_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .catalog(&p)
        .delete_agent_tool(&agent_id, &tool_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The rate-limit bucket of an organization's tool tests: no tool is named
/// this (names are `[a-z][a-z0-9_]*`), so it never shares a tool's bucket.
const TEST_BUCKET: &str = "(test)";

/// Runs the tool's `test` export with the organization's secrets; returns
/// only its safe result, or the tool's error as a problem.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/tools/{tool_id}/test", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path), ("tool_id" = String, Path)),
    responses((status = 200, body = TestResult), Problems))]
pub(crate) async fn test_agent_tool(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath((agent_id, tool_id)): ApiPath<(String, String)>,
) -> Result<Json<TestResult>, ApiError> {
    // Tests run real instances: they share the invocation rate limit (one
    // bucket per organization for all its tests) as they share the
    // organization's instance slots.
    if let Some(limiter) = &state.limiter
        && let Err(retry_after) = limiter.check(&p.organization_id, TEST_BUCKET)
    {
        return Err(ApiError::rate_limited(
            retry_after,
            "tool tests for this organization",
        ));
    }
    match state
        .core
        .test_agent_tool(&p.organization_id, &agent_id, &tool_id)
        .await?
    {
        Ok(result) => Ok(Json(TestResult { ok: true, result })),
        Err(error) => Err(ApiError::tool(&error, None)),
    }
}

/// Invokes one of the agent's functions with the organization's key, as a
/// worker would (`POST /worker/v1/agents/{agent_id}/invoke`): the same
/// checks, limits, exactly-once rule for a `call_id`, and audit row. For
/// trying a function out (the console's try-it panel) and for scripts.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/invoke", tag = "agents", security(("api_key" = [])),
    params(("agent_id" = String, Path),
        ("X-Warden-Deadline-Ms" = Option<i64>, Header, minimum = 1, nullable = false,
            description = "Tighter wall clock for this call, in milliseconds (a positive whole number)")),
    request_body = Invoke,
    responses((status = 200, body = InvokeResult), Problems))]
pub(crate) async fn invoke_agent(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(agent_id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Invoke>,
) -> Result<Json<InvokeResult>, ApiError> {
    let deadline = crate::worker::deadline(&headers)?;
    let prepared = state
        .core
        .prepare(InvocationRequest {
            organization_id: Some(p.organization_id),
            agent_id,
            function: body.name,
            arguments: body.arguments,
            caller_call_id: !body.call_id.is_empty(),
            call_id: body.call_id,
            call_session_id: body.call_session_id,
            call: None,
            deadline,
        })
        .await?;
    crate::worker::run(&state, prepared).await
}

// ----- calls -----

/// Calls a phone number for the agent through LiveKit: opens a call session,
/// creates the room `agent-{agent_id}-{phone_number}`, dispatches the agent
/// worker with the session's MCP URL and token, and dials through the SIP
/// trunk when one is configured. 503 when LiveKit is not configured; LiveKit
/// failures (busy line, refused credentials, …) mark the session failed.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/calls", tag = "calls", security(("api_key" = [])),
    params(("agent_id" = String, Path)),
    request_body = StartCall,
    responses((status = 201, body = CallStarted), Problems))]
pub(crate) async fn start_call(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<StartCall>,
) -> Result<(StatusCode, Json<CallStarted>), ApiError> {
    warden_livekit::validate_e164(&body.phone_number)
        .map_err(|e| ApiError::unprocessable(format!("phone_number: {e}")))?;
    let call = state
        .core
        .start_call(
            &p.organization_id,
            &agent_id,
            &body.phone_number,
            &state.mcp_url,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CallStarted {
            call_session_id: call.session.id,
            room_name: call.session.room_name,
            status: call.session.status,
            dispatch_id: call.dispatch_id,
            sip_participant_id: call.sip_participant_id,
            expires_at: call.session.expires_at,
        }),
    ))
}

// ----- audit -----

/// Invocation records, newest first.
#[utoipa::path(get, path = "/v1/invocations", tag = "audit", security(("api_key" = [])),
    params(InvocationQuery),
    responses((status = 200, body = InvocationPage), Problems))]
pub(crate) async fn list_invocations(
    State(state): State<AppState>,
    OrgAuth(p): OrgAuth,
    ApiQuery(query): ApiQuery<InvocationQuery>,
) -> Result<Json<InvocationPage>, ApiError> {
    let filter = InvocationFilter {
        agent_id: query.agent_id.filter(|s| !s.is_empty()),
        tool_id: query.tool_id.filter(|s| !s.is_empty()),
        ..InvocationFilter::default()
    };
    let page = state
        .core
        .catalog(&p)
        .list_invocations(&filter, &page(query.limit, query.cursor)?)
        .await?;
    Ok(Json(InvocationPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

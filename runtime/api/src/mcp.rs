//! MCP at `/mcp`: the session agent's tools over the Model Context Protocol's
//! streamable HTTP transport, served by the official Rust SDK (`rmcp`).
//!
//! * **Credentials.** Only a call-session token (`Authorization: Bearer
//!   wds_…`) opens `/mcp`, and it scopes every request to its session's one
//!   agent. API keys and worker tokens are refused here, and session tokens
//!   everywhere else. A missing, unknown, ended, revoked or expired token is
//!   answered 401 problem+json before any MCP processing. Once checked, the
//!   `Authorization` header is removed from the request, so nothing after
//!   this point (the SDK's own logging included) ever sees the token.
//! * **Stateless.** Every HTTP request stands alone (no `Mcp-Session-Id`, no
//!   server-side MCP session), so any replica can serve any request; plain
//!   JSON responses. `GET` and `DELETE` answer 405, as the transport allows
//!   for servers without a stream to offer.
//! * **Fresh per request.** `tools/list` and `tools/call` load the agent and
//!   its tools from the store each time ([`Core::toolset`], [`Core::invoke`]):
//!   a function disabled through the management API is gone from the next
//!   `tools/list` and refused by the next `tools/call`, with no reconnect.
//!   Lists say so (`ttlMs: 0`, `cacheScope: private`).
//! * **Errors.** What a tool reports comes back as an `isError` result with
//!   the tool's message (written for the LLM). So do the host's verdicts —
//!   bad arguments, unknown or disabled functions, fuel, time, memory — with
//!   a plain sentence instead of the sandbox's internals. Only a failure of
//!   Warden itself is a JSON-RPC error, with a generic message.
//! * **Cancellation.** The call runs inside the request: a client that
//!   closes the request's connection (how MCP 2026-07-28 clients cancel) or
//!   sends `notifications/cancelled` for it (older clients) drops the call,
//!   and with it the sandbox instance.
//! * **DNS rebinding.** The SDK's `Host` allow-list (loopback by default) is
//!   off: it guards servers that trust whoever can reach them, and this one
//!   trusts only the bearer token, which a rebinding page does not have.

use crate::AppState;
use crate::problem::ApiError;
use crate::rate_limit::Limiter;
use crate::telemetry::RequestSpan;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListToolsResult, PaginatedRequestParams, RequestId, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use warden_core::{Core, CoreError, InvocationRequest, NAME_SEPARATOR, SessionPrincipal};
use warden_core::{
    ErrorKind, MAX_QUALIFIED_NAME, Origin, ToolCallError as ToolError, is_valid_name,
};

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let server = SessionServer {
        core: state.core.clone(),
        limiter: state.limiter.clone(),
        in_flight: Arc::default(),
    };
    let in_flight = server.in_flight.clone();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .disable_allowed_hosts()
            .with_max_request_body_bytes(crate::MAX_JSON_BYTES),
    );
    Router::new()
        .route_service(MCP_PATH, service)
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), in_flight),
            authenticate,
        ))
}

/// The `tools/call` requests running now, by session and JSON-RPC id, so a
/// `notifications/cancelled` (which arrives as a request of its own) can stop
/// one. Each entry carries a serial so a finished call removes only itself.
type InFlight = Arc<Mutex<HashMap<(String, String), (u64, CancellationToken)>>>;

/// Authenticates the session token, removes the `Authorization` header,
/// answers `notifications/cancelled` itself and hands everything else, with
/// the [`SessionPrincipal`] in its extensions, to the SDK.
async fn authenticate(
    State((state, in_flight)): State<(AppState, InFlight)>,
    request: Request,
    next: Next,
) -> Response {
    let principal = match bearer_session(&state.core, request.headers()).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(header::AUTHORIZATION);
    let body = if parts.method == http::Method::POST {
        let bytes = match axum::body::to_bytes(body, crate::MAX_JSON_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "an MCP message may be at most {} bytes",
                        crate::MAX_JSON_BYTES
                    ),
                )
                .into_response();
            }
        };
        if let Some(id) = cancelled_request(&bytes) {
            let entry = in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(principal.call_session_id.clone(), id))
                .map(|(_, token)| token.clone());
            if let Some(token) = entry {
                token.cancel();
            }
            return (
                StatusCode::ACCEPTED,
                [(header::CONTENT_LENGTH, HeaderValue::from_static("0"))],
            )
                .into_response();
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}

async fn bearer_session(
    core: &Core,
    headers: &http::HeaderMap,
) -> Result<SessionPrincipal, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "an `Authorization: Bearer` header with a call-session token is required",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header must use the Bearer scheme")
        })?;
    Ok(core.authenticate_session(token).await?)
}

/// The request id a JSON-RPC `notifications/cancelled` message names, as
/// JSON text; `None` for any other message.
fn cancelled_request(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        method: Option<Cow<'a, str>>,
        params: Option<Params>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        request_id: Option<Value>,
    }
    let message: Message<'_> = serde_json::from_slice(body).ok()?;
    if message.method.as_deref() != Some("notifications/cancelled") {
        return None;
    }
    let id = message.params?.request_id?;
    (id.is_string() || id.is_number()).then(|| id.to_string())
}

fn request_key(id: &RequestId) -> String {
    id.clone().into_json_value().to_string()
}

/// One stateless MCP server per request; they share the core and the
/// registry of running calls.
#[derive(Clone)]
struct SessionServer {
    core: Core,
    limiter: Option<Arc<Limiter>>,
    in_flight: InFlight,
}

/// Removes a call's entry from the registry when the call ends, however it
/// ends.
struct InFlightEntry {
    in_flight: InFlight,
    key: (String, String),
    serial: u64,
}

impl Drop for InFlightEntry {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&self.key).is_some_and(|(s, _)| *s == self.serial) {
            map.remove(&self.key);
        }
    }
}

impl SessionServer {
    fn register(
        &self,
        session: &str,
        id: &RequestId,
        parent: &CancellationToken,
    ) -> (InFlightEntry, CancellationToken) {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let token = parent.child_token();
        let key = (session.to_owned(), request_key(id));
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), (serial, token.clone()));
        (
            InFlightEntry {
                in_flight: self.in_flight.clone(),
                key,
                serial,
            },
            token,
        )
    }
}

/// The principal the middleware established.
fn principal(context: &RequestContext<RoleServer>) -> Result<SessionPrincipal, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<SessionPrincipal>())
        .cloned()
        .ok_or_else(|| {
            tracing::error!("an MCP request reached the handler without a session");
            ErrorData::internal_error("an internal error occurred", None)
        })
}

/// A domain error before the tool ran: what the caller may learn, or a
/// generic JSON-RPC error (logged) for Warden's own failures.
fn refusal(error: CoreError) -> Result<String, ErrorData> {
    match error {
        CoreError::Disabled(message) | CoreError::Invalid(message) => Ok(message),
        CoreError::NotFound(what) => Ok(format!("{what} not found")),
        other => {
            tracing::error!("MCP request failed: {other}");
            Err(ErrorData::internal_error(
                "an internal error occurred",
                None,
            ))
        }
    }
}

/// What the LLM is told when a call fails: the tool's own message, or for
/// the host's verdicts on the sandbox a plain sentence without internals.
fn llm_message(error: &ToolError) -> Cow<'_, str> {
    if error.origin == Origin::Tool {
        return Cow::Borrowed(&error.message);
    }
    Cow::Borrowed(match error.kind {
        ErrorKind::FuelExhausted => "the tool used up its compute budget and was stopped",
        ErrorKind::Timeout => "the tool did not finish in time",
        ErrorKind::MemoryLimit => "the tool ran out of memory and was stopped",
        ErrorKind::StackOverflow | ErrorKind::Trap => "the tool crashed",
        ErrorKind::OutputTooLarge => "the tool's result was too large",
        ErrorKind::Overloaded => "the tool is busy; try again shortly",
        ErrorKind::HostDenied => "the tool tried to reach something it may not",
        ErrorKind::InvalidComponent => "the tool cannot be run",
        // Written for the caller: schema violations, unknown functions,
        // missing configuration, refused credentials.
        _ => return Cow::Borrowed(&error.message),
    })
}

fn error_result(kind: &str, message: &str) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.structured_content = Some(json!({ "error": { "kind": kind, "message": message } }));
    result
}

impl ServerHandler for SessionServer {
    fn get_info(&self) -> ServerConfig {
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        config.server_info = Implementation::new("warden", env!("CARGO_PKG_VERSION"));
        config.instructions = Some(
            "The tools of the voice agent taking this call. Each call runs in a fresh sandbox."
                .to_owned(),
        );
        config
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = principal(&context)?;
        let toolset = match self
            .core
            .toolset(&principal.organization_id, &principal.agent_id)
            .await
        {
            Ok(toolset) => toolset,
            Err(error) => return Err(ErrorData::invalid_request(refusal(error)?, None)),
        };
        let tools = toolset
            .functions
            .into_iter()
            .map(|f| {
                let schema = match f.parameters {
                    Value::Object(schema) => schema,
                    // Load-time validation makes every schema an object.
                    _ => serde_json::Map::new(),
                };
                let mut tool = Tool::new(f.name, f.description, schema);
                tool.annotations = Some(ToolAnnotations::new().read_only(f.read_only));
                tool
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools)
            .with_ttl_ms(0)
            .with_cache_scope(CacheScope::Private))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let principal = principal(&context)?;
        let name = request.name.into_owned();
        let tool_name = name
            .split_once(NAME_SEPARATOR)
            .map_or(name.as_str(), |(t, _)| t);
        // The name is the caller's (an LLM's) text: anything that cannot be
        // one of this agent's tools is refused before it keys a rate-limit
        // bucket, reaches a span, or is echoed at length.
        if name.len() > MAX_QUALIFIED_NAME || !is_valid_name(tool_name) {
            return Ok(error_result(
                "unknown_function",
                &format!(
                    "no tool of this agent has that name (names match \
                     `tool{NAME_SEPARATOR}function`, at most {MAX_QUALIFIED_NAME} characters)"
                ),
            )
            .into());
        }
        let asked_for = name.clone();
        if let Some(limiter) = &self.limiter
            && limiter
                .check(&principal.organization_id, tool_name)
                .is_err()
        {
            return Ok(error_result(
                "rate_limited",
                "too many calls to this tool right now; try again shortly",
            )
            .into());
        }
        let (_entry, cancelled) =
            self.register(&principal.call_session_id, &context.id, &context.ct);
        // The SDK runs the handler in a task of its own: the span joins the
        // HTTP request's (and so the caller's trace) explicitly.
        let request_span = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestSpan>())
            .map_or_else(tracing::Span::current, |span| span.0.clone());
        let span = tracing::info_span!(
            parent: &request_span,
            "MCP tools/call",
            otel.name = "tools/call",
            mcp.method.name = "tools/call",
        );
        let invocation = self
            .core
            .invoke(InvocationRequest {
                organization_id: Some(principal.organization_id),
                agent_id: principal.agent_id,
                function: name,
                arguments: Value::Object(request.arguments.unwrap_or_default()),
                // MCP carries no tool-call id; a fresh one per call keeps tools'
                // per-call idempotency from ever joining two different calls.
                call_id: format!("mcp-{}", uuid::Uuid::now_v7().simple()),
                call_session_id: Some(principal.call_session_id),
                deadline: None,
            })
            .instrument(span);
        // Dropping `invocation` drops the sandbox call.
        let invoked = tokio::select! {
            invoked = invocation => invoked,
            () = cancelled.cancelled() => {
                return Err(ErrorData::invalid_request("the call was cancelled", None));
            }
        };
        let invoked = match invoked {
            Ok(invoked) => invoked,
            Err(CoreError::NotFound(_)) => {
                let message = format!("`{asked_for}` is not one of this agent's tools");
                return Ok(error_result("unknown_function", &message).into());
            }
            Err(CoreError::Refused(error)) => {
                return Ok(error_result(error.kind.as_str(), &llm_message(&error)).into());
            }
            Err(error) => {
                let kind = match &error {
                    CoreError::Disabled(_) => "disabled",
                    _ => "invalid_request",
                };
                return Ok(error_result(kind, &refusal(error)?).into());
            }
        };
        Ok(match invoked.result {
            Ok(raw) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(raw.get())]);
                if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(raw.get()) {
                    result.structured_content = Some(value);
                }
                result
            }
            Err(error) => error_result(error.kind.as_str(), &llm_message(&error)),
        }
        .into())
    }
}

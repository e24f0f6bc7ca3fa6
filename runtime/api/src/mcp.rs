//! MCP at `/mcp`: the session agent's tools over the Model Context Protocol's
//! streamable HTTP transport, served by the official Rust SDK (`rmcp`).
//!
//! * **Credentials.** Only a call-session token (`Authorization: Bearer
//!   wds_…`) opens `/mcp`, and it scopes every request to its session's one
//!   agent. API keys and worker tokens are refused here, and session tokens
//!   everywhere else. A missing, unknown, ended, revoked or expired token is
//!   answered 401 problem+json before any MCP processing: at once when it is
//!   missing or not shaped like a session token, else after the body is read
//!   (at most [`crate::MAX_JSON_BYTES`], under the server's body timeout) and
//!   before anything in it is acted on — for the direct path's `tools/call`,
//!   in the same look-up as the call's data. The `Authorization` header is
//!   removed from the request before the SDK sees it, so nothing there (its
//!   own logging included) ever sees the token.
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
//!   and with it the sandbox instance — unless the call is exactly-once.
//! * **Exactly-once calls.** A `tools/call` whose `_meta` carries
//!   [`CALL_ID_META_KEY`] (`warden/call_id`) runs a function that is not
//!   read-only once per call id: a retry gets the recorded outcome, with
//!   [`REPLAY_OF_META_KEY`] (`warden/replay_of`) in the result's `_meta`; a
//!   retry while the first still runs, or the id with other arguments, is an
//!   `isError` result of kind `in_progress` or `call_id_reused`. Such a call
//!   runs to its end even when cancelled, so that its retry finds the
//!   outcome. Without the key each request is its own call.
//! * **Deadlines.** A `tools/call` whose `_meta` carries
//!   [`DEADLINE_META_KEY`] (`warden/deadline_ms`) must answer within that
//!   many milliseconds: the sandbox is stopped then and the call answers
//!   `timeout`, and the tool sees the time left in its context.
//! * **DNS rebinding.** The SDK's `Host` allow-list (loopback by default) is
//!   off: it guards servers that trust whoever can reach them, and this one
//!   trusts only the bearer token, which a rebinding page does not have.
//! * **The direct path.** Every voice turn waits on `tools/call`, and the
//!   SDK's stateless transport builds a service per request (four task
//!   spawns, their channels, a second parse of the body). So a `tools/call`
//!   this module fully understands — protocol versions before 2026-07-28
//!   (what the official SDK and LiveKit Agents negotiate), no per-request
//!   protocol metadata, and headers the SDK would accept as they are — is
//!   answered here, in the request's own task, with the SDK's message types
//!   and the same handler code. Anything else (other methods, newer
//!   protocol versions, anything malformed) goes to the SDK, which answers it
//!   as before.

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
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ClientJsonRpcMessage,
    ClientNotification, ContentBlock, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, RequestId, ServerCapabilities, ServerConfig,
    ServerJsonRpcMessage, ServerResult, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use warden_core::{
    Core, CoreError, InvocationRequest, NAME_SEPARATOR, SESSION_TOKEN_PREFIX, SessionPrincipal,
};
use warden_core::{
    ErrorKind, MAX_QUALIFIED_NAME, Origin, ToolCallError as ToolError, is_valid_name,
};

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// The `tools/call` request's `_meta` key for the caller's call id (a string,
/// at most 256 characters), kept across retries: with it a function that is
/// not read-only runs once per call id, as on the worker route's `call_id`.
pub const CALL_ID_META_KEY: &str = "warden/call_id";

/// The `tools/call` request's `_meta` key for the client's time limit on the
/// request, in milliseconds (a positive whole number): the call answers
/// `timeout` once it has passed, as the worker route's `X-Warden-Deadline-Ms`
/// does. The tool's own time limit still applies when it is shorter.
pub const DEADLINE_META_KEY: &str = "warden/deadline_ms";

/// The `tools/call` result's `_meta` key present when the result repeats the
/// recorded outcome of an earlier run of the same call id (the tool did not
/// run again): that run's audit row.
pub const REPLAY_OF_META_KEY: &str = "warden/replay_of";

pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let server = SessionServer {
        core: state.core.clone(),
        limiter: state.limiter.clone(),
        in_flight: Arc::default(),
    };
    let direct = server.clone();
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
        .route_layer(middleware::from_fn_with_state(direct, authenticate))
}

/// The `tools/call` requests running now, by session and JSON-RPC id, so a
/// `notifications/cancelled` (which arrives as a request of its own) can stop
/// one. Each entry carries a serial so a finished call removes only itself.
type InFlight = Arc<Mutex<HashMap<(String, String), (u64, CancellationToken)>>>;

/// Authenticates the session token, removes the `Authorization` header,
/// answers `notifications/cancelled` and the direct path's `tools/call`
/// itself, and hands everything else, with the [`SessionPrincipal`] in its
/// extensions, to the SDK.
async fn authenticate(
    State(server): State<SessionServer>,
    request: Request,
    next: Next,
) -> Response {
    let token = match bearer_token(request.headers()) {
        Ok(token) => token.to_owned(),
        Err(error) => return error.into_response(),
    };
    // Anything but a session token is refused before its body is read.
    if !token.starts_with(SESSION_TOKEN_PREFIX) {
        return ApiError::from(CoreError::InvalidSession).into_response();
    }
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(header::AUTHORIZATION);
    // The message, when one was posted (`Bytes` clones share the buffer).
    let mut posted = None;
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
        if let Some((id, params)) = direct_call(&bytes)
            && takes_directly(&parts.headers)
        {
            // The token is checked with the call's look-up.
            return server.call_directly(token, params, id).await;
        }
        posted = Some(bytes.clone());
        Body::from(bytes)
    } else {
        body
    };
    let principal = match server.core.authenticate_session(&token).await {
        Ok(principal) => principal,
        Err(error) => return ApiError::from(error).into_response(),
    };
    // A `notifications/cancelled` stops a running call of this session;
    // every other message is the SDK's to answer.
    if let Some(bytes) = &posted
        && let Ok(ClientJsonRpcMessage::Notification(notification)) =
            serde_json::from_slice::<ClientJsonRpcMessage>(bytes)
        && let ClientNotification::CancelledNotification(cancelled) = notification.notification
    {
        if let Some(id) = cancelled.params.request_id {
            server.cancel(&principal.call_session_id, &id);
        }
        return (
            StatusCode::ACCEPTED,
            [(header::CONTENT_LENGTH, HeaderValue::from_static("0"))],
        )
            .into_response();
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}

/// The id and parameters of `body` when it is a plain `tools/call` request:
/// exactly the members a request has, version 2.0, parameters as the SDK
/// reads them, and no per-request protocol metadata. `None` sends the message
/// to the SDK, whatever it is.
fn direct_call(body: &[u8]) -> Option<(RequestId, CallToolRequestParams)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<'a> {
        jsonrpc: &'a str,
        id: RequestId,
        method: &'a str,
        #[serde(borrow)]
        params: &'a serde_json::value::RawValue,
    }
    let envelope: Envelope<'_> = serde_json::from_slice(body).ok()?;
    if envelope.jsonrpc != "2.0" || envelope.method != "tools/call" {
        return None;
    }
    let params: CallToolRequestParams = serde_json::from_str(envelope.params.get()).ok()?;
    let per_request_version = params
        .meta
        .as_ref()
        .is_some_and(|meta| meta.protocol_version().is_some());
    (!per_request_version).then_some((envelope.id, params))
}

/// Whether a `tools/call` with these headers may take the direct path: the
/// SDK would accept them as they are (both media types accepted, a JSON body,
/// a known protocol version or none), and the version is one before
/// 2026-07-28, whose request metadata and standard headers only the SDK
/// checks.
fn takes_directly(headers: &http::HeaderMap) -> bool {
    let accepted = || {
        headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|range| range.split(';').next().unwrap_or_default().trim())
    };
    let accepts = |media: &str| accepted().any(|range| range.eq_ignore_ascii_case(media));
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        });
    let mut versions = headers.get_all("mcp-protocol-version").iter();
    let version_ok = match (versions.next(), versions.next()) {
        (None, _) => true,
        (Some(version), None) => version.to_str().is_ok_and(|version| {
            version < ProtocolVersion::V_2026_07_28.as_str()
                && ProtocolVersion::KNOWN_VERSIONS
                    .iter()
                    .any(|known| known.as_str() == version)
        }),
        (Some(_), Some(_)) => false,
    };
    accepts("application/json") && accepts("text/event-stream") && json_body && version_ok
}

/// The bearer token of an `Authorization` header.
fn bearer_token(headers: &http::HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "an `Authorization: Bearer` header with a call-session token is required",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
    value
        .split_once(' ')
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header must use the Bearer scheme")
        })
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
    /// Cancels the session's running call `id`, if there is one.
    fn cancel(&self, session: &str, id: &RequestId) {
        let entry = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(session.to_owned(), request_key(id)))
            .map(|(_, token)| token.clone());
        if let Some(token) = entry {
            token.cancel();
        }
    }

    /// Answers a `tools/call` in the request's own task, as the SDK would
    /// in JSON response mode; a token that is not a live session's is
    /// answered 401 as by the middleware.
    async fn call_directly(
        &self,
        token: String,
        request: CallToolRequestParams,
        id: RequestId,
    ) -> Response {
        let called = self
            .call(
                Caller::Token(token),
                request,
                &id,
                &CancellationToken::new(),
                tracing::Span::current(),
            )
            .await;
        let message = match called {
            Ok(Ok(result)) => ServerJsonRpcMessage::response(
                ServerResult::from(CallToolResponse::from(result)),
                id,
            ),
            Ok(Err(error)) => ServerJsonRpcMessage::error(error, Some(id)),
            Err(refused) => return refused.into_response(),
        };
        match serde_json::to_vec(&message) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => ApiError::internal("encoding an MCP response", &e).into_response(),
        }
    }

    /// Runs one `tools/call` for the session's agent, for the SDK's handler
    /// and the direct path alike. `parent` cancels it (the SDK's token for
    /// the request), as does a `notifications/cancelled` naming `id`.
    async fn call(
        &self,
        caller: Caller,
        request: CallToolRequestParams,
        id: &RequestId,
        parent: &CancellationToken,
        request_span: tracing::Span,
    ) -> Result<Result<CallToolResult, ErrorData>, ApiError> {
        let name = request.name.into_owned();
        let tool_name = name
            .split_once(NAME_SEPARATOR)
            .map_or(name.as_str(), |(t, _)| t);
        // The name is the caller's (an LLM's) text: anything that cannot be
        // one of this agent's tools is refused before it keys a rate-limit
        // bucket, reaches a span, or is echoed at length.
        if name.len() > MAX_QUALIFIED_NAME || !is_valid_name(tool_name) {
            if let Caller::Token(token) = &caller {
                self.core.authenticate_session(token).await?;
            }
            return Ok(Ok(error_result(
                "unknown_function",
                &format!(
                    "no tool of this agent has that name (names match \
                     `tool{NAME_SEPARATOR}function`, at most {MAX_QUALIFIED_NAME} characters)"
                ),
            )));
        }
        let tool_name = tool_name.to_owned();
        let asked_for = name.clone();
        let caller_call_id = match request
            .meta
            .as_ref()
            .and_then(|meta| meta.get(CALL_ID_META_KEY))
        {
            None => None,
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(_) => {
                return Ok(Ok(error_result(
                    "invalid_request",
                    &format!("`_meta[\"{CALL_ID_META_KEY}\"]` must be a non-empty string"),
                )));
            }
        };
        // The client's own time limit for the request, when it says: the
        // call must answer within it, so it bounds the sandbox too.
        let deadline = match request
            .meta
            .as_ref()
            .and_then(|meta| meta.get(DEADLINE_META_KEY))
        {
            None => None,
            Some(ms) => match ms.as_u64().filter(|ms| *ms > 0) {
                Some(ms) => std::time::Instant::now().checked_add(Duration::from_millis(ms)),
                None => {
                    return Ok(Ok(error_result(
                        "invalid_request",
                        &format!(
                            "`_meta[\"{DEADLINE_META_KEY}\"]` must be a positive whole number \
                             of milliseconds"
                        ),
                    )));
                }
            },
        };
        let request = InvocationRequest {
            function: name,
            arguments: Value::Object(request.arguments.unwrap_or_default()),
            deadline,
            caller_call_id: caller_call_id.is_some(),
            // Without the caller's id, a fresh one per call keeps tools'
            // per-call idempotency from ever joining two different calls.
            call_id: caller_call_id
                .unwrap_or_else(|| format!("mcp-{}", uuid::Uuid::now_v7().simple())),
            ..InvocationRequest::default()
        };
        let span = tracing::info_span!(
            parent: &request_span,
            "MCP tools/call",
            otel.name = "tools/call",
            mcp.method.name = "tools/call",
        );
        // The direct path checks the token in the same look-up as it loads
        // the call's data.
        let prepared = match caller {
            Caller::Principal(principal) => {
                let request = principal.scope(request);
                let prepared = self.core.prepare(request).instrument(span.clone()).await;
                prepared.map(|prepared| (principal, prepared))
            }
            Caller::Token(token) => {
                let prepared = self.core.prepare_for_session(&token, request);
                match prepared.instrument(span.clone()).await {
                    Err(CoreError::InvalidSession) => return Err(CoreError::InvalidSession.into()),
                    prepared => prepared,
                }
            }
        };
        let (principal, prepared) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => return Ok(refused_call(&asked_for, error)),
        };
        if let Some(limiter) = &self.limiter
            && limiter
                .check(&principal.organization_id, &tool_name)
                .is_err()
        {
            return Ok(Ok(error_result(
                "rate_limited",
                "too many calls to this tool right now; try again shortly",
            )));
        }
        let (_entry, cancelled) = self.register(&principal.call_session_id, id, parent);
        // Boxed: the call's future is large, and this one is moved between
        // tasks and select arms.
        let invocation = Box::pin(self.core.run(prepared)).instrument(span);
        // Dropping `invocation` drops the sandbox call.
        let invoked = tokio::select! {
            invoked = invocation => invoked,
            () = cancelled.cancelled() => {
                return Ok(Err(ErrorData::invalid_request("the call was cancelled", None)));
            }
        };
        let invoked = match invoked {
            Ok(invoked) => invoked,
            Err(error) => return Ok(refused_call(&asked_for, error)),
        };
        let mut result = match invoked.result {
            // A line to speak is the first text content, the JSON the
            // structured content and (as MCP asks, for clients that show the
            // model only text, LiveKit Agents among them) the last text
            // content too, so the model keeps the data the line leaves out.
            Ok(raw) => {
                let mut content = Vec::with_capacity(2);
                if let Some(spoken) = invoked.spoken {
                    content.push(ContentBlock::text(spoken));
                }
                content.push(ContentBlock::text(raw.get()));
                let mut result = CallToolResult::success(content);
                if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(raw.get()) {
                    result.structured_content = Some(value);
                }
                result
            }
            Err(error) => error_result(error.kind.as_str(), &llm_message(&error)),
        };
        if let Some(replay_of) = invoked.replay_of {
            let mut meta = serde_json::Map::new();
            meta.insert(REPLAY_OF_META_KEY.to_owned(), Value::String(replay_of));
            result.meta = Some(meta.into());
        }
        Ok(Ok(result))
    }

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
        CoreError::Disabled(message)
        | CoreError::Invalid(message)
        | CoreError::InProgress(message)
        | CoreError::CallIdReused(message) => Ok(message),
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

/// A call refused before it ran, as the LLM is told it; Warden's own
/// failures are a JSON-RPC error.
fn refused_call(asked_for: &str, error: CoreError) -> Result<CallToolResult, ErrorData> {
    match error {
        CoreError::NotFound(_) => {
            let message = format!("`{asked_for}` is not one of this agent's tools");
            Ok(error_result("unknown_function", &message))
        }
        CoreError::Refused(error) => Ok(error_result(error.kind.as_str(), &llm_message(&error))),
        error => {
            let kind = match &error {
                CoreError::Disabled(_) => "disabled",
                CoreError::InProgress(_) => "in_progress",
                CoreError::CallIdReused(_) => "call_id_reused",
                _ => "invalid_request",
            };
            Ok(error_result(kind, &refusal(error)?))
        }
    }
}

/// Who a `tools/call` is for.
enum Caller {
    /// The session the middleware authenticated (the SDK's path).
    Principal(SessionPrincipal),
    /// The presented session token, checked in the same look-up as the
    /// call's data (the direct path).
    Token(String),
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
                let mut annotations = ToolAnnotations::new().read_only(f.read_only);
                // Tools built against contract 0.1.0 could not declare these;
                // left out, clients apply MCP's defaults.
                if let Some(hints) = f.hints {
                    annotations = annotations
                        .idempotent(hints.idempotent)
                        .destructive(hints.destructive)
                        .open_world(hints.open_world);
                }
                tool.annotations = Some(annotations);
                if let Some(Value::Object(schema)) = f.output_schema {
                    tool.output_schema = Some(Arc::new(schema));
                }
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
        // The SDK runs the handler in a task of its own: the call's span joins
        // the HTTP request's (and so the caller's trace) explicitly.
        let request_span = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestSpan>())
            .map_or_else(tracing::Span::current, |span| span.0.clone());
        match self
            .call(
                Caller::Principal(principal),
                request,
                &context.id,
                &context.ct,
                request_span,
            )
            .await
        {
            Ok(called) => called.map(CallToolResponse::from),
            // Only the direct path checks a token here.
            Err(_) => Err(ErrorData::internal_error(
                "an internal error occurred",
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tools_calls_take_the_direct_path() {
        let direct = |body: Value| direct_call(&serde_json::to_vec(&body).unwrap());
        let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": { "name": "echo__echo", "arguments": { "message": "hi" } } });
        let (id, params) = direct(call.clone()).expect("a plain call");
        assert_eq!(id, RequestId::Number(3));
        assert_eq!(params.name, "echo__echo");
        assert_eq!(params.arguments.unwrap()["message"], "hi");

        let with = |path: &str, value: Value| {
            let mut body = call.clone();
            let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
            let target = if parent.is_empty() {
                &mut body
            } else {
                &mut body[parent]
            };
            target[key] = value;
            direct(body)
        };
        // Anything else is the SDK's to answer (or refuse).
        assert!(with("jsonrpc", json!("1.0")).is_none());
        assert!(with("method", json!("tools/list")).is_none());
        assert!(with("result", json!({})).is_none());
        assert!(with("error", json!({})).is_none());
        assert!(with("id", json!(null)).is_none());
        assert!(with("params", json!("echo__echo")).is_none());
        assert!(with("params.arguments", json!([1])).is_none());
        assert!(
            with(
                "params._meta",
                json!({ "io.modelcontextprotocol/protocolVersion": "2026-07-28" })
            )
            .is_none()
        );
        assert!(direct(json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call" })).is_none());
        assert!(direct_call(b"{\"jsonrpc\":\"2.0\",").is_none());
    }
}

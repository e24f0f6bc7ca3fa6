//! The worker tier: an agent's toolset as LLM function schemas, and the
//! invocation pipeline — the only place secrets are opened, at call time.
//!
//! Every invocation loads the agent, its tool association and the sealed
//! secrets as of the last commit (the store answers from a versioned cache
//! that is never stale: each call reads the look-up version, which every change
//! to those tables advances, so a change made through the management API, the
//! CLI or another replica applies to the very next call), validates, runs the
//! tool in a fresh sandbox instance, seals back any OAuth2 token the host
//! refreshed, and writes the audit row.

use crate::Core;
use crate::LoadedTool;
use crate::auth::{self, WORKER_TOKEN_PREFIX};
use crate::catalog::current_metadata;
use crate::error::{CoreError, Result};
use crate::sessions::{SESSION_TOKEN_PREFIX, SessionPrincipal, session_principal};
use crate::telemetry;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex};
use std::time::{Instant, UNIX_EPOCH};
use tracing::{Instrument as _, Span};
use warden_sandbox::{
    Call, CallContext, CallEnv, CallReport, Error as ToolCallError, PhoneCall, RefreshedToken,
    SecretMap, TokenCallback,
};
use warden_store::{InvocationOutcome, InvocationTarget, NewInvocation, Tool as ToolRow};

/// Separates tool and function in the names LLMs see: `google_calendar__list_events`.
pub const NAME_SEPARATOR: &str = "__";

/// A function an agent may call, as an LLM function-calling schema.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionSchema {
    /// `{tool}__{function}`.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    /// Whether the tool declares that the function changes nothing (a hint
    /// for clients, e.g. MCP's `readOnlyHint`).
    pub read_only: bool,
    /// The tool's other effect hints (MCP's `idempotentHint`,
    /// `destructiveHint`, `openWorldHint`), when its contract version has
    /// them.
    pub hints: Option<warden_sandbox::FunctionHints>,
    /// JSON Schema of the function's result, when the tool declares one.
    pub output_schema: Option<Value>,
}

/// An agent's enabled functions, as the worker hands them to the LLM.
#[derive(Debug, Clone, Serialize)]
pub struct Toolset {
    /// The agent.
    pub agent_id: String,
    /// Its enabled functions, by tool then function name.
    pub functions: Vec<FunctionSchema>,
}

/// What the worker knows about one invocation.
#[derive(Debug, Clone, Default)]
pub struct InvocationRequest {
    /// The organization the call is made for (from a session or an
    /// organization's credentials): an agent of another organization is not
    /// found. `None` for callers trusted across organizations (the worker
    /// plane's tokens): the agent's own organization applies.
    pub organization_id: Option<String>,
    /// The agent making the call.
    pub agent_id: String,
    /// `{tool}__{function}`.
    pub function: String,
    /// The arguments the LLM produced.
    pub arguments: Value,
    /// The LLM's tool-call id; kept across retries so tools can be idempotent.
    pub call_id: String,
    /// Whether `call_id` is the caller's own, kept across retries (not one
    /// Warden made up, and not empty): a call of a function that is not
    /// read-only then runs once per call id, and its retries get the recorded
    /// outcome (see the `once` module).
    pub caller_call_id: bool,
    /// The LiveKit call session, when there is one.
    pub call_session_id: Option<String>,
    /// The phone call the invocation is made during, for the tool's context
    /// (set from the session, never from the request body).
    pub call: Option<PhoneCall>,
    /// A deadline tighter than the tool's limits (the voice turn's).
    pub deadline: Option<Instant>,
}

/// A call whose agent, tool, association and secrets are loaded and checked
/// ([`Core::prepare`]), ready for [`Core::run`]. Holds the opened secrets:
/// dropping it drops them.
pub struct PreparedInvocation {
    organization_id: String,
    agent_id: String,
    pub(crate) tool: ToolRow,
    function: String,
    pub(crate) loaded: LoadedTool,
    config: Value,
    secrets: SecretMap,
    pub(crate) arguments: Value,
    pub(crate) call_id: String,
    caller_call_id: bool,
    pub(crate) call_session_id: Option<String>,
    call: Option<PhoneCall>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) started_at: DateTime<Utc>,
    /// The call's span, from [`Core::prepare`] to the audit row.
    pub(crate) span: Span,
}

impl PreparedInvocation {
    /// The organization the call runs for (the agent's).
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// The agent making the call.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// The tool's name.
    pub fn tool_name(&self) -> &str {
        &self.tool.name
    }

    /// The function's name within the tool.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// Whether the call runs once per call id: the caller named it, and the
    /// function may change something upstream.
    fn runs_once(&self) -> bool {
        self.caller_call_id
            && !self.call_id.is_empty()
            && self
                .loaded
                .tool
                .metadata()
                .function(&self.function)
                .is_some_and(|f| !f.read_only)
    }
}

impl std::fmt::Debug for PreparedInvocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No config, arguments or secrets.
        f.debug_struct("PreparedInvocation")
            .field("organization_id", &self.organization_id)
            .field("agent_id", &self.agent_id)
            .field("tool", &self.tool.name)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

/// The outcome of an invocation that reached the sandbox.
#[derive(Debug)]
pub struct Invoked {
    /// The tool's result, or the typed error (already redacted).
    pub result: Result<Box<RawValue>, ToolCallError>,
    /// Measurements and captured output.
    pub report: CallReport,
    /// The audit row's id.
    pub invocation_id: String,
    /// The line the tool wants spoken with its result (tools built against
    /// contract 0.2.0 or later), redacted and bounded.
    pub spoken: Option<String>,
    /// For a replay (a repeat of an exactly-once call, answered with the
    /// recorded outcome without running the tool): the audit row of the run
    /// whose outcome it is. The report is then empty.
    pub replay_of: Option<String>,
}

impl Core {
    /// The functions `agent_id` may call right now.
    pub async fn toolset(&self, organization_id: &str, agent_id: &str) -> Result<Toolset> {
        let agent = self.store.agent(organization_id, agent_id).await?;
        if !agent.is_active {
            return Err(CoreError::Disabled(format!(
                "the agent `{}` is not active",
                agent.name
            )));
        }
        let mut functions = Vec::new();
        for association in self
            .store
            .list_agent_tools(organization_id, agent_id)
            .await?
        {
            if !association.is_enabled {
                continue;
            }
            let tool = self
                .store
                .tool(organization_id, &association.tool_id)
                .await?;
            let (_, _, metadata) = current_metadata(self, organization_id, &tool).await?;
            for f in metadata.functions {
                if association.function_enabled(&f.name) {
                    functions.push(FunctionSchema {
                        name: format!("{}{NAME_SEPARATOR}{}", metadata.name, f.name),
                        description: f.description,
                        parameters: f.parameters,
                        read_only: f.read_only,
                        hints: f.hints,
                        output_schema: f.output_schema,
                    });
                }
            }
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Toolset {
            agent_id: agent.id,
            functions,
        })
    }

    /// Runs one function for an agent: the whole pipeline,
    /// [`Core::prepare`] then [`Core::run`]. Errors before the sandbox
    /// (unknown agent, disabled function, …) are `CoreError`s; what the tool
    /// or the sandbox says is in [`Invoked::result`], and is audited.
    pub async fn invoke(&self, request: InvocationRequest) -> Result<Invoked> {
        let prepared = self.prepare(request).await?;
        self.run(prepared).await
    }

    /// Loads and checks everything a call needs — the agent, the tool, the
    /// association and the opened secrets, fresh from the store in one
    /// query — without running anything. Callers that admit calls per
    /// organization and tool (rate limits) decide between the two steps.
    pub async fn prepare(&self, request: InvocationRequest) -> Result<PreparedInvocation> {
        let span = call_span(&request);
        in_call_span(span.clone(), self.prepare_in(request, span)).await
    }

    async fn prepare_in(
        &self,
        request: InvocationRequest,
        span: Span,
    ) -> Result<PreparedInvocation> {
        let started_at = Utc::now();
        let tool_name = check_request(&request)?;
        let target = self
            .store
            .invocation_target(
                request.organization_id.as_deref(),
                &request.agent_id,
                tool_name,
            )
            .instrument(tracing::info_span!("store load"))
            .await?;
        self.prepare_target(request, started_at, target, span).await
    }

    /// [`Core::prepare`] for the worker plane, which checks the presented
    /// worker token in the same round trip as it loads the call's data. As
    /// with [`Core::authenticate_worker`] then [`Core::prepare`], a token
    /// that is not valid is refused before anything else about the request
    /// is looked at; the request's own organization, if any, is ignored (the
    /// agent's applies). A token limited to one organization finds only that
    /// organization's agents, in the same query: another organization's agent
    /// is [`CoreError::NotFound`] exactly as an unknown agent.
    pub async fn prepare_for_worker(
        &self,
        presented: &str,
        request: InvocationRequest,
    ) -> Result<PreparedInvocation> {
        if !auth::plausible(presented, WORKER_TOKEN_PREFIX) {
            return Err(CoreError::Unauthenticated);
        }
        let request = InvocationRequest {
            organization_id: None,
            ..request
        };
        if check_request(&request).is_err() {
            // Refused by `prepare` as it would be after the plain check (within
            // the token's organization, if it has one).
            let worker = self.authenticate_worker(presented).await?;
            return self
                .prepare(InvocationRequest {
                    organization_id: worker.organization_id,
                    ..request
                })
                .await;
        }
        // The call's span covers the look-up, token check included: a
        // request refused as unauthenticated here is a rejected call in it.
        let span = call_span(&request);
        in_call_span(
            span.clone(),
            self.prepare_for_worker_in(presented, request, span),
        )
        .await
    }

    async fn prepare_for_worker_in(
        &self,
        presented: &str,
        request: InvocationRequest,
        span: Span,
    ) -> Result<PreparedInvocation> {
        let started_at = Utc::now();
        let (tool_name, _) = split_function(&request.function)?;
        let presented_hash = auth::hash(presented);
        let (token, target) = match self
            .store
            .worker_invocation_target(&presented_hash, &request.agent_id, tool_name)
            .instrument(tracing::info_span!("store load"))
            .await
        {
            Ok(found) => found,
            Err(warden_store::StoreError::NotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        if !auth::same_hash(&token.token_hash, &presented_hash) {
            return Err(CoreError::Unauthenticated);
        }
        self.touch_worker_token(&token).await;
        let target = target?;
        // A call the worker makes during a call session gets the session's
        // phone call; the session must be a live one of this very agent.
        let request = match &request.call_session_id {
            Some(session_id) => InvocationRequest {
                call: Some(self.live_session_call(&target.agent, session_id).await?),
                ..request
            },
            None => request,
        };
        self.prepare_target(request, started_at, target, span).await
    }

    /// The phone call of `agent`'s live call session `session_id`. Another
    /// agent's or organization's session is not found, exactly as an unknown
    /// one; an ended or expired session is a conflict.
    async fn live_session_call(
        &self,
        agent: &warden_store::VoiceAgent,
        session_id: &str,
    ) -> Result<PhoneCall> {
        let session = match self
            .store
            .call_session(&agent.organization_id, session_id)
            .await
        {
            Ok(session) if session.agent_id == agent.id => session,
            Ok(_) | Err(warden_store::StoreError::NotFound(_)) => {
                return Err(CoreError::NotFound("call session"));
            }
            Err(e) => return Err(e.into()),
        };
        if session.ended_at.is_some() || session.expires_at <= Utc::now() {
            return Err(CoreError::Conflict(
                "the call session has ended; calls outside a call leave call_session_id out"
                    .to_owned(),
            ));
        }
        Ok(crate::sessions::phone_call(&session))
    }

    /// [`Core::authenticate_session`] then [`Core::prepare`] for the
    /// session's agent, in one look-up: MCP's `tools/call`. A token that is
    /// not a live session's is [`CoreError::InvalidSession`] whatever the
    /// request; the request's own organization, agent and session are
    /// replaced by the session's.
    pub async fn prepare_for_session(
        &self,
        presented: &str,
        request: InvocationRequest,
    ) -> Result<(SessionPrincipal, PreparedInvocation)> {
        if !auth::plausible(presented, SESSION_TOKEN_PREFIX) {
            return Err(CoreError::InvalidSession);
        }
        let tool_name = match check_request(&request) {
            Ok(tool_name) => tool_name.to_owned(),
            // Refused as `prepare` would, once the token is known to be good.
            Err(_) => {
                let principal = self.authenticate_session(presented).await?;
                let request = principal.scope(request);
                return Ok((principal, self.prepare(request).await?));
            }
        };
        // The call's span covers the look-up, token check included (a request
        // refused as unauthenticated is a rejected call in it); the agent and
        // the session are the token's, known once it is checked.
        let span = telemetry::invocation_span(None, &request.function, &request.call_id, None);
        let started_at = Utc::now();
        let prepared = async {
            let presented_hash = auth::hash(presented);
            let (session, target) = match self
                .store
                .session_invocation_target(&presented_hash, &tool_name)
                .instrument(tracing::info_span!("store load"))
                .await
            {
                Ok(found) => found,
                Err(warden_store::StoreError::NotFound(_)) => {
                    return Err(CoreError::InvalidSession);
                }
                Err(e) => return Err(e.into()),
            };
            let principal = session_principal(session, &presented_hash)?;
            span.record("warden.agent_id", telemetry::bounded(&principal.agent_id));
            span.record("warden.call_session_id", principal.call_session_id.as_str());
            let request = principal.scope(request);
            let prepared = self
                .prepare_target(request, started_at, target?, span.clone())
                .await?;
            Ok((principal, prepared))
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = &prepared {
            telemetry::reject_span(&span, e.kind());
        }
        prepared
    }

    /// The checks and the loading that follow the store's look-up.
    async fn prepare_target(
        &self,
        request: InvocationRequest,
        started_at: DateTime<Utc>,
        target: InvocationTarget,
        span: Span,
    ) -> Result<PreparedInvocation> {
        let (tool_name, function) = split_function(&request.function)?;
        let agent = target.agent;
        if !agent.is_active {
            return Err(CoreError::Disabled(format!(
                "the agent `{}` is not active",
                agent.name
            )));
        }
        let tool = target.tool.ok_or(CoreError::NotFound("tool"))?;
        let association = target.association.ok_or_else(|| {
            CoreError::Disabled(format!("the agent does not use the tool `{tool_name}`"))
        })?;
        if !association.is_enabled {
            return Err(CoreError::Disabled(format!(
                "the tool `{tool_name}` is disabled for this agent"
            )));
        }
        if !association.function_enabled(function) {
            return Err(CoreError::Disabled(format!(
                "the function `{function}` of `{tool_name}` is disabled for this agent"
            )));
        }
        let organization_id = agent.organization_id;
        span.record("warden.organization_id", organization_id.as_str());
        let loaded = self
            .load_tool(&organization_id, &tool)
            .instrument(tracing::info_span!("load tool"))
            .await?;
        // A name the tool does not have is refused here, before it reaches a
        // metric, the sandbox or the audit log.
        loaded.tool.function(function).map_err(CoreError::Refused)?;
        if let Some(current) = &tool.current_version {
            span.record("warden.tool.version", current.version.as_str());
        }
        // Secrets, opened for this call only.
        let secrets = target
            .secrets
            .iter()
            .map(|row| {
                Ok((
                    row.name.clone(),
                    self.keys.open(&row.identity(), &row.sealed)?,
                ))
            })
            .collect::<std::result::Result<SecretMap, warden_store::SealError>>()
            .map_err(warden_store::StoreError::from)?;
        let function = function.to_owned();
        Ok(PreparedInvocation {
            organization_id,
            agent_id: agent.id,
            tool,
            function,
            loaded,
            config: association.config,
            secrets,
            arguments: request.arguments,
            call_id: request.call_id,
            caller_call_id: request.caller_call_id,
            call_session_id: request.call_session_id,
            call: request.call,
            deadline: request.deadline,
            started_at,
            span,
        })
    }

    /// Runs a prepared call in a fresh sandbox instance, seals back any
    /// OAuth2 token the host refreshed, and writes the audit row. A call the
    /// caller named, of a function that is not read-only, runs once per call
    /// id (see the `once` module): a repeat is answered from the recorded
    /// outcome ([`Invoked::replay_of`]), or refused with
    /// [`CoreError::InProgress`] or [`CoreError::CallIdReused`].
    pub async fn run(&self, prepared: PreparedInvocation) -> Result<Invoked> {
        let span = prepared.span.clone();
        if prepared.runs_once() {
            return self.run_once(prepared).instrument(span).await;
        }
        self.run_in(prepared).instrument(span).await
    }

    pub(crate) async fn run_in(&self, prepared: PreparedInvocation) -> Result<Invoked> {
        let PreparedInvocation {
            organization_id: org,
            agent_id,
            tool,
            function,
            loaded,
            config,
            secrets,
            arguments,
            call_id,
            caller_call_id: _,
            call_session_id,
            call,
            deadline,
            started_at,
            span,
        } = prepared;
        let refreshed: Arc<Mutex<Option<RefreshedToken>>> = Arc::default();
        let on_token_refresh = TokenCallback::new({
            let refreshed = refreshed.clone();
            move |token| *refreshed.lock().unwrap_or_else(|e| e.into_inner()) = Some(token)
        });
        // Names only; the store keeps them only for organizations that opted in.
        let argument_keys = arguments
            .as_object()
            .map(|o| Value::from(o.keys().cloned().collect::<Vec<_>>()));

        let outcome = self
            .sandbox
            .invoke(
                &loaded.tool,
                Call {
                    function: function.clone(),
                    arguments,
                    env: CallEnv {
                        context: CallContext {
                            call_id: call_id.clone(),
                            organization_id: org.clone(),
                            agent_id: Some(agent_id.clone()),
                            config,
                            call,
                        },
                        secrets,
                        limits: self.settings.limits_for(&tool),
                        deadline,
                        http: self.settings.grants_for(&tool),
                        on_token_refresh: Some(on_token_refresh),
                    },
                },
            )
            .await;

        let error = outcome.result.as_ref().err().map(|e| e.kind);
        let known = loaded.tool.metadata().function(&function).is_some();
        self.metrics.record(
            &tool.name,
            known.then_some(function.as_str()),
            error,
            &outcome.report,
        );
        telemetry::finish_span(&span, error, &outcome.report);

        let token = refreshed.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(token) = token {
            self.store_refreshed_token(&org, &tool.id, token).await;
        }

        let report = outcome.report;
        let invocation_id = self
            .audit
            .record(
                &self.store,
                org,
                NewInvocation {
                    agent_id: Some(agent_id),
                    tool_id: tool.id,
                    tool_version_id: loaded.version_id,
                    // The name as asked for, cut like a span attribute.
                    function: telemetry::bounded(&function).to_owned(),
                    call_id,
                    call_session_id,
                    started_at,
                    duration_us: i64::try_from(report.duration.as_micros()).unwrap_or(i64::MAX),
                    fuel_consumed: i64::try_from(report.fuel_consumed).unwrap_or(i64::MAX),
                    peak_memory_bytes: i64::try_from(report.peak_memory_bytes).unwrap_or(i64::MAX),
                    outcome: if outcome.result.is_ok() {
                        InvocationOutcome::Ok
                    } else {
                        InvocationOutcome::Error
                    },
                    error_kind: outcome
                        .result
                        .as_ref()
                        .err()
                        .map(|e| e.kind.as_str().to_owned()),
                    argument_keys,
                    replay_of: None,
                },
            )
            .instrument(tracing::info_span!("audit"))
            .await?;
        Ok(Invoked {
            result: outcome.result,
            spoken: outcome.spoken,
            report,
            invocation_id,
            replay_of: None,
        })
    }

    /// Seals the token the host refreshed back into the organization's
    /// secrets, so the next call starts from it. A failure is logged, not
    /// fatal: the call itself succeeded.
    async fn store_refreshed_token(&self, org: &str, tool_id: &str, token: RefreshedToken) {
        let mut values = vec![("access_token", token.access_token)];
        if let Some(at) = token.expires_at
            && let Ok(since) = at.duration_since(UNIX_EPOCH)
        {
            values.push((
                "access_token_expires_at",
                SecretString::from(since.as_secs().to_string()),
            ));
        }
        if let Some(refresh) = token.refresh_token {
            values.push(("refresh_token", refresh));
        }
        for (name, value) in values {
            if let Err(e) = self
                .store
                .put_secret(&self.keys, org, tool_id, name, &value)
                .await
            {
                tracing::error!(
                    tool_id,
                    secret = name,
                    "failed to store a refreshed OAuth2 token: {e}"
                );
            }
        }
    }

    /// Runs the `test` export of an agent's tool with the organization's
    /// secrets and returns only its (redacted) result.
    pub async fn test_agent_tool(
        &self,
        organization_id: &str,
        agent_id: &str,
        tool_id: &str,
    ) -> Result<Result<Box<RawValue>, ToolCallError>> {
        let association = self
            .store
            .agent_tool(organization_id, agent_id, tool_id)
            .await?;
        let tool = self.store.tool(organization_id, tool_id).await?;
        let loaded = self.load_tool(organization_id, &tool).await?;
        let secrets: SecretMap = self
            .store
            .open_secrets(&self.keys, organization_id, tool_id)
            .await?
            .into_iter()
            .collect();
        let outcome = self
            .sandbox
            .test(
                &loaded.tool,
                CallEnv {
                    context: CallContext {
                        call_id: format!("test-{}", uuid_like()),
                        organization_id: organization_id.to_owned(),
                        agent_id: Some(agent_id.to_owned()),
                        config: association.config,
                        call: None,
                    },
                    secrets,
                    limits: self.settings.limits_for(&tool),
                    http: self.settings.grants_for(&tool),
                    ..CallEnv::default()
                },
            )
            .await;
        Ok(outcome.result)
    }
}

/// The span of one call, from its preparation to its audit row.
/// Runs `prepare` inside `span`, the call's span, and records a refusal on it.
async fn in_call_span(
    span: Span,
    prepare: impl Future<Output = Result<PreparedInvocation>>,
) -> Result<PreparedInvocation> {
    let prepared = prepare.instrument(span.clone()).await;
    if let Err(e) = &prepared {
        telemetry::reject_span(&span, e.kind());
    }
    prepared
}

fn call_span(request: &InvocationRequest) -> Span {
    telemetry::invocation_span(
        Some(&request.agent_id),
        &request.function,
        &request.call_id,
        request.call_session_id.as_deref(),
    )
}

/// The longest call id, in characters: LLM tool-call ids are a few dozen.
pub const MAX_CALL_ID_CHARS: usize = 256;

/// The longest call-session id a worker may name (Warden's are UUIDs).
const MAX_CALL_SESSION_ID_BYTES: usize = 64;

/// Checks what can be checked of a request before the store is asked; the
/// tool's name.
fn check_request(request: &InvocationRequest) -> Result<&str> {
    if request.call_id.chars().nth(MAX_CALL_ID_CHARS).is_some() {
        return Err(CoreError::Invalid(format!(
            "call_id is longer than {MAX_CALL_ID_CHARS} characters"
        )));
    }
    if request
        .call_session_id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.len() > MAX_CALL_SESSION_ID_BYTES)
    {
        return Err(CoreError::Invalid(format!(
            "call_session_id must be 1 to {MAX_CALL_SESSION_ID_BYTES} bytes"
        )));
    }
    Ok(split_function(&request.function)?.0)
}

/// `tool__function` as `(tool, function)`.
fn split_function(name: &str) -> Result<(&str, &str)> {
    name.split_once(NAME_SEPARATOR).ok_or_else(|| {
        CoreError::Invalid(format!(
            "`{name}` is not a function name of the form tool{NAME_SEPARATOR}function"
        ))
    })
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

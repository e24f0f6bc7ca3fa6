//! The worker tier: an agent's toolset as LLM function schemas, and the
//! invocation pipeline — the only place secrets are opened, at call time.
//!
//! Every invocation loads the agent, its tool association and the sealed
//! secrets fresh from the store (no cache: a change made through the
//! management API applies to the very next call), validates, runs the tool in
//! a fresh sandbox instance, seals back any OAuth2 token the host refreshed,
//! and writes the audit row.

use crate::Core;
use crate::catalog::current_metadata;
use crate::error::{CoreError, Result};
use chrono::Utc;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex};
use std::time::{Instant, UNIX_EPOCH};
use warden_sandbox::{
    Call, CallContext, CallEnv, CallReport, Error as ToolCallError, RefreshedToken, SecretMap,
    TokenCallback,
};
use warden_store::{InvocationOutcome, NewInvocation};

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
    /// The organization (from the worker's session or credentials).
    pub organization_id: String,
    /// The agent making the call.
    pub agent_id: String,
    /// `{tool}__{function}`.
    pub function: String,
    /// The arguments the LLM produced.
    pub arguments: Value,
    /// The LLM's tool-call id; kept across retries so tools can be idempotent.
    pub call_id: String,
    /// The LiveKit call session, when there is one.
    pub call_session_id: Option<String>,
    /// A deadline tighter than the tool's limits (the voice turn's).
    pub deadline: Option<Instant>,
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

    /// Runs one function for an agent: the whole pipeline. Errors before the
    /// sandbox (unknown agent, disabled function, …) are `CoreError`s; what
    /// the tool or the sandbox says is in [`Invoked::result`], and is audited.
    pub async fn invoke(&self, request: InvocationRequest) -> Result<Invoked> {
        let started_at = Utc::now();
        let org = request.organization_id.as_str();
        let agent = self.store.agent(org, &request.agent_id).await?;
        if !agent.is_active {
            return Err(CoreError::Disabled(format!(
                "the agent `{}` is not active",
                agent.name
            )));
        }
        let Some((tool_name, function)) = request.function.split_once(NAME_SEPARATOR) else {
            return Err(CoreError::Invalid(format!(
                "`{}` is not a function name of the form tool{NAME_SEPARATOR}function",
                request.function
            )));
        };
        let tool = self.store.tool_by_name(org, tool_name).await?;
        let association = match self.store.agent_tool(org, &agent.id, &tool.id).await {
            Ok(a) => a,
            Err(warden_store::StoreError::NotFound(_)) => {
                return Err(CoreError::Disabled(format!(
                    "the agent does not use the tool `{tool_name}`"
                )));
            }
            Err(e) => return Err(e.into()),
        };
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
        let loaded = self.load_tool(org, &tool).await?;

        // Secrets, opened for this call only.
        let secrets: SecretMap = self
            .store
            .open_secrets(&self.keys, org, &tool.id)
            .await?
            .into_iter()
            .collect();
        let refreshed: Arc<Mutex<Option<RefreshedToken>>> = Arc::default();
        let on_token_refresh = TokenCallback::new({
            let refreshed = refreshed.clone();
            move |token| *refreshed.lock().unwrap_or_else(|e| e.into_inner()) = Some(token)
        });
        let argument_keys = self
            .store
            .organization(org)
            .await
            .ok()
            .filter(|o| o.record_arguments)
            .and_then(|_| {
                request
                    .arguments
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>())
            })
            .map(Value::from);

        let outcome = self
            .sandbox
            .invoke(
                &loaded.tool,
                Call {
                    function: function.to_owned(),
                    arguments: request.arguments,
                    env: CallEnv {
                        context: CallContext {
                            call_id: request.call_id.clone(),
                            organization_id: org.to_owned(),
                            agent_id: Some(agent.id.clone()),
                            config: association.config.clone(),
                        },
                        secrets,
                        limits: self.settings.limits.clone(),
                        deadline: request.deadline,
                        http: self.settings.http.clone(),
                        on_token_refresh: Some(on_token_refresh),
                    },
                },
            )
            .await;

        let token = refreshed.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(token) = token {
            self.store_refreshed_token(org, &tool.id, token).await;
        }

        let report = outcome.report;
        let invocation = self
            .store
            .record_invocation(
                org,
                &NewInvocation {
                    agent_id: Some(agent.id.clone()),
                    tool_id: tool.id.clone(),
                    tool_version_id: loaded.version_id.clone(),
                    function: function.to_owned(),
                    call_id: request.call_id,
                    call_session_id: request.call_session_id,
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
                },
            )
            .await?;
        Ok(Invoked {
            result: outcome.result,
            report,
            invocation_id: invocation.id,
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
                    },
                    secrets,
                    limits: self.settings.limits.clone(),
                    http: self.settings.http.clone(),
                    ..CallEnv::default()
                },
            )
            .await;
        Ok(outcome.result)
    }
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

//! The call types, and the run path every export takes: a fresh store, an
//! instance slot, instantiate, call, drop.

use super::outcome::{classify, finish, timeout_error};
use super::{Instantiation, Sandbox};
use crate::bindings::{
    ContractVersion, ToolInstance, ToolPre, WitToolError, WitToolMetadata, context_to_v0_1,
    error_from_v0_1, metadata_from_v0_1, v0_2,
};
use crate::error::{Error, ErrorKind};
use crate::http::{HttpGrants, HttpPolicy, PolicyInput, TokenCallback, ToolNet};
use crate::limits::Limits;
use crate::log::LogRecord;
use crate::secrets::SecretMap;
use crate::store::{CallState, Captures};
use crate::tool::{Tool, ToolInner};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;
use wasmtime::{Store, UpdateDeadline};

/// Who is calling, and the tool's configuration for this call.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Unique per call; kept across retries of the same LLM call.
    pub call_id: String,
    /// The organization the call runs for.
    pub organization_id: String,
    /// The voice agent making the call, if any.
    pub agent_id: Option<String>,
    /// The tool's configuration (`null` counts as `{}`).
    pub config: Value,
    /// The phone call the invocation is made during, if any. Tools built
    /// against `warden:tool@0.2.0` or later see it.
    pub call: Option<PhoneCall>,
}

/// The phone call record and its direction are the contract's, shared with
/// the SDK.
pub use warden_contract::{CallDirection, PhoneCall};

/// One invocation of a tool function.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// The function to run.
    pub function: String,
    /// Its arguments, validated against the function's schema first.
    pub arguments: Value,
    /// Caller, configuration, secrets, limits and network grants.
    pub env: CallEnv,
}

/// Everything about a call except what it runs: shared by
/// [`Sandbox::invoke`] and [`Sandbox::test`].
#[derive(Debug, Clone, Default)]
pub struct CallEnv {
    /// Caller and configuration.
    pub context: CallContext,
    /// The secrets this call may use.
    pub secrets: SecretMap,
    /// Limits for this call; `None` uses the sandbox's defaults.
    pub limits: Option<Limits>,
    /// A deadline tighter than `limits.timeout`, e.g. for a voice turn.
    pub deadline: Option<Instant>,
    /// Operator grants for outbound HTTP on top of the tool's declaration.
    pub http: HttpGrants,
    /// Receives OAuth2 access tokens the host refreshed during the call, so
    /// the caller can seal and store them.
    pub on_token_refresh: Option<TokenCallback>,
}

/// What a call produced, whether it succeeded or not.
#[derive(Debug)]
pub struct CallOutcome {
    /// The tool's JSON result, or why there is none.
    pub result: Result<Box<RawValue>, Error>,
    /// The line the tool wants spoken with its result (contract 0.2.0 and
    /// later), redacted and at most [`MAX_SPOKEN_BYTES`]; `None` on errors.
    pub spoken: Option<String>,
    /// Measurements and captured output, for the call record.
    pub report: CallReport,
}

/// Measurements and captured output of one call. Every text in it has had
/// the call's secret values redacted.
#[derive(Debug, Default, Clone)]
pub struct CallReport {
    /// Wall-clock time from the call's start (including any wait for a slot).
    pub duration: Duration,
    /// Fuel the guest burned.
    pub fuel_consumed: u64,
    /// The largest linear memory size granted, in bytes.
    pub peak_memory_bytes: usize,
    /// The tool's log records.
    pub logs: Vec<LogRecord>,
    /// Log records dropped because of the per-call limit.
    pub logs_dropped: usize,
    /// Captured stdout (bounded).
    pub stdout: String,
    /// Captured stderr (bounded).
    pub stderr: String,
    /// Outbound requests the host policy refused (`scheme://authority`).
    pub denied_requests: Vec<String>,
}

impl CallOutcome {
    /// A call refused before it ran (arguments or configuration invalid).
    fn refused(e: Error, started: Instant) -> CallOutcome {
        CallOutcome {
            result: Err(e),
            spoken: None,
            report: CallReport {
                duration: started.elapsed(),
                ..CallReport::default()
            },
        }
    }
}

/// One export of the `warden:tool/tool` world and what it returns, so that
/// [`Sandbox::run`] hands each caller its own export's result. Each export
/// calls the instance's own contract version and answers in the latest
/// version's form.
pub(super) trait Export {
    type Output;

    fn call(
        self,
        instance: &ToolInstance,
        store: &mut Store<CallState>,
    ) -> impl Future<Output = wasmtime::Result<Self::Output>> + Send;
}

/// The longest spoken line a result carries, in bytes; a longer one is cut.
pub const MAX_SPOKEN_BYTES: usize = 1024;

/// `metadata()`, asked once when a component is loaded: the answer, and the
/// contract version it was given in.
pub(super) struct Metadata;

impl Export for Metadata {
    type Output = (WitToolMetadata, ContractVersion);

    async fn call(
        self,
        instance: &ToolInstance,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Self::Output> {
        Ok(match instance {
            ToolInstance::V0_1(tool) => (
                metadata_from_v0_1(tool.call_metadata(store).await?),
                ContractVersion::V0_1,
            ),
            ToolInstance::V0_2(tool) => (tool.call_metadata(store).await?, ContractVersion::V0_2),
        })
    }
}

/// What `invoke` and `test` return: a result or the tool's error.
pub(super) type ToolReturn = Result<v0_2::ToolResult, WitToolError>;

/// The call context as the guest sees it: the time left counted from now,
/// when the guest is called.
fn context_now(ctx: &v0_2::CallContext, store: &Store<CallState>) -> v0_2::CallContext {
    let left = store
        .data()
        .deadline
        .saturating_duration_since(Instant::now());
    v0_2::CallContext {
        remaining_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        ..ctx.clone()
    }
}

/// A JSON result without a spoken line (0.1.0's `invoke`, every `test`).
fn json_only(returned: Result<String, WitToolError>) -> ToolReturn {
    returned.map(|json| v0_2::ToolResult { json, spoken: None })
}

/// `invoke(ctx, function, arguments)`.
struct Invoke<'a> {
    ctx: &'a v0_2::CallContext,
    // The bindings take `&String`.
    function: &'a String,
    arguments: &'a String,
}

impl Export for Invoke<'_> {
    type Output = ToolReturn;

    async fn call(
        self,
        instance: &ToolInstance,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<ToolReturn> {
        let ctx = context_now(self.ctx, store);
        Ok(match instance {
            ToolInstance::V0_1(tool) => json_only(
                tool.call_invoke(store, &context_to_v0_1(&ctx), self.function, self.arguments)
                    .await?
                    .map_err(error_from_v0_1),
            ),
            ToolInstance::V0_2(tool) => {
                tool.call_invoke(store, &ctx, self.function, self.arguments)
                    .await?
            }
        })
    }
}

/// `test(ctx)`.
struct Test<'a> {
    ctx: &'a v0_2::CallContext,
}

impl Export for Test<'_> {
    type Output = ToolReturn;

    async fn call(
        self,
        instance: &ToolInstance,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<ToolReturn> {
        let ctx = context_now(self.ctx, store);
        Ok(match instance {
            ToolInstance::V0_1(tool) => json_only(
                tool.call_test(store, &context_to_v0_1(&ctx))
                    .await?
                    .map_err(error_from_v0_1),
            ),
            ToolInstance::V0_2(tool) => json_only(tool.call_test(store, &ctx).await?),
        })
    }
}

/// Everything one run needs besides the export it calls.
pub(super) struct RunSetup<'a> {
    /// Whose instance slots the run waits for and takes.
    pub(super) tenant: &'a str,
    pub(super) pre: &'a ToolPre,
    /// The secret names the tool declared.
    pub(super) declared_secrets: Arc<HashSet<String>>,
    /// The tool's network declaration (`None` while loading).
    pub(super) net: Option<Arc<ToolNet>>,
    pub(super) policy: HttpPolicy,
    pub(super) secrets: SecretMap,
    pub(super) limits: &'a Limits,
    pub(super) deadline: Instant,
}

/// The result of running one export in a fresh store.
pub(super) struct Run<T> {
    pub(super) returned: Result<T, Error>,
    pub(super) state: CallState,
    pub(super) captures: Captures,
    pub(super) fuel_consumed: u64,
}

/// The context in the latest contract's form; `remaining-ms` is set when the
/// guest is called.
fn wit_context(context: &CallContext) -> v0_2::CallContext {
    v0_2::CallContext {
        call_id: context.call_id.clone(),
        organization_id: context.organization_id.clone(),
        agent_id: context.agent_id.clone(),
        config: if context.config.is_null() {
            "{}".to_owned()
        } else {
            context.config.to_string()
        },
        call: context.call.as_ref().map(|call| v0_2::PhoneCall {
            session_id: call.session_id.clone(),
            direction: match call.direction {
                CallDirection::Inbound => v0_2::CallDirection::Inbound,
                CallDirection::Outbound => v0_2::CallDirection::Outbound,
            },
            caller_number: call.caller_number.clone(),
            agent_number: call.agent_number.clone(),
            room: call.room.clone(),
        }),
        remaining_ms: 0,
    }
}

impl Sandbox {
    /// Runs `call` in a fresh instance of `tool` and drops the instance,
    /// whatever happens.
    pub async fn invoke(&self, tool: &Tool, call: Call) -> CallOutcome {
        let started = Instant::now();
        if let Err(e) = tool
            .validate_arguments(&call.function, &call.arguments)
            .await
        {
            return CallOutcome::refused(e, started);
        }
        if let Err(e) = tool.validate_config(&call.env.context.config).await {
            return CallOutcome::refused(e, started);
        }
        let ctx = wit_context(&call.env.context);
        let arguments = call.arguments.to_string();
        let export = Invoke {
            ctx: &ctx,
            function: &call.function,
            arguments: &arguments,
        };
        self.call_export(tool, call.env, started, export).await
    }

    /// Runs the tool's `test` export, which checks that the configuration and
    /// secrets in `env` work.
    pub async fn test(&self, tool: &Tool, env: CallEnv) -> CallOutcome {
        let started = Instant::now();
        if let Err(e) = tool.validate_config(&env.context.config).await {
            return CallOutcome::refused(e, started);
        }
        let ctx = wit_context(&env.context);
        self.call_export(tool, env, started, Test { ctx: &ctx })
            .await
    }

    async fn call_export(
        &self,
        tool: &Tool,
        env: CallEnv,
        started: Instant,
        export: impl Export<Output = ToolReturn>,
    ) -> CallOutcome {
        let CallEnv {
            context,
            secrets,
            limits,
            deadline,
            http,
            on_token_refresh,
        } = env;
        let mut limits = limits.unwrap_or_else(|| self.inner.config.default_limits.clone());
        limits.memory_bytes = limits.memory_bytes.min(self.inner.config.max_memory_bytes);
        let mut deadline_at = started + limits.timeout;
        if let Some(d) = deadline {
            deadline_at = deadline_at.min(d);
        }
        let inner: &ToolInner = &tool.inner;
        let policy = HttpPolicy::new(PolicyInput {
            net: &inner.net,
            grants: http,
            secrets: &secrets,
            limits: &limits,
            deadline: deadline_at,
            client: &self.inner.client,
            on_token_refresh,
        });
        let setup = RunSetup {
            tenant: &context.organization_id,
            pre: &inner.pre,
            declared_secrets: inner.secret_names.clone(),
            net: Some(inner.net.clone()),
            policy,
            secrets,
            limits: &limits,
            deadline: deadline_at,
        };
        let run = self.run(setup, export).await;
        finish(run, &limits, started)
    }

    /// Creates a store for one call, instantiates, calls `export` and drops
    /// the store. Waits for a free instance slot until the deadline.
    pub(super) async fn run<E: Export>(&self, setup: RunSetup<'_>, export: E) -> Run<E::Output> {
        let RunSetup {
            tenant,
            pre,
            declared_secrets,
            net,
            policy,
            secrets,
            limits,
            deadline,
        } = setup;
        let (state, captures) =
            CallState::new(declared_secrets, net, policy, secrets, limits, deadline);
        let tokio_deadline = tokio::time::Instant::from_std(deadline);

        let permit = tokio::time::timeout_at(tokio_deadline, self.inner.slots.acquire(tenant))
            .instrument(tracing::info_span!("wait for a sandbox slot"))
            .await;
        let permit = match permit {
            Ok(permit) => permit,
            Err(_elapsed) => {
                return Run {
                    returned: Err(Error::host(
                        ErrorKind::Overloaded,
                        "no sandbox slot became free before the call's deadline",
                    )),
                    state,
                    captures,
                    fuel_consumed: 0,
                };
            }
        };

        // The epoch advances while this call holds its instance (and its
        // deadline is checked at every tick).
        let _ticking = self.inner.ticker.ticking();
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(limits.fuel)
            .expect("fuel is enabled in the engine config");
        // Check the deadline at every epoch tick; yield to the executor in
        // between so a busy guest cannot starve other calls on its thread.
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);

        let call = async {
            let instantiate = async {
                match self.inner.config.instantiation {
                    Instantiation::Pooled => pre.instantiate_async(&mut store).await,
                    Instantiation::Naive => {
                        pre.instantiate_naive(&mut store, &self.inner.linker).await
                    }
                }
            };
            let instance = instantiate
                .instrument(tracing::info_span!("instantiate"))
                .await?;
            let guest = tracing::info_span!("guest call");
            export.call(&instance, &mut store).instrument(guest).await
        };
        let returned = match tokio::time::timeout_at(tokio_deadline, call).await {
            Ok(Ok(returned)) => Ok(returned),
            Ok(Err(e)) => Err(classify(&e, store.data(), limits)),
            Err(_elapsed) => Err(timeout_error(limits)),
        };
        let fuel_consumed = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let state = store.into_data();
        drop(permit);
        Run {
            returned,
            state,
            captures,
            fuel_consumed,
        }
    }
}

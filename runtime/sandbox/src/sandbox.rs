//! The sandbox: one engine for untrusted code, a component cache, and the
//! per-call path (fresh store → instantiate → call → drop).

use crate::bindings::{
    ToolWorld, ToolWorldPre, WitCallContext, WitToolError, WitToolMetadata, log, secrets,
};
use crate::compile::{self, ArtifactKey, ChildCompiler};
use crate::error::{Error, ErrorKind, MAX_ERROR_MESSAGE_BYTES};
use crate::http::{Client, HttpGrants, HttpPolicy, PolicyInput, TokenCallback, ToolNet};
use crate::limits::Limits;
use crate::log::LogRecord;
use crate::metadata::ToolMetadata;
use crate::secrets::SecretMap;
use crate::slots::{Slots, TenantLoad};
use crate::store::{CallState, Captures};
use crate::tool::{Tool, ToolInner};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tracing::Instrument as _;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

/// How a [`Sandbox`] is set up. The defaults suit a single server.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// How many instances may exist at once (the pooling allocator's size).
    /// Calls beyond this wait for a free slot until their deadline, then fail
    /// as `overloaded`.
    pub max_instances: u32,
    /// How many of those one tenant (an organization; see
    /// [`CallContext::organization_id`]) may hold at once. When slots are
    /// short, free ones go round-robin to the tenants that wait, so one
    /// tenant's flood never queues another's calls behind it.
    pub max_instances_per_tenant: u32,
    /// The largest linear memory any call may be granted, in bytes; per-call
    /// [`Limits::memory_bytes`] is capped at this.
    pub max_memory_bytes: usize,
    /// The limits calls run under unless they bring their own.
    pub default_limits: Limits,
    /// The limits a component's `metadata()` runs under when it is loaded:
    /// tight, since it only returns constants ([`Limits::metadata`]).
    pub metadata_limits: Limits,
    /// Where precompiled components are cached across restarts; `None` keeps
    /// them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// How often running guests are checked against their deadline.
    pub epoch_tick: Duration,
    /// The most tools kept loaded (compiled, linked, metadata checked); the
    /// least recently used is dropped beyond it and loaded again when
    /// needed.
    pub max_loaded_tools: usize,
    /// The most component bytes (all loaded tools' components together) kept
    /// loaded; compiled code takes a few times this much memory.
    pub max_loaded_component_bytes: usize,
    /// Compile components in a limited child process; `None` compiles in
    /// this process, which suits trusted components only (tests, tools
    /// that ship with the host).
    pub compiler: Option<ChildCompiler>,
    /// The key that authenticates cached artifacts; `None` keeps one in
    /// `cache_dir` ([`ArtifactKey::from_dir`]).
    pub artifact_key: Option<ArtifactKey>,
    /// Compilations at once, all callers together.
    pub max_concurrent_compiles: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            max_instances: 256,
            max_instances_per_tenant: 64,
            max_memory_bytes: 64 * Limits::MIB,
            default_limits: Limits::default(),
            metadata_limits: Limits::metadata(),
            cache_dir: None,
            epoch_tick: Duration::from_millis(5),
            max_loaded_tools: 256,
            max_loaded_component_bytes: 512 * Limits::MIB,
            compiler: None,
            artifact_key: None,
            max_concurrent_compiles: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get),
        }
    }
}

/// Runs tools. Cheap to clone; clones share the engine, cache and slots.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

struct SandboxInner {
    engine: Engine,
    linker: Linker<CallState>,
    config: SandboxConfig,
    slots: Arc<Slots>,
    tools: Mutex<LoadedTools>,
    artifacts: Option<ArtifactCache>,
    compiles: Semaphore,
    stop_ticker: Arc<AtomicBool>,
    client: Client,
}

impl Drop for SandboxInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The tenant that loads made without one ([`Sandbox::load`]) count against:
/// the host itself (tools it ships, the CLI).
pub const HOST_TENANT: &str = "(host)";

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
}

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

/// Which export to call.
enum Export<'a> {
    Metadata,
    Invoke {
        ctx: &'a WitCallContext,
        function: &'a String,
        arguments: &'a String,
    },
    Test {
        ctx: &'a WitCallContext,
    },
}

enum Returned {
    Metadata(Box<WitToolMetadata>),
    Json(Result<String, WitToolError>),
}

/// The result of running one export in a fresh store.
struct Run {
    returned: Result<Returned, Error>,
    state: CallState,
    captures: Captures,
    fuel_consumed: u64,
}

/// The engine's settings. `pooling` is false in a compile child, which
/// instantiates nothing (the allocation strategy does not change compiled
/// code).
pub(crate) fn engine_config(config: &SandboxConfig, pooling: bool) -> Config {
    let n = config.max_instances;
    // Per component: what the largest tool may use. In total: what typical
    // tools use times the instances, but never less than one instance of
    // the largest, so a small pool (the CLI's) still runs every component
    // that loads. A Rust tool is one core module plus a few small adapter
    // instances; a componentize-py or -js tool has more of each.
    const CORE_INSTANCES: u32 = 16;
    const MEMORIES: u32 = 4;
    const TABLES: u32 = 8;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .max_core_instances_per_component(CORE_INSTANCES)
        .total_core_instances(n.saturating_mul(8).max(CORE_INSTANCES))
        .max_memories_per_component(MEMORIES)
        .total_memories(n.saturating_mul(2).max(MEMORIES))
        .max_tables_per_component(TABLES)
        .total_tables(n.saturating_mul(4).max(TABLES))
        .total_stacks(n)
        .max_memory_size(config.max_memory_bytes)
        // Reset the first 512 KiB of a slot in place instead of returning the
        // pages to the kernel (and faulting them back in on the next call);
        // where the kernel supports PAGEMAP_SCAN (Linux 6.7+), only the pages
        // a call dirtied are reset. Tools rarely touch more than this.
        .linear_memory_keep_resident(512 * 1024)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(Enabled::Auto);

    let mut c = Config::new();
    c.wasm_component_model(true)
        // No component-model-async, so no per-store concurrency state.
        .concurrency_support(false)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(512 * 1024)
        .async_stack_size(2 * Limits::MIB)
        .allocation_strategy(if pooling {
            InstanceAllocationStrategy::Pooling(pool)
        } else {
            InstanceAllocationStrategy::OnDemand
        });
    c
}

/// A stable key for "artifacts this engine can load": the wasmtime version and
/// every setting that affects compiled code.
fn compatibility_key(engine: &Engine) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl Sandbox {
    /// Creates a sandbox: the engine, the linker with Warden's host imports,
    /// the instance pool and the epoch ticker.
    pub fn new(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        anyhow::ensure!(config.max_instances > 0, "max_instances must be at least 1");
        let engine = Engine::new(&engine_config(&config, true))
            .map_err(|e| anyhow::anyhow!("failed to create the WebAssembly engine: {e:#}"))?;

        let mut linker = Linker::<CallState>::new(&engine);
        let link = |r: wasmtime::Result<()>| {
            r.map_err(|e| anyhow::anyhow!("failed to link host interfaces: {e:#}"))
        };
        link(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        link(wasmtime_wasi_http::p2::add_only_http_to_linker_async(
            &mut linker,
        ))?;
        link(secrets::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))?;
        link(log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))?;

        let artifacts = match &config.cache_dir {
            Some(root) => {
                let dir = root.join(compatibility_key(&engine));
                std::fs::create_dir_all(&dir).map_err(|e| {
                    anyhow::anyhow!(
                        "failed to create the cache directory {}: {e}",
                        dir.display()
                    )
                })?;
                let key = match &config.artifact_key {
                    Some(key) => key.clone(),
                    None => ArtifactKey::from_dir(root).map_err(|e| {
                        anyhow::anyhow!(
                            "failed to read or create the artifact key in {}: {e}",
                            root.display()
                        )
                    })?,
                };
                Some(ArtifactCache { dir, key })
            }
            None => None,
        };

        let stop_ticker = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            let tick = config.epoch_tick;
            std::thread::Builder::new()
                .name("warden-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| anyhow::anyhow!("failed to start the epoch ticker: {e}"))?;
        }

        Ok(Sandbox {
            inner: Arc::new(SandboxInner {
                slots: Slots::new(
                    config.max_instances as usize,
                    config.max_instances_per_tenant as usize,
                ),
                compiles: Semaphore::new(config.max_concurrent_compiles.max(1)),
                tools: Mutex::new(LoadedTools::new(
                    config.max_loaded_tools,
                    config.max_loaded_component_bytes,
                )),
                engine,
                linker,
                config,

                artifacts,

                stop_ticker,
                client: Client::new(),
            }),
        })
    }

    /// The configuration the sandbox was created with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Instances that exist right now (calls holding a slot).
    pub fn instances_active(&self) -> usize {
        self.inner.slots.active()
    }

    /// Calls waiting for a free instance slot right now.
    pub fn queue_depth(&self) -> usize {
        self.inner.slots.waiting()
    }

    /// Instances held and calls waiting, per tenant that has either.
    pub fn instances_by_tenant(&self) -> Vec<TenantLoad> {
        self.inner.slots.by_tenant()
    }

    /// Loads a tool from a component file.
    pub async fn load_file(&self, path: &Path) -> Result<Tool, Error> {
        let bytes = tokio::fs::read(path).await.map_err(|e| {
            Error::invalid_component(format!("cannot read {}: {e}", path.display()))
        })?;
        self.load(bytes).await
    }

    /// Loads a tool from component bytes: compiles it (or reuses the cached
    /// artifact for the same bytes), links it, asks it for its metadata and
    /// validates that. A component that is not a valid Warden tool is refused
    /// as `invalid_component` with a message that says what is wrong.
    ///
    /// Its `metadata()` runs under [`SandboxConfig::metadata_limits`] and
    /// counts against the host's own share of instance slots; use
    /// [`Sandbox::load_for`] to count it against a tenant's.
    pub async fn load(&self, bytes: impl Into<Arc<[u8]>>) -> Result<Tool, Error> {
        self.load_for(bytes, HOST_TENANT).await
    }

    /// [`Sandbox::load`] on behalf of `tenant` (an organization id): the
    /// instance that answers `metadata()` takes one of the tenant's slots.
    pub async fn load_for(&self, bytes: impl Into<Arc<[u8]>>, tenant: &str) -> Result<Tool, Error> {
        let bytes: Arc<[u8]> = bytes.into();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(tool) = self.lock_tools().get(&sha256) {
            return Ok(tool);
        }

        let Compiled { component, source } = self.compile(&sha256, bytes.clone()).await?;
        let instance_pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            Error::invalid_component(format!(
                "the component needs imports Warden does not provide: {e:#}"
            ))
        })?;
        let pre = ToolWorldPre::new(instance_pre).map_err(|e| {
            Error::invalid_component(format!(
                "the component does not implement the warden:tool/tool@0.1.0 world: {e:#}"
            ))
        })?;

        let mut limits = self.inner.config.metadata_limits.clone();
        limits.memory_bytes = limits.memory_bytes.min(self.inner.config.max_memory_bytes);
        let deadline = Instant::now() + limits.timeout;
        let run = self
            .run(
                tenant,
                &pre,
                Arc::default(),
                None,
                HttpPolicy::default(),
                SecretMap::new(),
                &limits,
                deadline,
                Export::Metadata,
            )
            .await;
        let raw = match run.returned {
            Ok(Returned::Metadata(raw)) => *raw,
            Ok(Returned::Json(_)) => unreachable!("metadata() returns metadata"),
            Err(e) => {
                return Err(Error::invalid_component(format!(
                    "the component's metadata() failed ({}): {}",
                    e.kind, e.message
                )));
            }
        };
        let metadata = ToolMetadata::from_wit(raw).map_err(|problems| {
            Error::invalid_component(format!("invalid tool metadata: {}", problems.join("; ")))
        })?;
        let tool = Tool::new(sha256.clone(), metadata, pre)?;
        // Only a component that passed every check reaches the cache.
        if let Some(cache) = &self.inner.artifacts
            && !matches!(source, Source::Cache)
        {
            let cache = cache.clone();
            let sha256 = sha256.clone();
            let stored = tokio::task::spawn_blocking(move || {
                let artifact = match source {
                    Source::Child(artifact) => artifact,
                    Source::InProcess | Source::Cache => component
                        .serialize()
                        .map_err(|e| anyhow::anyhow!("serialize: {e:#}"))?,
                };
                cache.write(&sha256, artifact)
            })
            .await;
            if let Ok(Err(e)) = stored {
                tracing::warn!(tool = %tool.metadata().name, "failed to cache the compiled tool: {e:#}");
            }
        }
        Ok(self.lock_tools().insert(sha256, tool, bytes.len()))
    }

    /// The tool already loaded from bytes with this hex SHA-256, if any: lets
    /// a caller that stores components by content hash skip reading them.
    pub fn loaded(&self, sha256: &str) -> Option<Tool> {
        self.lock_tools().get(sha256)
    }

    fn lock_tools(&self) -> std::sync::MutexGuard<'_, LoadedTools> {
        self.inner.tools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many tools are loaded right now.
    pub fn tools_loaded(&self) -> usize {
        self.lock_tools().entries.len()
    }

    /// Compiles a component, or reads its artifact from the on-disk cache
    /// when one with a valid MAC is there. A fresh compilation is not
    /// written to the cache here: [`Sandbox::load`] stores it once the
    /// component passed every check.
    async fn compile(&self, sha256: &str, bytes: Arc<[u8]>) -> Result<Compiled, Error> {
        let cached = match &self.inner.artifacts {
            Some(cache) => {
                let cache = cache.clone();
                let engine = self.inner.engine.clone();
                let sha256 = sha256.to_owned();
                tokio::task::spawn_blocking(move || cache.read(&engine, &sha256))
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        if let Some(component) = cached {
            return Ok(Compiled {
                component,
                source: Source::Cache,
            });
        }

        let _compiling = self
            .inner
            .compiles
            .acquire()
            .await
            .map_err(|_| Error::host(ErrorKind::Internal, "the sandbox is shutting down"))?;
        let engine = self.inner.engine.clone();
        let compiled = match &self.inner.config.compiler {
            Some(compiler) => {
                let artifact = compile::compile_in_child(
                    compiler,
                    self.inner.config.max_instances,
                    self.inner.config.max_memory_bytes,
                    &bytes,
                )
                .await?;
                tokio::task::spawn_blocking(move || {
                    // SAFETY: the artifact was just produced by our own
                    // compile child (this program) for an engine with the
                    // same settings; wasmtime checks its header and
                    // compatibility too.
                    let component =
                        unsafe { Component::deserialize(&engine, &artifact) }.map_err(|e| {
                            Error::host(
                                ErrorKind::Internal,
                                format!("the compiled component cannot be loaded: {e:#}"),
                            )
                        })?;
                    Ok(Compiled {
                        component,
                        source: Source::Child(artifact),
                    })
                })
                .await
            }
            None => {
                tokio::task::spawn_blocking(move || {
                    let component = Component::new(&engine, &*bytes).map_err(|e| {
                        Error::invalid_component(format!(
                            "not a valid WebAssembly component: {e:#}"
                        ))
                    })?;
                    Ok(Compiled {
                        component,
                        source: Source::InProcess,
                    })
                })
                .await
            }
        };
        compiled
            .unwrap_or_else(|e| Err(Error::invalid_component(format!("compilation failed: {e}"))))
    }

    /// Runs `call` in a fresh instance of `tool` and drops the instance,
    /// whatever happens.
    pub async fn invoke(&self, tool: &Tool, call: Call) -> CallOutcome {
        let started = Instant::now();
        let fail = |e: Error| CallOutcome {
            result: Err(e),
            report: CallReport {
                duration: started.elapsed(),
                ..CallReport::default()
            },
        };
        if let Err(e) = tool
            .validate_arguments(&call.function, &call.arguments)
            .await
        {
            return fail(e);
        }
        if let Err(e) = tool.validate_config(&call.env.context.config).await {
            return fail(e);
        }
        let ctx = wit_context(&call.env.context);
        let arguments = call.arguments.to_string();
        let export = Export::Invoke {
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
            return CallOutcome {
                result: Err(e),
                report: CallReport {
                    duration: started.elapsed(),
                    ..CallReport::default()
                },
            };
        }
        let ctx = wit_context(&env.context);
        self.call_export(tool, env, started, Export::Test { ctx: &ctx })
            .await
    }

    async fn call_export(
        &self,
        tool: &Tool,
        env: CallEnv,
        started: Instant,
        export: Export<'_>,
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
        let run = self
            .run(
                &context.organization_id,
                &inner.pre,
                inner.secret_names.clone(),
                Some(inner.net.clone()),
                policy,
                secrets,
                &limits,
                deadline_at,
                export,
            )
            .await;
        finish(run, &limits, started)
    }

    /// Creates a store for one call, instantiates, calls `export` and drops
    /// the store. Waits for a free instance slot until the deadline.
    #[expect(clippy::too_many_arguments, reason = "the private core of every call")]
    async fn run(
        &self,
        tenant: &str,
        pre: &ToolWorldPre<CallState>,
        declared_secrets: Arc<HashSet<String>>,
        net: Option<Arc<ToolNet>>,
        policy: HttpPolicy,
        secrets: SecretMap,
        limits: &Limits,
        deadline: Instant,
        export: Export<'_>,
    ) -> Run {
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
            let instance: ToolWorld = pre
                .instantiate_async(&mut store)
                .instrument(tracing::info_span!("instantiate"))
                .await?;
            let guest = tracing::info_span!("guest call");
            Ok::<_, wasmtime::Error>(match export {
                Export::Metadata => Returned::Metadata(Box::new(
                    instance.call_metadata(&mut store).instrument(guest).await?,
                )),
                Export::Invoke {
                    ctx,
                    function,
                    arguments,
                } => Returned::Json(
                    instance
                        .call_invoke(&mut store, ctx, function, arguments)
                        .instrument(guest)
                        .await?,
                ),
                Export::Test { ctx } => Returned::Json(
                    instance
                        .call_test(&mut store, ctx)
                        .instrument(guest)
                        .await?,
                ),
            })
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

/// Loaded tools by content hash, bounded in count and component bytes; the
/// least recently used goes first. Calls in flight keep their own handle, so
/// dropping a tool here never disturbs them.
struct LoadedTools {
    entries: HashMap<String, LoadedEntry>,
    clock: u64,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
}

struct LoadedEntry {
    tool: Tool,
    bytes: usize,
    last_used: u64,
}

impl LoadedTools {
    fn new(max_count: usize, max_bytes: usize) -> Self {
        LoadedTools {
            entries: HashMap::new(),
            clock: 0,
            bytes: 0,
            max_count: max_count.max(1),
            max_bytes,
        }
    }

    fn get(&mut self, sha256: &str) -> Option<Tool> {
        self.clock += 1;
        let entry = self.entries.get_mut(sha256)?;
        entry.last_used = self.clock;
        Some(entry.tool.clone())
    }

    /// Keeps `tool` (or the one another load of the same bytes kept first)
    /// and returns it, dropping the least recently used beyond the bounds.
    fn insert(&mut self, sha256: String, tool: Tool, bytes: usize) -> Tool {
        if let Some(kept) = self.get(&sha256) {
            return kept;
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(
            sha256,
            LoadedEntry {
                tool: tool.clone(),
                bytes,
                last_used: self.clock,
            },
        );
        // The newest entry stays even if it alone is over the byte bound.
        while self.entries.len() > 1
            && (self.entries.len() > self.max_count || self.bytes > self.max_bytes)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            let evicted = self.entries.remove(&oldest).expect("present");
            self.bytes -= evicted.bytes;
        }
        tool
    }
}

/// A compiled component, and where it came from.
struct Compiled {
    component: Component,
    source: Source,
}

/// Where a compiled component came from, which decides what the cache
/// gets once the component passed every check.
enum Source {
    /// The artifact cache: nothing to write.
    Cache,
    /// A compile child, which handed over the serialized artifact.
    Child(Vec<u8>),
    /// This process: serialized only if it is cached.
    InProcess,
}

/// The on-disk artifact cache: one file per component hash, each with a MAC
/// ([`ArtifactKey`]) so that only artifacts Warden wrote are deserialized.
#[derive(Clone)]
struct ArtifactCache {
    dir: PathBuf,
    key: ArtifactKey,
}

impl ArtifactCache {
    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    /// The cached component, if its file is there and authentic.
    fn read(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        // Read into memory rather than mmap the file: an artifact replaced
        // or truncated on disk must not affect components already loaded.
        let stored = std::fs::read(&path).ok()?;
        let Some(artifact) = self.key.open(sha256, &stored) else {
            tracing::warn!(path = %path.display(), "discarding a cached artifact that fails its integrity check; compiling again");
            let _ = std::fs::remove_file(&path);
            return None;
        };
        // SAFETY: the MAC proves Warden wrote this artifact for this
        // component, under a key only it holds; the directory's name is the
        // engine's compatibility key, and wasmtime checks the header too.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cached artifact: {e:#}");
                None
            }
        }
    }

    fn write(&self, sha256: &str, artifact: Vec<u8>) -> anyhow::Result<()> {
        let sealed = self.key.seal(sha256, artifact);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        std::io::Write::write_all(&mut tmp, &sealed)?;
        tmp.persist(self.path(sha256))?;
        Ok(())
    }
}

fn wit_context(context: &CallContext) -> WitCallContext {
    WitCallContext {
        call_id: context.call_id.clone(),
        organization_id: context.organization_id.clone(),
        agent_id: context.agent_id.clone(),
        config: if context.config.is_null() {
            "{}".to_owned()
        } else {
            context.config.to_string()
        },
    }
}

fn timeout_error(limits: &Limits) -> Error {
    Error::host(
        ErrorKind::Timeout,
        format!(
            "the tool did not finish within its deadline ({} ms)",
            limits.timeout.as_millis()
        ),
    )
}

/// Turns a wasmtime error from instantiation or a call into a host verdict.
fn classify(e: &wasmtime::Error, state: &CallState, limits: &Limits) -> Error {
    let memory_limit = || {
        Error::host(
            ErrorKind::MemoryLimit,
            format!(
                "the tool tried to use more than its {} MiB of memory",
                limits.memory_bytes / Limits::MIB
            ),
        )
    };
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Error::host(
            ErrorKind::FuelExhausted,
            format!("the tool used up its fuel ({} units)", limits.fuel),
        ),
        Some(Trap::Interrupt) => timeout_error(limits),
        Some(Trap::StackOverflow) => {
            Error::host(ErrorKind::StackOverflow, "the tool overflowed its stack")
        }
        _ if state.limiter.memory_denied => memory_limit(),
        Some(trap) => Error::host(ErrorKind::Trap, format!("the tool crashed: {trap}")),
        None => Error::host(ErrorKind::Trap, format!("the tool failed: {e}")),
    }
}

/// The panic message a Rust guest printed to stderr, if any.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at")?;
    let mut message: String = stderr[start..]
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    crate::log::truncate_at_char_boundary(&mut message, 512);
    Some(message)
}

fn tool_error(e: WitToolError) -> Error {
    let (kind, message) = match e {
        WitToolError::InvalidArguments(m) => (ErrorKind::InvalidArguments, m),
        WitToolError::NotConfigured(m) => (ErrorKind::NotConfigured, m),
        WitToolError::Unauthorized(m) => (ErrorKind::Unauthorized, m),
        WitToolError::NotFound(m) => (ErrorKind::NotFound, m),
        WitToolError::RateLimited(m) => (ErrorKind::RateLimited, m),
        WitToolError::Upstream(m) => (ErrorKind::Upstream, m),
        WitToolError::Internal(m) => (ErrorKind::Internal, m),
    };
    Error::tool(kind, message)
}

/// Replaces secret values inside every string of a JSON document.
fn redact_json(value: &mut Value, secrets: &SecretMap) {
    match value {
        Value::String(s) => *s = secrets.redact(std::mem::take(s)),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secrets)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            *map = entries
                .into_iter()
                .map(|(k, mut v)| {
                    redact_json(&mut v, secrets);
                    (secrets.redact(k), v)
                })
                .collect();
        }
        _ => {}
    }
}

/// Checks and redacts a successful JSON result.
fn accept_result(
    json: String,
    limits: &Limits,
    secrets: &SecretMap,
) -> Result<Box<RawValue>, Error> {
    if json.len() > limits.max_result_bytes {
        return Err(Error::host(
            ErrorKind::OutputTooLarge,
            format!(
                "the tool's result is {} bytes, over the {} byte limit",
                json.len(),
                limits.max_result_bytes
            ),
        ));
    }
    let invalid = |e: serde_json::Error| {
        Error::host(
            ErrorKind::Internal,
            format!("the tool returned invalid JSON: {e}"),
        )
    };
    // Parsed and written again, so what leaves the sandbox is JSON every
    // client parses: at most 128 levels deep (serde_json's limit), finite
    // numbers, no lone surrogate escapes, no duplicate keys; and secrets are
    // redacted in string values as a client decodes them, not only in the
    // escaped text.
    let mut value: Value = serde_json::from_str(&json).map_err(invalid)?;
    drop(json);
    if !secrets.is_empty() {
        redact_json(&mut value, secrets);
    }
    serde_json::value::to_raw_value(&value).map_err(invalid)
}

/// Builds the outcome of a run: classifies, redacts, collects the report.
fn finish(run: Run, limits: &Limits, started: Instant) -> CallOutcome {
    let Run {
        returned,
        mut state,
        captures,
        fuel_consumed,
    } = run;
    let mut policy = state.policy.report();
    for token in std::mem::take(&mut policy.new_secrets) {
        state.secrets.insert_redaction(token);
    }
    let secrets = &state.secrets;
    for denied in &mut policy.denied {
        *denied = secrets.redact(std::mem::take(denied));
        tracing::debug!(%denied, "outbound request denied by policy");
    }
    let (stdout, stdout_dropped) = captures.stdout.contents();
    let (stderr, stderr_dropped) = captures.stderr.contents();
    let stdout = secrets.redact_cut(stdout, stdout_dropped > 0);
    let stderr = secrets.redact_cut(stderr, stderr_dropped > 0);

    let result = match returned {
        Ok(Returned::Json(Ok(json))) => accept_result(json, limits, secrets),
        Ok(Returned::Json(Err(e))) => Err(tool_error(e)),
        Ok(Returned::Metadata(_)) => unreachable!("only load() asks for metadata"),
        Err(mut e) => {
            if e.kind == ErrorKind::Trap
                && let Some(panic) = panic_message(&stderr)
            {
                e.message = format!("{} ({panic})", e.message);
            }
            Err(e)
        }
    };
    // A host verdict (such as a revoked OAuth2 grant) ends the call whatever
    // the tool made of it; a tool failure after the policy refused a request
    // is the policy's doing.
    let result = match policy.verdict {
        Some(verdict) => Err(verdict),
        None => result,
    };
    let result = result.map_err(|mut e| {
        if let Some(denied) = policy.denied.first()
            && matches!(e.origin, crate::Origin::Tool)
        {
            e = Error::host(
                ErrorKind::HostDenied,
                format!("the tool may not reach {denied}"),
            );
        }
        (e.message, _) =
            secrets.redact_bounded(std::mem::take(&mut e.message), MAX_ERROR_MESSAGE_BYTES);
        e
    });

    let logs = state
        .logs
        .records
        .into_iter()
        .map(|(mut r, cut)| {
            r.message = secrets.redact_cut(std::mem::take(&mut r.message), cut);
            r
        })
        .collect();
    CallOutcome {
        result,
        report: CallReport {
            duration: started.elapsed(),
            fuel_consumed,
            peak_memory_bytes: state.limiter.peak_memory_bytes,
            logs,
            logs_dropped: state.logs.dropped,
            stdout,
            stderr,
            denied_requests: policy.denied,
        },
    }
}

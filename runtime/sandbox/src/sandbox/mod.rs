//! The sandbox: one engine for untrusted code, a component cache, and the
//! per-call path (fresh store → instantiate → call → drop).
//!
//! This module holds [`Sandbox`] itself and the load path; its parts live in
//! the submodules: the engine and epoch ticker (`engine`), the artifact
//! cache (`cache`), the loaded tools (`loaded`), the call types and the run
//! path (`call`), and what a run amounts to (`outcome`).

mod cache;
mod call;
mod engine;
mod loaded;
mod outcome;

pub use call::{
    Call, CallContext, CallDirection, CallEnv, CallOutcome, CallReport, MAX_SPOKEN_BYTES, PhoneCall,
};
pub(crate) use engine::engine_config;

use crate::bindings::ToolPre;
use crate::compile::{self, ArtifactKey, ChildCompiler};
use crate::error::{Error, ErrorKind};
use crate::http::{Client, HttpPolicy};
use crate::limits::Limits;
use crate::secrets::SecretMap;
use crate::slots::{Slots, TenantLoad};
use crate::store::CallState;
use crate::tool::Tool;
use cache::{ArtifactCache, Compiled, Source};
use call::{Metadata, RunSetup};
use engine::EpochTicker;
use loaded::LoadedTools;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

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
    /// How each call's instance is made: [`Instantiation::Pooled`] in
    /// production; [`Instantiation::Naive`] is a baseline to measure it
    /// against.
    pub instantiation: Instantiation,
}

/// How a call's fresh instance is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Instantiation {
    /// A slot of the pooling allocator (its memory kept resident and reset
    /// in place), instantiated from the tool's pre-linked `InstancePre`.
    #[default]
    Pooled,
    /// What a straightforward embedding does: wasmtime's default on-demand
    /// allocator (fresh mappings per instance) and a full link of the
    /// component on every call (`Linker::instantiate_async`). For
    /// benchmarks (`warden tool bench` prints both), not for serving.
    Naive,
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
            instantiation: Instantiation::Pooled,
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
    /// Ticks while calls hold instances; stops its thread when the last
    /// clone is dropped.
    ticker: EpochTicker,
    client: Client,
}

/// The tenant that loads made without one ([`Sandbox::load`]) count against:
/// the host itself (tools it ships, the CLI).
pub const HOST_TENANT: &str = "(host)";

impl Sandbox {
    /// Creates a sandbox: the engine, the linker with Warden's host imports,
    /// the instance pool and the epoch ticker.
    pub fn new(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        anyhow::ensure!(config.max_instances > 0, "max_instances must be at least 1");
        let pooling = config.instantiation == Instantiation::Pooled;
        let engine = Engine::new(&engine_config(&config, pooling))
            .map_err(|e| anyhow::anyhow!("failed to create the WebAssembly engine: {e:#}"))?;

        let linker = engine::linker(&engine)?;
        let artifacts = match &config.cache_dir {
            Some(root) => Some(ArtifactCache::open(
                root,
                &engine,
                config.artifact_key.as_ref(),
            )?),
            None => None,
        };
        let ticker = EpochTicker::start(&engine, config.epoch_tick)?;

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
                ticker,
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
        let pre = ToolPre::new(instance_pre, &self.inner.engine).map_err(|e| {
            Error::invalid_component(format!(
                "the component does not implement the warden:tool/tool world of a \
                 contract version Warden links (0.1.0, 0.2.0): {e}"
            ))
        })?;

        let mut limits = self.inner.config.metadata_limits.clone();
        limits.memory_bytes = limits.memory_bytes.min(self.inner.config.max_memory_bytes);
        let deadline = Instant::now() + limits.timeout;
        let setup = RunSetup {
            tenant,
            pre: &pre,
            declared_secrets: Arc::default(),
            net: None,
            policy: HttpPolicy::default(),
            secrets: SecretMap::new(),
            limits: &limits,
            deadline,
        };
        let (raw, version) = match self.run(setup, Metadata).await.returned {
            Ok(raw) => raw,
            Err(e) => {
                return Err(Error::invalid_component(format!(
                    "the component's metadata() failed ({}): {}",
                    e.kind, e.message
                )));
            }
        };
        let metadata = crate::metadata::from_wit(raw, version).map_err(|problems| {
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
        self.lock_tools().len()
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
                            let e = format!("{e:#}");
                            // The compile child has no instance pool, so a
                            // component that needs more of it than the host
                            // has (core instances, memories, tables, their
                            // sizes) is refused here, by wasmtime's check,
                            // which says what it exceeds.
                            if e.contains(" exceeds the ") {
                                Error::invalid_component(format!(
                                    "the component needs more than this host allows: {e}"
                                ))
                            } else {
                                Error::host(
                                    ErrorKind::Internal,
                                    format!("the compiled component cannot be loaded: {e}"),
                                )
                            }
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
}

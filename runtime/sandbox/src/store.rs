//! The per-call store data: WASI without capabilities, the HTTP policy, the
//! call's secrets, its log and its limiter. Created for one call, dropped
//! with it.

use crate::http::{HttpPolicy, ToolNet};
use crate::limits::{Limiter, Limits};
use crate::log::LogBuffer;
use crate::secrets::SecretMap;
use crate::stdio::BoundedOutput;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub(crate) struct CallState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub policy: HttpPolicy,
    /// The secret names the tool declared; only these resolve.
    pub declared_secrets: Arc<HashSet<String>>,
    /// Declared secrets the host uses itself (credentials, OAuth2); the
    /// guest cannot read them.
    pub host_only_secrets: Option<Arc<ToolNet>>,
    pub secrets: SecretMap,
    pub logs: LogBuffer,
    pub limiter: Limiter,
    pub deadline: Instant,
}

/// The captured stdout and stderr of a call, readable after its store is gone.
pub(crate) struct Captures {
    pub stdout: BoundedOutput,
    pub stderr: BoundedOutput,
}

impl CallState {
    pub fn new(
        declared_secrets: Arc<HashSet<String>>,
        net: Option<Arc<ToolNet>>,
        policy: HttpPolicy,
        secrets: SecretMap,
        limits: &Limits,
        deadline: Instant,
    ) -> (Self, Captures) {
        let stdout = BoundedOutput::new(limits.max_output_bytes);
        let stderr = BoundedOutput::new(limits.max_output_bytes);
        // Deny by default: the builder starts with no environment, no
        // arguments, no preopened directories and a closed stdin; sockets are
        // switched off entirely rather than merely left without addresses.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = CallState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            policy,
            declared_secrets,
            host_only_secrets: net,
            secrets,
            logs: LogBuffer::new(limits.max_log_records, limits.max_log_message_bytes),
            limiter: Limiter::new(limits.memory_bytes),
            deadline,
        };
        (state, Captures { stdout, stderr })
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.policy,
        }
    }
}

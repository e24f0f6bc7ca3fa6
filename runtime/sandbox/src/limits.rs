//! Per-call limits and the store's resource limiter.

use std::time::Duration;

/// The limits one call runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly, WebAssembly instructions) the call may burn.
    pub fuel: u64,
    /// Wall-clock time for the whole call, including time blocked in the host.
    pub timeout: Duration,
    /// Largest linear memory the tool may grow to, in bytes.
    pub memory_bytes: usize,
    /// Largest result, in bytes of JSON.
    pub max_result_bytes: usize,
    /// Bytes of stdout and of stderr kept for the call report (each).
    pub max_output_bytes: usize,
    /// Log records kept per call.
    pub max_log_records: usize,
    /// Bytes kept per log record.
    pub max_log_message_bytes: usize,
    /// Outbound HTTP requests per call; more are refused (`host_denied`).
    pub max_requests: u32,
    /// Outbound request body bytes per call, all requests together.
    pub max_request_body_bytes: u64,
    /// Largest response body a tool may read, in bytes; reading past it
    /// fails the read (the tool usually reports `upstream`).
    pub max_response_body_bytes: u64,
    /// Time to connect (TCP and TLS) to an upstream.
    pub connect_timeout: Duration,
    /// Time from sending a request to the response's first byte.
    pub first_byte_timeout: Duration,
}

impl Limits {
    /// 1 MiB.
    pub const MIB: usize = 1 << 20;

    /// The limits of a load-time `metadata()` call, which only returns
    /// constants: one second, a tenth of the default fuel, 32 MiB of memory
    /// and no outbound requests. A component that needs more is refused as
    /// invalid, before it takes any of its tenant's time at call time.
    pub fn metadata() -> Limits {
        Limits {
            fuel: 1_000_000_000,
            timeout: Duration::from_secs(1),
            memory_bytes: 32 * Limits::MIB,
            max_requests: 0,
            ..Limits::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // About one second of compute: a tight guest loop burns ~9e9
            // fuel per second on the reference machine (BENCHMARKS.md).
            fuel: 10_000_000_000,
            timeout: Duration::from_secs(10),
            memory_bytes: 64 * Limits::MIB,
            max_result_bytes: Limits::MIB,
            max_output_bytes: 64 * 1024,
            max_log_records: 256,
            max_log_message_bytes: 4096,
            max_requests: 16,
            max_request_body_bytes: 8 * Limits::MIB as u64,
            max_response_body_bytes: 8 * Limits::MIB as u64,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(10),
        }
    }
}

/// Enforces the memory limit of one store and remembers whether it refused.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub memory_bytes: usize,
    pub table_elements: usize,
    /// Set when a memory growth was refused (the likely cause of a later trap).
    pub memory_denied: bool,
    /// The largest memory size granted, in bytes.
    pub peak_memory_bytes: usize,
}

impl Limiter {
    pub fn new(memory_bytes: usize) -> Self {
        Limiter {
            memory_bytes,
            table_elements: 100_000,
            memory_denied: false,
            peak_memory_bytes: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes || maximum.is_some_and(|m| desired > m) {
            self.memory_denied = true;
            return Ok(false);
        }
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_denied = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements && maximum.is_none_or(|m| desired <= m))
    }
}

//! `warden-sandbox` runs Warden tools — WebAssembly components implementing
//! the `warden:tool/tool@0.1.0` world — safely and fast.
//!
//! * One [`Sandbox`] holds a wasmtime engine configured for untrusted code:
//!   pooling allocator, fuel, epoch interruption, no threads, GC or
//!   component-model-async.
//! * [`Sandbox::load`] compiles a component once per content hash (with an
//!   optional on-disk artifact cache), links it, asks it for its metadata and
//!   validates that, returning a [`Tool`].
//! * [`Sandbox::invoke`] validates arguments against the function's JSON
//!   Schema, then gives the call a **fresh store and instance** under
//!   [`Limits`] (fuel, wall clock including time blocked in the host, memory,
//!   result size, bounded stdout/stderr and logs), runs it and drops it —
//!   on success, error, trap or timeout alike.
//!
//! WASI is linked without capabilities: no environment, arguments,
//! preopened directories, stdin or sockets. Secrets reach a tool only through
//! the `secrets` import, and only the names it declared; their values are
//! redacted from every error, log line, captured output and result.
//!
//! Every failure is an [`Error`] with an [`ErrorKind`]; a guest trap never
//! harms the host or the next call.

mod bindings;
mod compile;
mod encodings;
mod error;
mod http;
mod limits;
mod log;
mod metadata;
mod sandbox;
mod schema;
mod secrets;
mod slots;
mod stdio;
mod store;
mod tool;

pub use bindings::ContractVersion;
pub use compile::{ArtifactKey, ChildCompiler, ChildRequest, CompileLimits, compile_child};
pub use encodings::redacted_spellings;
pub use error::{Error, ErrorKind, MAX_ERROR_MESSAGE_BYTES, Origin};
pub use http::{
    CodeExchange, ConnectError, HostPattern, HttpGrants, OAUTH_SECRET_NAMES, ProviderClient,
    RefreshedToken, TokenCallback, known_revocation_url,
};
pub use limits::Limits;
pub use log::{LogLevel, LogRecord};
pub use metadata::{
    Credential, FunctionHints, FunctionSpec, MAX_QUALIFIED_NAME, OAuth2, SecretSpec, ToolMetadata,
    caps, is_valid_host_pattern, is_valid_name,
};
pub use sandbox::{
    Call, CallContext, CallDirection, CallEnv, CallOutcome, CallReport, HOST_TENANT, Instantiation,
    MAX_SPOKEN_BYTES, PhoneCall, Sandbox, SandboxConfig,
};
pub use schema::{
    MAX_EXPANDED_SCHEMA_NODES, MAX_PATTERN_BYTES, MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH,
    MAX_VALIDATION_WORK, VALIDATION_TIME_BUDGET,
};
pub use secrets::SecretMap;
pub use slots::TenantLoad;
pub use tool::Tool;

/// Re-exported so callers build [`SecretMap`]s without depending on `secrecy`.
pub use secrecy::SecretString;

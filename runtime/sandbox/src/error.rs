//! The one error shape of a call: a `kind` and a message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, as a stable snake_case identifier.
///
/// The first group is reported by tools themselves (their `tool-error`); the
/// second group is the host's verdict on a call. `invalid_arguments` exists in
/// both: a tool may reject arguments the schema allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Arguments were refused (by the schema before the tool ran, or by the tool).
    InvalidArguments,
    /// Configuration or a required secret is missing or wrong.
    NotConfigured,
    /// Upstream refused the credentials.
    Unauthorized,
    /// The thing asked for does not exist.
    NotFound,
    /// Upstream asked to slow down.
    RateLimited,
    /// Upstream failed or answered something unusable.
    Upstream,
    /// Something else went wrong inside the tool.
    Internal,
    /// The component is not a valid Warden tool.
    InvalidComponent,
    /// The tool has no function of that name.
    UnknownFunction,
    /// The call used up its fuel.
    FuelExhausted,
    /// The call ran past its deadline.
    Timeout,
    /// The tool tried to grow its memory past the limit.
    MemoryLimit,
    /// The tool overflowed its stack.
    StackOverflow,
    /// The tool crashed (panicked or hit a WebAssembly trap).
    Trap,
    /// The tool's result exceeded the size limit.
    OutputTooLarge,
    /// The host refused something the tool asked for.
    HostDenied,
    /// No instance slot became free before the deadline.
    Overloaded,
}

impl ErrorKind {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArguments => "invalid_arguments",
            ErrorKind::NotConfigured => "not_configured",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Internal => "internal",
            ErrorKind::InvalidComponent => "invalid_component",
            ErrorKind::UnknownFunction => "unknown_function",
            ErrorKind::FuelExhausted => "fuel_exhausted",
            ErrorKind::Timeout => "timeout",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::StackOverflow => "stack_overflow",
            ErrorKind::Trap => "trap",
            ErrorKind::OutputTooLarge => "output_too_large",
            ErrorKind::HostDenied => "host_denied",
            ErrorKind::Overloaded => "overloaded",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who decided that the call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The tool returned a `tool-error`.
    Tool,
    /// The host ended or refused the call.
    Host,
}

/// A failed call or load. The message never contains a secret of the call: the
/// sandbox redacts the call's secret values from everything a tool produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind}: {message}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// A human-readable explanation (for tool errors: meant for the LLM).
    pub message: String,
    /// Whether the tool or the host decided.
    pub origin: Origin,
}

/// The longest error message a call reports, in bytes; a tool's longer
/// message is cut. Messages are meant for an LLM to read aloud, not for data.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 4096;

impl Error {
    /// A host verdict.
    pub fn host(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            origin: Origin::Host,
        }
    }

    /// An error reported by the tool.
    pub fn tool(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            origin: Origin::Tool,
        }
    }

    pub(crate) fn invalid_component(message: impl Into<String>) -> Self {
        Error::host(ErrorKind::InvalidComponent, message)
    }
}

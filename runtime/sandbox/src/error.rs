//! The one error shape of a call: a `kind` and a message.

use serde::{Deserialize, Serialize};

/// What went wrong: defined once in the contract, shared with the SDK.
pub use warden_contract::ErrorKind;

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

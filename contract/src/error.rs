//! The error kinds of a call, as stable snake_case identifiers.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
    /// Every kind, tool kinds first.
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::InvalidArguments,
        ErrorKind::NotConfigured,
        ErrorKind::Unauthorized,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::Upstream,
        ErrorKind::Internal,
        ErrorKind::InvalidComponent,
        ErrorKind::UnknownFunction,
        ErrorKind::FuelExhausted,
        ErrorKind::Timeout,
        ErrorKind::MemoryLimit,
        ErrorKind::StackOverflow,
        ErrorKind::Trap,
        ErrorKind::OutputTooLarge,
        ErrorKind::HostDenied,
        ErrorKind::Overloaded,
    ];

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

    /// Whether a tool may report this kind itself (a case of the WIT
    /// `tool-error` variant); the others are host verdicts only.
    pub fn is_tool_kind(self) -> bool {
        matches!(
            self,
            ErrorKind::InvalidArguments
                | ErrorKind::NotConfigured
                | ErrorKind::Unauthorized
                | ErrorKind::NotFound
                | ErrorKind::RateLimited
                | ErrorKind::Upstream
                | ErrorKind::Internal
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorKind(pub String);

impl fmt::Display for UnknownErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an error kind", self.0)
    }
}

impl std::error::Error for UnknownErrorKind {}

impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownErrorKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_from_str_and_serde_agree() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert!("Internal".parse::<ErrorKind>().is_err());
        assert_eq!(
            ErrorKind::ALL.iter().filter(|k| k.is_tool_kind()).count(),
            7
        );
    }
}

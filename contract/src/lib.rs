//! `warden-contract` holds the rules of the `warden:tool/tool` contract
//! that more than one side must agree on, written once:
//!
//! * [`ErrorKind`]: the stable snake_case error kinds — the guest-visible
//!   `tool-error` cases and the host's verdicts on a call;
//! * [`is_valid_name`] and [`MAX_QUALIFIED_NAME`]: what a tool, function or
//!   secret may be called, checked by the host at load time and by the SDK's
//!   `#[tool]` macro at compile time;
//! * [`parse_host_pattern`]: the syntax of an `allowed-hosts` entry (the host
//!   adds matching and address canonicalization on top);
//! * [`ToolMetadata`] and its parts: what a tool declares, with its JSON
//!   documents parsed, and the versioned form the host stores
//!   ([`ToolMetadata::to_stored`], [`METADATA_FORMAT`]);
//! * [`PhoneCall`]: the call record a tool receives (0.2.0), whose `Debug`
//!   leaves the numbers out on both sides.
//!
//! It depends on `serde` (and `serde_json`, for the metadata's JSON Schema
//! documents) only, so the host, the SDK (on `wasm32-wasip2`) and
//! the SDK's proc-macro can all use it.

mod call;
mod error;
mod host_pattern;
mod metadata;
mod name;

pub use call::{CallDirection, PhoneCall};
pub use error::{ErrorKind, UnknownErrorKind};
pub use host_pattern::{HostPatternSyntax, PatternHost, is_valid_host_pattern, parse_host_pattern};
pub use metadata::{
    Credential, FunctionHints, FunctionSpec, METADATA_FORMAT, OAuth2, SecretSpec, ToolMetadata,
};
pub use name::{MAX_NAME, MAX_QUALIFIED_NAME, NAME_RULE, QUALIFIED_SEPARATOR, is_valid_name};

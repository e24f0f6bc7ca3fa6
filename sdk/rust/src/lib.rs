//! Write Warden tools in Rust.
//!
//! A Warden tool is a WebAssembly component (`wasm32-wasip2`) that an LLM calls
//! during a voice call. With this crate a tool is a struct plus an `impl` block
//! under [`#[tool]`](tool):
//!
//! ```no_run
//! use warden_sdk::prelude::*;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct GreetArgs {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! struct Greeter;
//!
//! /// Greets people.
//! #[tool(name = "greeter")]
//! impl Greeter {
//!     /// Returns a greeting for `name`.
//!     #[warden(read_only)]
//!     fn greet(_ctx: &Context, args: GreetArgs) -> Result<String, ToolError> {
//!         Ok(format!("Hello, {}!", args.name))
//!     }
//! }
//! ```
//!
//! Every function takes a [`Context`] and a typed argument struct whose JSON
//! Schema (derived with `schemars`) becomes the function's `parameters`; doc
//! comments become descriptions. The host validates arguments against that
//! schema before the tool runs, and the SDK deserializes them for you.
//!
//! Outbound HTTP goes through [`http`], a small blocking client; the host
//! decides which hosts a tool may reach and adds credentials itself.
//! Logging into the call's record goes through [`log`].
//!
//! See `sdk/rust/README.md` for a walk-through from `cargo new` to
//! `warden tool call`.

// The generated bindings name this crate by its path `::warden_sdk`.
extern crate self as warden_sdk;

use std::fmt;

pub use schemars::JsonSchema;
pub use serde::{Deserialize, Serialize};
pub use serde_json::{self, Value, json};
/// The error kinds of the contract, as the host reports them (`not_found`, ...).
pub use warden_contract::ErrorKind;
pub use warden_sdk_macros::tool;

pub mod http;
pub mod log;

/// Everything a tool author usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        CallDirection, Context, Deserialize, JsonSchema, NoArgs, NoConfig, PhoneCall, Secret,
        Serialize, ToolError, Value, json, tool,
    };
}

/// The configuration type of tools that take no configuration.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// The argument type of functions that take no arguments.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// What a call knows about its caller, plus the tool's typed configuration.
#[derive(Debug)]
pub struct Context<C = NoConfig> {
    /// A unique id for this call; a retried LLM call keeps it, so it can make
    /// side effects idempotent.
    pub call_id: String,
    /// The organization the call runs for.
    pub organization_id: String,
    /// The voice agent making the call, if any.
    pub agent_id: Option<String>,
    /// The tool's configuration for this agent.
    pub config: C,
    /// The phone call this invocation is made during; `None` outside a call.
    pub call: Option<PhoneCall>,
    /// How long the host lets this call run from when it started (the voice
    /// turn's budget or the tool's time limit, whichever is shorter): give up
    /// on a slow upstream in time to say so.
    pub time_left: std::time::Duration,
    spoken: std::cell::RefCell<Option<String>>,
}

/// The phone call record and its direction: the contract's, as the host
/// sends them.
pub use warden_contract::{CallDirection, PhoneCall};

impl<C> Context<C> {
    /// Says `line` to the person on the phone with this call's result: a
    /// short sentence such as "You're booked for Tuesday at ten." Clients that
    /// speak results use it (MCP gets it as the text content), and the result
    /// stays the JSON the function returns. The last line given wins; at most
    /// 1 KiB reaches the caller. Ignored when the function returns an error.
    pub fn speak(&self, line: impl Into<String>) {
        *self.spoken.borrow_mut() = Some(line.into());
    }

    /// A context for calling a tool's functions natively, in the tool's own
    /// unit tests: no phone call, ten seconds left.
    pub fn for_test(call_id: impl Into<String>, config: C) -> Self {
        Context {
            call_id: call_id.into(),
            organization_id: "test-organization".into(),
            agent_id: None,
            config,
            call: None,
            time_left: std::time::Duration::from_secs(10),
            spoken: std::cell::RefCell::new(None),
        }
    }

    /// The line [`Context::speak`] set, if any (for a tool's unit tests).
    pub fn spoken(&self) -> Option<String> {
        self.spoken.borrow().clone()
    }

    /// Reads a declared secret. A declared secret the operator has not set
    /// gives [`ToolError::NotConfigured`]; a name the tool did not declare
    /// gives [`ToolError::Internal`] (declare it in `#[tool(secret(...))]`),
    /// and so does a secret used by a `credential(...)` or by OAuth2: the
    /// host adds those to the tool's requests itself and never reveals them
    /// (see [`http`]).
    pub fn secret(&self, name: &str) -> Result<Secret, ToolError> {
        self.try_secret(name)?.ok_or_else(|| {
            ToolError::NotConfigured(format!("the secret `{name}` has not been set"))
        })
    }

    /// Reads a declared secret that may legitimately be unset: `Ok(None)`
    /// when it is not set; errors as for [`Context::secret`].
    pub fn try_secret(&self, name: &str) -> Result<Option<Secret>, ToolError> {
        use __private::bindings::warden::tool::secrets::{SecretError, get};
        match get(name) {
            Ok(value) => Ok(Some(Secret(value))),
            Err(SecretError::NotSet) => Ok(None),
            Err(SecretError::NotDeclared) => Err(ToolError::Internal(format!(
                "the tool asked for the secret `{name}`, which it does not declare"
            ))),
            Err(SecretError::HostOnly) => Err(ToolError::Internal(format!(
                "the secret `{name}` is a credential: the host adds it to the tool's requests \
                 to its credential hosts, and the tool cannot read it"
            ))),
        }
    }
}

/// A secret value. Its `Debug` output is redacted, so logging a struct that
/// holds one does not leak it; use [`Secret::expose`] where the value is
/// really needed.
pub struct Secret(String);

impl Secret {
    /// The secret's value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// An error reported by a tool. The message is for the LLM, which may repeat
/// it to the caller: make it plain and helpful, and never put a secret in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments make no sense for the function (beyond the schema).
    InvalidArguments(String),
    /// Configuration or a required secret is missing or wrong.
    NotConfigured(String),
    /// Upstream refused the credentials.
    Unauthorized(String),
    /// The thing asked for does not exist.
    NotFound(String),
    /// Upstream asked to slow down.
    RateLimited(String),
    /// Upstream failed or answered something unusable.
    Upstream(String),
    /// Anything else that went wrong inside the tool.
    Internal(String),
}

impl ToolError {
    /// An error of `kind`; a kind only the host reports (such as `timeout`)
    /// becomes [`ToolError::Internal`].
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ToolError {
        let m = message.into();
        match kind {
            ErrorKind::InvalidArguments => ToolError::InvalidArguments(m),
            ErrorKind::NotConfigured => ToolError::NotConfigured(m),
            ErrorKind::Unauthorized => ToolError::Unauthorized(m),
            ErrorKind::NotFound => ToolError::NotFound(m),
            ErrorKind::RateLimited => ToolError::RateLimited(m),
            ErrorKind::Upstream => ToolError::Upstream(m),
            _ => ToolError::Internal(m),
        }
    }

    /// The kind the host reports for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ToolError::InvalidArguments(_) => ErrorKind::InvalidArguments,
            ToolError::NotConfigured(_) => ErrorKind::NotConfigured,
            ToolError::Unauthorized(_) => ErrorKind::Unauthorized,
            ToolError::NotFound(_) => ErrorKind::NotFound,
            ToolError::RateLimited(_) => ErrorKind::RateLimited,
            ToolError::Upstream(_) => ErrorKind::Upstream,
            ToolError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        match self {
            ToolError::InvalidArguments(m)
            | ToolError::NotConfigured(m)
            | ToolError::Unauthorized(m)
            | ToolError::NotFound(m)
            | ToolError::RateLimited(m)
            | ToolError::Upstream(m)
            | ToolError::Internal(m) => m,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ToolError {}

/// Support code for the `#[tool]` macro. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use super::{Context, ToolError};
    use schemars::JsonSchema;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    pub use wit_bindgen;

    #[allow(
        clippy::all,
        missing_docs,
        unsafe_op_in_unsafe_fn,
        reason = "generated by wit-bindgen"
    )]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../../wit/0.2.0",
            world: "warden:tool/tool",
            generate_all,
            pub_export_macro: true,
            export_macro_name: "__export_tool",
            default_bindings_module: "::warden_sdk::__private::bindings",
            runtime_path: "::warden_sdk::__private::wit_bindgen::rt",
        });
    }

    pub use bindings::Guest;
    pub use bindings::warden::tool::types::{
        CallContext, Credential, FunctionSpec, Oauth2, SecretSpec, ToolError as WitToolError,
        ToolMetadata, ToolResult,
    };

    /// The JSON Schema of `T` as a compact JSON string, without the `$schema`
    /// and `title` keys (LLM function-calling formats do not want them).
    pub fn schema_json<T: JsonSchema>() -> String {
        let mut schema = serde_json::to_value(schemars::schema_for!(T))
            .expect("a derived JSON Schema serializes");
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            object.remove("title");
        }
        schema.to_string()
    }

    /// Turns the WIT call context into a typed [`Context`], parsing the
    /// configuration.
    pub fn context<C: DeserializeOwned>(ctx: CallContext) -> Result<Context<C>, WitToolError> {
        let raw = if ctx.config.trim().is_empty() {
            "{}"
        } else {
            ctx.config.as_str()
        };
        let config = serde_json::from_str(raw).map_err(|e| {
            WitToolError::NotConfigured(format!("the tool's configuration is invalid: {e}"))
        })?;
        use bindings::warden::tool::types::CallDirection as Direction;
        Ok(Context {
            call_id: ctx.call_id,
            organization_id: ctx.organization_id,
            agent_id: ctx.agent_id,
            config,
            call: ctx.call.map(|call| super::PhoneCall {
                session_id: call.session_id,
                direction: match call.direction {
                    Direction::Inbound => super::CallDirection::Inbound,
                    Direction::Outbound => super::CallDirection::Outbound,
                },
                caller_number: call.caller_number,
                agent_number: call.agent_number,
                room: call.room,
            }),
            time_left: std::time::Duration::from_millis(ctx.remaining_ms),
            spoken: std::cell::RefCell::new(None),
        })
    }

    /// Deserializes `arguments`, calls `f` and serializes its result, with
    /// the line it asked to be spoken.
    pub fn call<C, A, R>(
        ctx: &Context<C>,
        arguments: &str,
        f: impl FnOnce(&Context<C>, A) -> Result<R, ToolError>,
    ) -> Result<ToolResult, WitToolError>
    where
        A: DeserializeOwned,
        R: Serialize,
    {
        let args = serde_json::from_str(arguments)
            .map_err(|e| WitToolError::InvalidArguments(format!("invalid arguments: {e}")))?;
        let json = finish(f(ctx, args))?;
        Ok(ToolResult {
            json,
            spoken: ctx.spoken.borrow_mut().take(),
        })
    }

    /// Serializes a function's result for the host.
    pub fn finish<R: Serialize>(result: Result<R, ToolError>) -> Result<String, WitToolError> {
        match result {
            Ok(value) => serde_json::to_string(&value).map_err(|e| {
                WitToolError::Internal(format!("the tool's result is not valid JSON: {e}"))
            }),
            Err(e) => Err(e.into()),
        }
    }

    impl From<ToolError> for WitToolError {
        fn from(e: ToolError) -> Self {
            match e {
                ToolError::InvalidArguments(m) => WitToolError::InvalidArguments(m),
                ToolError::NotConfigured(m) => WitToolError::NotConfigured(m),
                ToolError::Unauthorized(m) => WitToolError::Unauthorized(m),
                ToolError::NotFound(m) => WitToolError::NotFound(m),
                ToolError::RateLimited(m) => WitToolError::RateLimited(m),
                ToolError::Upstream(m) => WitToolError::Upstream(m),
                ToolError::Internal(m) => WitToolError::Internal(m),
            }
        }
    }

    /// The default `test` export: the configuration parsed (it did, or we
    /// would not be here) and every required secret is set. A credential or
    /// OAuth2 secret, which the host keeps to itself (`host-only`), counts as
    /// set.
    pub fn default_test<C>(
        _ctx: &Context<C>,
        required_secrets: &[&str],
    ) -> Result<serde_json::Value, ToolError> {
        use bindings::warden::tool::secrets::{SecretError, get};
        for name in required_secrets {
            match get(name) {
                Ok(_) | Err(SecretError::HostOnly) => {}
                Err(SecretError::NotSet) => {
                    return Err(ToolError::NotConfigured(format!(
                        "the secret `{name}` has not been set"
                    )));
                }
                Err(SecretError::NotDeclared) => {
                    return Err(ToolError::Internal(format!(
                        "the tool requires the secret `{name}`, which it does not declare"
                    )));
                }
            }
        }
        Ok(serde_json::json!({ "ok": true }))
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorKind, ToolError};

    #[test]
    fn tool_errors_carry_the_contract_kinds() {
        for kind in ErrorKind::ALL {
            let e = ToolError::new(kind, "m");
            assert_eq!(e.message(), "m");
            if kind.is_tool_kind() {
                assert_eq!(e.kind(), kind);
            } else {
                assert_eq!(e.kind(), ErrorKind::Internal, "{kind}");
            }
        }
        assert_eq!(ToolError::NotFound("x".into()).kind().as_str(), "not_found");
    }
}

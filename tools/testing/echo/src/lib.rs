//! The simplest tool: echoes its input. Used by Warden's tests and benchmarks.

use warden_sdk::ErrorKind;
use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EchoArgs {
    /// The message to send back.
    message: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FailArgs {
    /// The error kind to report, e.g. `not_found`.
    kind: String,
    /// The message to report.
    message: String,
}

struct Echo;

/// Echoes messages back; can also report any tool error on demand.
#[tool(name = "echo")]
impl Echo {
    /// Returns `{"message": ...}` with the message it was given.
    #[warden(read_only)]
    fn echo(ctx: &Context, args: EchoArgs) -> Result<Value, ToolError> {
        Ok(json!({ "message": args.message, "call_id": ctx.call_id }))
    }

    /// Reports the tool error `kind` with `message`.
    #[warden(read_only)]
    fn fail(_ctx: &Context, args: FailArgs) -> Result<Value, ToolError> {
        // The kinds are the contract's; one the tool cannot report is `internal`.
        let kind = args.kind.parse().unwrap_or(ErrorKind::Internal);
        Err(ToolError::new(kind, args.message))
    }
}

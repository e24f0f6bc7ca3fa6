//! What the Rust SDK gives a tool from contract 0.2.0: the phone call, the
//! time left, effect hints and a line to speak.

use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConfirmArgs {
    /// Whom to thank.
    name: String,
}

struct Speaker;

/// Confirms things out loud.
#[tool(name = "speaker")]
impl Speaker {
    /// Thanks `name` out loud and reports what it knows about the call.
    #[warden(idempotent, closed_world)]
    fn confirm(ctx: &Context, args: ConfirmArgs) -> Result<Value, ToolError> {
        ctx.speak(format!("Thanks, {}.", args.name));
        Ok(json!({
            "caller_number": ctx.call.as_ref().and_then(|c| c.caller_number.clone()),
            "outbound": ctx.call.as_ref().map(|c| c.direction == CallDirection::Outbound),
            "time_left_ms": ctx.time_left.as_millis() as u64,
        }))
    }

    /// Fails after asking to speak: the line must not reach anyone.
    #[warden(destructive)]
    fn refuse(ctx: &Context) -> Result<Value, ToolError> {
        ctx.speak("This line is never said.");
        Err(ToolError::NotFound("nothing to refuse".into()))
    }
}

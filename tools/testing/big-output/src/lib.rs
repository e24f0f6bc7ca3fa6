//! Returns a result larger than Warden's result cap (1 MiB by default).
//! Warden must end the call with `output_too_large`.

use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Args {
    /// How many bytes of text to return (default 2 MiB).
    bytes: Option<usize>,
}

struct BigOutput;

/// Produces oversized results.
#[tool(name = "big_output")]
impl BigOutput {
    /// Returns a string of `bytes` characters.
    #[warden(read_only)]
    fn produce(_ctx: &Context, args: Args) -> Result<String, ToolError> {
        Ok("x".repeat(args.bytes.unwrap_or(2 << 20)))
    }
}

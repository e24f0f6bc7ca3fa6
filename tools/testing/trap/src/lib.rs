//! Panics. Warden must end the call with `trap` and stay healthy.

use warden_sdk::prelude::*;

struct Trap;

/// Panics on every call.
#[tool(name = "trap")]
impl Trap {
    /// Panics with the message "tool exploded on purpose".
    fn explode(_ctx: &Context) -> Result<(), ToolError> {
        panic!("tool exploded on purpose")
    }
}

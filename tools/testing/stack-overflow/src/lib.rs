//! Recurses without bound. Warden must end the call with `stack_overflow`.

use warden_sdk::prelude::*;

struct StackOverflow;

#[inline(never)]
#[expect(unconditional_recursion, reason = "overflowing the stack is the point")]
fn recurse(n: u64) -> u64 {
    // Not a tail call: the addition happens after the recursive call returns.
    std::hint::black_box(recurse(std::hint::black_box(n + 1))) + 1
}

/// Recurses until the stack runs out.
#[tool(name = "stack_overflow")]
impl StackOverflow {
    /// Never returns.
    fn recurse(_ctx: &Context) -> Result<u64, ToolError> {
        Ok(recurse(0))
    }
}

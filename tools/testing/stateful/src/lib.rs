//! Counts its calls in a static. Since Warden gives every call a fresh
//! instance, the count must be 1 on every call.

use std::sync::atomic::{AtomicU64, Ordering};
use warden_sdk::prelude::*;

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Stateful;

/// Remembers (or tries to) how often it was called.
#[tool(name = "stateful")]
impl Stateful {
    /// Increments a counter kept in a static and returns it.
    fn count(_ctx: &Context) -> Result<u64, ToolError> {
        Ok(CALLS.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

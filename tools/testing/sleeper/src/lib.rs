//! Blocks in a WASI clock wait for an hour, in its function and in its
//! `test`. Warden must end the call with `timeout` at its deadline, even
//! though the guest is blocked in the host.

use std::time::Duration;
use warden_sdk::prelude::*;

struct Sleeper;

/// Sleeps.
#[tool(name = "sleeper")]
impl Sleeper {
    /// Sleeps for an hour, then returns.
    fn sleep(_ctx: &Context) -> Result<&'static str, ToolError> {
        std::thread::sleep(Duration::from_secs(3600));
        Ok("woke up")
    }

    /// Sleeps for an hour too: a test that holds an instance.
    fn test(_ctx: &Context) -> Result<Value, ToolError> {
        std::thread::sleep(Duration::from_secs(3600));
        Ok(json!({ "woke": true }))
    }
}

//! Computes forever. Warden must end the call with `fuel_exhausted` (or
//! `timeout` when the deadline is shorter than the fuel lasts).

use warden_sdk::prelude::*;

struct FuelBomb;

/// Spins in an endless loop.
#[tool(name = "fuel_bomb")]
impl FuelBomb {
    /// Never returns.
    fn spin(_ctx: &Context) -> Result<u64, ToolError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

//! Allocates until the host refuses to grow its memory. Warden must end the
//! call with `memory_limit`.

use warden_sdk::prelude::*;

struct MemoryBomb;

/// Grows linear memory without bound.
#[tool(name = "memory_bomb")]
impl MemoryBomb {
    /// Allocates 1 MiB blocks (touching every page) until allocation fails.
    fn grow(_ctx: &Context) -> Result<usize, ToolError> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            blocks.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&blocks);
        }
    }
}

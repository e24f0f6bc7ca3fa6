//! Allocates until the host refuses to grow its memory (Warden must end the
//! call with `memory_limit`), or as much as it is asked to (which must work
//! within the tool's memory limit).

use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
struct AllocateArgs {
    /// MiB to allocate.
    #[schemars(range(min = 1, max = 4096))]
    mib: usize,
}

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

    /// Allocates `mib` 1 MiB blocks, touching every page; returns how many.
    fn allocate(_ctx: &Context, args: AllocateArgs) -> Result<usize, ToolError> {
        let blocks: Vec<Vec<u8>> = (0..args.mib).map(|_| vec![0xA5; 1 << 20]).collect();
        Ok(std::hint::black_box(&blocks).len())
    }
}

//! The engine for untrusted code, the linker with Warden's host imports, and
//! the epoch ticker that lets calls be interrupted at their deadline.

use super::SandboxConfig;
use crate::bindings::{v0_1, v0_2};
use crate::limits::Limits;
use crate::store::CallState;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The engine's settings. `pooling` is false in a compile child, which
/// instantiates nothing (the allocation strategy does not change compiled
/// code).
pub(crate) fn engine_config(config: &SandboxConfig, pooling: bool) -> Config {
    let n = config.max_instances;
    // Per component: what the largest tool may use. In total: what typical
    // tools use times the instances, but never less than one instance of
    // the largest, so a small pool (the CLI's) still runs every component
    // that loads. A Rust tool is one core module plus a few small adapter
    // instances; a componentize-py or -js tool has more of each.
    const CORE_INSTANCES: u32 = 16;
    const MEMORIES: u32 = 4;
    const TABLES: u32 = 8;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .max_core_instances_per_component(CORE_INSTANCES)
        .total_core_instances(n.saturating_mul(8).max(CORE_INSTANCES))
        .max_memories_per_component(MEMORIES)
        .total_memories(n.saturating_mul(2).max(MEMORIES))
        .max_tables_per_component(TABLES)
        .total_tables(n.saturating_mul(4).max(TABLES))
        .total_stacks(n)
        .max_memory_size(config.max_memory_bytes)
        // Reset the first 512 KiB of a slot in place instead of returning the
        // pages to the kernel (and faulting them back in on the next call);
        // where the kernel supports PAGEMAP_SCAN (Linux 6.7+), only the pages
        // a call dirtied are reset. Tools rarely touch more than this.
        .linear_memory_keep_resident(512 * 1024)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(pagemap_scan(
            &std::fs::read_to_string("/proc/swaps").unwrap_or_default(),
        ));

    let mut c = Config::new();
    c.wasm_component_model(true)
        // No component-model-async, so no per-store concurrency state.
        .concurrency_support(false)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(512 * 1024)
        .async_stack_size(2 * Limits::MIB)
        .allocation_strategy(if pooling {
            InstanceAllocationStrategy::Pooling(pool)
        } else {
            InstanceAllocationStrategy::OnDemand
        });
    c
}

/// Whether slots may be reset with `PAGEMAP_SCAN`, given the host's
/// `/proc/swaps`: only where no swap area is active.
///
/// wasmtime 48's scan reports dirty pages that are *present*; a page the
/// guest wrote and the kernel then swapped out is neither reset nor released,
/// so the next instance in that slot (another call, perhaps another
/// organization's) would read it. Without the scan, the first
/// `keep_resident` bytes are reset in full and the rest released with
/// `madvise`, which also drops swapped pages. Without the scan a call costs
/// a little more (BENCHMARKS.md). Swap turned on while Warden runs is not
/// seen: restart Warden after `swapon`.
pub(crate) fn pagemap_scan(proc_swaps: &str) -> Enabled {
    // The first line is the header; every further line is an active area.
    let swapping = proc_swaps
        .lines()
        .skip(1)
        .any(|line| !line.trim().is_empty());
    if proc_swaps.is_empty() || swapping {
        Enabled::No
    } else {
        Enabled::Auto
    }
}

/// A stable key for "artifacts this engine can load": the wasmtime version and
/// every setting that affects compiled code.
pub(super) fn compatibility_key(engine: &Engine) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The linker every tool is instantiated with: WASI (without capabilities;
/// see [`CallState::new`]), outbound HTTP, and Warden's `secrets` and `log`
/// of every contract version.
pub(super) fn linker(engine: &Engine) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::<CallState>::new(engine);
    let link = |r: wasmtime::Result<()>| {
        r.map_err(|e| anyhow::anyhow!("failed to link host interfaces: {e:#}"))
    };
    link(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
    link(wasmtime_wasi_http::p2::add_only_http_to_linker_async(
        &mut linker,
    ))?;
    // Every contract version's interfaces: their names carry the version, so
    // each component finds the ones it was built against.
    link(v0_1::secrets::add_to_linker::<_, HasSelf<_>>(
        &mut linker,
        |s| s,
    ))?;
    link(v0_1::log::add_to_linker::<_, HasSelf<_>>(
        &mut linker,
        |s| s,
    ))?;
    link(v0_2::secrets::add_to_linker::<_, HasSelf<_>>(
        &mut linker,
        |s| s,
    ))?;
    link(v0_2::log::add_to_linker::<_, HasSelf<_>>(
        &mut linker,
        |s| s,
    ))?;
    Ok(linker)
}

/// Advances the engine's epoch every tick on its own thread, so running
/// guests are checked against their deadline; stops when dropped.
pub(super) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub(super) fn start(engine: &Engine, tick: Duration) -> anyhow::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("warden-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| anyhow::anyhow!("failed to start the epoch ticker: {e}"))?;
        }
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_scanned_for_dirty_pages_only_without_swap() {
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert_eq!(pagemap_scan(header), Enabled::Auto);
        let swapping = format!("{header}/dev/zram0  partition\t4194300\t0\t100\n");
        assert_eq!(pagemap_scan(&swapping), Enabled::No);
        // No /proc/swaps (not Linux, or hidden): do not rely on the scan.
        assert_eq!(pagemap_scan(""), Enabled::No);
    }
}

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
        .max_memory_size(config.max_memory_bytes);
    slot_reset(
        &mut pool,
        PoolingAllocationConfig::is_pagemap_scan_available(),
    );

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

/// How a slot is made pristine for the next instance after a call.
///
/// Where the kernel has `PAGEMAP_SCAN` (Linux 6.7+), wasmtime asks it which
/// pages the call wrote (present or swapped out) and copies just those back
/// from the memory image, or zeroes them, up to `keep_resident` bytes per
/// memory; the rest of a slot goes back to the kernel with `madvise` and
/// faults in again on the next call. The budget is spent only on pages a call
/// really wrote, so it is sized for the large guests: a componentize-py or
/// componentize-js tool dirties 0.5–2 MiB of its memory image per call,
/// scattered over a hundred places and more, and a call that finds them
/// resident skips hundreds of copy-on-write faults (BENCHMARKS.md).
///
/// Without the scan, wasmtime resets the first `keep_resident` bytes of every
/// slot in full whatever the call touched, so the budget stays small: a large
/// one would make every call of every tool pay for the largest.
fn slot_reset(pool: &mut PoolingAllocationConfig, pagemap_scan: bool) {
    let (scan, keep_resident) = match pagemap_scan {
        true => (Enabled::Yes, 4 * Limits::MIB),
        false => (Enabled::No, 512 * 1024),
    };
    pool.pagemap_scan(scan)
        .linear_memory_keep_resident(keep_resident)
        .table_keep_resident(64 * 1024);
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

//! The engine for untrusted code, the linker with Warden's host imports, and
//! the epoch ticker that lets calls be interrupted at their deadline.

use super::SandboxConfig;
use crate::bindings::{v0_1, v0_2};
use crate::limits::Limits;
use crate::store::CallState;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// Advances the engine's epoch every tick on its own thread while any call
/// holds an instance ([`EpochTicker::ticking`]), so running guests are
/// checked against their deadline; while none does, the thread is parked, so
/// an idle sandbox does not wake 200 times a second. Stops when dropped.
pub(super) struct EpochTicker {
    shared: Arc<TickerShared>,
    /// The ticker's thread, which a first guard and the drop unpark.
    thread: std::thread::Thread,
}

struct TickerShared {
    stop: AtomicBool,
    /// Calls holding an instance ([`Ticking`] guards alive).
    running: AtomicUsize,
    /// The thread's id in the kernel, for tests that watch it sleep.
    #[cfg(test)]
    tid: std::sync::OnceLock<i32>,
}

impl EpochTicker {
    pub(super) fn start(engine: &Engine, tick: Duration) -> anyhow::Result<EpochTicker> {
        let shared = Arc::new(TickerShared {
            stop: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            #[cfg(test)]
            tid: std::sync::OnceLock::new(),
        });
        let thread = {
            let engine = engine.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("warden-epoch".into())
                .spawn(move || {
                    #[cfg(test)]
                    // SAFETY: gettid has no preconditions.
                    let _ = shared.tid.set(unsafe { libc::gettid() });
                    while !shared.stop.load(Ordering::Acquire) {
                        // A guard taken after this load unparks the thread,
                        // and an unpark that comes before the park makes it
                        // return at once: no call is left without ticks.
                        if shared.running.load(Ordering::Acquire) == 0 {
                            std::thread::park();
                            continue;
                        }
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| anyhow::anyhow!("failed to start the epoch ticker: {e}"))?
        };
        Ok(EpochTicker {
            shared,
            thread: thread.thread().clone(),
        })
    }

    /// Keeps the epoch advancing while the guard lives: taken by a call
    /// before its store exists, dropped after.
    pub(super) fn ticking(&self) -> Ticking {
        if self.shared.running.fetch_add(1, Ordering::AcqRel) == 0 {
            self.thread.unpark();
        }
        Ticking {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// A call that holds an instance; see [`EpochTicker::ticking`].
pub(super) struct Ticking {
    shared: Arc<TickerShared>,
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// The kernel's count of the times thread `tid` of this process went to
    /// sleep (`None` once it has exited).
    fn sleeps(tid: i32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
            .map(|n| n.trim().parse().unwrap())
    }

    /// Waits, at most 10 s, until `done`.
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_ticker_sleeps_while_no_call_holds_an_instance() {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        let ticker = EpochTicker::start(&engine, Duration::from_millis(1)).unwrap();
        wait_until("the thread's id", || ticker.shared.tid.get().is_some());
        let tid = *ticker.shared.tid.get().unwrap();
        let quiet = |what: &str| {
            // Parked: it stops switching, and stays stopped.
            let mut last = sleeps(tid).unwrap();
            wait_until(what, || {
                std::thread::sleep(Duration::from_millis(20));
                let now = sleeps(tid).unwrap();
                std::mem::replace(&mut last, now) == now
            });
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(sleeps(tid).unwrap(), last, "{what}: the idle ticker woke");
        };
        quiet("no call yet");

        // A call: the thread ticks (every tick is a sleep and a wake-up)...
        let call = ticker.ticking();
        let before = sleeps(tid).unwrap();
        wait_until("ticks during a call", || {
            sleeps(tid).unwrap() >= before + 20
        });
        // ...as long as any call holds a guard.
        let second = ticker.ticking();
        drop(call);
        let before = sleeps(tid).unwrap();
        wait_until("ticks during the second call", || {
            sleeps(tid).unwrap() >= before + 20
        });
        drop(second);
        quiet("after the calls");

        // A guard taken at once after another's drop still restarts it.
        for _ in 0..100 {
            drop(ticker.ticking());
        }
        let call = ticker.ticking();
        let before = sleeps(tid).unwrap();
        wait_until("ticks after quick calls", || {
            sleeps(tid).unwrap() >= before + 20
        });
        drop(call);

        // Dropping the ticker ends the thread, parked or not.
        quiet("before the drop");
        drop(ticker);
        wait_until("the thread's exit", || sleeps(tid).is_none());
    }
}

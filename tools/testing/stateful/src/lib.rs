//! Counts its calls in a static, and marks pages of two large statics.
//! Since Warden gives every call a fresh instance, the count must be 1 and
//! no page found marked on every call.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use warden_sdk::prelude::*;

static CALLS: AtomicU64 = AtomicU64::new(0);

/// A host page (4 KiB on the hosts Warden runs on).
const PAGE: usize = 4096;

/// 1 MiB that starts out as the component's data (in its memory image).
static DATA: [AtomicU8; 256 * PAGE] = [const { AtomicU8::new(0xa5) }; 256 * PAGE];

/// 1 MiB that starts out as zeroes (outside the memory image).
static ZEROES: [AtomicU8; 256 * PAGE] = [const { AtomicU8::new(0) }; 256 * PAGE];

struct Stateful;

/// Remembers (or tries to) what earlier calls did.
#[tool(name = "stateful")]
impl Stateful {
    /// Increments a counter kept in a static and returns it.
    fn count(_ctx: &Context) -> Result<u64, ToolError> {
        Ok(CALLS.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Marks every other page of both statics (256 separate places, more
    /// than one dirty-page scan reports at a time) and returns how many of
    /// those pages an earlier call had marked.
    fn scatter(_ctx: &Context) -> Result<u64, ToolError> {
        let mut marked = 0;
        for (pages, pristine) in [(&DATA, 0xa5), (&ZEROES, 0)] {
            for page in pages.chunks(PAGE).step_by(2) {
                let first = &page[0];
                marked += u64::from(first.swap(pristine ^ 0xff, Ordering::Relaxed) != pristine);
            }
        }
        Ok(marked)
    }
}

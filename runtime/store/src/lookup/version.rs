//! Reads of the look-up version over a connection (PostgreSQL), shared by the
//! calls that wait for them.
//!
//! Every call reads the version before it trusts a cached answer
//! (`cache.rs`), and on PostgreSQL that read is a round trip and a statement
//! for the server. Calls that arrive together need not each make one: a read
//! that *started after a call arrived* sees every commit the caller could
//! know of, so it is as good as the call's own. Reads run one at a time; a
//! call that arrives while one is in flight waits for it to end, then uses
//! the next read's answer, made once for everyone who waited. A lone call
//! reads at once, as before; under load there is one read per round trip
//! instead of one per call.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;

/// Serializes the version reads and keeps the last one's answer.
#[derive(Default)]
pub(crate) struct SharedReads {
    /// Held for the length of one read.
    reading: tokio::sync::Mutex<()>,
    /// How many reads have started.
    started: AtomicU64,
    /// The last read that ended well: its number (counted by `started`) and
    /// the version it found.
    last: Mutex<Option<(u64, i64)>>,
}

impl SharedReads {
    /// The look-up version as of some moment after this call: `read`'s
    /// answer, or that of a read that started after this call did.
    pub(crate) async fn version<F>(&self, read: impl FnOnce() -> F) -> Result<i64>
    where
        F: Future<Output = Result<i64>>,
    {
        // Reads numbered up to `arrived` may have started before this call.
        let arrived = self.started.load(Ordering::SeqCst);
        let _reading = self.reading.lock().await;
        if let Some((number, version)) = *self.last()
            && number > arrived
        {
            return Ok(version);
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        // Dropped half-way (the caller went away), the lock passes to the
        // next call, which reads for itself.
        let version = read().await?;
        *self.last() = Some((number, version));
        Ok(version)
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<(u64, i64)>> {
        // Nothing panics while the lock is held; a poisoned value is still a value.
        self.last
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicI64;
    use std::time::Duration;

    /// A call never gets an answer read before it arrived: a commit it knew
    /// of (the version moving to 2) is seen by every call that started
    /// after it, however the reads are shared.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_gets_a_read_that_started_after_it() {
        let reads = Arc::new(SharedReads::default());
        let version = Arc::new(AtomicI64::new(1));
        let made = Arc::new(AtomicU64::new(0));
        // Holds the first shared read in flight until released.
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let read = {
            let (version, made, gate) = (version.clone(), made.clone(), gate.clone());
            move || {
                let (version, made, gate) = (version.clone(), made.clone(), gate.clone());
                async move {
                    // What the database holds when the read starts.
                    let seen = version.load(Ordering::SeqCst);
                    if made.fetch_add(1, Ordering::SeqCst) == 1 {
                        gate.acquire().await.unwrap().forget();
                    }
                    Ok(seen)
                }
            }
        };
        // A lone call reads.
        assert_eq!(reads.version(read.clone()).await.unwrap(), 1);
        assert_eq!(made.load(Ordering::SeqCst), 1);

        // A read is in flight at version 1; then the version moves to 2, and
        // fifty calls arrive: none may be answered 1, and they share reads.
        let first = tokio::spawn({
            let (reads, read) = (reads.clone(), read.clone());
            async move { reads.version(read).await.unwrap() }
        });
        while made.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        version.store(2, Ordering::SeqCst);
        let later: Vec<_> = (0..50)
            .map(|_| {
                let (reads, read) = (reads.clone(), read.clone());
                tokio::spawn(async move { reads.version(read).await.unwrap() })
            })
            .collect();
        // Let them line up behind the read in flight, then let it end.
        tokio::time::sleep(Duration::from_millis(100)).await;
        gate.add_permits(1);
        assert_eq!(first.await.unwrap(), 1);
        for call in later {
            assert_eq!(call.await.unwrap(), 2);
        }
        // The fifty shared the one read after the first.
        assert_eq!(made.load(Ordering::SeqCst), 3);
    }

    /// A failed read fails only its own call; the next call reads again.
    #[tokio::test]
    async fn a_failed_read_is_not_shared() {
        let reads = SharedReads::default();
        let failed = reads
            .version(|| async { Err(crate::StoreError::NotFound("lookup_version")) })
            .await;
        assert!(failed.is_err());
        assert_eq!(reads.version(|| async { Ok(7) }).await.unwrap(), 7);
    }
}

//! WAL checkpoints of a SQLite file, on a thread of their own.
//!
//! In WAL mode a commit appends to the `-wal` file, and SQLite copies those pages
//! back into the database file from time to time (a checkpoint). By default the
//! connection whose commit takes the WAL past 1,000 pages does it, inside that
//! commit: it copies the pages and syncs both files before the commit returns. For
//! Warden that connection is the audit writer's, so one call in a few hundred waited
//! for a checkpoint: the single caller's p99 was ten times its p50 (BENCHMARKS.md).
//!
//! Warden's own connections turn that off (`PRAGMA wal_autocheckpoint = 0`, in
//! `sqlite::session`) and this thread checkpoints instead, every [`EVERY`], in
//! `PASSIVE` mode: it copies what no reader still needs, without waiting for or
//! blocking readers and writers, and does nothing (no sync) when nothing was
//! written. So the WAL holds about a tenth of a second of writes, where the default
//! lets it reach about 1,000 pages. Checkpoints still slow the commits that run
//! beside their syncs, so they are kept small: every 100 ms measured a p99 half that
//! of every second (BENCHMARKS.md). Other processes that open the file (the `warden`
//! commands) keep SQLite's default.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the WAL is checkpointed.
pub(super) const EVERY: Duration = Duration::from_millis(100);

/// The checkpoint thread of one store; stops when closed or dropped.
pub(super) struct Checkpointer {
    stop: SyncSender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the SQLite file at `path` (in WAL mode).
    pub(super) fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let connection = open(path).map_err(std::io::Error::other)?;
        let (stop, stopped) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("warden-sqlite-checkpoint".to_owned())
            .spawn(move || {
                // A stop, or the store dropped (the sender with it), ends the loop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // Busy (another process's checkpoint is running) or failed: the
                    // next turn tries again.
                    match checkpoint(&connection) {
                        Ok(0) => {}
                        Ok(_) => tracing::debug!("WAL checkpoint: another one is running"),
                        Err(error) => tracing::debug!("WAL checkpoint: {error}"),
                    }
                }
            })?;
        Ok(Checkpointer { stop })
    }

    /// Stops the thread (it finishes a checkpoint in progress first, on its own).
    pub(super) fn stop(&self) {
        let _ = self.stop.try_send(());
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Copies the WAL's pages that no reader still needs into the database file; not 0
/// when another checkpoint kept it from running.
fn checkpoint(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use sqlx::Row;

    use crate::Store;

    /// No commit of the store's checkpoints the WAL, and the store's thread moves
    /// what was written into the database file all the same, without any commit
    /// waiting for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_off_the_commit_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let pool = store.pool();
        let setting: i64 = sqlx::query("PRAGMA wal_autocheckpoint")
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(setting, 0, "commits checkpoint the WAL themselves");

        // About 2,000 pages, twice the WAL size at which SQLite's own default
        // would have checkpointed inside a commit.
        sqlx::query("CREATE TABLE filler (x BLOB)")
            .execute(pool)
            .await
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        for _ in 0..40 {
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) \
                 INSERT INTO filler SELECT randomblob(4000) FROM n",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        let written = 2_000 * 4_000;
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() < before + written {
            assert!(
                Instant::now() < deadline,
                "the pages written did not reach the database file: {} bytes",
                std::fs::metadata(&path).unwrap().len()
            );
            tokio::time::sleep(super::EVERY).await;
        }
        store.close().await;
    }
}

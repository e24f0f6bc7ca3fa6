//! A call's audit row written synchronously, by the task that answers the call, on a
//! SQLite file — when that can be done without waiting.
//!
//! Through sqlx, the audit row's statement is a hand-off to the connection's own thread
//! and back; a caller that also queues its row for the batching writer task adds that
//! task's wake-ups on both sides. For a lone call, those thread wake-ups are most of the
//! server's CPU for the call (BENCHMARKS.md). A commit in WAL mode with `synchronous =
//! NORMAL` is a write of a page or two to the WAL, with no flush (the row goes to
//! `recent_invocations`, one B-tree: `recent.rs`), so it runs here inline, bounded like
//! any short computation on a task:
//!
//! - only when this process's writer lock is free (`SqliteFile::append_audit_now` takes
//!   it without waiting, except from the store's own move of recent rows, which lets
//!   go within a short transaction) and this one connection is not in use by another
//!   thread;
//! - on a connection with no busy timeout: when another process holds SQLite's write
//!   lock, SQLite answers `SQLITE_BUSY` at once instead of sleeping on the thread.
//!
//! Otherwise, and on any failure of SQLite itself, the answer is `None` and the caller
//! writes the row the asynchronous way, which waits off the runtime's threads. A failed
//! statement leaves nothing written (SQLite rolls the statement's implicit transaction
//! back), so writing the row again that way writes it once. The statement is always
//! stepped to its end, so that the commit's own result is seen here rather than lost
//! when the statement is reset.
//!
//! The same connection answers the per-call point reads while it is free
//! ([`SyncWriter::read`]; why: `SqliteFile::read_point`), and moves the recent rows into
//! `invocations` for the checkpoint thread ([`SyncWriter::move_recent`]).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, TryLockError};

use rusqlite::{Connection, OpenFlags};

use super::checkpoint::WAL_SIZE_LIMIT;
use super::sync_read::{Failures, READ_FAILED, SyncError, is_busy};
use crate::error::Result;

/// The connection state: `None` once closed; `Some(None)` while there is no connection
/// (the last one failed; the next write opens another).
type Slot = Option<Option<Connection>>;

/// One connection to a SQLite file for writes made synchronously.
pub(super) struct SyncWriter {
    path: PathBuf,
    connection: Mutex<Slot>,
    failures: Failures,
    /// Those of reads made on the connection ([`SyncWriter::read`]).
    read_failures: Failures,
    /// Those of moves of recent audit rows ([`SyncWriter::move_recent`]).
    move_failures: Failures,
}

impl SyncWriter {
    /// A writer to the SQLite file at `path`, which must exist, with its connection.
    pub(super) fn open(path: &Path) -> SyncWriter {
        let mut writer = SyncWriter {
            path: path.to_owned(),
            connection: Mutex::new(Some(None)),
            failures: Failures::new("synchronous SQLite write failed; going through sqlx"),
            read_failures: Failures::new(READ_FAILED),
            move_failures: Failures::new(
                "moving audit rows out of recent_invocations failed; they stay there, \
                 and the next turn tries again",
            ),
        };
        match connect(path) {
            Ok(connection) => writer.connection = Mutex::new(Some(Some(connection))),
            Err(error) => writer.failures.log(&error),
        }
        writer
    }

    /// Runs `write` on the connection, outside any transaction: each statement commits
    /// on its own. The caller holds this process's writer lock.
    ///
    /// `None` when the connection is in use, closed, SQLite did not answer (it would
    /// have to wait, or failed) or `write` left a transaction open (rolled back):
    /// nothing was written, and the caller writes the asynchronous way.
    pub(super) fn write<T>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        self.run_opened(write, &self.failures)
    }

    /// Moves up to `limit` of the oldest rows of `recent_invocations` into `invocations`
    /// (see `recent.rs`), in one transaction, and answers how many rows are left there.
    /// `None` as for [`SyncWriter::write`], with nothing moved. The caller holds this
    /// process's writer lock.
    ///
    /// On this connection, because it commits the lone calls' rows: a commit made on
    /// another connection would empty its page cache (see `SqliteFile::read_point`).
    pub(super) fn move_recent(&self, limit: usize) -> Option<Result<usize>> {
        self.run_opened(
            |connection| super::recent::move_oldest(connection, limit),
            &self.move_failures,
        )
    }

    /// [`run`] on the connection, opened first if there is none.
    fn run_opened<T>(
        &self,
        statements: impl FnOnce(&Connection) -> Result<T, SyncError>,
        failures: &Failures,
    ) -> Option<Result<T>> {
        let mut slot = self.slot()?;
        let connection = slot.as_mut()?;
        if connection.is_none() {
            match connect(&self.path) {
                Ok(opened) => *connection = Some(opened),
                Err(error) => {
                    failures.log(&error);
                    return None;
                }
            }
        }
        run(connection, statements, failures)
    }

    /// Runs `read`, which only reads, on the connection: `None` when the connection is
    /// in use, closed or not open (a read does not open one), or SQLite did not answer,
    /// and the caller reads on another connection. The caller holds this process's
    /// writer lock, so no write of this process waits on a commit here meanwhile.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        let mut slot = self.slot()?;
        run(slot.as_mut()?, read, &self.read_failures)
    }

    /// Closes the connection; later writes answer `None`.
    pub(super) fn close(&self) {
        // Waits for a write in progress on another thread: a short statement.
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        slot.take();
    }

    /// The slot, unless another thread is writing on the connection right now.
    fn slot(&self) -> Option<std::sync::MutexGuard<'_, Slot>> {
        match self.connection.try_lock() {
            Ok(slot) => Some(slot),
            Err(TryLockError::WouldBlock) => None,
            // Nothing panics while the lock is held but the caller's `write`; the slot
            // itself is still whole.
            Err(TryLockError::Poisoned(poison)) => Some(poison.into_inner()),
        }
    }
}

/// Runs `statements` on the open `connection` and answers as [`Failures::answer`] does.
/// A connection left in a transaction would hold SQLite's locks: closing it rolls the
/// transaction back, so nothing was written, whatever `statements` said, and the answer
/// is `None`. A failure of SQLite other than busy may be the connection's. In both
/// cases the connection goes; the next write opens another.
fn run<T>(
    connection: &mut Option<Connection>,
    statements: impl FnOnce(&Connection) -> Result<T, SyncError>,
    failures: &Failures,
) -> Option<Result<T>> {
    let open = connection.as_ref()?;
    let result = statements(open);
    if !open.is_autocommit() {
        *connection = None;
        return None;
    }
    if matches!(&result, Err(SyncError::Sqlite(error)) if !is_busy(error)) {
        *connection = None;
    }
    failures.answer(result)
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The settings of the store's other connections (`sqlite::session`), but no busy
    // timeout: this connection never waits.
    connection.execute_batch(&format!(
        "PRAGMA busy_timeout = 0; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, PathBuf, SyncWriter) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("write.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")
            .unwrap();
        let writer = SyncWriter::open(&path);
        (dir, path, writer)
    }

    fn count(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    fn insert(connection: &Connection) -> Result<usize, SyncError> {
        Ok(connection.execute("INSERT INTO t VALUES (1)", [])?)
    }

    #[test]
    fn a_write_commits_on_its_own() {
        let (_dir, path, writer) = writer();
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_write_lock_held_elsewhere_is_no_answer_at_once_and_nothing_is_written() {
        let (_dir, path, writer) = writer();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = std::time::Instant::now();
        assert!(writer.write(insert).is_none());
        // No busy timeout: SQLite's default handler would have slept.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        other.execute_batch("COMMIT").unwrap();
        assert_eq!(count(&path), 0);
        // Busy is no failure of the connection: it writes once the lock is free.
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_failed_statement_writes_nothing_and_the_writer_stays_usable() {
        let (_dir, path, writer) = writer();
        let failing = |connection: &Connection| -> Result<usize, SyncError> {
            Ok(connection.execute("INSERT INTO t VALUES (NULL)", [])?)
        };
        assert!(writer.write(failing).is_none());
        assert_eq!(count(&path), 0);
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_transaction_left_open_is_rolled_back_and_does_not_hold_the_lock() {
        let (_dir, path, writer) = writer();
        let leaves_open = |connection: &Connection| -> Result<usize, SyncError> {
            connection.execute_batch("BEGIN IMMEDIATE")?;
            Ok(connection.execute("INSERT INTO t VALUES (1)", [])?)
        };
        // Rolled back: no answer, as for any write that wrote nothing.
        assert!(writer.write(leaves_open).is_none());
        assert_eq!(count(&path), 0);
        let other = Connection::open(&path).unwrap();
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_connection_in_use_is_no_answer() {
        let (_dir, _path, writer) = writer();
        let _held = writer.connection.lock().unwrap();
        assert!(writer.write(insert).is_none());
    }

    fn counted(connection: &Connection) -> Result<i64, SyncError> {
        Ok(connection.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))?)
    }

    #[test]
    fn a_read_sees_its_own_commits_and_every_other_connections() {
        let (_dir, path, writer) = writer();
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert!(matches!(writer.read(counted), Some(Ok(1))));
        let other = Connection::open(&path).unwrap();
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert!(matches!(writer.read(counted), Some(Ok(2))));
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert!(matches!(writer.read(counted), Some(Ok(3))));
    }

    #[test]
    fn a_read_on_a_connection_in_use_closed_or_not_open_is_no_answer() {
        let (_dir, path, writer) = writer();
        {
            let _held = writer.connection.lock().unwrap();
            assert!(writer.read(counted).is_none());
        }
        // A failed read loses the connection, and a read does not open another.
        let failing = |connection: &Connection| -> Result<i64, SyncError> {
            Ok(connection.query_row("SELECT n FROM no_such_table", [], |row| row.get(0))?)
        };
        assert!(writer.read(failing).is_none());
        assert!(writer.read(counted).is_none());
        // The next write opens one, and reads use it again.
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert!(matches!(writer.read(counted), Some(Ok(1))));
        writer.close();
        assert!(writer.read(counted).is_none());
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_read_that_leaves_a_transaction_open_loses_the_connection() {
        let (_dir, path, writer) = writer();
        let leaves_open = |connection: &Connection| -> Result<i64, SyncError> {
            connection.execute_batch("BEGIN")?;
            counted(connection)
        };
        assert!(writer.read(leaves_open).is_none());
        // Nothing holds a snapshot or a lock: another connection writes, and the
        // writer's next write (on a new connection) sees it.
        let other = Connection::open(&path).unwrap();
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert!(matches!(writer.write(insert), Some(Ok(1))));
        assert!(matches!(writer.read(counted), Some(Ok(2))));
    }

    #[test]
    fn a_closed_writer_gives_no_answer() {
        let (_dir, path, writer) = writer();
        writer.close();
        assert!(writer.write(insert).is_none());
        assert_eq!(count(&path), 0);
    }
}

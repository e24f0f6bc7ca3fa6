//! Reads of a SQLite file through rusqlite, run synchronously by the task that needs
//! them, for the look-up every worker call makes.
//!
//! Through sqlx, each query on SQLite is a hand-off to the connection's own thread
//! and back — two context switches and a wake-up per call, plus the `Any` driver's
//! conversion of every row — which under load cost more than the query itself. The
//! per-call read is one row (the look-up version), or a handful of indexed point
//! reads when it moved; in WAL mode a reader sees the last commit without waiting
//! for a writer. So it runs on the calling thread: the one-row version read
//! inline (`SqliteFile::read_point`, which says why, and why it prefers the
//! write connection when that is free), the query when the version moved
//! declared to the runtime as blocking work (`SqliteFile::read_blocking`).
//!
//! These connections have no busy timeout, so they never wait: in the rare states in
//! which a WAL reader would (another connection recovering the WAL index, say),
//! SQLite answers `SQLITE_BUSY` at once and the caller takes the asynchronous path,
//! which waits off the runtime's threads. The same goes for any other failure of
//! SQLite itself here: this path is only a faster way to the answer the asynchronous
//! path gives, so rusqlite's errors never leave this module — the asynchronous path
//! runs instead and reports through sqlx as every other query does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{Result, StoreError};
use crate::row::{RowExt, StoredBool};

/// Idle connections kept for reuse. The reads are synchronous, so at most as many
/// are in use at once as threads read at once (the runtime's worker threads).
const MAX_IDLE: usize = 8;

/// Logged when a synchronous read fails.
pub(super) const READ_FAILED: &str = "synchronous SQLite read failed; going through sqlx";

/// Why a synchronous read (or the synchronous audit write, `sync_write.rs`) gave no
/// answer of its own.
pub(crate) enum SyncError {
    /// SQLite failed (busy, or anything else): the caller takes the asynchronous path.
    Sqlite(rusqlite::Error),
    /// The rows were read but are not what the schema says, or hold data the store
    /// refuses: the answer, as the asynchronous path would give it.
    Store(StoreError),
}

impl From<rusqlite::Error> for SyncError {
    fn from(error: rusqlite::Error) -> Self {
        SyncError::Sqlite(error)
    }
}

impl From<StoreError> for SyncError {
    fn from(error: StoreError) -> Self {
        SyncError::Store(error)
    }
}

/// Read-only connections to one SQLite file, used synchronously.
pub(super) struct SyncReader {
    path: PathBuf,
    /// `None` once closed.
    idle: Mutex<Option<Vec<Connection>>>,
    failures: Failures,
}

/// The failures of a synchronous path, logged: the first at `warn` (once is enough to
/// show that calls take the slower path), later ones at `debug`.
pub(super) struct Failures {
    /// What failed and what happens instead, for the log.
    message: &'static str,
    warned: AtomicBool,
}

impl Failures {
    pub(super) const fn new(message: &'static str) -> Failures {
        Failures {
            message,
            warned: AtomicBool::new(false),
        }
    }

    /// Logs a failure of SQLite: the first at `warn`, the others at `debug`.
    pub(super) fn log(&self, error: &rusqlite::Error) {
        let message = self.message;
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(%error, "{message}");
        } else {
            tracing::warn!(%error, "{message}");
        }
    }

    /// What a synchronous path answers for `result`: the value, or the store's error
    /// (rows that are not what the schema says); `None` when SQLite failed, which is
    /// logged unless SQLite was only busy.
    pub(super) fn answer<T>(&self, result: Result<T, SyncError>) -> Option<Result<T>> {
        match result {
            Ok(value) => Some(Ok(value)),
            Err(SyncError::Store(error)) => Some(Err(error)),
            Err(SyncError::Sqlite(error)) => {
                if !is_busy(&error) {
                    self.log(&error);
                }
                None
            }
        }
    }
}

impl SyncReader {
    /// A reader of the SQLite file at `path`, which must exist, with a first connection.
    pub(super) fn open(path: &Path) -> SyncReader {
        let reader = SyncReader {
            path: path.to_owned(),
            idle: Mutex::new(Some(Vec::new())),
            failures: Failures::new(READ_FAILED),
        };
        match connect(path) {
            Ok(first) => reader.give_back(first),
            Err(error) => reader.failures.log(&error),
        }
        reader
    }

    /// Runs `read` on an idle connection (a new one when none is idle).
    ///
    /// `None` when the reader is closed or SQLite did not answer (it would have to
    /// wait, or failed): the caller then takes the asynchronous path.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        let idle = self.idle().as_mut()?.pop();
        let connection = match idle {
            Some(connection) => connection,
            None => match connect(&self.path) {
                Ok(connection) => connection,
                Err(error) => {
                    self.failures.log(&error);
                    return None;
                }
            },
        };
        let result = read(&connection);
        // A read that failed part-way left nothing open: a statement resets when its
        // rows are dropped, and these connections never begin a transaction.
        self.give_back(connection);
        self.failures.answer(result)
    }

    /// Closes the idle connections; later reads answer `None`.
    pub(super) fn close(&self) {
        self.idle().take();
    }

    /// Back to the idle list unless closed meanwhile or full (then it closes here).
    fn give_back(&self, connection: Connection) {
        if let Some(idle) = self.idle().as_mut()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Option<Vec<Connection>>> {
        // Nothing can panic while the lock is held; a poisoned list is still a list.
        self.idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

pub(super) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(error, _)
            if matches!(error.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    // Read-write (never created) rather than read-only: a read-only connection cannot
    // take part in the WAL index's shared memory when it is the first to open it.
    // `query_only` refuses any statement that would write.
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 0;")?;
    Ok(connection)
}

/// Column positions by name, for [`NamedRow`].
pub(crate) fn column_positions(statement: &rusqlite::Statement<'_>) -> HashMap<String, usize> {
    statement
        .column_names()
        .into_iter()
        .enumerate()
        .map(|(position, name)| (name.to_owned(), position))
        .collect()
}

/// A row with [`RowExt`]'s access by column name.
pub(crate) struct NamedRow<'a> {
    pub(crate) row: &'a rusqlite::Row<'a>,
    pub(crate) columns: &'a HashMap<String, usize>,
}

impl NamedRow<'_> {
    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T> {
        let position = *self
            .columns
            .get(column)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {column} in the result")))?;
        self.row
            .get(position)
            .map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
    }
}

impl RowExt for NamedRow<'_> {
    fn text(&self, column: &str) -> Result<String> {
        self.get(column)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.get(column)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        self.get(column)
    }

    fn stored_bool(&self, column: &str) -> Result<StoredBool> {
        // SQLite has no boolean type: the schema stores INTEGER 0/1.
        Ok(StoredBool::Integer(self.get(column)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> (tempfile::TempDir, SyncReader) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch("CREATE TABLE t (flag INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        (dir, SyncReader::open(&path))
    }

    fn flags(connection: &Connection) -> Result<Vec<bool>, SyncError> {
        let mut statement = connection.prepare("SELECT flag FROM t ORDER BY flag")?;
        let columns = column_positions(&statement);
        let mut rows = statement.query([])?;
        let mut flags = Vec::new();
        while let Some(row) = rows.next()? {
            let row = NamedRow {
                row,
                columns: &columns,
            };
            flags.push(row.boolean("flag")?);
        }
        Ok(flags)
    }

    #[test]
    fn a_failure_of_sqlite_is_no_answer_and_the_reader_stays_usable() {
        let (_dir, reader) = reader();
        let answer = reader.read(|connection| {
            Ok(
                connection.query_row("SELECT * FROM no_such_table", [], |row| {
                    row.get::<_, i64>(0)
                })?,
            )
        });
        assert!(answer.is_none());
        let answer = reader.read(|connection| {
            Ok(connection.query_row("SELECT COUNT(*) FROM t", [], |row| row.get::<_, i64>(0))?)
        });
        assert!(matches!(answer, Some(Ok(2))));
    }

    #[test]
    fn a_decoding_failure_is_the_answer() {
        // 2 is not a boolean under the store's one rule, on either driver.
        let (_dir, reader) = reader();
        match reader.read(flags) {
            Some(Err(StoreError::Corrupt(message))) => assert!(message.contains("flag")),
            Some(other) => panic!("expected Corrupt, got {other:?}"),
            None => panic!("expected an answer"),
        }
    }

    #[test]
    fn a_closed_reader_gives_no_answer() {
        let (_dir, reader) = reader();
        reader.close();
        assert!(reader.read(|_| Ok(())).is_none());
    }

    #[test]
    fn writes_are_refused() {
        let (_dir, reader) = reader();
        assert!(
            reader
                .read(|connection| Ok(connection.execute("DELETE FROM t", [])?))
                .is_none()
        );
        let answer = reader.read(|connection| {
            Ok(connection.query_row("SELECT COUNT(*) FROM t", [], |row| row.get::<_, i64>(0))?)
        });
        assert!(matches!(answer, Some(Ok(2))));
    }
}

//! Reads of a SQLite file that run on the calling thread, for the look-up every
//! worker call makes.
//!
//! Through sqlx, each query on SQLite is a hand-off to the connection's own thread
//! and back — two context switches and a wake-up per call, plus the `Any` driver's
//! conversion of every row — which under load cost more than the query itself. The
//! per-call read is one row (the look-up version), or a handful of indexed point
//! reads when it moved; in WAL mode a reader sees the last commit without waiting
//! for a writer. So it runs where it is asked, like any other short computation
//! on an async task.
//!
//! These connections have no busy timeout, so they never wait: in the rare states in
//! which a WAL reader would (another connection recovering the WAL index, say),
//! SQLite answers `SQLITE_BUSY` at once and the caller takes the asynchronous path,
//! which waits off the runtime's threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::db::RowExt;
use crate::error::{Result, StoreError};

/// Idle connections kept for reuse. The reads are synchronous, so at most as many
/// are in use at once as threads read at once (the runtime's worker threads).
const MAX_IDLE: usize = 8;

/// Read-only connections to one SQLite file, used synchronously.
pub(crate) struct SyncReader {
    path: PathBuf,
    /// `None` once closed.
    idle: Mutex<Option<Vec<Connection>>>,
}

impl SyncReader {
    /// Opens a first connection to the SQLite file at `path`, which must exist.
    pub(crate) fn open(path: &Path) -> Result<SyncReader> {
        let first = connect(path)?;
        Ok(SyncReader {
            path: path.to_owned(),
            idle: Mutex::new(Some(vec![first])),
        })
    }

    /// Runs `read` on an idle connection (a new one when none is idle).
    ///
    /// `None` when the reader is closed or SQLite would have to wait: the caller
    /// then takes the asynchronous path.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Option<Result<T>> {
        let idle = self.idle().as_mut()?.pop();
        let connection = match idle {
            Some(connection) => connection,
            None => match connect(&self.path) {
                Ok(connection) => connection,
                Err(error) => return Some(Err(error)),
            },
        };
        let result = read(&connection);
        // Back to the idle list unless closed meanwhile (then it closes here). A
        // read that failed part-way left nothing open: a statement resets when its
        // rows are dropped, and these connections never begin a transaction.
        if let Some(idle) = self.idle().as_mut()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
        match result {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(error, _)))
                if matches!(
                    error.code,
                    ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
                ) =>
            {
                None
            }
            result => Some(result),
        }
    }

    /// Closes the idle connections; later reads answer `None`.
    pub(crate) fn close(&self) {
        self.idle().take();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Option<Vec<Connection>>> {
        // Nothing can panic while the lock is held; a poisoned list is still a list.
        self.idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn connect(path: &Path) -> Result<Connection> {
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
        Ok(self.row.get(position)?)
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

    fn boolean(&self, column: &str) -> Result<bool> {
        Ok(self.get::<i64>(column)? != 0)
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        self.get(column)
    }
}

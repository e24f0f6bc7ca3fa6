//! The audit rows of lone calls on a SQLite file: appended to `recent_invocations`,
//! moved into `invocations` in batches.
//!
//! A lone call commits its own audit row before it is answered (`sync_write.rs`).
//! Into `invocations` that commit changed six B-trees (the table, its primary key and
//! four indexes), so it wrote about eight WAL frames and a quarter of the server's CPU
//! for the call went into the row (BENCHMARKS.md). `recent_invocations` (migration
//! 0012) is the same row in one B-tree with no index, appended in rowid order: the
//! commit writes a page. The checkpoint thread then moves the rows into `invocations`
//! every turn ([`move_all`]), up to [`MOVE_ROWS`] per transaction, on the write
//! connection and with this process's writer lock held, so a batch's index pages are
//! written once for all its rows. A lone call that finds a move holding the writer
//! waits for its transaction to end (`SqliteFile::append_audit_now`). Every read of the audit reads both tables
//! (`invocations.rs`), and a row is in exactly one of them in any transaction.
//!
//! Nothing searches `recent_invocations` by an index, so it is kept short: a lone call
//! appends only while it holds fewer than [`MAX_ROWS`] rows (the count this process
//! keeps in [`Recent`]); past that, rows go to the batching writer, which writes them
//! into `invocations` directly. The foreign keys' actions (an agent or organization
//! deleted) scan it whole, as do reads of one row by id.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rusqlite::Connection;
use tokio::sync::Mutex;

use super::sync_read::SyncError;
use super::sync_write::SyncWriter;

/// Most rows `recent_invocations` holds before lone calls stop appending: about two
/// turns of the checkpoint thread at one caller's full speed.
pub(super) const MAX_ROWS: usize = 2_048;

/// Most rows moved in one transaction, which holds this process's writers meanwhile:
/// 0.3–0.9 ms for 64 rows, measured under a single caller at full speed.
pub(super) const MOVE_ROWS: usize = 64;

/// The pause between two transactions of a move. A turn's rows moved in one burst
/// kept a CPU busy for milliseconds, and on a small machine the calls running beside
/// it waited for a CPU: the single caller's p99 went from 1.2–1.6 ms to 1.8–2.1 ms.
/// Moved a transaction at a time with this pause between, it stayed at 1.1–1.3 ms
/// (BENCHMARKS.md).
const PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// How many rows this process counts in `recent_invocations`.
#[derive(Debug)]
pub(super) struct Recent {
    rows: AtomicUsize,
    /// Whether the checkpoint thread holds this process's writer lock to move rows.
    moving: AtomicBool,
}

impl Recent {
    /// The count in the file at `writer`'s connection. When it cannot be read (no such
    /// table: a database not yet migrated; or the file busy) the count is full, so that
    /// nothing is appended until the checkpoint thread's next move counts again.
    pub(super) fn count(writer: &SyncWriter) -> Recent {
        let rows = match writer.write(|connection| {
            Ok(
                connection.query_row("SELECT count(*) FROM recent_invocations", [], |row| {
                    row.get::<_, i64>(0)
                })?,
            )
        }) {
            Some(Ok(rows)) => usize::try_from(rows).unwrap_or(MAX_ROWS),
            _ => MAX_ROWS,
        };
        Recent::new(rows)
    }

    fn new(rows: usize) -> Recent {
        Recent {
            rows: AtomicUsize::new(rows),
            moving: AtomicBool::new(false),
        }
    }

    /// Whether this process's writer lock is held by a move, which lets go of it within
    /// one transaction of up to [`MOVE_ROWS`] rows.
    pub(super) fn is_moving(&self) -> bool {
        self.moving.load(Ordering::Relaxed)
    }

    /// Whether a lone call may append its row. Called with this process's writer lock
    /// held, as are [`Recent::appended`] and [`Recent::left`], so the count cannot
    /// change meanwhile.
    pub(super) fn has_room(&self) -> bool {
        self.rows.load(Ordering::Relaxed) < MAX_ROWS
    }

    /// A row was appended.
    pub(super) fn appended(&self) {
        self.rows.fetch_add(1, Ordering::Relaxed);
    }

    /// A move left `rows` rows.
    fn left(&self, rows: usize) {
        self.rows.store(rows, Ordering::Relaxed);
    }

    fn is_empty(&self) -> bool {
        self.rows.load(Ordering::Relaxed) == 0
    }
}

/// Moves every row of `recent_invocations` into `invocations`, a transaction of up to
/// [`MOVE_ROWS`] at a time on `writer`'s connection, taking `writers` (this process's
/// writer lock) for each. Stops early when the connection or the file is busy, or the
/// move failed (logged): the rows stay where they are, readable, for the next turn.
pub(super) fn move_all(writers: &Mutex<()>, writer: &SyncWriter, recent: &Recent) {
    // Bounded: rows appended between two transactions are moved by the next turn.
    for turn in 0..=MAX_ROWS / MOVE_ROWS {
        if recent.is_empty() {
            return;
        }
        if turn > 0 {
            std::thread::sleep(PAUSE);
        }
        let _writers = writers.blocking_lock();
        recent.moving.store(true, Ordering::Relaxed);
        let moved = writer.move_recent(MOVE_ROWS);
        recent.moving.store(false, Ordering::Relaxed);
        match moved {
            Some(Ok(left)) => recent.left(left),
            Some(Err(_)) | None => return,
        }
    }
}

/// Moves the oldest `limit` rows of `recent_invocations` (by rowid, the order they
/// were appended in) into `invocations`, in one transaction, and answers how many are
/// left. On any error the caller's connection is dropped with the transaction open,
/// which rolls it back (`sync_write::run`).
pub(super) fn move_oldest(connection: &Connection, limit: usize) -> Result<usize, SyncError> {
    use crate::invocations::INVOCATION_COLUMNS as COLUMNS;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let last: Option<i64> = connection
        .prepare_cached(
            "SELECT max(rowid) FROM \
             (SELECT rowid FROM recent_invocations ORDER BY rowid LIMIT ?1)",
        )?
        .query_row([limit], |row| row.get(0))?;
    if let Some(last) = last {
        connection
            .prepare_cached(&format!(
                "INSERT INTO invocations ({COLUMNS}) SELECT {COLUMNS} \
                 FROM recent_invocations WHERE rowid <= ?1 ORDER BY rowid"
            ))?
            .execute([last])?;
        connection
            .prepare_cached("DELETE FROM recent_invocations WHERE rowid <= ?1")?
            .execute([last])?;
    }
    let left: i64 = connection
        .prepare_cached("SELECT count(*) FROM recent_invocations")?
        .query_row([], |row| row.get(0))?;
    connection.execute_batch("COMMIT")?;
    Ok(usize::try_from(left).unwrap_or(MAX_ROWS))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::Store;

    /// A migrated SQLite file with an organization, no connection open on it, and
    /// `rows` rows waiting in `recent_invocations`, appended in order (`f0`, `f1`, …).
    /// Outside any runtime, since [`move_all`] blocks its thread.
    fn file_with_recent_rows(rows: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let organization = runtime.block_on(async {
            let store = Store::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let organization = store.create_organization("acme", false).await.unwrap();
            store.close().await;
            organization
        });
        let connection = Connection::open(&path).unwrap();
        for i in 0..rows {
            connection
                .execute(
                    "INSERT INTO recent_invocations (id, organization_id, tool_id, \
                     tool_version_id, function, call_id, started_at, duration_us, \
                     fuel_consumed, peak_memory_bytes, outcome, error_kind, created_at) \
                     VALUES (?1, ?2, 't', 't-v1', ?3, 'c', 1, ?4, 5, 6, 'error', 'boom', ?4)",
                    rusqlite::params![
                        uuid::Uuid::now_v7().to_string(),
                        organization.id,
                        format!("f{i}"),
                        i as i64
                    ],
                )
                .unwrap();
        }
        drop(connection);
        // The store's connections close on threads of their own, and the file's last
        // one to close checkpoints and removes the WAL with the file locked: wait for
        // that, so that the test's connection, which never waits, finds the file free.
        let wal = dir.path().join("warden.db-wal");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while wal.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "a connection stays open"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        (dir, path)
    }

    /// Every row of `table`, every column as text, in the order the rows were appended.
    fn rows(path: &Path, table: &str) -> Vec<Vec<Option<String>>> {
        let connection = Connection::open(path).unwrap();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {} FROM {table} ORDER BY duration_us",
                crate::invocations::INVOCATION_COLUMNS
            ))
            .unwrap();
        statement
            .query_map([], |row| {
                (0..17)
                    .map(|i| {
                        Ok(row
                            .get::<_, Option<rusqlite::types::Value>>(i)?
                            .map(|value| format!("{value:?}")))
                    })
                    .collect()
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn the_oldest_rows_move_first_and_arrive_unchanged() {
        let (_dir, path) = file_with_recent_rows(5);
        let appended = rows(&path, "recent_invocations");
        let writer = SyncWriter::open(&path);

        assert_eq!(writer.move_recent(2).unwrap().unwrap(), 3);
        assert_eq!(rows(&path, "invocations"), appended[..2]);
        assert_eq!(rows(&path, "recent_invocations"), appended[2..]);

        assert_eq!(writer.move_recent(MOVE_ROWS).unwrap().unwrap(), 0);
        assert_eq!(rows(&path, "invocations"), appended);
        assert!(rows(&path, "recent_invocations").is_empty());
        // Nothing to move: nothing changes.
        assert_eq!(writer.move_recent(MOVE_ROWS).unwrap().unwrap(), 0);
        assert_eq!(rows(&path, "invocations"), appended);
    }

    #[test]
    fn a_turn_moves_everything_and_counts_what_is_left() {
        let (_dir, path) = file_with_recent_rows(MOVE_ROWS + 10);
        let appended = rows(&path, "recent_invocations");
        let writer = SyncWriter::open(&path);
        let recent = Recent::new(MOVE_ROWS + 10);
        // More than one transaction's worth: moved in two, both this turn.
        move_all(&Mutex::new(()), &writer, &recent);
        assert!(recent.is_empty());
        assert_eq!(rows(&path, "invocations"), appended);
        assert!(rows(&path, "recent_invocations").is_empty());
    }

    #[test]
    fn a_failed_move_moves_nothing_and_the_rows_stay() {
        let (_dir, path) = file_with_recent_rows(3);
        let appended = rows(&path, "recent_invocations");
        // A row that `invocations` refuses (its id is already there): the whole move
        // is rolled back.
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "INSERT INTO invocations SELECT id, organization_id, agent_id, tool_id, \
                 tool_version_id, function, call_id, call_session_id, started_at, \
                 duration_us, fuel_consumed, peak_memory_bytes, outcome, error_kind, \
                 argument_keys, created_at, NULL FROM recent_invocations WHERE function = 'f2'",
            )
            .unwrap();
        let writer = SyncWriter::open(&path);
        let recent = Recent::new(3);
        assert!(writer.move_recent(MOVE_ROWS).is_none());
        move_all(&Mutex::new(()), &writer, &recent);
        assert_eq!(rows(&path, "recent_invocations"), appended);
        assert_eq!(rows(&path, "invocations").len(), 1);
        assert_eq!(recent.rows.load(Ordering::Relaxed), 3);
        // The file is not left locked: another connection writes at once.
        connection.execute("DELETE FROM invocations", []).unwrap();
        assert_eq!(writer.move_recent(MOVE_ROWS).unwrap().unwrap(), 0);
        assert_eq!(rows(&path, "invocations"), appended);
    }

    #[test]
    fn a_full_table_takes_no_more_rows_until_a_move() {
        let (_dir, path) = file_with_recent_rows(0);
        let writer = SyncWriter::open(&path);
        let recent = Recent::new(0);
        assert!(recent.has_room());
        for _ in 0..MAX_ROWS {
            recent.appended();
        }
        assert!(!recent.has_room());
        // The move counts what is really there.
        move_all(&Mutex::new(()), &writer, &recent);
        assert!(recent.has_room() && recent.is_empty());
    }

    #[test]
    fn a_file_without_the_table_takes_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER);")
            .unwrap();
        let writer = SyncWriter::open(&path);
        let recent = Recent::count(&writer);
        assert!(!recent.has_room());
        // Nor after a turn: there is nothing to move them into.
        move_all(&Mutex::new(()), &writer, &recent);
        assert!(!recent.has_room());
    }
}

//! SQLite: a file (the embedded default) or an in-memory database.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Mutex;

use super::checkpoint::{Checkpointer, WAL_SIZE_LIMIT};
use super::direct::Direct;
use super::recent::{self, Recent};
use super::sync_read::{SyncError, SyncReader};
use super::sync_write::SyncWriter;
use super::{Backend, migrate};
use crate::StoreOptions;
use crate::error::{Result, StoreError};

/// How long SQLite waits for a lock held by another connection or process.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Most pool connections to a SQLite file unless [`StoreOptions::max_connections`] says
/// otherwise: one writer at a time and two readers keep sqlx's per-connection threads
/// busy instead of waking idle ones (measured faster than 8 under load).
const DEFAULT_MAX_CONNECTIONS: u32 = 3;

/// How many direct connections a store on a SQLite file keeps.
const DIRECT_CONNECTIONS: usize = 2;

pub(super) fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A SQLite file.
pub(crate) struct SqliteFile {
    pub(super) pool: AnyPool,
    /// Shared with the checkpoint thread, which holds it while the WAL starts over.
    pub(super) writer: Arc<Mutex<()>>,
    /// Connections outside the pool for the statements every call makes.
    pub(super) direct: Direct,
    /// Connections for the look-up every worker call makes, used synchronously.
    reader: SyncReader,
    /// The connection for the audit row a lone call writes synchronously. Shared with
    /// the checkpoint thread, which moves those rows on it.
    sync_writer: Arc<SyncWriter>,
    /// How many of those rows wait in `recent_invocations`.
    recent: Arc<Recent>,
    /// Checkpoints the WAL off the commit path.
    checkpointer: Checkpointer,
}

impl SqliteFile {
    /// Creates the file (and its directory) if missing, in WAL mode, and connects.
    pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<SqliteFile> {
        let path = prepare_file(url).await?;
        let pool = sqlite_pool(
            AnyPoolOptions::new()
                .acquire_timeout(options.acquire_timeout)
                .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS)),
            url,
        )
        .await?;
        if options.migrate {
            migrate(Backend::Sqlite, &pool).await?;
        }
        let writer = Arc::new(Mutex::new(()));
        let sync_writer = Arc::new(SyncWriter::open(&path));
        let recent = Arc::new(Recent::count(&sync_writer));
        let move_recent = {
            let (writer, sync_writer, recent) =
                (writer.clone(), sync_writer.clone(), recent.clone());
            move || recent::move_all(&writer, &sync_writer, &recent)
        };
        Ok(SqliteFile {
            pool,
            writer: writer.clone(),
            direct: Direct::connect(
                url,
                Backend::Sqlite,
                DIRECT_CONNECTIONS,
                options.acquire_timeout,
            )
            .await?,
            reader: SyncReader::open(&path),
            sync_writer,
            recent,
            checkpointer: Checkpointer::start(&path, writer, move_recent).map_err(|error| {
                StoreError::Invalid(format!(
                    "cannot open {} for WAL checkpoints: {error}",
                    path.display()
                ))
            })?,
        })
    }

    /// Runs `read` on one of the synchronous read connections, telling the runtime that
    /// this thread blocks meanwhile ([`tokio::task::block_in_place`]: the thread's other
    /// tasks move to another thread if they need to run before the read ends).
    ///
    /// Only on a multi-threaded runtime: a current-thread runtime cannot hand its tasks
    /// to another thread, so there the answer is `None` and the caller takes the
    /// asynchronous path, which waits without blocking. `None` also when the reader
    /// cannot answer (see [`SyncReader::read`]).
    pub(super) fn read_blocking<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        match Handle::try_current().ok()?.runtime_flavor() {
            RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| self.reader.read(read)),
            _ => None,
        }
    }

    /// Runs `read`, a read of one row by its key, synchronously and inline: declaring it
    /// as blocking would cost more than the read (`block_in_place` hands the thread's
    /// worker core to another thread and takes it back, every time — measured on the
    /// worker invoke benchmark (BENCHMARKS.md) at +50 % server CPU per call at 32–64
    /// connections when the per-call version read went through it). It cannot wait:
    /// these connections have no busy timeout. `None` when no connection can answer.
    ///
    /// On the write connection when it is free (this process's writer lock and the
    /// connection both taken without waiting), else on one of the read connections. A
    /// connection in WAL mode drops its whole page cache when it begins a read after
    /// another connection committed; the write connection commits most of this
    /// process's writes (every lone call's audit row), so its cache usually survives
    /// them, where a read connection's starts empty after every call.
    pub(super) fn read_point<T>(
        &self,
        read: impl Fn(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        if let Ok(_writer) = self.writer.try_lock()
            && let Some(answer) = self.sync_writer.read(&read)
        {
            return Some(answer);
        }
        self.reader.read(read)
    }

    /// Runs `append`, a statement that appends one row to `recent_invocations` and
    /// commits, on the synchronous write connection, inline, when neither this
    /// process's writer lock nor the connection is taken (see `sync_write.rs`) and the
    /// table has room ([`recent::MAX_ROWS`]). `None` when it cannot be done without
    /// waiting, or SQLite did not answer; nothing was written then.
    ///
    /// The one wait: for a move of recent rows that holds the writer lock (one
    /// transaction of at most [`recent::MOVE_ROWS`] rows). The move's transaction
    /// takes less time than the batching writer's path, with its hand-offs between
    /// threads and a connection whose page cache the move has just made stale.
    pub(super) async fn append_audit_now<T>(
        &self,
        append: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        let _writer = match self.writer.try_lock() {
            Ok(writer) => writer,
            Err(_) if self.recent.is_moving() => self.writer.lock().await,
            Err(_) => return None,
        };
        if !self.recent.has_room() {
            return None;
        }
        let answer = self.sync_writer.write(append)?;
        // Counted even when the statement wrote no row (the agent was not the
        // organization's): the next move counts again.
        self.recent.appended();
        Some(answer)
    }

    /// Closes the connections outside the pool, the checkpoint thread's among them.
    pub(super) async fn close_own_connections(&self) {
        self.checkpointer.stop().await;
        self.reader.close();
        self.sync_writer.close();
        self.direct.close().await;
    }
}

/// An in-memory SQLite database: one connection, which is the database.
pub(crate) struct SqliteMemory {
    pub(super) pool: AnyPool,
    pub(super) writer: Mutex<()>,
}

impl SqliteMemory {
    pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<SqliteMemory> {
        // Every connection would open its own empty database: keep exactly one.
        let pool = sqlite_pool(
            AnyPoolOptions::new()
                .acquire_timeout(options.acquire_timeout)
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            url,
        )
        .await?;
        if options.migrate {
            migrate(Backend::Sqlite, &pool).await?;
        }
        Ok(SqliteMemory {
            pool,
            writer: Mutex::new(()),
        })
    }
}

async fn sqlite_pool(options: AnyPoolOptions, url: &str) -> Result<AnyPool> {
    // A SQLite connection is a file handle in this process: it cannot go stale, so the
    // pool skips the ping it would otherwise send (a round trip to the connection's
    // worker thread) before every query.
    Ok(options
        .test_before_acquire(false)
        .after_connect(|conn, _| Box::pin(session(conn)))
        .connect(url)
        .await?)
}

/// Creates the database file and its directory when missing and puts the file in WAL
/// mode; returns the file's path.
async fn prepare_file(url: &str) -> Result<std::path::PathBuf> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .journal_mode(SqliteJournalMode::Wal);
    let path = options.get_filename().to_owned();
    if let Some(parent) = path.parent()
        && parent != Path::new("")
    {
        tokio::fs::create_dir_all(parent).await.map_err(|error| {
            StoreError::Invalid(format!(
                "cannot create the database directory {}: {error}",
                parent.display()
            ))
        })?;
    }
    // WAL is a property of the file: set once here, every later connection uses it.
    let connection = sqlx::SqliteConnection::connect_with(&options).await?;
    connection.close().await?;
    Ok(path)
}

/// The settings of every sqlx connection to a SQLite database.
pub(super) async fn session(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    let busy_ms = SQLITE_BUSY_TIMEOUT.as_millis();
    conn.execute(&*format!("PRAGMA busy_timeout = {busy_ms}"))
        .await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    // Durable across a crash of the process (the WAL is written before a commit
    // returns); a power cut may lose the last commits, never corrupts.
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    // No checkpoint inside a commit: the store's own thread checkpoints a file's WAL
    // (`checkpoint.rs`), so that no call waits for one.
    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
    // A WAL that grew far past its bound (`checkpoint.rs`) is cut back when it starts over.
    conn.execute(&*format!("PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}"))
        .await?;
    // No memory map (`mmap_size` stays 0): a commit by another connection (every
    // audit batch) resets a connection's page cache, and with a map SQLite then
    // unmaps and maps the whole file again — page faults and TLB shoot-downs that
    // made a look-up after a commit twice as slow as reading its pages.
    Ok(())
}

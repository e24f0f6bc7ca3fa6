//! The `Store`: connecting, migrations, and the ways its repository modules reach the
//! database (the pool, write transactions, and the faster paths of a SQLite file).

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::MutexGuard;

use crate::backend::{Backend, Engine, Route, SyncError};
use crate::error::Result;
use crate::lookup::{LookupCache, SharedReads};

/// Options for [`Store::connect_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool; `None` picks the backend's default (SQLite 3: one
    /// writer at a time and two readers keep sqlx's per-connection threads busy instead
    /// of waking idle ones — measured faster than 8 under load; PostgreSQL 16). An in-memory SQLite database always uses one.
    /// A SQLite file and a PostgreSQL server also get two direct connections
    /// outside the pool, for the statements every call makes.
    pub max_connections: Option<u32>,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
    /// Apply pending migrations while connecting.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(30),
            migrate: true,
        }
    }
}

/// The repository over SQLite or PostgreSQL. Cheap to clone (two reference counts).
///
/// Every method that reads or changes an organization's data takes the organization's id
/// and filters by it: rows of another organization are [`StoreError::NotFound`] or absent
/// from listings. The few methods that are not scoped say so (look-ups by a credential's
/// hash, which is how the organization is found, and operator-wide operations such as
/// [`Store::rewrap_secrets`]).
///
/// [`StoreError::NotFound`]: crate::StoreError::NotFound
#[derive(Clone)]
pub struct Store {
    engine: Arc<Engine>,
    /// Worker look-ups answered at the current look-up version: a cache that is never
    /// stale (see [`Store::worker_invocation_target`]).
    pub(crate) lookups: Arc<LookupCache>,
    /// The look-up version's reads over a connection, shared by the calls
    /// that wait for them.
    pub(crate) version_reads: Arc<SharedReads>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// A write transaction; on SQLite it also holds the process's writer lock.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Transaction<'static, Any>,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`) and applies
    /// the embedded migrations for that backend.
    ///
    /// SQLite: the file (and its directory) is created if missing; WAL journal, a 5 s busy
    /// timeout, foreign keys on, `synchronous = NORMAL` (safe with WAL: a power cut may lose
    /// the last commits, never corrupts).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// [`Store::connect`] with options.
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self> {
        Ok(Store {
            engine: Arc::new(Engine::connect(url, &options).await?),
            lookups: Arc::default(),
            version_reads: Arc::default(),
        })
    }

    /// Applies the embedded migrations that have not been applied yet.
    pub async fn migrate(&self) -> Result<()> {
        self.engine.migrate().await
    }

    /// Checks that the database answers (for health checks).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.engine.backend()
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.engine.close().await;
    }

    /// The pool, for any query.
    pub(crate) fn pool(&self) -> &AnyPool {
        self.engine.pool()
    }

    /// Runs `query`, a statement every call makes (one statement, outside any
    /// transaction), and returns its rows: on a direct connection when the store has
    /// them (`backend/direct.rs`), else through the pool.
    pub(crate) async fn fetch_all_per_call<'q>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        self.engine.fetch_all(Route::PerCall, query).await
    }

    /// A read (`query` builds it) on the connections `route` asks for, made
    /// again on another connection when the one it got was dropped by the
    /// server: a database restart drops every connection, and neither the pool
    /// nor the direct connections ping connections used within the last second
    /// (`backend/postgres.rs`), so each fails once before it is replaced: at
    /// most one attempt more than the pool has connections.
    pub(crate) async fn fetch_all_read<'q>(
        &self,
        route: Route,
        query: impl Fn() -> Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        let max_attempts = self.max_connection_attempts();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.engine.fetch_all(route, query()).await {
                Err(e) if e.is_connection_failure() && attempts < max_attempts => {
                    tracing::warn!("reading again on another connection: {e}");
                }
                rows => return rows,
            }
        }
    }

    /// How many attempts an operation may take when connections fail under it:
    /// one more than the pool has connections, since each dropped one fails
    /// once and leaves the pool.
    pub fn max_connection_attempts(&self) -> usize {
        self.pool().options().get_max_connections() as usize + 1
    }

    /// Runs `read` synchronously on a SQLite file's own read connection, as blocking work
    /// (`block_in_place`); `None` when the store has none (PostgreSQL, in-memory SQLite),
    /// the runtime cannot block (current-thread), the reader is closed, or SQLite did not
    /// answer — then the caller runs its query asynchronously instead.
    pub(crate) fn read_blocking<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        self.engine.read_blocking(read)
    }

    /// Runs `read`, a read of one row by its key that cannot wait, synchronously and
    /// inline on one of a SQLite file's own connections (why inline, and which:
    /// `backend/sqlite.rs`, `read_point`); `None` as for [`Store::read_blocking`].
    pub(crate) fn read_point<T>(
        &self,
        read: impl Fn(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        self.engine.read_point(read)
    }

    /// Runs `append` (one audit row into `recent_invocations`) synchronously on a SQLite
    /// file when it need not wait ([`Engine::append_audit_now`]); `None`, with nothing
    /// written, otherwise.
    pub(crate) async fn append_audit_now<T>(
        &self,
        append: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        self.engine.append_audit_now(append).await
    }

    /// Waits for this process's turn to write (SQLite only).
    pub(crate) async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match self.engine.writer() {
            Some(writer) => Some(writer.lock().await),
            None => None,
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a transaction never fails half-way on a lock upgrade.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>> {
        let writer = self.write_guard().await;
        let tx = match self.engine.begin_write_statement() {
            Some(statement) => self.pool().begin_with(statement).await?,
            None => self.pool().begin().await?,
        };
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }
}

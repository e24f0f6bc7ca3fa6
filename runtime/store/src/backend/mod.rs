//! The database engines behind a [`Store`](crate::Store): one variant per engine, each
//! with what makes sense for it.
//!
//! - A **SQLite file** (the embedded default) has the pool, this process's writer lock,
//!   two direct connections for the statements every call makes ([`direct`]),
//!   synchronous read connections for the worker look-up ([`sync_read`]), a synchronous
//!   write connection for a lone call's audit row ([`sync_write`]), which it appends to a
//!   table of recent rows ([`recent`]), and a thread that moves those rows into the
//!   indexed table and checkpoints the WAL ([`checkpoint`]).
//! - An **in-memory SQLite** database is one connection (every connection would open a
//!   database of its own) and the writer lock.
//! - **PostgreSQL** is a pool, and two direct connections for the per-call statements
//!   (the look-up version and the audit batch).
//!
//! Repositories use the pool for everything ([`Engine::pool`]); the faster paths are
//! asked for by name ([`Engine::fetch_all`] with a [`Route`], [`Engine::read_point`],
//! [`Engine::read_blocking`], [`Engine::append_audit_now`]) and fall back to the pool on
//! engines without them.

mod checkpoint;
mod direct;
mod postgres;
mod recent;
mod sqlite;
mod sync_read;
mod sync_write;

use std::time::Duration;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyPool};
use tokio::sync::Mutex;

use crate::StoreOptions;
use crate::error::{Result, StoreError};

pub use sqlite::SQLITE_BUSY_TIMEOUT;
pub(crate) use sync_read::{NamedRow, SyncError, column_positions};

/// How long a PostgreSQL connection may sit idle before it is pinged on its next use:
/// a server restart or a proxy's idle timeout may have dropped it meanwhile.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The database behind a [`Store`](crate::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: a file (the embedded default) or an in-memory database.
    Sqlite,
    /// A PostgreSQL server (scale-out).
    Postgres,
}

impl Backend {
    /// The backend a URL names: `sqlite:…`, or `postgres://…` / `postgresql://…`.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Invalid(
                "database URL must start with sqlite: or postgres://".to_owned(),
            ))
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Which connections a single statement outside any transaction runs on
/// ([`Engine::fetch_all`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A statement every call makes (the look-up version, the audit batch): the direct
    /// connections, on a SQLite file and on PostgreSQL.
    PerCall,
    /// A read made only now and then (a look-up the cache could not answer): the direct
    /// connections on a SQLite file, where they spare a hand-off; the pool on
    /// PostgreSQL, whose two direct connections are kept for the per-call statements
    /// and whose pool lets many such reads run at once.
    Read,
}

/// A connected database engine.
pub(crate) enum Engine {
    /// Boxed: it holds several sets of connections, the other variants one pool.
    SqliteFile(Box<sqlite::SqliteFile>),
    SqliteMemory(sqlite::SqliteMemory),
    Postgres(postgres::Postgres),
}

impl Engine {
    /// Connects to `url`, applying the migrations first when `options.migrate` says so.
    pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Engine> {
        sqlx::any::install_default_drivers();
        Ok(match Backend::from_url(url)? {
            Backend::Sqlite if sqlite::is_in_memory(url) => {
                Engine::SqliteMemory(sqlite::SqliteMemory::connect(url, options).await?)
            }
            Backend::Sqlite => {
                Engine::SqliteFile(Box::new(sqlite::SqliteFile::connect(url, options).await?))
            }
            Backend::Postgres => Engine::Postgres(postgres::Postgres::connect(url, options).await?),
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Engine::SqliteFile(_) | Engine::SqliteMemory(_) => Backend::Sqlite,
            Engine::Postgres(_) => Backend::Postgres,
        }
    }

    /// The pool every repository query may use.
    pub(crate) fn pool(&self) -> &AnyPool {
        match self {
            Engine::SqliteFile(sqlite) => &sqlite.pool,
            Engine::SqliteMemory(sqlite) => &sqlite.pool,
            Engine::Postgres(postgres) => &postgres.pool,
        }
    }

    /// Applies the embedded migrations that have not been applied yet.
    pub(crate) async fn migrate(&self) -> Result<()> {
        migrate(self.backend(), self.pool()).await
    }

    /// SQLite allows one writer at a time: writers of this process queue on this lock
    /// instead of sleeping in SQLite's busy handler. (Other processes still meet the busy
    /// timeout.) `None` on PostgreSQL.
    pub(crate) fn writer(&self) -> Option<&Mutex<()>> {
        match self {
            Engine::SqliteFile(sqlite) => Some(&*sqlite.writer),
            Engine::SqliteMemory(sqlite) => Some(&sqlite.writer),
            Engine::Postgres(_) => None,
        }
    }

    /// The statement that begins a write transaction. On SQLite it takes the write lock
    /// up front (`BEGIN IMMEDIATE`), so a transaction never fails half-way on a lock
    /// upgrade.
    pub(crate) fn begin_write_statement(&self) -> Option<&'static str> {
        match self {
            Engine::SqliteFile(_) | Engine::SqliteMemory(_) => Some("BEGIN IMMEDIATE"),
            Engine::Postgres(_) => None,
        }
    }

    /// Runs `query` (one statement, outside any transaction) and returns its rows, on
    /// the connections `route` asks for where this engine has them, else through the
    /// pool.
    pub(crate) async fn fetch_all<'q>(
        &self,
        route: Route,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        match (self, route) {
            (Engine::SqliteFile(sqlite), _) => sqlite.direct.fetch_all(query).await,
            (Engine::Postgres(postgres), Route::PerCall) => postgres.direct.fetch_all(query).await,
            (Engine::SqliteMemory(_), _) | (Engine::Postgres(_), Route::Read) => {
                Ok(query.fetch_all(self.pool()).await?)
            }
        }
    }

    /// Runs `read` synchronously on a SQLite file's own read connections, as blocking
    /// work (see [`sqlite::SqliteFile::read_blocking`]). `None` when this engine has no
    /// such connections, cannot block here, or the read could not be answered on them —
    /// the caller then runs its query asynchronously instead.
    pub(crate) fn read_blocking<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        match self {
            Engine::SqliteFile(sqlite) => sqlite.read_blocking(read),
            Engine::SqliteMemory(_) | Engine::Postgres(_) => None,
        }
    }

    /// Runs `read`, a read of one row by its key, synchronously and inline on a SQLite
    /// file's own connections (see [`sqlite::SqliteFile::read_point`]); `None` as for
    /// [`Engine::read_blocking`].
    pub(crate) fn read_point<T>(
        &self,
        read: impl Fn(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        match self {
            Engine::SqliteFile(sqlite) => sqlite.read_point(read),
            Engine::SqliteMemory(_) | Engine::Postgres(_) => None,
        }
    }

    /// Runs `append`, which appends one audit row to `recent_invocations`, synchronously
    /// and inline on a SQLite file's synchronous write connection, if that can be done
    /// without waiting (see [`sqlite::SqliteFile::append_audit_now`]). `None` otherwise,
    /// and on engines without one: nothing was written, and the caller writes through
    /// the pool.
    pub(crate) async fn append_audit_now<T>(
        &self,
        append: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Option<Result<T>> {
        match self {
            Engine::SqliteFile(sqlite) => sqlite.append_audit_now(append).await,
            Engine::SqliteMemory(_) | Engine::Postgres(_) => None,
        }
    }

    /// Closes every connection; later calls fail.
    pub(crate) async fn close(&self) {
        match self {
            Engine::SqliteFile(sqlite) => sqlite.close_own_connections().await,
            Engine::Postgres(postgres) => postgres.direct.close().await,
            Engine::SqliteMemory(_) => {}
        }
        self.pool().close().await;
    }
}

async fn migrate(backend: Backend, pool: &AnyPool) -> Result<()> {
    backend.migrator().run(pool).await?;
    Ok(())
}

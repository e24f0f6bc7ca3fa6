//! The `Store`: connecting, migrations, transactions, and the helpers every repository
//! module shares (ids, timestamps, row decoding, cursors).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{Result, StoreError};
use crate::lookup::LookupCache;
use crate::sync_read::SyncReader;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long SQLite waits for a lock held by another connection or process.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the embedded default).
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
}

/// Options for [`Store::connect_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool; `None` picks the backend's default (SQLite 3: one
    /// writer at a time and two readers keep sqlx's per-connection threads busy instead
    /// of waking idle ones — measured faster than 8 under load; PostgreSQL 16). An in-memory SQLite database always uses one.
    /// A SQLite file also gets two direct connections outside the pool, for the
    /// statements every call makes.
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

/// The repository over SQLite or PostgreSQL. Cheap to clone (a pool handle).
///
/// Every method that reads or changes an organization's data takes the organization's id
/// and filters by it: rows of another organization are [`StoreError::NotFound`] or absent
/// from listings. The few methods that are not scoped say so (look-ups by a credential's
/// hash, which is how the organization is found, and operator-wide operations such as
/// [`Store::rewrap_secrets`]).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; writers of this process queue here instead of
    /// sleeping in SQLite's busy handler. (Other processes still meet the busy timeout.)
    writer: Option<Arc<Mutex<()>>>,
    /// SQLite files: connections outside the pool for the statements every call makes.
    direct: Option<Arc<Direct>>,
    /// SQLite files: connections for the look-up every worker call makes, run on the
    /// calling thread.
    sync_reader: Option<Arc<SyncReader>>,
    /// Recent worker look-ups, valid while the look-up version stays the same.
    pub(crate) lookups: Arc<LookupCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Store")
            .field("backend", &self.backend)
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
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let mut pool_options = AnyPoolOptions::new().acquire_timeout(options.acquire_timeout);
        let store = match backend {
            Backend::Sqlite => {
                if in_memory_sqlite(url) {
                    // Every connection would open its own empty database: keep exactly one.
                    pool_options = pool_options
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                } else {
                    prepare_sqlite_file(url).await?;
                    pool_options =
                        pool_options.max_connections(options.max_connections.unwrap_or(3));
                }
                // A SQLite connection is a file handle in this process: it cannot go stale,
                // so the pool skips the ping it would otherwise send (a round trip to the
                // connection's worker thread) before every query.
                let pool = pool_options
                    .test_before_acquire(false)
                    .after_connect(|conn, _| Box::pin(sqlite_session(conn)))
                    .connect(url)
                    .await?;
                Store {
                    pool,
                    backend,
                    writer: Some(Arc::new(Mutex::new(()))),
                    direct: None,
                    sync_reader: None,
                    lookups: Arc::default(),
                }
            }
            Backend::Postgres => {
                let pool = pool_options
                    .max_connections(options.max_connections.unwrap_or(16))
                    .connect(url)
                    .await?;
                Store {
                    pool,
                    backend,
                    writer: None,
                    direct: None,
                    sync_reader: None,
                    lookups: Arc::default(),
                }
            }
        };
        if options.migrate {
            store.migrate().await?;
        }
        let mut store = store;
        if backend == Backend::Sqlite && !in_memory_sqlite(url) {
            store.direct = Some(Arc::new(Direct::connect(url, DIRECT_CONNECTIONS).await?));
            let path = SqliteConnectOptions::from_str(url)?
                .get_filename()
                .to_owned();
            store.sync_reader = Some(Arc::new(SyncReader::open(&path)?));
        }
        Ok(store)
    }

    /// Applies the embedded migrations that have not been applied yet.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Checks that the database answers (for health checks).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        if let Some(reader) = &self.sync_reader {
            reader.close();
        }
        if let Some(direct) = &self.direct {
            direct.close().await;
        }
        self.pool.close().await;
    }

    /// Runs `query` (one statement, outside any transaction) and returns its rows, on a
    /// direct connection when the store has them, else through the pool.
    pub(crate) async fn fetch_all_direct<'q>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        match &self.direct {
            Some(direct) => {
                let mut connection = direct.get().await;
                let connection = connection.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                Ok(query.fetch_all(connection).await?)
            }
            None => Ok(query.fetch_all(&self.pool).await?),
        }
    }

    /// Runs `read` synchronously on a SQLite file's own read connection; `None` when the
    /// store has none (PostgreSQL, in-memory SQLite), is closed, or SQLite would have to
    /// wait — then the caller runs its query asynchronously instead. See [`SyncReader`].
    pub(crate) fn read_now<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Option<Result<T>> {
        self.sync_reader.as_ref()?.read(read)
    }

    /// Waits for this process's turn to write (SQLite only).
    pub(crate) async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.writer {
            Some(writer) => Some(writer.lock().await),
            None => None,
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a transaction never fails half-way on a lock upgrade.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>> {
        let writer = self.write_guard().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }
}

async fn prepare_sqlite_file(url: &str) -> Result<()> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .journal_mode(SqliteJournalMode::Wal);
    if let Some(parent) = options.get_filename().parent()
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
    Ok(())
}

fn in_memory_sqlite(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The settings of every connection to a SQLite file.
async fn sqlite_session(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    let busy_ms = SQLITE_BUSY_TIMEOUT.as_millis();
    conn.execute(&*format!("PRAGMA busy_timeout = {busy_ms}"))
        .await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    // Durable across a crash of the process (the WAL is written before a commit
    // returns); a power cut may lose the last commits, never corrupts.
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    // No memory map (`mmap_size` stays 0): a commit by another connection (every
    // audit batch) resets a connection's page cache, and with a map SQLite then
    // unmaps and maps the whole file again — page faults and TLB shoot-downs that
    // made a look-up after a commit twice as slow as reading its pages.
    Ok(())
}

/// How many direct connections a store on a SQLite file keeps.
const DIRECT_CONNECTIONS: usize = 2;

/// SQLite connections the store holds itself, outside the pool, for the single
/// statements every call makes (loading an invocation's data, the audit batch).
///
/// sqlx's pool pings a connection each time it takes one back — for SQLite a second
/// hand-off to the connection's thread after every query, from a task spawned for the
/// purpose — in case a cancelled query left it mid-transaction. A direct connection
/// only ever runs one statement at a time in autocommit mode, so there is nothing to
/// check: a cancelled query is finished or abandoned by the connection's own thread
/// before it runs the next. A SQLite connection is a file handle of this process and
/// does not go stale.
struct Direct {
    connections: Box<[Mutex<Option<AnyConnection>>]>,
    next: AtomicUsize,
}

impl Direct {
    async fn connect(url: &str, count: usize) -> Result<Direct> {
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            let mut connection = AnyConnection::connect(url).await?;
            sqlite_session(&mut connection).await?;
            connections.push(Mutex::new(Some(connection)));
        }
        Ok(Direct {
            connections: connections.into_boxed_slice(),
            next: AtomicUsize::new(0),
        })
    }

    /// A free connection, or the next one in turn when all are busy.
    async fn get(&self) -> MutexGuard<'_, Option<AnyConnection>> {
        for connection in &self.connections {
            if let Ok(guard) = connection.try_lock() {
                return guard;
            }
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[turn].lock().await
    }

    async fn close(&self) {
        for connection in &self.connections {
            if let Some(connection) = connection.lock().await.take() {
                let _ = connection.close().await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared helpers.

/// A new row id: a UUIDv7 (time-ordered) in hyphenated form.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now, at the microsecond precision the database keeps.
pub(crate) fn now() -> DateTime<Utc> {
    from_micros(Utc::now().timestamp_micros()).unwrap_or_default()
}

pub(crate) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn from_micros(value: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value)
}

pub(crate) fn json_text(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Invalid(error.to_string()))
}

/// Typed column access by name, mapping the representation of the schema (BIGINT
/// microseconds, TEXT JSON, INTEGER-or-BOOLEAN booleans) back to Rust types. For
/// [`AnyRow`], and for the rows of the synchronous SQLite reads.
pub(crate) trait RowExt {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn boolean(&self, column: &str) -> Result<bool>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        let value = self.int(column)?;
        from_micros(value)
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is out of range: {value}")))
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        match self.opt_int(column)? {
            None => Ok(None),
            Some(value) => from_micros(value)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("{column} is out of range: {value}"))),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T> {
        parse_json(column, &self.text(column)?)
    }

    fn opt_json(&self, column: &str) -> Result<Option<Value>> {
        self.opt_text(column)?
            .map(|text| parse_json(column, &text))
            .transpose()
    }
}

/// The JSON document stored in `column`.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Corrupt(format!("{column} is not valid JSON: {error}")))
}

impl RowExt for AnyRow {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.try_get(column)?)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn boolean(&self, column: &str) -> Result<bool> {
        // BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite.
        match self.try_get::<bool, _>(column) {
            Ok(value) => Ok(value),
            Err(_) => Ok(self.try_get::<i64, _>(column)? != 0),
        }
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        Ok(self.try_get(column)?)
    }
}

// ---------------------------------------------------------------------------------------
// Cursor pagination.

/// The largest page a listing returns.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Which page of a listing to return. Listings are newest first, ordered by
/// `(created_at, id)`; the cursor is the opaque `next_cursor` of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page, 1 to [`MAX_PAGE_SIZE`] (clamped).
    pub limit: u32,
    /// Where the previous page ended; `None` for the first page.
    pub cursor: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 50,
            cursor: None,
        }
    }
}

impl PageRequest {
    /// The first page, `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The page after `cursor`.
    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        Self {
            limit,
            cursor: Some(cursor.into()),
        }
    }

    pub(crate) fn clamped_limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_PAGE_SIZE))
    }

    /// The decoded cursor: `(created_at µs, id)` of the last row of the previous page.
    pub(crate) fn position(&self) -> Result<(Option<i64>, Option<String>)> {
        let Some(cursor) = &self.cursor else {
            return Ok((None, None));
        };
        let invalid = || StoreError::Invalid("malformed page cursor".to_owned());
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (created_at, id) = raw.split_once(':').ok_or_else(invalid)?;
        let created_at = created_at.parse::<i64>().map_err(|_| invalid())?;
        Ok((Some(created_at), Some(id.to_owned())))
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// The cursor for the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// Builds a page from up to `limit + 1` rows; `key` gives a row's `(created_at, id)`.
pub(crate) fn page_from<T>(
    mut items: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (DateTime<Utc>, &str),
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| {
            let (created_at, id) = key(last);
            URL_SAFE_NO_PAD.encode(format!("{}:{id}", micros(created_at)))
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Escapes `text` for a `LIKE … ESCAPE '\'` pattern and wraps it as "contains", lower-cased
/// (queries compare against `LOWER(column)`; SQLite lower-cases ASCII only).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

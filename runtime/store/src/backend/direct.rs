//! Connections the store holds itself, outside the pool, for the single statements
//! every call makes: the audit batch, and the look-up version on PostgreSQL (on a
//! SQLite file also the fallbacks of the synchronous reads).
//!
//! sqlx's pool tests a connection each time it takes one back, from a task spawned for
//! the purpose, in case a cancelled query left it mid-transaction: on PostgreSQL a
//! round trip to the server (`Sync`), on SQLite a hand-off to the connection's thread.
//! Through the pool, every statement of a call costs that test and that task as well.
//! A direct connection only ever runs one statement at a time, in autocommit mode, so
//! after a statement that ran to its end there is nothing to test.
//!
//! A statement whose caller went away half-way needs nothing either: on SQLite the
//! connection's own thread finishes or abandons it before it runs the next; on
//! PostgreSQL the connection reads what the server still had to say about it before
//! it sends the next statement (a test below checks it).
//!
//! What is tested, or replaced:
//! - A PostgreSQL connection idle long enough for a server restart or a proxy's idle
//!   timeout to have dropped it: pinged before its next use, like the pool's.
//! - A connection whose statement or ping failed as a connection (the server went
//!   away): dropped, and a new one is opened on the next use. The statement's caller
//!   sees the failure and may try again (`Store::fetch_all_read`, the audit writer).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::{Mutex, MutexGuard};

use super::sqlite::session;
use super::{Backend, PING_WHEN_IDLE_FOR};
use crate::error::{Result, StoreError};

pub(super) struct Direct {
    url: String,
    backend: Backend,
    /// How long opening a replacement connection may take.
    connect_timeout: Duration,
    connections: Box<[Mutex<Slot>]>,
    next: AtomicUsize,
}

struct Slot {
    /// `None` after a connection failure, until the next use opens another.
    connection: Option<AnyConnection>,
    /// When the connection last answered.
    answered: Instant,
    closed: bool,
}

impl Direct {
    /// Opens `count` connections to `url` (a SQLite file or a PostgreSQL server).
    pub(super) async fn connect(
        url: &str,
        backend: Backend,
        count: usize,
        connect_timeout: Duration,
    ) -> Result<Direct> {
        let mut direct = Direct {
            url: url.to_owned(),
            backend,
            connect_timeout,
            connections: Box::default(),
            next: AtomicUsize::new(0),
        };
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            connections.push(Mutex::new(Slot {
                connection: Some(direct.open().await?),
                answered: Instant::now(),
                closed: false,
            }));
        }
        direct.connections = connections.into_boxed_slice();
        Ok(direct)
    }

    /// Runs `query` (one statement, autocommit) on a free connection, or on the next one
    /// in turn when all are busy.
    pub(super) async fn fetch_all<'q>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        let mut guard = self.get().await;
        let slot = &mut *guard;
        self.ready(slot).await?;
        let Some(connection) = slot.connection.as_mut() else {
            return Err(sqlx::Error::PoolClosed.into());
        };
        let rows = query.fetch_all(connection).await;
        slot.answered = Instant::now();
        rows.map_err(|error| slot.failed(error))
    }

    /// Makes `slot` hold a connection fit for a statement: tested when it sat idle,
    /// replaced when it is gone. Cancelled half-way, the slot keeps its connection (a
    /// ping left unread is read before the next statement) or has none.
    async fn ready(&self, slot: &mut Slot) -> Result<()> {
        if slot.closed {
            return Err(sqlx::Error::PoolClosed.into());
        }
        if let Some(connection) = slot.connection.as_mut() {
            let suspect =
                self.backend == Backend::Postgres && slot.answered.elapsed() >= PING_WHEN_IDLE_FOR;
            if !suspect {
                return Ok(());
            }
            match connection.ping().await {
                Ok(()) => {
                    slot.answered = Instant::now();
                    return Ok(());
                }
                Err(error) => tracing::warn!("replacing a direct database connection: {error}"),
            }
            slot.connection = None;
        }
        slot.connection = Some(self.open().await?);
        slot.answered = Instant::now();
        Ok(())
    }

    async fn open(&self) -> Result<AnyConnection> {
        let open = async {
            let mut connection = AnyConnection::connect(&self.url).await?;
            if self.backend == Backend::Sqlite {
                session(&mut connection).await?;
            }
            Ok::<_, sqlx::Error>(connection)
        };
        match tokio::time::timeout(self.connect_timeout, open).await {
            Ok(connection) => Ok(connection?),
            Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
        }
    }

    async fn get(&self) -> MutexGuard<'_, Slot> {
        for connection in &self.connections {
            if let Ok(guard) = connection.try_lock() {
                return guard;
            }
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[turn].lock().await
    }

    pub(super) async fn close(&self) {
        for slot in &self.connections {
            let mut slot = slot.lock().await;
            slot.closed = true;
            if let Some(connection) = slot.connection.take() {
                let _ = connection.close().await;
            }
        }
    }
}

impl Slot {
    /// `error` from the connection's statement; a connection failure also drops the
    /// connection, so that the next use opens another.
    fn failed(&mut self, error: sqlx::Error) -> StoreError {
        let error = StoreError::from(error);
        if error.is_connection_failure() {
            self.connection = None;
        }
        error
    }
}

#[cfg(test)]
mod tests {
    //! Against a real PostgreSQL server (`WARDEN_TEST_POSTGRES_URL`; skipped when
    //! unset): the states a connection held outside the pool must come back from.

    use super::*;
    use crate::row::RowExt;
    use sqlx::{Executor, PgConnection};

    async fn direct() -> Option<(Direct, String)> {
        let Ok(url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
            eprintln!("WARDEN_TEST_POSTGRES_URL is not set: the direct connection test is SKIPPED");
            return None;
        };
        sqlx::any::install_default_drivers();
        let direct = Direct::connect(&url, Backend::Postgres, 1, Duration::from_secs(10))
            .await
            .unwrap();
        Some((direct, url))
    }

    async fn text(direct: &Direct, sql: &'static str) -> Result<String> {
        let rows = direct.fetch_all(sqlx::query(sql)).await?;
        rows[0].text("x")
    }

    /// The server process serving the connection.
    async fn backend(direct: &Direct) -> Result<String> {
        text(direct, "SELECT pg_backend_pid()::text AS x").await
    }

    async fn terminate(admin: &mut PgConnection, pid: &str) {
        admin
            .execute(&*format!("SELECT pg_terminate_backend({pid})"))
            .await
            .unwrap();
    }

    /// A statement whose caller went away leaves its answer on the connection: the
    /// next statement must get its own answer, not that one.
    #[tokio::test]
    async fn a_statement_abandoned_half_way_does_not_answer_the_next() {
        let Some((direct, _)) = direct().await else {
            return;
        };
        for _ in 0..3 {
            let abandoned = tokio::time::timeout(
                Duration::from_millis(50),
                text(&direct, "SELECT 'first' AS x FROM pg_sleep(0.3)"),
            )
            .await;
            assert!(
                abandoned.is_err(),
                "the slow statement ended: {abandoned:?}"
            );
            assert_eq!(
                text(&direct, "SELECT 'second' AS x").await.unwrap(),
                "second"
            );
        }
        direct.close().await;
    }

    /// A connection the server dropped fails the statement it was given once, as a
    /// connection failure (the caller may try again), and is then replaced; one that
    /// sat idle long enough is tested before use and replaced without failing anything.
    #[tokio::test]
    async fn a_dropped_connection_is_replaced() {
        let Some((direct, url)) = direct().await else {
            return;
        };
        let mut admin = PgConnection::connect(&url).await.unwrap();

        let first = backend(&direct).await.unwrap();
        terminate(&mut admin, &first).await;
        let failed = backend(&direct).await.unwrap_err();
        assert!(failed.is_connection_failure(), "{failed:?}");
        let second = backend(&direct).await.unwrap();
        assert_ne!(first, second);

        terminate(&mut admin, &second).await;
        tokio::time::sleep(PING_WHEN_IDLE_FOR + Duration::from_millis(100)).await;
        let third = backend(&direct).await.unwrap();
        assert_ne!(second, third);

        direct.close().await;
        let closed = backend(&direct).await.unwrap_err();
        assert!(
            matches!(closed, StoreError::Database(sqlx::Error::PoolClosed)),
            "{closed:?}"
        );
        admin.close().await.ok();
    }
}

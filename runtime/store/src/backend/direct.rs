//! SQLite connections the store holds itself, outside the pool, for the single
//! statements every call makes (loading an invocation's data, the audit batch).
//!
//! sqlx's pool pings a connection each time it takes one back — for SQLite a second
//! hand-off to the connection's thread after every query, from a task spawned for the
//! purpose — in case a cancelled query left it mid-transaction. A direct connection
//! only ever runs one statement at a time in autocommit mode, so there is nothing to
//! check: a cancelled query is finished or abandoned by the connection's own thread
//! before it runs the next. A SQLite connection is a file handle of this process and
//! does not go stale.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::{Mutex, MutexGuard};

use super::sqlite::session;
use crate::error::Result;

pub(super) struct Direct {
    /// `None` once closed.
    connections: Box<[Mutex<Option<AnyConnection>>]>,
    next: AtomicUsize,
}

impl Direct {
    pub(super) async fn connect(url: &str, count: usize) -> Result<Direct> {
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            let mut connection = AnyConnection::connect(url).await?;
            session(&mut connection).await?;
            connections.push(Mutex::new(Some(connection)));
        }
        Ok(Direct {
            connections: connections.into_boxed_slice(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `query` (one statement, autocommit) on a free connection, or on the next one
    /// in turn when all are busy.
    pub(super) async fn fetch_all<'q>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Vec<AnyRow>> {
        let mut connection = self.get().await;
        let connection = connection.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        Ok(query.fetch_all(connection).await?)
    }

    async fn get(&self) -> MutexGuard<'_, Option<AnyConnection>> {
        for connection in &self.connections {
            if let Ok(guard) = connection.try_lock() {
                return guard;
            }
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[turn].lock().await
    }

    pub(super) async fn close(&self) {
        for connection in &self.connections {
            if let Some(connection) = connection.lock().await.take() {
                let _ = connection.close().await;
            }
        }
    }
}

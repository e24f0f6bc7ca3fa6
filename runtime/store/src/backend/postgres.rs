//! PostgreSQL (scale-out): a pool.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection as _};

use super::{Backend, migrate};
use crate::StoreOptions;
use crate::error::Result;

/// Most pool connections unless [`StoreOptions::max_connections`] says otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How long a pooled connection may sit idle before it is pinged on its next use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// A PostgreSQL server.
pub(crate) struct Postgres {
    pub(super) pool: AnyPool,
}

impl Postgres {
    pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<Postgres> {
        let pool = AnyPoolOptions::new()
            .acquire_timeout(options.acquire_timeout)
            .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS))
            // No ping before every use: it is a round trip of its own, and a call
            // makes two queries. Only a connection that sat idle for a while, which
            // a server restart or a proxy's idle timeout may have dropped meanwhile,
            // is pinged (and replaced if it is gone). One dropped while busy fails
            // its next query and leaves the pool; the per-call look-up retries on
            // another (`Store::lookup_version`), and the audit writer writes a
            // failed batch again row by row.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        if options.migrate {
            migrate(Backend::Postgres, &pool).await?;
        }
        Ok(Postgres { pool })
    }
}

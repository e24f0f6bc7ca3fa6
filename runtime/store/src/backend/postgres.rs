//! PostgreSQL (scale-out): a pool, and two direct connections for the statements
//! every call makes.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection as _};

use super::direct::Direct;
use super::{Backend, PING_WHEN_IDLE_FOR, migrate};
use crate::StoreOptions;
use crate::error::Result;

/// Most pool connections unless [`StoreOptions::max_connections`] says otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How many direct connections a store on PostgreSQL keeps: the per-call statements
/// run one at a time each (the look-up version reads are shared, `lookup/version.rs`;
/// the audit writer writes one batch at a time), so one for each.
const DIRECT_CONNECTIONS: usize = 2;

/// A PostgreSQL server.
pub(crate) struct Postgres {
    pub(super) pool: AnyPool,
    /// Connections outside the pool for the statements every call makes.
    pub(super) direct: Direct,
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
        let direct = Direct::connect(
            url,
            Backend::Postgres,
            DIRECT_CONNECTIONS,
            options.acquire_timeout,
        )
        .await?;
        Ok(Postgres { pool, direct })
    }
}

//! PostgreSQL (scale-out): a pool.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::{Backend, migrate};
use crate::StoreOptions;
use crate::error::Result;

/// Most pool connections unless [`StoreOptions::max_connections`] says otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// A PostgreSQL server.
pub(crate) struct Postgres {
    pub(super) pool: AnyPool,
}

impl Postgres {
    pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<Postgres> {
        let pool = AnyPoolOptions::new()
            .acquire_timeout(options.acquire_timeout)
            .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS))
            .connect(url)
            .await?;
        if options.migrate {
            migrate(Backend::Postgres, &pool).await?;
        }
        Ok(Postgres { pool })
    }
}

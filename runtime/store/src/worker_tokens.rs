//! Worker tokens: the credentials LiveKit agent workers present to the worker plane.
//!
//! Operator-level, like platform tools: the operator creates, lists and revokes worker
//! tokens, so none of these methods is scoped to an organization. A token may be limited
//! to one organization ([`WorkerToken::organization_id`]); the worker plane's look-ups
//! then find only that organization's agents. They live in their own table, apart from
//! organizations' API keys, so a hash of one kind never finds a row of the other.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError, map_db};
use crate::row::{RowExt, micros, new_id, now};
use crate::store::Store;

/// A worker token's row. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerToken {
    /// UUIDv7.
    pub id: String,
    /// A label chosen by the operator.
    pub name: String,
    /// The token's first characters, for recognising it in a listing.
    pub prefix: String,
    /// SHA-256 of the token, lower-case hex.
    pub token_hash: String,
    /// The one organization whose agents the token reaches; `None`: every organization's.
    pub organization_id: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last used to authenticate, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked; a revoked token no longer authenticates.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new worker token: the caller generates the token, shows it once, and stores its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorkerToken {
    /// A label.
    pub name: String,
    /// The token's first characters (not enough to use it).
    pub prefix: String,
    /// SHA-256 of the whole token, lower-case hex.
    pub token_hash: String,
    /// Limits the token to this organization's agents; `None`: every organization's.
    pub organization_id: Option<String>,
}

const WORKER_TOKEN_COLUMNS: &str =
    "id, name, prefix, token_hash, organization_id, created_at, last_used_at, revoked_at";

fn worker_token(row: &AnyRow) -> Result<WorkerToken> {
    Ok(WorkerToken {
        id: row.text("id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        token_hash: row.text("token_hash")?,
        organization_id: row.opt_text("organization_id")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

impl Store {
    /// Stores a new worker token. A hash already stored is a [`StoreError::Conflict`]; an
    /// unknown [`NewWorkerToken::organization_id`] is [`StoreError::NotFound`]`("organization")`
    /// (checked by its foreign key), and nothing is stored.
    pub async fn create_worker_token(&self, token: &NewWorkerToken) -> Result<WorkerToken> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "INSERT INTO worker_tokens (id, name, prefix, token_hash, organization_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {WORKER_TOKEN_COLUMNS}"
        ))
        .bind(new_id())
        .bind(&token.name)
        .bind(&token.prefix)
        .bind(&token.token_hash)
        .bind(token.organization_id.as_deref())
        .bind(micros(now()))
        .fetch_one(self.pool())
        .await
        .map_err(map_db("worker token", "organization"))?;
        worker_token(&row)
    }

    /// The unrevoked worker token whose SHA-256 is `token_hash`; unknown and revoked
    /// tokens are [`StoreError::NotFound`] alike. Compare the presented token's hash in
    /// constant time before trusting the row.
    pub async fn active_worker_token_by_hash(&self, token_hash: &str) -> Result<WorkerToken> {
        let row = sqlx::query(&format!(
            "SELECT {WORKER_TOKEN_COLUMNS} FROM worker_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("worker token"))?;
        worker_token(&row)
    }

    /// Every worker token, revoked ones included, newest first (operator-wide).
    pub async fn list_worker_tokens(&self) -> Result<Vec<WorkerToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {WORKER_TOKEN_COLUMNS} FROM worker_tokens ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(worker_token).collect()
    }

    /// Records that the worker token `id` was just used.
    pub async fn touch_worker_token(&self, id: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query("UPDATE worker_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(micros(now()))
            .bind(id)
            .execute(self.pool())
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("worker token"));
        }
        Ok(())
    }

    /// Revokes the worker token `id` (idempotent: a revoked token keeps its first
    /// `revoked_at`).
    pub async fn revoke_worker_token(&self, id: &str) -> Result<WorkerToken> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE worker_tokens SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE id = $2 RETURNING {WORKER_TOKEN_COLUMNS}"
        ))
        .bind(micros(now()))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("worker token"))?;
        worker_token(&row)
    }
}

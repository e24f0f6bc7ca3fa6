//! Console sign-ins (`console_sessions`): a session acts for the API key that signed in,
//! is found by its token's hash, and ends when it expires, when it is signed out, or when
//! the key is revoked.

use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError, map_db};
use crate::row::{RowExt, micros, now};
use crate::store::Store;

/// Most expired rows one [`Store::create_console_session`] deletes.
pub const CONSOLE_SESSION_PRUNE_BATCH: i64 = 100;

/// A console session (no token in it: only the token's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the session token, lower-case hex.
    pub session_hash: String,
    /// The organization it acts for.
    pub organization_id: String,
    /// The API key that signed in.
    pub api_key_id: String,
    /// When it was signed in.
    pub created_at: DateTime<Utc>,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Records a sign-in. The key must be the organization's and not revoked
    /// ([`StoreError::NotFound`] otherwise). A key keeps at most `max_per_key` live
    /// sessions: the oldest beyond that are ended. Also deletes up to
    /// [`CONSOLE_SESSION_PRUNE_BATCH`] expired rows.
    pub async fn create_console_session(
        &self,
        session: &ConsoleSession,
        max_per_key: i64,
    ) -> Result<()> {
        let _writer = self.write_guard().await;
        let at = micros(now());
        sqlx::query(
            "DELETE FROM console_sessions WHERE session_hash IN \
             (SELECT session_hash FROM console_sessions WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(at)
        .bind(CONSOLE_SESSION_PRUNE_BATCH)
        .execute(self.pool())
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO console_sessions (session_hash, organization_id, api_key_id, \
             created_at, expires_at) \
             SELECT $1, k.organization_id, k.id, $4, $5 FROM api_keys k \
             WHERE k.id = $3 AND k.organization_id = $2 AND k.revoked_at IS NULL",
        )
        .bind(&session.session_hash)
        .bind(&session.organization_id)
        .bind(&session.api_key_id)
        .bind(micros(session.created_at))
        .bind(micros(session.expires_at))
        .execute(self.pool())
        .await
        .map_err(map_db("console session", "api key"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound("api key"));
        }
        // The key's newest `max_per_key` sessions stay; older ones end.
        sqlx::query(
            "DELETE FROM console_sessions WHERE api_key_id = $1 AND session_hash NOT IN \
             (SELECT session_hash FROM console_sessions WHERE api_key_id = $1 \
              ORDER BY created_at DESC, session_hash DESC LIMIT $2)",
        )
        .bind(&session.api_key_id)
        .bind(max_per_key.max(1))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live session whose token hashes to `session_hash`: not expired, and its key
    /// not revoked.
    pub async fn console_session(&self, session_hash: &str) -> Result<Option<ConsoleSession>> {
        let row = sqlx::query(
            "SELECT s.session_hash, s.organization_id, s.api_key_id, s.created_at, \
             s.expires_at FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id \
             WHERE s.session_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
        )
        .bind(session_hash)
        .bind(micros(now()))
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(ConsoleSession {
                session_hash: row.text("session_hash")?,
                organization_id: row.text("organization_id")?,
                api_key_id: row.text("api_key_id")?,
                created_at: row.time("created_at")?,
                expires_at: row.time("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends a session (signing out). Ending one that is not there is not an error.
    pub async fn delete_console_session(&self, session_hash: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        sqlx::query("DELETE FROM console_sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

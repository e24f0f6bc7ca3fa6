//! Connecting an account through OAuth2 (`oauth_states`): the attempts an organization
//! started and the provider has not yet sent back, each found by its state's hash and
//! taken once.

use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError, map_db};
use crate::row::{RowExt, micros, now};
use crate::store::Store;

/// Most expired rows one [`Store::create_oauth_state`] deletes.
pub const OAUTH_STATE_PRUNE_BATCH: i64 = 100;

/// An attempt to connect an account, as started.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// SHA-256 of the state, lower-case hex.
    pub state_hash: String,
    /// The organization that started it.
    pub organization_id: String,
    /// The tool whose account it connects.
    pub tool_id: String,
    /// The redirect URI the authorization request named.
    pub redirect_uri: String,
    /// The PKCE verifier of this attempt.
    pub code_verifier: String,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the browser binding, when it was started from the console:
    /// the callback must bring the value.
    pub browser_hash: Option<String>,
}

impl std::fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthState")
            .field("organization_id", &self.organization_id)
            .field("tool_id", &self.tool_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("expires_at", &self.expires_at)
            .field("browser_bound", &self.browser_hash.is_some())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Records a started attempt, unless the organization already has `max_live`
    /// attempts that have not expired ([`StoreError::Conflict`]). The tool must be
    /// one the organization can use. Also deletes up to [`OAUTH_STATE_PRUNE_BATCH`]
    /// expired rows.
    pub async fn create_oauth_state(&self, state: &OAuthState, max_live: i64) -> Result<()> {
        let _writer = self.write_guard().await;
        let at = micros(now());
        sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash IN \
             (SELECT state_hash FROM oauth_states WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(at)
        .bind(OAUTH_STATE_PRUNE_BATCH)
        .execute(self.pool())
        .await?;
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM oauth_states WHERE organization_id = $1 AND expires_at >= $2",
        )
        .bind(&state.organization_id)
        .bind(at)
        .fetch_one(self.pool())
        .await?;
        if live >= max_live {
            return Err(StoreError::Conflict(format!(
                "{max_live} connections are already waiting for their provider; \
                 finish or let them expire first"
            )));
        }
        // Only a tool the organization can use: the platform's or its own.
        let inserted = sqlx::query(
            "INSERT INTO oauth_states (state_hash, organization_id, tool_id, redirect_uri, \
             code_verifier, created_at, expires_at, browser_hash) \
             SELECT $1, $2, t.id, $4, $5, $6, $7, $8 FROM platform_tools t \
             WHERE t.id = $3 AND (t.organization_id IS NULL OR t.organization_id = $2)",
        )
        .bind(&state.state_hash)
        .bind(&state.organization_id)
        .bind(&state.tool_id)
        .bind(&state.redirect_uri)
        .bind(&state.code_verifier)
        .bind(micros(state.created_at))
        .bind(micros(state.expires_at))
        .bind(state.browser_hash.as_deref())
        .execute(self.pool())
        .await
        .map_err(map_db("OAuth state", "organization"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound("tool"));
        }
        Ok(())
    }

    /// Takes the attempt whose state hashes to `state_hash`: returns it and deletes
    /// it, so it can be taken once. An expired attempt is deleted and not returned.
    pub async fn take_oauth_state(&self, state_hash: &str) -> Result<Option<OAuthState>> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash = $1 RETURNING state_hash, \
             organization_id, tool_id, redirect_uri, code_verifier, created_at, expires_at, \
             browser_hash",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state = OAuthState {
            state_hash: row.text("state_hash")?,
            organization_id: row.text("organization_id")?,
            tool_id: row.text("tool_id")?,
            redirect_uri: row.text("redirect_uri")?,
            code_verifier: row.text("code_verifier")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
            browser_hash: row.opt_text("browser_hash")?,
        };
        Ok((state.expires_at > now()).then_some(state))
    }
}

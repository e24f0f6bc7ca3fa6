//! LiveKit webhook events already applied (`webhook_events`), so that a validly signed
//! webhook sent again (a replay, or a retry of one that was applied) changes nothing.
//!
//! Operator-level: LiveKit's event ids belong to no organization, and only a webhook
//! LiveKit signed (verified before the store is asked) records one.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::row::{micros, now};
use crate::store::Store;

/// Most expired rows one [`Store::claim_webhook_event`] deletes. Every claim adds at most
/// one row and deletes up to this many whose time has passed, so the table holds little
/// more than the events whose tokens could still be replayed.
pub const WEBHOOK_EVENT_PRUNE_BATCH: i64 = 100;

impl Store {
    /// Records that the webhook event `id` is about to be applied: `true` when this call
    /// recorded it (apply the event), `false` when it was recorded already (a replay:
    /// change nothing). Of concurrent claims of one id exactly one is `true`: the row's
    /// insert is a single `INSERT … ON CONFLICT DO NOTHING`.
    ///
    /// `keep_until` is when no request carrying the event can be accepted any more (its
    /// token has expired); the row is kept until then. A replay with a later
    /// `keep_until` (a retry signed afresh) extends it. Each claim also deletes up to
    /// [`WEBHOOK_EVENT_PRUNE_BATCH`] rows whose `keep_until` has passed.
    ///
    /// Not scoped by organization: LiveKit's event ids are global.
    pub async fn claim_webhook_event(&self, id: &str, keep_until: DateTime<Utc>) -> Result<bool> {
        let received_at = now();
        let _writer = self.write_guard().await;
        // Both databases accept DELETE with a sub-select (neither takes DELETE … LIMIT
        // as standard); the index on keep_until keeps it to the expired rows.
        sqlx::query(
            "DELETE FROM webhook_events WHERE id IN \
             (SELECT id FROM webhook_events WHERE keep_until < $1 LIMIT $2)",
        )
        .bind(micros(received_at))
        .bind(WEBHOOK_EVENT_PRUNE_BATCH)
        .execute(self.pool())
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_events (id, received_at, keep_until) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(micros(received_at))
        .bind(micros(keep_until))
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        sqlx::query("UPDATE webhook_events SET keep_until = $1 WHERE id = $2 AND keep_until < $1")
            .bind(micros(keep_until))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(false)
    }

    /// Forgets the claim of the webhook event `id`, for an event whose application
    /// failed: LiveKit's retry of it is then applied rather than taken for a replay.
    pub async fn release_webhook_event(&self, id: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        sqlx::query("DELETE FROM webhook_events WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

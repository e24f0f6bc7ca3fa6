//! Exactly-once calls (`call_outcomes`): the claim a call takes before its tool runs,
//! and the sealed outcome a retry gets back instead of running the tool again.
//!
//! A row is keyed by (agent, function, call id). The first request inserts it as
//! `running` under a random claim token; the run then records its outcome (`done`) or
//! releases the row when the tool never started. Every other request with the key
//! finds the row and is told what it is: a replay of a recorded outcome, a call still
//! running, or a reuse of the call id with other arguments. A row whose lease ran out
//! while `running` (its replica stopped) or whose expiry passed is taken over by the
//! next claim, atomically, so that only one request runs the call again.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::row::{RowExt, micros, now};
use crate::sealed::{CallKey, KeyRing, SealedSecret};
use crate::store::Store;

/// Most expired rows one [`Store::claim_call`] deletes, as for webhook events: every
/// claim adds at most one row, so the table holds little more than its live rows.
pub const CALL_OUTCOME_PRUNE_BATCH: i64 = 100;

/// How much of its recorded outcomes one organization keeps: past either bound, the
/// recording of a new outcome deletes the organization's oldest ones (those a retry is
/// least likely to want) until both hold again. The newest outcome is always kept.
///
/// Without it, one organization's stream of exactly-once calls, each outcome up to the
/// 1 MiB result limit and kept for the outcomes' lifetime, could fill the disk that
/// every organization's data shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeBudget {
    /// Recorded outcomes at most.
    pub outcomes: u64,
    /// Sealed bytes at most, all outcomes together.
    pub bytes: u64,
}

impl Default for OutcomeBudget {
    /// 10,000 outcomes and 64 MiB: hours of a busy organization's exactly-once calls
    /// (a retry comes within seconds or minutes), and a bounded scan when one is
    /// recorded.
    fn default() -> Self {
        OutcomeBudget {
            outcomes: 10_000,
            bytes: 64 << 20,
        }
    }
}

/// What [`Store::complete_call`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// Whether the outcome was recorded: `false` when the claim was no longer the run's
    /// (its lease ran out and another request took the call over), and nothing changed.
    pub recorded: bool,
    /// The organization's oldest outcomes deleted to keep it within its
    /// [`OutcomeBudget`].
    pub evicted: u64,
}

/// Rounds of insert-or-take-over one claim tries before it answers
/// [`CallClaim::Running`]: each round loses only to another request that claimed the
/// same call in between.
const CLAIM_ROUNDS: usize = 4;

/// A claim's terms: what the arguments were, and how long the claim and the row last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTerms<'a> {
    /// What a repeat must match (the arguments in canonical form, and the call
    /// session), hashed: SHA-256, lower-case hex.
    pub arguments_hash: &'a str,
    /// Until when the claim holds while the call runs.
    pub lease_until: DateTime<Utc>,
    /// When the row stops counting.
    pub expires_at: DateTime<Utc>,
}

/// What [`Store::claim_call`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallClaim {
    /// The call is this request's to run; complete or release it with this token.
    Run(String),
    /// The call ran and its outcome is recorded: answer with it.
    Done(RecordedOutcome),
    /// Another request is running the call now.
    Running,
    /// The call id was used with other arguments.
    Reused,
}

/// A recorded outcome, still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOutcome {
    /// The audit row of the run that recorded it.
    pub invocation_id: String,
    /// The outcome, sealed for the call ([`KeyRing::open_outcome`]).
    pub sealed: SealedSecret,
}

struct Found {
    arguments_hash: String,
    claim: String,
    done: bool,
    lease_until: i64,
    expires_at: i64,
    invocation_id: Option<String>,
    sealed: Option<Vec<u8>>,
}

fn found(row: &AnyRow) -> Result<Found> {
    let state = row.text("state")?;
    let sealed = if state == "done" {
        Some(row.bytes("sealed")?)
    } else {
        None
    };
    Ok(Found {
        arguments_hash: row.text("arguments_hash")?,
        claim: row.text("claim")?,
        done: match state.as_str() {
            "running" => false,
            "done" => true,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown call outcome state {other:?}"
                )));
            }
        },
        lease_until: row.int("lease_until")?,
        expires_at: row.int("expires_at")?,
        invocation_id: row.opt_text("invocation_id")?,
        sealed,
    })
}

fn claim_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Seal(crate::SealError::Random(e)))?;
    Ok(hex::encode(bytes))
}

impl Store {
    /// Claims the call `key` for a run with `terms`, or says why not (see [`CallClaim`]).
    ///
    /// Of concurrent claims of one call exactly one gets [`CallClaim::Run`]: the row's
    /// insert is a single `INSERT … ON CONFLICT DO NOTHING`, and taking over a row whose
    /// lease or expiry has passed is an `UPDATE` conditional on the claim it replaces.
    /// The agent must be the organization's ([`StoreError::NotFound`] otherwise). Each
    /// claim also deletes up to [`CALL_OUTCOME_PRUNE_BATCH`] expired rows.
    pub async fn claim_call(&self, key: &CallKey<'_>, terms: &ClaimTerms<'_>) -> Result<CallClaim> {
        let token = claim_token()?;
        let _writer = self.write_guard().await;
        let at = micros(now());
        sqlx::query(
            "DELETE FROM call_outcomes WHERE (agent_id, function, call_id) IN \
             (SELECT agent_id, function, call_id FROM call_outcomes \
              WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(at)
        .bind(CALL_OUTCOME_PRUNE_BATCH)
        .execute(self.pool())
        .await?;
        for _ in 0..CLAIM_ROUNDS {
            // Inserted only for the organization's own agent.
            let inserted = sqlx::query(
                "INSERT INTO call_outcomes (organization_id, agent_id, function, call_id, \
                 arguments_hash, claim, state, lease_until, created_at, expires_at) \
                 SELECT $1, a.id, $3, $4, $5, $6, 'running', $7, $8, $9 \
                 FROM voice_agents a WHERE a.id = $2 AND a.organization_id = $1 \
                 ON CONFLICT (agent_id, function, call_id) DO NOTHING",
            )
            .bind(key.organization_id)
            .bind(key.agent_id)
            .bind(key.function)
            .bind(key.call_id)
            .bind(terms.arguments_hash)
            .bind(&token)
            .bind(micros(terms.lease_until))
            .bind(at)
            .bind(micros(terms.expires_at))
            .execute(self.pool())
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(CallClaim::Run(token));
            }
            let row = sqlx::query(
                "SELECT arguments_hash, claim, state, lease_until, expires_at, \
                 invocation_id, sealed FROM call_outcomes \
                 WHERE agent_id = $1 AND function = $2 AND call_id = $3 \
                 AND organization_id = $4",
            )
            .bind(key.agent_id)
            .bind(key.function)
            .bind(key.call_id)
            .bind(key.organization_id)
            .fetch_optional(self.pool())
            .await?;
            let Some(row) = row else {
                // Not inserted and not there: the agent is not the organization's,
                // or the row went between the two statements (try again).
                if !self.agent_exists(key).await? {
                    return Err(StoreError::NotFound("agent"));
                }
                continue;
            };
            let existing = found(&row)?;
            let stale = existing.expires_at <= at || (!existing.done && existing.lease_until <= at);
            if stale {
                let taken = sqlx::query(
                    "UPDATE call_outcomes SET arguments_hash = $1, claim = $2, \
                     state = 'running', lease_until = $3, invocation_id = NULL, \
                     sealed = NULL, key_id = NULL, created_at = $4, expires_at = $5 \
                     WHERE agent_id = $6 AND function = $7 AND call_id = $8 AND claim = $9",
                )
                .bind(terms.arguments_hash)
                .bind(&token)
                .bind(micros(terms.lease_until))
                .bind(at)
                .bind(micros(terms.expires_at))
                .bind(key.agent_id)
                .bind(key.function)
                .bind(key.call_id)
                .bind(&existing.claim)
                .execute(self.pool())
                .await?;
                if taken.rows_affected() == 1 {
                    return Ok(CallClaim::Run(token));
                }
                continue;
            }
            if existing.arguments_hash != terms.arguments_hash {
                return Ok(CallClaim::Reused);
            }
            if !existing.done {
                return Ok(CallClaim::Running);
            }
            let (Some(invocation_id), Some(sealed)) = (existing.invocation_id, existing.sealed)
            else {
                return Err(StoreError::Corrupt(
                    "a recorded call outcome without its record".to_owned(),
                ));
            };
            return Ok(CallClaim::Done(RecordedOutcome {
                invocation_id,
                sealed: SealedSecret::from_bytes(sealed)?,
            }));
        }
        Ok(CallClaim::Running)
    }

    async fn agent_exists(&self, key: &CallKey<'_>) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM voice_agents WHERE id = $1 AND organization_id = $2",
        )
        .bind(key.agent_id)
        .bind(key.organization_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Records the outcome of the run holding `claim`, then keeps the organization within
    /// `budget` (see [`OutcomeBudget`]). Nothing changes when the claim is no longer this
    /// run's (its lease ran out and another request took the call over).
    pub async fn complete_call(
        &self,
        key: &CallKey<'_>,
        claim: &str,
        invocation_id: &str,
        sealed: &SealedSecret,
        budget: OutcomeBudget,
    ) -> Result<Completed> {
        let _writer = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE call_outcomes SET state = 'done', invocation_id = $1, sealed = $2, \
             key_id = $3 WHERE agent_id = $4 AND function = $5 AND call_id = $6 \
             AND organization_id = $7 AND claim = $8 AND state = 'running'",
        )
        .bind(invocation_id)
        .bind(sealed.as_bytes())
        .bind(sealed.key_id())
        .bind(key.agent_id)
        .bind(key.function)
        .bind(key.call_id)
        .bind(key.organization_id)
        .bind(claim)
        .execute(self.pool())
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(Completed {
                recorded: false,
                evicted: 0,
            });
        }
        let evicted = self.keep_within(key.organization_id, budget).await?;
        Ok(Completed {
            recorded: true,
            evicted,
        })
    }

    /// Deletes `organization_id`'s oldest recorded outcomes past `budget`; how many.
    ///
    /// Each recording leaves the organization within its budget (or with its newest
    /// outcome alone), so the scans here cover at most the budget's outcomes and the one
    /// just recorded, plus its calls running.
    async fn keep_within(&self, organization_id: &str, budget: OutcomeBudget) -> Result<u64> {
        let held = sqlx::query(
            "SELECT count(*) AS outcomes, COALESCE(sum(length(sealed)), 0) AS bytes \
             FROM call_outcomes WHERE organization_id = $1 AND state = 'done'",
        )
        .bind(organization_id)
        .fetch_one(self.pool())
        .await?;
        let (outcomes, bytes) = (held.int("outcomes")?, held.int("bytes")?);
        let limit = |bound: u64| i64::try_from(bound).unwrap_or(i64::MAX);
        if outcomes <= limit(budget.outcomes) && bytes <= limit(budget.bytes) {
            return Ok(0);
        }
        // Newest first, each row with its rank and the bytes of it and every newer one:
        // past the newest, a row goes once either bound is passed.
        let evicted = sqlx::query(
            "DELETE FROM call_outcomes WHERE organization_id = $1 \
             AND (agent_id, function, call_id) IN (\
               SELECT agent_id, function, call_id FROM (\
                 SELECT agent_id, function, call_id, \
                   row_number() OVER newest AS nth, sum(length(sealed)) OVER newest AS upto \
                 FROM call_outcomes WHERE organization_id = $1 AND state = 'done' \
                 WINDOW newest AS (ORDER BY created_at DESC, agent_id DESC, function DESC, \
                   call_id DESC)\
               ) ranked WHERE nth > 1 AND (nth > $2 OR upto > $3))",
        )
        .bind(organization_id)
        .bind(limit(budget.outcomes))
        .bind(limit(budget.bytes))
        .execute(self.pool())
        .await?;
        Ok(evicted.rows_affected())
    }

    /// Gives up the claim `claim` on the call, for a run whose tool never started (its
    /// arguments were refused, no instance was free): the next request runs the call.
    pub async fn release_call(&self, key: &CallKey<'_>, claim: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        sqlx::query(
            "DELETE FROM call_outcomes WHERE agent_id = $1 AND function = $2 \
             AND call_id = $3 AND organization_id = $4 AND claim = $5 AND state = 'running'",
        )
        .bind(key.agent_id)
        .bind(key.function)
        .bind(key.call_id)
        .bind(key.organization_id)
        .bind(claim)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Re-seals under the ring's primary key every recorded outcome sealed under another
    /// key, within the transaction `tx`; how many.
    pub(crate) async fn rewrap_call_outcomes(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        keys: &KeyRing,
    ) -> Result<u64> {
        let rows = sqlx::query(
            "SELECT organization_id, agent_id, function, call_id, sealed FROM call_outcomes \
             WHERE state = 'done' AND key_id <> $1 ORDER BY agent_id, function, call_id",
        )
        .bind(keys.primary_key_id())
        .fetch_all(&mut **tx)
        .await?;
        let mut rewrapped = 0;
        for row in &rows {
            let (organization_id, agent_id, function, call_id) = (
                row.text("organization_id")?,
                row.text("agent_id")?,
                row.text("function")?,
                row.text("call_id")?,
            );
            let key = CallKey {
                organization_id: &organization_id,
                agent_id: &agent_id,
                function: &function,
                call_id: &call_id,
            };
            let old = row.bytes("sealed")?;
            let value = keys.open_outcome(&key, &SealedSecret::from_bytes(old.clone())?)?;
            let resealed = keys.seal_outcome(&key, &value)?;
            let result = sqlx::query(
                "UPDATE call_outcomes SET sealed = $1, key_id = $2 WHERE agent_id = $3 \
                 AND function = $4 AND call_id = $5 AND sealed = $6",
            )
            .bind(resealed.as_bytes())
            .bind(resealed.key_id())
            .bind(&agent_id)
            .bind(&function)
            .bind(&call_id)
            .bind(old)
            .execute(&mut **tx)
            .await?;
            rewrapped += result.rows_affected();
        }
        Ok(rewrapped)
    }
}

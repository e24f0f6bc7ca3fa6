//! LiveKit call sessions (`call_sessions`): one row per call, with the hash of the
//! short-lived MCP token minted for it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Result, StoreError, map_db};
use crate::page::{Page, PageRequest, page_from};
use crate::row::{RowExt, json_text, micros, new_id, now};
use crate::store::Store;

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// The caller dialled in.
    Inbound,
    /// The agent dialled out.
    Outbound,
}

impl CallDirection {
    /// The stored form: `inbound` or `outbound`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
        }
    }
}

impl fmt::Display for CallDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallDirection {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "inbound" => Ok(CallDirection::Inbound),
            "outbound" => Ok(CallDirection::Outbound),
            other => Err(StoreError::Corrupt(format!(
                "unknown call direction {other:?}"
            ))),
        }
    }
}

/// A call session.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSession {
    /// UUIDv7.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The agent taking the call (the organization's).
    pub agent_id: String,
    /// The LiveKit room.
    pub room_name: String,
    /// The other party's number, for phone calls.
    pub phone_number: Option<String>,
    /// The agent's own number on the call (the SIP trunk's), where known.
    pub agent_number: Option<String>,
    /// Who placed the call.
    pub direction: CallDirection,
    /// The session's state (`created`, `active`, `ended`, … as the LiveKit layer defines).
    pub status: String,
    /// SHA-256 of the session's MCP token, lower-case hex.
    pub token_hash: Option<String>,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When the call ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Free-form JSON (room metadata, dispatch ids, …).
    pub metadata: Value,
}

/// How many expired [`Store::record_sip_numbers`] rows one insert deletes.
pub const SIP_NUMBERS_PRUNE_BATCH: i64 = 100;

/// The numbers of a SIP call, as LiveKit's SIP service reports them. They
/// are personal data: `Debug` leaves them out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SipNumbers {
    /// The other party's number (`sip.phoneNumber`).
    pub phone_number: Option<String>,
    /// The number of the trunk the call uses (`sip.trunkPhoneNumber`): the
    /// agent's own.
    pub trunk_number: Option<String>,
}

impl fmt::Debug for SipNumbers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipNumbers")
            .field("phone_number", &self.phone_number.as_ref().map(|_| "…"))
            .field("trunk_number", &self.trunk_number.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A call session to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCallSession {
    /// The agent taking the call; must be the organization's.
    pub agent_id: String,
    /// The LiveKit room.
    pub room_name: String,
    /// The other party's number.
    pub phone_number: Option<String>,
    /// The agent's own number on the call.
    pub agent_number: Option<String>,
    /// Who placed the call.
    pub direction: CallDirection,
    /// The initial state.
    pub status: String,
    /// SHA-256 of the session's MCP token (unique).
    pub token_hash: Option<String>,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Free-form JSON.
    pub metadata: Value,
}

pub(crate) const CALL_SESSION_COLUMNS: &str = "id, organization_id, agent_id, room_name, \
     phone_number, agent_number, direction, status, token_hash, expires_at, created_at, ended_at, metadata";

pub(crate) fn call_session(row: &impl RowExt) -> Result<CallSession> {
    Ok(CallSession {
        id: row.text("id")?,
        organization_id: row.text("organization_id")?,
        agent_id: row.text("agent_id")?,
        room_name: row.text("room_name")?,
        phone_number: row.opt_text("phone_number")?,
        agent_number: row.opt_text("agent_number")?,
        direction: row.text("direction")?.parse()?,
        status: row.text("status")?,
        token_hash: row.opt_text("token_hash")?,
        expires_at: row.time("expires_at")?,
        created_at: row.time("created_at")?,
        ended_at: row.opt_time("ended_at")?,
        metadata: row.json("metadata")?,
    })
}

impl Store {
    /// Creates a call session for the organization's agent.
    pub async fn create_call_session(
        &self,
        organization_id: &str,
        new: &NewCallSession,
    ) -> Result<CallSession> {
        let metadata = json_text(&new.metadata)?;
        let _writer = self.write_guard().await;
        // The (agent, organization) foreign key refuses another organization's agent.
        let row = sqlx::query(&format!(
            "INSERT INTO call_sessions (id, organization_id, agent_id, room_name, phone_number, \
             agent_number, direction, status, token_hash, expires_at, created_at, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             RETURNING {CALL_SESSION_COLUMNS}"
        ))
        .bind(new_id())
        .bind(organization_id)
        .bind(&new.agent_id)
        .bind(&new.room_name)
        .bind(new.phone_number.as_deref())
        .bind(new.agent_number.as_deref())
        .bind(new.direction.as_str())
        .bind(&new.status)
        .bind(new.token_hash.as_deref())
        .bind(micros(new.expires_at))
        .bind(micros(now()))
        .bind(metadata)
        .fetch_one(self.pool())
        .await
        .map_err(map_db("call session", "voice agent"))?;
        call_session(&row)
    }

    /// The organization's call session `id`.
    pub async fn call_session(&self, organization_id: &str, id: &str) -> Result<CallSession> {
        let row = sqlx::query(&format!(
            "SELECT {CALL_SESSION_COLUMNS} FROM call_sessions WHERE id = $1 AND organization_id = $2"
        ))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("call session"))?;
        call_session(&row)
    }

    /// Sets the status of the organization's call session `id`; `ended_at` marks it ended
    /// (an already ended session keeps its first end time).
    pub async fn update_call_session_status(
        &self,
        organization_id: &str,
        id: &str,
        status: &str,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<CallSession> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE call_sessions SET status = $1, ended_at = COALESCE(ended_at, $2) \
             WHERE id = $3 AND organization_id = $4 RETURNING {CALL_SESSION_COLUMNS}"
        ))
        .bind(status)
        .bind(ended_at.map(micros))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("call session"))?;
        call_session(&row)
    }

    /// Ends the organization's call session `id` and revokes its MCP token: the status
    /// becomes `status`, `ended_at` is set (an already ended session keeps its first end
    /// time) and the token's hash is dropped, so the token can never match again.
    pub async fn end_call_session(
        &self,
        organization_id: &str,
        id: &str,
        status: &str,
        ended_at: DateTime<Utc>,
    ) -> Result<CallSession> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE call_sessions SET status = $1, ended_at = COALESCE(ended_at, $2), \
             token_hash = NULL WHERE id = $3 AND organization_id = $4 \
             RETURNING {CALL_SESSION_COLUMNS}"
        ))
        .bind(status)
        .bind(micros(ended_at))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("call session"))?;
        call_session(&row)
    }

    /// Replaces the metadata of the organization's call session `id`.
    pub async fn set_call_session_metadata(
        &self,
        organization_id: &str,
        id: &str,
        metadata: &Value,
    ) -> Result<CallSession> {
        let metadata = json_text(metadata)?;
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE call_sessions SET metadata = $1 WHERE id = $2 AND organization_id = $3 \
             RETURNING {CALL_SESSION_COLUMNS}"
        ))
        .bind(metadata)
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("call session"))?;
        call_session(&row)
    }

    /// Fills in the numbers of the organization's call session `id` that are
    /// not known yet: the other party's and the agent's own. A number the
    /// session already has is kept.
    pub async fn fill_call_session_numbers(
        &self,
        organization_id: &str,
        id: &str,
        phone_number: Option<&str>,
        agent_number: Option<&str>,
    ) -> Result<CallSession> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE call_sessions SET phone_number = COALESCE(phone_number, $1), \
             agent_number = COALESCE(agent_number, $2) \
             WHERE id = $3 AND organization_id = $4 RETURNING {CALL_SESSION_COLUMNS}"
        ))
        .bind(phone_number)
        .bind(agent_number)
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("call session"))?;
        call_session(&row)
    }

    /// Keeps the numbers a SIP participant of the LiveKit room `room_name`
    /// joined with until `expires_at`, for a session opened in the room later
    /// ([`Store::sip_numbers`]); they replace the room's earlier ones. Also
    /// deletes up to [`SIP_NUMBERS_PRUNE_BATCH`] expired rows.
    pub async fn record_sip_numbers(
        &self,
        room_name: &str,
        numbers: &SipNumbers,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let _writer = self.write_guard().await;
        let at = micros(now());
        sqlx::query(
            "DELETE FROM sip_numbers WHERE room_name IN \
             (SELECT room_name FROM sip_numbers WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(at)
        .bind(SIP_NUMBERS_PRUNE_BATCH)
        .execute(self.pool())
        .await?;
        sqlx::query(
            "INSERT INTO sip_numbers (room_name, phone_number, trunk_number, received_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_name) DO UPDATE SET \
             phone_number = excluded.phone_number, trunk_number = excluded.trunk_number, \
             received_at = excluded.received_at, expires_at = excluded.expires_at",
        )
        .bind(room_name)
        .bind(numbers.phone_number.as_deref())
        .bind(numbers.trunk_number.as_deref())
        .bind(at)
        .bind(micros(expires_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The numbers last recorded for the LiveKit room `room_name` by
    /// [`Store::record_sip_numbers`], unless they have expired. Only for
    /// callers trusted with every organization's rooms: room names are not
    /// secret.
    pub async fn sip_numbers(&self, room_name: &str) -> Result<Option<SipNumbers>> {
        let row = sqlx::query(
            "SELECT phone_number, trunk_number FROM sip_numbers \
             WHERE room_name = $1 AND expires_at >= $2",
        )
        .bind(room_name)
        .bind(micros(now()))
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(SipNumbers {
                phone_number: row.opt_text("phone_number")?,
                trunk_number: row.opt_text("trunk_number")?,
            })
        })
        .transpose()
    }

    /// The sessions not yet ended in the LiveKit room `room_name`, whichever
    /// organization they belong to, oldest first. Only for callers LiveKit itself
    /// authenticated (a verified webhook): room names are not secret.
    pub async fn open_call_sessions_in_room(&self, room_name: &str) -> Result<Vec<CallSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_SESSION_COLUMNS} FROM call_sessions \
             WHERE room_name = $1 AND ended_at IS NULL ORDER BY created_at, id"
        ))
        .bind(room_name)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(call_session).collect()
    }

    /// The organization's call sessions (optionally one agent's), newest first.
    pub async fn list_call_sessions(
        &self,
        organization_id: &str,
        agent_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<CallSession>> {
        let (after_time, after_id) = page.position()?;
        let limit = page.clamped_limit();
        let rows = sqlx::query(&format!(
            "SELECT {CALL_SESSION_COLUMNS} FROM call_sessions WHERE organization_id = $1 \
             AND ($2 IS NULL OR agent_id = $2) \
             AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(organization_id)
        .bind(agent_id)
        .bind(after_time)
        .bind(after_id)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(call_session).collect::<Result<Vec<_>>>()?;
        Ok(page_from(items, limit, |s| (s.created_at, s.id.as_str())))
    }
}

//! Call sessions and their MCP tokens.
//!
//! When a call starts, a session is opened for the agent taking it and a
//! short-lived token is minted: [`SESSION_TOKEN_PREFIX`] followed by 256
//! random bits, shown once and stored only as its SHA-256 (as API keys and
//! worker tokens are, see [`crate::auth`]). The token authenticates the call's
//! MCP client and scopes it to that one agent of that one organization.
//!
//! A token stops working when its session ends ([`Core::end_call_session`],
//! which also drops the stored hash) or when its TTL runs out, whichever
//! comes first. The TTL defaults to [`DEFAULT_SESSION_TTL`], long enough for
//! nearly every phone call and short enough that a leaked token is soon
//! worthless; it can be at most [`MAX_SESSION_TTL`].

use crate::Core;
use crate::auth::{generate, hash, plausible, same_hash};
use crate::error::{CoreError, Result};
use crate::worker::InvocationRequest;
use chrono::{TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use warden_sandbox::PhoneCall;
use warden_store::{CallDirection, CallSession, NewCallSession, StoreError};

/// Every call-session token starts with this. Session tokens authenticate
/// only the MCP endpoint; API keys (`wdn_`) and worker tokens (`wdw_`) are
/// refused there, and session tokens everywhere else.
pub const SESSION_TOKEN_PREFIX: &str = "wds_";

/// How long a session token works when the caller does not say: two hours.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// The longest TTL a session token may be given: one day.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The status of a session whose call is in progress.
pub const SESSION_ACTIVE: &str = "active";

/// The status of a session whose call has ended.
pub const SESSION_ENDED: &str = "ended";

/// The longest room name and phone number a session records.
const MAX_ROOM_NAME_LEN: usize = 256;

/// A freshly opened call session: the only time its token is available.
#[derive(Debug)]
pub struct IssuedCallSession {
    /// The session's row (the token's hash only, never the token).
    pub record: CallSession,
    /// The session's MCP token. Hand it to the call's MCP client once; it
    /// cannot be recovered.
    pub token: SecretString,
}

/// The call session a presented token belongs to, established by
/// [`Core::authenticate_session`]: everything it may do is scoped to this
/// organization and this agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPrincipal {
    /// The organization.
    pub organization_id: String,
    /// The one agent whose tools the session may list and call.
    pub agent_id: String,
    /// The session, for tagging the audit rows of its calls.
    pub call_session_id: String,
    /// The phone call, as the session's tools see it (contract 0.2.0 and
    /// later). Its `Debug` leaves out the numbers.
    pub call: PhoneCall,
}

/// An inbound call a worker asks a session for: the agent taking it, the room
/// LiveKit put it in, and the caller's number. Either the agent or a room
/// named `agent-{agent_id}-{phone_number}` (Warden's own naming) must be
/// given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundCall {
    /// The agent taking the call.
    pub agent_id: Option<String>,
    /// The LiveKit room; its `room_finished` webhook ends the session.
    pub room_name: Option<String>,
    /// The other party's number, in E.164 form.
    pub phone_number: Option<String>,
    /// The number the caller dialled (the agent's own), in E.164 form.
    pub agent_number: Option<String>,
}

/// The numbers of a call, each in E.164 form where known.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CallNumbers<'a> {
    /// The other party's number.
    pub phone_number: Option<&'a str>,
    /// The agent's own number (the one dialled, or the one calling out).
    pub agent_number: Option<&'a str>,
}

impl std::fmt::Debug for CallNumbers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallNumbers")
            .field("phone_number", &self.phone_number.map(|_| "…"))
            .field("agent_number", &self.agent_number.map(|_| "…"))
            .finish()
    }
}

impl Core {
    /// The agent `agent_id`, within the worker token's organization if it
    /// has one: another organization's agent is [`CoreError::NotFound`],
    /// exactly as an unknown one.
    pub async fn worker_agent(
        &self,
        worker: &crate::WorkerPrincipal,
        agent_id: &str,
    ) -> Result<warden_store::VoiceAgent> {
        Ok(self
            .store
            .agent_by_id(worker.organization_id.as_deref(), agent_id)
            .await?)
    }

    /// Opens a session for an inbound call a worker reports. Without a room,
    /// the session's room is the one Warden names for the agent and number
    /// (or `agent-{agent_id}` without a number); without an agent, the room
    /// name must be Warden's and gives both.
    pub async fn open_inbound_session(
        &self,
        worker: &crate::WorkerPrincipal,
        call: InboundCall,
    ) -> Result<IssuedCallSession> {
        let (agent_id, phone_number, room_name) = match (call.agent_id, call.room_name) {
            (Some(agent_id), room) => {
                let room = match (room, &call.phone_number) {
                    (Some(room), _) => room,
                    (None, Some(phone)) => warden_livekit::room_name(&agent_id, phone),
                    (None, None) => format!("agent-{agent_id}"),
                };
                // Without a number, Warden's own room name for this agent
                // gives it.
                let phone_number = call.phone_number.or_else(|| {
                    warden_livekit::parse_room_name(&room)
                        .filter(|parsed| parsed.agent_id == agent_id)
                        .map(|parsed| parsed.phone)
                });
                (agent_id, phone_number, room)
            }
            (None, Some(room)) => {
                let parsed = warden_livekit::parse_room_name(&room).ok_or_else(|| {
                    CoreError::Unprocessable(
                        "room_name must be of the form agent-{agent_id}-{phone_number}, \
                         e.g. agent-0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e-+15551234567"
                            .into(),
                    )
                })?;
                if call.phone_number.is_some() {
                    return Err(CoreError::Unprocessable(
                        "without agent_id, the number comes from room_name: leave phone_number out"
                            .into(),
                    ));
                }
                (parsed.agent_id, Some(parsed.phone), room)
            }
            (None, None) => {
                return Err(CoreError::Unprocessable(
                    "give agent_id, room_name (agent-{agent_id}-{phone_number}), or both".into(),
                ));
            }
        };
        let agent = self.worker_agent(worker, &agent_id).await?;
        // What LiveKit's SIP service reported for the room fills in what the
        // worker left out; only for a worker trusted with every organization,
        // since room names are not secret.
        let sip = match worker.organization_id {
            None if phone_number.is_none() || call.agent_number.is_none() => {
                self.store.sip_numbers(&room_name).await?
            }
            _ => None,
        }
        .unwrap_or_default();
        let phone_number = phone_number.or(sip.phone_number);
        let agent_number = call.agent_number.or(sip.trunk_number);
        self.open_call_session(
            &agent.organization_id,
            &agent.id,
            &room_name,
            CallNumbers {
                phone_number: phone_number.as_deref(),
                agent_number: agent_number.as_deref(),
            },
            CallDirection::Inbound,
            None,
        )
        .await
    }

    /// Opens a call session for an active agent of the organization and
    /// mints its MCP token. `numbers` are in E.164 form; `ttl` is how long
    /// the token works (`None`: [`DEFAULT_SESSION_TTL`]).
    pub async fn open_call_session(
        &self,
        organization_id: &str,
        agent_id: &str,
        room_name: &str,
        numbers: CallNumbers<'_>,
        direction: CallDirection,
        ttl: Option<Duration>,
    ) -> Result<IssuedCallSession> {
        let ttl = ttl.unwrap_or(DEFAULT_SESSION_TTL);
        if ttl.is_zero() || ttl > MAX_SESSION_TTL {
            return Err(CoreError::Invalid(format!(
                "a session's TTL must be more than 0 and at most {} seconds",
                MAX_SESSION_TTL.as_secs()
            )));
        }
        if room_name.trim().is_empty() || room_name.chars().count() > MAX_ROOM_NAME_LEN {
            return Err(CoreError::Invalid(format!(
                "a room name must be 1 to {MAX_ROOM_NAME_LEN} characters"
            )));
        }
        for number in [numbers.phone_number, numbers.agent_number]
            .into_iter()
            .flatten()
        {
            warden_livekit::validate_e164(number).map_err(|e| CoreError::Invalid(e.to_string()))?;
        }
        let agent = self.store.agent(organization_id, agent_id).await?;
        if !agent.is_active {
            return Err(CoreError::Disabled(format!(
                "the agent `{}` is not active",
                agent.name
            )));
        }
        let ttl = TimeDelta::from_std(ttl).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let token = generate(SESSION_TOKEN_PREFIX)?;
        let record = self
            .store
            .create_call_session(
                organization_id,
                &NewCallSession {
                    agent_id: agent.id,
                    room_name: room_name.to_owned(),
                    phone_number: numbers.phone_number.map(str::to_owned),
                    agent_number: numbers.agent_number.map(str::to_owned),
                    direction,
                    status: SESSION_ACTIVE.to_owned(),
                    token_hash: Some(hash(token.expose_secret())),
                    expires_at: Utc::now() + ttl,
                    metadata: serde_json::Value::Object(Default::default()),
                },
            )
            .await?;
        Ok(IssuedCallSession { record, token })
    }

    /// The session a presented token belongs to. Unknown, ended, revoked
    /// and expired sessions are refused alike ([`CoreError::InvalidSession`]),
    /// and so are API keys and worker tokens.
    pub async fn authenticate_session(&self, presented: &str) -> Result<SessionPrincipal> {
        if !plausible(presented, SESSION_TOKEN_PREFIX) {
            return Err(CoreError::InvalidSession);
        }
        let presented_hash = hash(presented);
        match self
            .store
            .active_call_session_by_token_hash(&presented_hash)
            .await
        {
            Ok(session) => session_principal(session, &presented_hash),
            Err(StoreError::NotFound(_)) => Err(CoreError::InvalidSession),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the organization's call session and revokes its token at once
    /// (the LiveKit `room_finished` webhook calls this). Ending an ended
    /// session keeps its first end time.
    pub async fn end_call_session(
        &self,
        organization_id: &str,
        call_session_id: &str,
    ) -> Result<CallSession> {
        Ok(self
            .store
            .end_call_session(organization_id, call_session_id, SESSION_ENDED, Utc::now())
            .await?)
    }
}

impl SessionPrincipal {
    /// `request` made within this session: its organization, agent and
    /// session are the session's.
    pub fn scope(&self, request: InvocationRequest) -> InvocationRequest {
        InvocationRequest {
            organization_id: Some(self.organization_id.clone()),
            agent_id: self.agent_id.clone(),
            call_session_id: Some(self.call_session_id.clone()),
            call: Some(self.call.clone()),
            ..request
        }
    }
}

/// The principal of `session`, found by the hash of the presented token.
pub(crate) fn session_principal(
    session: CallSession,
    presented_hash: &str,
) -> Result<SessionPrincipal> {
    // The query already filters on these; checked again so a change to it
    // cannot quietly let an ended or expired session through.
    let live = session.ended_at.is_none() && session.expires_at > Utc::now();
    let matches = session
        .token_hash
        .as_deref()
        .is_some_and(|stored| same_hash(stored, presented_hash));
    if !(live && matches) {
        return Err(CoreError::InvalidSession);
    }
    Ok(SessionPrincipal {
        call: phone_call(&session),
        organization_id: session.organization_id,
        agent_id: session.agent_id,
        call_session_id: session.id,
    })
}

/// The phone call of `session`, as its tools see it.
pub(crate) fn phone_call(session: &CallSession) -> PhoneCall {
    PhoneCall {
        session_id: session.id.clone(),
        direction: match session.direction {
            CallDirection::Inbound => warden_sandbox::CallDirection::Inbound,
            CallDirection::Outbound => warden_sandbox::CallDirection::Outbound,
        },
        caller_number: session.phone_number.clone(),
        agent_number: session.agent_number.clone(),
        room: Some(session.room_name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invalid_session_message_is_the_same_for_every_refusal() {
        assert_eq!(
            CoreError::InvalidSession.to_string(),
            "invalid or expired session token"
        );
    }
}

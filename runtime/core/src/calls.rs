//! Phone calls through LiveKit: starting an outbound call for an agent, and
//! the LiveKit webhooks that follow a call's room.
//!
//! Starting a call opens a call session (with its short-lived MCP token),
//! creates the room `agent-{agent_id}-{phone}` whose metadata names the agent
//! and the session (never the token), dispatches the agent worker with
//! metadata holding the MCP URL and the token (dispatch metadata reaches only
//! the worker), and dials the number through the SIP trunk when one is
//! configured. Any LiveKit failure marks the session failed and revokes its
//! token before the error is returned.

use crate::Core;
use crate::error::{CoreError, Result};
use crate::sessions::SESSION_ENDED;
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use warden_livekit::{LiveKit, WebhookVerifier, room_name, validate_e164};
use warden_store::{CallDirection, CallSession, SipNumbers};

/// A session whose call could not be placed.
pub const SESSION_FAILED: &str = "failed";

/// Most participant events kept on a session's metadata.
const MAX_PARTICIPANT_EVENTS: usize = 64;

/// How long the numbers of a SIP participant wait for a session opened in its
/// room after it joined: long enough for an agent worker to be dispatched.
pub const SIP_NUMBERS_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// The LiveKit side of the runtime: the API client and the webhook verifier.
#[derive(Clone)]
pub struct LiveKitLink {
    client: LiveKit,
    webhooks: WebhookVerifier,
}

impl LiveKitLink {
    /// From LiveKit's configuration.
    pub fn new(config: warden_livekit::LiveKitConfig) -> Result<Self, warden_livekit::ConfigError> {
        let webhooks = WebhookVerifier::from_config(&config);
        Ok(LiveKitLink {
            client: LiveKit::new(config)?,
            webhooks,
        })
    }
}

impl std::fmt::Debug for LiveKitLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitLink")
            .field("url", &self.client.url())
            .field("agent_name", &self.client.agent_name())
            .finish_non_exhaustive()
    }
}

/// A call Warden placed.
#[derive(Debug, Clone)]
pub struct StartedCall {
    /// The call's session (status `active`).
    pub session: CallSession,
    /// The agent worker's dispatch.
    pub dispatch_id: String,
    /// The dialled participant, when a SIP trunk is configured.
    pub sip_participant_id: Option<String>,
}

/// What a verified webhook changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// The event, e.g. `room_finished`.
    pub event: String,
    /// LiveKit's id of the event (`EV_…`).
    pub event_id: String,
    /// The sessions it applied to.
    pub call_session_ids: Vec<String>,
    /// The event had been applied already (a replay, or a retry of a webhook
    /// that was applied): nothing changed.
    pub replayed: bool,
}

/// Longest event id accepted (LiveKit's are `EV_` and a dozen characters).
const MAX_EVENT_ID_BYTES: usize = 128;

/// How long past a webhook's last valid moment its event id is remembered
/// anyway: room for the clocks of replicas sharing one database to disagree.
const EVENT_ID_CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

const NOT_CONFIGURED: &str = "LiveKit is not configured (set WARDEN_LIVEKIT_URL, \
     WARDEN_LIVEKIT_API_KEY and WARDEN_LIVEKIT_API_SECRET)";

impl Core {
    fn livekit(&self) -> Result<&LiveKitLink> {
        self.settings
            .livekit
            .as_ref()
            .ok_or(CoreError::NotConfigured(NOT_CONFIGURED))
    }

    /// Places a call from the organization's agent to `phone_number` (E.164).
    /// `mcp_url` is where the dispatched worker reaches Warden's MCP endpoint.
    pub async fn start_call(
        &self,
        organization_id: &str,
        agent_id: &str,
        phone_number: &str,
        mcp_url: &str,
    ) -> Result<StartedCall> {
        let livekit = self.livekit()?;
        validate_e164(phone_number).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let room = room_name(agent_id, phone_number);
        let issued = self
            .open_call_session(
                organization_id,
                agent_id,
                &room,
                crate::CallNumbers {
                    phone_number: Some(phone_number),
                    agent_number: None,
                },
                CallDirection::Outbound,
                None,
            )
            .await?;
        let session = issued.record;
        let placed = async {
            let room_metadata = json!({
                "agent_id": session.agent_id,
                "call_session_id": session.id,
            });
            livekit
                .client
                .create_room(&room, &room_metadata.to_string())
                .await?;
            let dispatch_metadata = json!({
                "mcp_url": mcp_url,
                "session_token": issued.token.expose_secret(),
                "call_session_id": session.id,
                "agent_id": session.agent_id,
            });
            let dispatch = livekit
                .client
                .dispatch_agent(&room, &dispatch_metadata.to_string())
                .await?;
            let dialed = match livekit.client.sip_trunk_id() {
                Some(_) => Some(
                    livekit
                        .client
                        .dial(&room, phone_number, &format!("phone-{phone_number}"))
                        .await?,
                ),
                None => None,
            };
            Ok::<_, warden_livekit::LiveKitError>((dispatch, dialed))
        }
        .await;
        match placed {
            Ok((dispatch, dialed)) => {
                let mut metadata = session.metadata.clone();
                if let Value::Object(map) = &mut metadata {
                    map.insert("dispatch_id".into(), Value::from(dispatch.id.clone()));
                    if let Some(dialed) = &dialed {
                        map.insert(
                            "sip_participant_id".into(),
                            Value::from(dialed.participant_id.clone()),
                        );
                    }
                }
                let session = self
                    .store
                    .set_call_session_metadata(organization_id, &session.id, &metadata)
                    .await?;
                Ok(StartedCall {
                    session,
                    dispatch_id: dispatch.id,
                    sip_participant_id: dialed.map(|d| d.participant_id),
                })
            }
            Err(error) => {
                if let Err(e) = self
                    .store
                    .end_call_session(organization_id, &session.id, SESSION_FAILED, Utc::now())
                    .await
                {
                    tracing::error!(call_session_id = %session.id, "failed to mark a call session failed: {e}");
                }
                Err(error.into())
            }
        }
    }

    /// Applies a LiveKit webhook after checking its signature, body hash and
    /// expiry: `room_finished` ends the room's sessions and revokes their
    /// tokens; participant joins and leaves are recorded on the sessions. Other
    /// events are accepted and change nothing.
    ///
    /// Each event is applied once: a request verifies again for as long as its
    /// token is valid, so the event's id is recorded (atomically) before the
    /// event is applied, and an id already recorded is a replay, answered as
    /// success with [`WebhookOutcome::replayed`] and no change. An event
    /// without an id is refused ([`CoreError::Invalid`]): LiveKit gives every
    /// event one.
    pub async fn livekit_webhook(&self, body: &str, authorization: &str) -> Result<WebhookOutcome> {
        let livekit = self.livekit()?;
        let event = livekit.webhooks.verify(body, authorization)?;
        if event.id.trim().is_empty() {
            return Err(CoreError::Invalid(
                "the webhook event has no id; LiveKit gives every event one, and Warden \
                 applies each event id once"
                    .to_owned(),
            ));
        }
        if event.id.len() > MAX_EVENT_ID_BYTES {
            return Err(CoreError::Invalid(format!(
                "the webhook event's id is longer than {MAX_EVENT_ID_BYTES} bytes"
            )));
        }
        let mut outcome = WebhookOutcome {
            event: event.event.clone(),
            event_id: event.id.clone(),
            call_session_ids: Vec::new(),
            replayed: false,
        };
        let Some(room) = event.room_name.as_deref().filter(|r| !r.is_empty()) else {
            return Ok(outcome);
        };
        if !matches!(
            event.event.as_str(),
            "room_finished" | "participant_joined" | "participant_left"
        ) {
            return Ok(outcome);
        }
        // Remembered whether or not the room has sessions now: room names are
        // reused (`agent-{agent}-{phone}`), and a replayed room_finished must not
        // end the next call's session in the same room.
        let keep_until = chrono::DateTime::from_timestamp(event.replayable_until, 0)
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
            .checked_add_signed(EVENT_ID_CLOCK_MARGIN)
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
        if !self
            .store
            .claim_webhook_event(&event.id, keep_until)
            .await?
        {
            outcome.replayed = true;
            return Ok(outcome);
        }
        match self.apply_room_event(&event, room).await {
            Ok(ids) => {
                outcome.call_session_ids = ids;
                Ok(outcome)
            }
            Err(error) => {
                // Not applied (or not wholly): forget the id, so LiveKit's retry
                // is applied rather than taken for a replay.
                if let Err(e) = self.store.release_webhook_event(&event.id).await {
                    tracing::error!(event_id = %event.id, "failed to forget a webhook event that was not applied: {e}");
                }
                Err(error)
            }
        }
    }

    /// Applies a verified room or participant event to the room's open sessions.
    async fn apply_room_event(
        &self,
        event: &warden_livekit::WebhookEvent,
        room: &str,
    ) -> Result<Vec<String>> {
        let sessions = self.store.open_call_sessions_in_room(room).await?;
        let mut ids = Vec::with_capacity(sessions.len());
        if let Some(sip) = event
            .sip
            .as_ref()
            .filter(|_| event.event == "participant_joined")
            && (sip.phone_number.is_some() || sip.trunk_phone_number.is_some())
        {
            ids.extend(self.apply_sip_numbers(room, sip, &sessions).await?);
        }
        for session in sessions {
            match event.event.as_str() {
                "room_finished" => {
                    self.store
                        .end_call_session(
                            &session.organization_id,
                            &session.id,
                            SESSION_ENDED,
                            Utc::now(),
                        )
                        .await?;
                }
                "participant_joined" | "participant_left" => {
                    let mut metadata = session.metadata.clone();
                    if let Value::Object(map) = &mut metadata {
                        let events = map
                            .entry("participants")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(events) = events
                            && events.len() < MAX_PARTICIPANT_EVENTS
                        {
                            events.push(json!({
                                "event": event.event,
                                "identity": event.participant_identity,
                                "sid": event.participant_sid,
                                "at": event.created_at,
                            }));
                        }
                    }
                    self.store
                        .set_call_session_metadata(&session.organization_id, &session.id, &metadata)
                        .await?;
                }
                _ => continue,
            }
            if !ids.contains(&session.id) {
                ids.push(session.id);
            }
        }
        Ok(ids)
    }

    /// A SIP participant joined `room` with its numbers: they fill in what
    /// the room's open sessions do not know yet, and are kept for
    /// [`SIP_NUMBERS_TTL`] for a session a worker opens in the room later.
    ///
    /// Room names are not secret: a worker limited to one organization may
    /// open a session in any room for its own agent. So the numbers go to the
    /// room's sessions only when they all belong to one organization, and
    /// later sessions take them only when opened by a worker trusted with
    /// every organization (see `open_inbound_session`).
    async fn apply_sip_numbers(
        &self,
        room: &str,
        sip: &warden_livekit::SipParticipant,
        sessions: &[CallSession],
    ) -> Result<Vec<String>> {
        let numbers = SipNumbers {
            phone_number: sip.phone_number.clone(),
            trunk_number: sip.trunk_phone_number.clone(),
        };
        let expires_at = Utc::now() + SIP_NUMBERS_TTL;
        self.store
            .record_sip_numbers(room, &numbers, expires_at)
            .await?;
        let organizations: std::collections::BTreeSet<&str> = sessions
            .iter()
            .map(|s| s.organization_id.as_str())
            .collect();
        if organizations.len() > 1 {
            tracing::warn!(
                organizations = organizations.len(),
                "a SIP participant joined a room with sessions of several organizations; \
                 its numbers go to none of them"
            );
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(sessions.len());
        for session in sessions {
            self.store
                .fill_call_session_numbers(
                    &session.organization_id,
                    &session.id,
                    numbers.phone_number.as_deref(),
                    numbers.trunk_number.as_deref(),
                )
                .await?;
            ids.push(session.id.clone());
        }
        Ok(ids)
    }
}

//! LiveKit call initiation for Warden: rooms, agent dispatch, SIP dial-out,
//! access tokens and webhook verification.
//!
//! A call starts in three requests to LiveKit's server API (Twirp over HTTP):
//!
//! 1. [`LiveKit::create_room`] creates the room `agent-{agent_id}-{phone}`
//!    ([`room_name`]) with JSON metadata (`roomCreate` grant);
//! 2. [`LiveKit::dispatch_agent`] explicitly dispatches the agent worker
//!    registered under the configured agent name into that room, with a
//!    dispatch metadata string the worker reads when it joins (`roomAdmin` for
//!    that room);
//! 3. [`LiveKit::dial`] dials the callee through the configured outbound SIP
//!    trunk and waits until the call is answered (`sip.call`), so a busy line
//!    or an unanswered call surfaces as [`LiveKitError::Busy`] or
//!    [`LiveKitError::NotAnswered`] instead of a participant that never joins.
//!
//! Every request carries a fresh HS256 access token with exactly the grant it
//! needs, signed by the SDK's own token type (`livekit-api`); the request and
//! response bodies are the protocol messages of `livekit-protocol`, in
//! protobuf. The Twirp POST itself is made here (reqwest over rustls) rather
//! than by the SDK's service clients, because LiveKit server answers a bad API
//! key or secret with a plain-text 401 that echoes the token: reading the status
//! first is what lets a bad secret surface as [`LiveKitError::Unauthorized`],
//! and the body is never put into an error.
//!
//! [`WebhookVerifier`] checks LiveKit's webhook requests: the `Authorization`
//! header is a token signed with the API secret whose `sha256` claim is the
//! base64 SHA-256 of the body, and whose `exp` has not passed (with
//! [`WEBHOOK_TOKEN_LEEWAY_SECS`]). It does not remember events: applying each
//! event id once is the caller's part.
//!
//! Configuration comes from the environment ([`LiveKitConfig::from_env`]); the
//! API secret is a [`secrecy::SecretString`] from the moment it is read, and no
//! `Debug` output or error message of this crate contains it, a token, or the
//! dispatch metadata.
//!
//! This crate knows nothing of HTTP status codes of Warden's own API, of
//! databases or of the sandbox: callers map [`LiveKitError`] to their problems.

mod client;
mod config;
mod redact;
mod room_name;
mod webhook;

pub use client::{AgentDispatch, DialedParticipant, LiveKit, LiveKitError, Operation, Room};
pub use config::{ConfigError, DEFAULT_AGENT_NAME, LiveKitConfig};
pub use room_name::{E164Error, RoomName, parse_room_name, room_name, validate_e164};
pub use webhook::{
    SIP_PHONE_NUMBER_ATTRIBUTE, SIP_TRUNK_PHONE_NUMBER_ATTRIBUTE, SipParticipant,
    WEBHOOK_TOKEN_LEEWAY_SECS, WebhookError, WebhookEvent, WebhookVerifier,
};

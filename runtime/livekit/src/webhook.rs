//! `WebhookVerifier`: LiveKit's signed webhook requests.
//!
//! LiveKit server posts each event as JSON with an `Authorization` header that
//! is an access token (bare, without `Bearer `) signed with the API secret,
//! issued by the API key, valid for a few minutes, whose `sha256` claim is the
//! base64 SHA-256 of the body. The SDK's `WebhookReceiver` checks all of it.
//!
//! A verified request stays valid for as long as its token does, so the same
//! request can be sent again until then: [`WebhookEvent::replayable_until`]
//! says how long, and the caller applies each event id once.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use livekit_api::access_token::{AccessTokenError, Claims, TokenVerifier};
use livekit_api::webhooks::{WebhookError as SdkError, WebhookReceiver};
use livekit_protocol::participant_info::Kind as ParticipantKind;
use secrecy::{ExposeSecret, SecretString};

use crate::config::LiveKitConfig;

/// How long after its `exp` a webhook token is still accepted, in seconds: room
/// for the clocks of LiveKit and Warden to disagree. The SDK's verifier allows
/// the same (jsonwebtoken's default leeway); [`WebhookVerifier::verify`] checks
/// `exp` again itself so that the bound, and with it how long a replay must be
/// remembered, does not rest on a dependency's default.
pub const WEBHOOK_TOKEN_LEEWAY_SECS: i64 = 60;

/// Verifies LiveKit webhook requests signed with one API key and secret.
///
/// `Debug` shows the API key only.
#[derive(Clone)]
pub struct WebhookVerifier {
    api_key: String,
    receiver: WebhookReceiver,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// The parts of a verified webhook event Warden uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The event, e.g. `room_started`, `participant_joined`, `room_finished`.
    pub event: String,
    /// The event's unique id (`EV_…`; for applying each event once). Empty when
    /// the body has none (LiveKit always sends one).
    pub id: String,
    /// When LiveKit created the event, in seconds since the Unix epoch.
    pub created_at: i64,
    /// The room's name, for room and participant events.
    pub room_name: Option<String>,
    /// The room's id (`RM_…`).
    pub room_sid: Option<String>,
    /// The participant's identity, for participant events.
    pub participant_identity: Option<String>,
    /// The participant's id (`PA_…`).
    pub participant_sid: Option<String>,
    /// For participant events of a SIP participant (kind `SIP`, set by
    /// LiveKit's SIP service, never by a client), its numbers.
    pub sip: Option<SipParticipant>,
    /// The last moment, in seconds since the Unix epoch, at which this request
    /// (body and token) is accepted: the token's `exp` plus
    /// [`WEBHOOK_TOKEN_LEEWAY_SECS`]. Until then the same request can be sent
    /// again and verifies again; after it, it is refused as
    /// [`WebhookError::Expired`].
    pub replayable_until: i64,
}

/// A SIP participant's numbers, from the attributes LiveKit's SIP service
/// sets on it. Each is E.164 or left out. They are personal data: `Debug`
/// leaves them out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SipParticipant {
    /// `sip.phoneNumber`: the other party's number (the caller's on an
    /// inbound call, the dialled one on an outbound call).
    pub phone_number: Option<String>,
    /// `sip.trunkPhoneNumber`: the number of the trunk the call came in on or
    /// goes out through, the agent's own.
    pub trunk_phone_number: Option<String>,
}

impl fmt::Debug for SipParticipant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipParticipant")
            .field("phone_number", &self.phone_number.as_ref().map(|_| "…"))
            .field(
                "trunk_phone_number",
                &self.trunk_phone_number.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

/// The attribute LiveKit's SIP service sets to the other party's number.
pub const SIP_PHONE_NUMBER_ATTRIBUTE: &str = "sip.phoneNumber";

/// The attribute LiveKit's SIP service sets to the trunk's number.
pub const SIP_TRUNK_PHONE_NUMBER_ATTRIBUTE: &str = "sip.trunkPhoneNumber";

/// Why a webhook request is not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No `Authorization` header value.
    #[error("the webhook has no Authorization token; LiveKit signs every webhook")]
    MissingAuthorization,
    /// The token is not a well-formed HS256 LiveKit token.
    #[error("the webhook's Authorization token is malformed")]
    MalformedToken,
    /// Signed with another secret.
    #[error("the webhook's token is not signed with Warden's LiveKit API secret")]
    BadSignature,
    /// Issued by another API key.
    #[error("the webhook's token was issued by another API key")]
    WrongApiKey,
    /// The token has expired.
    #[error("the webhook's token has expired")]
    Expired,
    /// The token is not valid yet.
    #[error("the webhook's token is not valid yet")]
    NotYetValid,
    /// The token's `sha256` claim is missing or is not the body's hash: the
    /// body was changed, or the token signs something else.
    #[error("the webhook body does not match the sha256 its token signs")]
    BodyMismatch,
    /// Signed correctly, but not a LiveKit webhook event.
    #[error("the webhook body is not a LiveKit webhook event: {reason}")]
    InvalidBody {
        /// The JSON error.
        reason: String,
    },
}

impl WebhookVerifier {
    /// A verifier for webhooks signed with `api_key` and `api_secret`.
    pub fn new(api_key: &str, api_secret: &SecretString) -> WebhookVerifier {
        WebhookVerifier {
            api_key: api_key.to_owned(),
            receiver: WebhookReceiver::new(TokenVerifier::with_api_key(
                api_key,
                api_secret.expose_secret(),
            )),
        }
    }

    /// A verifier for the API key and secret of `config`.
    pub fn from_config(config: &LiveKitConfig) -> WebhookVerifier {
        WebhookVerifier::new(&config.api_key, &config.api_secret)
    }

    /// Verifies one webhook request: `body` exactly as received, and the
    /// `Authorization` header's value (LiveKit sends the bare token; a
    /// `Bearer ` prefix is accepted too).
    pub fn verify(
        &self,
        body: &str,
        authorization_header: &str,
    ) -> Result<WebhookEvent, WebhookError> {
        let header = authorization_header.trim();
        let token = header.strip_prefix("Bearer ").unwrap_or(header).trim();
        if token.is_empty() {
            return Err(WebhookError::MissingAuthorization);
        }
        let event = self
            .receiver
            .receive(body, token)
            .map_err(|error| match error {
                SdkError::InvalidAuth(AccessTokenError::Encoding(error)) => match error.kind() {
                    ErrorKind::ExpiredSignature => WebhookError::Expired,
                    ErrorKind::ImmatureSignature => WebhookError::NotYetValid,
                    ErrorKind::InvalidIssuer => WebhookError::WrongApiKey,
                    ErrorKind::InvalidSignature => WebhookError::BadSignature,
                    _ => WebhookError::MalformedToken,
                },
                SdkError::InvalidAuth(_) => WebhookError::MalformedToken,
                SdkError::InvalidSignature | SdkError::InvalidBase64(_) => {
                    WebhookError::BodyMismatch
                }
                SdkError::InvalidData(error) => WebhookError::InvalidBody {
                    reason: error.to_string(),
                },
            })?;
        // The token verified above: its claims, for the expiry Warden enforces itself.
        let claims = Claims::from_unverified(token).map_err(|_| WebhookError::MalformedToken)?;
        let replayable_until = i64::try_from(claims.exp)
            .map_err(|_| WebhookError::MalformedToken)?
            .saturating_add(WEBHOOK_TOKEN_LEEWAY_SECS);
        if replayable_until < unix_now() {
            return Err(WebhookError::Expired);
        }
        let non_empty = |s: String| Some(s).filter(|s| !s.is_empty());
        let (room_name, room_sid) = match event.room {
            Some(room) => (non_empty(room.name), non_empty(room.sid)),
            None => (None, None),
        };
        let (participant_identity, participant_sid, sip) = match event.participant {
            Some(mut participant) => {
                let sip = (participant.kind == ParticipantKind::Sip as i32).then(|| {
                    let mut number = |attribute| {
                        participant
                            .attributes
                            .remove(attribute)
                            .filter(|n| crate::validate_e164(n).is_ok())
                    };
                    SipParticipant {
                        phone_number: number(SIP_PHONE_NUMBER_ATTRIBUTE),
                        trunk_phone_number: number(SIP_TRUNK_PHONE_NUMBER_ATTRIBUTE),
                    }
                });
                (
                    non_empty(participant.identity),
                    non_empty(participant.sid),
                    sip,
                )
            }
            None => (None, None, None),
        };
        Ok(WebhookEvent {
            event: event.event,
            id: event.id,
            created_at: event.created_at,
            room_name,
            room_sid,
            participant_identity,
            participant_sid,
            sip,
            replayable_until,
        })
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

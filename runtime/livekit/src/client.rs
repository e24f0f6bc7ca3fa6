//! `LiveKit`: the three server-API calls that start a call, and their errors.

use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use livekit_api::access_token::{AccessToken, SIPGrants, VideoGrants};
use livekit_protocol as proto;
use prost::Message;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{ConfigError, LiveKitConfig, http_url};
use crate::redact::redact;
use crate::room_name::{E164Error, validate_e164};

/// The Twirp package of LiveKit's server API.
const PACKAGE: &str = "livekit";
/// Budget of one request that does not dial.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a dialled phone may ring before LiveKit gives up, unless changed
/// with [`LiveKit::with_ringing_timeout`] (LiveKit's own default).
const DEFAULT_RINGING_TIMEOUT: Duration = Duration::from_secs(30);
/// A dial request waits for the answer, so it must outlast the ringing.
const DIAL_MARGIN: Duration = Duration::from_secs(5);
/// Lifetime of the token signed for one request.
const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// A client for LiveKit's server API, cheap to clone (one connection pool).
///
/// `Debug` shows the URL, API key, agent name and trunk, never the secret.
#[derive(Clone)]
pub struct LiveKit {
    inner: Arc<Inner>,
    ringing_timeout: Duration,
}

struct Inner {
    base_url: String,
    api_key: String,
    api_secret: SecretString,
    agent_name: String,
    sip_trunk_id: Option<String>,
    http: reqwest::Client,
}

impl fmt::Debug for LiveKit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveKit")
            .field("url", &self.inner.base_url)
            .field("api_key", &self.inner.api_key)
            .field("agent_name", &self.inner.agent_name)
            .field("sip_trunk_id", &self.inner.sip_trunk_id)
            .field("ringing_timeout", &self.ringing_timeout)
            .finish_non_exhaustive()
    }
}

/// The room LiveKit created (or already had under that name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// LiveKit's id of the room (`RM_…`).
    pub sid: String,
    /// The room's name.
    pub name: String,
    /// The room's metadata as LiveKit holds it.
    pub metadata: String,
}

/// An explicit agent dispatch LiveKit accepted. The dispatch metadata is not
/// repeated here.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentDispatch {
    /// LiveKit's id of the dispatch (`AD_…`).
    pub id: String,
    /// The agent name dispatched.
    pub agent_name: String,
    /// The room it was dispatched to.
    pub room: String,
}

impl fmt::Debug for AgentDispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentDispatch")
            .field("id", &self.id)
            .field("agent_name", &self.agent_name)
            .field("room", &self.room)
            .finish()
    }
}

/// The SIP participant of an answered outbound call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialedParticipant {
    /// LiveKit's participant id (`PA_…`).
    pub participant_id: String,
    /// The participant's identity in the room.
    pub participant_identity: String,
    /// The room the callee is in.
    pub room_name: String,
    /// LiveKit's SIP call id (`SCL_…`).
    pub sip_call_id: String,
}

/// What Warden was asking LiveKit to do when an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `RoomService.CreateRoom`.
    CreateRoom,
    /// `AgentDispatchService.CreateDispatch`.
    DispatchAgent,
    /// `SIP.CreateSIPParticipant`.
    Dial,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::CreateRoom => "create the room",
            Operation::DispatchAgent => "dispatch the agent",
            Operation::Dial => "dial the number",
        })
    }
}

/// Why a LiveKit request failed. Messages never contain the API secret, a
/// token, or the dispatch metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveKitError {
    /// LiveKit refused the credentials: unknown API key, a token signed with
    /// another secret, an expired token, or a token lacking the grant.
    #[error(
        "LiveKit refused Warden's credentials when asked to {operation} ({detail}); check \
         WARDEN_LIVEKIT_API_KEY and WARDEN_LIVEKIT_API_SECRET"
    )]
    Unauthorized {
        /// What was asked.
        operation: Operation,
        /// The HTTP status and, when LiveKit sent a Twirp error, its code and
        /// message.
        detail: String,
    },
    /// The callee's line is busy (SIP 486 Busy Here or 600 Busy Everywhere).
    #[error("the line is busy (SIP {sip_status})")]
    Busy {
        /// The SIP status LiveKit reported.
        sip_status: u16,
    },
    /// Nobody answered: SIP 408, 480 or 487, or LiveKit's own ringing timeout.
    #[error("the call was not answered{}", sip_suffix(*.sip_status))]
    NotAnswered {
        /// The SIP status LiveKit reported, if any.
        sip_status: Option<u16>,
    },
    /// The call failed with another SIP status (declined, number unknown,
    /// trunk refused, …).
    #[error("the call failed: SIP {sip_status} {reason}")]
    CallFailed {
        /// The SIP status LiveKit reported.
        sip_status: u16,
        /// The SIP reason phrase.
        reason: String,
    },
    /// Something named in the request does not exist (e.g. the SIP trunk).
    #[error("LiveKit could not {operation}: not found ({message})")]
    NotFound {
        /// What was asked.
        operation: Operation,
        /// LiveKit's message.
        message: String,
    },
    /// No answer from LiveKit: connection refused, DNS, TLS, timeout, or a
    /// gateway error in front of it.
    #[error("LiveKit at {url} is unreachable ({reason})")]
    Unreachable {
        /// The LiveKit URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The number to dial is not E.164.
    #[error(transparent)]
    InvalidPhoneNumber(#[from] E164Error),
    /// Dialling needs `WARDEN_LIVEKIT_SIP_TRUNK_ID`.
    #[error(
        "no outbound SIP trunk is configured (WARDEN_LIVEKIT_SIP_TRUNK_ID), so Warden cannot \
         dial out"
    )]
    NoSipTrunk,
    /// Any other refusal or failure.
    #[error("LiveKit could not {operation}: {detail}")]
    Other {
        /// What was asked.
        operation: Operation,
        /// The HTTP status, Twirp code and message.
        detail: String,
    },
}

fn sip_suffix(sip_status: Option<u16>) -> String {
    sip_status
        .map(|status| format!(" (SIP {status})"))
        .unwrap_or_default()
}

/// A Twirp error body: `{"code": "...", "msg": "...", "meta": {...}}`.
#[derive(Deserialize)]
struct TwirpError {
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    meta: HashMap<String, String>,
}

impl LiveKit {
    /// A client for the LiveKit server in `config`.
    pub fn new(config: LiveKitConfig) -> Result<LiveKit, ConfigError> {
        Ok(LiveKit {
            inner: Arc::new(Inner {
                base_url: http_url(&config.url)?,
                api_key: config.api_key,
                api_secret: config.api_secret,
                agent_name: config.agent_name,
                sip_trunk_id: config.sip_trunk_id,
                http: http_client().map_err(|reason| ConfigError::HttpClient { reason })?,
            }),
            ringing_timeout: DEFAULT_RINGING_TIMEOUT,
        })
    }

    /// How long [`dial`](Self::dial) lets the phone ring before LiveKit gives
    /// up (30 s unless changed).
    pub fn with_ringing_timeout(mut self, ringing_timeout: Duration) -> LiveKit {
        self.ringing_timeout = ringing_timeout;
        self
    }

    /// The LiveKit server's base URL (`http(s)://…`).
    pub fn url(&self) -> &str {
        &self.inner.base_url
    }

    /// The agent name [`dispatch_agent`](Self::dispatch_agent) dispatches.
    pub fn agent_name(&self) -> &str {
        &self.inner.agent_name
    }

    /// The outbound SIP trunk [`dial`](Self::dial) uses, if configured.
    pub fn sip_trunk_id(&self) -> Option<&str> {
        self.inner.sip_trunk_id.as_deref()
    }

    /// Creates room `name` with `metadata_json` as its metadata (LiveKit
    /// answers with the existing room if one has that name).
    pub async fn create_room(&self, name: &str, metadata_json: &str) -> Result<Room, LiveKitError> {
        let request = proto::CreateRoomRequest {
            name: name.to_owned(),
            metadata: metadata_json.to_owned(),
            ..Default::default()
        };
        let token = self.token().with_grants(VideoGrants {
            room_create: true,
            ..Default::default()
        });
        let room: proto::Room = self
            .call(
                Operation::CreateRoom,
                ("RoomService", "CreateRoom"),
                &request,
                token,
                REQUEST_TIMEOUT,
                &[metadata_json],
            )
            .await?;
        Ok(Room {
            sid: room.sid,
            name: room.name,
            metadata: room.metadata,
        })
    }

    /// Dispatches the configured agent into `room` (explicit dispatch), with
    /// `metadata` for the worker's job. The metadata may hold credentials (the
    /// worker's MCP token): it appears in no error and no `Debug` output.
    pub async fn dispatch_agent(
        &self,
        room: &str,
        metadata: &str,
    ) -> Result<AgentDispatch, LiveKitError> {
        let request = proto::CreateAgentDispatchRequest {
            agent_name: self.inner.agent_name.clone(),
            room: room.to_owned(),
            metadata: metadata.to_owned(),
            ..Default::default()
        };
        let token = self.token().with_grants(VideoGrants {
            room: room.to_owned(),
            room_admin: true,
            ..Default::default()
        });
        let dispatch: proto::AgentDispatch = self
            .call(
                Operation::DispatchAgent,
                ("AgentDispatchService", "CreateDispatch"),
                &request,
                token,
                REQUEST_TIMEOUT,
                &[metadata],
            )
            .await?;
        Ok(AgentDispatch {
            id: dispatch.id,
            agent_name: dispatch.agent_name,
            room: dispatch.room,
        })
    }

    /// Dials `phone_number` (E.164) through the configured SIP trunk into
    /// `room` as `participant_identity`, and waits until the call is answered:
    /// a busy line, no answer or a rejected call is an error.
    pub async fn dial(
        &self,
        room: &str,
        phone_number: &str,
        participant_identity: &str,
    ) -> Result<DialedParticipant, LiveKitError> {
        validate_e164(phone_number)?;
        let trunk = self
            .inner
            .sip_trunk_id
            .clone()
            .ok_or(LiveKitError::NoSipTrunk)?;
        let request = proto::CreateSipParticipantRequest {
            sip_trunk_id: trunk,
            sip_call_to: phone_number.to_owned(),
            room_name: room.to_owned(),
            participant_identity: participant_identity.to_owned(),
            wait_until_answered: true,
            ringing_timeout: Some(pbjson_types::Duration {
                seconds: i64::try_from(self.ringing_timeout.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            }),
            ..Default::default()
        };
        let token = self.token().with_sip_grants(SIPGrants {
            call: true,
            ..Default::default()
        });
        let participant: proto::SipParticipantInfo = self
            .call(
                Operation::Dial,
                ("SIP", "CreateSIPParticipant"),
                &request,
                token,
                self.ringing_timeout + DIAL_MARGIN,
                &[],
            )
            .await?;
        Ok(DialedParticipant {
            participant_id: participant.participant_id,
            participant_identity: participant.participant_identity,
            room_name: participant.room_name,
            sip_call_id: participant.sip_call_id,
        })
    }

    /// A token of this API key, valid for one request; the caller adds the grant.
    fn token(&self) -> AccessToken {
        AccessToken::with_api_key(&self.inner.api_key, self.inner.api_secret.expose_secret())
            .with_ttl(TOKEN_TTL)
    }

    /// One Twirp call in protobuf. `sensitive` strings (besides the secret) are
    /// kept out of any error.
    async fn call<Req: Message, Resp: Message + Default>(
        &self,
        operation: Operation,
        (service, method): (&str, &str),
        request: &Req,
        token: AccessToken,
        timeout: Duration,
        sensitive: &[&str],
    ) -> Result<Resp, LiveKitError> {
        let secret = self.inner.api_secret.expose_secret();
        let mut sensitive = sensitive.to_vec();
        sensitive.push(secret);
        let jwt = token.to_jwt().map_err(|error| LiveKitError::Other {
            operation,
            detail: redact(
                &format!("cannot sign the access token: {error}"),
                &sensitive,
            ),
        })?;
        let url = format!("{}/twirp/{PACKAGE}.{service}/{method}", self.inner.base_url);
        let unreachable = |error: reqwest::Error| LiveKitError::Unreachable {
            url: self.inner.base_url.clone(),
            reason: redact(&describe(error, timeout), &sensitive),
        };
        let response = self
            .inner
            .http
            .post(&url)
            .bearer_auth(&jwt)
            .header(CONTENT_TYPE, "application/protobuf")
            .timeout(timeout)
            .body(request.encode_to_vec())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status == StatusCode::OK {
            return Resp::decode(body).map_err(|error| LiveKitError::Other {
                operation,
                detail: format!("LiveKit's answer is not the expected protobuf message: {error}"),
            });
        }
        Err(self.classify(operation, status, &body, &sensitive))
    }

    /// Maps a non-200 answer to an error. A body that is not a Twirp error is
    /// never quoted: LiveKit's authentication middleware answers in plain text
    /// that repeats the token.
    fn classify(
        &self,
        operation: Operation,
        status: StatusCode,
        body: &[u8],
        sensitive: &[&str],
    ) -> LiveKitError {
        let twirp: Option<TwirpError> = serde_json::from_slice(body).ok();
        if let Some(twirp) = &twirp
            && let Some(sip_status) = twirp
                .meta
                .get("sip_status_code")
                .and_then(|code| code.parse::<u16>().ok())
        {
            return match sip_status {
                486 | 600 => LiveKitError::Busy { sip_status },
                408 | 480 | 487 => LiveKitError::NotAnswered {
                    sip_status: Some(sip_status),
                },
                _ => LiveKitError::CallFailed {
                    sip_status,
                    reason: redact(
                        twirp.meta.get("sip_status").map_or("", String::as_str),
                        sensitive,
                    ),
                },
            };
        }
        let http = format!("HTTP {}", status.as_u16());
        let (code, detail) = match &twirp {
            Some(twirp) => (
                twirp.code.as_str(),
                format!("{http}, {}: {}", twirp.code, redact(&twirp.msg, sensitive)),
            ),
            None => ("", format!("{http}, a {}-byte non-Twirp body", body.len())),
        };
        match (status.as_u16(), code) {
            (401 | 403, _) | (_, "unauthenticated" | "permission_denied") => {
                LiveKitError::Unauthorized { operation, detail }
            }
            (_, "not_found") => LiveKitError::NotFound {
                operation,
                message: twirp
                    .as_ref()
                    .map(|twirp| redact(&twirp.msg, sensitive))
                    .unwrap_or_default(),
            },
            (_, "deadline_exceeded") if operation == Operation::Dial => {
                LiveKitError::NotAnswered { sip_status: None }
            }
            (502..=504, _) | (_, "unavailable") => LiveKitError::Unreachable {
                url: self.inner.base_url.clone(),
                reason: detail,
            },
            _ => LiveKitError::Other { operation, detail },
        }
    }
}

/// A transport error and its causes, e.g. "error sending request: … :
/// Connection refused (os error 111)".
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs());
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// reqwest over rustls with ring and the webpki roots, no redirects (Twirp
/// never redirects; a redirect would resend the token elsewhere).
fn http_client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())
}

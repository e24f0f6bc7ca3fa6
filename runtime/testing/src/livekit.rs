//! LiveKit server's Twirp API: `RoomService.CreateRoom`,
//! `AgentDispatchService.CreateDispatch` and `SIP.CreateSIPParticipant`.
//!
//! Modelled on livekit-server's `pkg/service` (the API-key middleware in
//! `auth.go`, the grant checks `EnsureCreatePermission`,
//! `EnsureAdminPermission` and `EnsureSIPCallPermission`), the Twirp wire
//! format (<https://twitchtv.github.io/twirp/docs/spec_v7.html>) and
//! livekit/protocol's mapping of SIP statuses to error codes
//! (`livekit/sip.go`: `sipCodeToGRPCCode`, `TwirpErrorMeta`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use livekit_api::access_token::{Claims, TokenVerifier};
use livekit_protocol as proto;
use prost::Message;
use serde_json::{Map, Value, json};

use crate::recorded::RecordedRequest;
use crate::server::{Server, random_hex};

const PROTOBUF: &str = "application/protobuf";
const JSON: &str = "application/json";

/// How a request body (and so its answer) was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/protobuf`.
    Protobuf,
    /// `application/json`, protobuf's JSON mapping.
    Json,
}

/// A decoded request the stand-in accepted (authenticated, with the grant the
/// method needs).
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a test record, made once per request; boxing would only burden the tests' matches"
)]
pub enum LiveKitCall {
    /// `RoomService.CreateRoom`.
    CreateRoom(proto::CreateRoomRequest),
    /// `AgentDispatchService.CreateDispatch`.
    CreateDispatch(proto::CreateAgentDispatchRequest),
    /// `SIP.CreateSIPParticipant`.
    CreateSipParticipant(proto::CreateSipParticipantRequest),
}

/// One accepted request, decoded, with the token it carried.
#[derive(Clone, Debug)]
pub struct LiveKitRequest {
    /// The request message.
    pub call: LiveKitCall,
    /// How the body was encoded.
    pub encoding: Encoding,
    /// The bearer token, as sent.
    pub token: String,
    /// The token's verified claims (grants, issuer, lifetime).
    pub claims: Claims,
}

/// A local stand-in for LiveKit server's Twirp API (`/twirp/livekit.*`).
///
/// Served under [`url`](Self::url):
///
/// - `POST /twirp/livekit.RoomService/CreateRoom` (grant `video.roomCreate`;
///   an existing room of that name is answered as is);
/// - `POST /twirp/livekit.AgentDispatchService/CreateDispatch` (grant
///   `video.roomAdmin` with `video.room` equal to the request's room);
/// - `POST /twirp/livekit.SIP/CreateSIPParticipant` (grant `sip.call`; the
///   trunk must be [`SIP_TRUNK_ID`](Self::SIP_TRUNK_ID) or one added with
///   [`add_sip_trunk`](Self::add_sip_trunk), else `not_found`).
///
/// Bodies are protobuf (`application/protobuf`) or protobuf JSON
/// (`application/json`); the answer uses the request's encoding. Errors are
/// Twirp error JSON (`{"code": …, "msg": …, "meta": …}`) with Twirp's HTTP
/// status — except where LiveKit server's API-key middleware answers before
/// Twirp does, as it does: a token that does not parse, names an unknown API
/// key, or fails verification (signature, `exp`, `nbf`) gets a `401` with a
/// plain-text body (which, like LiveKit's, repeats the token). A request with
/// no `Authorization` header reaches Twirp without grants and is refused
/// `unauthenticated` "permissions denied", like one lacking the grant.
///
/// Not modelled: the other methods, room lifetimes, participants joining,
/// agent jobs. Every request is recorded raw ([`raw_requests`](Self::raw_requests));
/// accepted ones also decoded ([`requests`](Self::requests)).
/// Dropping the handle shuts the server down.
pub struct LiveKitServer {
    server: Server,
    state: Arc<Mutex<LiveKitState>>,
}

impl std::fmt::Debug for LiveKitServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

struct LiveKitState {
    api_key_known: bool,
    trunks: HashSet<String>,
    rooms: HashMap<String, proto::Room>,
    dial_failure: Option<(u16, String)>,
    requests: Vec<LiveKitRequest>,
    raw: Vec<RecordedRequest>,
}

impl LiveKitServer {
    /// The API key the stand-in knows.
    pub const API_KEY: &'static str = "APIwardenTestKey";
    /// Its secret (LiveKit requires at least 32 characters).
    pub const API_SECRET: &'static str = "canary-livekit-secret-7f3e9a1c5b2d4e6f";
    /// The outbound SIP trunk that exists from the start.
    pub const SIP_TRUNK_ID: &'static str = "ST_wardenTestTrunk";

    /// Starts the stand-in on `127.0.0.1:0`.
    pub async fn start() -> LiveKitServer {
        let state = Arc::new(Mutex::new(LiveKitState {
            api_key_known: true,
            trunks: HashSet::from([LiveKitServer::SIP_TRUNK_ID.to_owned()]),
            rooms: HashMap::new(),
            dial_failure: None,
            requests: Vec::new(),
            raw: Vec::new(),
        }));
        let router = Router::new().fallback(handle).with_state(state.clone());
        LiveKitServer {
            server: Server::start(router).await,
            state,
        }
    }

    /// `http://127.0.0.1:PORT`, the URL a LiveKit client is configured with.
    pub fn url(&self) -> String {
        self.server.origin()
    }

    /// Adds an outbound SIP trunk that `CreateSIPParticipant` accepts.
    pub fn add_sip_trunk(&self, trunk_id: &str) {
        self.lock().trunks.insert(trunk_id.to_owned());
    }

    /// Forgets [`API_KEY`](Self::API_KEY), as deleting the key in LiveKit
    /// does: every authenticated request is answered `401` "invalid API key".
    pub fn revoke_api_key(&self) {
        self.lock().api_key_known = false;
    }

    /// Makes every following dial that waits for the answer
    /// (`wait_until_answered`) fail with that SIP status, the way LiveKit
    /// reports it: the Twirp code livekit/protocol maps the status to, message
    /// `sip status {code}: {reason}`, meta `sip_status_code` and `sip_status`.
    /// A dial that does not wait succeeds (LiveKit answers before the callee).
    pub fn fail_dials(&self, sip_status: u16, reason: &str) {
        self.lock().dial_failure = Some((sip_status, reason.to_owned()));
    }

    /// [`fail_dials`](Self::fail_dials) with 486 Busy Here.
    pub fn dial_busy(&self) {
        self.fail_dials(486, "Busy Here");
    }

    /// Dials are answered again.
    pub fn answer_dials(&self) {
        self.lock().dial_failure = None;
    }

    /// Every request accepted so far, decoded, in order.
    pub fn requests(&self) -> Vec<LiveKitRequest> {
        self.lock().requests.clone()
    }

    /// Every request received so far, accepted or not, as sent.
    pub fn raw_requests(&self) -> Vec<RecordedRequest> {
        self.lock().raw.clone()
    }

    /// The accepted `CreateRoom` requests.
    pub fn create_room_requests(&self) -> Vec<proto::CreateRoomRequest> {
        self.calls(|call| match call {
            LiveKitCall::CreateRoom(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// The accepted `CreateDispatch` requests.
    pub fn dispatch_requests(&self) -> Vec<proto::CreateAgentDispatchRequest> {
        self.calls(|call| match call {
            LiveKitCall::CreateDispatch(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// The accepted `CreateSIPParticipant` requests.
    pub fn sip_participant_requests(&self) -> Vec<proto::CreateSipParticipantRequest> {
        self.calls(|call| match call {
            LiveKitCall::CreateSipParticipant(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// The rooms that exist, by name.
    pub fn room(&self, name: &str) -> Option<proto::Room> {
        self.lock().rooms.get(name).cloned()
    }

    fn calls<T>(&self, pick: impl Fn(&LiveKitCall) -> Option<T>) -> Vec<T> {
        self.lock()
            .requests
            .iter()
            .filter_map(|request| pick(&request.call))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, LiveKitState> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<LiveKitState>) -> MutexGuard<'_, LiveKitState> {
    // A panicking test thread must not take the server down with it.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Twirp error: code and message, optional meta.
struct TwirpError {
    code: &'static str,
    msg: String,
    meta: Map<String, Value>,
}

impl TwirpError {
    fn new(code: &'static str, msg: impl Into<String>) -> TwirpError {
        TwirpError {
            code,
            msg: msg.into(),
            meta: Map::new(),
        }
    }

    fn permission_denied() -> TwirpError {
        // LiveKit wraps ErrPermissionDenied with twirp.Unauthenticated.
        TwirpError::new("unauthenticated", "permissions denied")
    }

    fn response(self) -> Response {
        let mut body = json!({ "code": self.code, "msg": self.msg });
        if !self.meta.is_empty() {
            body["meta"] = Value::Object(self.meta);
        }
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = twirp_status(self.code);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        response
    }
}

/// Twirp's HTTP status for an error code.
fn twirp_status(code: &str) -> StatusCode {
    match code {
        "canceled" | "deadline_exceeded" => StatusCode::REQUEST_TIMEOUT,
        "invalid_argument" | "malformed" | "out_of_range" => StatusCode::BAD_REQUEST,
        "not_found" | "bad_route" => StatusCode::NOT_FOUND,
        "already_exists" | "aborted" => StatusCode::CONFLICT,
        "permission_denied" => StatusCode::FORBIDDEN,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
        "failed_precondition" => StatusCode::PRECONDITION_FAILED,
        "unimplemented" => StatusCode::NOT_IMPLEMENTED,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The Twirp code livekit/protocol's `sipCodeToGRPCCode` gives a SIP status
/// (the listed codes; others by class, as its fallback does).
fn sip_twirp_code(sip_status: u16) -> &'static str {
    match sip_status {
        401 | 402 | 403 | 433 | 470 | 603 | 607 | 608 => "permission_denied",
        301 | 302 | 404 | 410 | 481 | 604 => "not_found",
        407 | 428 | 436 | 437 | 438 | 494 => "unauthenticated",
        408 | 504 => "deadline_exceeded",
        409 | 412 | 482 | 483 | 500..=503 => "failed_precondition",
        416 => "out_of_range",
        440 | 480 | 486 | 600 => "resource_exhausted",
        487 | 491 => "aborted",
        500..=599 => "failed_precondition",
        _ => "invalid_argument",
    }
}

/// A `401` with a plain-text body, as LiveKit's API-key middleware answers.
fn middleware_401(message: String) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn handle(State(state): State<Arc<Mutex<LiveKitState>>>, request: Request) -> Response {
    let recorded = RecordedRequest::read(request).await;
    lock(&state).raw.push(recorded.clone());
    match serve(&state, &recorded) {
        Ok(response) | Err(response) => response,
    }
}

/// The middleware, then Twirp's routing and decoding, then the method.
#[expect(
    clippy::result_large_err,
    reason = "both arms are the response; Err only marks an early refusal"
)]
fn serve(state: &Mutex<LiveKitState>, request: &RecordedRequest) -> Result<Response, Response> {
    // API-key middleware (livekit-server pkg/service/auth.go).
    let auth = match request.header("authorization") {
        None => None,
        Some(value) => {
            let Some(token) = value.strip_prefix("Bearer ") else {
                return Err(middleware_401(
                    "invalid authorization header. Must start with Bearer ".to_owned(),
                ));
            };
            let Ok(unverified) = Claims::from_unverified(token) else {
                return Err(middleware_401("invalid authorization token".to_owned()));
            };
            if unverified.iss != LiveKitServer::API_KEY || !lock(state).api_key_known {
                return Err(middleware_401(format!(
                    "invalid API key: {}",
                    unverified.iss
                )));
            }
            let verifier =
                TokenVerifier::with_api_key(LiveKitServer::API_KEY, LiveKitServer::API_SECRET);
            match verifier.verify(token) {
                Ok(claims) => Some((token.to_owned(), claims)),
                Err(error) => {
                    return Err(middleware_401(format!(
                        "invalid token: {token}, error: {error}"
                    )));
                }
            }
        }
    };

    // Twirp routing: POST, a known method, a known content type.
    if request.method != Method::POST.as_str() {
        return Err(TwirpError::new(
            "bad_route",
            format!(
                "unsupported method {} (only POST is allowed)",
                request.method
            ),
        )
        .response());
    }
    let method = match request.path.as_str() {
        "/twirp/livekit.RoomService/CreateRoom" => Create::Room,
        "/twirp/livekit.AgentDispatchService/CreateDispatch" => Create::Dispatch,
        "/twirp/livekit.SIP/CreateSIPParticipant" => Create::SipParticipant,
        path => {
            return Err(
                TwirpError::new("bad_route", format!("no handler for path {path:?}")).response(),
            );
        }
    };
    let content_type = request.header("content-type").unwrap_or("");
    let encoding = match content_type.split(';').next().map(str::trim) {
        Some(PROTOBUF) => Encoding::Protobuf,
        Some(JSON) => Encoding::Json,
        _ => {
            return Err(TwirpError::new(
                "bad_route",
                format!("unexpected Content-Type: {content_type:?}"),
            )
            .response());
        }
    };

    let ctx = Ctx {
        state,
        encoding,
        auth,
        body: &request.body,
    };
    let result = match method {
        Create::Room => ctx.create_room(),
        Create::Dispatch => ctx.create_dispatch(),
        Create::SipParticipant => ctx.create_sip_participant(),
    };
    result.map_err(TwirpError::response)
}

/// The methods served, all `Create…`.
enum Create {
    Room,
    Dispatch,
    SipParticipant,
}

struct Ctx<'a> {
    state: &'a Mutex<LiveKitState>,
    encoding: Encoding,
    auth: Option<(String, Claims)>,
    body: &'a [u8],
}

impl Ctx<'_> {
    fn decode<T: Message + Default + serde::de::DeserializeOwned>(&self) -> Result<T, TwirpError> {
        match self.encoding {
            Encoding::Protobuf => T::decode(self.body).map_err(|error| {
                TwirpError::new(
                    "malformed",
                    format!("the protobuf request could not be decoded: {error}"),
                )
            }),
            Encoding::Json => serde_json::from_slice(self.body).map_err(|error| {
                TwirpError::new(
                    "malformed",
                    format!("the json request could not be decoded: {error}"),
                )
            }),
        }
    }

    fn encode<T: Message + serde::Serialize>(&self, message: &T) -> Response {
        let (body, content_type) = match self.encoding {
            Encoding::Protobuf => (message.encode_to_vec(), PROTOBUF),
            Encoding::Json => (
                serde_json::to_vec(message).expect("protobuf JSON mapping"),
                JSON,
            ),
        };
        let mut response = Response::new(Body::from(body));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }

    /// The claims, if the grant check `allowed` passes.
    fn granted(&self, allowed: impl Fn(&Claims) -> bool) -> Result<&(String, Claims), TwirpError> {
        self.auth
            .as_ref()
            .filter(|(_, claims)| allowed(claims))
            .ok_or_else(TwirpError::permission_denied)
    }

    fn record(&self, call: LiveKitCall, (token, claims): &(String, Claims)) {
        lock(self.state).requests.push(LiveKitRequest {
            call,
            encoding: self.encoding,
            token: token.clone(),
            claims: claims.clone(),
        });
    }

    fn create_room(&self) -> Result<Response, TwirpError> {
        let request: proto::CreateRoomRequest = self.decode()?;
        let auth = self.granted(|claims| claims.video.room_create)?;
        self.record(LiveKitCall::CreateRoom(request.clone()), auth);
        if request.name.is_empty() {
            return Err(TwirpError::new(
                "invalid_argument",
                "room name cannot be empty",
            ));
        }
        let (seconds, millis) = now();
        let room = lock(self.state)
            .rooms
            .entry(request.name.clone())
            .or_insert_with(|| proto::Room {
                sid: format!("RM_{}", random_hex::<6>()),
                name: request.name.clone(),
                empty_timeout: if request.empty_timeout == 0 {
                    300
                } else {
                    request.empty_timeout
                },
                departure_timeout: if request.departure_timeout == 0 {
                    20
                } else {
                    request.departure_timeout
                },
                max_participants: request.max_participants,
                creation_time: seconds,
                creation_time_ms: millis,
                metadata: request.metadata.clone(),
                ..Default::default()
            })
            .clone();
        Ok(self.encode(&room))
    }

    fn create_dispatch(&self) -> Result<Response, TwirpError> {
        let request: proto::CreateAgentDispatchRequest = self.decode()?;
        let auth =
            self.granted(|claims| claims.video.room_admin && claims.video.room == request.room)?;
        self.record(LiveKitCall::CreateDispatch(request.clone()), auth);
        let (seconds, _) = now();
        Ok(self.encode(&proto::AgentDispatch {
            id: format!("AD_{}", random_hex::<6>()),
            agent_name: request.agent_name,
            room: request.room,
            metadata: request.metadata,
            state: Some(proto::AgentDispatchState {
                created_at: seconds,
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    fn create_sip_participant(&self) -> Result<Response, TwirpError> {
        let request: proto::CreateSipParticipantRequest = self.decode()?;
        let auth = self.granted(|claims| claims.sip.call)?;
        self.record(LiveKitCall::CreateSipParticipant(request.clone()), auth);
        let (known_trunk, failure) = {
            let state = lock(self.state);
            (
                state.trunks.contains(&request.sip_trunk_id),
                state.dial_failure.clone(),
            )
        };
        if !known_trunk {
            return Err(TwirpError::new(
                "not_found",
                "requested sip trunk does not exist",
            ));
        }
        if request.wait_until_answered
            && let Some((sip_status, reason)) = failure
        {
            let mut error = TwirpError::new(
                sip_twirp_code(sip_status),
                format!("sip status {sip_status}: {reason}"),
            );
            error.meta.insert(
                "sip_status_code".to_owned(),
                Value::from(sip_status.to_string()),
            );
            error
                .meta
                .insert("sip_status".to_owned(), Value::from(reason));
            return Err(error);
        }
        let identity = if request.participant_identity.is_empty() {
            format!("sip_{}", request.sip_call_to)
        } else {
            request.participant_identity.clone()
        };
        Ok(self.encode(&proto::SipParticipantInfo {
            participant_id: format!("PA_{}", random_hex::<6>()),
            participant_identity: identity,
            room_name: request.room_name,
            sip_call_id: format!("SCL_{}", random_hex::<6>()),
        }))
    }
}

/// Now, in seconds and milliseconds since the Unix epoch.
fn now() -> (i64, i64) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
    )
}

//! Creating rooms, dispatching the agent and dialling, against the LiveKit
//! stand-in over loopback HTTP, and the stand-in's own checks.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, SIPGrants, VideoGrants};
use livekit_protocol as proto;
use prost::Message;
use secrecy::SecretString;
use warden_livekit::{LiveKit, LiveKitError, Operation, room_name};
use warden_testing::{Encoding, LiveKitServer};

use crate::support::{client_for, config_for};

const AGENT: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const PHONE: &str = "+14155550123";

#[tokio::test]
async fn create_room_sends_the_exact_name_and_metadata() {
    let server = LiveKitServer::start().await;
    let livekit = client_for(&server);
    let name = room_name(AGENT, PHONE);
    let metadata = r#"{"agent_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","direction":"outbound"}"#;

    let room = livekit.create_room(&name, metadata).await.expect("room");

    assert_eq!(room.name, name);
    assert_eq!(room.metadata, metadata);
    assert!(room.sid.starts_with("RM_"), "{}", room.sid);
    let requests = server.create_room_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].name, format!("agent-{AGENT}-{PHONE}"));
    assert_eq!(requests[0].metadata, metadata);
    let recorded = server.requests();
    assert_eq!(recorded[0].encoding, Encoding::Protobuf);
    assert!(recorded[0].claims.video.room_create);
    assert_eq!(recorded[0].claims.iss, LiveKitServer::API_KEY);
    assert_eq!(server.room(&name).map(|r| r.sid), Some(room.sid));
}

#[tokio::test]
async fn dispatch_names_the_configured_agent_and_carries_the_metadata() {
    let server = LiveKitServer::start().await;
    let livekit = client_for(&server);
    let name = room_name(AGENT, PHONE);
    let metadata = r#"{"mcp_url":"http://warden/mcp","token":"wmcp_abc"}"#;

    let dispatch = livekit
        .dispatch_agent(&name, metadata)
        .await
        .expect("dispatch");

    assert_eq!(dispatch.agent_name, "front-desk");
    assert_eq!(dispatch.room, name);
    assert!(dispatch.id.starts_with("AD_"), "{}", dispatch.id);
    let requests = server.dispatch_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].agent_name, "front-desk");
    assert_eq!(requests[0].room, name);
    assert_eq!(requests[0].metadata, metadata);
    let claims = &server.requests()[0].claims;
    assert!(claims.video.room_admin);
    assert_eq!(claims.video.room, name);
    assert!(!format!("{dispatch:?}").contains("wmcp_abc"));
}

#[tokio::test]
async fn dial_goes_through_the_trunk_and_waits_for_the_answer() {
    let server = LiveKitServer::start().await;
    let livekit = client_for(&server);
    let name = room_name(AGENT, PHONE);

    let participant = livekit
        .dial(&name, PHONE, "callee")
        .await
        .expect("answered");

    assert_eq!(participant.room_name, name);
    assert_eq!(participant.participant_identity, "callee");
    assert!(participant.sip_call_id.starts_with("SCL_"));
    let requests = server.sip_participant_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].sip_trunk_id, LiveKitServer::SIP_TRUNK_ID);
    assert_eq!(requests[0].sip_call_to, PHONE);
    assert_eq!(requests[0].room_name, name);
    assert_eq!(requests[0].participant_identity, "callee");
    assert!(requests[0].wait_until_answered);
    assert_eq!(
        requests[0].ringing_timeout.as_ref().map(|d| d.seconds),
        Some(30)
    );
    assert!(server.requests()[0].claims.sip.call);
}

#[tokio::test]
async fn a_busy_line_is_a_busy_error() {
    let server = LiveKitServer::start().await;
    server.dial_busy();
    let error = client_for(&server)
        .dial("room", PHONE, "callee")
        .await
        .unwrap_err();
    assert!(
        matches!(error, LiveKitError::Busy { sip_status: 486 }),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "the line is busy (SIP 486)");
}

#[tokio::test]
async fn unanswered_and_declined_calls_are_told_apart() {
    let server = LiveKitServer::start().await;
    let livekit = client_for(&server);
    server.fail_dials(480, "Temporarily Unavailable");
    let error = livekit.dial("room", PHONE, "callee").await.unwrap_err();
    assert!(
        matches!(
            error,
            LiveKitError::NotAnswered {
                sip_status: Some(480)
            }
        ),
        "{error:?}"
    );
    server.fail_dials(603, "Decline");
    let error = livekit.dial("room", PHONE, "callee").await.unwrap_err();
    assert!(
        matches!(&error, LiveKitError::CallFailed { sip_status: 603, reason } if reason == "Decline"),
        "{error:?}"
    );
    server.answer_dials();
    livekit
        .dial("room", PHONE, "callee")
        .await
        .expect("answered again");
}

#[tokio::test]
async fn an_unknown_trunk_is_not_found() {
    let server = LiveKitServer::start().await;
    let mut config = config_for(&server);
    config.sip_trunk_id = Some("ST_doesNotExist".to_owned());
    let error = LiveKit::new(config)
        .unwrap()
        .dial("room", PHONE, "callee")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LiveKitError::NotFound { operation: Operation::Dial, message }
            if message == "requested sip trunk does not exist"),
        "{error:?}"
    );
}

#[tokio::test]
async fn dialling_needs_a_trunk_and_an_e164_number() {
    let server = LiveKitServer::start().await;
    let mut config = config_for(&server);
    config.sip_trunk_id = None;
    let error = LiveKit::new(config)
        .unwrap()
        .dial("room", PHONE, "callee")
        .await
        .unwrap_err();
    assert!(matches!(error, LiveKitError::NoSipTrunk), "{error:?}");
    let error = client_for(&server)
        .dial("room", "415-555-0123", "callee")
        .await
        .unwrap_err();
    assert!(
        matches!(error, LiveKitError::InvalidPhoneNumber(_)),
        "{error:?}"
    );
    assert!(server.raw_requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_wrong_secret_is_unauthorized() {
    let server = LiveKitServer::start().await;
    let mut config = config_for(&server);
    config.api_secret = SecretString::from("not-the-secret-not-the-secret-00");
    let livekit = LiveKit::new(config).unwrap();
    for error in [
        livekit.create_room("room", "{}").await.unwrap_err(),
        livekit.dispatch_agent("room", "{}").await.unwrap_err(),
        livekit.dial("room", PHONE, "callee").await.unwrap_err(),
    ] {
        assert!(
            matches!(error, LiveKitError::Unauthorized { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("WARDEN_LIVEKIT_API_SECRET"), "{message}");
        assert!(!message.contains("eyJ"), "no token in: {message}");
    }
    // LiveKit's middleware refused them: its plain-text 401 repeats the token.
    let raw = server.raw_requests();
    assert_eq!(raw.len(), 3);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_revoked_api_key_is_unauthorized() {
    let server = LiveKitServer::start().await;
    server.revoke_api_key();
    let error = client_for(&server)
        .create_room("room", "{}")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LiveKitError::Unauthorized { operation: Operation::CreateRoom, detail }
            if detail == "HTTP 401, a 33-byte non-Twirp body"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_livekit_is_unreachable() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let server = LiveKitServer::start().await;
    let mut config = config_for(&server);
    config.url = url.clone();
    let error = LiveKit::new(config)
        .unwrap()
        .create_room("room", "{}")
        .await
        .unwrap_err();
    match &error {
        LiveKitError::Unreachable { url: at, reason } => {
            assert_eq!(at, &url);
            assert!(reason.to_lowercase().contains("connect"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

/// Posts a Twirp request by hand, with `token`.
async fn post(
    server: &LiveKitServer,
    path: &str,
    content_type: &str,
    token: &str,
    body: Vec<u8>,
) -> (u16, String, Vec<u8>) {
    let response = crate::support::http_client()
        .post(format!("{}{path}", server.url()))
        .header("content-type", content_type)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("stand-in answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

fn token(video: VideoGrants, sip: SIPGrants) -> String {
    AccessToken::with_api_key(LiveKitServer::API_KEY, LiveKitServer::API_SECRET)
        .with_ttl(Duration::from_secs(60))
        .with_grants(video)
        .with_sip_grants(sip)
        .to_jwt()
        .unwrap()
}

fn assert_permission_denied((status, content_type, body): (u16, String, Vec<u8>)) {
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/json");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"code": "unauthenticated", "msg": "permissions denied"})
    );
}

#[tokio::test]
async fn the_stand_in_refuses_tokens_lacking_the_grant() {
    let server = LiveKitServer::start().await;
    let room = proto::CreateRoomRequest {
        name: "r".to_owned(),
        ..Default::default()
    }
    .encode_to_vec();
    // roomList and roomAdmin, but not roomCreate.
    let lacking = token(
        VideoGrants {
            room_list: true,
            room_admin: true,
            room: "r".to_owned(),
            ..Default::default()
        },
        SIPGrants {
            admin: true,
            call: false,
        },
    );
    assert_permission_denied(
        post(
            &server,
            "/twirp/livekit.RoomService/CreateRoom",
            "application/protobuf",
            &lacking,
            room.clone(),
        )
        .await,
    );
    // roomAdmin, but for another room.
    let dispatch = proto::CreateAgentDispatchRequest {
        agent_name: "a".to_owned(),
        room: "other".to_owned(),
        ..Default::default()
    }
    .encode_to_vec();
    assert_permission_denied(
        post(
            &server,
            "/twirp/livekit.AgentDispatchService/CreateDispatch",
            "application/protobuf",
            &lacking,
            dispatch,
        )
        .await,
    );
    // SIP admin is not SIP call.
    let dial = proto::CreateSipParticipantRequest {
        sip_trunk_id: LiveKitServer::SIP_TRUNK_ID.to_owned(),
        sip_call_to: PHONE.to_owned(),
        room_name: "r".to_owned(),
        ..Default::default()
    }
    .encode_to_vec();
    assert_permission_denied(
        post(
            &server,
            "/twirp/livekit.SIP/CreateSIPParticipant",
            "application/protobuf",
            &lacking,
            dial,
        )
        .await,
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // The same request with the grant is accepted.
    let granted = token(
        VideoGrants {
            room_create: true,
            ..Default::default()
        },
        SIPGrants::default(),
    );
    let (status, _, body) = post(
        &server,
        "/twirp/livekit.RoomService/CreateRoom",
        "application/protobuf",
        &granted,
        room,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(proto::Room::decode(body.as_slice()).unwrap().name, "r");
}

#[tokio::test]
async fn the_stand_in_speaks_protobuf_json_too() {
    let server = LiveKitServer::start().await;
    let granted = token(
        VideoGrants {
            room_create: true,
            ..Default::default()
        },
        SIPGrants::default(),
    );
    let (status, content_type, body) = post(
        &server,
        "/twirp/livekit.RoomService/CreateRoom",
        "application/json",
        &granted,
        br#"{"name":"json-room","metadata":"{\"a\":1}","emptyTimeout":60}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/json");
    let room: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(room["name"], "json-room");
    assert_eq!(room["metadata"], "{\"a\":1}");
    assert_eq!(room["emptyTimeout"], 60);
    assert_eq!(server.requests()[0].encoding, Encoding::Json);
    assert_eq!(server.create_room_requests()[0].empty_timeout, 60);

    // A busy dial in JSON: the Twirp error with LiveKit's SIP meta.
    server.dial_busy();
    let sip = token(
        VideoGrants::default(),
        SIPGrants {
            admin: false,
            call: true,
        },
    );
    let (status, _, body) = post(
        &server,
        "/twirp/livekit.SIP/CreateSIPParticipant",
        "application/json",
        &sip,
        format!(
            r#"{{"sipTrunkId":"{}","sipCallTo":"{PHONE}","roomName":"json-room","waitUntilAnswered":true}}"#,
            LiveKitServer::SIP_TRUNK_ID
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(status, 429);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        error,
        serde_json::json!({
            "code": "resource_exhausted",
            "msg": "sip status 486: Busy Here",
            "meta": {"sip_status_code": "486", "sip_status": "Busy Here"}
        })
    );
}

#[tokio::test]
async fn the_stand_in_refuses_expired_and_foreign_tokens() {
    let server = LiveKitServer::start().await;
    let mut claims = livekit_api::access_token::Claims {
        iss: LiveKitServer::API_KEY.to_owned(),
        exp: crate::support::now() - 600,
        nbf: crate::support::now() - 1200,
        ..Default::default()
    };
    claims.video.room_create = true;
    let expired = crate::support::sign_claims(&claims, LiveKitServer::API_SECRET);
    let room = proto::CreateRoomRequest {
        name: "r".to_owned(),
        ..Default::default()
    }
    .encode_to_vec();
    let (status, content_type, body) = post(
        &server,
        "/twirp/livekit.RoomService/CreateRoom",
        "application/protobuf",
        &expired,
        room.clone(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(String::from_utf8_lossy(&body).starts_with("invalid token: "));

    claims.exp = crate::support::now() + 600;
    let foreign = crate::support::sign_claims(&claims, "another-secret-another-secret-000");
    let (status, _, _) = post(
        &server,
        "/twirp/livekit.RoomService/CreateRoom",
        "application/protobuf",
        &foreign,
        room,
    )
    .await;
    assert_eq!(status, 401);
    assert!(server.requests().is_empty());
}

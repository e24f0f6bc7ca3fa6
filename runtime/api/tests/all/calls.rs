//! Phone calls through LiveKit (`POST /v1/agents/{id}/calls`), inbound
//! sessions by room name, and LiveKit's webhooks — against the LiveKit
//! stand-in, which checks tokens and grants as LiveKit does.

use crate::mcp::{Mcp, agent, attach, business_hours_config, tool_id};
use crate::support::{TestDb, on_both_backends};
use crate::*;
use base64::Engine as _;
use livekit_api::access_token::AccessToken;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;
use warden_core::LiveKitLink;
use warden_livekit::LiveKitConfig;
use warden_testing::LiveKitServer;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    a_call_creates_the_room_dispatches_the_worker_and_dials,
    livekit_failures_fail_the_session,
    room_finished_ends_the_session_and_tampered_webhooks_change_nothing,
    inbound_sessions_by_room_name,
    replayed_webhooks_change_nothing,
);

const PHONE: &str = "+15551234567";

pub(crate) fn livekit(lk: &LiveKitServer, trunk: bool) -> CoreSettings {
    let config = LiveKitConfig {
        url: lk.url(),
        api_key: LiveKitServer::API_KEY.to_owned(),
        api_secret: LiveKitServer::API_SECRET.to_owned().into(),
        agent_name: "front-desk-worker".to_owned(),
        sip_trunk_id: trunk.then(|| LiveKitServer::SIP_TRUNK_ID.to_owned()),
    };
    CoreSettings {
        livekit: Some(LiveKitLink::new(config).unwrap()),
        ..CoreSettings::default()
    }
}

/// An organization with an agent that uses `business_hours`: (API key, agent id).
async fn front_desk(server: &Server, org: &str) -> (String, String) {
    let key = server.org(org).await;
    let hours = tool_id(server, &key, "business_hours").await;
    let agent = agent(server, &key, "Front desk").await;
    attach(server, &key, &agent, &hours, business_hours_config()).await;
    (key, agent)
}

async fn install_hours(server: &Server) {
    server
        .core
        .install_platform_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap();
}

/// A JSON-RPC request to `/mcp` with a session token.
pub(crate) async fn mcp(server: &Server, token: &str, method: &str, params: Value) -> Reply {
    let client = Mcp {
        server,
        token: token.to_owned(),
    };
    client
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
        .await
}

/// The `Authorization` header LiveKit server puts on a webhook: a token
/// signed with the API secret whose `sha256` claim is the body's hash.
pub(crate) fn signed(body: &str, secret: &str) -> String {
    signed_for(body, secret, Duration::from_secs(300))
}

/// [`signed`] with a token valid for `ttl`.
fn signed_for(body: &str, secret: &str, ttl: Duration) -> String {
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()));
    AccessToken::with_api_key(LiveKitServer::API_KEY, secret)
        .with_ttl(ttl)
        .with_sha256(&digest)
        .to_jwt()
        .unwrap()
}

pub(crate) async fn webhook(server: &Server, body: &str, authorization: &str) -> Reply {
    server
        .send(
            "POST",
            "/livekit/webhook",
            None,
            &[
                ("content-type", "application/webhook+json"),
                ("authorization", authorization),
            ],
            body.as_bytes().to_vec(),
        )
        .await
}

fn event(kind: &str, room: &str, participant: Option<&str>) -> String {
    event_with_id(kind, room, participant, &format!("EV_{kind}"))
}

/// A WebhookEvent as LiveKit server sends it, with the event id `id`.
fn event_with_id(kind: &str, room: &str, participant: Option<&str>, id: &str) -> String {
    let mut event = json!({
        "event": kind,
        "room": { "sid": "RM_test", "name": room },
        "id": id,
        "createdAt": "1764000000",
    });
    if let Some(identity) = participant {
        event["participant"] = json!({ "sid": "PA_test", "identity": identity });
    }
    event.to_string()
}

async fn a_call_creates_the_room_dispatches_the_worker_and_dials(db: &TestDb) {
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, true), ApiSettings::default()).await;
    install_hours(&server).await;
    let (key, agent) = front_desk(&server, "acme").await;

    let started = server
        .json(
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            &key,
            &json!({ "phone_number": PHONE }),
        )
        .await;
    assert_eq!(
        started.status,
        201,
        "{}",
        String::from_utf8_lossy(&started.body)
    );
    let started = started.json();
    let room = format!("agent-{agent}-{PHONE}");
    assert_eq!(started["room_name"], room);
    assert_eq!(started["status"], "active");
    let session_id = started["call_session_id"].as_str().unwrap().to_owned();

    // The room: exact name, metadata naming agent and session, no token.
    let rooms = lk.create_room_requests();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].name, room);
    let room_metadata: Value = serde_json::from_str(&rooms[0].metadata).unwrap();
    assert_eq!(
        room_metadata,
        json!({ "agent_id": agent, "call_session_id": session_id })
    );

    // The dispatch: the configured worker, with a working MCP URL and token.
    let dispatches = lk.dispatch_requests();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0].agent_name, "front-desk-worker");
    assert_eq!(dispatches[0].room, room);
    let metadata: Value = serde_json::from_str(&dispatches[0].metadata).unwrap();
    assert_eq!(metadata["mcp_url"], format!("http://{}/mcp", server.addr));
    assert_eq!(metadata["call_session_id"], session_id.as_str());
    let token = metadata["session_token"].as_str().unwrap().to_owned();
    let listed = mcp(&server, &token, "tools/list", json!({})).await;
    assert_eq!(
        listed.status,
        200,
        "{}",
        String::from_utf8_lossy(&listed.body)
    );
    let names: Vec<_> = listed.json()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"business_hours__is_open".to_owned()),
        "{names:?}"
    );
    let called = mcp(
        &server,
        &token,
        "tools/call",
        json!({ "name": "business_hours__is_open", "arguments": { "at": "2026-03-09T14:30" } }),
    )
    .await
    .json();
    assert_eq!(called["result"]["isError"], false, "{called}");

    // The dial: through the trunk, to the number, into the room.
    let dials = lk.sip_participant_requests();
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].sip_trunk_id, LiveKitServer::SIP_TRUNK_ID);
    assert_eq!(dials[0].sip_call_to, PHONE);
    assert_eq!(dials[0].room_name, room);

    // The token reached LiveKit only in the dispatch metadata, never the API's answer.
    assert!(!started.to_string().contains(&token));
    assert!(!rooms[0].metadata.contains(&token));
    assert_never_logged(&token);
    assert_never_logged(LiveKitServer::API_SECRET);

    // Another organization's agent, a bad number: refused, nothing sent to LiveKit.
    let (other_key, _) = front_desk(&server, "globex").await;
    server
        .json(
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            &other_key,
            &json!({ "phone_number": PHONE }),
        )
        .await
        .problem(404, "not_found");
    // ...and through its console session alike.
    let console = server.console(&other_key).await;
    server
        .call(
            &console,
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            Some(&json!({ "phone_number": PHONE })),
        )
        .await
        .problem(404, "not_found");
    server
        .json(
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            &key,
            &json!({ "phone_number": "555-1234" }),
        )
        .await
        .problem(422, "invalid_body");
    assert_eq!(lk.create_room_requests().len(), 1);
    server.stop().await;
}

async fn livekit_failures_fail_the_session(db: &TestDb) {
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, true), ApiSettings::default()).await;
    install_hours(&server).await;
    let (key, agent) = front_desk(&server, "acme").await;
    let org = server
        .core
        .authenticate(&key)
        .await
        .unwrap()
        .organization_id;
    let path = format!("/v1/agents/{agent}/calls");
    let body = json!({ "phone_number": PHONE });
    let call = || server.json("POST", &path, &key, &body);

    lk.dial_busy();
    let busy = call().await.problem(409, "line_busy");
    assert!(busy["detail"].as_str().unwrap().contains("busy"), "{busy}");
    lk.answer_dials();
    lk.revoke_api_key();
    let refused = call().await.problem(502, "livekit_unauthorized");
    assert!(!refused.to_string().contains(LiveKitServer::API_SECRET));

    // Both sessions failed, their tokens revoked.
    let sessions = db
        .store
        .list_call_sessions(&org, Some(&agent), &warden_core::PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(sessions.len(), 2);
    for session in &sessions {
        assert_eq!(session.status, "failed");
        assert!(session.token_hash.is_none() && session.ended_at.is_some());
    }
    // The busy call's dispatched token no longer opens MCP.
    let token = serde_json::from_str::<Value>(&lk.dispatch_requests()[0].metadata).unwrap()
        ["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    mcp(&server, &token, "tools/list", json!({}))
        .await
        .problem(401, "unauthenticated");
    server.stop().await;

    // Without LiveKit configuration: 503, never a pretend success.
    let server = Server::default(db).await;
    let (key, agent) = front_desk(&server, "initech").await;
    let unconfigured = server
        .json(
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            &key,
            &json!({ "phone_number": PHONE }),
        )
        .await
        .problem(503, "not_configured");
    assert!(
        unconfigured["detail"]
            .as_str()
            .unwrap()
            .contains("LiveKit is not configured")
    );
    let body = event("room_finished", "agent-x-+1555", None);
    webhook(&server, &body, &signed(&body, LiveKitServer::API_SECRET))
        .await
        .problem(503, "not_configured");
    server.stop().await;
}

async fn room_finished_ends_the_session_and_tampered_webhooks_change_nothing(db: &TestDb) {
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, false), ApiSettings::default()).await;
    install_hours(&server).await;
    let (key, agent) = front_desk(&server, "acme").await;
    let started = server
        .json(
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            &key,
            &json!({ "phone_number": PHONE }),
        )
        .await;
    assert_eq!(started.status, 201);
    // No trunk configured: no dial.
    assert!(lk.sip_participant_requests().is_empty());
    let room = started.json()["room_name"].as_str().unwrap().to_owned();
    let session_id = started.json()["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org = server
        .core
        .authenticate(&key)
        .await
        .unwrap()
        .organization_id;
    let token = serde_json::from_str::<Value>(&lk.dispatch_requests()[0].metadata).unwrap()
        ["session_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A participant joins: recorded on the session.
    let joined = event("participant_joined", &room, Some("phone-+15551234567"));
    let applied = webhook(
        &server,
        &joined,
        &signed(&joined, LiveKitServer::API_SECRET),
    )
    .await;
    assert_eq!(
        applied.status,
        204,
        "{}",
        String::from_utf8_lossy(&applied.body)
    );
    let session = db.store.call_session(&org, &session_id).await.unwrap();
    assert_eq!(
        session.metadata["participants"][0]["event"],
        "participant_joined"
    );
    assert_eq!(
        session.metadata["participants"][0]["identity"],
        "phone-+15551234567"
    );

    // Unsigned, wrongly signed and tampered room_finished: 401, nothing changes.
    let finished = event("room_finished", &room, None);
    webhook(&server, &finished, "")
        .await
        .problem(401, "webhook_refused");
    webhook(
        &server,
        &finished,
        &signed(&finished, "another-secret-another-secret-000"),
    )
    .await
    .problem(401, "webhook_refused");
    let tampered = finished.replace("RM_test", "RM_tamp");
    webhook(
        &server,
        &tampered,
        &signed(&finished, LiveKitServer::API_SECRET),
    )
    .await
    .problem(401, "webhook_refused");
    let session = db.store.call_session(&org, &session_id).await.unwrap();
    assert_eq!(
        (session.status.as_str(), session.ended_at),
        ("active", None)
    );
    assert_eq!(
        mcp(&server, &token, "tools/list", json!({})).await.status,
        200
    );

    // The signed room_finished ends it: the token is refused from now on.
    let ended = webhook(
        &server,
        &finished,
        &signed(&finished, LiveKitServer::API_SECRET),
    )
    .await;
    assert_eq!(ended.status, 204);
    let session = db.store.call_session(&org, &session_id).await.unwrap();
    assert_eq!(session.status, "ended");
    assert!(session.ended_at.is_some() && session.token_hash.is_none());
    mcp(&server, &token, "tools/list", json!({}))
        .await
        .problem(401, "unauthenticated");
    server.stop().await;
}

async fn inbound_sessions_by_room_name(db: &TestDb) {
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, false), ApiSettings::default()).await;
    install_hours(&server).await;
    let (_, agent) = front_desk(&server, "acme").await;
    let worker = server.worker_token().await;
    let open = |body: Value| {
        let server = &server;
        let worker = worker.clone();
        async move {
            server
                .json("POST", "/worker/v1/sessions", &worker, &body)
                .await
        }
    };

    // The agent and number read from a Warden-style room name.
    let room = format!("agent-{agent}-{PHONE}");
    let opened = open(json!({ "room_name": room })).await;
    assert_eq!(
        opened.status,
        201,
        "{}",
        String::from_utf8_lossy(&opened.body)
    );
    let token = opened.json()["session_token"].as_str().unwrap().to_owned();
    let listed = mcp(&server, &token, "tools/list", json!({})).await;
    assert_eq!(listed.status, 200);

    // A room LiveKit named itself, with the agent given: its room_finished ends it.
    let opened = open(json!({ "agent_id": agent, "room_name": "call-_+15557654321_x7Yz" })).await;
    assert_eq!(opened.status, 201);
    let other = opened.json()["session_token"].as_str().unwrap().to_owned();
    let finished = event("room_finished", "call-_+15557654321_x7Yz", None);
    assert_eq!(
        webhook(
            &server,
            &finished,
            &signed(&finished, LiveKitServer::API_SECRET)
        )
        .await
        .status,
        204
    );
    mcp(&server, &other, "tools/list", json!({}))
        .await
        .problem(401, "unauthenticated");
    // The first session, in another room, still works.
    assert_eq!(
        mcp(&server, &token, "tools/list", json!({})).await.status,
        200
    );

    // Names that say nothing, or disagree: refused.
    open(json!({ "room_name": "lobby" }))
        .await
        .problem(422, "invalid_body");
    open(json!({ "room_name": room, "phone_number": PHONE }))
        .await
        .problem(422, "invalid_body");
    open(json!({})).await.problem(422, "invalid_body");
    open(json!({ "room_name": format!("agent-0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e-{PHONE}") }))
        .await
        .problem(404, "not_found");
    server.stop().await;
}

/// A validly signed webhook stays valid for its token's lifetime: sent again
/// (the same request, the same body signed afresh, or concurrently) its event
/// is applied once, and the repeats are answered 204 and change nothing.
async fn replayed_webhooks_change_nothing(db: &TestDb) {
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, false), ApiSettings::default()).await;
    install_hours(&server).await;
    let (key, agent) = front_desk(&server, "acme").await;
    let org = server
        .core
        .authenticate(&key)
        .await
        .unwrap()
        .organization_id;
    let call = || async {
        let started = server
            .json(
                "POST",
                &format!("/v1/agents/{agent}/calls"),
                &key,
                &json!({ "phone_number": PHONE }),
            )
            .await;
        assert_eq!(
            started.status,
            201,
            "{}",
            String::from_utf8_lossy(&started.body)
        );
        let started = started.json();
        let token = serde_json::from_str::<Value>(&lk.dispatch_requests().last().unwrap().metadata)
            .unwrap()["session_token"]
            .as_str()
            .unwrap()
            .to_owned();
        (
            started["room_name"].as_str().unwrap().to_owned(),
            started["call_session_id"].as_str().unwrap().to_owned(),
            token,
        )
    };
    let session = |id: String| {
        let org = org.clone();
        async move { db.store.call_session(&org, &id).await.unwrap() }
    };
    let participants = |id: String| {
        let session = &session;
        async move {
            session(id).await.metadata["participants"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let (room, session_id, _) = call().await;

    // The same signed participant_joined, twice: recorded once.
    let joined = event_with_id(
        "participant_joined",
        &room,
        Some("phone-+15551234567"),
        "EV_joinedReplayed",
    );
    let authorization = signed(&joined, LiveKitServer::API_SECRET);
    for _ in 0..2 {
        let reply = webhook(&server, &joined, &authorization).await;
        assert_eq!(
            reply.status,
            204,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    assert_eq!(participants(session_id.clone()).await.len(), 1);
    assert!(logged(&["DEBUG", "replayed", "EV_joinedReplayed"]));
    // The same event signed afresh (as a retry would be): still once.
    let resigned = signed_for(&joined, LiveKitServer::API_SECRET, Duration::from_secs(600));
    assert_ne!(resigned, authorization);
    assert_eq!(webhook(&server, &joined, &resigned).await.status, 204);
    assert_eq!(participants(session_id.clone()).await.len(), 1);

    // Sent concurrently: applied once.
    let left = event_with_id(
        "participant_left",
        &room,
        Some("phone-+15551234567"),
        "EV_leftConcurrently",
    );
    let authorization = signed(&left, LiveKitServer::API_SECRET);
    let replies = tokio::join!(
        webhook(&server, &left, &authorization),
        webhook(&server, &left, &authorization),
        webhook(&server, &left, &authorization),
        webhook(&server, &left, &authorization),
    );
    for reply in [replies.0, replies.1, replies.2, replies.3] {
        assert_eq!(
            reply.status,
            204,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let recorded = participants(session_id.clone()).await;
    assert_eq!(
        recorded
            .iter()
            .map(|p| p["event"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["participant_joined", "participant_left"]
    );

    // room_finished ends the call. Replayed after the next call to the same
    // number opened a session in the same room, it changes nothing.
    let finished = event_with_id("room_finished", &room, None, "EV_finishedOnce");
    let authorization = signed(&finished, LiveKitServer::API_SECRET);
    assert_eq!(
        webhook(&server, &finished, &authorization).await.status,
        204
    );
    assert_eq!(session(session_id.clone()).await.status, "ended");
    let (next_room, next_id, next_token) = call().await;
    assert_eq!(next_room, room);
    assert_eq!(
        webhook(&server, &finished, &authorization).await.status,
        204
    );
    let next = session(next_id.clone()).await;
    assert_eq!((next.status.as_str(), next.ended_at), ("active", None));
    assert_eq!(
        mcp(&server, &next_token, "tools/list", json!({}))
            .await
            .status,
        200
    );
    // Nor does the first call's participant_joined, replayed into the next call.
    assert_eq!(webhook(&server, &joined, &resigned).await.status, 204);
    assert!(participants(next_id.clone()).await.is_empty());

    // An event without an id cannot be applied once: refused, nothing changes.
    let mut anonymous: Value = serde_json::from_str(&joined).unwrap();
    anonymous.as_object_mut().unwrap().remove("id");
    let anonymous = anonymous.to_string();
    let refused = webhook(
        &server,
        &anonymous,
        &signed(&anonymous, LiveKitServer::API_SECRET),
    )
    .await
    .problem(400, "invalid_request");
    assert!(
        refused["detail"].as_str().unwrap().contains("no id"),
        "{refused}"
    );
    assert!(participants(next_id).await.is_empty());
    server.stop().await;
}

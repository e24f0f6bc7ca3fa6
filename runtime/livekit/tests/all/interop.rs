//! Interop with LiveKit's official Python server SDK (livekit-api on PyPI):
//! the tokens Warden sends verify there, and webhooks it signs verify here.
//! Needs `WARDEN_TEST_PYTHON` (`.ci/python-env` prints it); skipped otherwise.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Once;

use serde_json::{Value, json};
use warden_livekit::{WebhookError, room_name};
use warden_testing::LiveKitServer;

use crate::support::client_for;
use crate::webhook::{KEY, ROOM_FINISHED, SECRET, verifier};

const PYTHON_ENV: &str = "WARDEN_TEST_PYTHON";

/// The interpreter, or `None` (after saying so on stderr, once).
fn python() -> Option<PathBuf> {
    match std::env::var_os(PYTHON_ENV) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            static SKIP: Once = Once::new();
            SKIP.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nwarden-livekit: {PYTHON_ENV} is not set: the Python interop tests are \
                     SKIPPED (they pass without running); set it to the output of \
                     .ci/python-env\n"
                );
            });
            None
        }
    }
}

/// Runs `tests/interop/{script}` with `input` as JSON on stdin; its stdout.
fn run(python: &PathBuf, script: &str, input: &Value) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let mut child = Command::new(python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("run {} {}: {error}", python.display(), path.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn python_livekit_verifies_the_tokens_warden_sends() {
    let Some(python) = python() else { return };
    let server = LiveKitServer::start().await;
    let livekit = client_for(&server);
    let room = room_name("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "+14155550123");
    livekit.create_room(&room, "{}").await.unwrap();
    livekit.dispatch_agent(&room, "{}").await.unwrap();
    livekit.dial(&room, "+14155550123", "callee").await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let claims: Vec<Value> = requests
        .iter()
        .map(|request| {
            let printed = run(
                &python,
                "verify_token.py",
                &json!({
                    "api_key": LiveKitServer::API_KEY,
                    "api_secret": LiveKitServer::API_SECRET,
                    "token": request.token,
                }),
            );
            serde_json::from_str(&printed).unwrap()
        })
        .collect();

    assert_eq!(claims[0]["video"]["roomCreate"], true, "{}", claims[0]);
    assert_eq!(claims[0]["video"].get("roomAdmin"), None, "{}", claims[0]);
    assert_eq!(claims[1]["video"]["roomAdmin"], true, "{}", claims[1]);
    assert_eq!(claims[1]["video"]["room"], room.as_str(), "{}", claims[1]);
    assert_eq!(claims[1]["video"].get("roomCreate"), None, "{}", claims[1]);
    assert_eq!(claims[2]["sip"]["call"], true, "{}", claims[2]);
    assert_eq!(claims[2]["sip"]["admin"], false, "{}", claims[2]);

    // The same verifier refuses them under another secret.
    let child = Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify_token.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            json!({
                "api_key": LiveKitServer::API_KEY,
                "api_secret": "another-secret-another-secret-000",
                "token": requests[0].token,
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
    assert!(!child.wait().unwrap().success());
}

#[test]
fn warden_verifies_webhooks_python_livekit_signs() {
    let Some(python) = python() else { return };
    let token = run(
        &python,
        "sign_webhook.py",
        &json!({"api_key": KEY, "api_secret": SECRET, "body": ROOM_FINISHED}),
    );
    let event = verifier().verify(ROOM_FINISHED, &token).expect("accepted");
    assert_eq!(event.event, "room_finished");
    assert_eq!(event.id, "EV_eRxZMn2shxcE");

    // One byte of the body changed.
    let mut tampered = ROOM_FINISHED.as_bytes().to_vec();
    let at = ROOM_FINISHED.find("numParticipants\":0").unwrap() + "numParticipants\":".len();
    tampered[at] = b'1';
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(matches!(
        verifier().verify(&tampered, &token),
        Err(WebhookError::BodyMismatch)
    ));
}

//! Tools written in TypeScript with `sdk/js` and built by componentize-js:
//! the `twilio_sms` tool (`tools/twilio-sms`) against the local Twilio
//! stand-in, through `warden tool call`, `warden serve`'s worker route and
//! `/mcp`, with its API credentials injected by the host and never visible;
//! and what contract 0.2.0 gives it over MCP: its effect hints and the
//! caller's number from the call session.
//!
//! Building needs Node.js and the npm packages `.ci/js-env` installs (from
//! the lockfiles); without them, each test says by name that it did not run
//! — and fails under CI (`CI` set).

use crate::serve::{GrantedServer, http};
use crate::*;
use std::path::{Path, PathBuf};
use warden_testing::{Twilio, TwilioFault};

/// The tool's project, with its packages installed.
fn twilio_project() -> PathBuf {
    repo_root().join("tools/twilio-sms")
}

/// Whether Node.js and the tool's packages are here; if not, reports `test`
/// as skipped.
fn js_available(test: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = twilio_project()
        .join("node_modules/.bin/warden-tool")
        .exists();
    if !(node && installed) {
        skipped(&format!(
            "{test}: needs Node.js and the tools' npm packages (run .ci/js-env)"
        ));
    }
    node && installed
}

/// `tools/twilio-sms` built once for this test binary.
fn twilio_component(test: &str) -> Option<&'static Path> {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    if !js_available(test) {
        return None;
    }
    let (_, path) = BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("twilio_sms.wasm");
        let project = twilio_project();
        let run = Command::new(project.join("node_modules/.bin/warden-tool"))
            .args(["build", "src/index.ts", "-o"])
            .arg(&output)
            .current_dir(&project)
            .output()
            .expect("node runs");
        assert!(
            run.status.success(),
            "warden-tool build failed:\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        (dir, output)
    });
    Some(path.as_path())
}

/// The stand-in on a runtime of its own, with the account's sending number.
struct Sms {
    _runtime: tokio::runtime::Runtime,
    api: Twilio,
}

/// The account's SMS-capable number the tool sends from.
const FROM: &str = "+15550100123";

impl Sms {
    fn start() -> Sms {
        let runtime = stand_in_runtime();
        let api = runtime.block_on(Twilio::start());
        api.add_number(FROM);
        Sms {
            _runtime: runtime,
            api,
        }
    }

    fn config(&self, from: &str) -> Value {
        json!({ "account_sid": self.api.account_sid(), "from": from, "api_base": self.api.base_url() })
    }

    /// `warden tool call` with the grants that point the tool at the stand-in.
    fn call(&self, component: &Path, function: &str, args: Value, credential: &str) -> Run {
        self.call_from(component, function, args, credential, FROM)
    }

    fn call_from(
        &self,
        component: &Path,
        function: &str,
        args: Value,
        credential: &str,
        from: &str,
    ) -> Run {
        call_against_stand_in(
            component,
            function,
            &args,
            &self.config(from),
            ("api_credentials", credential),
            &self.api.base_url(),
            "call-9",
        )
    }
}

#[test]
fn twilio_sms_sends_texts_and_reads_their_status_through_the_cli() {
    let Some(component) =
        twilio_component("twilio_sms_sends_texts_and_reads_their_status_through_the_cli")
    else {
        return;
    };
    let sms = Sms::start();
    let credential = sms.api.basic_credential();
    let mut outputs = Vec::new();

    // A confirmation to the caller's number as a phone spells it.
    let text = "Your appointment is confirmed for Friday at 10:00.";
    let run = sms.call(
        component,
        "send_sms",
        json!({ "to": "+1 (555) 010-0199", "body": text }),
        &credential,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let sent = run.json();
    let messages = sms.api.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, "+15550100199");
    assert_eq!(messages[0].from, FROM);
    assert_eq!(messages[0].body, text);
    assert_eq!(sent["message_sid"], messages[0].sid.as_str(), "{sent}");
    assert_eq!(sent["status"], "queued");
    assert_eq!(sent["segments"], 1);
    let request = sms.api.requests().pop().unwrap();
    assert_eq!(
        request.path,
        format!(
            "/2010-04-01/Accounts/{}/Messages.json",
            sms.api.account_sid()
        )
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {credential}").as_str())
    );
    outputs.push(run);

    // Its delivery, as the carrier reports it.
    let sid = messages[0].sid.clone();
    let status = |sid: &str| {
        sms.call(
            component,
            "get_message_status",
            json!({ "message_sid": sid }),
            &credential,
        )
    };
    let run = status(&sid);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["status"], "queued");
    assert_eq!(run.json()["final"], false);
    sms.api.set_status(&sid, "delivered", None);
    let run = status(&sid);
    let delivered = run.json();
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    assert_eq!(delivered["delivered"], true);
    assert_eq!(delivered["error"], Value::Null);
    outputs.push(run);

    // A text the handset never got: the reason in plain words.
    let run = sms.call(
        component,
        "send_sms",
        json!({ "to": "+442079460958", "body": "See you then." }),
        &credential,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let second = run.json()["message_sid"].as_str().unwrap().to_owned();
    sms.api.set_status(&second, "undelivered", Some(30003));
    let run = status(&second);
    let undelivered = run.json();
    assert_eq!(undelivered["delivered"], false, "{undelivered}");
    assert_eq!(undelivered["final"], true);
    assert_eq!(undelivered["error_code"], 30003);
    assert_eq!(
        undelivered["error"],
        "the phone is unreachable or switched off"
    );
    outputs.push(run);

    // What Twilio refuses becomes the matching kind for the LLM.
    let kinds: Vec<(Run, &str)> = vec![
        (status(&format!("SM{}", "0".repeat(32))), "not_found"),
        (
            sms.call(
                component,
                "send_sms",
                json!({ "to": "+15550100199", "body": "hi" }),
                "QUM6d3Jvbmc=",
            ),
            "unauthorized",
        ),
        (
            sms.call_from(
                component,
                "send_sms",
                json!({ "to": "+15550100199", "body": "hi" }),
                &credential,
                "+15550100999",
            ),
            "not_configured",
        ),
        (
            sms.call(
                component,
                "send_sms",
                json!({ "to": "tomorrow", "body": "hi" }),
                &credential,
            ),
            "invalid_arguments",
        ),
        (
            sms.call(
                component,
                "send_sms",
                json!({ "to": FROM, "body": "hi" }),
                &credential,
            ),
            "invalid_arguments",
        ),
    ];
    for (run, kind) in kinds {
        assert_eq!(run.error_kind(), kind, "{}", run.stdout);
        outputs.push(run);
    }
    sms.api.fail_next(TwilioFault::RateLimit);
    let limited = status(&sid);
    assert_eq!(limited.error_kind(), "rate_limited");
    sms.api.fail_next(TwilioFault::Status(503));
    let down = status(&sid);
    assert_eq!(down.error_kind(), "upstream");
    outputs.extend([limited, down]);
    assert_eq!(sms.api.messages().len(), 2, "nothing refused was sent");

    // The credentials went only to Twilio, as a header the host added.
    for run in &outputs {
        for secret in [credential.as_str(), &sms.api.auth_token()] {
            assert!(!run.stdout.contains(secret), "{}", run.stdout);
            assert!(!run.stderr.contains(secret), "{}", run.stderr);
        }
    }
}

#[test]
fn twilio_sms_runs_through_the_worker_route_mcp_and_its_self_check() {
    let Some(component) =
        twilio_component("twilio_sms_runs_through_the_worker_route_mcp_and_its_self_check")
    else {
        return;
    };
    let sms = Sms::start();
    let credential = sms.api.basic_credential();
    let served = GrantedServer::start(&sms.api.base_url(), "api_credentials");
    let (tool, agent) = served.install(
        component,
        ("api_credentials", &credential),
        sms.config(FROM),
    );

    // The tool's self-check reads the account with the injected credentials.
    let (status, checked) = http(
        &served.server.address,
        "POST",
        &format!("/v1/agents/{agent}/tools/{tool}/test"),
        Some(&served.key),
        None,
    );
    assert_eq!(status, 200, "{checked}");
    assert!(
        checked.contains("\"account_status\":\"active\""),
        "{checked}"
    );

    // The worker route.
    let (status, answer) = served.invoke(
        &agent,
        "twilio_sms__send_sms",
        json!({ "to": "+15550100199", "body": "Booked: Friday 10:00." }),
    );
    assert_eq!(status, 200, "{answer}");
    let sid = answer["result"]["message_sid"].as_str().unwrap().to_owned();
    assert_eq!(sms.api.messages()[0].sid, sid, "{answer}");
    sms.api.set_status(&sid, "delivered", None);

    // MCP, in a call session.
    let (status, body) = served.mcp_call(
        &agent,
        "twilio_sms__get_message_status",
        json!({ "message_sid": sid }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"\"delivered\":true"#), "{body}");
    assert!(!body.contains("\"isError\":true"), "{body}");

    // The credentials are in no answer and nowhere in the server's output.
    let output = served.output();
    for secret in [credential.as_str(), &sms.api.auth_token()] {
        for seen in [&body, &checked, &answer.to_string(), &output] {
            assert!(!seen.contains(secret), "{seen}");
        }
    }
}

#[test]
fn twilio_sms_texts_the_person_on_the_phone_and_declares_its_hints_over_mcp() {
    let Some(component) = twilio_component(
        "twilio_sms_texts_the_person_on_the_phone_and_declares_its_hints_over_mcp",
    ) else {
        return;
    };
    let sms = Sms::start();
    let credential = sms.api.basic_credential();
    let served = GrantedServer::start(&sms.api.base_url(), "api_credentials");
    let (_, agent) = served.install(
        component,
        ("api_credentials", &credential),
        sms.config(FROM),
    );

    // The SDK's effect hints reach MCP clients: a send reaches a person and
    // is not safe to repeat; the status reads the account's own log.
    let send = served.mcp_annotations(&agent, "twilio_sms__send_sms");
    assert_eq!(send["readOnlyHint"], false, "{send}");
    assert_eq!(send["idempotentHint"], false, "{send}");
    assert_eq!(send["destructiveHint"], false, "{send}");
    assert_eq!(send["openWorldHint"], true, "{send}");
    let status = served.mcp_annotations(&agent, "twilio_sms__get_message_status");
    assert_eq!(status["readOnlyHint"], true, "{status}");
    assert_eq!(status["openWorldHint"], false, "{status}");

    // During a phone call, a text without a recipient goes to the caller.
    let token = served.open_session(json!({ "agent_id": agent, "phone_number": "+15550100199" }));
    let (code, body) = served.mcp(
        &token,
        "tools/call",
        json!({ "name": "twilio_sms__send_sms", "arguments": { "body": "Booked: Friday 10:00." } }),
    );
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("\"isError\":true"), "{body}");
    let messages = sms.api.messages();
    assert_eq!(messages.len(), 1, "{body}");
    assert_eq!(messages[0].to, "+15550100199");
    assert_eq!(messages[0].body, "Booked: Friday 10:00.");

    // Outside one, the LLM is asked for the number and nothing is sent.
    let (code, answer) = served.invoke(&agent, "twilio_sms__send_sms", json!({ "body": "hi" }));
    assert_eq!(code, 422, "{answer}");
    assert_eq!(answer["kind"], "invalid_arguments", "{answer}");
    assert_eq!(sms.api.messages().len(), 1);
}

#[test]
fn tool_new_js_project_tests_builds_and_answers_tool_call() {
    if !js_available("tool_new_js_project_tests_builds_and_answers_tool_call") {
        return;
    }
    let (_dir, project) = new_greeter("js");
    // As its README says: install, its own test, then the build.
    for args in [
        &["install", "--no-audit", "--no-fund", "--prefer-offline"][..],
        &["test"][..],
        &["run", "build"][..],
    ] {
        let done = Command::new("npm")
            .args(args)
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "npm {args:?}: {}\n{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
    }
    greets_ada(&project.join("greeter.wasm"));
}

//! Tools written in Python with `sdk/python` and built by componentize-py:
//! the `hubspot_crm` tool (`tools/hubspot-crm`) against the local HubSpot
//! stand-in, through `warden tool call`, `warden serve`'s worker route and
//! `/mcp`, with its access token injected by the host and never visible; and
//! what contract 0.2.0 gives it over MCP: its effect hints, the caller's
//! number from the call session and the greeting it speaks.
//!
//! Building needs the interpreter in `WARDEN_TEST_PYTHON` with
//! componentize-py (`.ci/python-env` installs it); without one, each test
//! says by name that it did not run — and fails under CI (`CI` set).

use crate::serve::GrantedServer;
use crate::*;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use warden_testing::{HubSpot, HubSpotFault, NOTE_TO_CONTACT};

/// The interpreter in `WARDEN_TEST_PYTHON` when it has componentize-py;
/// otherwise `None`, with a note naming `test`.
fn python_with_componentize(test: &str) -> Option<OsString> {
    static FOUND: OnceLock<Option<OsString>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let python = std::env::var_os("WARDEN_TEST_PYTHON")?;
        Command::new(&python)
            .args(["-c", "import componentize_py"])
            .output()
            .is_ok_and(|o| o.status.success())
            .then_some(python)
    });
    if found.is_none() {
        skipped(&format!(
            "{test}: needs WARDEN_TEST_PYTHON with componentize-py \
             (export WARDEN_TEST_PYTHON=$(.ci/python-env))"
        ));
    }
    found.clone()
}

/// `tools/hubspot-crm` built once for this test binary, or `None` (with a
/// note naming `test`) when no Python with componentize-py is configured.
fn hubspot_component(test: &str) -> Option<&'static Path> {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let python = python_with_componentize(test)?;
    let (_, path) = BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("hubspot_crm.wasm");
        let run = Command::new(&python)
            .args(["-m", "warden_tool", "build"])
            .arg(repo_root().join("tools/hubspot-crm/app.py"))
            .arg("-o")
            .arg(&output)
            .env("PYTHONPATH", repo_root().join("sdk/python/src"))
            .output()
            .expect("the Python interpreter in WARDEN_TEST_PYTHON runs");
        assert!(
            run.status.success(),
            "python -m warden_tool build failed:\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        (dir, output)
    });
    Some(path.as_path())
}

/// The stand-in on a runtime of its own, with one contact and a token.
struct Crm {
    _runtime: tokio::runtime::Runtime,
    api: HubSpot,
    token: String,
    ada: String,
}

impl Crm {
    fn start() -> Crm {
        let runtime = stand_in_runtime();
        let api = runtime.block_on(HubSpot::start());
        let token = api.issue_token();
        let ada = api.add_contact(json!({
            "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
            "phone": "+15550100199", "company": "Analytical Engines",
            "lifecyclestage": "customer",
        }));
        api.add_contact(json!({ "firstname": "Grace", "mobilephone": "+442079460958" }));
        Crm {
            _runtime: runtime,
            api,
            token,
            ada,
        }
    }

    /// `warden tool call` with the grants that point the tool at the stand-in.
    fn call(&self, component: &Path, function: &str, args: Value, token: &str) -> Run {
        let origin = self.api.base_url();
        let config = json!({ "api_base": origin });
        call_against_stand_in(
            component,
            function,
            &args,
            &config,
            ("access_token", token),
            &origin,
            "call-7",
        )
    }
}

#[test]
fn hubspot_crm_finds_callers_and_files_notes_through_the_cli() {
    let Some(component) =
        hubspot_component("hubspot_crm_finds_callers_and_files_notes_through_the_cli")
    else {
        return;
    };
    let crm = Crm::start();
    let mut outputs = Vec::new();

    // The caller's number as a phone spells it: found, by the host's token.
    let run = crm.call(
        component,
        "find_caller",
        json!({ "phone": "+1 (555) 010-0199" }),
        &crm.token,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let found = run.json();
    assert_eq!(found["caller"]["name"], "Ada Lovelace", "{found}");
    assert_eq!(found["caller"]["contact_id"], crm.ada.as_str());
    assert_eq!(found["caller"]["company"], "Analytical Engines");
    assert_eq!(found["matches"], 1);
    let search = crm.api.requests().pop().unwrap();
    assert_eq!(search.path, "/crm/v3/objects/contacts/search");
    assert_eq!(
        search.header("authorization"),
        Some(format!("Bearer {}", crm.token).as_str())
    );
    outputs.push(run);

    // A mobile number in the international dialling form.
    let run = crm.call(
        component,
        "find_caller",
        json!({ "phone": "0044 20 7946 0958" }),
        &crm.token,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["caller"]["name"], "Grace");
    outputs.push(run);

    // A note on Ada's record, naming the call.
    let run = crm.call(
        component,
        "log_call_note",
        json!({ "contact_id": crm.ada, "summary": "Asked to move Tuesday's appointment to Friday." }),
        &crm.token,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let notes = crm.api.notes();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].contacts, std::slice::from_ref(&crm.ada));
    let body = notes[0].object["properties"]["hs_note_body"]
        .as_str()
        .unwrap();
    assert!(body.contains("call-7") && body.contains("Friday"), "{body}");
    assert_eq!(run.json()["note_id"], notes[0].object["id"]);
    let sent: Value = serde_json::from_slice(&crm.api.requests().pop().unwrap().body).unwrap();
    assert_eq!(
        sent["associations"][0]["types"][0]["associationTypeId"],
        NOTE_TO_CONTACT
    );
    outputs.push(run);

    // What HubSpot refuses becomes the matching kind for the LLM.
    let unknown = crm.call(
        component,
        "find_caller",
        json!({ "phone": "+15550000000" }),
        &crm.token,
    );
    assert_eq!(unknown.error_kind(), "not_found");
    let no_contact = crm.call(
        component,
        "log_call_note",
        json!({ "contact_id": "999", "summary": "x" }),
        &crm.token,
    );
    assert_eq!(no_contact.error_kind(), "not_found");
    let refused = crm.call(
        component,
        "find_caller",
        json!({ "phone": "+15550100199" }),
        "pat-na1-revoked",
    );
    assert_eq!(refused.error_kind(), "unauthorized");
    crm.api.fail_next(HubSpotFault::RateLimit);
    let limited = crm.call(
        component,
        "find_caller",
        json!({ "phone": "+15550100199" }),
        &crm.token,
    );
    assert_eq!(limited.error_kind(), "rate_limited");
    crm.api.fail_next(HubSpotFault::Status(503));
    let down = crm.call(
        component,
        "find_caller",
        json!({ "phone": "+15550100199" }),
        &crm.token,
    );
    assert_eq!(down.error_kind(), "upstream");
    let bad = crm.call(
        component,
        "find_caller",
        json!({ "phone": "call me" }),
        &crm.token,
    );
    assert_eq!(bad.error_kind(), "invalid_arguments");
    outputs.extend([unknown, no_contact, refused, limited, down, bad]);

    // The token went only to HubSpot, as a header the host added.
    for run in &outputs {
        assert!(!run.stdout.contains(&crm.token), "{}", run.stdout);
        assert!(!run.stderr.contains(&crm.token), "{}", run.stderr);
    }
}

#[test]
fn hubspot_crm_runs_through_the_worker_route_and_mcp() {
    let Some(component) = hubspot_component("hubspot_crm_runs_through_the_worker_route_and_mcp")
    else {
        return;
    };
    let crm = Crm::start();
    let served = GrantedServer::start(&crm.api.base_url(), "access_token");
    let (_, agent) = served.install(
        component,
        ("access_token", &crm.token),
        json!({ "api_base": crm.api.base_url() }),
    );

    // The worker route.
    let (status, answer) = served.invoke(
        &agent,
        "hubspot_crm__find_caller",
        json!({ "phone": "+15550100199" }),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["result"]["caller"]["name"], "Ada Lovelace",
        "{answer}"
    );

    // MCP, in a call session.
    let (status, body) = served.mcp_call(
        &agent,
        "hubspot_crm__log_call_note",
        json!({ "contact_id": crm.ada, "summary": "Wants a callback." }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("note_id"), "{body}");
    assert!(!body.contains("\"isError\":true"), "{body}");
    assert_eq!(crm.api.notes().len(), 1);
    assert_eq!(crm.api.notes()[0].contacts, std::slice::from_ref(&crm.ada));

    // The token is in no answer and nowhere in the server's output.
    for seen in [&body, &answer.to_string(), &served.output()] {
        assert!(!seen.contains(&crm.token), "{seen}");
    }
}

#[test]
fn hubspot_crm_greets_the_caller_of_a_phone_call_over_mcp() {
    let Some(component) =
        hubspot_component("hubspot_crm_greets_the_caller_of_a_phone_call_over_mcp")
    else {
        return;
    };
    let crm = Crm::start();
    let served = GrantedServer::start(&crm.api.base_url(), "access_token");
    let (_, agent) = served.install(
        component,
        ("access_token", &crm.token),
        json!({ "api_base": crm.api.base_url() }),
    );

    // The SDK's effect hints reach MCP clients: a closed-world look-up.
    let hints = served.mcp_annotations(&agent, "hubspot_crm__find_caller");
    assert_eq!(hints["readOnlyHint"], true, "{hints}");
    assert_eq!(hints["openWorldHint"], false, "{hints}");
    let hints = served.mcp_annotations(&agent, "hubspot_crm__log_call_note");
    assert_eq!(hints["readOnlyHint"], false, "{hints}");
    assert_eq!(hints["idempotentHint"], false, "{hints}");
    assert_eq!(hints["destructiveHint"], false, "{hints}");
    assert_eq!(hints["openWorldHint"], false, "{hints}");

    // Ada calls: the tool finds her by the session's number, with no
    // argument, and greets her in the text content.
    let token = served.open_session(json!({ "agent_id": agent, "phone_number": "+15550100199" }));
    let (status, body) = served.mcp(
        &token,
        "tools/call",
        json!({ "name": "hubspot_crm__find_caller", "arguments": {} }),
    );
    assert_eq!(status, 200, "{body}");
    let result = &serde_json::from_str::<Value>(&body).unwrap()["result"];
    assert_eq!(result["isError"], false, "{body}");
    assert_eq!(
        result["content"][0]["text"], "Hi Ada, thanks for calling!",
        "{body}"
    );
    assert_eq!(
        result["structuredContent"]["caller"]["name"],
        "Ada Lovelace"
    );
    let search: Value = serde_json::from_slice(&crm.api.requests().pop().unwrap().body).unwrap();
    assert!(search.to_string().contains("+15550100199"), "{search}");

    // Without a phone call there is no number to look up.
    let (status, answer) = served.invoke(&agent, "hubspot_crm__find_caller", json!({}));
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["kind"], "invalid_arguments", "{answer}");
}

#[test]
fn tool_new_python_project_tests_builds_and_answers_tool_call() {
    let Some(python) =
        python_with_componentize("tool_new_python_project_tests_builds_and_answers_tool_call")
    else {
        return;
    };
    let (_dir, project) = new_greeter("python");
    // As its README says: its own test, then the build.
    for args in [
        &["-m", "unittest", "-q"][..],
        &["-m", "warden_tool", "build", "app.py", "-o", "greeter.wasm"][..],
    ] {
        let done = Command::new(&python)
            .args(args)
            .current_dir(&project)
            .env("PYTHONPATH", repo_root().join("sdk/python/src"))
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    greets_ada(&project.join("greeter.wasm"));
}

//! The worker API end to end.

use crate::mcp::{agent, attach};
use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use std::time::Duration;
use warden_api::RateLimit;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    google_calendar_end_to_end_without_leaking_secrets,
    tool_errors_and_refusals_are_problems,
    invocations_are_rate_limited_per_organization_and_tool,
    a_client_disconnect_cancels_the_call,
    invoke_refuses_a_bad_token_before_looking_at_the_request,
);

async fn google_calendar_end_to_end_without_leaking_secrets(db: &TestDb) {
    let google = warden_testing::GoogleCalendar::start().await;
    let server = Server::start(
        db,
        crate::once::calendar_settings(&google),
        ApiSettings::default(),
    )
    .await;
    server
        .core
        .install_platform_tool(component(artifacts::GOOGLE_CALENDAR))
        .await
        .unwrap();
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let start = chrono::Utc::now() + chrono::Duration::hours(2);
    let end = start + chrono::Duration::hours(1);
    google.insert_event(
        "primary",
        json!({
            "summary": "Dentist",
            "start": { "dateTime": start.to_rfc3339() },
            "end": { "dateTime": end.to_rfc3339() },
        }),
    );

    let tools = server.get("/v1/tools", &key).await.json();
    let tool = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "google_calendar")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = server
        .json(
            "POST",
            "/v1/agents",
            &key,
            &json!({ "name": "scheduler", "system_prompt": "Book appointments." }),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attached = server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{tool}"),
            &key,
            &json!({ "config": { "api_base": google.base_url() }, "is_enabled": true }),
        )
        .await;
    assert_eq!(
        attached.status,
        200,
        "{}",
        String::from_utf8_lossy(&attached.body)
    );

    let access_token = google.issue_access_token(Duration::from_secs(3600));
    let canary = format!("canary-{}", uuid::Uuid::now_v7().simple());
    for (name, value) in [
        ("access_token", access_token.clone()),
        ("refresh_token", canary.clone()),
        (
            "client_id",
            warden_testing::GoogleCalendar::CLIENT_ID.to_owned(),
        ),
        (
            "client_secret",
            warden_testing::GoogleCalendar::CLIENT_SECRET.to_owned(),
        ),
    ] {
        let set = server
            .json(
                "PUT",
                &format!("/v1/tools/{tool}/secrets/{name}"),
                &key,
                &json!({ "value": value }),
            )
            .await;
        assert_eq!(
            set.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&set.body)
        );
        assert_eq!(set.json()["is_set"], true);
    }

    let toolset = server
        .get(&format!("/worker/v1/agents/{agent}/toolset"), &worker)
        .await;
    assert_eq!(toolset.status, 200);
    let toolset = toolset.json();
    assert_eq!(toolset["agent_id"], agent.as_str());
    assert_eq!(toolset["name"], "scheduler");
    assert_eq!(toolset["system_prompt"], "Book appointments.");
    let functions = toolset["tools"].as_array().unwrap();
    assert!(functions.iter().all(|f| f["type"] == "function"
        && f["function"]["parameters"].is_object()
        && f["function"]["name"].as_str().unwrap().len() <= 64));
    assert!(
        functions
            .iter()
            .any(|f| f["function"]["name"] == "google_calendar__list_events")
    );

    let invoked = server
        .send(
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            Some(&worker),
            &[
                ("content-type", "application/json"),
                ("x-warden-deadline-ms", "5000"),
            ],
            serde_json::to_vec(&json!({
                "name": "google_calendar__list_events",
                "arguments": {},
                "call_id": "call-42",
            }))
            .unwrap(),
        )
        .await;
    assert_eq!(
        invoked.status,
        200,
        "{}",
        String::from_utf8_lossy(&invoked.body)
    );
    let invoked = invoked.json();
    assert!(
        invoked["result"].to_string().contains("Dentist"),
        "{invoked}"
    );
    // The stand-in saw the host-injected token.
    assert!(
        google.requests().iter().any(|r| {
            r.header("authorization") == Some(format!("Bearer {access_token}").as_str())
        })
    );

    let audit = server
        .get(&format!("/v1/invocations?agent_id={agent}"), &key)
        .await
        .json();
    let row = &audit["items"][0];
    assert_eq!(row["id"], invoked["invocation_id"]);
    assert_eq!(row["function"], "list_events");
    assert_eq!(row["call_id"], "call-42");
    assert_eq!(row["outcome"], "ok");
    let health = server
        .get(&format!("/v1/tools/{tool}/health"), &key)
        .await
        .json();
    assert_eq!(health["calls"], 1);
    let tested = server
        .send(
            "POST",
            &format!("/v1/agents/{agent}/tools/{tool}/test"),
            Some(&key),
            &[],
            vec![],
        )
        .await;
    assert!(tested.status == 200 || tested.status >= 400);

    server.assert_never_sent(&canary);
    server.assert_never_sent(&access_token);
    server.assert_never_sent(warden_testing::GoogleCalendar::CLIENT_SECRET);
    server.stop().await;
    assert_never_logged(&canary);
    assert_never_logged(&access_token);
    assert_never_logged(warden_testing::GoogleCalendar::CLIENT_SECRET);
}

async fn tool_errors_and_refusals_are_problems(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let (agent, tool) = echo_agent(&server, &key).await;
    let path = format!("/worker/v1/agents/{agent}/invoke");
    let call = |body: serde_json::Value| {
        let (server, worker, path) = (&server, worker.clone(), path.clone());
        async move { server.json("POST", &path, &worker, &body).await }
    };

    let ok =
        call(json!({ "name": "echo__echo", "arguments": { "message": "hi" }, "call_id": "c" }))
            .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["result"]["message"], "hi");
    let bad = call(json!({ "name": "echo__echo", "arguments": { "message": 5 } })).await;
    let bad = bad.problem(422, "invalid_arguments");
    assert!(bad["invocation_id"].is_string());
    for (kind, status) in [
        ("upstream", 502),
        ("not_configured", 424),
        ("unauthorized", 424),
        ("not_found", 422),
        ("rate_limited", 502),
        ("internal", 502),
    ] {
        let failed = call(json!({ "name": "echo__fail", "arguments": { "kind": kind, "message": "for the LLM" } })).await;
        let body = failed.problem(status, kind);
        assert_eq!(body["detail"], "for the LLM");
    }
    call(json!({ "name": "nope__echo", "arguments": {} }))
        .await
        .problem(404, "not_found");
    call(json!({ "name": "nonsense", "arguments": {} }))
        .await
        .problem(400, "invalid_request");
    call(json!({ "name": "echo__echo", "argument": {} }))
        .await
        .problem(422, "invalid_body");
    server
        .send(
            "POST",
            &path,
            Some(&worker),
            &[
                ("content-type", "application/json"),
                ("x-warden-deadline-ms", "soon"),
            ],
            b"{\"name\":\"echo__echo\"}".to_vec(),
        )
        .await
        .problem(400, "invalid_request");
    server
        .json(
            "POST",
            "/worker/v1/agents/no-such-agent/invoke",
            &worker,
            &json!({ "name": "echo__echo" }),
        )
        .await
        .problem(404, "not_found");
    server
        .get("/worker/v1/agents/no-such-agent/toolset", &worker)
        .await
        .problem(404, "not_found");

    // Switched off: 409 `disabled`, and gone from the toolset.
    server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{tool}"),
            &key,
            &json!({ "function_enables": { "echo": false } }),
        )
        .await;
    call(json!({ "name": "echo__echo", "arguments": { "message": "hi" } }))
        .await
        .problem(409, "disabled");
    let toolset = server
        .get(&format!("/worker/v1/agents/{agent}/toolset"), &worker)
        .await
        .json();
    assert!(
        toolset["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["function"]["name"] != "echo__echo")
    );
    server
        .json(
            "PATCH",
            &format!("/v1/agents/{agent}"),
            &key,
            &json!({ "is_active": false }),
        )
        .await;
    server
        .get(&format!("/worker/v1/agents/{agent}/toolset"), &worker)
        .await
        .problem(409, "disabled");
    server.stop().await;
}

async fn invocations_are_rate_limited_per_organization_and_tool(db: &TestDb) {
    let server = Server::start(
        db,
        CoreSettings::default(),
        ApiSettings {
            rate_limit: Some(RateLimit {
                per_second: 0.01,
                burst: 2,
            }),
            ..ApiSettings::default()
        },
    )
    .await;
    let worker = server.worker_token().await;
    let mut agents = Vec::new();
    for org in ["acme", "globex"] {
        let key = server.org(org).await;
        let (agent, _) = echo_agent(&server, &key).await;
        agents.push(agent);
    }
    let call = |agent: String| {
        let (server, worker) = (&server, worker.clone());
        async move {
            server
                .json(
                    "POST",
                    &format!("/worker/v1/agents/{agent}/invoke"),
                    &worker,
                    &json!({ "name": "echo__echo", "arguments": { "message": "hi" } }),
                )
                .await
        }
    };
    assert_eq!(call(agents[0].clone()).await.status, 200);
    assert_eq!(call(agents[0].clone()).await.status, 200);
    let limited = call(agents[0].clone()).await;
    limited.problem(429, "rate_limited");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    // Another organization's bucket is untouched.
    assert_eq!(call(agents[1].clone()).await.status, 200);
    server.stop().await;
}

async fn a_client_disconnect_cancels_the_call(db: &TestDb) {
    use tokio::io::AsyncWriteExt;

    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let tool = server
        .upload(&key, component(artifacts::SLEEPER))
        .await
        .json()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = server
        .json("POST", "/v1/agents", &key, &json!({ "name": "alpha" }))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{tool}"),
            &key,
            &json!({}),
        )
        .await;
    // No call id: each request is its own call, which the caller may drop
    // (a call with one runs to its end; see `once.rs`).
    let body = r#"{"name":"sleeper__sleep","arguments":{}}"#;
    let request = format!(
        "POST /worker/v1/agents/{agent}/invoke HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {worker}\r\n\
         content-type: application/json\r\nx-warden-deadline-ms: 1500\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );

    // Control: a caller that waits gets the timeout, and it is audited.
    let waited = server
        .send(
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            Some(&worker),
            &[
                ("content-type", "application/json"),
                ("x-warden-deadline-ms", "1500"),
            ],
            body.as_bytes().to_vec(),
        )
        .await;
    waited.problem(504, "timeout");
    let audited = || async {
        server.get("/v1/invocations", &key).await.json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(audited().await, 1);

    // A caller that hangs up drops the call: it never reaches its deadline,
    // so no second audit row is ever written.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(audited().await, 1);
    server.stop().await;
}

/// Path, extra headers, body.
/// The agent `alpha` with the `echo` fixture attached (uploaded as the
/// organization's tool): the agent's id and the tool's.
async fn echo_agent(server: &Server, key: &str) -> (String, String) {
    let tool = server.upload(key, component(artifacts::ECHO)).await.json()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = agent(server, key, "alpha").await;
    attach(server, key, &agent, &tool, json!({})).await;
    (agent, tool)
}

type InvokeRequest = (String, Vec<(&'static str, &'static str)>, Vec<u8>);

/// The invoke route checks the worker token in the query that loads the
/// call; it still answers 401 before anything the request itself gets wrong,
/// and a revoked token is refused on the very next call.
async fn invoke_refuses_a_bad_token_before_looking_at_the_request(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let (agent, _) = echo_agent(&server, &key).await;
    let path = format!("/worker/v1/agents/{agent}/invoke");
    let good = br#"{"name":"echo__echo","arguments":{"message":"hi"}}"#.to_vec();
    // Good, then each fault the route checks.
    let requests: Vec<InvokeRequest> = vec![
        (path.clone(), vec![], good.clone()),
        (
            "/worker/v1/agents/no-such-agent/invoke".to_owned(),
            vec![],
            good.clone(),
        ),
        (
            path.clone(),
            vec![],
            br#"{"name":"nope__echo","arguments":{}}"#.to_vec(),
        ),
        (
            path.clone(),
            vec![],
            br#"{"name":"nonsense","arguments":{}}"#.to_vec(),
        ),
        (path.clone(), vec![], b"{not json".to_vec()),
        (
            path.clone(),
            vec![("x-warden-deadline-ms", "soon")],
            good.clone(),
        ),
        (
            path.clone(),
            vec![],
            json!({"name": "echo__echo", "arguments": {"message": "hi"}, "call_id": "é".repeat(256)})
                .to_string()
                .into_bytes(),
        ),
        (
            path.clone(),
            vec![],
            json!({"name": "echo__echo", "arguments": {"message": "hi"}, "call_id": "é".repeat(257)})
                .to_string()
                .into_bytes(),
        ),
    ];
    let send =
        |token: String,
         (path, headers, body): (String, Vec<(&'static str, &'static str)>, Vec<u8>)| {
            let server = &server;
            async move {
                let mut all = vec![("content-type", "application/json")];
                all.extend(headers);
                server.send("POST", &path, Some(&token), &all, body).await
            }
        };
    let expected = [
        (200, None),
        (404, Some("not_found")),
        (404, Some("not_found")),
        (400, Some("invalid_request")),
        (400, Some("malformed_body")),
        (400, Some("invalid_request")),
        (200, None),
        (400, Some("invalid_request")),
    ];
    for (request, (status, kind)) in requests.iter().cloned().zip(expected) {
        let reply = send(worker.clone(), request).await;
        match kind {
            None => assert_eq!(reply.status, status),
            Some(kind) => {
                reply.problem(status, kind);
            }
        }
    }
    let other_prefix = format!("wdw_{}", &key["wdn_".len()..]);
    for bogus in [key.as_str(), "wdw_not-a-token", other_prefix.as_str()] {
        for request in requests.iter().cloned() {
            send(bogus.to_owned(), request)
                .await
                .problem(401, "unauthenticated");
        }
    }
    let principal = server.core.authenticate_worker(&worker).await.unwrap();
    server
        .core
        .revoke_worker_token(&principal.worker_token_id)
        .await
        .unwrap();
    for request in requests.iter().cloned() {
        send(worker.clone(), request)
            .await
            .problem(401, "unauthenticated");
    }
    server.stop().await;
}

//! MCP at `/mcp` and call sessions (`POST /worker/v1/sessions`), end to end
//! over a real port: JSON-RPC as an MCP client sends it.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use std::time::Duration;
use warden_core::{CallDirection, CallNumbers};
use warden_tool_artifacts as artifacts;

on_both_backends!(
    a_session_sees_and_calls_only_its_agents_tools,
    expired_and_ended_sessions_are_refused,
    a_disabled_function_is_gone_from_the_next_list,
    calls_are_audited_under_the_session_and_errors_are_results,
    credentials_never_cross_surfaces_and_secrets_never_leak,
    a_dropped_connection_cancels_the_call,
    tools_call_is_answered_alike_on_the_direct_path_and_by_the_sdk,
);

const ACCEPT: &str = "application/json, text/event-stream";

/// An MCP client of one call session, speaking plain JSON-RPC over POST.
pub(crate) struct Mcp<'a> {
    pub(crate) server: &'a Server,
    pub(crate) token: String,
}

impl Mcp<'_> {
    pub(crate) async fn post(&self, body: &Value) -> Reply {
        self.server
            .send(
                "POST",
                "/mcp",
                Some(&self.token),
                &[
                    ("content-type", "application/json"),
                    ("accept", ACCEPT),
                    ("mcp-protocol-version", "2025-06-18"),
                ],
                serde_json::to_vec(body).unwrap(),
            )
            .await
    }

    /// A request's `result`, asserting a JSON-RPC success.
    async fn result(&self, method: &str, params: Value) -> Value {
        let reply = self
            .post(&json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params }))
            .await;
        assert_eq!(
            reply.status,
            200,
            "{method}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let message = reply.json();
        assert_eq!(message["id"], 7, "{message}");
        assert!(message["error"].is_null(), "{method}: {message}");
        message["result"].clone()
    }

    async fn tool_names(&self) -> Vec<String> {
        let listed = self.result("tools/list", json!({})).await;
        listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn call(&self, name: &str, arguments: Value) -> Value {
        self.result(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
        .await
    }
}

/// Creates an agent through the safe API and returns its id.
pub(crate) async fn agent(server: &Server, key: &str, name: &str) -> String {
    let created = server
        .json("POST", "/v1/agents", key, &json!({ "name": name }))
        .await;
    assert_eq!(created.status, 201);
    created.json()["id"].as_str().unwrap().to_owned()
}

/// Attaches a tool to an agent through the safe API.
pub(crate) async fn attach(server: &Server, key: &str, agent: &str, tool: &str, settings: Value) {
    let attached = server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{tool}"),
            key,
            &settings,
        )
        .await;
    assert_eq!(
        attached.status,
        200,
        "{}",
        String::from_utf8_lossy(&attached.body)
    );
}

async fn upload(server: &Server, key: &str, path: &str) -> String {
    let installed = server.upload(key, component(path)).await;
    assert!(installed.status == 201 || installed.status == 200);
    installed.json()["tool"]["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn tool_id(server: &Server, key: &str, name: &str) -> String {
    let tools = server.get("/v1/tools", key).await.json();
    tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Opens an inbound session through the worker API.
async fn open(server: &Server, worker: &str, agent: &str) -> Value {
    let opened = server
        .json(
            "POST",
            "/worker/v1/sessions",
            worker,
            &json!({ "agent_id": agent, "phone_number": "+15551234567" }),
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

pub(crate) fn business_hours_config() -> Value {
    json!({ "config": {
        "time_zone": "America/New_York",
        "weekly_hours": { "monday": [{ "open": "09:00", "close": "17:00" }] },
    }})
}

async fn a_session_sees_and_calls_only_its_agents_tools(db: &TestDb) {
    let server = Server::default(db).await;
    server
        .core
        .install_platform_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap();
    let acme = server.org("acme").await;
    let globex = server.org("globex").await;
    let worker = server.worker_token().await;
    let hours = tool_id(&server, &acme, "business_hours").await;
    let echo = upload(&server, &acme, artifacts::ECHO).await;
    let fisher = upload(&server, &acme, artifacts::SECRET_FISHER).await;
    let stateful = upload(&server, &globex, artifacts::STATEFUL).await;

    // A: business_hours (one function off) and the secret fisher.
    // B (same organization): echo. C (globex): its private tool.
    let a = agent(&server, &acme, "front desk").await;
    let b = agent(&server, &acme, "back office").await;
    let c = agent(&server, &globex, "globex desk").await;
    let mut hours_settings = business_hours_config();
    hours_settings["function_enables"] = json!({ "available_slots": false });
    attach(&server, &acme, &a, &hours, hours_settings).await;
    attach(&server, &acme, &a, &fisher, json!({})).await;
    attach(&server, &acme, &b, &echo, json!({})).await;
    attach(&server, &globex, &c, &stateful, json!({})).await;

    let opened = open(&server, &worker, &a).await;
    assert_eq!(
        opened["mcp_url"],
        format!("http://{}/mcp", server.addr),
        "{opened}"
    );
    let token = opened["session_token"].as_str().unwrap();
    assert!(token.starts_with("wds_"), "{opened}");
    let expires_at: chrono::DateTime<chrono::Utc> =
        opened["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires_at - chrono::Utc::now();
    assert!(
        ttl > chrono::Duration::minutes(110) && ttl <= chrono::Duration::minutes(120),
        "{ttl}"
    );
    let mcp = Mcp {
        server: &server,
        token: token.to_owned(),
    };

    let initialized = mcp
        .result(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "test", "version": "1" },
            }),
        )
        .await;
    assert_eq!(initialized["serverInfo"]["name"], "warden", "{initialized}");
    assert!(initialized["capabilities"]["tools"].is_object());

    // Exactly A's enabled functions, with their schemas and read-only flags
    // as the management API shows them.
    let listed = mcp.result("tools/list", json!({})).await;
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "business_hours__is_open",
            "business_hours__next_opening",
            "secret_fisher__fish",
            "secret_fisher__leak",
        ]
    );
    let catalogue = server.get("/v1/tools", &acme).await.json();
    for tool in listed["tools"].as_array().unwrap() {
        let (tool_name, function) = tool["name"].as_str().unwrap().split_once("__").unwrap();
        let declared = catalogue
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool_name)
            .unwrap()["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == function)
            .unwrap()
            .clone();
        assert_eq!(tool["inputSchema"], declared["parameters"], "{tool}");
        assert_eq!(tool["description"], declared["description"], "{tool}");
        assert_eq!(
            tool["annotations"]["readOnlyHint"], declared["read_only"],
            "{tool}"
        );
    }
    let hints: Vec<&Value> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["annotations"]["readOnlyHint"])
        .collect();
    assert!(hints.contains(&&Value::Bool(true)) && hints.contains(&&Value::Bool(false)));

    // A's own function runs.
    let open_now = mcp
        .call(
            "business_hours__is_open",
            json!({ "at": "2026-03-09T14:30" }),
        )
        .await;
    assert_eq!(open_now["isError"], false, "{open_now}");
    assert_eq!(open_now["structuredContent"]["open"], true, "{open_now}");

    // B's tool (same organization), C's tool (another organization) and A's
    // switched-off function are refused as results the LLM can read.
    let refused = mcp.call("echo__echo", json!({ "message": "hi" })).await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(refused["structuredContent"]["error"]["kind"], "disabled");
    let foreign = mcp.call("stateful__count", json!({})).await;
    assert_eq!(foreign["isError"], true, "{foreign}");
    assert_eq!(
        foreign["content"][0]["text"],
        "`stateful__count` is not one of this agent's tools"
    );
    let off = mcp
        .call(
            "business_hours__available_slots",
            json!({ "date": "2026-03-09" }),
        )
        .await;
    assert_eq!(off["isError"], true, "{off}");
    assert!(
        off["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{off}"
    );
    let nonsense = mcp.call("nonsense", json!({})).await;
    assert_eq!(nonsense["isError"], true, "{nonsense}");

    // Nothing of B's or C's ran.
    let audit = server.get("/v1/invocations", &acme).await.json();
    let functions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["function"].as_str().unwrap())
        .collect();
    assert_eq!(functions, ["is_open"]);
    let globex_audit = server.get("/v1/invocations", &globex).await.json();
    assert_eq!(globex_audit["items"], json!([]));
    server.stop().await;
}

async fn expired_and_ended_sessions_are_refused(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let echo = upload(&server, &key, artifacts::ECHO).await;
    let a = agent(&server, &key, "alpha").await;
    attach(&server, &key, &a, &echo, json!({})).await;
    let organization = server
        .core
        .authenticate(&key)
        .await
        .unwrap()
        .organization_id;

    // A token with a one-second TTL works, then stops.
    let short = server
        .core
        .open_call_session(
            &organization,
            &a,
            "room-short",
            CallNumbers::default(),
            CallDirection::Outbound,
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let mcp = Mcp {
        server: &server,
        token: short.token.expose_secret().to_owned(),
    };
    assert_eq!(mcp.tool_names().await, ["echo__echo", "echo__fail"]);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let expired = mcp
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .await
        .problem(401, "unauthenticated");
    assert_eq!(expired["detail"], "invalid or expired session token");

    // An ended session's token stops at once, and its hash is gone.
    let issued = server
        .core
        .open_call_session(
            &organization,
            &a,
            "room-ended",
            CallNumbers {
                phone_number: Some("+442071838750"),
                agent_number: None,
            },
            CallDirection::Inbound,
            None,
        )
        .await
        .unwrap();
    let mcp = Mcp {
        server: &server,
        token: issued.token.expose_secret().to_owned(),
    };
    assert_eq!(mcp.tool_names().await.len(), 2);
    let ended = server
        .core
        .end_call_session(&organization, &issued.record.id)
        .await
        .unwrap();
    assert_eq!(ended.status, "ended");
    assert!(ended.ended_at.is_some() && ended.token_hash.is_none());
    let refused = mcp
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "echo__echo", "arguments": { "message": "hi" } } }))
        .await;
    let refused = refused.problem(401, "unauthenticated");
    assert_eq!(refused["detail"], "invalid or expired session token");
    // The refusal ran nothing.
    let audit = server.get("/v1/invocations", &key).await.json();
    assert_eq!(audit["items"], json!([]));

    // Sessions open only for the organization's active agents, with E.164 numbers.
    let other = server.org("globex").await;
    let other_org = server
        .core
        .authenticate(&other)
        .await
        .unwrap()
        .organization_id;
    let foreign = server
        .core
        .open_call_session(
            &other_org,
            &a,
            "r",
            CallNumbers::default(),
            CallDirection::Inbound,
            None,
        )
        .await;
    assert!(
        matches!(foreign, Err(warden_core::CoreError::NotFound(_))),
        "{foreign:?}"
    );
    // Either number must be E.164.
    for numbers in [
        CallNumbers {
            phone_number: Some("555-1234"),
            agent_number: None,
        },
        CallNumbers {
            phone_number: None,
            agent_number: Some("555-1234"),
        },
    ] {
        let bad_number = server
            .core
            .open_call_session(
                &organization,
                &a,
                "r",
                numbers,
                CallDirection::Inbound,
                None,
            )
            .await;
        assert!(matches!(
            bad_number,
            Err(warden_core::CoreError::Invalid(_))
        ));
    }
    let too_long = server
        .core
        .open_call_session(
            &organization,
            &a,
            "r",
            CallNumbers::default(),
            CallDirection::Inbound,
            Some(Duration::from_secs(3 * 24 * 3600)),
        )
        .await;
    assert!(matches!(too_long, Err(warden_core::CoreError::Invalid(_))));
    server
        .json(
            "PATCH",
            &format!("/v1/agents/{a}"),
            &key,
            &json!({ "is_active": false }),
        )
        .await;
    let worker = server.worker_token().await;
    server
        .json(
            "POST",
            "/worker/v1/sessions",
            &worker,
            &json!({ "agent_id": a }),
        )
        .await
        .problem(409, "disabled");
    server
        .json(
            "POST",
            "/worker/v1/sessions",
            &worker,
            &json!({ "agent_id": "no-such-agent" }),
        )
        .await
        .problem(404, "not_found");
    server.stop().await;
}

async fn a_disabled_function_is_gone_from_the_next_list(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let echo = upload(&server, &key, artifacts::ECHO).await;
    let a = agent(&server, &key, "alpha").await;
    attach(&server, &key, &a, &echo, json!({})).await;
    let opened = open(&server, &worker, &a).await;
    let mcp = Mcp {
        server: &server,
        token: opened["session_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(mcp.tool_names().await, ["echo__echo", "echo__fail"]);
    let listed = mcp.result("tools/list", json!({})).await;
    // Nobody may cache the list: the next request loads it afresh.
    assert_eq!(listed["ttlMs"], 0, "{listed}");
    assert_eq!(listed["cacheScope"], "private", "{listed}");

    attach(
        &server,
        &key,
        &a,
        &echo,
        json!({ "function_enables": { "echo": false } }),
    )
    .await;
    assert_eq!(mcp.tool_names().await, ["echo__fail"]);
    let refused = mcp.call("echo__echo", json!({ "message": "hi" })).await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(
        refused["content"][0]["text"],
        "the function `echo` of `echo` is disabled for this agent"
    );

    attach(&server, &key, &a, &echo, json!({ "is_enabled": false })).await;
    assert!(mcp.tool_names().await.is_empty());
    attach(
        &server,
        &key,
        &a,
        &echo,
        json!({ "is_enabled": true, "function_enables": {} }),
    )
    .await;
    assert_eq!(mcp.tool_names().await, ["echo__echo", "echo__fail"]);
    server.stop().await;
}

/// Limits small enough for fuel and wall-clock verdicts to come quickly.
fn quick_limits() -> CoreSettings {
    CoreSettings {
        limits: Some(warden_sandbox::Limits {
            fuel: 50_000_000,
            timeout: Duration::from_millis(1500),
            ..warden_sandbox::Limits::default()
        }),
        ..CoreSettings::default()
    }
}

async fn calls_are_audited_under_the_session_and_errors_are_results(db: &TestDb) {
    let server = Server::start(db, quick_limits(), ApiSettings::default()).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let echo = upload(&server, &key, artifacts::ECHO).await;
    let bomb = upload(&server, &key, artifacts::FUEL_BOMB).await;
    let trap = upload(&server, &key, artifacts::TRAP).await;
    let a = agent(&server, &key, "alpha").await;
    for tool in [&echo, &bomb, &trap] {
        attach(&server, &key, &a, tool, json!({})).await;
    }
    let opened = open(&server, &worker, &a).await;
    let session_id = opened["call_session_id"].as_str().unwrap();
    let mcp = Mcp {
        server: &server,
        token: opened["session_token"].as_str().unwrap().to_owned(),
    };

    let echoed = mcp.call("echo__echo", json!({ "message": "hello" })).await;
    assert_eq!(echoed["isError"], false, "{echoed}");
    let text: Value = serde_json::from_str(echoed["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text["message"], "hello");
    assert_eq!(echoed["structuredContent"]["message"], "hello");

    let audit = server
        .get(&format!("/v1/invocations?agent_id={a}"), &key)
        .await
        .json();
    let row = &audit["items"][0];
    assert_eq!(row["function"], "echo");
    assert_eq!(row["outcome"], "ok");
    assert_eq!(row["call_session_id"], session_id, "{row}");
    assert!(row["call_id"].as_str().unwrap().starts_with("mcp-"));

    // The tool's own error: its message, for the LLM.
    for kind in ["upstream", "not_found", "unauthorized"] {
        let failed = mcp
            .call(
                "echo__fail",
                json!({ "kind": kind, "message": "the calendar is closed today" }),
            )
            .await;
        assert_eq!(failed["isError"], true, "{failed}");
        assert_eq!(failed["content"][0]["text"], "the calendar is closed today");
        assert_eq!(failed["structuredContent"]["error"]["kind"], kind);
    }
    // Host verdicts: a schema violation says what is wrong; fuel and traps
    // say what happened without the sandbox's internals.
    let invalid = mcp.call("echo__echo", json!({ "message": 5 })).await;
    assert_eq!(invalid["isError"], true, "{invalid}");
    assert_eq!(
        invalid["structuredContent"]["error"]["kind"],
        "invalid_arguments"
    );
    let exhausted = mcp.call("fuel_bomb__spin", json!({})).await;
    assert_eq!(exhausted["isError"], true, "{exhausted}");
    assert_eq!(
        exhausted["structuredContent"]["error"]["kind"],
        "fuel_exhausted"
    );
    assert_eq!(
        exhausted["content"][0]["text"],
        "the tool used up its compute budget and was stopped"
    );
    let crashed = mcp.call("trap__explode", json!({})).await;
    assert_eq!(crashed["isError"], true, "{crashed}");
    assert_eq!(crashed["content"][0]["text"], "the tool crashed");

    let audit = server
        .get(&format!("/v1/invocations?agent_id={a}"), &key)
        .await
        .json();
    let rows = audit["items"].as_array().unwrap();
    assert_eq!(rows.len(), 7, "{audit}");
    assert!(rows.iter().all(|r| r["call_session_id"] == session_id));
    server.stop().await;
}

async fn credentials_never_cross_surfaces_and_secrets_never_leak(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let fisher = upload(&server, &key, artifacts::SECRET_FISHER).await;
    let a = agent(&server, &key, "alpha").await;
    attach(&server, &key, &a, &fisher, json!({})).await;
    let canary = format!("canary-{}", uuid::Uuid::now_v7().simple());
    let set = server
        .json(
            "PUT",
            &format!("/v1/tools/{fisher}/secrets/api_key"),
            &key,
            &json!({ "value": canary }),
        )
        .await;
    assert_eq!(set.status, 200);
    let opened = open(&server, &worker, &a).await;
    let token = opened["session_token"].as_str().unwrap().to_owned();
    // Everything sent from here on must hold neither the canary nor the token.
    let mark = server.seen.lock().unwrap().len();

    let mcp = Mcp {
        server: &server,
        token: token.clone(),
    };
    let list = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" });
    for wrong in [
        key.as_str(),
        worker.as_str(),
        "wds_not-a-real-token",
        "nonsense",
    ] {
        let refused = Mcp {
            server: &server,
            token: wrong.to_owned(),
        }
        .post(&list)
        .await;
        assert_eq!(
            refused.problem(401, "unauthenticated")["detail"],
            "invalid or expired session token"
        );
        assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    }
    server
        .send(
            "POST",
            "/mcp",
            None,
            &[("content-type", "application/json"), ("accept", ACCEPT)],
            serde_json::to_vec(&list).unwrap(),
        )
        .await
        .problem(401, "unauthenticated");
    server
        .get("/v1/agents", &token)
        .await
        .problem(401, "unauthenticated");
    server
        .get(&format!("/worker/v1/agents/{a}/toolset"), &token)
        .await
        .problem(401, "unauthenticated");
    server
        .json(
            "POST",
            &format!("/worker/v1/agents/{a}/invoke"),
            &token,
            &json!({ "name": "secret_fisher__fish", "arguments": { "names": ["api_key"] } }),
        )
        .await
        .problem(401, "unauthenticated");
    server
        .json(
            "POST",
            "/worker/v1/sessions",
            &token,
            &json!({ "agent_id": a }),
        )
        .await
        .problem(401, "unauthenticated");
    server
        .json(
            "POST",
            "/worker/v1/sessions",
            &key,
            &json!({ "agent_id": a }),
        )
        .await
        .problem(401, "unauthenticated");

    // The tool tries every channel to leak its secret through MCP.
    for via in ["error", "result", "log", "stdout", "stderr", "panic"] {
        let leaked = mcp.call("secret_fisher__leak", json!({ "via": via })).await;
        assert!(leaked["content"].is_array(), "{via}: {leaked}");
    }
    let fished = mcp
        .call("secret_fisher__fish", json!({ "names": ["api_key"] }))
        .await;
    assert_eq!(fished["structuredContent"]["api_key"]["status"], "ok");

    let seen = server.seen.lock().unwrap()[mark..].to_vec();
    let seen = String::from_utf8_lossy(&seen);
    assert!(!seen.contains(&canary), "the canary secret was sent");
    assert!(!seen.contains(&token), "the session token was sent again");
    server.stop().await;
    assert_never_logged(&canary);
    assert_never_logged(&token);
}

async fn a_dropped_connection_cancels_the_call(db: &TestDb) {
    use tokio::io::AsyncWriteExt;

    let server = Server::start(db, quick_limits(), ApiSettings::default()).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let sleeper = upload(&server, &key, artifacts::SLEEPER).await;
    let a = agent(&server, &key, "alpha").await;
    attach(&server, &key, &a, &sleeper, json!({})).await;
    let opened = open(&server, &worker, &a).await;
    let token = opened["session_token"].as_str().unwrap().to_owned();
    let mcp = Mcp {
        server: &server,
        token: token.clone(),
    };
    let audited = || async {
        server.get("/v1/invocations", &key).await.json()["items"]
            .as_array()
            .unwrap()
            .len()
    };

    // Control: a caller that waits gets the tool's timeout, audited.
    let waited = mcp.call("sleeper__sleep", json!({})).await;
    assert_eq!(
        waited["structuredContent"]["error"]["kind"], "timeout",
        "{waited}"
    );
    assert_eq!(audited().await, 1);

    // A caller that hangs up drops the call: it never reaches its deadline,
    // so no second audit row is ever written.
    let body = r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"sleeper__sleep","arguments":{}}}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\naccept: {ACCEPT}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);

    // An older client's `notifications/cancelled` stops a call too.
    let slow = tokio::spawn({
        let server_addr = server.addr;
        let token = token.clone();
        async move {
            let body = r#"{"jsonrpc":"2.0","id":"call-10","method":"tools/call","params":{"name":"sleeper__sleep","arguments":{}}}"#;
            let request = format!(
                "POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
                 connection: close\r\ncontent-type: application/json\r\naccept: {ACCEPT}\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            let mut stream = tokio::net::TcpStream::connect(server_addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let started = std::time::Instant::now();
            let mut reply = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut reply).await;
            (
                started.elapsed(),
                String::from_utf8_lossy(&reply).into_owned(),
            )
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancelled = mcp
        .post(
            &json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": { "requestId": "call-10", "reason": "the caller barged in" } }),
        )
        .await;
    assert_eq!(cancelled.status, 202);
    let (elapsed, reply) = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .expect("the cancelled call answered")
        .unwrap();
    assert!(
        elapsed < Duration::from_secs(5),
        "the cancelled call ran on: {reply}"
    );
    assert!(reply.contains("cancelled"), "{reply}");

    // Both would have timed out (and been audited) 1.5 s after they started.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(audited().await, 1);
    server.stop().await;
}

/// Runs `script` (under `tests/interop/`) with the interpreter in
/// `WARDEN_TEST_PYTHON` and returns the JSON it printed, or `None` (with a
/// note) when the variable is unset.
pub(crate) async fn python(script: &str, args: Vec<String>) -> Option<Value> {
    let Some(python) = std::env::var_os("WARDEN_TEST_PYTHON") else {
        eprintln!(
            "note: WARDEN_TEST_PYTHON is not set; skipping the {script} interop check \
             (.ci/python-env creates the environment)"
        );
        return None;
    };
    let path = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(path)
            .args(args)
            .output()
            .expect("the Python interpreter in WARDEN_TEST_PYTHON runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    Some(
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}")),
    )
}

/// Clients no one on the Warden team wrote — the official MCP Python SDK and
/// LiveKit Agents' MCP client — list exactly the session agent's enabled
/// functions and call one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_mcp_clients_interoperate() {
    if std::env::var_os("WARDEN_TEST_PYTHON").is_none() {
        let _ = python("mcp_sdk_client.py", Vec::new()).await;
        return;
    }
    let db = TestDb::sqlite().await;
    let server = Server::default(&db).await;
    server
        .core
        .install_platform_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap();
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let hours = tool_id(&server, &key, "business_hours").await;
    let echo = upload(&server, &key, artifacts::ECHO).await;
    let a = agent(&server, &key, "front desk").await;
    let b = agent(&server, &key, "back office").await;
    let mut settings = business_hours_config();
    settings["function_enables"] = json!({ "available_slots": false });
    attach(&server, &key, &a, &hours, settings).await;
    attach(&server, &key, &b, &echo, json!({})).await;
    let opened = open(&server, &worker, &a).await;
    let args = |tool: &str, arguments: Value| {
        vec![
            opened["mcp_url"].as_str().unwrap().to_owned(),
            opened["session_token"].as_str().unwrap().to_owned(),
            tool.to_owned(),
            arguments.to_string(),
        ]
    };
    let expected = ["business_hours__is_open", "business_hours__next_opening"];

    let sdk = python(
        "mcp_sdk_client.py",
        args(
            "business_hours__is_open",
            json!({ "at": "2026-03-09T14:30" }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(sdk["server_name"], "warden", "{sdk}");
    let names: Vec<&str> = sdk["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, expected, "{sdk}");
    for tool in sdk["tools"].as_array().unwrap() {
        assert_eq!(tool["read_only"], true, "{tool}");
        assert_eq!(tool["input_schema"]["type"], "object", "{tool}");
        assert!(tool["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(sdk["call"]["is_error"], false, "{sdk}");
    assert_eq!(sdk["call"]["structured"]["open"], true, "{sdk}");
    let text: Value = serde_json::from_str(sdk["call"]["text"][0].as_str().unwrap()).unwrap();
    assert_eq!(text["open"], true, "{sdk}");

    let livekit = python(
        "livekit_agents_client.py",
        args(
            "business_hours__is_open",
            json!({ "at": "2026-03-09T18:30" }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(livekit["tools"], json!(expected), "{livekit}");
    assert_eq!(
        livekit["schemas"]["business_hours__is_open"]["parameters"]["type"],
        "object"
    );
    // The output LiveKit hands the LLM: the text content block, holding the result.
    let output: Value = serde_json::from_str(livekit["output"].as_str().unwrap()).unwrap();
    let result: Value = serde_json::from_str(output["text"].as_str().unwrap()).unwrap();
    assert_eq!(result["open"], false, "{livekit}");
    let error = livekit["invalid_arguments_error"].as_str().unwrap();
    assert!(!error.is_empty(), "{livekit}");

    // Both clients' calls are audited under the session.
    let audit = server
        .get(&format!("/v1/invocations?agent_id={a}"), &key)
        .await
        .json();
    let rows = audit["items"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{audit}");
    assert!(
        rows.iter()
            .all(|r| r["call_session_id"] == opened["call_session_id"])
    );
    server.stop().await;
}

/// `tools/call` at the protocol versions real clients negotiate takes the
/// direct path (`mcp.rs`); at 2026-07-28, with its request metadata and
/// standard headers, the SDK answers. Both give the same answers, and
/// whatever the SDK refuses, the direct path does not take.
async fn tools_call_is_answered_alike_on_the_direct_path_and_by_the_sdk(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let echo = upload(&server, &key, artifacts::ECHO).await;
    let a = agent(&server, &key, "front desk").await;
    attach(&server, &key, &a, &echo, json!({})).await;
    let opened = open(&server, &worker, &a).await;
    let token = opened["session_token"].as_str().unwrap().to_owned();

    // One tools/call, sent as a client of `version` would send it.
    let call = |version: &'static str, name: &'static str, arguments: Value| {
        let server = &server;
        let token = token.clone();
        async move {
            let mut params = json!({ "name": name, "arguments": arguments });
            let mut headers = vec![
                ("content-type", "application/json"),
                ("accept", ACCEPT),
                ("mcp-protocol-version", version),
            ];
            if version >= "2026-07-28" {
                params["_meta"] = json!({
                    "io.modelcontextprotocol/protocolVersion": version,
                    "io.modelcontextprotocol/clientCapabilities": {},
                });
                headers.extend([("mcp-method", "tools/call"), ("mcp-name", name)]);
            }
            let body =
                json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params });
            server
                .send(
                    "POST",
                    "/mcp",
                    Some(&token),
                    &headers,
                    serde_json::to_vec(&body).unwrap(),
                )
                .await
        }
    };
    let outcomes = |reply: &Reply| {
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let message = reply.json();
        assert_eq!(message["id"], 5, "{message}");
        let result = &message["result"];
        (
            result["isError"].clone(),
            result["structuredContent"]["message"].clone(),
            result["structuredContent"]["error"].clone(),
            result["content"][0]["type"].clone(),
        )
    };
    for (name, arguments) in [
        ("echo__echo", json!({ "message": "hi" })),
        ("echo__echo", json!({ "message": 7 })),
        (
            "echo__fail",
            json!({ "kind": "not_found", "message": "no such booking" }),
        ),
        ("echo__nope", json!({})),
        ("elsewhere__echo", json!({})),
    ] {
        let direct = call("2025-11-25", name, arguments.clone()).await;
        let sdk = call("2026-07-28", name, arguments.clone()).await;
        assert_eq!(outcomes(&direct), outcomes(&sdk), "{name} {arguments}");
    }
    let hi = call("2025-06-18", "echo__echo", json!({ "message": "hi" })).await;
    assert_eq!(hi.json()["result"]["structuredContent"]["message"], "hi");

    // What the SDK refuses is refused the same way, not taken directly.
    let body = serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": { "name": "echo__echo", "arguments": { "message": "hi" } } }))
    .unwrap();
    for (headers, status) in [
        (
            vec![("content-type", "text/plain"), ("accept", ACCEPT)],
            415,
        ),
        (
            vec![
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            406,
        ),
        (
            vec![
                ("content-type", "application/json"),
                ("accept", ACCEPT),
                ("mcp-protocol-version", "1999-01-01"),
            ],
            400,
        ),
        (
            // 2026-07-28 without its request metadata.
            vec![
                ("content-type", "application/json"),
                ("accept", ACCEPT),
                ("mcp-protocol-version", "2026-07-28"),
            ],
            400,
        ),
    ] {
        let reply = server
            .send("POST", "/mcp", Some(&token), &headers, body.clone())
            .await;
        assert_eq!(
            reply.status,
            status,
            "{headers:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    // Only the calls that were answered ran (and were audited).
    let audited = server.get("/v1/invocations", &key).await.json()["items"]
        .as_array()
        .unwrap()
        .len();
    // Three calls of known functions on each path, and one more.
    assert_eq!(audited, 2 * 3 + 1);
    server.stop().await;
}

//! Exactly-once calls: a retried booking books once, on the worker route and
//! over MCP, whatever the retries' timing.

use crate::mcp::{Mcp, agent, attach, tool_id};
use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use std::time::Duration;
use warden_sandbox::HttpGrants;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    a_retried_booking_runs_once_and_gets_the_recorded_result,
    concurrent_duplicates_book_once,
    a_recorded_outcome_expires,
    past_the_organizations_budget_its_oldest_outcome_goes,
    a_caller_that_hangs_up_does_not_lose_the_outcome,
    mcp_calls_with_a_call_id_run_once,
);

/// A server with `google_calendar` installed against the stand-in, an
/// organization, a worker token and an agent using the calendar.
struct Calendar {
    server: Server,
    google: warden_testing::GoogleCalendar,
    key: String,
    worker: String,
    agent: String,
}

impl Calendar {
    async fn start(db: &TestDb, call_outcome_ttl: Option<Duration>) -> Calendar {
        Calendar::start_with(db, |settings| settings.call_outcome_ttl = call_outcome_ttl).await
    }

    /// [`Calendar::start`] with `change` made to the core's settings.
    async fn start_with(db: &TestDb, change: impl FnOnce(&mut CoreSettings)) -> Calendar {
        let google = warden_testing::GoogleCalendar::start().await;
        let mut settings = calendar_settings(&google);
        change(&mut settings);
        let server = Server::start(db, settings, ApiSettings::default()).await;
        server
            .core
            .install_platform_tool(component(artifacts::GOOGLE_CALENDAR))
            .await
            .unwrap();
        let key = server.org("acme").await;
        let worker = server.worker_token().await;
        let tool = tool_id(&server, &key, "google_calendar").await;
        let agent = agent(&server, &key, "scheduler").await;
        attach(
            &server,
            &key,
            &agent,
            &tool,
            json!({ "config": { "api_base": google.base_url() } }),
        )
        .await;
        let token = google.issue_access_token(Duration::from_secs(3600));
        let set = server
            .json(
                "PUT",
                &format!("/v1/tools/{tool}/secrets/access_token"),
                &key,
                &json!({ "value": token }),
            )
            .await;
        assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
        Calendar {
            server,
            google,
            key,
            worker,
            agent,
        }
    }

    async fn invoke(&self, function: &str, arguments: Value, call_id: &str) -> Reply {
        self.invoke_within(function, arguments, call_id, None).await
    }

    async fn invoke_within(
        &self,
        function: &str,
        arguments: Value,
        call_id: &str,
        deadline_ms: Option<u64>,
    ) -> Reply {
        let deadline = deadline_ms.map(|ms| ms.to_string());
        let mut headers = vec![("content-type", "application/json")];
        if let Some(deadline) = &deadline {
            headers.push(("x-warden-deadline-ms", deadline));
        }
        self.server
            .send(
                "POST",
                &format!("/worker/v1/agents/{}/invoke", self.agent),
                Some(&self.worker),
                &headers,
                serde_json::to_vec(&json!({
                    "name": format!("google_calendar__{function}"),
                    "arguments": arguments,
                    "call_id": call_id,
                }))
                .unwrap(),
            )
            .await
    }

    /// Requests that reached the stand-in to create an event.
    fn bookings(&self) -> usize {
        self.google
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .count()
    }

    async fn audit(&self) -> Vec<Value> {
        self.server
            .get(
                &format!("/v1/invocations?agent_id={}", self.agent),
                &self.key,
            )
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// Grants that let `google_calendar` reach the stand-in (a private address)
/// with the host injecting its access token, and refresh it there.
pub(crate) fn calendar_settings(google: &warden_testing::GoogleCalendar) -> CoreSettings {
    let origin: warden_sandbox::HostPattern = google.origin().parse().unwrap();
    CoreSettings {
        http: HttpGrants {
            allow_hosts: vec![origin.clone()],
            credential_hosts: vec![("access_token".into(), origin)],
            allow_private_network: true,
            oauth_token_url: Some(google.token_url()),
            ..HttpGrants::default()
        },
        ..CoreSettings::default()
    }
}

fn booking(summary: &str) -> Value {
    let start = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT10:00:00Z")
        .to_string();
    json!({ "summary": summary, "start": start, "duration_minutes": 30 })
}

async fn a_retried_booking_runs_once_and_gets_the_recorded_result(db: &TestDb) {
    let cal = Calendar::start(db, None).await;
    let arguments = booking("Cleaning – Jane Doe");

    let first = cal
        .invoke("create_event", arguments.clone(), "call_9f2")
        .await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let first = first.json();
    assert!(first.get("replay_of").is_none(), "{first}");
    assert_eq!(cal.bookings(), 1);

    // The retry (the caller barged in, the LLM called again) is answered from
    // the record: the same result, marked, and the calendar never asked.
    let retried = cal
        .invoke("create_event", arguments.clone(), "call_9f2")
        .await;
    assert_eq!(retried.status, 200);
    let retried = retried.json();
    assert_eq!(retried["result"], first["result"]);
    assert_eq!(retried["replay_of"], first["invocation_id"]);
    assert_ne!(retried["invocation_id"], first["invocation_id"]);
    assert_eq!(cal.bookings(), 1);
    assert_eq!(cal.google.events("primary").len(), 1);

    // The same arguments written in another order are the same call.
    let reordered: Value = serde_json::from_str(&format!(
        r#"{{"duration_minutes":30,"start":{},"summary":{}}}"#,
        arguments["start"], arguments["summary"]
    ))
    .unwrap();
    let again = cal
        .invoke("create_event", reordered, "call_9f2")
        .await
        .json();
    assert_eq!(again["replay_of"], first["invocation_id"]);

    // Another booking under the same call id is refused and changes nothing.
    let reused = cal
        .invoke("create_event", booking("Someone else"), "call_9f2")
        .await;
    let problem = reused.problem(409, "call_id_reused");
    assert!(problem.get("invocation_id").is_none(), "{problem}");
    assert_eq!(cal.bookings(), 1);

    // A new call id is a new call.
    let other = cal
        .invoke("create_event", booking("Someone else"), "call_a01")
        .await;
    assert_eq!(other.status, 200);
    assert!(other.json().get("replay_of").is_none());
    assert_eq!(cal.bookings(), 2);

    // Read-only functions run every time, call id or not.
    let reads_before = cal.google.requests().len();
    for _ in 0..2 {
        let listed = cal.invoke("list_events", json!({}), "call_list").await;
        assert_eq!(listed.status, 200);
        assert!(listed.json().get("replay_of").is_none());
    }
    assert!(cal.google.requests().len() >= reads_before + 2);

    // The audit log has a row per answer; the replays name the run's row and
    // burned no fuel.
    let audit = cal.audit().await;
    let replays: Vec<&Value> = audit.iter().filter(|r| !r["replay_of"].is_null()).collect();
    assert_eq!(replays.len(), 2, "{audit:#?}");
    for replay in replays {
        assert_eq!(replay["replay_of"], first["invocation_id"]);
        assert_eq!(replay["fuel_consumed"], 0);
        assert_eq!(replay["outcome"], "ok");
        assert_eq!(replay["call_id"], "call_9f2");
    }

    // At rest the outcome is sealed: neither the event's title nor its id
    // is readable in the row.
    let event_id = first["result"]["id"].as_str().unwrap().to_owned();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT sealed FROM call_outcomes")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(rows.len(), 2);
    for (sealed,) in rows {
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("Jane Doe") && !text.contains(&event_id));
    }
    cal.server.stop().await;
}

async fn concurrent_duplicates_book_once(db: &TestDb) {
    let cal = Calendar::start(db, None).await;
    let arguments = booking("Root canal – Ali");
    let replies = futures::future::join_all(
        (0..10).map(|_| cal.invoke("create_event", arguments.clone(), "call_dup")),
    )
    .await;
    let replies: Vec<Value> = replies
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            r.json()
        })
        .collect();
    let ran: Vec<&Value> = replies
        .iter()
        .filter(|r| r["replay_of"].is_null())
        .collect();
    assert_eq!(ran.len(), 1, "{replies:#?}");
    for reply in &replies {
        assert_eq!(reply["result"], ran[0]["result"]);
    }
    assert_eq!(cal.bookings(), 1);
    assert_eq!(cal.google.events("primary").len(), 1);
    cal.server.stop().await;
}

async fn a_recorded_outcome_expires(db: &TestDb) {
    let cal = Calendar::start(db, Some(Duration::from_secs(1))).await;
    let arguments = booking("Check-up – Kim");
    let first = cal
        .invoke("create_event", arguments.clone(), "call_exp")
        .await;
    assert_eq!(first.status, 200);
    let replayed = cal
        .invoke("create_event", arguments.clone(), "call_exp")
        .await;
    assert!(replayed.json()["replay_of"].is_string());
    assert_eq!(cal.bookings(), 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Expired: the call runs again (the tool's own idempotency finds the
    // event it booked), and other arguments are no longer a reuse.
    let ran = cal.invoke("create_event", arguments, "call_exp").await;
    assert_eq!(ran.status, 200);
    let ran = ran.json();
    assert!(ran.get("replay_of").is_none(), "{ran}");
    assert_eq!(ran["result"]["already_existed"], true, "{ran}");
    assert_eq!(cal.bookings(), 2);
    cal.server.stop().await;
}

async fn past_the_organizations_budget_its_oldest_outcome_goes(db: &TestDb) {
    let cal = Calendar::start_with(db, |settings| {
        settings.call_outcome_budget = warden_core::OutcomeBudget {
            outcomes: 1,
            bytes: 1 << 20,
        }
    })
    .await;
    let (older, newer) = (booking("Check-up – Kim"), booking("Cleaning – Lee"));
    for (arguments, call_id) in [(&older, "call_older"), (&newer, "call_newer")] {
        let booked = cal.invoke("create_event", arguments.clone(), call_id).await;
        assert_eq!(
            booked.status,
            200,
            "{}",
            String::from_utf8_lossy(&booked.body)
        );
    }
    assert_eq!(cal.bookings(), 2);

    // The newer outcome still answers its retry; the older one went to make room, so
    // its retry runs again (and the tool's own idempotency finds the event).
    let replayed = cal.invoke("create_event", newer, "call_newer").await.json();
    assert!(replayed["replay_of"].is_string(), "{replayed}");
    assert_eq!(cal.bookings(), 2);
    let ran = cal.invoke("create_event", older, "call_older").await.json();
    assert!(ran.get("replay_of").is_none(), "{ran}");
    assert_eq!(ran["result"]["already_existed"], true, "{ran}");
    assert_eq!(cal.bookings(), 3);
    assert_eq!(cal.google.events("primary").len(), 2);
    cal.server.stop().await;
}

async fn a_caller_that_hangs_up_does_not_lose_the_outcome(db: &TestDb) {
    use tokio::io::AsyncWriteExt;

    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let installed = server.upload(&key, component(artifacts::SLEEPER)).await;
    let tool = installed.json()["tool"]["id"].as_str().unwrap().to_owned();
    let agent = agent(&server, &key, "alpha").await;
    attach(&server, &key, &agent, &tool, json!({})).await;
    let path = format!("/worker/v1/agents/{agent}/invoke");
    let body = r#"{"name":"sleeper__sleep","arguments":{},"call_id":"call_slow"}"#;

    // The caller hangs up 300 ms into a call that ends at its 1.5 s deadline.
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {worker}\r\n\
         content-type: application/json\r\nx-warden-deadline-ms: 1500\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);

    let send = |deadline_ms: &'static str| {
        let (server, worker, path) = (&server, worker.clone(), path.clone());
        async move {
            server
                .send(
                    "POST",
                    &path,
                    Some(&worker),
                    &[
                        ("content-type", "application/json"),
                        ("x-warden-deadline-ms", deadline_ms),
                    ],
                    body.as_bytes().to_vec(),
                )
                .await
        }
    };
    // A retry that cannot wait for the running call is told to come back.
    let busy = send("100").await;
    busy.problem(409, "in_progress");
    assert_eq!(busy.header("retry-after"), Some("1"));

    // A retry that can wait gets the call's own outcome when it ends.
    let retried = send("5000").await;
    let problem = retried.problem(504, "timeout");
    let replay_of = problem["replay_of"].as_str().expect("a replay").to_owned();
    let audit = server.get("/v1/invocations", &key).await.json()["items"]
        .as_array()
        .unwrap()
        .clone();
    // The run (audited although its caller left) and the replay.
    assert_eq!(audit.len(), 2, "{audit:#?}");
    assert!(audit.iter().any(|r| r["id"] == replay_of.as_str()
        && r["replay_of"].is_null()
        && r["error_kind"] == "timeout"));
    server.stop().await;
}

async fn mcp_calls_with_a_call_id_run_once(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    let installed = server.upload(&key, component(artifacts::STATEFUL)).await;
    let tool = installed.json()["tool"]["id"].as_str().unwrap().to_owned();
    let agent = agent(&server, &key, "alpha").await;
    attach(&server, &key, &agent, &tool, json!({})).await;
    let opened = server
        .json(
            "POST",
            "/worker/v1/sessions",
            &worker,
            &json!({ "agent_id": agent, "phone_number": "+15551234567" }),
        )
        .await
        .json();
    let mcp = Mcp {
        server: &server,
        token: opened["session_token"].as_str().unwrap().to_owned(),
    };
    let call = |meta: Value, arguments: Value| {
        let mcp = &mcp;
        async move {
            let reply = mcp
                .post(
                    &json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
                        "name": "stateful__count", "arguments": arguments, "_meta": meta,
                    }}),
                )
                .await;
            assert_eq!(reply.status, 200);
            reply.json()["result"].clone()
        }
    };
    let audit = || async {
        server.get("/v1/invocations", &key).await.json()["items"]
            .as_array()
            .unwrap()
            .clone()
    };

    let first = call(json!({ "warden/call_id": "toolu_01" }), json!({})).await;
    assert_eq!(first["isError"], false, "{first}");
    assert!(first.get("_meta").is_none(), "{first}");
    let ran = audit().await[0]["id"].clone();
    let replayed = call(json!({ "warden/call_id": "toolu_01" }), json!({})).await;
    assert_eq!(replayed["content"], first["content"]);
    assert_eq!(replayed["_meta"]["warden/replay_of"], ran, "{replayed}");
    assert_eq!(audit().await[0]["replay_of"], ran);

    let reused = call(json!({ "warden/call_id": "toolu_01" }), json!({ "n": 1 })).await;
    assert_eq!(reused["isError"], true);
    assert_eq!(
        reused["structuredContent"]["error"]["kind"], "call_id_reused",
        "{reused}"
    );
    // Another phone call of the same agent never gets this call's outcome,
    // even knowing its call id and arguments.
    let other = server
        .json(
            "POST",
            "/worker/v1/sessions",
            &worker,
            &json!({ "agent_id": agent, "phone_number": "+15557654321" }),
        )
        .await
        .json();
    let stranger = Mcp {
        server: &server,
        token: other["session_token"].as_str().unwrap().to_owned(),
    };
    let foreign = stranger
        .post(&json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "stateful__count", "arguments": {}, "_meta": { "warden/call_id": "toolu_01" },
        }}))
        .await
        .json();
    assert_eq!(
        foreign["result"]["structuredContent"]["error"]["kind"], "call_id_reused",
        "{foreign}"
    );
    let malformed = call(json!({ "warden/call_id": 7 }), json!({})).await;
    assert_eq!(
        malformed["structuredContent"]["error"]["kind"], "invalid_request",
        "{malformed}"
    );
    // Without a call id every request is its own call.
    for _ in 0..2 {
        let fresh = call(json!({}), json!({})).await;
        assert!(fresh.get("_meta").is_none(), "{fresh}");
    }
    let audit = audit().await;
    assert_eq!(audit.len(), 4, "{audit:#?}");
    assert_eq!(
        audit.iter().filter(|r| !r["replay_of"].is_null()).count(),
        1
    );
    server.stop().await;
}

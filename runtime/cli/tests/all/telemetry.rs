//! Telemetry as an operator sees it: `warden serve` exporting OTLP to a
//! collector's receiver (here [`OtlpReceiver`], in process), `GET /metrics`,
//! JSON logs — and no secret in any of it.

use crate::serve::{Server, http, raw, start_with_env, status_and_body, terminate, wait_exit};
use crate::*;
use warden_testing::{GoogleCalendar, OtlpReceiver, ReceivedSpan};

/// The stand-ins, on a runtime of their own while the test thread drives
/// `warden serve`.
struct StandIns {
    runtime: tokio::runtime::Runtime,
    otlp: OtlpReceiver,
    google: GoogleCalendar,
}

impl StandIns {
    fn start() -> StandIns {
        let runtime = stand_in_runtime();
        let (otlp, google) = runtime
            .block_on(async { (OtlpReceiver::start().await, GoogleCalendar::start().await) });
        StandIns {
            runtime,
            otlp,
            google,
        }
    }

    /// Environment that points serve's exporters at the receiver and makes
    /// the batch processors export within a fraction of a second.
    fn otel_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.otlp.endpoint()),
            ("OTEL_SERVICE_NAME", "warden-telemetry-test".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "300".to_owned()),
        ]
    }

    /// Serve with the calendar grants, exporting to the receiver.
    fn serve(&self, data: &std::path::Path, extra_env: &[(&str, &str)]) -> Server {
        let origin = self.google.origin();
        let credential_host = format!("access_token={origin}");
        let token_url = self.google.token_url();
        let env = self.otel_env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra_env);
        start_with_env(
            data,
            &[
                "--allow-private-network",
                "--allow-host",
                &origin,
                "--credential-host",
                &credential_host,
                "--oauth-token-url",
                &token_url,
            ],
            &env,
        )
    }

    /// Waits until `found` holds for what the receiver got.
    fn wait_for<T>(&self, what: &str, mut found: impl FnMut(&OtlpReceiver) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(value) = found(&self.otlp) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never got {what}; it has {} spans, {} log records:\n{:#?}",
                self.otlp.spans().len(),
                self.otlp.logs().len(),
                self.otlp
                    .spans()
                    .iter()
                    .map(|s| s.span.name.clone())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The admin key and the worker token from the first start.
fn bootstrap(data: &std::path::Path) -> (String, String, String) {
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap())
            .unwrap();
    (
        bootstrap["api_key"].as_str().unwrap().to_owned(),
        bootstrap["worker_token"].as_str().unwrap().to_owned(),
        bootstrap["organization_id"].as_str().unwrap().to_owned(),
    )
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The id of the platform tool `name`.
/// The id of the tool `name` an organization sees (its own or a platform tool).
pub(crate) fn tool_id(server: &Server, key: &str, name: &str) -> String {
    let (status, body) = http(&server.address, "GET", "/v1/tools", Some(key), None);
    assert_eq!(status, 200, "{body}");
    json_of(&body)
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name}: {body}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Installs a component as an organization tool; returns its id.
fn upload(server: &Server, key: &str, path: &str) -> String {
    crate::serve::upload_tool(&server.address, key, &std::fs::read(path).unwrap())
}

fn create_agent(server: &Server, key: &str) -> String {
    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/agents",
        Some(key),
        Some(r#"{"name":"Front desk","system_prompt":"Book appointments."}"#),
    );
    assert_eq!(status, 201, "{body}");
    json_of(&body)["id"].as_str().unwrap().to_owned()
}

fn attach(server: &Server, key: &str, agent: &str, tool: &str, config: Value) {
    let (status, body) = http(
        &server.address,
        "PUT",
        &format!("/v1/agents/{agent}/tools/{tool}"),
        Some(key),
        Some(&json!({ "config": config }).to_string()),
    );
    assert_eq!(status, 200, "{body}");
}

fn set_secret(server: &Server, key: &str, tool: &str, name: &str, value: &str) {
    let (status, body) = http(
        &server.address,
        "PUT",
        &format!("/v1/tools/{tool}/secrets/{name}"),
        Some(key),
        Some(&json!({ "value": value }).to_string()),
    );
    assert_eq!(status, 200, "{name}: {body}");
}

/// A POST with a JSON body and extra header lines; returns (status, body).
fn post(address: &str, path: &str, token: &str, headers: &str, body: &Value) -> (u16, String) {
    let response = raw(
        address,
        &format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json{headers}"
        ),
        body.to_string().as_bytes(),
    );
    status_and_body(&response)
}

/// An MCP reply's JSON-RPC message, whether sent as JSON or as one SSE event.
fn mcp_message(body: &str) -> Value {
    let data = body
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .unwrap_or(body)
        .trim();
    json_of(data)
}

const TRACE_WORKER: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_MCP: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The spans of one trace.
fn trace(otlp: &OtlpReceiver, trace_id: &str) -> Vec<ReceivedSpan> {
    otlp.spans()
        .into_iter()
        .filter(|s| s.trace_id() == trace_id)
        .collect()
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.span.name == name).collect()
}

fn only<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let found = named(spans, name);
    assert_eq!(
        found.len(),
        1,
        "expected one `{name}` span, got {}: {:#?}",
        found.len(),
        spans.iter().map(|s| &s.span.name).collect::<Vec<_>>()
    );
    found[0]
}

/// Checks the invocation span of one `google_calendar__list_events` call and
/// its children; returns it.
fn check_invocation<'a>(
    spans: &'a [ReceivedSpan],
    organization: &str,
    agent: &str,
    version: &str,
) -> &'a ReceivedSpan {
    let invoke = only(spans, "execute_tool google_calendar__list_events");
    let attr = |key: &str| invoke.attribute(key);
    assert_eq!(attr("warden.tool").as_deref(), Some("google_calendar"));
    assert_eq!(attr("warden.tool.version").as_deref(), Some(version));
    assert_eq!(attr("warden.function").as_deref(), Some("list_events"));
    assert_eq!(
        attr("warden.organization_id").as_deref(),
        Some(organization)
    );
    assert_eq!(attr("warden.agent_id").as_deref(), Some(agent));
    assert_eq!(attr("warden.outcome").as_deref(), Some("ok"));
    assert_eq!(attr("warden.error.kind"), None);
    assert_eq!(
        attr("gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    for measured in ["warden.fuel.consumed", "warden.memory.peak_bytes"] {
        let value: u64 = attr(measured).unwrap().parse().unwrap();
        assert!(value > 0, "{measured} = {value}");
    }
    assert_eq!(invoke.resource_service(), "warden-telemetry-test");

    // Store loads, instantiation and the guest call are its children; the
    // outbound request is the guest call's.
    for child in ["store load", "instantiate", "guest call", "audit"] {
        assert_eq!(
            only(spans, child).parent_span_id(),
            invoke.span_id(),
            "{child}"
        );
    }
    let guest = only(spans, "guest call");
    let outbound = only(spans, "GET");
    assert_eq!(outbound.parent_span_id(), guest.span_id());
    assert_eq!(
        outbound.attribute("http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        outbound.attribute("server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        outbound.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    // No URL, no headers: the path's query may carry anything.
    for span in spans {
        for kv in &span.span.attributes {
            assert!(
                !kv.key.starts_with("url.full")
                    && !kv.key.starts_with("url.query")
                    && !kv.key.contains("header"),
                "{}: {}",
                span.span.name,
                kv.key
            );
        }
    }
    invoke
}

trait ResourceService {
    fn resource_service(&self) -> String;
}

impl ResourceService for ReceivedSpan {
    fn resource_service(&self) -> String {
        warden_testing::otlp_attribute(&self.resource, "service.name").unwrap_or_default()
    }
}

#[test]
fn tool_calls_join_the_callers_trace_through_the_worker_api_and_mcp() {
    let stand_ins = StandIns::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = stand_ins.serve(data.path(), &[]);
    let (key, worker, organization) = bootstrap(data.path());

    let calendar = tool_id(&server, &key, "google_calendar");
    let agent = create_agent(&server, &key);
    attach(
        &server,
        &key,
        &agent,
        &calendar,
        json!({ "api_base": stand_ins.google.base_url(), "time_zone": "America/New_York" }),
    );
    let access_token = stand_ins
        .google
        .issue_access_token(Duration::from_secs(3600));
    let refresh_token = stand_ins.google.issue_refresh_token();
    for (name, value) in [
        ("access_token", access_token.as_str()),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", GoogleCalendar::CLIENT_ID),
        ("client_secret", GoogleCalendar::CLIENT_SECRET),
    ] {
        set_secret(&server, &key, &calendar, name, value);
    }
    let (_, tool) = http(
        &server.address,
        "GET",
        &format!("/v1/tools/{calendar}"),
        Some(&key),
        None,
    );
    let version = json_of(&tool)["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no version: {tool}"))
        .to_owned();

    // The worker plane, inside the voice agent's trace.
    let (status, body) = post(
        &server.address,
        &format!("/worker/v1/agents/{agent}/invoke"),
        &worker,
        &format!("\r\ntraceparent: 00-{TRACE_WORKER}-{CALLER_SPAN}-01\r\ntracestate: vendor=1"),
        &json!({ "name": "google_calendar__list_events", "arguments": {}, "call_id": "turn-1" }),
    );
    assert_eq!(status, 200, "{body}");

    let spans = stand_ins.wait_for("the worker call's trace", |otlp| {
        let spans = trace(otlp, TRACE_WORKER);
        (named(&spans, "GET").len() == 1
            && named(&spans, "POST /worker/v1/agents/{agent_id}/invoke").len() == 1
            && named(&spans, "audit").len() == 1)
            .then_some(spans)
    });
    let request = only(&spans, "POST /worker/v1/agents/{agent_id}/invoke");
    assert_eq!(request.parent_span_id(), CALLER_SPAN);
    assert_eq!(
        request.attribute("http.route").as_deref(),
        Some("/worker/v1/agents/{agent_id}/invoke")
    );
    assert_eq!(
        request.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    let invoke = check_invocation(&spans, &organization, &agent, &version);
    assert_eq!(invoke.parent_span_id(), request.span_id());
    assert_eq!(invoke.attribute("warden.call_session_id"), None);
    assert_eq!(
        invoke.attribute("gen_ai.tool.call.id").as_deref(),
        Some("turn-1")
    );

    // The request to Google carried the trace on, from the outbound span.
    let outbound = only(&spans, "GET");
    let sent = stand_ins
        .google
        .requests()
        .into_iter()
        .filter_map(|r| r.header("traceparent").map(str::to_owned))
        .collect::<Vec<_>>();
    assert_eq!(
        sent,
        [format!("00-{TRACE_WORKER}-{}-01", outbound.span_id())]
    );

    // MCP, in another trace: a call session's tools/call.
    let (status, body) = post(
        &server.address,
        "/worker/v1/sessions",
        &worker,
        "",
        &json!({ "agent_id": agent }),
    );
    assert_eq!(status, 201, "{body}");
    let session = json_of(&body);
    let session_token = session["session_token"].as_str().unwrap().to_owned();
    let session_id = session["call_session_id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &server.address,
        "/mcp",
        &session_token,
        &format!(
            "\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: 2025-06-18\
             \r\ntraceparent: 00-{TRACE_MCP}-{CALLER_SPAN}-01"
        ),
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                 "params": { "name": "google_calendar__list_events", "arguments": {} } }),
    );
    assert_eq!(status, 200, "{body}");
    let reply = mcp_message(&body);
    assert_eq!(reply["result"]["isError"], false, "{reply}");

    let spans = stand_ins.wait_for("the MCP call's trace", |otlp| {
        let spans = trace(otlp, TRACE_MCP);
        (named(&spans, "audit").len() == 1 && named(&spans, "POST /mcp").len() == 1)
            .then_some(spans)
    });
    let request = only(&spans, "POST /mcp");
    assert_eq!(request.parent_span_id(), CALLER_SPAN);
    let call = only(&spans, "tools/call");
    assert_eq!(call.parent_span_id(), request.span_id());
    let invoke = check_invocation(&spans, &organization, &agent, &version);
    assert_eq!(invoke.parent_span_id(), call.span_id());
    assert_eq!(
        invoke.attribute("warden.call_session_id").as_deref(),
        Some(session_id.as_str())
    );

    // The tokens and keys never left in any signal.
    terminate(&server);
    let (_, exited) = wait_exit(&mut server, Duration::from_secs(15));
    assert!(exited, "serve did not stop");
    let everything = stand_ins.otlp.everything();
    let stderr = server.stderr.lock().unwrap().join("\n");
    for secret in [
        access_token.as_str(),
        refresh_token.as_str(),
        GoogleCalendar::CLIENT_SECRET,
        key.as_str(),
        worker.as_str(),
        session_token.as_str(),
    ] {
        assert!(!everything.contains(secret), "a secret was exported");
        assert!(!stderr.contains(secret), "a secret was logged: {stderr}");
    }
    drop(stand_ins.runtime);
}

/// `name{labels…} value` lines of a Prometheus text page whose labels include
/// every one of `labels`; their sum.
pub(crate) fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

fn metrics_page(server: &Server) -> String {
    let (status, page) = http(&server.address, "GET", "/metrics", None, None);
    assert_eq!(status, 200, "{page}");
    page
}

#[test]
fn metrics_count_calls_by_outcome_and_the_endpoint_can_be_turned_off() {
    let data = tempfile::tempdir().unwrap();
    let server = start_with_env(data.path(), &[], &[]);
    let (key, worker, _) = bootstrap(data.path());
    let hours = tool_id(&server, &key, "business_hours");
    let fisher = upload(&server, &key, artifacts::SECRET_FISHER);
    let bomb = upload(&server, &key, artifacts::FUEL_BOMB);
    let agent = create_agent(&server, &key);
    attach(
        &server,
        &key,
        &agent,
        &hours,
        json!({ "time_zone": "America/New_York",
                "weekly_hours": { "monday": [{ "open": "09:00", "close": "17:00" }] } }),
    );
    attach(&server, &key, &agent, &fisher, json!({}));
    attach(&server, &key, &agent, &bomb, json!({}));
    set_secret(&server, &key, &fisher, "api_key", "not-a-real-key");

    let before = metrics_page(&server);
    let invoke = |name: &str, arguments: Value| {
        let (status, body) = post(
            &server.address,
            &format!("/worker/v1/agents/{agent}/invoke"),
            &worker,
            "",
            &json!({ "name": name, "arguments": arguments, "call_id": "m" }),
        );
        (status, json_of(&body))
    };
    for _ in 0..2 {
        let (status, body) = invoke(
            "business_hours__is_open",
            json!({ "at": "2026-03-09T14:30" }),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = invoke("secret_fisher__leak", json!({ "via": "error" }));
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["kind"], "upstream", "{body}");
    let (_, body) = invoke("fuel_bomb__spin", json!({}));
    assert_eq!(body["kind"], "fuel_exhausted", "{body}");
    let after = metrics_page(&server);

    let calls =
        |page: &str, labels: &[(&str, &str)]| sample(page, "warden_tool_calls_total", labels);
    for (labels, added) in [
        (
            &[("warden_tool", "business_hours"), ("warden_outcome", "ok")][..],
            2.0,
        ),
        (
            &[
                ("warden_tool", "secret_fisher"),
                ("warden_outcome", "error"),
                ("warden_error_kind", "upstream"),
            ][..],
            1.0,
        ),
        (
            &[
                ("warden_tool", "fuel_bomb"),
                ("warden_function", "spin"),
                ("warden_outcome", "error"),
                ("warden_error_kind", "fuel_exhausted"),
            ][..],
            1.0,
        ),
    ] {
        assert_eq!(
            calls(&after, labels) - calls(&before, labels),
            added,
            "{labels:?}:\n{after}"
        );
    }
    let duration_count = |page: &str| {
        sample(
            page,
            "warden_tool_duration_seconds_count",
            &[("warden_tool", "business_hours")],
        )
    };
    assert_eq!(
        duration_count(&after) - duration_count(&before),
        2.0,
        "{after}"
    );
    let fuel = |page: &str| {
        sample(
            page,
            "warden_tool_fuel_sum",
            &[("warden_tool", "fuel_bomb")],
        )
    };
    assert!(fuel(&after) - fuel(&before) > 1e6, "{after}");
    for gauge in [
        "warden_sandbox_instances_active",
        "warden_sandbox_queue_depth",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(gauge)),
            "{gauge} missing:\n{after}"
        );
    }
    assert!(
        sample(
            &after,
            "http_server_request_duration_seconds_count",
            &[("http_route", "/worker/v1/agents/{agent_id}/invoke")],
        ) >= 4.0,
        "{after}"
    );

    // Caller-chosen names never become labels: 20 calls to distinct 10 KB
    // function names are refused before they reach the sandbox or a metric.
    for i in 0..20 {
        let name = format!("business_hours__{i}{}", "x".repeat(10 * 1024));
        let (status, body) = invoke(&name, json!({}));
        assert_eq!(body["kind"], "unknown_function", "{status} {body}");
        assert!(
            body.to_string().len() < 2048,
            "the error echoes the name in full"
        );
    }
    let flooded = metrics_page(&server);
    assert_eq!(
        calls(
            &flooded,
            &[
                ("warden_tool", "business_hours"),
                ("warden_function", "(unknown)")
            ]
        ),
        0.0,
        "{flooded}"
    );
    assert!(
        flooded.len() < after.len() + 16 * 1024,
        "/metrics grew from {} to {} bytes",
        after.len(),
        flooded.len()
    );
    drop(server);

    let data = tempfile::tempdir().unwrap();
    let server = start_with_env(data.path(), &["--no-metrics-endpoint"], &[]);
    let (status, body) = http(&server.address, "GET", "/metrics", None, None);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn no_canary_secret_or_phone_number_reaches_spans_logs_metrics_or_stderr() {
    const CANARY: &str = "canary-otel-7c1f09ae-do-not-export";
    const CALLER: &str = "+15557300412";
    const DIALLED: &str = "+15557300999";
    let stand_ins = StandIns::start();
    let data = tempfile::tempdir().unwrap();
    // Everything Warden itself says, as JSON.
    let mut server = stand_ins.serve(
        data.path(),
        &[
            ("WARDEN_LOG", "info,warden=trace"),
            ("WARDEN_LOG_FORMAT", "json"),
        ],
    );
    let (key, worker, _) = bootstrap(data.path());
    let fisher = upload(&server, &key, artifacts::SECRET_FISHER);
    let agent = create_agent(&server, &key);
    attach(&server, &key, &agent, &fisher, json!({}));
    set_secret(&server, &key, &fisher, "api_key", CANARY);

    // The caller's number is personal data: a tool gets it during a call,
    // over MCP and the worker route, and nothing else does.
    let context = upload(&server, &key, artifacts::CONTEXT_V2);
    attach(&server, &key, &agent, &context, json!({}));
    let (status, body) = post(
        &server.address,
        "/worker/v1/sessions",
        &worker,
        "",
        &json!({ "agent_id": agent, "phone_number": CALLER, "agent_number": DIALLED }),
    );
    assert_eq!(status, 201, "{body}");
    let session = json_of(&body);
    let (status, body) = post(
        &server.address,
        "/mcp",
        session["session_token"].as_str().unwrap(),
        "\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: 2025-06-18",
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                 "params": { "name": "context_v2__whoami", "arguments": {} } }),
    );
    assert_eq!(status, 200, "{body}");
    let reply = mcp_message(&body);
    assert_eq!(
        reply["result"]["structuredContent"]["call"]["caller_number"], CALLER,
        "{reply}"
    );
    let (status, body) = post(
        &server.address,
        &format!("/worker/v1/agents/{agent}/invoke"),
        &worker,
        "",
        &json!({ "name": "context_v2__whoami", "arguments": {},
                 "call_session_id": session["call_session_id"] }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_of(&body)["result"]["call"]["agent_number"],
        DIALLED,
        "{body}"
    );
    let metrics = metrics_page(&server);
    assert!(metrics.contains("context_v2"), "the calls were counted");

    // The tool logs and errors with the key, every way it can.
    for via in ["log", "error", "stdout", "stderr", "panic", "result"] {
        let (status, body) = post(
            &server.address,
            &format!("/worker/v1/agents/{agent}/invoke"),
            &worker,
            &format!("\r\ntraceparent: 00-{TRACE_WORKER}-{CALLER_SPAN}-01"),
            &json!({ "name": "secret_fisher__leak", "arguments": { "via": via }, "call_id": via }),
        );
        assert!(!body.contains(CANARY), "{via}: {status} {body}");
    }
    // The tool's log record arrived, redacted, correlated with its call.
    let record = stand_ins.wait_for("the tool's log record", |otlp| {
        otlp.logs()
            .into_iter()
            .find(|l| l.body().is_some_and(|b| b.starts_with("the key is")))
    });
    assert_eq!(record.body().as_deref(), Some("the key is [REDACTED]"));
    let invoke = stand_ins.wait_for("the logging call's span", |otlp| {
        otlp.spans()
            .into_iter()
            .find(|s| s.attribute("gen_ai.tool.call.id").as_deref() == Some("log"))
    });
    assert_eq!(record.trace_id(), TRACE_WORKER);
    assert_eq!(record.span_id(), invoke.span_id());
    let failed = stand_ins.wait_for("the failing call's span", |otlp| {
        otlp.spans()
            .into_iter()
            .find(|s| s.attribute("gen_ai.tool.call.id").as_deref() == Some("error"))
    });
    assert_eq!(failed.attribute("warden.outcome").as_deref(), Some("error"));
    assert_eq!(
        failed.attribute("warden.error.kind").as_deref(),
        Some("upstream")
    );

    terminate(&server);
    let (_, exited) = wait_exit(&mut server, Duration::from_secs(15));
    assert!(exited, "serve did not stop");
    let everything = stand_ins.otlp.everything();
    assert!(
        !stand_ins.otlp.metrics().is_empty(),
        "no metrics were exported"
    );
    assert!(
        everything.contains("[REDACTED]"),
        "the redacted leak attempts should have been exported"
    );
    let stderr = server.stderr.lock().unwrap().clone();
    let stderr_text = stderr.join("\n");
    for number in [CALLER, DIALLED] {
        let digits = number.trim_start_matches('+');
        assert!(!everything.contains(digits), "{number} was exported");
        assert!(!stderr_text.contains(digits), "{number} was logged");
        assert!(!metrics.contains(digits), "{number} is in /metrics");
    }
    // In every spelling redaction knows (base64, hex, percent, escapes).
    for spelling in warden_sandbox::redacted_spellings(CANARY) {
        assert!(
            !everything.contains(&spelling),
            "the canary was exported to the collector (spelled {spelling:?})"
        );
        assert!(
            !stderr_text.contains(&spelling),
            "the canary was logged (spelled {spelling:?})"
        );
    }
    // With --log-format json (here from WARDEN_LOG_FORMAT) every log line is
    // a JSON object; the tool's error-level record is among them.
    let events: Vec<Value> = stderr
        .iter()
        .filter(|line| !line.starts_with("warden: "))
        .map(|line| json_of(line))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["target"] == "warden::tool"
                && e["fields"]["message"] == "the key is [REDACTED]"),
        "{stderr:#?}"
    );
    drop(stand_ins.runtime);
}

#[test]
fn the_protocol_variable_picks_json_and_grpc_is_refused_at_start() {
    let stand_ins = StandIns::start();
    let data = tempfile::tempdir().unwrap();
    let server = stand_ins.serve(data.path(), &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
    let (status, _) = http(&server.address, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let span = stand_ins.wait_for("the /healthz span", |otlp| {
        otlp.spans()
            .into_iter()
            .find(|s| s.span.name == "GET /healthz")
    });
    assert_eq!(
        span.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    let types = stand_ins.otlp.content_types();
    assert!(
        types.iter().all(|t| t.starts_with("application/json")),
        "{types:?}"
    );
    drop(server);

    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let run = warden_with_env(
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", &data_dir],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_signal_endpoint_alone_turns_on_only_that_signal() {
    let stand_ins = StandIns::start();
    let data = tempfile::tempdir().unwrap();
    let traces = format!("{}/v1/traces", stand_ins.otlp.endpoint());
    let mut server = start_with_env(
        data.path(),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
            ("WARDEN_LOG", "info"),
        ],
    );
    let (status, _) = http(&server.address, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    stand_ins.wait_for("the /healthz span", |otlp| {
        otlp.spans()
            .into_iter()
            .find(|s| s.span.name == "GET /healthz")
    });
    terminate(&server);
    let (_, exited) = wait_exit(&mut server, Duration::from_secs(15));
    assert!(exited, "serve did not stop");
    assert!(stand_ins.otlp.metrics().is_empty());
    assert!(stand_ins.otlp.logs().is_empty());
    let stderr = server.stderr.lock().unwrap().join("\n");
    // No exporter for the other signals, so no failed exports to localhost.
    let stderr = stderr.to_lowercase();
    assert!(
        !stderr.contains("export") && !stderr.contains("flushing"),
        "{stderr}"
    );
}

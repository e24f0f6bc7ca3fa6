//! Shared capacity and the HTTP surfaces under attack, through a real
//! `warden serve` on a bound port: one organization's flood of tests and
//! uploads, slow clients, caller-chosen names, the metrics endpoint and
//! operator grants.

use crate::serve::{Server, agent_with_tool, http, raw, start_with_env, status_and_body};
use crate::telemetry::tool_id;
use crate::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use warden_testing::HttpTarget;

struct Org {
    id: String,
    key: String,
}

fn bootstrap(data: &std::path::Path) -> (Org, String) {
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap())
            .unwrap();
    (
        Org {
            id: bootstrap["organization_id"].as_str().unwrap().to_owned(),
            key: bootstrap["api_key"].as_str().unwrap().to_owned(),
        },
        bootstrap["worker_token"].as_str().unwrap().to_owned(),
    )
}

fn create_org(data: &std::path::Path, name: &str) -> Org {
    let data = data.display().to_string();
    let run = warden(&["org", "create", "--data-dir", &data, name]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let created = run.json();
    Org {
        id: created["organization_id"].as_str().unwrap().to_owned(),
        key: created["api_key"].as_str().unwrap().to_owned(),
    }
}

/// Uploads a component; the new tool's id.
fn upload(server: &Server, org: &Org, component: &[u8]) -> String {
    let response = raw(
        &server.address,
        &format!(
            "POST /v1/tools HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/wasm",
            org.key
        ),
        component,
    );
    let (status, body) = status_and_body(&response);
    assert!(status == 201 || status == 200, "{status}: {body}");
    serde_json::from_str::<Value>(&body).unwrap()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const HOURS: &str = r#"{"config":{"time_zone":"America/New_York","weekly_hours":{"monday":[{"open":"09:00","close":"17:00"}]}}}"#;

/// One `business_hours__is_open` call under a deadline: status and latency.
fn is_open(address: &str, worker: &str, agent: &str, deadline_ms: u64) -> (u16, Duration) {
    let started = Instant::now();
    let response = raw(
        address,
        &format!(
            "POST /worker/v1/agents/{agent}/invoke HTTP/1.1\r\nAuthorization: Bearer {worker}\r\n\
             Content-Type: application/json\r\nX-Warden-Deadline-Ms: {deadline_ms}"
        ),
        br#"{"name":"business_hours__is_open","arguments":{"at":"2026-03-09T14:30"},"call_id":"a"}"#,
    );
    let (status, body) = status_and_body(&response);
    assert_eq!(status, 200, "{body}");
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
fn one_organizations_flood_of_tests_and_uploads_leaves_anothers_invokes_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start_with_env(
        &data,
        &[
            "--rate-limit",
            "0",
            "--upload-rate-limit",
            "0",
            "--max-instances-per-organization",
            "32",
        ],
        &[],
    );
    let (a, worker) = bootstrap(&data);
    let hours = tool_id(&server, &a.key, "business_hours");
    let a_agent = agent_with_tool(&server.address, &a.key, "Front desk", &hours, HOURS);
    let mut quiet: Vec<Duration> = (0..50)
        .map(|_| is_open(&server.address, &worker, &a_agent, 3000).1)
        .collect();
    quiet.sort();

    // Organization B: a tool whose `test` sleeps, run 300 times at once,
    // and uploads one after another.
    let b = create_org(&data, "flood");
    let sleeper = upload(&server, &b, &std::fs::read(artifacts::SLEEPER).unwrap());
    let b_agent = agent_with_tool(&server.address, &b.key, "Sleepy", &sleeper, "{}");
    let flood: Vec<_> = (0..300)
        .map(|_| {
            let (address, key, agent, tool) = (
                server.address.clone(),
                b.key.clone(),
                b_agent.clone(),
                sleeper.clone(),
            );
            std::thread::spawn(move || {
                http(
                    &address,
                    "POST",
                    &format!("/v1/agents/{agent}/tools/{tool}/test"),
                    Some(&key),
                    Some("{}"),
                )
                .0
            })
        })
        .collect();
    let uploads = {
        let (address, key) = (server.address.clone(), b.key.clone());
        std::thread::spawn(move || {
            let echo = std::fs::read(artifacts::ECHO).unwrap();
            for _ in 0..10 {
                raw(
                    &address,
                    &format!(
                        "POST /v1/tools HTTP/1.1\r\nAuthorization: Bearer {key}\r\n\
                         Content-Type: application/wasm"
                    ),
                    &echo,
                );
            }
        })
    };
    // B holds its share; the rest of its tests queue behind it.
    let metrics = http(&server.address, "GET", "/metrics", None, None).1;
    let started = Instant::now();
    let mut b_held = 0.0;
    while started.elapsed() < Duration::from_secs(20) {
        let page = http(&server.address, "GET", "/metrics", None, None).1;
        b_held = crate::telemetry::sample(
            &page,
            "warden_sandbox_organization_instances",
            &[("warden_organization_id", &b.id)],
        );
        if b_held >= 32.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b_held, 32.0, "B never held its share:\n{metrics}");

    let mut loaded: Vec<Duration> = (0..100)
        .map(|_| is_open(&server.address, &worker, &a_agent, 3000).1)
        .collect();
    loaded.sort();
    let page = http(&server.address, "GET", "/metrics", None, None).1;
    let b_waiting = crate::telemetry::sample(
        &page,
        "warden_sandbox_organization_queue_depth",
        &[("warden_organization_id", &b.id)],
    );
    assert!(b_waiting > 0.0, "B's flood does not queue:\n{page}");
    assert!(
        crate::telemetry::sample(
            &page,
            "warden_sandbox_organization_instances",
            &[("warden_organization_id", &b.id)],
        ) <= 32.0,
        "{page}"
    );
    eprintln!(
        "A's is_open while B floods: quiet p50 {:?} p99 {:?}; under flood p50 {:?} p99 {:?}",
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99),
        percentile(&loaded, 0.5),
        percentile(&loaded, 0.99),
    );
    uploads.join().unwrap();
    drop(server);
    for thread in flood {
        let _ = thread.join();
    }
}

/// Connects from `source` (any 127/8 address reaches loopback).
fn connect_from(source: &str, to: &str) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&from.into()).unwrap();
    let to: SocketAddr = to.parse().unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// Whether the server has closed `stream` already.
fn closed_now(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 512];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// Whether the server closed `stream` within `limit`.
fn closed_within(mut stream: &TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 512];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            // A response (the 408 hyper may send) then the close.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn idle_half_requests_are_capped_and_timed_out_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start_with_env(
        &data,
        &[
            "--header-read-timeout",
            "2",
            "--max-connections-per-ip",
            "100",
        ],
        &[],
    );
    let (a, worker) = bootstrap(&data);
    let hours = tool_id(&server, &a.key, "business_hours");
    let agent = agent_with_tool(&server.address, &a.key, "Front desk", &hours, HOURS);

    // 400 connections from one address that never finish their headers.
    let idle: Vec<TcpStream> = (0..400)
        .map(|_| {
            let mut stream = connect_from("127.0.0.2", &server.address);
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    // Everyone else is still served meanwhile.
    let started = Instant::now();
    let (status, body) = http(&server.address, "GET", "/healthz", None, None);
    assert_eq!((status, body.as_str()), (200, "ok"));
    is_open(&server.address, &worker, &agent, 1000);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Those over the per-address cap were closed at once; the rest when
    // their headers did not arrive in time.
    std::thread::sleep(Duration::from_millis(200));
    let over_cap = idle.iter().filter(|s| closed_now(s)).count();
    assert!(
        (300..400).contains(&over_cap),
        "{over_cap} of 400 connections were closed at once (100 are allowed)"
    );
    let open_after = idle
        .iter()
        .filter(|s| !closed_within(s, Duration::from_secs(5)))
        .count();
    assert_eq!(open_after, 0, "half-requests outlived the header timeout");

    // An idle keep-alive connection is closed too.
    let mut kept = TcpStream::connect(&server.address).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(closed_within(&kept, Duration::from_secs(5)));
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_refused_408() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start_with_env(&data, &["--request-body-timeout", "1"], &[]);
    let (a, _) = bootstrap(&data);
    for (path, content_type) in [
        ("/v1/agents", "application/json"),
        ("/v1/tools", "application/wasm"),
    ] {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{{\"na",
            a.key
        )
        .unwrap();
        let started = Instant::now();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 408"), "{path}: {response}");
        assert!(response.contains("request_timeout"), "{response}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let (status, agents) = http(&server.address, "GET", "/v1/agents", Some(&a.key), None);
    assert_eq!(status, 200);
    assert!(
        !agents.contains("\"na"),
        "a half-sent agent was created: {agents}"
    );
}

/// A free port on loopback, for a listener the server opens itself.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_can_move_to_their_own_listener_behind_a_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let token = "metrics-scraper-3f9c";
    let server = start_with_env(
        &data,
        &[
            "--metrics-listen",
            &metrics_address,
            "--metrics-token",
            token,
        ],
        &[],
    );
    let (status, body) = http(&server.address, "GET", "/metrics", None, None);
    assert_eq!(status, 404, "the API listener still serves metrics: {body}");
    let (status, _) = http(&metrics_address, "GET", "/metrics", None, None);
    assert_eq!(status, 401);
    let (status, _) = http(&metrics_address, "GET", "/metrics", Some("wrong"), None);
    assert_eq!(status, 401);
    let (status, page) = http(&metrics_address, "GET", "/metrics", Some(token), None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("warden_sandbox_instances_active"), "{page}");
    let (status, _) = http(&metrics_address, "GET", "/v1/tools", None, None);
    assert_eq!(status, 404, "the metrics listener serves the API");
    drop(server);

    // A token alone guards the API listener's /metrics.
    let data = dir.path().join("other");
    let server = start_with_env(&data, &["--metrics-token", token], &[]);
    let (status, _) = http(&server.address, "GET", "/metrics", None, None);
    assert_eq!(status, 401);
    let (status, _) = http(&server.address, "GET", "/metrics", Some(token), None);
    assert_eq!(status, 200);
}

#[test]
fn random_long_function_names_leave_metrics_and_audit_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start_with_env(&data, &["--rate-limit", "0"], &[]);
    let (a, worker) = bootstrap(&data);
    let hours = tool_id(&server, &a.key, "business_hours");
    let agent = agent_with_tool(&server.address, &a.key, "Front desk", &hours, HOURS);
    is_open(&server.address, &worker, &agent, 3000);
    let before = http(&server.address, "GET", "/metrics", None, None).1;
    let audit = |server: &Server| {
        let (status, body) = http(
            &server.address,
            "GET",
            "/v1/invocations?limit=100",
            Some(&a.key),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        body["items"].as_array().unwrap().len()
    };
    let audited = audit(&server);

    // 10,000 calls, each to a new random 1 KB name on a known tool.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..10_000 {
        let name: String = (0..1024)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect();
        let body = json!({ "name": format!("business_hours__{name}"), "arguments": {} });
        let (status, answer) = http(
            &server.address,
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            Some(&worker),
            Some(&body.to_string()),
        );
        assert_eq!(status, 422, "{answer}");
        assert!(answer.len() < 2048, "the error echoes the name: {answer}");
    }
    let after = http(&server.address, "GET", "/metrics", None, None).1;
    assert!(
        after.len() < 1024 * 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        !after.contains("(unknown)"),
        "unknown names reached the sandbox"
    );
    assert_eq!(audit(&server), audited, "unknown names were audited");
}

#[test]
fn operator_grants_reach_organizations_tools_only_when_named() {
    let runtime = stand_in_runtime();
    let target = runtime.block_on(HttpTarget::start());
    let origin = target.origin();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let grants = ["--allow-private-network", "--allow-host", origin.as_str()];

    let fetch = |server: &Server, org: &Org, worker: &str, agent: &str| {
        let body = json!({
            "name": "http_probe__fetch",
            "arguments": { "url": target.url("/ok") },
        });
        let (status, answer) = http(
            &server.address,
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            Some(worker),
            Some(&body.to_string()),
        );
        let _ = org;
        (status, answer)
    };

    let server = start_with_env(&data, &grants, &[]);
    let (a, worker) = bootstrap(&data);
    let probe = upload(&server, &a, &std::fs::read(artifacts::HTTP_PROBE).unwrap());
    let secret = json!({ "value": CANARY }).to_string();
    let (status, body) = http(
        &server.address,
        "PUT",
        &format!("/v1/tools/{probe}/secrets/api_token"),
        Some(&a.key),
        Some(&secret),
    );
    assert!(status < 300, "{status}: {body}");
    let agent = agent_with_tool(&server.address, &a.key, "Prober", &probe, "{}");
    let (status, answer) = fetch(&server, &a, &worker, &agent);
    assert_eq!(
        status, 502,
        "an org's own tool used the operator's grants: {answer}"
    );
    assert!(answer.contains("host_denied"), "{answer}");
    assert!(!answer.contains(CANARY));
    drop(server);

    // Named: the same tool reaches the granted host.
    let mut named = grants.to_vec();
    named.extend(["--grants-for-organization", a.id.as_str()]);
    let server = start_with_env(&data, &named, &[]);
    let (status, answer) = fetch(&server, &a, &worker, &agent);
    assert_eq!(status, 200, "{answer}");
}

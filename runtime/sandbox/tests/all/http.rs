//! Outbound HTTP under the host's policy, driven through the `http-probe`
//! fixture against local servers (`warden-testing`).

use crate::*;
use std::time::{Duration, Instant};
use warden_sandbox::{ErrorKind, HostPattern, HttpGrants, Limits, Origin};
use warden_testing::HttpTarget;
use warden_tool_artifacts as artifacts;

const CANARY: &str = "canary-api-token-4b9e1d7a";

fn pattern(p: &str) -> HostPattern {
    p.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn fetch(url: &str) -> Call {
    let mut c = call("fetch", json!({ "url": url }));
    c.env.secrets = secrets(&[("api_token", CANARY)]);
    c
}

/// Everything a call put anywhere, for canary searches.
fn everything(outcome: &CallOutcome) -> String {
    let result = match &outcome.result {
        Ok(raw) => raw.get().to_owned(),
        Err(e) => format!("{e:?} {e}"),
    };
    format!("{result}\n{:?}", outcome.report)
}

fn assert_denied(outcome: CallOutcome, why: &str) {
    let e = err(outcome);
    assert_eq!(
        (e.kind, e.origin),
        (ErrorKind::HostDenied, Origin::Host),
        "{e:?}"
    );
    assert!(
        e.message.contains(why),
        "expected `{why}` in: {}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_forbidden_address_form_is_denied() {
    let probe = load(artifacts::HTTP_PROBE).await;
    // A live server on loopback: were the address check missing, the
    // loopback spellings below would reach it.
    let target = HttpTarget::start().await;
    let port = target.port();
    for (host, why) in [
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("[fc00::1]", "private"),
        ("169.254.1.1", "link-local"),
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("0.0.0.0", "reserved"),
        ("169.254.169.254", "cloud metadata"),
        ("[::ffff:169.254.169.254]", "cloud metadata"),
        ("[fd00:ec2::254]", "cloud metadata"),
    ] {
        let origin = format!("http://{host}:{port}");
        let mut c = fetch(&format!("{origin}/secret"));
        // The operator grants the exact host, so only the address check stands
        // between the tool and the server.
        c.env.http.allow_hosts = vec![pattern(&origin)];
        let outcome = invoke(&probe, c).await;
        assert_eq!(outcome.report.denied_requests.len(), 1, "{host}");
        assert_denied(outcome, why);
    }
    assert!(target.requests().is_empty(), "{:?}", target.requests());
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_the_tool_did_not_declare_are_denied() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    for url in [
        "https://example.org/".to_owned(),
        "https://api.credential.example.evil.net/".to_owned(),
        "http://api.credential.example/".to_owned(),
        "https://api.credential.example:8443/".to_owned(),
        // Private networks allowed, but this host was never granted.
        target.url("/"),
    ] {
        let mut c = fetch(&url);
        c.env.http.allow_private_network = true;
        assert_denied(invoke(&probe, c).await, "not an allowed host");
    }
    // An operator denial beats the tool's own declaration.
    let mut c = fetch("https://plain.example/");
    c.env.http.deny_hosts = vec![pattern("https://plain.example")];
    assert_denied(invoke(&probe, c).await, "denied by the operator");
    assert!(target.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_network_grant_reaches_a_local_server() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    let mut c = call(
        "fetch",
        json!({ "url": target.url("/hello?x=1"), "method": "POST", "body": "ping" }),
    );
    c.env.secrets = secrets(&[("api_token", CANARY)]);
    c.env.http = HttpGrants {
        allow_hosts: vec![pattern(&target.origin())],
        allow_private_network: true,
        ..HttpGrants::default()
    };
    let outcome = invoke(&probe, c).await;
    let response = ok(&outcome);
    assert_eq!(response["status"], 200);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["path"], "/hello");
    let requests = target.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].body, b"ping");
    // Not a credential host: the token never travels there.
    assert_eq!(requests[0].header("authorization"), None);
    assert!(!everything(&outcome).contains(CANARY));
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_returned_to_the_tool_and_each_hop_is_checked() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    let inner = HttpTarget::start().await;
    let grants = HttpGrants {
        allow_hosts: vec![
            pattern(&target.origin()),
            pattern("http://169.254.169.254"),
            pattern(&inner.origin()),
        ],
        allow_private_network: true,
        ..HttpGrants::default()
    };
    let to_metadata = "http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F";

    // The host never follows: the tool gets the 302 itself.
    let mut c = fetch(&target.url(&format!("/redirect?to={to_metadata}")));
    c.env.http = grants.clone();
    let response = ok(&invoke(&probe, c).await);
    assert_eq!(response["status"], 302);
    assert_eq!(
        response["headers"]["location"],
        "http://169.254.169.254/latest/meta-data/"
    );

    // A tool that follows makes a new request, which the policy checks: cloud
    // metadata stays unreachable even with private networks allowed.
    let mut c = call(
        "fetch",
        json!({ "url": target.url(&format!("/redirect?to={to_metadata}")), "follow_redirects": true }),
    );
    c.env.secrets = secrets(&[("api_token", CANARY)]);
    c.env.http = grants.clone();
    assert_denied(invoke(&probe, c).await, "cloud metadata");

    // A redirect to an internal address that is not granted is refused too.
    let to_inner = format!("/redirect?to=http%3A%2F%2F127.0.0.1%3A{}%2F", inner.port());
    let mut c = call(
        "fetch",
        json!({ "url": target.url(&to_inner), "follow_redirects": true }),
    );
    c.env.secrets = secrets(&[("api_token", CANARY)]);
    c.env.http = HttpGrants {
        allow_hosts: vec![pattern(&target.origin())],
        ..grants
    };
    assert_denied(invoke(&probe, c).await, "not an allowed host");
    assert!(inner.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_origin_keeps_only_safe_headers() {
    let probe = load(artifacts::HTTP_PROBE).await;
    // Two servers on loopback: different ports, so different origins.
    let first = HttpTarget::start().await;
    let other = HttpTarget::start().await;
    let grants = HttpGrants {
        allow_hosts: vec![pattern(&first.origin()), pattern(&other.origin())],
        allow_private_network: true,
        ..HttpGrants::default()
    };
    let redirect = |to: &str, status: u16| {
        let to: String = form_urlencoded::byte_serialize(to.as_bytes()).collect();
        first.url(&format!("/redirect?to={to}&status={status}"))
    };
    // Credentials of the tool's own naming, and headers that only say what
    // the tool wants back.
    let guest_headers = json!({
        "x-api-key": "sk-guest-key",
        "x-auth-token": "guest-token",
        "private-token": "glpat-guest",
        "authorization": "Bearer guest",
        "accept": "application/json",
        "user-agent": "http-probe/1",
    });
    let follow = |url: String, method: &str| {
        let mut c = call(
            "fetch",
            json!({
                "url": url,
                "method": method,
                "headers": guest_headers,
                "body": if method == "GET" { "" } else { "{}" },
                "follow_redirects": true,
            }),
        );
        c.env.secrets = secrets(&[("api_token", CANARY)]);
        c.env.http = grants.clone();
        c
    };

    // Same origin: every header the tool set goes on.
    let outcome = invoke(
        &probe,
        follow(redirect(&first.url("/echo-headers"), 302), "GET"),
    )
    .await;
    let response = ok(&outcome);
    assert_eq!(response["status"], 200);
    let echoed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["x-api-key"], "sk-guest-key", "{echoed}");
    assert_eq!(echoed["private-token"], "glpat-guest", "{echoed}");
    assert_eq!(echoed["authorization"], "Bearer guest", "{echoed}");

    // Another origin: the credentials stay behind, the safe headers go on.
    for (status, method) in [(302, "GET"), (307, "POST"), (308, "PUT")] {
        let outcome = invoke(
            &probe,
            follow(redirect(&other.url("/echo-headers"), status), method),
        )
        .await;
        let response = ok(&outcome);
        assert_eq!(response["status"], 200, "{status}");
        let echoed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        for name in [
            "x-api-key",
            "x-auth-token",
            "private-token",
            "authorization",
        ] {
            assert_eq!(echoed.get(name), None, "{status}: {name} reached {echoed}");
        }
        assert_eq!(echoed["accept"], "application/json", "{status}");
        assert_eq!(echoed["user-agent"], "http-probe/1", "{status}");
    }
    let received = other.requests();
    assert_eq!(received.len(), 3);
    for r in &received {
        assert_eq!(r.header("x-api-key"), None, "{r:?}");
    }
    // 307 and 308 repeat the method and the body.
    assert_eq!(
        (received[1].method.as_str(), received[1].body.as_slice()),
        ("POST", b"{}".as_slice())
    );
    assert_eq!(
        (received[2].method.as_str(), received[2].body.as_slice()),
        ("PUT", b"{}".as_slice())
    );
    // The first origin did get the key each time.
    assert!(
        first
            .requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some("sk-guest-key"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_reach_only_credential_hosts_and_never_the_tool() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let api = HttpTarget::start().await;
    let plain = HttpTarget::start().await;
    let grants = HttpGrants {
        allow_hosts: vec![pattern(&api.origin()), pattern(&plain.origin())],
        allow_private_network: true,
        credential_hosts: vec![("api_token".into(), pattern(&api.origin()))],
        ..HttpGrants::default()
    };
    let with = |args: Value| {
        let mut c = call("fetch", args);
        c.env.secrets = secrets(&[("api_token", CANARY)]);
        c.env.http = grants.clone();
        c
    };
    let mut outputs = String::new();

    // The guest's own `authorization` is replaced by the host's.
    let outcome = invoke(
        &probe,
        with(json!({ "url": api.url("/v1/things"), "headers": { "authorization": "Bearer guest-chosen" } })),
    )
    .await;
    assert_eq!(ok(&outcome)["status"], 200);
    outputs += &everything(&outcome);
    let seen = api.requests();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );

    // Another host never gets it, with or without a guest header.
    for headers in [json!({}), json!({ "x-note": "hi" })] {
        let outcome = invoke(
            &probe,
            with(json!({ "url": plain.url("/"), "headers": headers })),
        )
        .await;
        assert_eq!(ok(&outcome)["status"], 200);
        outputs += &everything(&outcome);
    }
    assert!(
        plain
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );

    // An upstream that echoes the credential back cannot hand it to the
    // tool: the response is scrubbed before the guest reads it.
    let outcome = invoke(&probe, with(json!({ "url": api.url("/echo-headers") }))).await;
    let response = ok(&outcome);
    let body = response["body"].as_str().unwrap();
    assert!(body.contains(&"*".repeat(CANARY.len())), "{body}");
    outputs += &everything(&outcome);

    // The guest cannot read the secret.
    let mut c = call("read_secret", json!({ "name": "api_token" }));
    c.env.secrets = secrets(&[("api_token", CANARY)]);
    let outcome = invoke(&probe, c).await;
    assert_eq!(ok(&outcome)["error"], "host_only");
    outputs += &everything(&outcome);

    assert!(!outputs.contains(CANARY), "the canary leaked:\n{outputs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_per_call_are_capped() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    let mut c = call("fetch_many", json!({ "url": target.url("/"), "count": 20 }));
    c.env.secrets = secrets(&[("api_token", CANARY)]);
    c.env.http = HttpGrants {
        allow_hosts: vec![pattern(&target.origin())],
        allow_private_network: true,
        ..HttpGrants::default()
    };
    let outcome = invoke(&probe, c).await;
    let report = ok(&outcome);
    let cap = Limits::default().max_requests;
    assert_eq!(report["succeeded"], cap);
    assert_eq!(report["failed"], 20 - cap);
    assert_eq!(target.requests().len(), cap as usize);
    assert!(
        outcome.report.denied_requests[0].contains("limit of 16 requests"),
        "{:?}",
        outcome.report.denied_requests
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn response_bodies_and_waits_are_bounded() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    let grants = HttpGrants {
        allow_hosts: vec![pattern(&target.origin())],
        allow_private_network: true,
        ..HttpGrants::default()
    };
    let limits = Limits {
        max_response_body_bytes: 10_000,
        first_byte_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let with = |url: String| {
        let mut c = fetch(&url);
        c.env.http = grants.clone();
        c.env.limits = Some(limits.clone());
        c
    };

    let outcome = invoke(&probe, with(target.url("/bytes?n=10000"))).await;
    assert_eq!(ok(&outcome)["body"].as_str().unwrap().len(), 10_000);
    let e = err(invoke(&probe, with(target.url("/bytes?n=10001"))).await);
    assert_eq!(e.kind, ErrorKind::Upstream, "{e:?}");

    let started = Instant::now();
    let e = err(invoke(&probe, with(target.url("/slow?ms=5000"))).await);
    assert_eq!(e.kind, ErrorKind::Upstream, "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // The call's own deadline bounds a slow upstream too.
    let mut c = with(target.url("/slow?ms=5000"));
    c.env.limits = Some(Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let e = err(invoke(&probe, c).await);
    assert!(
        matches!(e.kind, ErrorKind::Timeout | ErrorKind::Upstream),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_denials_hold_for_every_spelling_and_for_resolved_names() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    let port = target.port();
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "[::ffff:127.0.0.1]",
        "localhost",
    ] {
        let origin = format!("http://{host}:{port}");
        let mut c = fetch(&format!("{origin}/"));
        c.env.http = HttpGrants {
            allow_hosts: vec![pattern(&origin)],
            deny_hosts: vec![pattern(&format!("http://127.0.0.1:{port}"))],
            allow_private_network: true,
            ..HttpGrants::default()
        };
        assert_denied(invoke(&probe, c).await, "denied by the operator");
    }
    assert!(target.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_and_connect_are_refused_and_link_local_stays_closed() {
    let probe = load(artifacts::HTTP_PROBE).await;
    let target = HttpTarget::start().await;
    for method in ["TRACE", "CONNECT"] {
        let mut c = call("fetch", json!({ "url": target.url("/"), "method": method }));
        c.env.secrets = secrets(&[("api_token", CANARY)]);
        c.env.http = HttpGrants {
            allow_hosts: vec![pattern(&target.origin())],
            allow_private_network: true,
            credential_hosts: vec![("api_token".into(), pattern(&target.origin()))],
            ..HttpGrants::default()
        };
        assert_denied(invoke(&probe, c).await, "method is not allowed");
    }
    let mut c = fetch("http://169.254.10.10/");
    c.env.http = HttpGrants {
        allow_hosts: vec![pattern("http://169.254.10.10")],
        allow_private_network: true,
        ..HttpGrants::default()
    };
    assert_denied(invoke(&probe, c).await, "link-local");
    assert!(target.requests().is_empty());
}

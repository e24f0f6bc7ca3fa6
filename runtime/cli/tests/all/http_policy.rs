//! The outbound HTTP policy as an operator drives it: `--allow-host`,
//! `--deny-host`, `--credential-host` and `--allow-private-network`.

use crate::*;
use warden_testing::HttpTarget;

struct Target {
    _runtime: tokio::runtime::Runtime,
    server: HttpTarget,
}

fn target() -> Target {
    let runtime = stand_in_runtime();
    let server = runtime.block_on(HttpTarget::start());
    Target {
        _runtime: runtime,
        server,
    }
}

fn probe(url: &str, extra: &[&str]) -> Run {
    let args = json!({ "url": url }).to_string();
    let secret = format!("api_token={CANARY}");
    let mut argv = vec![
        "tool",
        "call",
        artifacts::HTTP_PROBE,
        "fetch",
        "--args",
        &args,
        "--secret",
        &secret,
    ];
    argv.extend_from_slice(extra);
    let run = warden_with_env(&argv, &[("WARDEN_LOG", "debug")]);
    assert!(
        !run.stdout.contains(CANARY) && !run.stderr.contains(CANARY),
        "the canary leaked:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

#[test]
fn internal_addresses_are_host_denied_even_when_granted() {
    let t = target();
    let port = t.server.port();
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "10.0.0.1",
        "169.254.169.254",
    ] {
        let origin = format!("http://{host}:{port}");
        let run = probe(&format!("{origin}/"), &["--allow-host", &origin]);
        assert_eq!(run.error_kind(), "host_denied", "{host}: {}", run.stdout);
    }
    assert!(t.server.requests().is_empty());
}

#[test]
fn private_network_grant_reaches_a_local_server_and_deny_wins() {
    let t = target();
    let origin = t.server.origin();
    let run = probe(
        &t.server.url("/ok"),
        &["--allow-host", &origin, "--allow-private-network"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["status"], 200);

    let run = probe(
        &t.server.url("/ok"),
        &[
            "--allow-host",
            &origin,
            "--allow-private-network",
            "--deny-host",
            &origin,
        ],
    );
    assert_eq!(run.error_kind(), "host_denied");
    assert_eq!(t.server.requests().len(), 1);
}

#[test]
fn the_credential_goes_only_where_the_operator_binds_it() {
    let api = target();
    let plain = target();
    let binding = format!("api_token={}", api.server.origin());
    let grants = [
        "--allow-host",
        &api.server.origin(),
        "--allow-host",
        &plain.server.origin(),
        "--allow-private-network",
        "--credential-host",
        &binding,
    ];
    assert_eq!(probe(&api.server.url("/a"), &grants).code, 0);
    assert_eq!(probe(&plain.server.url("/b"), &grants).code, 0);
    assert_eq!(
        api.server.requests()[0].header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    assert_eq!(plain.server.requests()[0].header("authorization"), None);
}

#[test]
fn malformed_host_patterns_are_usage_errors() {
    for bad in [
        "example.com",
        "ftp://example.com",
        "https://example.com/path",
    ] {
        let run = warden(&[
            "tool",
            "call",
            artifacts::HTTP_PROBE,
            "fetch",
            "--allow-host",
            bad,
        ]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("host pattern"), "{}", run.stderr);
    }
    let run = warden(&[
        "tool",
        "call",
        artifacts::HTTP_PROBE,
        "fetch",
        "--credential-host",
        "https://example.com",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

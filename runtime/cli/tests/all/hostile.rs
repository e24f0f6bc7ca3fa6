//! Hostile components and uploads through the binary: `warden tool
//! call|inspect`, and a real `warden serve` where one organization uploads
//! and calls them while another keeps being served.

use crate::serve::{Server, agent_with_tool, http, raw, start_with_env};
use crate::*;

/// A component whose one core function has thousands of live locals and a
/// long chain of branch diamonds: cheap to upload (a few hundred KB), costly
/// for the compiler.
fn compile_bomb() -> Vec<u8> {
    const LOCALS: usize = 2_000;
    const DIAMONDS: usize = 12_000;
    let mut body = String::new();
    for i in 0..DIAMONDS {
        let (a, b, c) = (i % LOCALS, (i * 7 + 1) % LOCALS, (i * 13 + 5) % LOCALS);
        body.push_str(&format!(
            "(if (i32.and (local.get {a}) (local.get {b})) \
               (then (local.set {c} (i32.add (local.get {a}) (local.get {c})))) \
               (else (local.set {a} (i32.mul (local.get {b}) (local.get {c}))))) "
        ));
    }
    let locals = "(local i32) ".repeat(LOCALS);
    let wat =
        format!("(component (core module (func (export \"f\") (param i32) {locals} {body})))");
    wat::parse_str(&wat).expect("the bomb assembles")
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn tool_call_never_panics_on_hostile_output() {
    for (function, args) in [
        ("deep", r#"{"depth":100000}"#),
        ("huge_number", "{}"),
        ("lone_surrogate", "{}"),
    ] {
        let run = warden(&[
            "tool",
            "call",
            artifacts::HOSTILE_OUTPUT,
            function,
            "--args",
            args,
        ]);
        assert_eq!(run.error_kind(), "internal", "{function}: {}", run.stdout);
        assert!(run.stdout.contains("invalid JSON"), "{}", run.stdout);
    }
    let run = warden(&[
        "tool",
        "call",
        artifacts::HOSTILE_OUTPUT,
        "long_error",
        "--args",
        r#"{"bytes":41943040}"#,
    ]);
    assert_eq!(run.error_kind(), "upstream");
    let message = run.json()["error"]["message"].as_str().unwrap().len();
    assert_eq!(message, warden_sandbox::MAX_ERROR_MESSAGE_BYTES);
}

#[test]
fn tool_inspect_refuses_hostile_metadata_naming_the_rule() {
    let run = warden(&["tool", "inspect", artifacts::SCHEMA_BOMB]);
    assert_eq!(run.error_kind(), "invalid_component");
    assert!(
        run.stdout.contains("expands to more than 10000 subschemas"),
        "{}",
        run.stdout
    );
    let run = warden(&["tool", "inspect", artifacts::METADATA_BOMB]);
    assert_eq!(run.error_kind(), "invalid_component");
    assert!(
        run.stdout.contains("declares 20000 functions"),
        "{}",
        run.stdout
    );
}

#[test]
fn compilation_runs_under_cpu_and_wall_clock_limits() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = write_temp(&dir, "bomb.wasm", &compile_bomb());
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();

    // Each limit, set low, refuses the bomb and names itself.
    let refused = |flag: &str, value: &str, why: &str| {
        let run = warden(&[
            "tool",
            "inspect",
            &bomb,
            "--cache-dir",
            &cache_dir,
            flag,
            value,
        ]);
        assert_eq!(run.error_kind(), "invalid_component");
        assert!(run.stdout.contains(why), "{flag}: {}", run.stdout);
    };
    refused(
        "--compile-cpu-seconds",
        "1",
        "more than the CPU time limit of 1 s",
    );
    refused(
        "--compile-memory-mib",
        "64",
        "more than the memory limit of 64 MiB",
    );
    let started = Instant::now();
    refused(
        "--compile-timeout",
        "1",
        "took longer than the limit of 1 s",
    );
    // Not a speed assertion: the child was killed rather than waited for.
    assert!(started.elapsed() < Duration::from_secs(60));

    // Nothing of the refused component reached the cache.
    let cached = std::fs::read_dir(cache.path())
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                std::fs::read_dir(path)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect()
            } else {
                vec![path]
            }
        })
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .count();
    assert_eq!(cached, 0);
}

struct Tenant {
    key: String,
}

fn upload(server: &Server, tenant: &Tenant, component: &[u8]) -> (u16, Value) {
    let response = raw(
        &server.address,
        &format!(
            "POST /v1/tools HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/wasm",
            tenant.key
        ),
        component,
    );
    let (status, body) = crate::serve::status_and_body(&response);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// One `business_hours__is_open` invoke of `agent`; its status and how long
/// it took.
fn is_open(address: &str, worker: &str, agent: &str) -> (u16, Duration) {
    let started = Instant::now();
    let (status, body) = http(
        address,
        "POST",
        &format!("/worker/v1/agents/{agent}/invoke"),
        Some(worker),
        Some(
            r#"{"name":"business_hours__is_open","arguments":{"at":"2026-03-09T14:30"},"call_id":"a"}"#,
        ),
    );
    assert!(status == 200, "{status}: {body}");
    (status, started.elapsed())
}

#[test]
fn one_tenants_hostile_uploads_and_calls_do_not_stop_anothers_invokes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start_with_env(
        &data,
        &["--compile-cpu-seconds", "3", "--rate-limit", "0"],
        &[],
    );
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap())
            .unwrap();
    let a_key = bootstrap["api_key"].as_str().unwrap().to_owned();
    let worker = bootstrap["worker_token"].as_str().unwrap().to_owned();

    // Organization A: an agent with business_hours.
    let hours = crate::telemetry::tool_id(&server, &a_key, "business_hours");
    let agent = agent_with_tool(
        &server.address,
        &a_key,
        "Front desk",
        &hours,
        r#"{"config":{"time_zone":"America/New_York","weekly_hours":{"monday":[{"open":"09:00","close":"17:00"}]}}}"#,
    );
    is_open(&server.address, &worker, &agent);

    // Organization B, hostile.
    let mut args = vec!["org", "create", "--data-dir"];
    let data_arg = data.display().to_string();
    args.push(&data_arg);
    args.push("mallory");
    let run = warden(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let b = Tenant {
        key: run.json()["api_key"].as_str().unwrap().to_owned(),
    };

    // A keeps calling while B attacks.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let caller = {
        let (address, worker, agent, stop) = (
            server.address.clone(),
            worker.clone(),
            agent.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                latencies.push(is_open(&address, &worker, &agent).1);
                std::thread::sleep(Duration::from_millis(20));
            }
            latencies
        })
    };

    let (status, body) = upload(&server, &b, &compile_bomb());
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("CPU time limit of 3 s"),
        "{body}"
    );
    for (fixture, why) in [
        (
            artifacts::SCHEMA_BOMB,
            "expands to more than 10000 subschemas",
        ),
        (artifacts::METADATA_BOMB, "declares 20000 functions"),
    ] {
        let (status, body) = upload(&server, &b, &std::fs::read(fixture).unwrap());
        assert_eq!(status, 422, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(why), "{body}");
    }

    // B cannot read a credential back through a new version of its tool.
    let (status, body) = upload(&server, &b, &std::fs::read(artifacts::HTTP_PROBE).unwrap());
    assert_eq!(status, 201, "{body}");
    let (status, body) = upload(&server, &b, &std::fs::read(artifacts::PROBE_V2).unwrap());
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`api_token` is host-only"),
        "{body}"
    );

    // B's own tool returns unusable JSON and a 40 MB error message.
    let (status, tool) = upload(
        &server,
        &b,
        &std::fs::read(artifacts::HOSTILE_OUTPUT).unwrap(),
    );
    assert_eq!(status, 201, "{tool}");
    let tool = tool["tool"]["id"].as_str().unwrap().to_owned();
    let b_agent = agent_with_tool(&server.address, &b.key, "Mallory", &tool, "{}");
    for (function, arguments, kind) in [
        ("deep", r#"{"depth":100000}"#, "internal"),
        ("huge_number", "{}", "internal"),
        ("lone_surrogate", "{}", "internal"),
        ("long_error", r#"{"bytes":41943040}"#, "upstream"),
        ("log_flood", r#"{"bytes":4194304,"records":300}"#, ""),
    ] {
        let (status, body) = http(
            &server.address,
            "POST",
            &format!("/worker/v1/agents/{b_agent}/invoke"),
            Some(&worker),
            Some(&format!(
                r#"{{"name":"hostile_output__{function}","arguments":{arguments},"call_id":"m"}}"#
            )),
        );
        let body: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{function}: the answer must be JSON ({e})"));
        if kind.is_empty() {
            assert_eq!(status, 200, "{function}: {body}");
        } else {
            assert_eq!(body["kind"], kind, "{function}: {body}");
            assert!(
                body.to_string().len() < 8 * 1024,
                "{function}: answer too large"
            );
        }
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let latencies = caller.join().expect("A's calls all succeeded");
    assert!(!latencies.is_empty());
    // A generous bound: A was served throughout, never stalled (measured
    // figures are in BENCHMARKS.md).
    let slowest = latencies.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(10),
        "slowest call took {slowest:?}"
    );
    eprintln!(
        "organization A: {} calls during the attack, slowest {slowest:?}",
        latencies.len()
    );
}

//! Each misbehaving fixture ends with its expected verdict, and the sandbox
//! keeps serving normal calls afterwards.

use crate::*;
use std::time::{Duration, Instant};
use warden_sandbox::{ErrorKind, Limits, Origin};
use warden_tool_artifacts as artifacts;

#[tokio::test(flavor = "multi_thread")]
async fn echo_returns_its_message_and_the_call_id() {
    let echo = load(artifacts::ECHO).await;
    let outcome = invoke(&echo, call("echo", json!({ "message": "hello" }))).await;
    assert_eq!(
        ok(&outcome),
        json!({ "message": "hello", "call_id": "test-call" })
    );
    assert!(outcome.report.fuel_consumed > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn fuel_bomb_is_fuel_exhausted() {
    let tool = load(artifacts::FUEL_BOMB).await;
    let mut c = call("spin", json!({}));
    c.env.limits = Some(Limits {
        fuel: 50_000_000,
        ..Limits::default()
    });
    let outcome = invoke(&tool, c).await;
    assert_eq!(outcome.report.fuel_consumed, 50_000_000);
    let e = err(outcome);
    assert_eq!(e.kind, ErrorKind::FuelExhausted, "{e:?}");
    assert_eq!(e.origin, Origin::Host);
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fuel_bomb_with_default_fuel_stops_well_within_the_default_timeout() {
    let tool = load(artifacts::FUEL_BOMB).await;
    let started = Instant::now();
    let e = err(invoke(&tool, call("spin", json!({}))).await);
    assert_eq!(e.kind, ErrorKind::FuelExhausted, "{e:?}");
    assert!(started.elapsed() < Limits::default().timeout);
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb_is_memory_limit() {
    let tool = load(artifacts::MEMORY_BOMB).await;
    let mut c = call("grow", json!({}));
    c.env.limits = Some(Limits {
        memory_bytes: 16 * Limits::MIB,
        ..Limits::default()
    });
    let outcome = invoke(&tool, c).await;
    assert!(outcome.report.peak_memory_bytes <= 16 * Limits::MIB);
    assert!(outcome.report.peak_memory_bytes > 8 * Limits::MIB);
    let e = err(outcome);
    assert_eq!(e.kind, ErrorKind::MemoryLimit, "{e:?}");
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stack_overflow_is_stack_overflow() {
    let tool = load(artifacts::STACK_OVERFLOW).await;
    let e = err(invoke(&tool, call("recurse", json!({}))).await);
    assert_eq!(e.kind, ErrorKind::StackOverflow, "{e:?}");
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn big_output_is_output_too_large() {
    let tool = load(artifacts::BIG_OUTPUT).await;
    let e = err(invoke(&tool, call("produce", json!({}))).await);
    assert_eq!(e.kind, ErrorKind::OutputTooLarge, "{e:?}");
    // Just under the cap is fine: a 1 MiB JSON string is the text plus quotes.
    let fits = Limits::MIB - 2;
    let outcome = invoke(&tool, call("produce", json!({ "bytes": fits }))).await;
    assert_eq!(ok(&outcome).as_str().unwrap().len(), fits);
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trap_is_trap_with_the_panic_message() {
    let tool = load(artifacts::TRAP).await;
    let outcome = invoke(&tool, call("explode", json!({}))).await;
    assert!(outcome.report.stderr.contains("tool exploded on purpose"));
    let e = err(outcome);
    assert_eq!(e.kind, ErrorKind::Trap, "{e:?}");
    assert!(e.message.contains("tool exploded on purpose"), "{e:?}");
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeper_times_out_at_its_deadline() {
    let tool = load(artifacts::SLEEPER).await;
    let mut c = call("sleep", json!({}));
    c.env.limits = Some(Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    });
    let started = Instant::now();
    let e = err(invoke(&tool, c).await);
    let elapsed = started.elapsed();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_deadline_tightens_the_timeout() {
    let tool = load(artifacts::SLEEPER).await;
    let mut c = call("sleep", json!({}));
    c.env.deadline = Some(Instant::now() + Duration::from_millis(100));
    let started = Instant::now();
    let e = err(invoke(&tool, c).await);
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_guest_is_interrupted_at_its_deadline() {
    let tool = load(artifacts::FUEL_BOMB).await;
    let mut c = call("spin", json!({}));
    c.env.limits = Some(Limits {
        fuel: u64::MAX,
        timeout: Duration::from_millis(150),
        ..Limits::default()
    });
    let started = Instant::now();
    let e = err(invoke(&tool, c).await);
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    echo_still_works().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn env_prober_sees_no_environment_files_stdin_or_sockets() {
    let tool = load(artifacts::ENV_PROBER).await;
    let report = ok(&invoke(&tool, call("probe", json!({}))).await);
    assert_eq!(report["env"], json!([]), "{report:#}");
    assert_eq!(report["args"], json!([]), "{report:#}");
    for (what, outcome) in report["files"].as_object().unwrap() {
        assert!(outcome.get("error").is_some(), "{what}: {outcome}");
    }
    for (what, outcome) in report["sockets"].as_object().unwrap() {
        assert!(outcome.get("error").is_some(), "{what}: {outcome}");
    }
    // stdin is closed: reading it yields nothing (or an error), never data.
    let stdin = &report["stdin"];
    assert!(
        stdin.get("error").is_some() || stdin["ok"] == json!(0),
        "{stdin}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stateful_starts_fresh_on_every_call() {
    let tool = load(artifacts::STATEFUL).await;
    for _ in 0..5 {
        assert_eq!(ok(&invoke(&tool, call("count", json!({}))).await), json!(1));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stateful_starts_fresh_under_100_concurrent_calls() {
    let tool = load(artifacts::STATEFUL).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let tool = tool.clone();
            tokio::spawn(async move { invoke(&tool, call("count", json!({}))).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(ok(&task.await.unwrap()), json!(1));
    }
}

/// A slot's memory is reset for the next instance however scattered the
/// pages a call wrote, both the memory image's and the zeroed ones: the
/// calls run one after another, so each reuses the slot the last one left.
#[tokio::test(flavor = "multi_thread")]
async fn scattered_writes_do_not_reach_the_next_call() {
    let tool = load(artifacts::STATEFUL).await;
    for _ in 0..5 {
        assert_eq!(
            ok(&invoke(&tool, call("scatter", json!({}))).await),
            json!(0)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_errors_keep_their_kind_and_message() {
    let echo = load(artifacts::ECHO).await;
    for (kind, expected) in [
        ("invalid_arguments", ErrorKind::InvalidArguments),
        ("not_configured", ErrorKind::NotConfigured),
        ("unauthorized", ErrorKind::Unauthorized),
        ("not_found", ErrorKind::NotFound),
        ("rate_limited", ErrorKind::RateLimited),
        ("upstream", ErrorKind::Upstream),
        ("internal", ErrorKind::Internal),
    ] {
        let message = format!("reported {kind}");
        let outcome = invoke(
            &echo,
            call("fail", json!({ "kind": kind, "message": message })),
        )
        .await;
        let e = err(outcome);
        assert_eq!((e.kind, e.origin), (expected, Origin::Tool));
        assert_eq!(e.message, message);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_invalid_arguments_are_refused_before_the_guest_runs() {
    let echo = load(artifacts::ECHO).await;
    for arguments in [
        json!({}),
        json!({ "message": 42 }),
        json!({ "message": "hi", "extra": true }),
        json!("just a string"),
    ] {
        let outcome = invoke(&echo, call("echo", arguments.clone())).await;
        // No instance was created, so no fuel was burned.
        assert_eq!(outcome.report.fuel_consumed, 0, "{arguments}");
        let e = err(outcome);
        assert_eq!(
            (e.kind, e.origin),
            (ErrorKind::InvalidArguments, Origin::Host),
            "{arguments}"
        );
        assert!(e.message.contains("schema of `echo`"), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_functions_are_refused() {
    let echo = load(artifacts::ECHO).await;
    let e = err(invoke(&echo, call("shout", json!({}))).await);
    assert_eq!(e.kind, ErrorKind::UnknownFunction);
    assert!(e.message.contains("echo, fail"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_pool_makes_calls_wait_then_fail_as_overloaded() {
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: 1,
        ..SandboxConfig::default()
    })
    .unwrap();
    let sleeper = sandbox
        .load_file(artifacts::SLEEPER.as_ref())
        .await
        .unwrap();
    let echo = sandbox.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    let mut long = call("sleep", json!({}));
    long.env.limits = Some(Limits {
        timeout: Duration::from_millis(800),
        ..Limits::default()
    });
    let holder = {
        let (sandbox, sleeper) = (sandbox.clone(), sleeper.clone());
        tokio::spawn(async move { sandbox.invoke(&sleeper, long).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut quick = call("echo", json!({ "message": "hi" }));
    quick.env.deadline = Some(Instant::now() + Duration::from_millis(100));
    let e = err(sandbox.invoke(&echo, quick).await);
    assert_eq!(e.kind, ErrorKind::Overloaded, "{e:?}");

    // Once the slot is free again, calls go through.
    assert_eq!(err(holder.await.unwrap()).kind, ErrorKind::Timeout);
    let outcome = sandbox
        .invoke(&echo, call("echo", json!({ "message": "hi" })))
        .await;
    assert_eq!(ok(&outcome)["message"], "hi");
}

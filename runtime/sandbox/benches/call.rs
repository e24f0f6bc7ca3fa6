//! The production call path: validate → fresh store → instantiate → call →
//! drop, for a trivial tool (sandbox overhead) and a real one.
//!
//! `cargo bench -p warden-sandbox`; results are recorded in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use warden_sandbox::{Call, CallContext, CallEnv, Sandbox, SandboxConfig};
use warden_tool_artifacts as artifacts;

fn call(function: &str, arguments: serde_json::Value, config: serde_json::Value) -> Call {
    Call {
        function: function.into(),
        arguments,
        env: CallEnv {
            context: CallContext {
                call_id: "bench".into(),
                organization_id: "bench".into(),
                agent_id: None,
                config,
                call: None,
            },
            ..CallEnv::default()
        },
    }
}

fn invoke(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: 16,
        ..SandboxConfig::default()
    })
    .unwrap();

    let echo = rt
        .block_on(sandbox.load_file(artifacts::ECHO.as_ref()))
        .unwrap();
    let echo_call = call("echo", json!({ "message": "hi" }), json!({}));
    c.bench_function("invoke/echo", |b| {
        b.iter(|| {
            let outcome = rt.block_on(sandbox.invoke(&echo, echo_call.clone()));
            black_box(outcome.result.unwrap());
        })
    });

    let hours = rt
        .block_on(sandbox.load_file(artifacts::BUSINESS_HOURS.as_ref()))
        .unwrap();
    let hours_call = call(
        "is_open",
        json!({ "at": "2026-03-09T14:00:00Z" }),
        json!({
            "time_zone": "America/New_York",
            "weekly_hours": { "monday": [{ "open": "09:00", "close": "17:00" }] },
        }),
    );
    c.bench_function("invoke/business_hours.is_open", |b| {
        b.iter(|| {
            let outcome = rt.block_on(sandbox.invoke(&hours, hours_call.clone()));
            black_box(outcome.result.unwrap());
        })
    });
}

criterion_group!(benches, invoke);
criterion_main!(benches);

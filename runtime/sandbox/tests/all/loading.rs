//! Loading components: validation, content addressing and the artifact cache.

use crate::*;
use warden_sandbox::ErrorKind;
use warden_tool_artifacts as artifacts;

#[tokio::test(flavor = "multi_thread")]
async fn bad_metadata_is_refused_naming_each_problem() {
    let e = sandbox()
        .load_file(artifacts::BAD_METADATA.as_ref())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidComponent, "{e:?}");
    assert!(
        e.message.contains("duplicate function name `lookup`"),
        "{e:?}"
    );
    assert!(
        e.message
            .contains("parameters of function `broken` is not a valid JSON Schema"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_that_are_not_a_component_are_refused() {
    for (what, bytes) in [
        ("garbage", b"definitely not wasm".to_vec()),
        ("empty", Vec::new()),
        // A core module (magic + version 1), not a component.
        ("core module", b"\0asm\x01\0\0\0".to_vec()),
    ] {
        let e = sandbox().load(bytes).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidComponent, "{what}: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_is_read_and_validated() {
    let tool = load(artifacts::ECHO).await;
    let m = tool.metadata();
    assert_eq!(m.name, "echo");
    assert_eq!(m.version, "0.1.0");
    assert!(m.description.contains("Echoes messages back"));
    let echo = m.function("echo").unwrap();
    assert!(echo.read_only);
    assert!(echo.description.contains("Returns `{\"message\": ...}`"));
    assert_eq!(echo.parameters["type"], "object");
    assert_eq!(echo.parameters["required"], json!(["message"]));
    assert_eq!(
        echo.parameters["properties"]["message"]["description"],
        "The message to send back."
    );
    assert!(echo.parameters.get("$schema").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_bytes_load_as_the_same_tool() {
    let bytes = std::fs::read(artifacts::ECHO).unwrap();
    let a = sandbox().load(bytes.clone()).await.unwrap();
    let b = sandbox().load(bytes.clone()).await.unwrap();
    assert_eq!(a.sha256(), b.sha256());
    use sha2::Digest;
    assert_eq!(a.sha256(), hex::encode(sha2::Sha256::digest(&bytes)));
    let found = sandbox().loaded(a.sha256()).expect("found by its hash");
    assert_eq!(found.metadata(), a.metadata());
    assert!(sandbox().loaded(&"0".repeat(64)).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_artifacts_are_cached_on_disk_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let config = || SandboxConfig {
        max_instances: 2,
        cache_dir: Some(dir.path().to_owned()),
        ..SandboxConfig::default()
    };
    let first = Sandbox::new(config()).unwrap();
    let tool = first.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    let artifacts_written: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".cwasm"))
        .collect();
    assert_eq!(artifacts_written.len(), 1, "{artifacts_written:?}");
    assert!(artifacts_written[0].ends_with(&format!("{}.cwasm", tool.sha256())));

    // A second sandbox (as after a restart) loads the artifact and works.
    let second = Sandbox::new(config()).unwrap();
    let tool = second.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    let outcome = second
        .invoke(&tool, call("echo", json!({ "message": "cached" })))
        .await;
    assert_eq!(ok(&outcome)["message"], "cached");

    // A corrupt artifact is ignored and replaced, not trusted.
    std::fs::write(&artifacts_written[0], b"corrupt").unwrap();
    let third = Sandbox::new(config()).unwrap();
    let tool = third.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    let outcome = third
        .invoke(&tool, call("echo", json!({ "message": "recompiled" })))
        .await;
    assert_eq!(ok(&outcome)["message"], "recompiled");
}

pub(crate) fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}

/// The naive instantiation path (`warden tool bench`'s baseline) runs the
/// same calls under the same limits as the pooled one; only its cost differs.
#[tokio::test(flavor = "multi_thread")]
async fn naive_instantiation_gives_the_pooled_paths_results_and_verdicts() {
    use warden_sandbox::{Instantiation, Limits};
    let naive = Sandbox::new(SandboxConfig {
        max_instances: 2,
        instantiation: Instantiation::Naive,
        ..SandboxConfig::default()
    })
    .unwrap();
    let echo = naive.load_file(artifacts::ECHO.as_ref()).await.unwrap();
    for _ in 0..3 {
        let outcome = naive
            .invoke(&echo, call("echo", json!({ "message": "naive" })))
            .await;
        assert_eq!(
            ok(&outcome),
            json!({ "message": "naive", "call_id": "test-call" })
        );
    }
    let bomb = naive
        .load_file(artifacts::MEMORY_BOMB.as_ref())
        .await
        .unwrap();
    let mut grow = call("grow", json!({}));
    grow.env.limits = Some(Limits {
        memory_bytes: 16 * Limits::MIB,
        ..Limits::default()
    });
    let e = err(naive.invoke(&bomb, grow).await);
    assert_eq!(e.kind, ErrorKind::MemoryLimit, "{e:?}");
    let spin = naive
        .load_file(artifacts::FUEL_BOMB.as_ref())
        .await
        .unwrap();
    let mut c = call("spin", json!({}));
    c.env.limits = Some(Limits {
        fuel: 50_000_000,
        ..Limits::default()
    });
    let outcome = naive.invoke(&spin, c).await;
    assert_eq!(outcome.report.fuel_consumed, 50_000_000);
    assert_eq!(err(outcome).kind, ErrorKind::FuelExhausted);
}

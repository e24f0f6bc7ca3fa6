//! `warden keys generate` and `warden keys rewrap` on a real database.

use crate::*;
use secrecy::{ExposeSecret, SecretString};
use warden_store::{KeyRing, NewToolVersion, Store};

fn ring(spec: &str) -> KeyRing {
    KeyRing::parse(&SecretString::from(spec.to_owned())).expect("key ring")
}

fn generate() -> String {
    let run = warden(&["keys", "generate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_owned()
}

#[test]
fn generate_prints_a_usable_entry_each_time_different() {
    let (a, b) = (generate(), generate());
    assert_ne!(a, b);
    let keys = ring(&a);
    assert_eq!(Some(keys.primary_key_id()), a.split(':').next());
}

#[test]
fn rewrap_moves_every_secret_to_the_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let (old, new) = (generate(), generate());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (org, tool) = runtime.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let org = store.create_organization("acme", false).await.unwrap();
        let tool = store
            .install_tool_version(&NewToolVersion {
                organization_id: Some(org.id.clone()),
                name: "t".into(),
                description: "t".into(),
                version: "1".into(),
                component: b"not really a component".to_vec(),
                metadata: json!({}),
                functions: vec![],
            })
            .await
            .unwrap()
            .tool;
        for name in ["a", "b", "c"] {
            store
                .put_secret(
                    &ring(&old),
                    &org.id,
                    &tool.id,
                    name,
                    &SecretString::from(CANARY),
                )
                .await
                .unwrap();
        }
        store.close().await;
        (org.id, tool.id)
    });

    let both = format!("{new},{old}");
    let run = warden_with_env(
        &["keys", "rewrap", "--database-url", &url],
        &[("WARDEN_SECRET_KEYS", &both)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["rewrapped"], 3);
    let again = warden_with_env(
        &["keys", "rewrap", "--database-url", &url],
        &[("WARDEN_SECRET_KEYS", &both)],
    );
    assert_eq!(again.json()["rewrapped"], 0);
    for output in [&run.stdout, &run.stderr, &again.stdout, &again.stderr] {
        assert!(!output.contains(CANARY) && !output.contains(new.split(':').nth(1).unwrap()));
    }

    // The old key can go: every secret opens with the new one alone.
    runtime.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        for name in ["a", "b", "c"] {
            let value = store
                .open_secret(&ring(&new), &org, &tool, name)
                .await
                .unwrap();
            assert_eq!(value.expose_secret(), CANARY);
        }
    });
    let file = std::fs::read(dir.path().join("warden.db")).unwrap();
    assert!(!file.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
}

#[test]
fn rewrap_refuses_a_key_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, generate()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let run = warden(&[
        "keys",
        "rewrap",
        "--database-url",
        &url,
        "--key-file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("key ring"), "{}", run.stderr);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = warden(&[
        "keys",
        "rewrap",
        "--database-url",
        &url,
        "--key-file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

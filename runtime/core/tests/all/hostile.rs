//! What an organization's API key cannot do with uploads: read a write-only
//! secret back through a new version, or run uploads side by side without
//! bound.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use secrecy::SecretString;
use warden_core::{CoreError, MAX_PENDING_UPLOADS_PER_ORGANIZATION};
use warden_tool_artifacts as artifacts;

on_both_backends!(
    a_new_version_cannot_make_a_credential_readable,
    refused_uploads_store_nothing
);

async fn a_new_version_cannot_make_a_credential_readable(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "org-a").await;
    let catalog = core.catalog(&org);
    let v1 = catalog
        .install_tool(component(artifacts::HTTP_PROBE))
        .await
        .unwrap()
        .tool;
    catalog
        .set_secret(&v1.id, "api_token", SecretString::from("canary-token-5e1f"))
        .await
        .unwrap();

    // Version 0.2.0 declares `api_token` (a credential in 0.1.0) as a plain
    // secret it could read and return.
    let e = catalog
        .install_tool(component(artifacts::PROBE_V2))
        .await
        .expect_err("the version must be refused");
    match e {
        CoreError::Conflict(message) => {
            assert!(
                message.contains("the secret `api_token` is host-only since version 0.1.0"),
                "{message}"
            );
            assert!(!message.contains("canary-token-5e1f"));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    // Nothing changed: the tool is still at 0.1.0.
    let tool = catalog.tool(&v1.id).await.unwrap();
    assert_eq!(tool.version, "0.1.0");

    // Another organization may install the same component as a tool of its
    // own (it has no earlier versions, and none of A's secrets).
    let other = organization(&core, "org-b").await;
    core.catalog(&other)
        .install_tool(component(artifacts::PROBE_V2))
        .await
        .expect("a new tool of another organization");
}

async fn refused_uploads_store_nothing(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "org-a").await;
    let catalog = core.catalog(&org);
    let before = catalog.list_tools().await.unwrap().len();
    for path in [
        artifacts::SCHEMA_BOMB,
        artifacts::METADATA_BOMB,
        artifacts::BAD_METADATA,
    ] {
        match catalog.install_tool(component(path)).await {
            Err(CoreError::InvalidComponent(_)) => {}
            other => panic!("{path}: expected InvalidComponent, got {other:?}"),
        }
    }
    assert_eq!(catalog.list_tools().await.unwrap().len(), before);

    // An organization's uploads run one at a time, a few wait their turn,
    // and more are refused as busy; another organization is not affected.
    assert_eq!(MAX_PENDING_UPLOADS_PER_ORGANIZATION, 4);
    // `join!` polls the uploads in order: each takes its place in the
    // queue before it first waits.
    let (a, b, c, d, e) = tokio::join!(
        catalog.install_tool(component(artifacts::GOOGLE_CALENDAR)),
        catalog.install_tool(component(artifacts::ECHO)),
        catalog.install_tool(component(artifacts::STATEFUL)),
        catalog.install_tool(component(artifacts::TRAP)),
        catalog.install_tool(component(artifacts::SLEEPER)),
    );
    for (what, installed) in [("first", a), ("second", b), ("third", c), ("fourth", d)] {
        installed.unwrap_or_else(|e| panic!("the {what} upload: {e:?}"));
    }
    match e {
        Err(CoreError::Busy(message)) => assert!(message.contains("in progress"), "{message}"),
        other => panic!("expected Busy, got {other:?}"),
    }
    let other = organization(&core, "org-b").await;
    core.catalog(&other)
        .install_tool(component(artifacts::ECHO))
        .await
        .expect("another organization's upload");
}

//! Started OAuth2 connections and the secrets a connection replaces at once.

use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use warden_store::{OAuthState, StoreError};

use crate::support::{TestDb, component, entry, on_both_backends, private_component, ring};

on_both_backends!(
    a_state_is_taken_once_and_not_after_it_expires,
    states_are_bounded_per_organization_and_only_for_visible_tools,
    replace_secrets_is_all_or_nothing,
);

fn state(hash: &str, organization_id: &str, tool_id: &str, expires_in: Duration) -> OAuthState {
    OAuthState {
        state_hash: hash.to_owned(),
        organization_id: organization_id.to_owned(),
        tool_id: tool_id.to_owned(),
        redirect_uri: "https://warden.example/oauth/callback".to_owned(),
        code_verifier: "v".repeat(43),
        created_at: Utc::now(),
        expires_at: Utc::now() + expires_in,
        browser_hash: None,
    }
}

async fn a_state_is_taken_once_and_not_after_it_expires(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    let live = state("h-live", &org.id, &tool.id, Duration::minutes(10));
    store.create_oauth_state(&live, 16).await.unwrap();
    let bound = OAuthState {
        browser_hash: Some("b".repeat(64)),
        ..state("h-bound", &org.id, &tool.id, Duration::minutes(10))
    };
    store.create_oauth_state(&bound, 16).await.unwrap();
    let taken = store.take_oauth_state("h-bound").await.unwrap().unwrap();
    assert_eq!(taken.browser_hash, bound.browser_hash);
    let taken = store.take_oauth_state("h-live").await.unwrap().unwrap();
    assert_eq!(taken.browser_hash, None);
    assert_eq!(taken.organization_id, org.id);
    assert_eq!(taken.tool_id, tool.id);
    assert_eq!(taken.code_verifier, live.code_verifier);
    assert_eq!(store.take_oauth_state("h-live").await.unwrap(), None);
    assert_eq!(store.take_oauth_state("h-unknown").await.unwrap(), None);
    // The verifier stays out of Debug.
    assert!(!format!("{taken:?}").contains(&live.code_verifier));

    let expired = state("h-old", &org.id, &tool.id, Duration::seconds(-1));
    store.create_oauth_state(&expired, 16).await.unwrap();
    assert_eq!(store.take_oauth_state("h-old").await.unwrap(), None);
}

async fn states_are_bounded_per_organization_and_only_for_visible_tools(db: &TestDb) {
    let store = &db.store;
    let acme = store.create_organization("acme", false).await.unwrap();
    let globex = store.create_organization("globex", false).await.unwrap();
    let theirs = store
        .install_tool_version(&private_component(&globex.id, "crm", "1.0.0", b"crm"))
        .await
        .unwrap()
        .tool;
    // Another organization's private tool is not found, and nothing is kept.
    let error = store
        .create_oauth_state(
            &state("h-x", &acme.id, &theirs.id, Duration::minutes(10)),
            16,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("tool")), "{error:?}");
    assert_eq!(store.take_oauth_state("h-x").await.unwrap(), None);

    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    for i in 0..3 {
        let live = state(&format!("h-{i}"), &acme.id, &tool.id, Duration::minutes(10));
        store.create_oauth_state(&live, 3).await.unwrap();
    }
    let error = store
        .create_oauth_state(&state("h-3", &acme.id, &tool.id, Duration::minutes(10)), 3)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    // Another organization has its own bound; taking one frees a place.
    store
        .create_oauth_state(
            &state("h-g", &globex.id, &tool.id, Duration::minutes(10)),
            3,
        )
        .await
        .unwrap();
    store.take_oauth_state("h-0").await.unwrap().unwrap();
    store
        .create_oauth_state(&state("h-3", &acme.id, &tool.id, Duration::minutes(10)), 3)
        .await
        .unwrap();
}

async fn replace_secrets_is_all_or_nothing(db: &TestDb) {
    let store = &db.store;
    let keys = ring(&entry("k1", 1));
    let acme = store.create_organization("acme", false).await.unwrap();
    let globex = store.create_organization("globex", false).await.unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    let value = |v: &str| SecretString::from(v.to_owned());
    store
        .put_secret(
            &keys,
            &acme.id,
            &tool.id,
            "access_token_expires_at",
            &value("1"),
        )
        .await
        .unwrap();
    let (access, refresh) = (value("at-1"), value("rt-1"));
    store
        .replace_secrets(
            &keys,
            &acme.id,
            &tool.id,
            &[("access_token", &access), ("refresh_token", &refresh)],
            &["access_token_expires_at", "never_set"],
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_secrets(&acme.id, &tool.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["access_token", "refresh_token"]);
    let opened = store
        .open_secret(&keys, &acme.id, &tool.id, "refresh_token")
        .await
        .unwrap();
    assert_eq!(opened.expose_secret(), "rt-1");

    // Another organization's private tool: refused, nothing written.
    let theirs = store
        .install_tool_version(&private_component(&globex.id, "crm", "1.0.0", b"crm"))
        .await
        .unwrap()
        .tool;
    let error = store
        .replace_secrets(
            &keys,
            &acme.id,
            &theirs.id,
            &[("access_token", &access)],
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("tool")), "{error:?}");
    assert!(
        store
            .list_secrets(&acme.id, &theirs.id)
            .await
            .unwrap()
            .is_empty()
    );
}

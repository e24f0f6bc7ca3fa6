//! Console sessions: found by hash while live, bounded per key, and ended by sign-out,
//! expiry or the key's revocation.

use chrono::{Duration, Utc};
use warden_store::{ConsoleSession, NewApiKey, StoreError};

use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    a_session_lives_until_it_expires_is_ended_or_its_key_is_revoked,
    sessions_are_bounded_per_key_and_only_for_the_keys_organization,
);

fn session(
    hash: &str,
    organization_id: &str,
    api_key_id: &str,
    expires_in: Duration,
) -> ConsoleSession {
    ConsoleSession {
        session_hash: hash.to_owned(),
        organization_id: organization_id.to_owned(),
        api_key_id: api_key_id.to_owned(),
        created_at: Utc::now(),
        expires_at: Utc::now() + expires_in,
    }
}

fn key(name: &str) -> NewApiKey {
    NewApiKey {
        name: name.to_owned(),
        prefix: "wdn_abc".to_owned(),
        key_hash: format!("{name:0>64}"),
    }
}

async fn a_session_lives_until_it_expires_is_ended_or_its_key_is_revoked(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let api_key = store
        .create_api_key(&org.id, &key("console"))
        .await
        .unwrap();

    let live = session("s-live", &org.id, &api_key.id, Duration::hours(1));
    store.create_console_session(&live, 8).await.unwrap();
    let found = store.console_session("s-live").await.unwrap().unwrap();
    assert_eq!(found.organization_id, org.id);
    assert_eq!(found.api_key_id, api_key.id);
    assert_eq!(store.console_session("s-unknown").await.unwrap(), None);

    // Signing out ends it; signing out twice is not an error.
    store.delete_console_session("s-live").await.unwrap();
    assert_eq!(store.console_session("s-live").await.unwrap(), None);
    store.delete_console_session("s-live").await.unwrap();

    // An expired session is not found.
    let old = session("s-old", &org.id, &api_key.id, Duration::seconds(-1));
    store.create_console_session(&old, 8).await.unwrap();
    assert_eq!(store.console_session("s-old").await.unwrap(), None);

    // Revoking the key ends its sessions at once, and it cannot sign in again.
    let again = session("s-again", &org.id, &api_key.id, Duration::hours(1));
    store.create_console_session(&again, 8).await.unwrap();
    store.revoke_api_key(&org.id, &api_key.id).await.unwrap();
    assert_eq!(store.console_session("s-again").await.unwrap(), None);
    let error = store
        .create_console_session(
            &session("s-new", &org.id, &api_key.id, Duration::hours(1)),
            8,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("api key")),
        "{error:?}"
    );
}

async fn sessions_are_bounded_per_key_and_only_for_the_keys_organization(db: &TestDb) {
    let store = &db.store;
    let acme = store.create_organization("acme", false).await.unwrap();
    let globex = store.create_organization("globex", false).await.unwrap();
    let acme_key = store.create_api_key(&acme.id, &key("acme")).await.unwrap();

    // A key acts only for its own organization.
    let error = store
        .create_console_session(
            &session("s-x", &globex.id, &acme_key.id, Duration::hours(1)),
            8,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("api key")),
        "{error:?}"
    );
    assert_eq!(store.console_session("s-x").await.unwrap(), None);

    // The newest three stay; the oldest ends.
    for i in 0..4 {
        let mut s = session(
            &format!("s-{i}"),
            &acme.id,
            &acme_key.id,
            Duration::hours(1),
        );
        s.created_at = Utc::now() + Duration::seconds(i);
        store.create_console_session(&s, 3).await.unwrap();
    }
    assert_eq!(store.console_session("s-0").await.unwrap(), None);
    for i in 1..4 {
        assert!(
            store
                .console_session(&format!("s-{i}"))
                .await
                .unwrap()
                .is_some()
        );
    }
}

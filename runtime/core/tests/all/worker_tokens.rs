//! Worker tokens authenticate workers until revoked, and never stand in for an
//! organization's API key (nor the other way round).

use crate::support::{TestDb, on_both_backends};
use crate::*;
use secrecy::ExposeSecret;
use warden_core::{API_KEY_PREFIX, CoreError, WORKER_TOKEN_PREFIX};

on_both_backends!(
    worker_tokens_authenticate_until_revoked,
    worker_tokens_and_api_keys_are_not_interchangeable,
);

fn unauthenticated<T: std::fmt::Debug>(what: &str, result: Result<T, CoreError>) {
    match result {
        Err(CoreError::Unauthenticated) => {}
        other => panic!("{what}: expected Unauthenticated, got {other:?}"),
    }
}

async fn worker_tokens_authenticate_until_revoked(db: &TestDb) {
    let core = core(db);
    let first = core.create_worker_token("  livekit-1  ").await.unwrap();
    let secret = first.token.expose_secret();
    assert!(secret.starts_with(WORKER_TOKEN_PREFIX));
    // Prefix + base64url of 32 bytes, no padding.
    assert_eq!(secret.len(), WORKER_TOKEN_PREFIX.len() + 43);
    assert_eq!(first.record.name, "livekit-1");
    assert!(secret.starts_with(&first.record.prefix));
    assert_eq!(first.record.prefix.len(), WORKER_TOKEN_PREFIX.len() + 6);
    // Neither the row nor the issued token's Debug shows the token.
    assert!(!format!("{:?}", first.record).contains(secret));
    assert!(!format!("{first:?}").contains(secret));

    let principal = core.authenticate_worker(secret).await.unwrap();
    assert_eq!(principal.worker_token_id, first.record.id);
    let used = core
        .store()
        .list_worker_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == first.record.id)
        .unwrap();
    assert!(used.last_used_at.is_some());

    let second = core.create_worker_token("livekit-2").await.unwrap();
    assert_ne!(second.token.expose_secret(), secret);

    let revoked = core.revoke_worker_token(&first.record.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    // Refused at once.
    unauthenticated("revoked", core.authenticate_worker(secret).await);
    // The other token is unaffected.
    assert_eq!(
        core.authenticate_worker(second.token.expose_secret())
            .await
            .unwrap()
            .worker_token_id,
        second.record.id
    );

    match core.revoke_worker_token("no-such-token").await {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("revoke unknown: expected NotFound, got {other:?}"),
    }
    for name in ["", "   ", &"n".repeat(201)] {
        match core.create_worker_token(name).await {
            Err(CoreError::Invalid(_)) => {}
            other => panic!("name {name:?}: expected Invalid, got {other:?}"),
        }
    }

    // A token that differs in one character.
    let mut tampered = second.token.expose_secret().to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bogus in [
        "",
        "wdw_",
        "wdw_not-a-token",
        "Bearer x",
        "WDW_x",
        tampered.as_str(),
        &format!("Bearer {}", second.token.expose_secret()),
        &format!("{} ", second.token.expose_secret()),
        &"wdw_a".repeat(100),
    ] {
        unauthenticated(bogus, core.authenticate_worker(bogus).await);
    }
}

async fn worker_tokens_and_api_keys_are_not_interchangeable(db: &TestDb) {
    let core = core(db);
    let (org, key) = core.create_organization("acme").await.unwrap();
    let worker = core.create_worker_token("livekit").await.unwrap();
    let key_secret = key.key.expose_secret();
    let token_secret = worker.token.expose_secret();
    assert!(key_secret.starts_with(API_KEY_PREFIX));

    // Each works where it belongs…
    assert_eq!(
        core.authenticate(key_secret).await.unwrap().organization_id,
        org.id
    );
    assert!(core.authenticate_worker(token_secret).await.is_ok());
    // …and nowhere else.
    unauthenticated(
        "org key as worker token",
        core.authenticate_worker(key_secret).await,
    );
    unauthenticated(
        "worker token as org key",
        core.authenticate(token_secret).await,
    );
    // Not even with the other's prefix pasted on: the hash finds nothing.
    let key_body = &key_secret[API_KEY_PREFIX.len()..];
    let token_body = &token_secret[WORKER_TOKEN_PREFIX.len()..];
    unauthenticated(
        "org key body with the worker prefix",
        core.authenticate_worker(&format!("{WORKER_TOKEN_PREFIX}{key_body}"))
            .await,
    );
    unauthenticated(
        "worker token body with the key prefix",
        core.authenticate(&format!("{API_KEY_PREFIX}{token_body}"))
            .await,
    );

    // Ids do not cross over: an organization cannot revoke a worker token as
    // one of its keys, nor the operator an API key as a worker token.
    match core.revoke_api_key(&org.id, &worker.record.id).await {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("revoke_api_key(worker id): expected NotFound, got {other:?}"),
    }
    match core.revoke_worker_token(&key.record.id).await {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("revoke_worker_token(key id): expected NotFound, got {other:?}"),
    }
    assert!(core.authenticate(key_secret).await.is_ok());
    assert!(core.authenticate_worker(token_secret).await.is_ok());

    // Revoking the org's key leaves the worker token working, and vice versa.
    core.revoke_api_key(&org.id, &key.record.id).await.unwrap();
    unauthenticated("revoked key", core.authenticate(key_secret).await);
    assert!(core.authenticate_worker(token_secret).await.is_ok());
    let (org2, key2) = core.create_organization("globex").await.unwrap();
    core.revoke_worker_token(&worker.record.id).await.unwrap();
    unauthenticated(
        "revoked token",
        core.authenticate_worker(token_secret).await,
    );
    assert_eq!(
        core.authenticate(key2.key.expose_secret())
            .await
            .unwrap()
            .organization_id,
        org2.id
    );
}

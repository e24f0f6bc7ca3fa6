//! Worker tokens: operator-level credentials, kept apart from organizations' API keys.

use warden_store::{NewApiKey, NewWorkerToken, StoreError};

use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    worker_token_lifecycle,
    worker_tokens_and_api_keys_never_find_each_other,
    a_worker_token_may_be_limited_to_one_organization,
);

fn token(name: &str, hash: &str) -> NewWorkerToken {
    NewWorkerToken {
        name: name.to_owned(),
        prefix: format!("wdw_{}", &hash[..4]),
        token_hash: hash.to_owned(),
        organization_id: None,
    }
}

async fn worker_token_lifecycle(db: &TestDb) {
    let store = &db.store;
    assert!(store.list_worker_tokens().await.unwrap().is_empty());

    let hash = "a".repeat(64);
    let created = store
        .create_worker_token(&token("worker-1", &hash))
        .await
        .unwrap();
    assert_eq!(created.name, "worker-1");
    assert_eq!(created.prefix, "wdw_aaaa");
    assert_eq!(created.token_hash, hash);
    assert_eq!(created.organization_id, None);
    assert_eq!(created.last_used_at, None);
    assert_eq!(created.revoked_at, None);
    assert_eq!(
        uuid::Uuid::parse_str(&created.id)
            .unwrap()
            .get_version_num(),
        7
    );

    let found = store.active_worker_token_by_hash(&hash).await.unwrap();
    assert_eq!(found, created);
    assert!(matches!(
        store.active_worker_token_by_hash(&"f".repeat(64)).await,
        Err(StoreError::NotFound("worker token"))
    ));

    store.touch_worker_token(&created.id).await.unwrap();
    let touched = store.active_worker_token_by_hash(&hash).await.unwrap();
    assert!(touched.last_used_at.is_some());
    assert!(matches!(
        store.touch_worker_token("nope").await,
        Err(StoreError::NotFound("worker token"))
    ));

    // The same hash twice is a conflict.
    let error = store
        .create_worker_token(&token("again", &hash))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    let revoked = store.revoke_worker_token(&created.id).await.unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked");
    assert!(matches!(
        store.active_worker_token_by_hash(&hash).await,
        Err(StoreError::NotFound("worker token"))
    ));
    // Revoking again keeps the first time.
    let again = store.revoke_worker_token(&created.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    assert!(matches!(
        store.revoke_worker_token("nope").await,
        Err(StoreError::NotFound("worker token"))
    ));

    let second = store
        .create_worker_token(&token("worker-2", &"c".repeat(64)))
        .await
        .unwrap();
    let listed = store.list_worker_tokens().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [second.id.as_str(), created.id.as_str()]);
    // Revoked tokens stay listed, with their revocation time.
    assert_eq!(listed[1].revoked_at, Some(revoked_at));
}

async fn worker_tokens_and_api_keys_never_find_each_other(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let key_hash = "d".repeat(64);
    let token_hash = "e".repeat(64);
    let key = store
        .create_api_key(
            &org.id,
            &NewApiKey {
                name: "k".into(),
                prefix: "wdn_dddd".into(),
                key_hash: key_hash.clone(),
            },
        )
        .await
        .unwrap();
    let worker = store
        .create_worker_token(&token("w", &token_hash))
        .await
        .unwrap();

    assert!(matches!(
        store.active_worker_token_by_hash(&key_hash).await,
        Err(StoreError::NotFound("worker token"))
    ));
    assert!(matches!(
        store.active_api_key_by_hash(&token_hash).await,
        Err(StoreError::NotFound("api key"))
    ));
    // Ids do not cross over either.
    assert!(store.touch_worker_token(&key.id).await.is_err());
    assert!(store.revoke_worker_token(&key.id).await.is_err());
    assert!(store.revoke_api_key(&org.id, &worker.id).await.is_err());
    assert_eq!(store.list_api_keys(&org.id).await.unwrap().len(), 1);
    assert_eq!(
        store.list_worker_tokens().await.unwrap(),
        std::slice::from_ref(&worker)
    );

    // Unscoped worker tokens belong to no organization: deleting one leaves them alone.
    store.delete_organization(&org.id).await.unwrap();
    assert_eq!(
        store
            .active_worker_token_by_hash(&token_hash)
            .await
            .unwrap(),
        worker
    );
}

async fn a_worker_token_may_be_limited_to_one_organization(db: &TestDb) {
    let store = &db.store;
    let acme = store.create_organization("acme", false).await.unwrap();
    let globex = store.create_organization("globex", false).await.unwrap();
    let everywhere = store
        .create_worker_token(&token("everywhere", &"1".repeat(64)))
        .await
        .unwrap();
    let scoped_hash = "2".repeat(64);
    let scoped = store
        .create_worker_token(&NewWorkerToken {
            organization_id: Some(acme.id.clone()),
            ..token("acme-only", &scoped_hash)
        })
        .await
        .unwrap();
    assert_eq!(scoped.organization_id.as_deref(), Some(acme.id.as_str()));
    assert_eq!(
        store
            .active_worker_token_by_hash(&scoped_hash)
            .await
            .unwrap(),
        scoped
    );
    assert_eq!(
        store.list_worker_tokens().await.unwrap(),
        [scoped.clone(), everywhere.clone()]
    );

    // An unknown organization: refused, and nothing is stored.
    let error = store
        .create_worker_token(&NewWorkerToken {
            organization_id: Some("no-such-organization".into()),
            ..token("nowhere", &"3".repeat(64))
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("organization")),
        "{error:?}"
    );
    assert_eq!(store.list_worker_tokens().await.unwrap().len(), 2);

    // Deleting another organization leaves the scoped token alone; deleting its
    // own deletes it (it never becomes a token for every organization).
    store.delete_organization(&globex.id).await.unwrap();
    assert_eq!(
        store
            .active_worker_token_by_hash(&scoped_hash)
            .await
            .unwrap(),
        scoped
    );
    store.delete_organization(&acme.id).await.unwrap();
    assert!(matches!(
        store.active_worker_token_by_hash(&scoped_hash).await,
        Err(StoreError::NotFound("worker token"))
    ));
    assert_eq!(
        store.list_worker_tokens().await.unwrap(),
        std::slice::from_ref(&everywhere)
    );
}

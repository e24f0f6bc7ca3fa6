//! Organizations and API keys.

use warden_store::{NewApiKey, OrganizationUpdate, StoreError};

use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    organization_crud,
    api_key_lifecycle,
    api_keys_are_scoped_to_their_organization,
    deleting_an_organization_removes_its_data,
);

fn key(name: &str, hash: &str) -> NewApiKey {
    NewApiKey {
        name: name.to_owned(),
        prefix: format!("wdn_{}", &hash[..4]),
        key_hash: hash.to_owned(),
    }
}

async fn organization_crud(db: &TestDb) {
    let store = &db.store;
    let acme = store.create_organization("acme", false).await.unwrap();
    assert_eq!(acme.name, "acme");
    assert!(!acme.record_arguments);
    assert_eq!(acme.created_at, acme.updated_at);
    assert_eq!(store.organization(&acme.id).await.unwrap(), acme);
    assert_eq!(store.organization_by_name("acme").await.unwrap(), acme);

    let error = store.create_organization("acme", true).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    let globex = store.create_organization("globex", true).await.unwrap();
    let names: Vec<_> = store
        .list_organizations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["acme", "globex"]);

    let updated = store
        .update_organization(
            &acme.id,
            &OrganizationUpdate {
                record_arguments: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(updated.record_arguments);
    assert_eq!(updated.name, "acme");
    assert!(updated.updated_at >= acme.updated_at);

    let error = store
        .update_organization(
            &acme.id,
            &OrganizationUpdate {
                name: Some("globex".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    store.delete_organization(&globex.id).await.unwrap();
    assert!(matches!(
        store.organization(&globex.id).await,
        Err(StoreError::NotFound("organization"))
    ));
    assert!(matches!(
        store.delete_organization(&globex.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_organization("nope", &OrganizationUpdate::default())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn api_key_lifecycle(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let hash = "a".repeat(64);
    let created = store
        .create_api_key(&org.id, &key("ci", &hash))
        .await
        .unwrap();
    assert_eq!(created.organization_id, org.id);
    assert_eq!(created.last_used_at, None);
    assert_eq!(created.revoked_at, None);

    let found = store.active_api_key_by_hash(&hash).await.unwrap();
    assert_eq!(found, created);

    store.touch_api_key(&org.id, &created.id).await.unwrap();
    let touched = store.active_api_key_by_hash(&hash).await.unwrap();
    assert!(touched.last_used_at.is_some());

    // The same hash twice is a conflict.
    let error = store
        .create_api_key(&org.id, &key("again", &hash))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    // A key for no organization.
    let error = store
        .create_api_key("nope", &key("x", &"b".repeat(64)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("organization")),
        "{error:?}"
    );

    let revoked = store.revoke_api_key(&org.id, &created.id).await.unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked");
    assert!(matches!(
        store.active_api_key_by_hash(&hash).await,
        Err(StoreError::NotFound("api key"))
    ));
    // Revoking again keeps the first time.
    let again = store.revoke_api_key(&org.id, &created.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));

    let second = store
        .create_api_key(&org.id, &key("second", &"c".repeat(64)))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_api_keys(&org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(listed, [second.id, created.id]);
}

async fn api_keys_are_scoped_to_their_organization(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let a_key = store
        .create_api_key(&a.id, &key("k", &"d".repeat(64)))
        .await
        .unwrap();

    assert!(store.list_api_keys(&b.id).await.unwrap().is_empty());
    assert!(matches!(
        store.touch_api_key(&b.id, &a_key.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.revoke_api_key(&b.id, &a_key.id).await,
        Err(StoreError::NotFound(_))
    ));
    // Still active for A.
    assert_eq!(
        store
            .active_api_key_by_hash(&a_key.key_hash)
            .await
            .unwrap()
            .revoked_at,
        None
    );
}

async fn deleting_an_organization_removes_its_data(db: &TestDb) {
    let store = &db.store;
    let keys = crate::support::ring(&crate::support::entry("k1", 1));
    let org = store.create_organization("gone", false).await.unwrap();
    let other = store.create_organization("stays", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &crate::agents::new_agent("a", true))
        .await
        .unwrap();
    let platform = store
        .install_tool_version(&crate::support::component("shared", "1.0.0", b"shared"))
        .await
        .unwrap();
    let private = store
        .install_tool_version(&crate::support::private_component(
            &org.id, "mine", "1.0.0", b"mine",
        ))
        .await
        .unwrap();
    store
        .upsert_agent_tool(&org.id, &agent.id, &platform.tool.id, &Default::default())
        .await
        .unwrap();
    store
        .put_secret(&keys, &org.id, &platform.tool.id, "token", &"v".into())
        .await
        .unwrap();
    store
        .create_api_key(&org.id, &key("k", &"e".repeat(64)))
        .await
        .unwrap();

    store.delete_organization(&org.id).await.unwrap();

    // The platform tool stays; the private one went with the organization.
    assert_eq!(
        store.tool(&other.id, &platform.tool.id).await.unwrap().id,
        platform.tool.id
    );
    assert!(store.platform_tool_by_name("mine").await.is_err());
    let visible: Vec<_> = store
        .list_tools(&other.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(visible, std::slice::from_ref(&platform.tool.id));
    assert!(!visible.contains(&private.tool.id));
    assert!(store.active_api_key_by_hash(&"e".repeat(64)).await.is_err());
}

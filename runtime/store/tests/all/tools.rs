//! The tool catalogue: installs, versions, functions, visibility.

use warden_store::{StoreError, sha256_hex};

use crate::support::{TestDb, component, on_both_backends, private_component};

on_both_backends!(
    install_creates_tool_version_and_functions,
    reinstalling_identical_bytes_is_a_no_op,
    same_version_with_other_bytes_conflicts,
    concurrent_installs_of_the_same_bytes_give_one_version,
    private_tools_are_visible_to_their_organization_only,
    delete_tool_requires_its_owner,
);

async fn install_creates_tool_version_and_functions(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let installed = store
        .install_tool_version(&component("calendar", "1.0.0", b"v1 bytes"))
        .await
        .unwrap();
    assert!(installed.created);
    let tool = &installed.tool;
    assert_eq!(tool.organization_id, None);
    assert_eq!(tool.name, "calendar");
    assert_eq!(tool.description, "calendar tool");
    let current = tool.current_version.as_ref().unwrap();
    assert_eq!(current.id, installed.version.id);
    assert_eq!(current.version, "1.0.0");
    assert_eq!(current.sha256, sha256_hex(b"v1 bytes"));
    assert_eq!(installed.version.component_size, 8);
    assert_eq!(installed.version.metadata["name"], "calendar");

    assert_eq!(&store.tool(&org.id, &tool.id).await.unwrap(), tool);
    assert_eq!(
        &store.tool_by_name(&org.id, "calendar").await.unwrap(),
        tool
    );
    assert_eq!(
        &store.platform_tool_by_name("calendar").await.unwrap(),
        tool
    );
    assert_eq!(
        store
            .tool_component(&org.id, &installed.version.id)
            .await
            .unwrap(),
        b"v1 bytes"
    );
    assert_eq!(
        store
            .tool_version(&org.id, &installed.version.id)
            .await
            .unwrap(),
        installed.version
    );
    let functions = crate::support::function_rows(db, &installed.version.id).await;
    let names: Vec<_> = functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["book", "lookup"]);
    assert!(functions[1].read_only);
    assert!(!functions[0].read_only);
    assert_eq!(functions[1].parameters["properties"]["q"]["type"], "string");

    // A second version becomes current; both stay listed, newest first.
    let v2 = store
        .install_tool_version(&component("calendar", "1.1.0", b"v2 bytes"))
        .await
        .unwrap();
    assert!(v2.created);
    assert_eq!(v2.tool.id, tool.id);
    assert_eq!(v2.tool.current_version.as_ref().unwrap().version, "1.1.0");
    let versions: Vec<_> = store
        .list_tool_versions(&org.id, &tool.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    let by_hash = store
        .tool_versions_by_sha256(&org.id, &sha256_hex(b"v1 bytes"))
        .await
        .unwrap();
    assert_eq!(by_hash.len(), 1);
    assert_eq!(by_hash[0].id, installed.version.id);

    assert!(matches!(
        store.tool(&org.id, "no-such-tool").await,
        Err(StoreError::NotFound("tool"))
    ));
    assert!(matches!(
        store.tool_version(&org.id, "no-such-version").await,
        Err(StoreError::NotFound("tool version"))
    ));

    // A function declared twice is invalid, and the whole install is rolled back.
    let mut twice = component("twice", "1.0.0", b"twice");
    twice.functions.push(twice.functions[0].clone());
    let error = store.install_tool_version(&twice).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert!(matches!(
        store.platform_tool_by_name("twice").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn reinstalling_identical_bytes_is_a_no_op(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let first = store
        .install_tool_version(&component("calendar", "1.0.0", b"same"))
        .await
        .unwrap();
    let second = store
        .install_tool_version(&component("calendar", "1.0.0", b"same"))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.version, first.version);
    assert_eq!(second.tool, first.tool);
    assert_eq!(
        store
            .list_tool_versions(&org.id, &first.tool.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn same_version_with_other_bytes_conflicts(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let first = store
        .install_tool_version(&component("calendar", "1.0.0", b"original"))
        .await
        .unwrap();
    let error = store
        .install_tool_version(&component("calendar", "1.0.0", b"tampered"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    // Nothing changed.
    let tool = store.tool(&org.id, &first.tool.id).await.unwrap();
    assert_eq!(
        tool.current_version.unwrap().sha256,
        sha256_hex(b"original")
    );
    assert_eq!(
        store
            .list_tool_versions(&org.id, &first.tool.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn concurrent_installs_of_the_same_bytes_give_one_version(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .install_tool_version(&component("racy", "1.0.0", b"racy bytes"))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    let mut version_ids = Vec::new();
    for task in tasks {
        let installed = task.await.unwrap().unwrap();
        created += usize::from(installed.created);
        version_ids.push(installed.version.id);
    }
    assert_eq!(created, 1);
    version_ids.dedup();
    assert_eq!(version_ids.len(), 1);
    let tool = store.tool_by_name(&org.id, "racy").await.unwrap();
    assert_eq!(
        store
            .list_tool_versions(&org.id, &tool.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn private_tools_are_visible_to_their_organization_only(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let platform = store
        .install_tool_version(&component("crm", "1.0.0", b"platform crm"))
        .await
        .unwrap();
    // A's own tool may share the platform tool's name, and wins look-ups by name for A.
    let private = store
        .install_tool_version(&private_component(&a.id, "crm", "1.0.0", b"a's crm"))
        .await
        .unwrap();
    assert_ne!(private.tool.id, platform.tool.id);
    assert_eq!(private.tool.organization_id.as_deref(), Some(a.id.as_str()));
    assert_eq!(
        store.tool_by_name(&a.id, "crm").await.unwrap().id,
        private.tool.id
    );
    assert_eq!(
        store.tool_by_name(&b.id, "crm").await.unwrap().id,
        platform.tool.id
    );

    let a_tools: Vec<_> = store
        .list_tools(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(a_tools, [platform.tool.id.clone(), private.tool.id.clone()]);
    let b_tools: Vec<_> = store
        .list_tools(&b.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(b_tools, std::slice::from_ref(&platform.tool.id));
    let platform_tools = store.list_platform_tools().await.unwrap();
    assert_eq!(platform_tools.len(), 1);

    // Every read of A's private tool through B finds nothing.
    let tool_id = &private.tool.id;
    let version_id = &private.version.id;
    assert!(matches!(
        store.tool(&b.id, tool_id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.tool_version(&b.id, version_id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.tool_component(&b.id, version_id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .list_tool_versions(&b.id, tool_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .tool_versions_by_sha256(&b.id, &sha256_hex(b"a's crm"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_tool(Some(&b.id), tool_id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.tool(&a.id, tool_id).await.is_ok());

    // The same bytes installed privately by B make B's own version, not a link to A's.
    let b_copy = store
        .install_tool_version(&private_component(&b.id, "crm", "1.0.0", b"a's crm"))
        .await
        .unwrap();
    assert!(b_copy.created);
    assert_ne!(b_copy.tool.id, private.tool.id);

    // An install for an organization that does not exist.
    let error = store
        .install_tool_version(&private_component("nope", "x", "1.0.0", b"x"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("organization")),
        "{error:?}"
    );
}

async fn delete_tool_requires_its_owner(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let platform = store
        .install_tool_version(&component("shared", "1.0.0", b"shared"))
        .await
        .unwrap();
    let private = store
        .install_tool_version(&private_component(&a.id, "mine", "1.0.0", b"mine"))
        .await
        .unwrap();

    // An organization cannot delete a platform tool, the platform cannot delete A's tool
    // by mistake.
    assert!(matches!(
        store.delete_tool(Some(&a.id), &platform.tool.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_tool(None, &private.tool.id).await,
        Err(StoreError::NotFound(_))
    ));

    store
        .delete_tool(Some(&a.id), &private.tool.id)
        .await
        .unwrap();
    store.delete_tool(None, &platform.tool.id).await.unwrap();
    assert!(store.list_tools(&a.id).await.unwrap().is_empty());
    assert!(matches!(
        store.tool_version(&a.id, &private.version.id).await,
        Err(StoreError::NotFound(_))
    ));
    // The name is free again.
    assert!(
        store
            .install_tool_version(&component("shared", "1.0.0", b"shared"))
            .await
            .unwrap()
            .created
    );
}

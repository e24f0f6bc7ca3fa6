//! Voice agents and agent–tool associations.

use std::collections::BTreeMap;

use serde_json::json;
use warden_store::{
    AgentFilter, AgentToolSettings, NewVoiceAgent, PageRequest, StoreError, VoiceAgent,
    VoiceAgentUpdate,
};

use crate::support::{TestDb, component, on_both_backends, private_component};

on_both_backends!(
    agent_crud,
    agent_listing_pages_and_filters,
    agents_are_scoped_to_their_organization,
    agent_tool_associations,
    agent_tools_are_scoped_to_their_organization,
);

pub fn new_agent(name: &str, is_active: bool) -> NewVoiceAgent {
    NewVoiceAgent {
        name: name.to_owned(),
        description: format!("{name} description"),
        system_prompt: "You are helpful.".to_owned(),
        is_active,
    }
}

async fn agent_crud(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("Support", true))
        .await
        .unwrap();
    assert_eq!(agent.organization_id, org.id);
    assert_eq!(agent.name, "Support");
    assert!(agent.is_active);
    assert_eq!(store.agent(&org.id, &agent.id).await.unwrap(), agent);

    let updated = store
        .update_agent(
            &org.id,
            &agent.id,
            &VoiceAgentUpdate {
                system_prompt: Some("Be brief.".into()),
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.system_prompt, "Be brief.");
    assert!(!updated.is_active);
    assert_eq!(updated.name, "Support");
    assert_eq!(updated.description, agent.description);
    assert_eq!(updated.created_at, agent.created_at);
    assert_eq!(store.agent(&org.id, &agent.id).await.unwrap(), updated);

    store.delete_agent(&org.id, &agent.id).await.unwrap();
    assert!(matches!(
        store.agent(&org.id, &agent.id).await,
        Err(StoreError::NotFound("voice agent"))
    ));
    assert!(matches!(
        store.delete_agent(&org.id, &agent.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn agent_listing_pages_and_filters(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let other = store.create_organization("other", false).await.unwrap();
    store
        .create_agent(&other.id, &new_agent("Sales other", true))
        .await
        .unwrap();
    let names = [
        ("Sales East", true),
        ("Support", true),
        ("sales west", false),
        ("Billing", true),
        ("100% Sales", true),
        ("Night shift", false),
        ("Reception", true),
    ];
    let mut created = Vec::new();
    for (name, active) in names {
        created.push(
            store
                .create_agent(&org.id, &new_agent(name, active))
                .await
                .unwrap(),
        );
    }
    let newest_first: Vec<String> = created.iter().rev().map(|a| a.id.clone()).collect();

    // Pages of 3 walk the whole list, newest first, without repeats.
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    let mut pages = 0;
    loop {
        let result = store
            .list_agents(&org.id, &AgentFilter::default(), &page)
            .await
            .unwrap();
        assert!(result.items.len() <= 3);
        pages += 1;
        seen.extend(result.items.iter().map(|a| a.id.clone()));
        match result.next_cursor {
            Some(cursor) => page = PageRequest::after(3, cursor),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, newest_first);

    let ids =
        |agents: Vec<VoiceAgent>| -> Vec<String> { agents.into_iter().map(|a| a.name).collect() };
    let inactive = store
        .list_agents(
            &org.id,
            &AgentFilter {
                is_active: Some(false),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(inactive.items), ["Night shift", "sales west"]);

    // Case-insensitive "contains", combined with the active flag.
    let sales = store
        .list_agents(
            &org.id,
            &AgentFilter {
                is_active: Some(true),
                name_contains: Some("SALES".into()),
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(sales.items), ["100% Sales", "Sales East"]);

    // LIKE wildcards in the filter are literal.
    let percent = store
        .list_agents(
            &org.id,
            &AgentFilter {
                name_contains: Some("0% s".into()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(percent.items), ["100% Sales"]);
    let underscore = store
        .list_agents(
            &org.id,
            &AgentFilter {
                name_contains: Some("_".into()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(underscore.items.is_empty());

    // A filtered listing pages too.
    let first = store
        .list_agents(
            &org.id,
            &AgentFilter {
                is_active: Some(true),
                ..Default::default()
            },
            &PageRequest::first(2),
        )
        .await
        .unwrap();
    assert_eq!(ids(first.items), ["Reception", "100% Sales"]);
    let second = store
        .list_agents(
            &org.id,
            &AgentFilter {
                is_active: Some(true),
                ..Default::default()
            },
            &PageRequest::after(2, first.next_cursor.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(ids(second.items), ["Billing", "Support"]);

    let error = store
        .list_agents(
            &org.id,
            &AgentFilter::default(),
            &PageRequest::after(2, "not a cursor!"),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
}

async fn agents_are_scoped_to_their_organization(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let agent = store
        .create_agent(&a.id, &new_agent("A's", true))
        .await
        .unwrap();

    assert!(matches!(
        store.agent(&b.id, &agent.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_agent(
                &b.id,
                &agent.id,
                &VoiceAgentUpdate {
                    name: Some("stolen".into()),
                    ..Default::default()
                }
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_agent(&b.id, &agent.id).await,
        Err(StoreError::NotFound(_))
    ));
    let listed = store
        .list_agents(&b.id, &AgentFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert_eq!(store.agent(&a.id, &agent.id).await.unwrap(), agent);
}

async fn agent_tool_associations(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    let calendar = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    let crm = store
        .install_tool_version(&private_component(&org.id, "crm", "1.0.0", b"crm"))
        .await
        .unwrap()
        .tool;

    let settings = AgentToolSettings {
        config: json!({"calendar_id": "primary"}),
        is_enabled: true,
        function_enables: BTreeMap::from([("book".to_owned(), false)]),
    };
    let association = store
        .upsert_agent_tool(&org.id, &agent.id, &calendar.id, &settings)
        .await
        .unwrap();
    assert_eq!(association.config, json!({"calendar_id": "primary"}));
    assert!(association.function_enabled("lookup"));
    assert!(!association.function_enabled("book"));
    assert_eq!(
        store
            .agent_tool(&org.id, &agent.id, &calendar.id)
            .await
            .unwrap(),
        association
    );

    // Upserting again replaces the settings and keeps the row.
    let replaced = store
        .upsert_agent_tool(
            &org.id,
            &agent.id,
            &calendar.id,
            &AgentToolSettings {
                config: json!({"calendar_id": "team"}),
                is_enabled: false,
                function_enables: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(replaced.id, association.id);
    assert_eq!(replaced.created_at, association.created_at);
    assert_eq!(replaced.config, json!({"calendar_id": "team"}));
    assert!(!replaced.is_enabled);
    assert!(!replaced.function_enabled("lookup"));

    store
        .upsert_agent_tool(&org.id, &agent.id, &crm.id, &AgentToolSettings::default())
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_agent_tools(&org.id, &agent.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.tool_id)
        .collect();
    assert_eq!(listed, [calendar.id.clone(), crm.id.clone()]);

    store
        .delete_agent_tool(&org.id, &agent.id, &calendar.id)
        .await
        .unwrap();
    assert!(matches!(
        store.agent_tool(&org.id, &agent.id, &calendar.id).await,
        Err(StoreError::NotFound("agent tool"))
    ));
    assert!(matches!(
        store
            .delete_agent_tool(&org.id, &agent.id, &calendar.id)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Deleting the agent removes its associations.
    store.delete_agent(&org.id, &agent.id).await.unwrap();
    assert!(
        store
            .list_agent_tools(&org.id, &agent.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn agent_tools_are_scoped_to_their_organization(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let a_agent = store
        .create_agent(&a.id, &new_agent("A", true))
        .await
        .unwrap();
    let b_agent = store
        .create_agent(&b.id, &new_agent("B", true))
        .await
        .unwrap();
    let platform = store
        .install_tool_version(&component("shared", "1.0.0", b"shared"))
        .await
        .unwrap()
        .tool;
    let a_private = store
        .install_tool_version(&private_component(&a.id, "a-only", "1.0.0", b"a-only"))
        .await
        .unwrap()
        .tool;
    store
        .upsert_agent_tool(
            &a.id,
            &a_agent.id,
            &platform.id,
            &AgentToolSettings::default(),
        )
        .await
        .unwrap();

    // B cannot attach anything to A's agent, nor A's private tool to its own agent.
    assert!(matches!(
        store
            .upsert_agent_tool(
                &b.id,
                &a_agent.id,
                &platform.id,
                &AgentToolSettings::default()
            )
            .await,
        Err(StoreError::NotFound("voice agent"))
    ));
    assert!(matches!(
        store
            .upsert_agent_tool(
                &b.id,
                &b_agent.id,
                &a_private.id,
                &AgentToolSettings::default()
            )
            .await,
        Err(StoreError::NotFound("tool"))
    ));
    // Nor read, list or delete A's association.
    assert!(matches!(
        store.agent_tool(&b.id, &a_agent.id, &platform.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .list_agent_tools(&b.id, &a_agent.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .delete_agent_tool(&b.id, &a_agent.id, &platform.id)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .agent_tool(&a.id, &a_agent.id, &platform.id)
            .await
            .is_ok()
    );
}

//! Organization B reaches none of organization A's agents, tools,
//! associations, secrets or invocations through any core method.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use secrecy::SecretString;
use serde_json::json;
use std::collections::BTreeMap;
use warden_core::{AgentToolInput, CoreError, InvocationRequest};
use warden_store::{AgentFilter, InvocationFilter, NewVoiceAgent, PageRequest, VoiceAgentUpdate};
use warden_tool_artifacts as artifacts;

on_both_backends!(
    organizations_are_isolated,
    api_keys_authenticate_until_revoked
);

fn not_found<T: std::fmt::Debug>(what: &str, result: Result<T, CoreError>) {
    match result {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

async fn organizations_are_isolated(db: &TestDb) {
    let core = core(db);
    let a = organization(&core, "org-a").await;
    let b = organization(&core, "org-b").await;
    let (ca, cb) = (core.catalog(&a), core.catalog(&b));

    // A's world: a private tool, an agent using it, a secret, an invocation.
    let tool = ca
        .install_tool(component(artifacts::SECRET_FISHER))
        .await
        .unwrap()
        .tool;
    let agent = ca
        .create_agent(NewVoiceAgent {
            name: "a-agent".into(),
            description: String::new(),
            system_prompt: String::new(),
            is_active: true,
        })
        .await
        .unwrap();
    let input = || AgentToolInput {
        config: json!({}),
        is_enabled: true,
        function_enables: BTreeMap::new(),
    };
    ca.set_agent_tool(&agent.id, &tool.id, input())
        .await
        .unwrap();
    ca.set_secret(&tool.id, "api_key", SecretString::from("a-secret-value"))
        .await
        .unwrap();
    let invocation = |org: &str| InvocationRequest {
        organization_id: Some(org.into()),
        agent_id: agent.id.clone(),
        function: "secret_fisher__fish".into(),
        arguments: json!({ "names": ["api_key"] }),
        call_id: "c".into(),
        ..InvocationRequest::default()
    };
    core.invoke(invocation(&a.organization_id)).await.unwrap();

    // B, with A's ids.
    not_found("tool", cb.tool(&tool.id).await);
    not_found("delete_tool", cb.delete_tool(&tool.id).await);
    not_found("list_secrets", cb.list_secrets(&tool.id).await);
    not_found(
        "set_secret",
        cb.set_secret(&tool.id, "api_key", SecretString::from("b-value"))
            .await,
    );
    not_found("delete_secret", cb.delete_secret(&tool.id, "api_key").await);
    not_found("agent", cb.agent(&agent.id, true).await);
    not_found(
        "update_agent",
        cb.update_agent(
            &agent.id,
            VoiceAgentUpdate {
                name: Some("mine".into()),
                ..Default::default()
            },
        )
        .await,
    );
    not_found("delete_agent", cb.delete_agent(&agent.id).await);
    not_found("agent_tools", cb.agent_tools(&agent.id).await);
    not_found(
        "set_agent_tool",
        cb.set_agent_tool(&agent.id, &tool.id, input()).await,
    );
    not_found(
        "delete_agent_tool",
        cb.delete_agent_tool(&agent.id, &tool.id).await,
    );
    not_found(
        "tool_health",
        cb.tool_health(&tool.id, chrono::Utc::now() - chrono::Duration::hours(1))
            .await,
    );
    not_found("toolset", core.toolset(&b.organization_id, &agent.id).await);
    not_found("invoke", core.invoke(invocation(&b.organization_id)).await);
    not_found(
        "test_agent_tool",
        core.test_agent_tool(&b.organization_id, &agent.id, &tool.id)
            .await,
    );

    // B's own agent cannot be associated with A's tool either.
    let b_agent = cb
        .create_agent(NewVoiceAgent {
            name: "b-agent".into(),
            description: String::new(),
            system_prompt: String::new(),
            is_active: true,
        })
        .await
        .unwrap();
    not_found(
        "set_agent_tool (B agent, A tool)",
        cb.set_agent_tool(&b_agent.id, &tool.id, input()).await,
    );

    // Listings show B nothing of A's.
    assert!(
        cb.list_tools()
            .await
            .unwrap()
            .iter()
            .all(|t| t.id != tool.id)
    );
    let agents = cb
        .list_agents(&AgentFilter::default(), &PageRequest::first(50))
        .await
        .unwrap();
    assert_eq!(agents.items.len(), 1);
    assert_eq!(agents.items[0].id, b_agent.id);
    let invocations = cb
        .list_invocations(
            &InvocationFilter {
                agent_id: Some(agent.id.clone()),
                ..InvocationFilter::default()
            },
            &PageRequest::first(50),
        )
        .await
        .unwrap();
    assert!(invocations.items.is_empty());
    let all_b = cb
        .list_invocations(&InvocationFilter::default(), &PageRequest::first(50))
        .await
        .unwrap();
    assert!(all_b.items.is_empty());

    // And A still has everything, untouched.
    assert_eq!(
        ca.agent(&agent.id, true)
            .await
            .unwrap()
            .tools
            .unwrap()
            .len(),
        1
    );
    assert!(
        ca.list_secrets(&tool.id)
            .await
            .unwrap()
            .iter()
            .any(|s| s.name == "api_key" && s.is_set)
    );
    assert_eq!(
        ca.list_invocations(&InvocationFilter::default(), &PageRequest::first(50))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn api_keys_authenticate_until_revoked(db: &TestDb) {
    use secrecy::ExposeSecret;
    let core = core(db);
    let (org, first) = core.create_organization("acme").await.unwrap();
    let principal = core.authenticate(first.key.expose_secret()).await.unwrap();
    assert_eq!(principal.organization_id, org.id);
    assert!(!format!("{:?}", first.record).contains(first.key.expose_secret()));

    let second = core.create_api_key(&org.id, "ci").await.unwrap();
    assert_ne!(second.key.expose_secret(), first.key.expose_secret());
    core.revoke_api_key(&org.id, &first.record.id)
        .await
        .unwrap();
    assert!(matches!(
        core.authenticate(first.key.expose_secret()).await,
        Err(CoreError::Unauthenticated)
    ));
    assert!(core.authenticate(second.key.expose_secret()).await.is_ok());
    for bogus in [
        "",
        "wdn_",
        "wdn_not-a-key",
        "Bearer x",
        &"wdn_a".repeat(100),
    ] {
        assert!(matches!(
            core.authenticate(bogus).await,
            Err(CoreError::Unauthenticated)
        ));
    }
    // Another organization cannot revoke this one's key.
    let (other, _) = core.create_organization("globex").await.unwrap();
    not_found(
        "revoke",
        core.revoke_api_key(&other.id, &second.record.id).await,
    );
}

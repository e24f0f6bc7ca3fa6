//! The worker plane's look-up: the token check and the call's data in one
//! query, always as committed — including by another handle on the same
//! database (another `warden` process: the CLI, another replica) — and
//! unaffected by a look-up abandoned half-way.

use std::collections::BTreeMap;
use std::future::Future;
use std::task::Poll;

use crate::agents::new_agent;
use crate::support::{TestDb, component, entry, on_both_backends, ring};
use secrecy::SecretString;
use serde_json::json;
use warden_store::{
    AgentToolSettings, InvocationOutcome, InvocationTarget, NewInvocation, NewWorkerToken,
    Organization, Store, StoreError, Tool, VoiceAgent, VoiceAgentUpdate, WorkerToken, sha256_hex,
};

on_both_backends!(
    worker_lookups_see_another_handles_writes_at_once,
    an_abandoned_lookup_leaves_the_store_usable,
    a_scoped_token_finds_only_its_organizations_agents,
);

fn settings(config: serde_json::Value) -> AgentToolSettings {
    AgentToolSettings {
        config,
        is_enabled: true,
        function_enables: BTreeMap::new(),
    }
}

fn new_token(secret: &str) -> NewWorkerToken {
    NewWorkerToken {
        name: "livekit".to_owned(),
        prefix: secret[..8].to_owned(),
        token_hash: sha256_hex(secret.as_bytes()),
        organization_id: None,
    }
}

struct Seeded {
    org: Organization,
    agent: VoiceAgent,
    tool: Tool,
    token: WorkerToken,
}

/// An organization whose agent uses the platform tool `calendar` with config
/// `{"v": 1}`, and the worker token `secret`.
async fn seed(store: &Store, secret: &str) -> Seeded {
    let org = store.create_organization("acme", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    store
        .upsert_agent_tool(&org.id, &agent.id, &tool.id, &settings(json!({"v": 1})))
        .await
        .unwrap();
    let token = store.create_worker_token(&new_token(secret)).await.unwrap();
    Seeded {
        org,
        agent,
        tool,
        token,
    }
}

async fn lookup(
    store: &Store,
    secret: &str,
    agent_id: &str,
) -> Result<InvocationTarget, StoreError> {
    let (_, target) = store
        .worker_invocation_target(&sha256_hex(secret.as_bytes()), agent_id, "calendar")
        .await?;
    target
}

fn refused(what: &str, result: Result<InvocationTarget, StoreError>) {
    match result {
        Err(StoreError::NotFound("worker token")) => {}
        other => panic!("{what}: expected the token to be refused, got {other:?}"),
    }
}

/// Writes an audit row as a lone call does: inline on a SQLite file, so that the
/// store's write connection made the last commit it knows of.
async fn audit(store: &Store, organization_id: &str, agent_id: &str) {
    let new = NewInvocation {
        agent_id: Some(agent_id.to_owned()),
        tool_id: "calendar".to_owned(),
        tool_version_id: "calendar-v1".to_owned(),
        function: "book".to_owned(),
        call_id: uuid::Uuid::now_v7().to_string(),
        call_session_id: None,
        started_at: chrono::Utc::now(),
        duration_us: 1,
        fuel_consumed: 1,
        peak_memory_bytes: 1,
        outcome: InvocationOutcome::Ok,
        error_kind: None,
        argument_keys: None,
        replay_of: None,
    };
    match store.record_invocation_now(organization_id, &new).await {
        Some(written) => {
            written.unwrap();
        }
        None => {
            store
                .record_invocation(organization_id, &new)
                .await
                .unwrap();
        }
    }
}

async fn worker_lookups_see_another_handles_writes_at_once(db: &TestDb) {
    // `reader` answers the calls; `other` is a second handle with connections
    // of its own, as the CLI or another replica would be.
    let reader = &db.store;
    let other = Store::connect(&db.url).await.unwrap();
    let keys = ring(&entry("k1", 1));
    let first = "wdw_first-token";
    let Seeded {
        org,
        agent,
        tool,
        token,
    } = seed(&other, first).await;

    let target = lookup(reader, first, &agent.id).await.unwrap();
    assert_eq!(target.association.unwrap().config, json!({"v": 1}));
    assert!(target.secrets.is_empty());
    let (found, _) = reader
        .worker_invocation_target(&sha256_hex(first.as_bytes()), &agent.id, "calendar")
        .await
        .unwrap();
    assert_eq!(found.id, token.id);
    // A valid token and an unknown agent: the agent is what is missing.
    match lookup(reader, first, "no-such-agent").await {
        Err(StoreError::NotFound("voice agent")) => {}
        other => panic!("unknown agent: expected NotFound(voice agent), got {other:?}"),
    }
    refused(
        "unknown token",
        lookup(reader, "wdw_unknown", &agent.id).await,
    );
    refused(
        "unknown token, unknown agent",
        lookup(reader, "wdw_unknown", "no-such-agent").await,
    );

    // Config and secrets changed elsewhere apply to the very next look-up, also
    // after this handle's own write made the last commit it saw.
    audit(reader, &org.id, &agent.id).await;
    other
        .upsert_agent_tool(&org.id, &agent.id, &tool.id, &settings(json!({"v": 2})))
        .await
        .unwrap();
    other
        .put_secret(
            &keys,
            &org.id,
            &tool.id,
            "api_key",
            &SecretString::from("one"),
        )
        .await
        .unwrap();
    let target = lookup(reader, first, &agent.id).await.unwrap();
    assert_eq!(target.association.unwrap().config, json!({"v": 2}));
    let sealed = other.sealed_secrets(&org.id, &tool.id).await.unwrap();
    assert_eq!(target.secrets.len(), 1);
    assert_eq!(target.secrets[0].sealed, sealed[0].sealed);
    other
        .put_secret(
            &keys,
            &org.id,
            &tool.id,
            "api_key",
            &SecretString::from("two"),
        )
        .await
        .unwrap();
    let resealed = other.sealed_secrets(&org.id, &tool.id).await.unwrap();
    assert_ne!(resealed[0].sealed, sealed[0].sealed);
    let target = lookup(reader, first, &agent.id).await.unwrap();
    assert_eq!(target.secrets[0].sealed, resealed[0].sealed);
    // And a change this handle makes itself, through its pool.
    audit(reader, &org.id, &agent.id).await;
    reader
        .upsert_agent_tool(&org.id, &agent.id, &tool.id, &settings(json!({"v": 20})))
        .await
        .unwrap();
    let target = lookup(reader, first, &agent.id).await.unwrap();
    assert_eq!(target.association.unwrap().config, json!({"v": 20}));

    // Switched off, re-versioned or detached elsewhere: seen on the very next
    // look-up too, as is everything being put back.
    let active = |is_active| VoiceAgentUpdate {
        is_active: Some(is_active),
        ..VoiceAgentUpdate::default()
    };
    other
        .update_agent(&org.id, &agent.id, &active(false))
        .await
        .unwrap();
    assert!(
        !lookup(reader, first, &agent.id)
            .await
            .unwrap()
            .agent
            .is_active
    );
    other
        .update_agent(&org.id, &agent.id, &active(true))
        .await
        .unwrap();
    assert!(
        lookup(reader, first, &agent.id)
            .await
            .unwrap()
            .agent
            .is_active
    );
    other
        .install_tool_version(&component("calendar", "2.0.0", b"cal2"))
        .await
        .unwrap();
    let current = lookup(reader, first, &agent.id)
        .await
        .unwrap()
        .tool
        .unwrap();
    assert_eq!(current.current_version.unwrap().version, "2.0.0");
    other
        .delete_agent_tool(&org.id, &agent.id, &tool.id)
        .await
        .unwrap();
    assert!(
        lookup(reader, first, &agent.id)
            .await
            .unwrap()
            .association
            .is_none()
    );
    other
        .upsert_agent_tool(&org.id, &agent.id, &tool.id, &settings(json!({"v": 3})))
        .await
        .unwrap();
    let target = lookup(reader, first, &agent.id).await.unwrap();
    assert_eq!(target.association.unwrap().config, json!({"v": 3}));
    other
        .delete_secret(&org.id, &tool.id, "api_key")
        .await
        .unwrap();
    assert!(
        lookup(reader, first, &agent.id)
            .await
            .unwrap()
            .secrets
            .is_empty()
    );

    // Revoked elsewhere: refused on the very next look-up; a token created
    // elsewhere works on its first.
    other.revoke_worker_token(&token.id).await.unwrap();
    refused("revoked token", lookup(reader, first, &agent.id).await);
    let second = "wdw_second-token";
    other.create_worker_token(&new_token(second)).await.unwrap();
    assert!(lookup(reader, second, &agent.id).await.is_ok());
    // Deleted elsewhere, with its organization: the agent is gone at once.
    other.delete_organization(&org.id).await.unwrap();
    match lookup(reader, second, &agent.id).await {
        Err(StoreError::NotFound("voice agent")) => {}
        other => panic!("deleted agent: expected NotFound(voice agent), got {other:?}"),
    }
    other.close().await;
}

async fn an_abandoned_lookup_leaves_the_store_usable(db: &TestDb) {
    let store = &db.store;
    let secret = "wdw_a-token";
    let Seeded {
        org, agent, tool, ..
    } = seed(store, secret).await;
    let keys = ring(&entry("k1", 1));
    store
        .put_secret(
            &keys,
            &org.id,
            &tool.id,
            "api_key",
            &SecretString::from("x"),
        )
        .await
        .unwrap();

    // Look-ups polled once and dropped, as when a caller hangs up mid-query.
    for _ in 0..16 {
        let mut abandoned = std::pin::pin!(lookup(store, secret, &agent.id));
        std::future::poll_fn(|cx| {
            let _ = abandoned.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
    }
    for _ in 0..4 {
        let target = lookup(store, secret, &agent.id).await.unwrap();
        assert_eq!(target.agent.id, agent.id);
        assert_eq!(target.secrets.len(), 1);
    }
    refused(
        "unknown token",
        lookup(store, "wdw_unknown", &agent.id).await,
    );
}

async fn a_scoped_token_finds_only_its_organizations_agents(db: &TestDb) {
    scoped_lookups(&db.store).await;
}

/// The same on an in-memory SQLite database, whose look-ups go through sqlx
/// rather than the synchronous reader of a SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_token_finds_only_its_organizations_agents_through_sqlx_on_sqlite() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    scoped_lookups(&store).await;
}

/// A token limited to one organization: that organization's agents are found,
/// another organization's agent is exactly an unknown agent, in the one query
/// of the worker look-up and in `agent_by_id`.
async fn scoped_lookups(store: &Store) {
    let everywhere = "wdw_everywhere";
    let Seeded {
        org: acme,
        agent: acme_agent,
        tool,
        ..
    } = seed(store, everywhere).await;
    let globex = store.create_organization("globex", false).await.unwrap();
    let globex_agent = store
        .create_agent(&globex.id, &new_agent("G", true))
        .await
        .unwrap();
    store
        .upsert_agent_tool(
            &globex.id,
            &globex_agent.id,
            &tool.id,
            &settings(json!({"v": 9})),
        )
        .await
        .unwrap();
    let scoped = "wdw_acme-only";
    let created = store
        .create_worker_token(&NewWorkerToken {
            organization_id: Some(acme.id.clone()),
            ..new_token(scoped)
        })
        .await
        .unwrap();

    // The unscoped token reaches both organizations' agents (looked up first,
    // so an answer for it is cached when the scoped token asks).
    let target = lookup(store, everywhere, &globex_agent.id).await.unwrap();
    assert_eq!(target.agent.organization_id, globex.id);

    for _ in 0..2 {
        let (token, target) = store
            .worker_invocation_target(&sha256_hex(scoped.as_bytes()), &acme_agent.id, "calendar")
            .await
            .unwrap();
        assert_eq!(token, created);
        let target = target.unwrap();
        assert_eq!(target.agent.id, acme_agent.id);
        assert_eq!(target.association.unwrap().config, json!({"v": 1}));

        let other = lookup(store, scoped, &globex_agent.id).await;
        let unknown = lookup(store, scoped, "no-such-agent").await;
        assert!(
            matches!(other, Err(StoreError::NotFound("voice agent"))),
            "another organization's agent: {other:?}"
        );
        assert_eq!(format!("{other:?}"), format!("{unknown:?}"));
    }
    // Still the token that is checked first: revoked, it is refused whatever
    // the agent.
    store.revoke_worker_token(&created.id).await.unwrap();
    refused(
        "revoked scoped token",
        lookup(store, scoped, &globex_agent.id).await,
    );

    // agent_by_id with the token's organization: the same rule.
    assert_eq!(
        store
            .agent_by_id(Some(&acme.id), &acme_agent.id)
            .await
            .unwrap(),
        acme_agent
    );
    assert_eq!(
        store.agent_by_id(None, &globex_agent.id).await.unwrap(),
        globex_agent
    );
    for agent_id in [globex_agent.id.as_str(), "no-such-agent"] {
        match store.agent_by_id(Some(&acme.id), agent_id).await {
            Err(StoreError::NotFound("voice agent")) => {}
            other => panic!("{agent_id}: expected NotFound(voice agent), got {other:?}"),
        }
    }
}

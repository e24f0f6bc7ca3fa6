//! Worker tokens authenticate workers until revoked, and never stand in for an
//! organization's API key (nor the other way round).

use crate::support::{TestDb, on_both_backends};
use crate::*;
use secrecy::ExposeSecret;
use serde_json::json;
use std::collections::BTreeMap;
use warden_core::{
    API_KEY_PREFIX, AgentToolInput, CoreError, InvocationRequest, WORKER_TOKEN_PREFIX,
};
use warden_store::NewVoiceAgent;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    worker_tokens_authenticate_until_revoked,
    worker_tokens_and_api_keys_are_not_interchangeable,
    worker_calls_check_the_token_before_anything_else,
);

/// The organization's agent `front desk`, using `business_hours`.
async fn front_desk(core: &Core, org: &Principal) -> String {
    let catalog = core.catalog(org);
    let agent = catalog
        .create_agent(NewVoiceAgent {
            name: "front desk".into(),
            description: String::new(),
            system_prompt: String::new(),
            is_active: true,
        })
        .await
        .unwrap();
    let hours = catalog
        .install_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap()
        .tool;
    catalog
        .set_agent_tool(
            &agent.id,
            &hours.id,
            AgentToolInput {
                config: json!({ "time_zone": "UTC", "weekly_hours": {} }),
                is_enabled: true,
                function_enables: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    agent.id
}

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
    let used = db
        .store
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

/// `prepare_for_worker` checks the token in the same look-up as it loads the
/// call's data, and answers exactly as `authenticate_worker` then `prepare`:
/// an invalid token is refused whatever else is wrong with the request.
async fn worker_calls_check_the_token_before_anything_else(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "acme").await;
    let agent = front_desk(&core, &org).await;
    let (_, key) = core.create_organization("globex").await.unwrap();
    let issued = core.create_worker_token("livekit").await.unwrap();
    let token = issued.token.expose_secret();
    let request = |agent_id: &str, function: &str| InvocationRequest {
        agent_id: agent_id.into(),
        function: function.into(),
        arguments: json!({}),
        call_id: "call-1".into(),
        ..InvocationRequest::default()
    };

    let prepared = core
        .prepare_for_worker(token, request(&agent, "business_hours__is_open"))
        .await
        .unwrap();
    assert_eq!(prepared.organization_id(), org.organization_id);
    assert!(core.run(prepared).await.unwrap().result.is_ok());
    let used = db.store.list_worker_tokens().await.unwrap();
    assert!(used[0].last_used_at.is_some());
    // With a valid token, the request's own faults.
    match core
        .prepare_for_worker(token, request("no-such-agent", "business_hours__is_open"))
        .await
    {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("unknown agent: expected NotFound, got {other:?}"),
    }
    match core
        .prepare_for_worker(token, request(&agent, "nope__is_open"))
        .await
    {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("unknown tool: expected NotFound, got {other:?}"),
    }
    match core
        .prepare_for_worker(token, request(&agent, "nonsense"))
        .await
    {
        Err(CoreError::Invalid(_)) => {}
        other => panic!("malformed name: expected Invalid, got {other:?}"),
    }

    // Without one, Unauthenticated whatever the request.
    let key_as_token = format!(
        "{WORKER_TOKEN_PREFIX}{}",
        &key.key.expose_secret()[API_KEY_PREFIX.len()..]
    );
    for bogus in [
        "",
        "wdw_not-a-token",
        key.key.expose_secret(),
        key_as_token.as_str(),
    ] {
        for (agent_id, function) in [
            (agent.as_str(), "business_hours__is_open"),
            ("no-such-agent", "business_hours__is_open"),
            (agent.as_str(), "nope__is_open"),
            (agent.as_str(), "nonsense"),
        ] {
            unauthenticated(
                &format!("{bogus:?} calling {agent_id} {function}"),
                core.prepare_for_worker(bogus, request(agent_id, function))
                    .await,
            );
        }
    }

    // Revoked: refused at once, whatever the request.
    core.revoke_worker_token(&issued.record.id).await.unwrap();
    for (agent_id, function) in [
        (agent.as_str(), "business_hours__is_open"),
        ("no-such-agent", "business_hours__is_open"),
        (agent.as_str(), "nonsense"),
    ] {
        unauthenticated(
            &format!("revoked token calling {agent_id} {function}"),
            core.prepare_for_worker(token, request(agent_id, function))
                .await,
        );
    }
}

/// A PostgreSQL restart drops every pooled connection at once. Connections are
/// not pinged before each use (a round trip per query), so each dropped one
/// fails its next query: the look-up reads again and the audit writer writes
/// again on fresh connections, and no call fails or goes unaudited for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_calls_survive_the_database_dropping_every_connection() {
    use sqlx::Connection as _;
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let core = core(&db);
    let org = organization(&core, "acme").await;
    let agent = front_desk(&core, &org).await;
    let issued = core.create_worker_token("livekit").await.unwrap();
    let token = issued.token.expose_secret().to_owned();
    let calls = |n: usize| {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (core, token, agent_id) = (core.clone(), token.clone(), agent.clone());
            set.spawn(async move {
                let request = InvocationRequest {
                    agent_id,
                    function: "business_hours__is_open".into(),
                    arguments: json!({}),
                    call_id: "call-1".into(),
                    ..InvocationRequest::default()
                };
                core.run(core.prepare_for_worker(&token, request).await?)
                    .await
            });
        }
        set.join_all()
    };
    // Fill the pool with connections: concurrent calls.
    let warm = calls(16).await;
    assert!(warm.iter().all(Result::is_ok), "{warm:?}");

    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let dropped: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(dropped >= 2, "only {dropped} pooled connections to drop");
    admin.close().await.ok();

    for round in 0..3 {
        for (i, result) in calls(8).await.iter().enumerate() {
            let invoked = result
                .as_ref()
                .unwrap_or_else(|e| panic!("round {round}, call {i}: {e}"));
            assert!(invoked.result.is_ok(), "{:?}", invoked.result);
        }
    }
    let mut check = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM invocations")
        .fetch_one(&mut check)
        .await
        .unwrap();
    assert!(audited >= 16 + 24, "{audited} audit rows for 40 calls");
    check.close().await.ok();
}

//! Call sessions.

use chrono::{Duration, Utc};
use serde_json::json;
use warden_store::{CallDirection, NewCallSession, PageRequest, SipNumbers, StoreError};

use crate::agents::new_agent;
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    call_session_lifecycle,
    call_sessions_are_scoped_to_their_organization,
    sip_numbers_fill_in_and_wait_for_a_later_session
);

fn session(agent_id: &str, token_hash: Option<&str>, expires_in: Duration) -> NewCallSession {
    NewCallSession {
        agent_id: agent_id.to_owned(),
        room_name: format!("agent-{agent_id}-+15550100"),
        phone_number: Some("+15550100".to_owned()),
        agent_number: None,
        direction: CallDirection::Outbound,
        status: "created".to_owned(),
        token_hash: token_hash.map(str::to_owned),
        expires_at: Utc::now() + expires_in,
        metadata: json!({"dispatch": "d1"}),
    }
}

async fn call_session_lifecycle(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    let created = store
        .create_call_session(
            &org.id,
            &session(&agent.id, Some("hash-1"), Duration::minutes(30)),
        )
        .await
        .unwrap();
    assert_eq!(created.direction, CallDirection::Outbound);
    assert_eq!(created.metadata, json!({"dispatch": "d1"}));
    assert_eq!(created.ended_at, None);
    assert_eq!(
        store.call_session(&org.id, &created.id).await.unwrap(),
        created
    );
    assert_eq!(
        store
            .active_call_session_by_token_hash("hash-1")
            .await
            .unwrap(),
        created
    );

    // Token hashes are unique.
    let error = store
        .create_call_session(
            &org.id,
            &session(&agent.id, Some("hash-1"), Duration::minutes(30)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    // An expired token finds nothing.
    store
        .create_call_session(
            &org.id,
            &session(&agent.id, Some("hash-old"), -Duration::minutes(1)),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.active_call_session_by_token_hash("hash-old").await,
        Err(StoreError::NotFound(_))
    ));

    let active = store
        .update_call_session_status(&org.id, &created.id, "active", None)
        .await
        .unwrap();
    assert_eq!(active.status, "active");
    assert_eq!(active.ended_at, None);
    let ended_at = Utc::now();
    let ended = store
        .update_call_session_status(&org.id, &created.id, "ended", Some(ended_at))
        .await
        .unwrap();
    assert_eq!(ended.status, "ended");
    assert_eq!(
        ended.ended_at.map(|t| t.timestamp_micros()),
        Some(ended_at.timestamp_micros())
    );
    assert!(matches!(
        store.active_call_session_by_token_hash("hash-1").await,
        Err(StoreError::NotFound(_))
    ));

    let listed = store
        .list_call_sessions(&org.id, Some(&agent.id), &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let rest = store
        .list_call_sessions(
            &org.id,
            None,
            &PageRequest::after(10, listed.next_cursor.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].id, created.id);
}

async fn call_sessions_are_scoped_to_their_organization(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let a_agent = store
        .create_agent(&a.id, &new_agent("A", true))
        .await
        .unwrap();
    let a_session = store
        .create_call_session(&a.id, &session(&a_agent.id, None, Duration::minutes(5)))
        .await
        .unwrap();

    // B cannot open a session on A's agent (the composite foreign key refuses it).
    let error = store
        .create_call_session(&b.id, &session(&a_agent.id, None, Duration::minutes(5)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("voice agent")),
        "{error:?}"
    );
    assert!(matches!(
        store.call_session(&b.id, &a_session.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_call_session_status(&b.id, &a_session.id, "ended", Some(Utc::now()))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let listed = store
        .list_call_sessions(&b.id, None, &PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert_eq!(
        store
            .call_session(&a.id, &a_session.id)
            .await
            .unwrap()
            .status,
        "created"
    );
}

async fn sip_numbers_fill_in_and_wait_for_a_later_session(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let other = store.create_organization("globex", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    let mut new = session(&agent.id, None, Duration::minutes(30));
    new.phone_number = None;
    let created = store.create_call_session(&org.id, &new).await.unwrap();
    assert_eq!(
        (
            created.phone_number.as_deref(),
            created.agent_number.as_deref()
        ),
        (None, None)
    );

    // Missing numbers are filled in; known ones are kept.
    let filled = store
        .fill_call_session_numbers(&org.id, &created.id, Some("+15550001"), None)
        .await
        .unwrap();
    assert_eq!(filled.phone_number.as_deref(), Some("+15550001"));
    assert_eq!(filled.agent_number, None);
    let filled = store
        .fill_call_session_numbers(&org.id, &created.id, Some("+15550002"), Some("+15559999"))
        .await
        .unwrap();
    assert_eq!(filled.phone_number.as_deref(), Some("+15550001"));
    assert_eq!(filled.agent_number.as_deref(), Some("+15559999"));
    assert_eq!(
        store.call_session(&org.id, &created.id).await.unwrap(),
        filled
    );
    // Another organization's session is not found, and nothing changes.
    assert!(matches!(
        store
            .fill_call_session_numbers(&other.id, &created.id, None, Some("+15550003"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.call_session(&org.id, &created.id).await.unwrap(),
        filled
    );

    // Numbers kept per room: the latest replace earlier ones; expired ones
    // count for nothing and are pruned by later inserts.
    let numbers = |phone: &str| SipNumbers {
        phone_number: Some(phone.to_owned()),
        trunk_number: Some("+15559999".to_owned()),
    };
    assert_eq!(store.sip_numbers("room-1").await.unwrap(), None);
    let later = Utc::now() + Duration::minutes(5);
    store
        .record_sip_numbers("room-1", &numbers("+15550004"), later)
        .await
        .unwrap();
    store
        .record_sip_numbers("room-1", &numbers("+15550005"), later)
        .await
        .unwrap();
    assert_eq!(
        store.sip_numbers("room-1").await.unwrap(),
        Some(numbers("+15550005"))
    );
    // The numbers stay out of Debug.
    assert!(!format!("{:?}", numbers("+15550005")).contains("5550005"));

    let past = Utc::now() - Duration::seconds(1);
    store
        .record_sip_numbers("old", &numbers("+15550006"), past)
        .await
        .unwrap();
    assert_eq!(store.sip_numbers("old").await.unwrap(), None);
    store
        .record_sip_numbers("room-2", &numbers("+15550007"), later)
        .await
        .unwrap();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let rooms: Vec<String> =
        sqlx::query_scalar("SELECT room_name FROM sip_numbers ORDER BY room_name")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(rooms, ["room-1", "room-2"], "the expired row was pruned");
}

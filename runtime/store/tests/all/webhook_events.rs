//! LiveKit webhook events applied once: claims, replays, concurrent duplicates, pruning.

use chrono::{Duration, Utc};
use warden_store::WEBHOOK_EVENT_PRUNE_BATCH;

use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    an_event_is_claimed_once,
    concurrent_claims_of_one_event_succeed_once,
    expired_events_are_pruned_in_bounded_batches,
    a_released_event_can_be_claimed_again,
);

async fn rows(db: &TestDb) -> i64 {
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

async fn an_event_is_claimed_once(db: &TestDb) {
    let store = &db.store;
    let until = Utc::now() + Duration::minutes(6);
    assert!(store.claim_webhook_event("EV_a", until).await.unwrap());
    assert!(!store.claim_webhook_event("EV_a", until).await.unwrap());
    // A replay signed afresh (a later keep_until) is still a replay.
    assert!(
        !store
            .claim_webhook_event("EV_a", until + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert!(store.claim_webhook_event("EV_b", until).await.unwrap());
    assert_eq!(rows(db).await, 2);

    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (received_at, keep_until): (i64, i64) =
        sqlx::query_as("SELECT received_at, keep_until FROM webhook_events WHERE id = 'EV_a'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    // Extended to the replay's later keep_until; received_at is the first receipt.
    assert_eq!(
        keep_until,
        (until + Duration::minutes(5)).timestamp_micros()
    );
    assert!(received_at <= Utc::now().timestamp_micros() && received_at < keep_until);
}

async fn concurrent_claims_of_one_event_succeed_once(db: &TestDb) {
    let until = Utc::now() + Duration::minutes(6);
    let claims = (0..8).map(|_| {
        let store = db.store.clone();
        tokio::spawn(async move { store.claim_webhook_event("EV_race", until).await })
    });
    let mut won = 0;
    for claim in claims.collect::<Vec<_>>() {
        if claim.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(rows(db).await, 1);
}

async fn expired_events_are_pruned_in_bounded_batches(db: &TestDb) {
    let store = &db.store;
    let past = Utc::now() - Duration::seconds(1);
    let future = Utc::now() + Duration::minutes(6);

    // A claim prunes what expired before it.
    assert!(store.claim_webhook_event("EV_old", past).await.unwrap());
    assert!(store.claim_webhook_event("EV_live", future).await.unwrap());
    assert_eq!(rows(db).await, 1);
    // An id whose row was pruned is new again: its token can no longer be accepted.
    assert!(store.claim_webhook_event("EV_old", future).await.unwrap());

    // A row whose keep_until a replay extended outlives the first keep_until.
    let soon = Utc::now() + Duration::milliseconds(1500);
    assert!(
        store
            .claim_webhook_event("EV_extended", soon)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_webhook_event("EV_extended", future)
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;

    // Two and a half batches of expired rows (as a long idle spell would leave):
    // each claim deletes one batch at most, and never a live row.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let expired = 2 * WEBHOOK_EVENT_PRUNE_BATCH + WEBHOOK_EVENT_PRUNE_BATCH / 2;
    for i in 0..expired {
        sqlx::query("INSERT INTO webhook_events (id, received_at, keep_until) VALUES ($1, $2, $2)")
            .bind(format!("EV_idle{i}"))
            .bind(past.timestamp_micros())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let live = 3;
    assert_eq!(rows(db).await, live + expired);
    let mut left = expired;
    for claim in 1..=3 {
        assert!(
            store
                .claim_webhook_event(&format!("EV_new{claim}"), future)
                .await
                .unwrap()
        );
        left = (left - WEBHOOK_EVENT_PRUNE_BATCH).max(0);
        assert_eq!(rows(db).await, live + claim + left);
    }
    assert_eq!(left, 0);
    for id in ["EV_live", "EV_old", "EV_extended", "EV_new1"] {
        assert!(
            !store.claim_webhook_event(id, future).await.unwrap(),
            "{id}"
        );
    }
}

async fn a_released_event_can_be_claimed_again(db: &TestDb) {
    let store = &db.store;
    let until = Utc::now() + Duration::minutes(6);
    assert!(store.claim_webhook_event("EV_failed", until).await.unwrap());
    store.release_webhook_event("EV_failed").await.unwrap();
    assert_eq!(rows(db).await, 0);
    assert!(store.claim_webhook_event("EV_failed", until).await.unwrap());
    assert!(!store.claim_webhook_event("EV_failed", until).await.unwrap());
    // Releasing an unknown id is not an error.
    store.release_webhook_event("EV_unknown").await.unwrap();
}

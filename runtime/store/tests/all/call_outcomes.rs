//! Exactly-once calls: claims, recorded outcomes, leases, expiry and rewrap.

use chrono::{Duration, Utc};
use warden_store::{CallClaim, CallKey, ClaimTerms, Completed, KeyRing, OutcomeBudget, StoreError};

use crate::agents::new_agent;
use crate::support::{TestDb, entry, on_both_backends, ring};

on_both_backends!(
    a_call_is_claimed_once_and_its_outcome_answers_repeats,
    concurrent_claims_of_one_call_run_it_once,
    a_stale_claim_is_taken_over_once_and_its_holder_cannot_complete,
    expired_outcomes_count_for_nothing_and_are_pruned,
    a_released_call_runs_again,
    another_organizations_agent_is_not_found,
    rewrap_covers_recorded_outcomes,
    an_organization_keeps_its_newest_outcomes_within_its_budget,
);

async fn setup(db: &TestDb) -> (String, String) {
    organization_with_agent(db, "acme").await
}

/// A new organization `name` and an agent of it: their ids.
async fn organization_with_agent(db: &TestDb, name: &str) -> (String, String) {
    let org = db.store.create_organization(name, false).await.unwrap();
    let agent = db
        .store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    (org.id, agent.id)
}

fn key<'a>(org: &'a str, agent: &'a str, call_id: &'a str) -> CallKey<'a> {
    CallKey {
        organization_id: org,
        agent_id: agent,
        function: "google_calendar__create_event",
        call_id,
    }
}

fn terms(hash: &str) -> ClaimTerms<'_> {
    ClaimTerms {
        arguments_hash: hash,
        lease_until: Utc::now() + Duration::seconds(60),
        expires_at: Utc::now() + Duration::hours(24),
    }
}

fn claimed(claim: CallClaim) -> String {
    match claim {
        CallClaim::Run(token) => token,
        other => panic!("expected to run the call, got {other:?}"),
    }
}

/// Seals `outcome` for `key` and records it under `claim`: whether it was recorded.
async fn complete(
    db: &TestDb,
    keys: &KeyRing,
    key: &CallKey<'_>,
    claim: &str,
    outcome: &str,
) -> bool {
    let completed = complete_within(db, keys, key, claim, outcome, OutcomeBudget::default()).await;
    assert_eq!(completed.evicted, 0);
    completed.recorded
}

/// [`complete`] under `budget`.
async fn complete_within(
    db: &TestDb,
    keys: &KeyRing,
    key: &CallKey<'_>,
    claim: &str,
    outcome: &str,
    budget: OutcomeBudget,
) -> Completed {
    let sealed = keys.seal_outcome(key, outcome.as_bytes()).unwrap();
    db.store
        .complete_call(key, claim, "inv-1", &sealed, budget)
        .await
        .unwrap()
}

async fn count(db: &TestDb) -> i64 {
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM call_outcomes")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

async fn a_call_is_claimed_once_and_its_outcome_answers_repeats(db: &TestDb) {
    let keys = ring(&entry("k1", 1));
    let (org, agent) = setup(db).await;
    let call = key(&org, &agent, "call_1");
    let claim = claimed(db.store.claim_call(&call, &terms("h1")).await.unwrap());

    // While it runs, a repeat is told so, and other arguments are a reuse.
    assert_eq!(
        db.store.claim_call(&call, &terms("h1")).await.unwrap(),
        CallClaim::Running
    );
    assert_eq!(
        db.store.claim_call(&call, &terms("h2")).await.unwrap(),
        CallClaim::Reused
    );

    assert!(complete(db, &keys, &call, &claim, r#"{"result":{"id":"evt"}}"#).await);
    // Completing twice does nothing more.
    assert!(!complete(db, &keys, &call, &claim, r#"{"result":{"id":"other"}}"#).await);
    let CallClaim::Done(recorded) = db.store.claim_call(&call, &terms("h1")).await.unwrap() else {
        panic!("expected the recorded outcome")
    };
    assert_eq!(recorded.invocation_id, "inv-1");
    let opened = keys.open_outcome(&call, &recorded.sealed).unwrap();
    assert_eq!(&opened[..], br#"{"result":{"id":"evt"}}"#);
    assert_eq!(
        db.store.claim_call(&call, &terms("h2")).await.unwrap(),
        CallClaim::Reused
    );

    // The key is (agent, function, call id): any other part makes a new call.
    let other_function = CallKey {
        function: "google_calendar__cancel_event",
        ..call
    };
    claimed(
        db.store
            .claim_call(&other_function, &terms("h1"))
            .await
            .unwrap(),
    );
    claimed(
        db.store
            .claim_call(&key(&org, &agent, "call_2"), &terms("h1"))
            .await
            .unwrap(),
    );
    let second = db
        .store
        .create_agent(&org, &new_agent("B", true))
        .await
        .unwrap();
    claimed(
        db.store
            .claim_call(&key(&org, &second.id, "call_1"), &terms("h1"))
            .await
            .unwrap(),
    );

    // An outcome opens only for its own call.
    let moved = key(&org, &agent, "call_2");
    assert!(keys.open_outcome(&moved, &recorded.sealed).is_err());
}

async fn concurrent_claims_of_one_call_run_it_once(db: &TestDb) {
    let (org, agent) = setup(db).await;
    let claims = (0..10).map(|_| {
        let (store, org, agent) = (db.store.clone(), org.clone(), agent.clone());
        tokio::spawn(async move {
            store
                .claim_call(&key(&org, &agent, "call_race"), &terms("h"))
                .await
        })
    });
    let mut runs = 0;
    for claim in claims.collect::<Vec<_>>() {
        match claim.await.unwrap().unwrap() {
            CallClaim::Run(_) => runs += 1,
            CallClaim::Running => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(runs, 1);
    assert_eq!(count(db).await, 1);
}

async fn a_stale_claim_is_taken_over_once_and_its_holder_cannot_complete(db: &TestDb) {
    let keys = ring(&entry("k1", 1));
    let (org, agent) = setup(db).await;
    let call = key(&org, &agent, "call_lease");
    // A claim whose lease has already run out: its replica is presumed gone.
    let lapsed = ClaimTerms {
        lease_until: Utc::now() - Duration::seconds(1),
        ..terms("h")
    };
    let old = claimed(db.store.claim_call(&call, &lapsed).await.unwrap());
    let takeovers = (0..6).map(|_| {
        let (store, org, agent) = (db.store.clone(), org.clone(), agent.clone());
        tokio::spawn(async move {
            store
                .claim_call(&key(&org, &agent, "call_lease"), &terms("h"))
                .await
        })
    });
    let mut new = Vec::new();
    for claim in takeovers.collect::<Vec<_>>() {
        if let CallClaim::Run(token) = claim.await.unwrap().unwrap() {
            new.push(token);
        }
    }
    assert_eq!(new.len(), 1, "exactly one request takes the call over");
    // The old holder's late outcome is not recorded; the new one's is.
    assert!(!complete(db, &keys, &call, &old, r#"{"result":"late"}"#).await);
    db.store.release_call(&call, &old).await.unwrap();
    assert_eq!(count(db).await, 1);
    assert!(complete(db, &keys, &call, &new[0], r#"{"result":"new"}"#).await);
    assert!(matches!(
        db.store.claim_call(&call, &terms("h")).await.unwrap(),
        CallClaim::Done(_)
    ));
}

async fn expired_outcomes_count_for_nothing_and_are_pruned(db: &TestDb) {
    let keys = ring(&entry("k1", 1));
    let (org, agent) = setup(db).await;
    let call = key(&org, &agent, "call_old");
    let soon = ClaimTerms {
        expires_at: Utc::now() + Duration::milliseconds(300),
        ..terms("h1")
    };
    let claim = claimed(db.store.claim_call(&call, &soon).await.unwrap());
    assert!(complete(db, &keys, &call, &claim, r#"{"result":1}"#).await);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // Expired: a repeat runs again, whatever its arguments.
    claimed(db.store.claim_call(&call, &terms("h2")).await.unwrap());

    // Expired rows of any call go, a bounded batch per claim.
    let past = Utc::now() - Duration::seconds(1);
    for i in 0..3 {
        let id = format!("call_gone_{i}");
        let gone = ClaimTerms {
            expires_at: past,
            ..terms("h")
        };
        claimed(
            db.store
                .claim_call(&key(&org, &agent, &id), &gone)
                .await
                .unwrap(),
        );
    }
    claimed(
        db.store
            .claim_call(&key(&org, &agent, "call_new"), &terms("h"))
            .await
            .unwrap(),
    );
    // call_old (live again) and call_new; the claims pruned the expired ones.
    assert_eq!(count(db).await, 2);
}

async fn a_released_call_runs_again(db: &TestDb) {
    let (org, agent) = setup(db).await;
    let call = key(&org, &agent, "call_refused");
    let claim = claimed(db.store.claim_call(&call, &terms("h1")).await.unwrap());
    // Releasing with another token changes nothing.
    db.store.release_call(&call, "not-the-claim").await.unwrap();
    assert_eq!(
        db.store.claim_call(&call, &terms("h1")).await.unwrap(),
        CallClaim::Running
    );
    db.store.release_call(&call, &claim).await.unwrap();
    assert_eq!(count(db).await, 0);
    // Released, the call id is free, even for other arguments.
    claimed(db.store.claim_call(&call, &terms("h2")).await.unwrap());
}

async fn another_organizations_agent_is_not_found(db: &TestDb) {
    let keys = ring(&entry("k1", 1));
    let (org, agent) = setup(db).await;
    let other = db.store.create_organization("globex", false).await.unwrap();
    let call = key(&org, &agent, "call_x");
    let claim = claimed(db.store.claim_call(&call, &terms("h")).await.unwrap());
    assert!(complete(db, &keys, &call, &claim, r#"{"result":"secret"}"#).await);

    // Another organization naming this agent finds nothing and changes nothing.
    let foreign = key(&other.id, &agent, "call_x");
    assert!(matches!(
        db.store.claim_call(&foreign, &terms("h")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.store
            .claim_call(&key(&other.id, &agent, "call_y"), &terms("h"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    db.store.release_call(&foreign, &claim).await.unwrap();
    assert!(!complete(db, &keys, &foreign, &claim, r#"{"result":"forged"}"#).await);
    assert_eq!(count(db).await, 1);
    assert!(matches!(
        db.store.claim_call(&call, &terms("h")).await.unwrap(),
        CallClaim::Done(_)
    ));
}

async fn rewrap_covers_recorded_outcomes(db: &TestDb) {
    let old = ring(&entry("old", 1));
    let (org, agent) = setup(db).await;
    let call = key(&org, &agent, "call_rewrap");
    let claim = claimed(db.store.claim_call(&call, &terms("h")).await.unwrap());
    assert!(complete(db, &old, &call, &claim, r#"{"result":"kept"}"#).await);
    // A claim still running has nothing sealed to rewrap.
    claimed(
        db.store
            .claim_call(&key(&org, &agent, "call_running"), &terms("h"))
            .await
            .unwrap(),
    );

    let rotated = ring(&format!("{},{}", entry("new", 2), entry("old", 1)));
    assert_eq!(db.store.rewrap_secrets(&rotated).await.unwrap(), 1);
    assert_eq!(db.store.rewrap_secrets(&rotated).await.unwrap(), 0);
    let CallClaim::Done(recorded) = db.store.claim_call(&call, &terms("h")).await.unwrap() else {
        panic!("expected the recorded outcome")
    };
    assert_eq!(recorded.sealed.key_id(), "new");
    // The new key alone opens it.
    let new_only = ring(&entry("new", 2));
    let opened = new_only.open_outcome(&call, &recorded.sealed).unwrap();
    assert_eq!(&opened[..], br#"{"result":"kept"}"#);
}

/// One organization's stream of exactly-once calls cannot fill the disk: past its budget
/// (outcomes or bytes) its oldest outcomes go, newest kept, and nothing of another
/// organization's nor of a call still running.
async fn an_organization_keeps_its_newest_outcomes_within_its_budget(db: &TestDb) {
    let keys = ring(&entry("k1", 1));
    let (org, agent) = setup(db).await;
    let (other, other_agent) = organization_with_agent(db, "globex").await;
    let three = OutcomeBudget {
        outcomes: 3,
        bytes: 1 << 20,
    };
    let record = async |org: &str, agent: &str, id: &str, outcome: &str, budget: OutcomeBudget| {
        let call = key(org, agent, id);
        let claim = claimed(db.store.claim_call(&call, &terms("h")).await.unwrap());
        let completed = complete_within(db, &keys, &call, &claim, outcome, budget).await;
        assert!(completed.recorded);
        completed.evicted
    };
    let state = async |org: &str, agent: &str, id: &str| match db
        .store
        .claim_call(&key(org, agent, id), &terms("h"))
        .await
        .unwrap()
    {
        CallClaim::Done(_) => "done",
        CallClaim::Running => "running",
        CallClaim::Run(_) => "gone",
        CallClaim::Reused => "reused",
    };

    // The other organization is at its budget; a call of this one is still running.
    for i in 0..3 {
        assert_eq!(
            record(&other, &other_agent, &format!("g{i}"), "{}", three).await,
            0
        );
    }
    claimed(
        db.store
            .claim_call(&key(&org, &agent, "running"), &terms("h"))
            .await
            .unwrap(),
    );
    // Five outcomes under a budget of three: each one past it deletes the oldest.
    let mut evicted = Vec::new();
    for i in 0..5 {
        evicted.push(record(&org, &agent, &format!("c{i}"), "{}", three).await);
    }
    assert_eq!(evicted, [0, 0, 0, 1, 1]);
    for (id, expected) in [
        ("c0", "gone"),
        ("c1", "gone"),
        ("c2", "done"),
        ("c3", "done"),
    ] {
        assert_eq!(state(&org, &agent, id).await, expected, "{id}");
    }
    assert_eq!(state(&org, &agent, "c4").await, "done");
    assert_eq!(state(&org, &agent, "running").await, "running");
    for i in 0..3 {
        assert_eq!(state(&other, &other_agent, &format!("g{i}")).await, "done");
    }

    // Bytes: room for two outcomes of 1,000 bytes, sealed, but not three.
    let big = format!("\"{}\"", "x".repeat(998));
    let two_big = OutcomeBudget {
        outcomes: 100,
        bytes: 2_200,
    };
    let (initech, agent) = organization_with_agent(db, "initech").await;
    assert_eq!(record(&initech, &agent, "b0", &big, two_big).await, 0);
    assert_eq!(record(&initech, &agent, "b1", &big, two_big).await, 0);
    assert_eq!(record(&initech, &agent, "b2", &big, two_big).await, 1);
    assert_eq!(state(&initech, &agent, "b0").await, "gone");
    // An outcome larger than the whole budget is still kept, alone.
    let huge = format!("\"{}\"", "x".repeat(3_000));
    assert_eq!(record(&initech, &agent, "huge", &huge, two_big).await, 2);
    for (id, expected) in [("b1", "gone"), ("b2", "gone"), ("huge", "done")] {
        assert_eq!(state(&initech, &agent, id).await, expected, "{id}");
    }
}

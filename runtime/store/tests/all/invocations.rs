//! The audit log.

use chrono::{Duration, Utc};
use serde_json::json;
use warden_store::{
    Backend, InvocationFilter, InvocationOutcome, NewInvocation, Organization, OrganizationUpdate,
    PageRequest, Store, StoreError, VoiceAgent,
};

use crate::agents::new_agent;
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    record_list_and_filter,
    arguments_are_kept_only_when_the_organization_opted_in,
    statistics,
    invocations_are_scoped_to_their_organization,
    two_hundred_concurrent_inserts,
    a_batch_answers_row_by_row,
    a_row_written_now_is_the_row_written_later,
    rows_waiting_in_recent_invocations_read_as_audit_rows,
);

fn call(
    agent_id: Option<&str>,
    tool_id: &str,
    function: &str,
    duration_us: i64,
    error: Option<&str>,
) -> NewInvocation {
    NewInvocation {
        agent_id: agent_id.map(str::to_owned),
        tool_id: tool_id.to_owned(),
        tool_version_id: format!("{tool_id}-v1"),
        function: function.to_owned(),
        call_id: uuid::Uuid::now_v7().to_string(),
        call_session_id: None,
        started_at: Utc::now(),
        duration_us,
        fuel_consumed: 1_000_000,
        peak_memory_bytes: 1 << 20,
        outcome: if error.is_some() {
            InvocationOutcome::Error
        } else {
            InvocationOutcome::Ok
        },
        error_kind: error.map(str::to_owned),
        argument_keys: Some(json!(["date"])),
        replay_of: None,
    }
}

async fn record_list_and_filter(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    let first = store
        .record_invocation(
            &org.id,
            &call(Some(&agent.id), "calendar", "list", 100, None),
        )
        .await
        .unwrap();
    assert_eq!(first.organization_id, org.id);
    assert_eq!(first.outcome, InvocationOutcome::Ok);
    assert_eq!(store.invocation(&org.id, &first.id).await.unwrap(), first);
    store
        .record_invocation(&org.id, &call(None, "crm", "lookup", 200, Some("timeout")))
        .await
        .unwrap();
    store
        .record_invocation(
            &org.id,
            &call(Some(&agent.id), "calendar", "book", 300, Some("upstream")),
        )
        .await
        .unwrap();

    let all = store
        .list_invocations(
            &org.id,
            &InvocationFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap();
    let functions: Vec<_> = all.items.iter().map(|i| i.function.as_str()).collect();
    assert_eq!(functions, ["book", "lookup", "list"]);
    assert_eq!(all.next_cursor, None);

    let page = |filter: InvocationFilter| {
        let store = store.clone();
        let org = org.id.clone();
        async move {
            store
                .list_invocations(&org, &filter, &PageRequest::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.function)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page(InvocationFilter {
            agent_id: Some(agent.id.clone()),
            ..Default::default()
        })
        .await,
        ["book", "list"]
    );
    assert_eq!(
        page(InvocationFilter {
            tool_id: Some("crm".into()),
            ..Default::default()
        })
        .await,
        ["lookup"]
    );
    assert_eq!(
        page(InvocationFilter {
            outcome: Some(InvocationOutcome::Error),
            tool_id: Some("calendar".into()),
            ..Default::default()
        })
        .await,
        ["book"]
    );
    assert_eq!(
        page(InvocationFilter {
            function: Some("list".into()),
            ..Default::default()
        })
        .await,
        ["list"]
    );
    assert_eq!(
        page(InvocationFilter {
            since: Some(first.created_at + Duration::microseconds(1)),
            ..Default::default()
        })
        .await,
        ["book", "lookup"]
    );
    assert_eq!(
        page(InvocationFilter {
            until: Some(first.created_at + Duration::microseconds(1)),
            ..Default::default()
        })
        .await,
        ["list"]
    );

    // Cursor pagination.
    let one = store
        .list_invocations(
            &org.id,
            &InvocationFilter::default(),
            &PageRequest::first(1),
        )
        .await
        .unwrap();
    assert_eq!(one.items[0].function, "book");
    let two = store
        .list_invocations(
            &org.id,
            &InvocationFilter::default(),
            &PageRequest::after(2, one.next_cursor.unwrap()),
        )
        .await
        .unwrap();
    let functions: Vec<_> = two.items.iter().map(|i| i.function.as_str()).collect();
    assert_eq!(functions, ["lookup", "list"]);
    assert_eq!(two.next_cursor, None);

    // Deleting the agent keeps its audit rows, without the agent.
    store.delete_agent(&org.id, &agent.id).await.unwrap();
    let kept = store.invocation(&org.id, &first.id).await.unwrap();
    assert_eq!(kept.agent_id, None);
}

async fn arguments_are_kept_only_when_the_organization_opted_in(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("private", false).await.unwrap();
    let recorded = store
        .record_invocation(&org.id, &call(None, "t", "f", 1, None))
        .await
        .unwrap();
    assert_eq!(recorded.argument_keys, None);

    store
        .update_organization(
            &org.id,
            &OrganizationUpdate {
                record_arguments: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let recorded = store
        .record_invocation(&org.id, &call(None, "t", "f", 1, None))
        .await
        .unwrap();
    assert_eq!(recorded.argument_keys, Some(json!(["date"])));
}

async fn statistics(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("acme", false).await.unwrap();
    let empty = store
        .invocation_stats(&org.id, &InvocationFilter::default())
        .await
        .unwrap();
    assert_eq!(empty.count, 0);
    assert_eq!(empty.p50_duration_us, None);

    // Durations 1..=100 ms; 10 timeouts, 5 upstream errors.
    for i in 1..=100 {
        let error = match i {
            1..=10 => Some("timeout"),
            11..=15 => Some("upstream"),
            _ => None,
        };
        store
            .record_invocation(&org.id, &call(None, "t", "f", i * 1000, error))
            .await
            .unwrap();
    }
    let stats = store
        .invocation_stats(&org.id, &InvocationFilter::default())
        .await
        .unwrap();
    assert_eq!(stats.count, 100);
    assert_eq!(stats.error_count, 15);
    assert_eq!(
        stats.errors_by_kind,
        [
            (Some("timeout".to_owned()), 10),
            (Some("upstream".to_owned()), 5)
        ]
    );
    assert!((stats.mean_duration_us - 50_500.0).abs() < 1e-6);
    assert_eq!(stats.p50_duration_us, Some(50_000));
    assert_eq!(stats.p95_duration_us, Some(95_000));
    assert_eq!(stats.p99_duration_us, Some(99_000));
    assert_eq!(stats.max_duration_us, Some(100_000));

    let errors_only = store
        .invocation_stats(
            &org.id,
            &InvocationFilter {
                outcome: Some(InvocationOutcome::Error),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(errors_only.count, 15);
    assert_eq!(errors_only.max_duration_us, Some(15_000));
}

async fn invocations_are_scoped_to_their_organization(db: &TestDb) {
    let store = &db.store;
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let a_agent = store
        .create_agent(&a.id, &new_agent("A", true))
        .await
        .unwrap();
    let recorded = store
        .record_invocation(&a.id, &call(Some(&a_agent.id), "t", "f", 1, None))
        .await
        .unwrap();

    assert!(matches!(
        store.invocation(&b.id, &recorded.id).await,
        Err(StoreError::NotFound(_))
    ));
    let listed = store
        .list_invocations(&b.id, &InvocationFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    let by_agent = store
        .list_invocations(
            &b.id,
            &InvocationFilter {
                agent_id: Some(a_agent.id.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(by_agent.items.is_empty());
    assert_eq!(
        store
            .invocation_stats(&b.id, &InvocationFilter::default())
            .await
            .unwrap()
            .count,
        0
    );
    // B cannot write an audit row naming A's agent.
    assert!(matches!(
        store
            .record_invocation(&b.id, &call(Some(&a_agent.id), "t", "f", 1, None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Nor for an organization that does not exist.
    assert!(matches!(
        store
            .record_invocation("nope", &call(None, "t", "f", 1, None))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn two_hundred_concurrent_inserts(db: &TestDb) {
    let store = &db.store;
    let org = store.create_organization("busy", false).await.unwrap();
    let agent = store
        .create_agent(&org.id, &new_agent("A", true))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            let org = org.id.clone();
            let agent = agent.id.clone();
            tokio::spawn(async move {
                store
                    .record_invocation(&org, &call(Some(&agent), "t", "f", i, None))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = store
        .invocation_stats(&org.id, &InvocationFilter::default())
        .await
        .unwrap();
    assert_eq!(stats.count, 200);
    let mut seen = 0;
    let mut page = PageRequest::first(MAX);
    loop {
        let result = store
            .list_invocations(&org.id, &InvocationFilter::default(), &page)
            .await
            .unwrap();
        seen += result.items.len();
        match result.next_cursor {
            Some(cursor) => page = PageRequest::after(MAX, cursor),
            None => break,
        }
    }
    assert_eq!(seen, 200);
}

const MAX: u32 = 64;

/// Organization `a` records argument names, `b` does not; an agent in each.
async fn two_organizations(store: &Store) -> (Organization, Organization, VoiceAgent, VoiceAgent) {
    let a = store.create_organization("a", true).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let agent_a = store
        .create_agent(&a.id, &new_agent("A", true))
        .await
        .unwrap();
    let agent_b = store
        .create_agent(&b.id, &new_agent("B", true))
        .await
        .unwrap();
    (a, b, agent_a, agent_b)
}

/// How many audit rows the organization has.
async fn count(store: &Store, organization_id: &str) -> i64 {
    store
        .invocation_stats(organization_id, &InvocationFilter::default())
        .await
        .unwrap()
        .count
}

async fn a_batch_answers_row_by_row(db: &TestDb) {
    let store = &db.store;
    let (a, b, agent_a, agent_b) = two_organizations(store).await;
    let rows = [
        (
            a.id.as_str(),
            call(Some(&agent_a.id), "t", "ok_a", 10, None),
        ),
        // Another organization's agent: refused, the rest still written.
        (
            a.id.as_str(),
            call(Some(&agent_b.id), "t", "foreign", 20, None),
        ),
        (
            b.id.as_str(),
            call(Some(&agent_b.id), "t", "ok_b", 30, Some("timeout")),
        ),
        ("no-such-organization", call(None, "t", "orphan", 40, None)),
    ];
    let batch: Vec<_> = rows.iter().map(|(org, row)| (*org, row)).collect();
    let results = store.record_invocations(&batch).await.unwrap();
    assert_eq!(results.len(), 4);
    let ok_a = results[0].as_ref().unwrap();
    assert_eq!(
        (ok_a.organization_id.as_str(), ok_a.function.as_str()),
        (a.id.as_str(), "ok_a")
    );
    assert_eq!(ok_a.agent_id.as_deref(), Some(agent_a.id.as_str()));
    // Organization `a` records argument names, `b` does not.
    assert_eq!(ok_a.argument_keys, Some(json!(["date"])));
    assert!(matches!(results[1], Err(StoreError::NotFound(_))));
    let ok_b = results[2].as_ref().unwrap();
    assert_eq!(
        (ok_b.organization_id.as_str(), ok_b.function.as_str()),
        (b.id.as_str(), "ok_b")
    );
    assert_eq!(ok_b.error_kind.as_deref(), Some("timeout"));
    assert_eq!(ok_b.argument_keys, None);
    assert!(matches!(results[3], Err(StoreError::NotFound(_))));
    assert_ne!(ok_a.id, ok_b.id);
    assert_eq!(store.invocation(&a.id, &ok_a.id).await.unwrap(), *ok_a);
    assert_eq!(store.invocation(&b.id, &ok_b.id).await.unwrap(), *ok_b);
    assert_eq!(count(store, &a.id).await, 1);
    assert_eq!(count(store, &b.id).await, 1);

    // Larger than one statement takes: every row written, answers in order.
    let many: Vec<_> = (0..2500)
        .map(|i| call(None, "bulk", &format!("f{i}"), i, None))
        .collect();
    let batch: Vec<_> = many.iter().map(|row| (a.id.as_str(), row)).collect();
    let results = store.record_invocations(&batch).await.unwrap();
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.as_ref().unwrap().function, format!("f{i}"));
    }
    assert_eq!(count(store, &a.id).await, 2501);
}

/// The synchronous audit write (a SQLite file's fast path for a lone call) writes the
/// row the asynchronous one would, refuses what it refuses, and never waits: where it
/// cannot write at once it writes nothing and says so.
async fn a_row_written_now_is_the_row_written_later(db: &TestDb) {
    let store = &db.store;
    let (a, b, agent_a, agent_b) = two_organizations(store).await;
    let row = call(Some(&agent_a.id), "calendar", "list", 120, Some("upstream"));

    if db.backend() == Backend::Postgres {
        // No synchronous connection: the caller is told to write the usual way.
        assert!(store.record_invocation_now(&a.id, &row).await.is_none());
        assert_eq!(count(store, &a.id).await, 0);
        return;
    }

    let written = store
        .record_invocation_now(&a.id, &row)
        .await
        .unwrap()
        .unwrap();
    let written = store.invocation(&a.id, &written).await.unwrap();
    let later = store.record_invocation(&a.id, &row).await.unwrap();
    assert_ne!(written.id, later.id);
    let same = |i: &warden_store::Invocation| {
        (
            i.organization_id.clone(),
            i.agent_id.clone(),
            i.tool_id.clone(),
            i.tool_version_id.clone(),
            i.function.clone(),
            i.call_id.clone(),
            i.started_at,
            (i.duration_us, i.fuel_consumed, i.peak_memory_bytes),
            (i.outcome, i.error_kind.clone()),
            i.argument_keys.clone(),
            i.replay_of.clone(),
        )
    };
    assert_eq!(same(&written), same(&later));
    assert_eq!(written.argument_keys, Some(json!(["date"])));
    // `b` does not record arguments: the row written now drops them too.
    let for_b = store
        .record_invocation_now(&b.id, &call(Some(&agent_b.id), "t", "f", 1, None))
        .await
        .unwrap()
        .unwrap();
    let for_b = store.invocation(&b.id, &for_b).await.unwrap();
    assert_eq!(for_b.argument_keys, None);

    // Another organization's agent, an unknown organization: refused, nothing written.
    for (org, foreign) in [
        (
            a.id.as_str(),
            call(Some(&agent_b.id), "t", "foreign", 1, None),
        ),
        ("no-such-organization", call(None, "t", "orphan", 1, None)),
    ] {
        assert!(matches!(
            store.record_invocation_now(org, &foreign).await,
            Some(Err(StoreError::NotFound(_)))
        ));
    }
    assert_eq!(count(store, &a.id).await, 2);

    // Another process holds SQLite's write lock: no answer, at once, nothing written.
    let other = rusqlite::Connection::open(db.sqlite_path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    assert!(store.record_invocation_now(&a.id, &row).await.is_none());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    other.execute_batch("COMMIT").unwrap();
    assert_eq!(count(store, &a.id).await, 2);
    assert!(
        store
            .record_invocation_now(&a.id, &row)
            .await
            .unwrap()
            .is_ok()
    );
    assert_eq!(count(store, &a.id).await, 3);

    // A closed store writes nothing this way either.
    store.close().await;
    assert!(store.record_invocation_now(&a.id, &row).await.is_none());
}

/// Every column of an audit row, in both audit tables.
const COLUMNS: &str = "id, organization_id, agent_id, tool_id, tool_version_id, function, \
    call_id, call_session_id, started_at, duration_us, fuel_consumed, peak_memory_bytes, \
    outcome, error_kind, argument_keys, created_at, replay_of";

/// How many of `ids` each audit table holds: (`invocations`, `recent_invocations`).
///
/// Both tables are counted by one statement, so from one snapshot: counted one after
/// the other, a move committing in between would hide the row from both.
async fn where_rows_are(pool: &sqlx::AnyPool, ids: &[&str]) -> (i64, i64) {
    let mut counts = (0, 0);
    for id in ids {
        let (main, recent): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM invocations WHERE id = $1), \
             (SELECT count(*) FROM recent_invocations WHERE id = $1)",
        )
        .bind(*id)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(main + recent, 1, "row {id} is in {main} + {recent} places");
        counts.0 += main;
        counts.1 += recent;
    }
    counts
}

/// Audit rows waiting in `recent_invocations` (where a lone call on a SQLite file
/// appends its row, until the store moves it into `invocations`) read exactly as rows
/// of `invocations` do: by id, in pages, filtered, in statistics, and through the
/// deletion of their agent or organization. On SQLite, rows written now land there and
/// are moved, unchanged, within moments.
async fn rows_waiting_in_recent_invocations_read_as_audit_rows(db: &TestDb) {
    let store = &db.store;
    let (a, b, agent_a, agent_b) = two_organizations(store).await;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();

    // Six rows; every other one then waits in `recent_invocations`, moved there by
    // another connection (the store counts only its own appends, so it leaves them).
    let mut written = Vec::new();
    for i in 0..6 {
        let row = call(
            Some(&agent_a.id),
            "t",
            &format!("f{i}"),
            10 * (i + 1),
            (i % 3 == 0).then_some("boom"),
        );
        written.push(store.record_invocation(&a.id, &row).await.unwrap());
    }
    for waiting in written.iter().skip(1).step_by(2) {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(&format!(
            "INSERT INTO recent_invocations ({COLUMNS}) SELECT {COLUMNS} FROM invocations \
             WHERE id = $1"
        ))
        .bind(&waiting.id)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query("DELETE FROM invocations WHERE id = $1")
            .bind(&waiting.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let ids: Vec<&str> = written.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(where_rows_are(&pool, &ids).await, (3, 3));

    for row in &written {
        assert_eq!(store.invocation(&a.id, &row.id).await.unwrap(), *row);
        // Not another organization's.
        assert!(matches!(
            store.invocation(&b.id, &row.id).await,
            Err(StoreError::NotFound(_))
        ));
    }
    // Newest first across both tables, two to a page, each row once.
    let mut newest_first = written.clone();
    newest_first.sort_by(|x, y| (y.created_at, &y.id).cmp(&(x.created_at, &x.id)));
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_invocations(
                &a.id,
                &InvocationFilter::default(),
                &PageRequest {
                    limit: 2,
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        listed.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, newest_first);
    // A filter that only a waiting row matches.
    let only = store
        .list_invocations(
            &a.id,
            &InvocationFilter {
                function: Some("f1".into()),
                ..InvocationFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(only.items, vec![written[1].clone()]);

    let stats = store
        .invocation_stats(&a.id, &InvocationFilter::default())
        .await
        .unwrap();
    assert_eq!((stats.count, stats.error_count), (6, 2));
    assert_eq!(stats.errors_by_kind, vec![(Some("boom".to_owned()), 2)]);
    assert_eq!(stats.max_duration_us, Some(60));
    assert_eq!(stats.mean_duration_us, 35.0);
    assert_eq!(
        (stats.p50_duration_us, stats.p99_duration_us),
        (Some(30), Some(60))
    );

    // The agent deleted: its rows keep their place and lose the agent, in both tables.
    store.delete_agent(&a.id, &agent_a.id).await.unwrap();
    for row in &written {
        let now = store.invocation(&a.id, &row.id).await.unwrap();
        assert_eq!(now.agent_id, None);
        assert_eq!(now.function, row.function);
    }
    // The organization deleted: its rows go from both tables; another's stay.
    let kept = store
        .record_invocation(&b.id, &call(Some(&agent_b.id), "t", "kept", 1, None))
        .await
        .unwrap();
    store.delete_organization(&a.id).await.unwrap();
    for table in ["invocations", "recent_invocations"] {
        let left: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE organization_id = $1"
        ))
        .bind(&a.id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(left, 0, "{table} kept a deleted organization's rows");
    }
    assert_eq!(store.invocation(&b.id, &kept.id).await.unwrap(), kept);

    if db.backend() == Backend::Postgres {
        return;
    }
    // Rows written now: appended to `recent_invocations` (unless the store moved them
    // already), then moved into `invocations` unchanged.
    let mut now = Vec::new();
    for i in 0..3 {
        let row = call(Some(&agent_b.id), "t", &format!("now{i}"), 5, None);
        now.push(
            store
                .record_invocation_now(&b.id, &row)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let ids: Vec<&str> = now.iter().map(String::as_str).collect();
    let mut before = Vec::new();
    for id in &ids {
        before.push(store.invocation(&b.id, id).await.unwrap());
    }
    let (_, waiting) = where_rows_are(&pool, &ids).await;
    assert!(waiting > 0, "no row written now was seen waiting");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while where_rows_are(&pool, &ids).await != (3, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "rows written now were not moved into invocations"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for row in &before {
        assert_eq!(store.invocation(&b.id, &row.id).await.unwrap(), *row);
    }
    let empty: i64 = sqlx::query_scalar("SELECT count(*) FROM recent_invocations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(empty, 0);
}

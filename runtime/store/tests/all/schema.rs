//! Migrations and connection settings.

use sqlx::{Connection, Row};
use warden_store::{Backend, Store, StoreError};

use crate::support::{TestDb, on_both_backends};

on_both_backends!(migrations_apply_and_are_idempotent, sqlite_settings);

async fn migrations_apply_and_are_idempotent(db: &TestDb) {
    db.store.ping().await.unwrap();
    // Every table of the schema answers.
    let org = db.store.create_organization("acme", false).await.unwrap();
    assert_eq!(db.store.organization(&org.id).await.unwrap(), org);

    // Connecting again finds the migrations applied and keeps the data.
    let again = Store::connect(&db.url).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.organization_by_name("acme").await.unwrap().id, org.id);
    again.close().await;

    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for table in [
        "organizations",
        "api_keys",
        "platform_tools",
        "tool_versions",
        "tool_functions",
        "voice_agents",
        "agent_tools",
        "tool_sensitive_configs",
        "invocations",
        "call_sessions",
        "worker_tokens",
        "webhook_events",
        "oauth_states",
        "console_sessions",
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|error| panic!("table {table}: {error}"));
        assert!(count >= 0);
    }
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    // Every migration, exactly once; both backends keep the same set.
    let count = |backend: &str| {
        std::fs::read_dir(format!(
            "{}/../../migrations/{backend}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count()
    };
    let migrations = count("sqlite");
    assert_eq!(migrations, count("postgres"));
    assert_eq!(applied, i64::try_from(migrations).unwrap());
    pool.close().await;
}

async fn sqlite_settings(db: &TestDb) {
    if db.backend() != Backend::Sqlite {
        return;
    }
    // The file (and its directory) were created; WAL is a property of the file.
    assert!(db.sqlite_path().exists());
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();

    // Foreign keys are enforced on the store's connections: an agent of no organization.
    let error = db
        .store
        .create_agent(
            "no-such-org",
            &warden_store::NewVoiceAgent {
                name: "x".into(),
                description: String::new(),
                system_prompt: String::new(),
                is_active: true,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("organization")),
        "{error:?}"
    );
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let org = store.create_organization("mem", true).await.unwrap();
    assert!(store.organization(&org.id).await.unwrap().record_arguments);
}

#[tokio::test]
async fn unknown_url_scheme_is_refused() {
    let error = Store::connect("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
}

#[tokio::test]
async fn debug_does_not_show_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("secret-path.db").display());
    let store = Store::connect(&url).await.unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("secret-path"), "{debug}");
}

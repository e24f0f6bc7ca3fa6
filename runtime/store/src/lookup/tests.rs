//! The look-up cache is never stale only if every table the cached look-ups read
//! advances the look-up version on every change (see `cache.rs`). These tests take the
//! tables from the look-ups' own queries and check the schema's triggers for each, on
//! SQLite (`sqlite_master`) and PostgreSQL (`pg_trigger`, when
//! `WARDEN_TEST_POSTGRES_URL` is set).

use std::collections::BTreeSet;

use sqlx::{Connection, Executor, PgConnection};

use super::{SESSION_SELECT, TARGET_SELECT, WORKER_TARGET_SELECT};
use crate::Store;
use crate::row::RowExt;

const EVENTS: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

/// The tables named after `FROM` or `JOIN` in the cached look-ups' queries, except the
/// version's own table.
fn joined_tables() -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    for query in [&*WORKER_TARGET_SELECT, &*TARGET_SELECT, &*SESSION_SELECT] {
        let words: Vec<&str> = query.split_whitespace().collect();
        tables.extend(
            words
                .windows(2)
                .filter(|pair| {
                    pair[0].eq_ignore_ascii_case("FROM") || pair[0].eq_ignore_ascii_case("JOIN")
                })
                .map(|pair| pair[1].trim_end_matches(')').to_owned())
                .filter(|table| table != "lookup_version"),
        );
    }
    tables
}

#[test]
fn the_joined_tables_are_read_from_the_query() {
    let tables = joined_tables();
    for table in [
        "worker_tokens",
        "voice_agents",
        "platform_tools",
        "tool_versions",
        "agent_tools",
        "tool_sensitive_configs",
        "call_sessions",
    ] {
        assert!(tables.contains(table), "{table} missing from {tables:?}");
    }
    assert!(
        tables
            .iter()
            .all(|table| table.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
        "{tables:?}"
    );
}

/// Whether the trigger `sql` (SQLite's `CREATE TRIGGER` text) advances the look-up
/// version after every `event` on `table`.
fn sqlite_trigger_bumps(sql: &str, table: &str, event: &str) -> bool {
    let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let sql = sql.to_ascii_uppercase();
    let Some((head, body)) = sql.split_once(" BEGIN ") else {
        return false;
    };
    // The head ends with the table (or FOR EACH ROW, all SQLite has): a column list or
    // a WHEN condition would make it fire for some changes only.
    let on = format!(" AFTER {event} ON {}", table.to_ascii_uppercase());
    (head.ends_with(&on) || head.ends_with(&format!("{on} FOR EACH ROW")))
        && body.contains("UPDATE LOOKUP_VERSION SET VERSION = VERSION + 1")
}

#[tokio::test]
async fn every_table_the_cached_lookups_read_has_its_version_triggers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let store = Store::connect(&url).await.unwrap();
    let triggers = sqlx::query("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let triggers: Vec<(String, String)> = triggers
        .iter()
        .map(|row| (row.text("tbl_name").unwrap(), row.text("sql").unwrap()))
        .collect();
    for table in joined_tables() {
        for event in EVENTS {
            assert!(
                triggers
                    .iter()
                    .any(|(on, sql)| *on == table && sqlite_trigger_bumps(sql, &table, event)),
                "SQLite: no trigger advances lookup_version after {event} on {table}"
            );
        }
    }
    store.close().await;
}

#[tokio::test]
async fn every_table_the_cached_lookups_read_has_its_version_trigger_on_postgres() {
    let Ok(admin_url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: the PostgreSQL trigger check is SKIPPED");
        return;
    };
    let name = format!("warden_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(&*format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let url = with_database(&admin_url, &name);
    let checked = async move {
        let store = Store::connect(&url).await.unwrap();
        // Row-level (tgtype bit 0), AFTER (bit 1 clear), enabled, on every column and
        // without a WHEN condition, calling a function that advances the version.
        let triggers = sqlx::query(
            "SELECT c.relname::text AS table_name, t.tgtype::int8 AS tgtype \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_proc p ON p.oid = t.tgfoid \
             WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgqual IS NULL \
               AND cardinality(t.tgattr::int2[]) = 0 \
               AND t.tgtype & 1 = 1 AND t.tgtype & 2 = 0 \
               AND p.prosrc LIKE '%UPDATE lookup_version SET version = version + 1%'",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let triggers: Vec<(String, i64)> = triggers
            .iter()
            .map(|row| (row.text("table_name").unwrap(), row.int("tgtype").unwrap()))
            .collect();
        for table in joined_tables() {
            for (event, bit) in [("INSERT", 4), ("UPDATE", 16), ("DELETE", 8)] {
                assert!(
                    triggers
                        .iter()
                        .any(|(on, tgtype)| *on == table && tgtype & bit != 0),
                    "PostgreSQL: no trigger advances lookup_version after {event} on {table}"
                );
            }
        }
        store.close().await;
    };
    // Drop the database whether or not the check passed.
    let outcome = tokio::spawn(checked).await;
    admin
        .execute(&*format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await.ok();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// `admin_url` with its database replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(base, query)| (base, Some(query)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The per-call point reads (the look-up version, the call session) run on the write
/// connection when it is free, whose page cache outlives its own commits, and on a
/// read-only connection while this process is writing.
#[tokio::test]
async fn point_reads_take_the_write_connection_when_it_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let store = Store::connect(&url).await.unwrap();
    // The read connections refuse writes (`query_only`); the write connection does not.
    let read_only = |connection: &rusqlite::Connection| {
        Ok(connection.query_row("PRAGMA query_only", [], |row| row.get::<_, bool>(0))?)
    };
    assert!(!store.read_point(read_only).unwrap().unwrap());
    {
        let _writing = store.write_guard().await;
        assert!(store.read_point(read_only).unwrap().unwrap());
    }
    assert!(!store.read_point(read_only).unwrap().unwrap());
    store.close().await;
}

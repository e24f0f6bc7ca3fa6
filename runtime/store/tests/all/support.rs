//! Test databases: a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! (created under `WARDEN_TEST_POSTGRES_URL`, dropped afterwards, even when the test fails).

use std::io::Write;
use std::sync::Once;

use sqlx::{Connection, Executor, PgConnection};
use warden_store::{Backend, KeyRing, NewToolFunction, NewToolVersion, Store};

pub const POSTGRES_URL_ENV: &str = "WARDEN_TEST_POSTGRES_URL";

/// A store on a database of its own.
pub struct TestDb {
    pub store: Store,
    /// The store's URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _postgres: Option<PgDatabase>,
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("db/warden.db").display());
        let store = Store::connect(&url).await.expect("connect to SQLite");
        TestDb {
            store,
            url,
            _dir: Some(dir),
            _postgres: None,
        }
    }

    /// `None` (after saying so on stderr, once) when `WARDEN_TEST_POSTGRES_URL` is unset.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_ENV) else {
            static SKIP: Once = Once::new();
            SKIP.call_once(|| {
                // Straight to the stderr handle, so the test harness's capture cannot hide it.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nwarden-store: {POSTGRES_URL_ENV} is not set: the PostgreSQL variants of \
                     the store tests are SKIPPED (they pass without running)\n"
                );
            });
            return None;
        };
        let name = format!("warden_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to WARDEN_TEST_POSTGRES_URL");
        admin
            .execute(&*format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let database = PgDatabase {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let url = database_url(&admin_url, &name);
        let store = Store::connect(&url).await.expect("connect to PostgreSQL");
        Some(TestDb {
            store,
            url,
            _dir: None,
            _postgres: Some(database),
        })
    }

    /// Path of the SQLite database file.
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self._dir
            .as_ref()
            .expect("SQLite test db")
            .path()
            .join("db/warden.db")
    }
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
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

/// Drops the test database when the test ends, passed or failed.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside the test's runtime (or while unwinding): use a thread with a
        // runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(&*format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(
                std::io::stderr(),
                "failed to drop test database {}",
                self.name
            );
        }
    }
}

/// Generates `mod $test { sqlite, postgres }` test functions that run the same
/// `async fn $test(db: &TestDb)` on both backends.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::support::TestDb::sqlite().await;
                    super::$test(&db).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::support::TestDb::postgres().await {
                        super::$test(&db).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

// ---------------------------------------------------------------------------------------
// Fixtures.

pub fn ring(spec: &str) -> KeyRing {
    KeyRing::parse(&spec.to_owned().into()).expect("key ring")
}

/// A ring entry `id:base64` with a key made of `byte`.
pub fn entry(id: &str, byte: u8) -> String {
    use base64::Engine;
    format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    )
}

pub fn component(name: &str, version: &str, bytes: &[u8]) -> NewToolVersion {
    NewToolVersion {
        organization_id: None,
        name: name.to_owned(),
        description: format!("{name} tool"),
        version: version.to_owned(),
        component: bytes.to_vec(),
        metadata: serde_json::json!({"name": name, "version": version}),
        functions: vec![
            NewToolFunction {
                name: "lookup".to_owned(),
                description: "Looks something up.".to_owned(),
                parameters: serde_json::json!({"type": "object", "properties": {"q": {"type": "string"}}}),
                read_only: true,
            },
            NewToolFunction {
                name: "book".to_owned(),
                description: "Books something.".to_owned(),
                parameters: serde_json::json!({"type": "object"}),
                read_only: false,
            },
        ],
    }
}

pub fn private_component(
    organization_id: &str,
    name: &str,
    version: &str,
    bytes: &[u8],
) -> NewToolVersion {
    NewToolVersion {
        organization_id: Some(organization_id.to_owned()),
        ..component(name, version, bytes)
    }
}

/// A function row an install wrote (the store writes them and reads them
/// only in SQL; tests check them here).
#[derive(Debug)]
pub struct FunctionRow {
    pub name: String,
    pub read_only: bool,
    pub parameters: serde_json::Value,
}

/// The `tool_functions` rows of `version_id`, by name.
pub async fn function_rows(db: &TestDb, version_id: &str) -> Vec<FunctionRow> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    let rows = sqlx::query(
        "SELECT name, CAST(read_only AS INTEGER) AS read_only, parameters \
         FROM tool_functions WHERE tool_version_id = $1 ORDER BY name",
    )
    .bind(version_id)
    .fetch_all(&pool)
    .await
    .expect("function rows");
    pool.close().await;
    rows.iter()
        .map(|row| FunctionRow {
            name: row.get("name"),
            read_only: row.get::<i32, _>("read_only") == 1,
            parameters: serde_json::from_str(&row.get::<String, _>("parameters")).unwrap(),
        })
        .collect()
}

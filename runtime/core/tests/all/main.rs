//! warden-core's integration tests: the domain services over a real store
//! (SQLite, and PostgreSQL when `WARDEN_TEST_POSTGRES_URL` is set) and a real
//! sandbox running the components built from `tools/`.

// The store's test databases (SQLite file / throwaway PostgreSQL database).
#[path = "../../../store/tests/all/support.rs"]
#[allow(
    dead_code,
    reason = "shared with the store's tests; not every helper is used here"
)]
mod support;

mod domain;
mod hostile;
mod isolation;
mod worker_tokens;

use std::sync::OnceLock;
use support::TestDb;
use warden_core::{Core, CoreSettings, Principal};
use warden_sandbox::{Sandbox, SandboxConfig};
use warden_store::KeyRing;

/// One sandbox for the test binary, as in a server.
pub fn sandbox() -> Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            Sandbox::new(SandboxConfig {
                max_instances: 64,
                ..SandboxConfig::default()
            })
            .expect("sandbox")
        })
        .clone()
}

pub fn keys() -> KeyRing {
    support::ring(&support::entry("k1", 7))
}

pub fn core(db: &TestDb) -> Core {
    core_with(db, CoreSettings::default())
}

pub fn core_with(db: &TestDb, settings: CoreSettings) -> Core {
    Core::new(db.store.clone(), sandbox(), keys(), settings)
}

/// A new organization and the principal its first key authenticates as.
pub async fn organization(core: &Core, name: &str) -> Principal {
    let (_, key) = core.create_organization(name).await.expect("organization");
    use secrecy::ExposeSecret;
    core.authenticate(key.key.expose_secret())
        .await
        .expect("the new key authenticates")
}

pub fn component(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

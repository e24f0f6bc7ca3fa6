//! warden-store's integration tests. Every database test runs twice, on SQLite and on
//! PostgreSQL (`WARDEN_TEST_POSTGRES_URL`; skipped, with a note on stderr, when unset).

mod support;

mod agents;
mod call_outcomes;
mod call_sessions;
mod console_sessions;
mod invocations;
mod key_ring;
mod lookup;
mod oauth_states;
mod organizations;
mod schema;
mod secrets;
mod tools;
mod webhook_events;
mod worker_tokens;

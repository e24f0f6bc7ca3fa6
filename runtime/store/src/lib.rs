//! `warden-store`: Warden's persistence. Repositories over SQLite (the embedded default) or
//! PostgreSQL (scale-out), the embedded migrations for both, and sealed secrets with the
//! key ring. No wasm, no HTTP: `warden-core` builds the domain on top of this crate.
//!
//! # One query set, two databases
//!
//! Every query is written once, in SQL both databases accept, and runs through sqlx's
//! `Any` driver over a pool for whichever backend the URL names. Each engine is one
//! variant of `backend::Engine`, holding what makes sense for it: a SQLite file also
//! has two connections outside the pool for the few statements every call makes (the
//! pool would ping each connection it takes back), and read connections on which the
//! worker plane's look-up runs synchronously through rusqlite (the per-call version
//! read inline, the query when the version moved declared as blocking) — see
//! `Store::worker_invocation_target`. The schema is shaped so
//! that this stays honest (`migrations/sqlite` and `migrations/postgres` are the same
//! schema in two dialects):
//!
//! - ids are `TEXT` UUIDv7 strings (time-ordered, so inserts stay local in indexes);
//! - timestamps are `BIGINT` microseconds since the Unix epoch, exposed as
//!   `chrono::DateTime<Utc>`;
//! - JSON documents are `TEXT`, exposed as `serde_json::Value` (or typed maps);
//! - booleans are `BOOLEAN` on PostgreSQL and `INTEGER` 0/1 on SQLite (the `Any` driver
//!   cannot decode SQLite's `BOOLEAN`); one rule reads either, whichever driver read
//!   the row (anything but a boolean, 0 or 1 is corrupt);
//! - placeholders are `$1…$n`; the few aggregates that differ in type between the two
//!   (`SUM`, `AVG`) are `CAST` explicitly.
//!
//! Why `Any` rather than an enum over two typed pools: the enum doubles every method (or
//! needs a macro to do it), and the typed drivers' extra types (native `UUID`, `JSONB`,
//! `TIMESTAMPTZ`) are exactly what the portable schema avoids. What `Any` costs is one
//! conversion of each row into its generic value form, small next to a round trip, and
//! no compile-time-checked `query!` macros (which need a live database at build time
//! anyway). Partial unique indexes, `ON CONFLICT … DO UPDATE`, `RETURNING`, and
//! `INSERT … SELECT … WHERE EXISTS` work the same on both.
//!
//! # Tenancy
//!
//! Every method that reads or changes an organization's data takes the organization id and
//! filters by it; another organization's id finds nothing ([`StoreError::NotFound`] or an
//! empty listing). Rows that name an agent carry a composite foreign key to
//! `voice_agents (id, organization_id)`, so the database itself refuses a cross-tenant
//! association or call session. The exceptions are documented on their methods: look-ups
//! by a credential hash (which is how the organization is found) and operator-wide
//! operations (platform tools, worker tokens, LiveKit webhook event ids,
//! [`Store::rewrap_secrets`]).
//!
//! # Secrets
//!
//! [`KeyRing`] seals with AES-256-GCM; the record format and the associated data that bind
//! a record to its row are described in [`sealed`]. The store only ever sees sealed bytes.

mod agents;
mod backend;
mod call_outcomes;
mod call_sessions;
mod console_sessions;
mod error;
mod invocations;
mod lookup;
mod oauth_states;
mod organizations;
mod page;
mod row;
pub mod sealed;
mod secrets;
mod store;
mod tools;
mod webhook_events;
mod worker_tokens;

pub use agents::{
    AgentFilter, AgentTool, AgentToolSettings, NewVoiceAgent, VoiceAgent, VoiceAgentUpdate,
};
pub use backend::{Backend, SQLITE_BUSY_TIMEOUT};
pub use call_outcomes::{
    CALL_OUTCOME_PRUNE_BATCH, CallClaim, ClaimTerms, Completed, OutcomeBudget, RecordedOutcome,
};
pub use call_sessions::{
    CallDirection, CallSession, NewCallSession, SIP_NUMBERS_PRUNE_BATCH, SipNumbers,
};
pub use console_sessions::{CONSOLE_SESSION_PRUNE_BATCH, ConsoleSession};
pub use error::{Result, StoreError};
pub use invocations::{
    Invocation, InvocationFilter, InvocationOutcome, InvocationStats, MAX_BATCH_ROWS, NewInvocation,
};
pub use lookup::InvocationTarget;
pub use oauth_states::{OAUTH_STATE_PRUNE_BATCH, OAuthState};
pub use organizations::{ApiKey, NewApiKey, Organization, OrganizationUpdate};
pub use page::{MAX_PAGE_SIZE, Page, PageRequest};
pub use sealed::{
    CallKey, GeneratedKey, KeyRing, KeyRingError, SealError, SealedSecret, SecretIdentity,
};
pub use secrets::{SealedSecretRow, SecretInfo};
pub use store::{Store, StoreOptions};
pub use tools::{
    InstalledVersion, NewToolFunction, NewToolVersion, Tool, ToolVersion, ToolVersionRef,
    sha256_hex,
};
pub use webhook_events::WEBHOOK_EVENT_PRUNE_BATCH;
pub use worker_tokens::{NewWorkerToken, WorkerToken};

//! The look-ups' cache: answers of the per-call look-ups (the worker plane's
//! [`Store::worker_invocation_target`], [`Store::invocation_target`] and
//! [`Store::active_call_session_by_token_hash`]) kept in memory, each valid
//! only at the look-up version it was read at.
//!
//! It is never stale. Every committed change to a table these look-ups read
//! advances the version, in the same transaction, by a trigger
//! (`migrations/*/0004_lookup_version.sql` and `0007_call_sessions_lookup.sql`,
//! whoever commits: this process, the CLI, another replica), and every call
//! reads the version from the database before it uses an answer from here. So
//! a call sees exactly what the full query would return; what it saves is the
//! query, not the round trip. `tests.rs` checks that every table the look-ups
//! read has its triggers.
//!
//! [`Store::worker_invocation_target`]: crate::Store::worker_invocation_target
//! [`Store::invocation_target`]: crate::Store::invocation_target
//! [`Store::active_call_session_by_token_hash`]: crate::Store::active_call_session_by_token_hash

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::InvocationTarget;
use crate::{CallSession, WorkerToken};

/// One answer. Only found things are kept: a miss (an unknown token, say)
/// runs the query again, so guesses cannot fill the cache.
pub(super) enum Answer {
    /// A worker token and the call's data.
    Worker(WorkerToken, InvocationTarget),
    /// A call's data.
    Target(InvocationTarget),
    /// A live call session.
    Session(CallSession),
}

/// Which look-up an answer is for. No `Debug`: it may hold a token's hash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct LookupKey(String);

// The first byte says which look-up; NUL separates the parts, since none can
// contain one (hex hashes, ids, tool names).
impl LookupKey {
    pub(super) fn worker(token_hash: &str, agent_id: &str, tool_name: &str) -> Self {
        LookupKey(format!("w\0{token_hash}\0{agent_id}\0{tool_name}"))
    }

    /// `organization_id` `None` (any organization) and `Some` never share a key.
    pub(super) fn target(organization_id: Option<&str>, agent_id: &str, tool_name: &str) -> Self {
        LookupKey(match organization_id {
            Some(organization_id) => format!("o\0{organization_id}\0{agent_id}\0{tool_name}"),
            None => format!("a\0{agent_id}\0{tool_name}"),
        })
    }

    pub(super) fn session(token_hash: &str) -> Self {
        LookupKey(format!("s\0{token_hash}"))
    }
}

/// Most answers kept; past it the cache starts over.
const MAX_LOOKUPS: usize = 4096;

/// Look-ups answered at one look-up version. A version the cache has not seen
/// replaces everything it holds; answers read at an older version than the
/// cache's are not kept.
#[derive(Default)]
pub(crate) struct LookupCache {
    state: Mutex<LookupState>,
}

#[derive(Default)]
struct LookupState {
    version: i64,
    answers: HashMap<LookupKey, Arc<Answer>>,
}

impl LookupCache {
    /// The answer for `key` read at `version`, the version the caller just read.
    pub(super) fn get(&self, version: i64, key: &LookupKey) -> Option<Arc<Answer>> {
        let state = self.state();
        if state.version != version {
            return None;
        }
        state.answers.get(key).cloned()
    }

    /// Keeps `answer`, read at `version`.
    pub(super) fn put(&self, version: i64, key: LookupKey, answer: Answer) {
        let mut state = self.state();
        if version < state.version {
            return;
        }
        if version > state.version || state.answers.len() >= MAX_LOOKUPS {
            state.answers.clear();
            state.version = version;
        }
        state.answers.insert(key, Arc::new(answer));
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LookupState> {
        // Nothing panics while the lock is held; a poisoned map is still a map.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

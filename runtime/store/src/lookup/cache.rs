//! The worker look-up's cache: answers of [`Store::worker_invocation_target`] kept in
//! memory, each valid only at the look-up version it was read at.
//!
//! It is never stale. Every committed change to a table the look-up reads advances the
//! version, in the same transaction, by a trigger (`migrations/*/0004_lookup_version.sql`,
//! whoever commits: this process, the CLI, another replica), and every call reads the
//! version from the database before it uses an answer from here. So a call sees exactly
//! what the full query would return; what it saves is the query, not the round trip.
//! `tests.rs` checks that every table the look-up joins has its trigger.
//!
//! [`Store::worker_invocation_target`]: crate::Store::worker_invocation_target

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::InvocationTarget;
use crate::WorkerToken;

/// One answer: the worker token and the call's data.
type WorkerAnswer = (WorkerToken, InvocationTarget);

/// Which worker look-up an answer is for.
/// No `Debug`: it holds a worker token's hash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct LookupKey(String);

impl LookupKey {
    pub(super) fn new(token_hash: &str, agent_id: &str, tool_name: &str) -> Self {
        // NUL separates: none of the three can contain one (hex, ids, tool names).
        LookupKey(format!("{token_hash}\0{agent_id}\0{tool_name}"))
    }
}

/// Most answers kept; past it the cache starts over.
const MAX_LOOKUPS: usize = 4096;

/// Worker look-ups answered at one look-up version. A version the cache has
/// not seen replaces everything it holds; answers read at an older version
/// than the cache's are not kept.
#[derive(Default)]
pub(crate) struct LookupCache {
    state: Mutex<LookupState>,
}

#[derive(Default)]
struct LookupState {
    version: i64,
    answers: HashMap<LookupKey, Arc<WorkerAnswer>>,
}

impl LookupCache {
    /// The answer for `key` read at `version`, the version the caller just read.
    pub(super) fn get(&self, version: i64, key: &LookupKey) -> Option<Arc<WorkerAnswer>> {
        let state = self.state();
        if state.version != version {
            return None;
        }
        state.answers.get(key).cloned()
    }

    /// Keeps `answer`, read at `version`.
    pub(super) fn put(&self, version: i64, key: LookupKey, answer: Arc<WorkerAnswer>) {
        let mut state = self.state();
        if version < state.version {
            return;
        }
        if version > state.version || state.answers.len() >= MAX_LOOKUPS {
            state.answers.clear();
            state.version = version;
        }
        state.answers.insert(key, answer);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LookupState> {
        // Nothing panics while the lock is held; a poisoned map is still a map.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

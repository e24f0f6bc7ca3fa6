//! Exactly-once calls: a retried side effect runs once.
//!
//! Voice agents retry: a caller barges in and the LLM calls `book_appointment` again,
//! or the voice platform retries a call that timed out on its side. When the caller
//! names the call (the worker route's `call_id`, MCP's `_meta["warden/call_id"]`) and
//! the function is not read-only, the call runs once per (agent, function, call id):
//!
//! - the first request claims the call in the store before the tool starts, runs it,
//!   and records its outcome, sealed, next to the claim;
//! - a repeat with the same arguments gets the recorded outcome without the tool
//!   running, marked as a replay in the answer and in its own audit row;
//! - a repeat that arrives while the first runs waits for it, until its own deadline
//!   (or the tool's time limit), then gets [`CoreError::InProgress`];
//! - the same call id with other arguments, or from another call session, is
//!   [`CoreError::CallIdReused`]: a recorded outcome (which may hold personal
//!   data) answers only the call that recorded it.
//!
//! As with idempotency keys elsewhere, an outcome is recorded once the tool has
//! started — its result, its error, or the host's verdict (a timeout may come after
//! the side effect). A call refused before the tool ran (arguments invalid against the
//! schema, no instance free) records nothing, so its retry runs. A claimed call runs
//! to its end even when the caller goes away, so the retry finds its outcome; a claim
//! whose replica stopped is taken over once its lease (the tool's time limit plus a
//! margin) has passed. Recorded outcomes expire after
//! [`CoreSettings::call_outcome_ttl`](crate::CoreSettings::call_outcome_ttl), and an
//! organization keeps only its newest within
//! [`CoreSettings::call_outcome_budget`](crate::CoreSettings::call_outcome_budget): a
//! retry of a call older than that runs again.

use crate::Core;
use crate::error::{CoreError, Result};
use crate::telemetry;
use crate::worker::{Invoked, NAME_SEPARATOR, PreparedInvocation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tracing::Instrument as _;
use warden_sandbox::{CallReport, Error as ToolCallError};
use warden_store::{
    CallClaim, CallKey, ClaimTerms, InvocationOutcome, NewInvocation, RecordedOutcome,
};

/// How long a recorded outcome answers retries, unless the operator says otherwise.
pub const DEFAULT_CALL_OUTCOME_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long past the tool's time limit a claim holds: room for the audit write and the
/// recording after the tool has stopped.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// First and longest pause between looks at a call another request is running.
const FIRST_WAIT: Duration = Duration::from_millis(5);
const LONGEST_WAIT: Duration = Duration::from_millis(200);

/// An outcome as recorded (then sealed): the tool's JSON result or the call's error.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Recorded {
    Result {
        result: Box<RawValue>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spoken: Option<String>,
    },
    Error(ToolCallError),
}

/// The call a request names, owned (the prepared call moves into its run).
struct OwnedKey {
    organization_id: String,
    agent_id: String,
    function: String,
    call_id: String,
}

impl OwnedKey {
    fn of(prepared: &PreparedInvocation) -> Self {
        OwnedKey {
            organization_id: prepared.organization_id().to_owned(),
            agent_id: prepared.agent_id().to_owned(),
            function: format!(
                "{}{NAME_SEPARATOR}{}",
                prepared.tool_name(),
                prepared.function()
            ),
            call_id: prepared.call_id.clone(),
        }
    }

    fn key(&self) -> CallKey<'_> {
        CallKey {
            organization_id: &self.organization_id,
            agent_id: &self.agent_id,
            function: &self.function,
            call_id: &self.call_id,
        }
    }
}

/// What a repeat must match to be answered from a recorded outcome: the call
/// session (a phone call's outcome never answers another call's request, even
/// one of the same agent that knows the call id) and the arguments.
fn call_hash(call_session_id: Option<&str>, arguments: &Value) -> String {
    let mut hasher = Sha256::new();
    match call_session_id {
        Some(id) => {
            hasher.update(b"session:");
            hasher.update(id.as_bytes());
        }
        None => hasher.update(b"no session"),
    }
    hasher.update(b"\0");
    hasher.update(arguments_hash(arguments).as_bytes());
    hex::encode(hasher.finalize())
}

/// SHA-256 of `arguments` in canonical JSON (object keys sorted, no whitespace), so that
/// a retry whose LLM wrote the same arguments in another order is the same call.
/// `serde_json` bounds the nesting of anything it parsed, which bounds the recursion.
fn arguments_hash(arguments: &Value) -> String {
    fn feed(hasher: &mut Sha256, value: &Value) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                hasher.update(b"{");
                for (i, (name, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        hasher.update(b",");
                    }
                    feed(hasher, &Value::String(name.clone()));
                    hasher.update(b":");
                    feed(hasher, value);
                }
                hasher.update(b"}");
            }
            Value::Array(items) => {
                hasher.update(b"[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        hasher.update(b",");
                    }
                    feed(hasher, item);
                }
                hasher.update(b"]");
            }
            // Scalars serialize the same whatever the map order.
            scalar => hasher.update(scalar.to_string().as_bytes()),
        }
    }
    let mut hasher = Sha256::new();
    feed(&mut hasher, arguments);
    hex::encode(hasher.finalize())
}

impl Core {
    /// [`Core::run`] for a call that runs once per call id (see the module).
    pub(crate) async fn run_once(&self, prepared: PreparedInvocation) -> Result<Invoked> {
        let owned = OwnedKey::of(&prepared);
        let key = owned.key();
        let hash = call_hash(prepared.call_session_id.as_deref(), &prepared.arguments);
        let time_limit = self
            .settings
            .limits_for(&prepared.tool)
            .map_or(self.sandbox.config().default_limits.timeout, |l| l.timeout);
        let ttl = self.settings.call_outcome_ttl();
        let wait_until = prepared
            .deadline
            .unwrap_or_else(|| Instant::now() + time_limit);
        let mut pause = FIRST_WAIT;
        loop {
            let now = chrono::Utc::now();
            let terms = ClaimTerms {
                arguments_hash: &hash,
                lease_until: now + (time_limit + LEASE_MARGIN),
                expires_at: now + ttl,
            };
            match self.store.claim_call(&key, &terms).await? {
                CallClaim::Run(claim) => return self.run_claimed(prepared, owned, claim).await,
                CallClaim::Done(recorded) => return self.replay(prepared, &key, recorded).await,
                CallClaim::Reused => {
                    return Err(CoreError::CallIdReused(
                        "this call_id was already used for another call (other arguments, \
                         or another call session); a new call needs a new call_id"
                            .to_owned(),
                    ));
                }
                CallClaim::Running if Instant::now() + pause < wait_until => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_WAIT);
                }
                CallClaim::Running => {
                    return Err(CoreError::InProgress(
                        "a call with this call_id is still running; retry shortly for its \
                         outcome"
                            .to_owned(),
                    ));
                }
            }
        }
    }

    /// Runs a claimed call to its end, even when the caller goes away (the caller barged
    /// in): its retry then finds the outcome instead of running the side effect again.
    async fn run_claimed(
        &self,
        prepared: PreparedInvocation,
        owned: OwnedKey,
        claim: String,
    ) -> Result<Invoked> {
        let core = self.clone();
        let run = async move {
            let invoked = core.run_in(prepared).await;
            core.settle(&owned.key(), &claim, &invoked).await;
            invoked
        };
        match tokio::spawn(run.in_current_span()).await {
            Ok(invoked) => invoked,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(CoreError::Busy(
                "the server is shutting down; retry the call".to_owned(),
            )),
        }
    }

    /// Records the outcome of a claimed run, or gives the claim up when the tool never
    /// started. A run that failed to write its audit row keeps its claim until the
    /// lease passes: whether its side effect happened is not known.
    async fn settle(&self, key: &CallKey<'_>, claim: &str, invoked: &Result<Invoked>) {
        let Ok(invoked) = invoked else { return };
        let settled = if invoked.report.fuel_consumed == 0 {
            self.store.release_call(key, claim).await
        } else {
            let recorded = match &invoked.result {
                Ok(result) => Recorded::Result {
                    result: result.clone(),
                    spoken: invoked.spoken.clone(),
                },
                Err(error) => Recorded::Error(error.clone()),
            };
            let sealed = serde_json::to_vec(&recorded)
                .map_err(|e| warden_store::StoreError::Invalid(e.to_string()))
                .and_then(|plain| {
                    let plain = zeroize::Zeroizing::new(plain);
                    Ok(self.keys.seal_outcome(key, &plain)?)
                });
            let completed = match sealed {
                Ok(sealed) => {
                    self.store
                        .complete_call(
                            key,
                            claim,
                            &invoked.invocation_id,
                            &sealed,
                            self.settings.call_outcome_budget,
                        )
                        .await
                }
                Err(e) => Err(e),
            };
            if let Ok(completed) = &completed
                && completed.evicted > 0
            {
                tracing::info!(
                    organization_id = key.organization_id,
                    evicted = completed.evicted,
                    "deleted an organization's oldest recorded call outcomes to keep it \
                     within its budget"
                );
            }
            completed.map(|_| ())
        };
        if let Err(e) = settled {
            tracing::error!("failed to record the outcome of an exactly-once call: {e}");
        }
    }

    /// Answers a repeat of a call with its recorded outcome, writing the repeat's own
    /// audit row (which names the run's).
    async fn replay(
        &self,
        prepared: PreparedInvocation,
        key: &CallKey<'_>,
        recorded: RecordedOutcome,
    ) -> Result<Invoked> {
        let plain = self
            .keys
            .open_outcome(key, &recorded.sealed)
            .map_err(warden_store::StoreError::from)?;
        let (result, spoken) = match serde_json::from_slice::<Recorded>(&plain) {
            Ok(Recorded::Result { result, spoken }) => (Ok(result), spoken),
            Ok(Recorded::Error(error)) => (Err(error), None),
            Err(_) => {
                return Err(warden_store::StoreError::Corrupt(
                    "a recorded call outcome does not parse".to_owned(),
                )
                .into());
            }
        };
        let error = result.as_ref().err().map(|e| e.kind);
        let span = prepared.span.clone();
        span.record("warden.replayed", true);
        let report = CallReport {
            duration: (chrono::Utc::now() - prepared.started_at)
                .to_std()
                .unwrap_or_default(),
            ..CallReport::default()
        };
        telemetry::finish_span(&span, error, &report);
        let argument_keys = prepared
            .arguments
            .as_object()
            .map(|o| Value::from(o.keys().cloned().collect::<Vec<_>>()));
        let invocation_id = self
            .audit
            .record(
                &self.store,
                prepared.organization_id().to_owned(),
                NewInvocation {
                    agent_id: Some(prepared.agent_id().to_owned()),
                    tool_id: prepared.tool.id.clone(),
                    tool_version_id: prepared.loaded.version_id.clone(),
                    function: telemetry::bounded(prepared.function()).to_owned(),
                    call_id: prepared.call_id.clone(),
                    call_session_id: prepared.call_session_id.clone(),
                    started_at: prepared.started_at,
                    duration_us: i64::try_from(report.duration.as_micros()).unwrap_or(i64::MAX),
                    fuel_consumed: 0,
                    peak_memory_bytes: 0,
                    outcome: if error.is_none() {
                        InvocationOutcome::Ok
                    } else {
                        InvocationOutcome::Error
                    },
                    error_kind: error.map(|kind| kind.as_str().to_owned()),
                    argument_keys,
                    replay_of: Some(recorded.invocation_id.clone()),
                },
            )
            .instrument(tracing::info_span!("audit"))
            .await?;
        Ok(Invoked {
            result,
            spoken,
            report,
            invocation_id,
            replay_of: Some(recorded.invocation_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_arguments_hash_ignores_key_order_and_sees_every_value() {
        let a =
            json!({"start": "2027-01-04T10:00:00Z", "attendees": [{"email": "a@x", "name": "A"}]});
        let b: Value = serde_json::from_str(
            r#"{ "attendees": [ {"name": "A", "email": "a@x"} ], "start": "2027-01-04T10:00:00Z" }"#,
        )
        .unwrap();
        assert_eq!(arguments_hash(&a), arguments_hash(&b));
        for other in [
            json!({"start": "2027-01-04T11:00:00Z", "attendees": [{"email": "a@x", "name": "A"}]}),
            json!({"start": "2027-01-04T10:00:00Z", "attendees": [{"email": "a@x"}]}),
            json!({"start": "2027-01-04T10:00:00Z", "attendees": []}),
            json!({"start": "2027-01-04T10:00:00Z"}),
            json!({"start": 1}),
            json!({"start": "1"}),
        ] {
            assert_ne!(arguments_hash(&a), arguments_hash(&other), "{other}");
        }
        // Keys and values cannot trade places through the encoding.
        assert_ne!(
            arguments_hash(&json!({"a,b": "c"})),
            arguments_hash(&json!({"a": "b,c"}))
        );
    }

    #[test]
    fn a_recorded_outcome_round_trips() {
        let result = Recorded::Result {
            result: RawValue::from_string(r#"{"id":"evt_1"}"#.to_owned()).unwrap(),
            spoken: Some("You're booked.".to_owned()),
        };
        let text = serde_json::to_string(&result).unwrap();
        let Recorded::Result { result, spoken } = serde_json::from_str(&text).unwrap() else {
            panic!("{text}")
        };
        assert_eq!(result.get(), r#"{"id":"evt_1"}"#);
        assert_eq!(spoken.as_deref(), Some("You're booked."));
        let error = Recorded::Error(ToolCallError::tool(
            warden_sandbox::ErrorKind::Upstream,
            "the calendar is unreachable",
        ));
        let text = serde_json::to_string(&error).unwrap();
        let Recorded::Error(back) = serde_json::from_str(&text).unwrap() else {
            panic!("{text}")
        };
        assert_eq!(back.message, "the calendar is unreachable");
    }
}

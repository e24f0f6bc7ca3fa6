//! The audit log as the management API shows it: invocation records (never
//! argument values) and a tool's call statistics over a window.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use warden_store::{Invocation, InvocationStats};

/// One invocation record (never argument values).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = InvocationRecord))]
pub struct InvocationView {
    /// The record's id (UUIDv7).
    pub id: String,
    /// The agent that called, if any (cleared when the agent is deleted).
    pub agent_id: Option<String>,
    /// The tool (may no longer exist).
    pub tool_id: String,
    /// The version that ran (may no longer exist).
    pub tool_version_id: String,
    /// The function called.
    pub function: String,
    /// The caller's id for the call (e.g. the LLM's tool-call id).
    pub call_id: String,
    /// The call session, if the call came through one.
    pub call_session_id: Option<String>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// Wall-clock duration in microseconds.
    pub duration_us: i64,
    /// Fuel the guest consumed.
    pub fuel_consumed: i64,
    /// Peak linear memory in bytes.
    pub peak_memory_bytes: i64,
    /// `ok` or `error`.
    pub outcome: String,
    /// The error's kind (`timeout`, `upstream`, …) when the outcome is an error.
    pub error_kind: Option<String>,
    /// Argument names, for organizations that opted in.
    pub argument_keys: Option<Value>,
    /// When the record was written.
    pub created_at: DateTime<Utc>,
    /// For a replayed call (a repeat of an exactly-once call, answered with
    /// the recorded outcome without running the tool): the record of the run
    /// whose outcome it repeated.
    pub replay_of: Option<String>,
}

impl From<Invocation> for InvocationView {
    fn from(i: Invocation) -> Self {
        InvocationView {
            id: i.id,
            agent_id: i.agent_id,
            tool_id: i.tool_id,
            tool_version_id: i.tool_version_id,
            function: i.function,
            call_id: i.call_id,
            call_session_id: i.call_session_id,
            started_at: i.started_at,
            duration_us: i.duration_us,
            fuel_consumed: i.fuel_consumed,
            peak_memory_bytes: i.peak_memory_bytes,
            outcome: i.outcome.as_str().to_owned(),
            error_kind: i.error_kind,
            argument_keys: i.argument_keys,
            created_at: i.created_at,
            replay_of: i.replay_of,
        }
    }
}

/// A tool's call statistics over a window.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolHealth {
    /// The tool.
    pub tool_id: String,
    /// The window, in minutes up to now.
    pub window_minutes: u32,
    /// The window's start.
    pub since: DateTime<Utc>,
    /// Calls in the window.
    pub calls: i64,
    /// Calls that ended in an error.
    pub errors: i64,
    /// `errors / calls`, 0 without calls.
    pub error_rate: f64,
    /// Error counts by kind, most frequent first.
    pub errors_by_kind: Vec<ErrorCount>,
    /// Mean duration in microseconds (0 without calls).
    pub mean_duration_us: f64,
    /// Median duration in microseconds.
    pub p50_duration_us: Option<i64>,
    /// 95th-percentile duration in microseconds.
    pub p95_duration_us: Option<i64>,
    /// 99th-percentile duration in microseconds.
    pub p99_duration_us: Option<i64>,
    /// Longest duration in microseconds.
    pub max_duration_us: Option<i64>,
}

/// Errors of one kind.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorCount {
    /// The error kind (`None`: no kind recorded).
    pub kind: Option<String>,
    /// How many calls ended with it.
    pub count: i64,
}

impl ToolHealth {
    /// The health of `tool_id` over the `window_minutes` since `since`, from
    /// the window's statistics.
    pub fn new(
        tool_id: String,
        window_minutes: u32,
        since: DateTime<Utc>,
        stats: InvocationStats,
    ) -> Self {
        let error_rate = if stats.count > 0 {
            stats.error_count as f64 / stats.count as f64
        } else {
            0.0
        };
        ToolHealth {
            tool_id,
            window_minutes,
            since,
            calls: stats.count,
            errors: stats.error_count,
            error_rate,
            errors_by_kind: stats
                .errors_by_kind
                .into_iter()
                .map(|(kind, count)| ErrorCount { kind, count })
                .collect(),
            mean_duration_us: stats.mean_duration_us,
            p50_duration_us: stats.p50_duration_us,
            p95_duration_us: stats.p95_duration_us,
            p99_duration_us: stats.p99_duration_us,
            max_duration_us: stats.max_duration_us,
        }
    }
}

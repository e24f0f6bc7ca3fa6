//! The audit log of tool calls (`invocations`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::any::AnyRow;

use crate::backend::{Backend, SyncError};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest, page_from};
use crate::row::{RowExt, json_text, micros, new_id, now};
use crate::store::Store;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvocationOutcome {
    /// The tool returned a result.
    Ok,
    /// The call failed; the record's `error_kind` says how.
    Error,
}

impl InvocationOutcome {
    /// The stored form: `ok` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationOutcome::Ok => "ok",
            InvocationOutcome::Error => "error",
        }
    }
}

impl fmt::Display for InvocationOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvocationOutcome {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "ok" => Ok(InvocationOutcome::Ok),
            "error" => Ok(InvocationOutcome::Error),
            other => Err(StoreError::Corrupt(format!(
                "unknown invocation outcome {other:?}"
            ))),
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// UUIDv7.
    pub id: String,
    /// The organization the call ran for.
    pub organization_id: String,
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
    /// How the call ended.
    pub outcome: InvocationOutcome,
    /// The error's kind (`timeout`, `upstream`, …) when the outcome is an error.
    pub error_kind: Option<String>,
    /// The arguments as recorded, only for organizations that opted in.
    pub argument_keys: Option<Value>,
    /// When the record was written.
    pub created_at: DateTime<Utc>,
    /// For a replayed call (answered with the recorded outcome of an earlier run of the
    /// same call id, without running the tool): that run's record.
    pub replay_of: Option<String>,
}

/// A call to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvocation {
    /// The agent that called, if any; must belong to the organization.
    pub agent_id: Option<String>,
    /// The tool.
    pub tool_id: String,
    /// The version that ran.
    pub tool_version_id: String,
    /// The function called.
    pub function: String,
    /// The caller's id for the call.
    pub call_id: String,
    /// The call session, if any; must belong to the organization.
    pub call_session_id: Option<String>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// Wall-clock duration in microseconds.
    pub duration_us: i64,
    /// Fuel the guest consumed.
    pub fuel_consumed: i64,
    /// Peak linear memory in bytes.
    pub peak_memory_bytes: i64,
    /// How the call ended.
    pub outcome: InvocationOutcome,
    /// The error's kind when the outcome is an error.
    pub error_kind: Option<String>,
    /// What to record of the arguments (e.g. their names). The store keeps it only when
    /// the organization opted in (`Organization::record_arguments`) and drops it otherwise.
    pub argument_keys: Option<Value>,
    /// For a replayed call: the record of the run whose outcome it repeated.
    pub replay_of: Option<String>,
}

/// Filters for listings and statistics. Times are `created_at` bounds: `since` inclusive,
/// `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationFilter {
    /// Only this agent's calls.
    pub agent_id: Option<String>,
    /// Only this tool's calls.
    pub tool_id: Option<String>,
    /// Only calls of this function.
    pub function: Option<String>,
    /// Only calls that ended so.
    pub outcome: Option<InvocationOutcome>,
    /// Only calls recorded at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only calls recorded before this time.
    pub until: Option<DateTime<Utc>>,
}

/// Aggregates for health views.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvocationStats {
    /// Calls.
    pub count: i64,
    /// Calls that ended in an error.
    pub error_count: i64,
    /// Error counts by kind, most frequent first (kind `None`: no kind recorded).
    pub errors_by_kind: Vec<(Option<String>, i64)>,
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

pub(crate) const INVOCATION_COLUMNS: &str = "id, organization_id, agent_id, tool_id, tool_version_id, \
     function, call_id, call_session_id, started_at, duration_us, fuel_consumed, \
     peak_memory_bytes, outcome, error_kind, argument_keys, created_at, replay_of";

/// The filter's conditions; parameters `$1` (organization) to `$7`.
const FILTER: &str = "organization_id = $1 \
     AND ($2 IS NULL OR agent_id = $2) \
     AND ($3 IS NULL OR tool_id = $3) \
     AND ($4 IS NULL OR function = $4) \
     AND ($5 IS NULL OR outcome = $5) \
     AND ($6 IS NULL OR created_at >= $6) \
     AND ($7 IS NULL OR created_at < $7)";

fn invocation(row: &impl RowExt) -> Result<Invocation> {
    Ok(Invocation {
        id: row.text("id")?,
        organization_id: row.text("organization_id")?,
        agent_id: row.opt_text("agent_id")?,
        tool_id: row.text("tool_id")?,
        tool_version_id: row.text("tool_version_id")?,
        function: row.text("function")?,
        call_id: row.text("call_id")?,
        call_session_id: row.opt_text("call_session_id")?,
        started_at: row.time("started_at")?,
        duration_us: row.int("duration_us")?,
        fuel_consumed: row.int("fuel_consumed")?,
        peak_memory_bytes: row.int("peak_memory_bytes")?,
        outcome: row.text("outcome")?.parse()?,
        error_kind: row.opt_text("error_kind")?,
        argument_keys: row.opt_json("argument_keys")?,
        created_at: row.time("created_at")?,
        replay_of: row.opt_text("replay_of")?,
    })
}

/// Binds the filter's parameters `$1`..`$7`.
macro_rules! bind_filter {
    ($query:expr, $organization_id:expr, $filter:expr) => {
        $query
            .bind($organization_id)
            .bind($filter.agent_id.as_deref())
            .bind($filter.tool_id.as_deref())
            .bind($filter.function.as_deref())
            .bind($filter.outcome.map(InvocationOutcome::as_str))
            .bind($filter.since.map(micros))
            .bind($filter.until.map(micros))
    };
}

/// The statement that writes one audit row into `$table`, unless the agent or call
/// session (when given) is not the organization's: then nothing is written (and no row
/// comes back from `$returning`).
macro_rules! insert_invocation {
    ($table:literal, $returning:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (id, organization_id, agent_id, \
             tool_id, tool_version_id, function, call_id, call_session_id, started_at, \
             duration_us, fuel_consumed, peak_memory_bytes, outcome, error_kind, \
             argument_keys, created_at, replay_of) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             CASE WHEN o.record_arguments THEN $15 ELSE NULL END, $16, $17 \
             FROM organizations o WHERE o.id = $2 \
             AND ($3 IS NULL OR EXISTS (SELECT 1 FROM voice_agents a \
                  WHERE a.id = $3 AND a.organization_id = $2)) \
             AND ($8 IS NULL OR EXISTS (SELECT 1 FROM call_sessions s \
                  WHERE s.id = $8 AND s.organization_id = $2))",
            $returning
        )
    };
}

/// One audit row into the indexed table.
const INSERT_INVOCATION: &str = insert_invocation!(
    "invocations",
    " RETURNING id, organization_id, agent_id, tool_id, tool_version_id, function, \
     call_id, call_session_id, started_at, duration_us, fuel_consumed, \
     peak_memory_bytes, outcome, error_kind, argument_keys, created_at, replay_of"
);

/// One audit row into `recent_invocations` (migration 0012): the row a lone call writes
/// on a SQLite file, into one B-tree where the indexed table has six (about one WAL
/// frame per commit against eight). The store moves these
/// rows into `invocations` in batches (`backend/recent.rs`); the reads below read both.
/// Nothing is returned: the caller needs only the id it chose, and a `RETURNING` costs
/// SQLite a temporary B-tree per statement.
const INSERT_RECENT_INVOCATION: &str = insert_invocation!("recent_invocations", "");

/// Marks the table in a query of the audit that [`both_tables`] runs on each table.
const AUDIT: &str = "{audit}";

/// `query`, a `SELECT` of audit rows with [`AUDIT`] for its table, on `invocations` and
/// on `recent_invocations` joined by `UNION ALL`: a row is in exactly one of them at any
/// moment, and each transaction sees the move of a batch whole or not at all.
fn both_tables(query: &str) -> String {
    format!(
        "{} UNION ALL {}",
        query.replace(AUDIT, "invocations"),
        query.replace(AUDIT, "recent_invocations")
    )
}

/// How many parameters one invocation row binds.
const INVOCATION_PARAMS: usize = 17;

/// Most rows [`Store::record_invocations`] puts in one statement (SQLite allows 32,766
/// parameters per statement; PostgreSQL 65,535).
pub const MAX_BATCH_ROWS: usize = 1024;

/// The multi-row form of [`INSERT_INVOCATION`]: `VALUES` rows (columns `column1` to
/// `column17` on both backends) between the head and the tail, each inserted only when
/// its own checks pass.
const INSERT_BATCH_HEAD: &str = "INSERT INTO invocations (id, organization_id, agent_id, \
     tool_id, tool_version_id, function, call_id, call_session_id, started_at, duration_us, \
     fuel_consumed, peak_memory_bytes, outcome, error_kind, argument_keys, created_at, \
     replay_of) \
     SELECT r.column1, r.column2, r.column3, r.column4, r.column5, r.column6, r.column7, \
     r.column8, r.column9, r.column10, r.column11, r.column12, r.column13, r.column14, \
     CASE WHEN o.record_arguments THEN r.column15 ELSE NULL END, r.column16, r.column17 \
     FROM (VALUES";
const INSERT_BATCH_TAIL: &str = ") AS r JOIN organizations o ON o.id = r.column2 \
     WHERE (r.column3 IS NULL OR EXISTS (SELECT 1 FROM voice_agents a \
          WHERE a.id = r.column3 AND a.organization_id = r.column2)) \
     AND (r.column8 IS NULL OR EXISTS (SELECT 1 FROM call_sessions s \
          WHERE s.id = r.column8 AND s.organization_id = r.column2)) \
     RETURNING id, organization_id, agent_id, tool_id, tool_version_id, function, call_id, \
     call_session_id, started_at, duration_us, fuel_consumed, peak_memory_bytes, outcome, \
     error_kind, argument_keys, created_at, replay_of";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds one invocation row's [`INVOCATION_PARAMS`] parameters, in column order.
fn bind_invocation<'q>(
    query: AnyQuery<'q>,
    id: &str,
    organization_id: &str,
    new: &'q NewInvocation,
) -> Result<AnyQuery<'q>> {
    let argument_keys = new.argument_keys.as_ref().map(json_text).transpose()?;
    Ok(query
        .bind(id.to_owned())
        .bind(organization_id.to_owned())
        .bind(new.agent_id.as_deref())
        .bind(&new.tool_id)
        .bind(&new.tool_version_id)
        .bind(&new.function)
        .bind(&new.call_id)
        .bind(new.call_session_id.as_deref())
        .bind(micros(new.started_at))
        .bind(new.duration_us)
        .bind(new.fuel_consumed)
        .bind(new.peak_memory_bytes)
        .bind(new.outcome.as_str())
        .bind(new.error_kind.as_deref())
        .bind(argument_keys)
        .bind(micros(now()))
        .bind(new.replay_of.as_deref()))
}

/// [`INSERT_RECENT_INVOCATION`] on a synchronous SQLite connection: whether the row was
/// written (`false` when the agent or call session is not the organization's). The
/// statement runs to its end, so that an error of its commit is returned here. Its
/// `$n` parameters are numbered in order of first use, so they bind by position.
fn insert_now(
    connection: &rusqlite::Connection,
    id: &str,
    organization_id: &str,
    new: &NewInvocation,
    argument_keys: Option<&str>,
) -> Result<bool, SyncError> {
    let mut statement = connection.prepare_cached(INSERT_RECENT_INVOCATION)?;
    let written = statement.execute(rusqlite::params![
        id,
        organization_id,
        new.agent_id.as_deref(),
        &new.tool_id,
        &new.tool_version_id,
        &new.function,
        &new.call_id,
        new.call_session_id.as_deref(),
        micros(new.started_at),
        new.duration_us,
        new.fuel_consumed,
        new.peak_memory_bytes,
        new.outcome.as_str(),
        new.error_kind.as_deref(),
        argument_keys,
        micros(now()),
        new.replay_of.as_deref(),
    ])?;
    Ok(written == 1)
}

fn recorded(row: Option<AnyRow>) -> Result<Invocation> {
    invocation(&row.ok_or(StoreError::NotFound("organization, agent or call session"))?)
}

impl Store {
    /// Records an invocation for the organization. The agent and call session, when given,
    /// must be the organization's ([`StoreError::NotFound`] otherwise). `argument_keys` is
    /// kept only when the organization records arguments.
    pub async fn record_invocation(
        &self,
        organization_id: &str,
        new: &NewInvocation,
    ) -> Result<Invocation> {
        let insert = bind_invocation(
            sqlx::query(INSERT_INVOCATION),
            &new_id(),
            organization_id,
            new,
        )?;
        let _writer = self.write_guard().await;
        let row = insert.fetch_optional(self.pool()).await?;
        recorded(row)
    }

    /// [`Store::record_invocation`], written synchronously on the calling thread when
    /// that can be done without waiting: on a SQLite file whose writer is free (see
    /// `backend/sync_write.rs`), appended to `recent_invocations` (`backend/recent.rs`).
    /// Answers the new row's id ([`Store::invocation`] reads the row). `None`
    /// otherwise, with nothing written: the caller then records the row the
    /// asynchronous way. The only wait is for the store's own move of recent rows into
    /// `invocations` to finish a transaction, when it holds the writer.
    ///
    /// For a lone call this spares the hand-offs to sqlx's connection thread and back;
    /// under load, callers that share batches ([`Store::record_invocations`]) write
    /// fewer pages per row.
    pub async fn record_invocation_now(
        &self,
        organization_id: &str,
        new: &NewInvocation,
    ) -> Option<Result<String>> {
        // The row's id and JSON are made only once the write is sure to run here.
        let written = self
            .append_audit_now(|connection| {
                let argument_keys = new.argument_keys.as_ref().map(json_text).transpose()?;
                let id = new_id();
                let written = insert_now(
                    connection,
                    &id,
                    organization_id,
                    new,
                    argument_keys.as_deref(),
                )?;
                Ok(written.then_some(id))
            })
            .await?;
        Some(
            written.and_then(|id| {
                id.ok_or(StoreError::NotFound("organization, agent or call session"))
            }),
        )
    }

    /// Records several invocations at once (group commit), each as
    /// [`Store::record_invocation`] would, and answers for each in order: a row that
    /// names another organization's agent or session is `NotFound` without affecting
    /// the others. Each statement writes up to [`MAX_BATCH_ROWS`] rows in one round
    /// trip. The outer error is a database failure of a whole statement (its rows, and
    /// those after it, are not written); callers may then write rows one by one.
    pub async fn record_invocations(
        &self,
        rows: &[(&str, &NewInvocation)],
    ) -> Result<Vec<Result<Invocation>>> {
        let mut results = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(MAX_BATCH_ROWS) {
            results.extend(self.record_batch(chunk).await?);
        }
        Ok(results)
    }

    /// The whole batch as one multi-row statement: atomic on its own, and a single
    /// round trip to the database whatever the batch's size.
    async fn record_batch(
        &self,
        rows: &[(&str, &NewInvocation)],
    ) -> Result<Vec<Result<Invocation>>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // On SQLite, plain `?` placeholders (numbered in order): binding looks up each
        // `$n`'s name by a linear scan of the statement's parameters, quadratic in a
        // batch of thousands.
        let numbered = self.backend() == Backend::Postgres;
        let mut values = String::new();
        for i in 0..rows.len() {
            let p = i * INVOCATION_PARAMS;
            values.push_str(if i == 0 { "(" } else { ", (" });
            for k in 1..=INVOCATION_PARAMS {
                if k > 1 {
                    values.push_str(", ");
                }
                if numbered {
                    values.push('$');
                    values.push_str(&(p + k).to_string());
                } else {
                    values.push('?');
                }
            }
            values.push(')');
        }
        let sql = format!("{INSERT_BATCH_HEAD} {values} {INSERT_BATCH_TAIL}");
        let mut query = sqlx::query(&sql);
        let mut ids = Vec::with_capacity(rows.len());
        for (organization_id, new) in rows {
            let id = new_id();
            query = bind_invocation(query, &id, organization_id, new)?;
            ids.push(id);
        }
        let inserted = {
            let _writer = self.write_guard().await;
            self.fetch_all_per_call(query).await?
        };
        let mut by_id = std::collections::HashMap::with_capacity(inserted.len());
        for row in &inserted {
            let invocation = invocation(row)?;
            by_id.insert(invocation.id.clone(), invocation);
        }
        Ok(ids
            .iter()
            .map(|id| {
                by_id
                    .remove(id)
                    .ok_or(StoreError::NotFound("organization, agent or call session"))
            })
            .collect())
    }

    /// The organization's audit record `id`.
    pub async fn invocation(&self, organization_id: &str, id: &str) -> Result<Invocation> {
        let row = sqlx::query(&both_tables(&format!(
            "SELECT {INVOCATION_COLUMNS} FROM {AUDIT} WHERE id = $1 AND organization_id = $2"
        )))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("invocation"))?;
        invocation(&row)
    }

    /// The organization's audit records matching `filter`, newest first, one page at a time.
    pub async fn list_invocations(
        &self,
        organization_id: &str,
        filter: &InvocationFilter,
        page: &PageRequest,
    ) -> Result<Page<Invocation>> {
        let (after_time, after_id) = page.position()?;
        let limit = page.clamped_limit();
        // Each table in the order of its index, merged: the limit stops both scans.
        let sql = format!(
            "{} ORDER BY created_at DESC, id DESC LIMIT $10",
            both_tables(&format!(
                "SELECT {INVOCATION_COLUMNS} FROM {AUDIT} WHERE {FILTER} \
                 AND ($8 IS NULL OR created_at < $8 OR (created_at = $8 AND id < $9))"
            ))
        );
        let rows = bind_filter!(sqlx::query(&sql), organization_id, filter)
            .bind(after_time)
            .bind(after_id)
            .bind(limit + 1)
            .fetch_all(self.pool())
            .await?;
        let items = rows.iter().map(invocation).collect::<Result<Vec<_>>>()?;
        Ok(page_from(items, limit, |i| (i.created_at, i.id.as_str())))
    }

    /// Counts, errors by kind and duration percentiles of the organization's calls matching
    /// `filter`.
    pub async fn invocation_stats(
        &self,
        organization_id: &str,
        filter: &InvocationFilter,
    ) -> Result<InvocationStats> {
        let sql = format!(
            "SELECT COUNT(*) AS calls, \
             CAST(COALESCE(SUM(CASE WHEN outcome = 'error' THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
             CAST(COALESCE(AVG(duration_us), 0) AS DOUBLE PRECISION) AS mean_us, \
             MAX(duration_us) AS max_us \
             FROM ({}) AS audit",
            both_tables(&format!(
                "SELECT outcome, duration_us FROM {AUDIT} WHERE {FILTER}"
            ))
        );
        let totals = bind_filter!(sqlx::query(&sql), organization_id, filter)
            .fetch_one(self.pool())
            .await?;
        let count = totals.int("calls")?;
        let mut stats = InvocationStats {
            count,
            error_count: totals.int("errors")?,
            mean_duration_us: sqlx::Row::try_get::<f64, _>(&totals, "mean_us")?,
            max_duration_us: totals.opt_int("max_us")?,
            ..InvocationStats::default()
        };
        if count == 0 {
            return Ok(stats);
        }

        let sql = format!(
            "SELECT error_kind, COUNT(*) AS calls FROM ({}) AS audit \
             GROUP BY error_kind ORDER BY calls DESC, error_kind",
            both_tables(&format!(
                "SELECT error_kind FROM {AUDIT} WHERE {FILTER} AND outcome = 'error'"
            ))
        );
        let rows = bind_filter!(sqlx::query(&sql), organization_id, filter)
            .fetch_all(self.pool())
            .await?;
        stats.errors_by_kind = rows
            .iter()
            .map(|row| Ok((row.opt_text("error_kind")?, row.int("calls")?)))
            .collect::<Result<_>>()?;

        // Nearest-rank percentiles, one indexed probe each; portable SQL.
        let sql = format!(
            "{} ORDER BY duration_us LIMIT 1 OFFSET $8",
            both_tables(&format!("SELECT duration_us FROM {AUDIT} WHERE {FILTER}"))
        );
        let percentile = async |p: i64| -> Result<Option<i64>> {
            // Nearest rank: ceil(p/100 · n), 1-based.
            let rank = (p * count + 99) / 100;
            let offset = (rank - 1).clamp(0, count - 1);
            let row = bind_filter!(sqlx::query(&sql), organization_id, filter)
                .bind(offset)
                .fetch_optional(self.pool())
                .await?;
            row.map(|row| row.int("duration_us")).transpose()
        };
        stats.p50_duration_us = percentile(50).await?;
        stats.p95_duration_us = percentile(95).await?;
        stats.p99_duration_us = percentile(99).await?;
        Ok(stats)
    }
}

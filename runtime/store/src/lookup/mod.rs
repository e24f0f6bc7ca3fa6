//! The look-ups every call makes — its data ([`Store::invocation_target`]),
//! with the worker token's check ([`Store::worker_invocation_target`]) or the
//! call session's ([`Store::active_call_session_by_token_hash`]) — answered
//! from a cache that is never stale (`cache.rs`), and the look-ups that are not
//! scoped to one organization, for callers that act across organizations (the
//! worker plane, authenticated by a worker token).
//!
//! The cross-organization look-ups are the documented exceptions to the
//! store's tenancy rule: the caller must already be trusted across
//! organizations, and every later operation goes back to the
//! organization-scoped methods with the organization found here.

mod cache;
#[cfg(test)]
mod tests;
mod version;

use crate::backend::{NamedRow, Route, SyncError, column_positions};
use crate::call_sessions::{CALL_SESSION_COLUMNS, call_session};
use crate::error::{Result, StoreError};
use crate::row::{RowExt, micros, now};
use crate::sealed::SealedSecret;
use crate::store::Store;
use crate::{
    AgentTool, CallSession, SealedSecretRow, Tool, ToolVersionRef, VoiceAgent, WorkerToken,
};
use std::sync::LazyLock;

pub(crate) use cache::LookupCache;
use cache::{Answer, LookupKey};
pub(crate) use version::SharedReads;

impl Store {
    /// The agent `agent_id`, whichever organization it belongs to (its
    /// `organization_id` says which). Only for cross-organization callers such
    /// as the worker API.
    ///
    /// With `scope` (a worker token's organization), an agent of another
    /// organization is [`StoreError::NotFound`]`("voice agent")`, exactly as an
    /// unknown agent: the scope is part of the query that finds the agent.
    pub async fn agent_by_id(&self, scope: Option<&str>, agent_id: &str) -> Result<VoiceAgent> {
        let row = sqlx::query(
            "SELECT organization_id FROM voice_agents \
             WHERE id = $1 AND ($2 IS NULL OR organization_id = $2)",
        )
        .bind(agent_id)
        .bind(scope)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("voice agent"))?;
        let organization_id = row.text("organization_id")?;
        self.agent(&organization_id, agent_id).await
    }
}

/// Everything one invocation needs from the store, read in one query by
/// [`Store::invocation_target`].
#[derive(Debug, Clone)]
pub struct InvocationTarget {
    /// The agent making the call.
    pub agent: VoiceAgent,
    /// The tool, when the agent's organization can use one of that name.
    pub tool: Option<Tool>,
    /// The agent's association with the tool, when there is one.
    pub association: Option<AgentTool>,
    /// The organization's sealed secrets for the tool, by name.
    pub secrets: Vec<SealedSecretRow>,
}

/// The columns of an invocation target: one row per secret (or one row
/// without a secret); the agent, tool and association columns repeat. Column
/// aliases keep the tables apart.
const TARGET_COLUMNS: &str = "\
     a.id AS a_id, a.organization_id AS a_organization_id, a.name AS a_name, \
     a.description AS a_description, a.system_prompt AS a_system_prompt, \
     a.is_active AS a_is_active, a.created_at AS a_created_at, a.updated_at AS a_updated_at, \
     t.id AS t_id, t.organization_id AS t_organization_id, t.name AS t_name, \
     t.description AS t_description, t.created_at AS t_created_at, \
     t.updated_at AS t_updated_at, v.id AS v_id, v.version AS v_version, v.sha256 AS v_sha256, \
     j.id AS j_id, j.config AS j_config, j.is_enabled AS j_is_enabled, \
     j.function_enables AS j_function_enables, j.created_at AS j_created_at, \
     j.updated_at AS j_updated_at, \
     s.id AS s_id, s.name AS s_name, s.sealed AS s_sealed, s.created_at AS s_created_at, \
     s.updated_at AS s_updated_at";

/// The tool the agent `a`'s organization sees under the name `$3` (its own
/// before a platform tool), its current version, the association and the
/// secrets.
const TARGET_JOINS: &str = "\
     LEFT JOIN platform_tools t ON t.id = (SELECT c.id FROM platform_tools c \
          WHERE c.name = $3 AND (c.organization_id IS NULL OR c.organization_id = a.organization_id) \
          ORDER BY c.organization_id IS NULL LIMIT 1) \
     LEFT JOIN tool_versions v ON v.id = t.current_version_id \
     LEFT JOIN agent_tools j ON j.organization_id = a.organization_id \
          AND j.agent_id = a.id AND j.tool_id = t.id \
     LEFT JOIN tool_sensitive_configs s ON s.organization_id = a.organization_id \
          AND s.tool_id = t.id";

/// `$1` agent id, `$2` organization id or NULL, `$3` tool name. Every row
/// also carries the look-up version the answer was read at.
static TARGET_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT (SELECT version FROM lookup_version) AS lookup_version, {TARGET_COLUMNS} \
         FROM voice_agents a {TARGET_JOINS} \
         WHERE a.id = $1 AND ($2 IS NULL OR a.organization_id = $2) ORDER BY s.name"
    )
});

/// `$1` a session token's hash, `$2` now (microseconds since the epoch): the
/// live session it opens, and the look-up version.
static SESSION_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT (SELECT version FROM lookup_version) AS lookup_version, {CALL_SESSION_COLUMNS} \
         FROM call_sessions WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2"
    )
});

/// `$1` agent id, `$2` worker token hash, `$3` tool name. No row when the
/// token is unknown or revoked; rows whose agent columns are NULL when the
/// token is valid but the agent does not exist or belongs to an organization
/// other than the token's (a token limited to one organization joins only
/// that organization's agents, so the two cases cannot be told apart). Every
/// row also carries the look-up version the answer was read at.
static WORKER_TARGET_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT (SELECT version FROM lookup_version) AS lookup_version, \
         w.id AS w_id, w.name AS w_name, w.prefix AS w_prefix, \
         w.token_hash AS w_token_hash, w.organization_id AS w_organization_id, \
         w.created_at AS w_created_at, \
         w.last_used_at AS w_last_used_at, w.revoked_at AS w_revoked_at, {TARGET_COLUMNS} \
         FROM worker_tokens w LEFT JOIN voice_agents a ON a.id = $1 \
              AND (w.organization_id IS NULL OR a.organization_id = w.organization_id) \
         {TARGET_JOINS} \
         WHERE w.token_hash = $2 AND w.revoked_at IS NULL ORDER BY s.name"
    )
});

impl Store {
    /// What an invocation of `tool_name` by `agent_id` needs — the agent, the
    /// tool the agent's organization sees under that name (its own before a
    /// platform tool), the association and the sealed secrets — read in one
    /// query, or found in the look-up cache at the current look-up version (see
    /// [`Store::worker_invocation_target`]). On a SQLite file the query runs
    /// synchronously on the calling thread, as blocking work (see
    /// `backend/sync_read.rs`).
    ///
    /// With `organization_id`, an agent of another organization is
    /// [`StoreError::NotFound`]; without it (cross-organization callers such
    /// as the worker API), the agent's own organization applies throughout.
    pub async fn invocation_target(
        &self,
        organization_id: Option<&str>,
        agent_id: &str,
        tool_name: &str,
    ) -> Result<InvocationTarget> {
        let version = self.lookup_version_now().await?;
        self.invocation_target_at(version, organization_id, agent_id, tool_name)
            .await
    }

    /// [`Store::invocation_target`] with the look-up version already read.
    async fn invocation_target_at(
        &self,
        version: i64,
        organization_id: Option<&str>,
        agent_id: &str,
        tool_name: &str,
    ) -> Result<InvocationTarget> {
        let key = LookupKey::target(organization_id, agent_id, tool_name);
        if let Some(answer) = self.lookups.get(version, &key)
            && let Answer::Target(target) = &*answer
        {
            return Ok(target.clone());
        }
        let rows: TargetRows = self
            .target_rows(&TARGET_SELECT, agent_id, organization_id, tool_name)
            .await?;
        let (version, target) = rows.finish()?;
        self.lookups
            .put(version, key, Answer::Target(target.clone()));
        Ok(target)
    }

    /// The session whose MCP token hashes to `token_hash`, if it has neither
    /// ended nor expired, found in the look-up cache at the current look-up
    /// version or read (inline on a SQLite file). Not scoped by organization:
    /// the token is how the session is found.
    pub async fn active_call_session_by_token_hash(&self, token_hash: &str) -> Result<CallSession> {
        let version = self.lookup_version_now().await?;
        self.session_at(version, token_hash).await
    }

    /// [`Store::active_call_session_by_token_hash`] and then
    /// [`Store::invocation_target`] for the session's agent (in its
    /// organization), under one read of the look-up version: what an MCP
    /// `tools/call` needs. An unknown, ended or expired session is
    /// [`StoreError::NotFound`]`("call session")`, and nothing about agents
    /// is looked at.
    pub async fn session_invocation_target(
        &self,
        token_hash: &str,
        tool_name: &str,
    ) -> Result<(CallSession, Result<InvocationTarget>)> {
        let version = self.lookup_version_now().await?;
        let session = self.session_at(version, token_hash).await?;
        let target = self
            .invocation_target_at(
                version,
                Some(&session.organization_id),
                &session.agent_id,
                tool_name,
            )
            .await;
        Ok((session, target))
    }

    /// [`Store::active_call_session_by_token_hash`] with the look-up version
    /// already read.
    async fn session_at(&self, version: i64, token_hash: &str) -> Result<CallSession> {
        let key = LookupKey::session(token_hash);
        let now = now();
        let session = match self.lookups.get(version, &key).as_deref() {
            Some(Answer::Session(session)) => session.clone(),
            _ => {
                let (version, session) = self.session_row(token_hash, micros(now)).await?;
                self.lookups
                    .put(version, key, Answer::Session(session.clone()));
                session
            }
        };
        // A kept answer outlives the moment it was read at: an ended session
        // advanced the version, an expired one is refused here.
        if session.expires_at <= now {
            return Err(StoreError::NotFound("call session"));
        }
        Ok(session)
    }

    /// [`SESSION_SELECT`]'s row: the look-up version and the session.
    async fn session_row(&self, token_hash: &str, now: i64) -> Result<(i64, CallSession)> {
        let read = |connection: &rusqlite::Connection| -> Result<_, SyncError> {
            let mut statement = connection.prepare_cached(&SESSION_SELECT)?;
            let columns = column_positions(&statement);
            let mut rows =
                statement.query(rusqlite::named_params! { "$1": token_hash, "$2": now })?;
            match rows.next()? {
                Some(row) => {
                    let row = NamedRow {
                        row,
                        columns: &columns,
                    };
                    Ok(Some((row.int("lookup_version")?, call_session(&row)?)))
                }
                None => Ok(None),
            }
        };
        let found = match self.read_point(read) {
            Some(found) => found?,
            None => {
                let query = || sqlx::query(&SESSION_SELECT).bind(token_hash).bind(now);
                match self.fetch_all_read(Route::Read, query).await?.first() {
                    Some(row) => Some((row.int("lookup_version")?, call_session(row)?)),
                    None => None,
                }
            }
        };
        found.ok_or(StoreError::NotFound("call session"))
    }

    /// [`Store::invocation_target`] for the worker plane, with the worker
    /// token's check in the same query: the unrevoked worker token whose
    /// SHA-256 is `token_hash`, and what the call of `tool_name` by `agent_id`
    /// (in the agent's own organization) needs.
    ///
    /// An unknown or revoked token is [`StoreError::NotFound`]`("worker token")`
    /// whatever the agent, so nothing about agents is learnt without a valid
    /// token; compare the presented token's hash in constant time before
    /// trusting the result. Not scoped to an organization, like
    /// [`Store::active_worker_token_by_hash`], unless the token itself is
    /// ([`WorkerToken::organization_id`]): then an agent of another
    /// organization is [`StoreError::NotFound`]`("voice agent")`, the same
    /// answer as an unknown agent, decided in the same query.
    ///
    /// Answers are as of the last commit, whoever made it: each call reads the
    /// look-up version (one row that every change to the tables read here
    /// advances, in the same transaction) and reuses an answer read at that
    /// same version, else runs the query — a cache that is never stale
    /// (`lookup/cache.rs`).
    pub async fn worker_invocation_target(
        &self,
        token_hash: &str,
        agent_id: &str,
        tool_name: &str,
    ) -> Result<(WorkerToken, Result<InvocationTarget>)> {
        let key = LookupKey::worker(token_hash, agent_id, tool_name);
        let version = self.lookup_version_now().await?;
        if let Some(answer) = self.lookups.get(version, &key)
            && let Answer::Worker(token, target) = &*answer
        {
            return Ok((token.clone(), Ok(target.clone())));
        }
        let rows: WorkerTargetRows = self
            .target_rows(&WORKER_TARGET_SELECT, agent_id, Some(token_hash), tool_name)
            .await?;
        let (version, token, target) = rows.finish()?;
        if let Ok(target) = &target {
            self.lookups
                .put(version, key, Answer::Worker(token.clone(), target.clone()));
        }
        Ok((token, target))
    }

    /// The current look-up version: inline on a SQLite file ([`version_now`]),
    /// else one round trip, shared by the calls that wait for it
    /// (`version.rs`).
    async fn lookup_version_now(&self) -> Result<i64> {
        match self.read_point(version_now) {
            Some(version) => version,
            None => self.version_reads.version(|| self.lookup_version()).await,
        }
    }

    /// The current look-up version (see [`Store::worker_invocation_target`]), read
    /// asynchronously ([`version_now`] is the synchronous read).
    async fn lookup_version(&self) -> Result<i64> {
        let rows = self
            .fetch_all_read(Route::PerCall, || sqlx::query(VERSION_SELECT))
            .await?;
        rows.first()
            .ok_or(StoreError::Corrupt("lookup_version has no row".to_owned()))?
            .int("version")
    }

    /// The rows of `select` (`$1` agent id, `$2`, `$3` tool name), one at a
    /// time into `R`: synchronously on a SQLite file, as blocking work (a join
    /// over six tables, run once per change of the look-up version on the worker
    /// plane), else through sqlx.
    async fn target_rows<R: PushRow>(
        &self,
        select: &str,
        agent_id: &str,
        second: Option<&str>,
        tool_name: &str,
    ) -> Result<R> {
        let now = self
            .read_blocking(|connection| rows_now(connection, select, agent_id, second, tool_name));
        match now {
            Some(rows) => rows,
            None => self.rows_later(select, agent_id, second, tool_name).await,
        }
    }

    /// [`Store::target_rows`] through sqlx.
    async fn rows_later<R: PushRow>(
        &self,
        select: &str,
        agent_id: &str,
        second: Option<&str>,
        tool_name: &str,
    ) -> Result<R> {
        let query = || {
            sqlx::query(select)
                .bind(agent_id)
                .bind(second)
                .bind(tool_name)
        };
        let mut target = R::default();
        for row in &self.fetch_all_read(Route::Read, query).await? {
            target.push(row)?;
        }
        Ok(target)
    }
}

/// The current look-up version, read on `connection`.
fn version_now(connection: &rusqlite::Connection) -> Result<i64, SyncError> {
    Ok(connection
        .prepare_cached(VERSION_SELECT)?
        .query_row([], |row| row.get(0))?)
}

/// [`Store::target_rows`] on `connection`.
fn rows_now<R: PushRow>(
    connection: &rusqlite::Connection,
    select: &str,
    agent_id: &str,
    second: Option<&str>,
    tool_name: &str,
) -> Result<R, SyncError> {
    let mut statement = connection.prepare_cached(select)?;
    let columns = column_positions(&statement);
    let mut rows = statement.query(rusqlite::named_params! {
        "$1": agent_id, "$2": second, "$3": tool_name,
    })?;
    let mut target = R::default();
    while let Some(row) = rows.next()? {
        target.push(&NamedRow {
            row,
            columns: &columns,
        })?;
    }
    Ok(target)
}

/// Takes the rows of a target query one at a time.
trait PushRow: Default {
    fn push(&mut self, row: &impl RowExt) -> Result<()>;
}

const VERSION_SELECT: &str = "SELECT version FROM lookup_version WHERE id = 1";

/// An [`InvocationTarget`] from the rows of [`TARGET_SELECT`] or
/// [`WORKER_TARGET_SELECT`], one at a time: the first row has the look-up
/// version, the agent, the tool and the association, every row may have a
/// secret. No row, or NULL agent columns, is an unknown agent.
#[derive(Default)]
struct TargetRows {
    version: i64,
    target: Option<InvocationTarget>,
}

impl PushRow for TargetRows {
    fn push(&mut self, row: &impl RowExt) -> Result<()> {
        let target = match &mut self.target {
            Some(target) => target,
            None => {
                self.version = row.int("lookup_version")?;
                self.target.insert(target_from_first_row(row)?)
            }
        };
        if let Some(tool) = &target.tool
            && let Some(id) = row.opt_text("s_id")?
        {
            target.secrets.push(SealedSecretRow {
                id,
                organization_id: target.agent.organization_id.clone(),
                tool_id: tool.id.clone(),
                name: row.text("s_name")?,
                sealed: SealedSecret::from_bytes(row.bytes("s_sealed")?)?,
                created_at: row.time("s_created_at")?,
                updated_at: row.time("s_updated_at")?,
            });
        }
        Ok(())
    }
}

impl TargetRows {
    /// The look-up version read and the target.
    fn finish(self) -> Result<(i64, InvocationTarget)> {
        let target = self.target.ok_or(StoreError::NotFound("voice agent"))?;
        Ok((self.version, target))
    }
}

/// The worker token and the [`InvocationTarget`] from the rows of
/// [`WORKER_TARGET_SELECT`]. No row is an unknown or revoked token; the target
/// is then not looked at.
#[derive(Default)]
struct WorkerTargetRows {
    version: i64,
    token: Option<WorkerToken>,
    target: TargetRows,
    /// The target's own error (an unknown agent), once the token is known.
    error: Option<StoreError>,
}

impl PushRow for WorkerTargetRows {
    fn push(&mut self, row: &impl RowExt) -> Result<()> {
        if self.token.is_none() {
            self.version = row.int("lookup_version")?;
            self.token = Some(WorkerToken {
                id: row.text("w_id")?,
                name: row.text("w_name")?,
                prefix: row.text("w_prefix")?,
                token_hash: row.text("w_token_hash")?,
                organization_id: row.opt_text("w_organization_id")?,
                created_at: row.time("w_created_at")?,
                last_used_at: row.opt_time("w_last_used_at")?,
                revoked_at: row.opt_time("w_revoked_at")?,
            });
        }
        if self.error.is_none()
            && let Err(error) = self.target.push(row)
        {
            self.error = Some(error);
        }
        Ok(())
    }
}

impl WorkerTargetRows {
    /// The look-up version read, the token and the target.
    fn finish(self) -> Result<(i64, WorkerToken, Result<InvocationTarget>)> {
        let token = self.token.ok_or(StoreError::NotFound("worker token"))?;
        let target = match self.error {
            Some(error) => Err(error),
            None => self.target.finish().map(|(_, target)| target),
        };
        Ok((self.version, token, target))
    }
}

/// The agent, tool and association columns of a target's first row.
fn target_from_first_row(first: &impl RowExt) -> Result<InvocationTarget> {
    if first.opt_text("a_id")?.is_none() {
        return Err(StoreError::NotFound("voice agent"));
    }
    let agent = VoiceAgent {
        id: first.text("a_id")?,
        organization_id: first.text("a_organization_id")?,
        name: first.text("a_name")?,
        description: first.text("a_description")?,
        system_prompt: first.text("a_system_prompt")?,
        is_active: first.boolean("a_is_active")?,
        created_at: first.time("a_created_at")?,
        updated_at: first.time("a_updated_at")?,
    };
    let tool = match first.opt_text("t_id")? {
        None => None,
        Some(id) => Some(Tool {
            id,
            organization_id: first.opt_text("t_organization_id")?,
            name: first.text("t_name")?,
            description: first.text("t_description")?,
            current_version: match first.opt_text("v_id")? {
                None => None,
                Some(id) => Some(ToolVersionRef {
                    id,
                    version: first.text("v_version")?,
                    sha256: first.text("v_sha256")?,
                }),
            },
            created_at: first.time("t_created_at")?,
            updated_at: first.time("t_updated_at")?,
        }),
    };
    let association = match (first.opt_text("j_id")?, &tool) {
        (Some(id), Some(tool)) => Some(AgentTool {
            id,
            organization_id: agent.organization_id.clone(),
            agent_id: agent.id.clone(),
            tool_id: tool.id.clone(),
            config: first.json("j_config")?,
            is_enabled: first.boolean("j_is_enabled")?,
            function_enables: first.json("j_function_enables")?,
            created_at: first.time("j_created_at")?,
            updated_at: first.time("j_updated_at")?,
        }),
        _ => None,
    };
    Ok(InvocationTarget {
        agent,
        tool,
        association,
        secrets: Vec::new(),
    })
}

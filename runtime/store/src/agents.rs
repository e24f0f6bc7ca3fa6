//! Voice agents and their tool associations (`voice_agents`, `agent_tools`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError, map_db};
use crate::page::{Page, PageRequest, contains_pattern, page_from};
use crate::row::{RowExt, json_text, micros, new_id, now};
use crate::store::Store;

/// A voice agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceAgent {
    /// UUIDv7.
    pub id: String,
    /// The organization it belongs to.
    pub organization_id: String,
    /// Display name (not unique).
    pub name: String,
    /// Free text.
    pub description: String,
    /// The LLM's system prompt.
    pub system_prompt: String,
    /// An inactive agent takes no calls.
    pub is_active: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new voice agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoiceAgent {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The LLM's system prompt.
    pub system_prompt: String,
    /// Takes calls.
    pub is_active: bool,
}

/// Changes to a voice agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceAgentUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New system prompt.
    pub system_prompt: Option<String>,
    /// New active flag.
    pub is_active: Option<bool>,
}

/// Filters for [`Store::list_agents`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFilter {
    /// Only agents with this active flag.
    pub is_active: Option<bool>,
    /// Only agents whose name contains this text (case-insensitive; SQLite folds ASCII
    /// letters only).
    pub name_contains: Option<String>,
}

/// A tool associated with an agent, with the agent's configuration for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentTool {
    /// UUIDv7.
    pub id: String,
    /// The organization of the agent.
    pub organization_id: String,
    /// The agent.
    pub agent_id: String,
    /// The tool (a platform tool or one of the organization's).
    pub tool_id: String,
    /// Public configuration, as JSON (validated by the caller against the tool's schema).
    pub config: Value,
    /// A disabled association offers none of the tool's functions.
    pub is_enabled: bool,
    /// Per-function switches; a function not named is enabled.
    pub function_enables: BTreeMap<String, bool>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl AgentTool {
    /// Whether the association and the function `name` are both enabled.
    pub fn function_enabled(&self, name: &str) -> bool {
        self.is_enabled && self.function_enables.get(name).copied().unwrap_or(true)
    }
}

/// The settings of an association, for [`Store::upsert_agent_tool`].
#[derive(Debug, Clone, PartialEq)]
pub struct AgentToolSettings {
    /// Public configuration, as JSON.
    pub config: Value,
    /// Offer the tool's functions.
    pub is_enabled: bool,
    /// Per-function switches.
    pub function_enables: BTreeMap<String, bool>,
}

impl Default for AgentToolSettings {
    fn default() -> Self {
        Self {
            config: Value::Object(Default::default()),
            is_enabled: true,
            function_enables: BTreeMap::new(),
        }
    }
}

const AGENT_COLUMNS: &str =
    "id, organization_id, name, description, system_prompt, is_active, created_at, updated_at";
const AGENT_TOOL_COLUMNS: &str = "id, organization_id, agent_id, tool_id, config, is_enabled, \
     function_enables, created_at, updated_at";

fn agent(row: &AnyRow) -> Result<VoiceAgent> {
    Ok(VoiceAgent {
        id: row.text("id")?,
        organization_id: row.text("organization_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        system_prompt: row.text("system_prompt")?,
        is_active: row.boolean("is_active")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn agent_tool(row: &AnyRow) -> Result<AgentTool> {
    Ok(AgentTool {
        id: row.text("id")?,
        organization_id: row.text("organization_id")?,
        agent_id: row.text("agent_id")?,
        tool_id: row.text("tool_id")?,
        config: row.json("config")?,
        is_enabled: row.boolean("is_enabled")?,
        function_enables: row.json("function_enables")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl Store {
    /// Creates a voice agent in the organization.
    pub async fn create_agent(
        &self,
        organization_id: &str,
        new: &NewVoiceAgent,
    ) -> Result<VoiceAgent> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "INSERT INTO voice_agents (id, organization_id, name, description, system_prompt, \
             is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             RETURNING {AGENT_COLUMNS}"
        ))
        .bind(new_id())
        .bind(organization_id)
        .bind(&new.name)
        .bind(&new.description)
        .bind(&new.system_prompt)
        .bind(new.is_active)
        .bind(micros(now()))
        .fetch_one(self.pool())
        .await
        .map_err(map_db("voice agent", "organization"))?;
        agent(&row)
    }

    /// The organization's agent `agent_id`.
    pub async fn agent(&self, organization_id: &str, agent_id: &str) -> Result<VoiceAgent> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM voice_agents WHERE id = $1 AND organization_id = $2"
        ))
        .bind(agent_id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("voice agent"))?;
        agent(&row)
    }

    /// Changes the organization's agent `agent_id`.
    pub async fn update_agent(
        &self,
        organization_id: &str,
        agent_id: &str,
        update: &VoiceAgentUpdate,
    ) -> Result<VoiceAgent> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE voice_agents SET name = COALESCE($1, name), \
             description = COALESCE($2, description), \
             system_prompt = COALESCE($3, system_prompt), \
             is_active = COALESCE($4, is_active), updated_at = $5 \
             WHERE id = $6 AND organization_id = $7 RETURNING {AGENT_COLUMNS}"
        ))
        .bind(update.name.as_deref())
        .bind(update.description.as_deref())
        .bind(update.system_prompt.as_deref())
        .bind(update.is_active)
        .bind(micros(now()))
        .bind(agent_id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("voice agent"))?;
        agent(&row)
    }

    /// Deletes the organization's agent `agent_id` with its associations and call sessions
    /// (its audit rows stay, without the agent).
    pub async fn delete_agent(&self, organization_id: &str, agent_id: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query("DELETE FROM voice_agents WHERE id = $1 AND organization_id = $2")
            .bind(agent_id)
            .bind(organization_id)
            .execute(self.pool())
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("voice agent"));
        }
        Ok(())
    }

    /// The organization's agents matching `filter`, newest first, one page at a time.
    pub async fn list_agents(
        &self,
        organization_id: &str,
        filter: &AgentFilter,
        page: &PageRequest,
    ) -> Result<Page<VoiceAgent>> {
        let (after_time, after_id) = page.position()?;
        let limit = page.clamped_limit();
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM voice_agents WHERE organization_id = $1 \
             AND ($2 IS NULL OR is_active = $2) \
             AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND id < $5)) \
             ORDER BY created_at DESC, id DESC LIMIT $6"
        ))
        .bind(organization_id)
        .bind(filter.is_active)
        .bind(filter.name_contains.as_deref().map(contains_pattern))
        .bind(after_time)
        .bind(after_id)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(agent).collect::<Result<Vec<_>>>()?;
        Ok(page_from(items, limit, |a| (a.created_at, a.id.as_str())))
    }

    /// Associates a tool with an agent, or replaces the association's settings. The agent
    /// must be the organization's and the tool one it can use.
    pub async fn upsert_agent_tool(
        &self,
        organization_id: &str,
        agent_id: &str,
        tool_id: &str,
        settings: &AgentToolSettings,
    ) -> Result<AgentTool> {
        let now = micros(now());
        let config = json_text(&settings.config)?;
        let enables = json_text(&settings.function_enables)?;
        let mut w = self.begin_write().await?;
        let agent_found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM voice_agents WHERE id = $1 AND organization_id = $2",
        )
        .bind(agent_id)
        .bind(organization_id)
        .fetch_optional(&mut *w.tx)
        .await?;
        if agent_found.is_none() {
            return Err(StoreError::NotFound("voice agent"));
        }
        let tool_found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM platform_tools WHERE id = $1 \
             AND (organization_id IS NULL OR organization_id = $2)",
        )
        .bind(tool_id)
        .bind(organization_id)
        .fetch_optional(&mut *w.tx)
        .await?;
        if tool_found.is_none() {
            return Err(StoreError::NotFound("tool"));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO agent_tools (id, organization_id, agent_id, tool_id, config, \
             is_enabled, function_enables, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (agent_id, tool_id) DO UPDATE SET config = excluded.config, \
             is_enabled = excluded.is_enabled, function_enables = excluded.function_enables, \
             updated_at = excluded.updated_at \
             RETURNING {AGENT_TOOL_COLUMNS}"
        ))
        .bind(new_id())
        .bind(organization_id)
        .bind(agent_id)
        .bind(tool_id)
        .bind(config)
        .bind(settings.is_enabled)
        .bind(enables)
        .bind(now)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(map_db("agent tool", "voice agent or tool"))?;
        let association = agent_tool(&row)?;
        w.commit().await?;
        Ok(association)
    }

    /// The association of `tool_id` with the organization's agent `agent_id`.
    pub async fn agent_tool(
        &self,
        organization_id: &str,
        agent_id: &str,
        tool_id: &str,
    ) -> Result<AgentTool> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_TOOL_COLUMNS} FROM agent_tools \
             WHERE agent_id = $1 AND tool_id = $2 AND organization_id = $3"
        ))
        .bind(agent_id)
        .bind(tool_id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("agent tool"))?;
        agent_tool(&row)
    }

    /// The tools associated with the organization's agent `agent_id`, oldest association
    /// first. An agent of another organization has none.
    pub async fn list_agent_tools(
        &self,
        organization_id: &str,
        agent_id: &str,
    ) -> Result<Vec<AgentTool>> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_TOOL_COLUMNS} FROM agent_tools \
             WHERE agent_id = $1 AND organization_id = $2 ORDER BY created_at, id"
        ))
        .bind(agent_id)
        .bind(organization_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(agent_tool).collect()
    }

    /// Removes the association of `tool_id` with the organization's agent `agent_id`.
    pub async fn delete_agent_tool(
        &self,
        organization_id: &str,
        agent_id: &str,
        tool_id: &str,
    ) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query(
            "DELETE FROM agent_tools WHERE agent_id = $1 AND tool_id = $2 AND organization_id = $3",
        )
        .bind(agent_id)
        .bind(tool_id)
        .bind(organization_id)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("agent tool"));
        }
        Ok(())
    }
}

//! Agents, their tools, and the audit queries of an organization's catalogue.

use super::Catalog;
use super::views::*;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use warden_store::{
    AgentFilter, AgentTool, AgentToolSettings, Invocation, InvocationFilter, InvocationStats,
    NewVoiceAgent, Page, PageRequest, VoiceAgentUpdate,
};

impl Catalog<'_> {
    // ----- agents -----

    /// Creates a voice agent.
    pub async fn create_agent(&self, new: NewVoiceAgent) -> Result<AgentFields> {
        if new.name.trim().is_empty() {
            return Err(CoreError::Invalid("an agent needs a name".into()));
        }
        Ok(self.core.store.create_agent(self.org(), &new).await?.into())
    }

    /// One agent, optionally with its tools.
    pub async fn agent(&self, agent_id: &str, include_tools: bool) -> Result<AgentView> {
        let agent = self.core.store.agent(self.org(), agent_id).await?;
        let tools = if include_tools {
            Some(self.agent_tools(agent_id).await?)
        } else {
            None
        };
        Ok(AgentView {
            agent: agent.into(),
            tools,
        })
    }

    /// Changes an agent.
    pub async fn update_agent(
        &self,
        agent_id: &str,
        update: VoiceAgentUpdate,
    ) -> Result<AgentFields> {
        if update.name.as_ref().is_some_and(|n| n.trim().is_empty()) {
            return Err(CoreError::Invalid("an agent needs a name".into()));
        }
        Ok(self
            .core
            .store
            .update_agent(self.org(), agent_id, &update)
            .await?
            .into())
    }

    /// Deletes an agent and its tool associations.
    pub async fn delete_agent(&self, agent_id: &str) -> Result<()> {
        Ok(self.core.store.delete_agent(self.org(), agent_id).await?)
    }

    /// Lists agents, newest first, filtered and paginated.
    pub async fn list_agents(
        &self,
        filter: &AgentFilter,
        page: &PageRequest,
    ) -> Result<Page<AgentFields>> {
        let page = self
            .core
            .store
            .list_agents(self.org(), filter, page)
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        })
    }

    // ----- agent tools -----

    /// Lets an agent use a tool with `input`'s settings, after checking the
    /// configuration against the tool's schema and the function names.
    pub async fn set_agent_tool(
        &self,
        agent_id: &str,
        tool_id: &str,
        input: AgentToolInput,
    ) -> Result<AgentToolView> {
        self.core.store.agent(self.org(), agent_id).await?;
        let tool = self.core.store.tool(self.org(), tool_id).await?;
        let loaded = self.core.load_tool(self.org(), &tool).await?;
        let config = if input.config.is_null() {
            Value::Object(Default::default())
        } else {
            input.config
        };
        loaded
            .tool
            .validate_config(&config)
            .await
            .map_err(|e| CoreError::InvalidConfig(e.message))?;
        let unknown: Vec<&str> = input
            .function_enables
            .keys()
            .filter(|name| loaded.tool.metadata().function(name).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(CoreError::Invalid(format!(
                "the tool `{}` has no function {}",
                tool.name,
                unknown.join(", ")
            )));
        }
        let row = self
            .core
            .store
            .upsert_agent_tool(
                self.org(),
                agent_id,
                tool_id,
                &AgentToolSettings {
                    config,
                    is_enabled: input.is_enabled,
                    function_enables: input.function_enables,
                },
            )
            .await?;
        Ok(agent_tool_view(row, tool.name))
    }

    /// The tools an agent uses.
    pub async fn agent_tools(&self, agent_id: &str) -> Result<Vec<AgentToolView>> {
        self.core.store.agent(self.org(), agent_id).await?;
        let rows = self
            .core
            .store
            .list_agent_tools(self.org(), agent_id)
            .await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            let name = self.core.store.tool(self.org(), &row.tool_id).await?.name;
            views.push(agent_tool_view(row, name));
        }
        Ok(views)
    }

    /// Stops an agent from using a tool.
    pub async fn delete_agent_tool(&self, agent_id: &str, tool_id: &str) -> Result<()> {
        Ok(self
            .core
            .store
            .delete_agent_tool(self.org(), agent_id, tool_id)
            .await?)
    }

    // ----- audit -----

    /// Invocation records, newest first.
    pub async fn list_invocations(
        &self,
        filter: &InvocationFilter,
        page: &PageRequest,
    ) -> Result<Page<Invocation>> {
        Ok(self
            .core
            .store
            .list_invocations(self.org(), filter, page)
            .await?)
    }

    /// Call statistics of a tool over a window.
    pub async fn tool_health(
        &self,
        tool_id: &str,
        since: DateTime<Utc>,
    ) -> Result<InvocationStats> {
        self.core.store.tool(self.org(), tool_id).await?;
        let filter = InvocationFilter {
            tool_id: Some(tool_id.to_owned()),
            since: Some(since),
            ..InvocationFilter::default()
        };
        Ok(self
            .core
            .store
            .invocation_stats(self.org(), &filter)
            .await?)
    }
}

fn agent_tool_view(row: AgentTool, tool_name: String) -> AgentToolView {
    AgentToolView {
        tool_id: row.tool_id,
        tool_name,
        config: row.config,
        is_enabled: row.is_enabled,
        function_enables: row.function_enables,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

//! The safe tier: the tool catalogue, agents, their tool associations and
//! write-only secrets, as the management API sees them.
//!
//! Nothing in this module can yield secret material: the views have no field
//! for it, secrets go in through [`Catalog::set_secret`] and come back out only
//! as [`SecretStatus`] (name, whether set, when updated). Opening secrets is
//! the worker tier's business ([`crate::worker`]), at call time.

use crate::error::{CoreError, Result};
use crate::{Core, Principal};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use warden_sandbox::ToolMetadata;
use warden_store::{
    AgentFilter, AgentTool, AgentToolSettings, Invocation, InvocationFilter, InvocationStats,
    NewToolFunction, NewToolVersion, NewVoiceAgent, Page, PageRequest, Tool as ToolRow, VoiceAgent,
    VoiceAgentUpdate,
};

/// The organization-scoped management operations. Obtained from
/// [`Core::catalog`] with an authenticated [`Principal`].
pub struct Catalog<'a> {
    core: &'a Core,
    organization_id: String,
}

/// A tool as the management API shows it: no secret values, ever.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Tool))]
pub struct ToolView {
    /// The tool's id.
    pub id: String,
    /// Its name, e.g. `google_calendar`.
    pub name: String,
    /// `true` for a platform tool (available to every organization).
    pub platform: bool,
    /// What the tool is for.
    pub description: String,
    /// The version calls run.
    pub version: String,
    /// SHA-256 of the component.
    pub sha256: String,
    /// JSON Schema of the per-agent configuration.
    pub config_schema: Value,
    /// The functions it offers.
    pub functions: Vec<FunctionView>,
    /// Where it may send requests.
    pub allowed_hosts: Vec<String>,
    /// Credentials the host injects (names only: which secret, which header,
    /// which hosts).
    pub credentials: Vec<CredentialView>,
    /// OAuth2 endpoints and scopes, if the tool uses OAuth2.
    pub oauth: Option<OAuthView>,
    /// The secrets it declares, with whether this organization has set them.
    pub secrets: Vec<SecretStatus>,
    /// When the tool was first installed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A function of a tool.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Function))]
pub struct FunctionView {
    /// The function's name.
    pub name: String,
    /// What it does, for the LLM.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
    /// Whether it changes nothing upstream.
    pub read_only: bool,
}

/// A credential the host injects, without any value.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Credential))]
pub struct CredentialView {
    /// The secret it injects.
    pub secret: String,
    /// The header it sets.
    pub header: String,
    /// The hosts it is sent to.
    pub hosts: Vec<String>,
}

/// OAuth2 settings of a tool.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OAuth))]
pub struct OAuthView {
    /// Where operators obtain the first grant.
    pub authorize_url: String,
    /// Where the host refreshes tokens.
    pub token_url: String,
    /// The scopes the tool needs.
    pub scopes: Vec<String>,
}

/// A secret's status: never its value.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Secret))]
pub struct SecretStatus {
    /// The secret's name.
    pub name: String,
    /// What the operator must provide.
    pub description: String,
    /// Whether the tool cannot work without it.
    pub required: bool,
    /// Whether this organization has set it.
    pub is_set: bool,
    /// When it was last set.
    pub updated_at: Option<DateTime<Utc>>,
}

/// What installing a component did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Installed {
    /// The tool, now at the installed version.
    pub tool: ToolView,
    /// `false` when these exact bytes were already installed (nothing changed).
    pub created: bool,
}

/// What [`Core::install_bundled_tool`] did with a tool shipped in Warden's binary.
#[derive(Debug, Clone)]
pub enum BundledInstall {
    /// Installed now, or found installed with these exact bytes.
    Installed(Box<Installed>),
    /// The same version of the tool is installed with other bytes and stays
    /// current: an installed version never changes. `reason` says which.
    Kept {
        /// The conflict, naming the tool and the version.
        reason: String,
    },
}

/// An agent with, optionally, its tool associations.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Agent))]
pub struct AgentView {
    /// The agent.
    #[serde(flatten)]
    pub agent: AgentFields,
    /// Its tools: present with `include_tools=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<AgentToolView>>,
}

/// The fields of a voice agent.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentFields {
    /// The agent's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The system prompt the voice agent runs with.
    pub system_prompt: String,
    /// Whether it takes calls.
    pub is_active: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<AgentFields> for AgentView {
    fn from(agent: AgentFields) -> Self {
        AgentView { agent, tools: None }
    }
}

impl From<VoiceAgent> for AgentFields {
    fn from(a: VoiceAgent) -> Self {
        AgentFields {
            id: a.id,
            name: a.name,
            description: a.description,
            system_prompt: a.system_prompt,
            is_active: a.is_active,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// An agent's use of a tool.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AgentTool))]
pub struct AgentToolView {
    /// The tool's id.
    pub tool_id: String,
    /// The tool's name.
    pub tool_name: String,
    /// The tool's configuration for this agent (no secrets: those are set per
    /// organization and tool, write-only).
    pub config: Value,
    /// Whether the agent may use the tool at all.
    pub is_enabled: bool,
    /// Per-function switches; a function not listed is enabled.
    pub function_enables: BTreeMap<String, bool>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Settings for an agent's use of a tool.
#[derive(Debug, Clone)]
pub struct AgentToolInput {
    /// Configuration, validated against the tool's `config-schema`.
    pub config: Value,
    /// Whether the agent may use the tool.
    pub is_enabled: bool,
    /// Per-function switches; names must be functions of the tool.
    pub function_enables: BTreeMap<String, bool>,
}

impl Core {
    /// The management operations of the principal's organization.
    pub fn catalog(&self, principal: &Principal) -> Catalog<'_> {
        Catalog {
            core: self,
            organization_id: principal.organization_id.clone(),
        }
    }

    /// Installs a component as a platform tool (available to every
    /// organization): the operator's path, e.g. for bundled tools.
    pub async fn install_platform_tool(&self, component: Vec<u8>) -> Result<Installed> {
        install(self, None, component).await
    }

    /// Installs a tool bundled with Warden, at start-up. As
    /// [`Core::install_platform_tool`], except that the same version already
    /// installed with other bytes is kept rather than refused: another build
    /// of the same source (a checkout moved, another compiler) gives other
    /// bytes, and that must not stop Warden from starting on its database.
    /// Shipping a change to a bundled tool takes a new version.
    pub async fn install_bundled_tool(&self, component: Vec<u8>) -> Result<BundledInstall> {
        match install(self, None, component).await {
            Ok(installed) => Ok(BundledInstall::Installed(Box::new(installed))),
            Err(CoreError::Conflict(reason)) => Ok(BundledInstall::Kept { reason }),
            Err(error) => Err(error),
        }
    }
}

/// Validates a component in the sandbox and stores it as a new version.
async fn install(
    core: &Core,
    organization_id: Option<&str>,
    component: Vec<u8>,
) -> Result<Installed> {
    let tool = core
        .sandbox
        .load_for(
            component.clone(),
            organization_id.unwrap_or(warden_sandbox::HOST_TENANT),
        )
        .await
        .map_err(|e| CoreError::InvalidComponent(e.message))?;
    let metadata = tool.metadata();
    let earlier = earlier_versions(core, organization_id, &metadata.name).await?;
    crate::versions::check(&earlier, metadata)?;
    let installed = core
        .store
        .install_tool_version(&NewToolVersion {
            organization_id: organization_id.map(str::to_owned),
            name: metadata.name.clone(),
            description: metadata.description.clone(),
            version: metadata.version.clone(),
            component,
            metadata: serde_json::to_value(metadata)
                .map_err(|e| CoreError::Invalid(format!("metadata: {e}")))?,
            functions: metadata
                .functions
                .iter()
                .map(|f| NewToolFunction {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    parameters: f.parameters.clone(),
                    read_only: f.read_only,
                })
                .collect(),
        })
        .await?;
    let org_for_view = organization_id.unwrap_or("");
    Ok(Installed {
        tool: tool_view(core, org_for_view, installed.tool).await?,
        created: installed.created,
    })
}

/// The metadata of every installed version of the tool `name` that
/// `organization_id` owns (`None`: the platform tool).
async fn earlier_versions(
    core: &Core,
    organization_id: Option<&str>,
    name: &str,
) -> Result<Vec<ToolMetadata>> {
    let existing = match organization_id {
        Some(org) => core.store.tool_by_name(org, name).await,
        None => core.store.platform_tool_by_name(name).await,
    };
    let tool = match existing {
        // An organization's own tool, or the platform's, never the other.
        Ok(tool) if tool.organization_id.as_deref() == organization_id => tool,
        Ok(_) | Err(warden_store::StoreError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let versions = core
        .store
        .list_tool_versions(organization_id.unwrap_or(""), &tool.id)
        .await?;
    versions
        .into_iter()
        .map(|v| {
            serde_json::from_value(v.metadata)
                .map_err(|e| CoreError::Invalid(format!("stored metadata is unreadable: {e}")))
        })
        .collect()
}

/// The metadata of a tool's current version.
pub(crate) async fn current_metadata(
    core: &Core,
    organization_id: &str,
    tool: &ToolRow,
) -> Result<(String, String, ToolMetadata)> {
    let current = tool
        .current_version
        .as_ref()
        .ok_or(CoreError::NotFound("tool version"))?;
    let version = core
        .store
        .tool_version(organization_id, &current.id)
        .await?;
    let metadata: ToolMetadata = serde_json::from_value(version.metadata)
        .map_err(|e| CoreError::Invalid(format!("stored metadata is unreadable: {e}")))?;
    Ok((current.id.clone(), current.sha256.clone(), metadata))
}

async fn tool_view(core: &Core, organization_id: &str, tool: ToolRow) -> Result<ToolView> {
    let (_, sha256, metadata) = current_metadata(core, organization_id, &tool).await?;
    let set: BTreeMap<String, DateTime<Utc>> = if organization_id.is_empty() {
        BTreeMap::new()
    } else {
        core.store
            .list_secrets(organization_id, &tool.id)
            .await?
            .into_iter()
            .map(|s| (s.name, s.updated_at))
            .collect()
    };
    Ok(ToolView {
        id: tool.id,
        name: tool.name,
        platform: tool.organization_id.is_none(),
        description: metadata.description,
        version: metadata.version,
        sha256,
        config_schema: metadata.config_schema,
        functions: metadata
            .functions
            .into_iter()
            .map(|f| FunctionView {
                name: f.name,
                description: f.description,
                parameters: f.parameters,
                read_only: f.read_only,
            })
            .collect(),
        allowed_hosts: metadata.allowed_hosts,
        credentials: metadata
            .credentials
            .into_iter()
            .map(|c| CredentialView {
                secret: c.secret,
                header: c.header,
                hosts: c.hosts,
            })
            .collect(),
        oauth: metadata.oauth.map(|o| OAuthView {
            authorize_url: o.authorize_url,
            token_url: o.token_url,
            scopes: o.scopes,
        }),
        secrets: metadata
            .secrets
            .into_iter()
            .map(|s| SecretStatus {
                is_set: set.contains_key(&s.name),
                updated_at: set.get(&s.name).copied(),
                name: s.name,
                description: s.description,
                required: s.required,
            })
            .collect(),
        created_at: tool.created_at,
        updated_at: tool.updated_at,
    })
}

impl Catalog<'_> {
    /// The organization this catalogue is scoped to.
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    fn org(&self) -> &str {
        &self.organization_id
    }

    // ----- tools -----

    /// Installs a component as a tool private to this organization. Installing
    /// the same bytes again changes nothing; a new version of the same tool
    /// becomes its current version.
    /// One of an organization's uploads runs at a time
    /// ([`MAX_CONCURRENT_UPLOADS_PER_ORGANIZATION`](crate::MAX_CONCURRENT_UPLOADS_PER_ORGANIZATION));
    /// the next few wait their turn, and more are refused as
    /// [`CoreError::Busy`]
    /// ([`MAX_PENDING_UPLOADS_PER_ORGANIZATION`](crate::MAX_PENDING_UPLOADS_PER_ORGANIZATION)).
    pub async fn install_tool(&self, component: Vec<u8>) -> Result<Installed> {
        let slot = self.core.upload_slot(self.org())?;
        let _turn = slot.turn().await;
        install(self.core, Some(self.org()), component).await
    }

    /// Every tool this organization can use: platform tools and its own.
    pub async fn list_tools(&self) -> Result<Vec<ToolView>> {
        let mut views = Vec::new();
        for tool in self.core.store.list_tools(self.org()).await? {
            views.push(tool_view(self.core, self.org(), tool).await?);
        }
        Ok(views)
    }

    /// One tool, if this organization can use it.
    pub async fn tool(&self, tool_id: &str) -> Result<ToolView> {
        let tool = self.core.store.tool(self.org(), tool_id).await?;
        tool_view(self.core, self.org(), tool).await
    }

    /// Deletes one of this organization's own tools (platform tools are the
    /// operator's and cannot be deleted here).
    pub async fn delete_tool(&self, tool_id: &str) -> Result<()> {
        Ok(self
            .core
            .store
            .delete_tool(Some(self.org()), tool_id)
            .await?)
    }

    // ----- secrets (write-only) -----

    /// Sets a secret the tool declares, sealed under the primary key.
    pub async fn set_secret(
        &self,
        tool_id: &str,
        name: &str,
        value: SecretString,
    ) -> Result<SecretStatus> {
        let tool = self.core.store.tool(self.org(), tool_id).await?;
        let (_, _, metadata) = current_metadata(self.core, self.org(), &tool).await?;
        let Some(spec) = metadata.secrets.iter().find(|s| s.name == name) else {
            return Err(CoreError::UnknownName(format!(
                "the tool `{}` declares no secret `{name}` (it declares: {})",
                metadata.name,
                metadata
                    .secrets
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let info = self
            .core
            .store
            .put_secret(&self.core.keys, self.org(), tool_id, name, &value)
            .await?;
        Ok(SecretStatus {
            name: info.name,
            description: spec.description.clone(),
            required: spec.required,
            is_set: true,
            updated_at: Some(info.updated_at),
        })
    }

    /// The tool's declared secrets and whether each is set — never values.
    pub async fn list_secrets(&self, tool_id: &str) -> Result<Vec<SecretStatus>> {
        Ok(self.tool(tool_id).await?.secrets)
    }

    /// Deletes a secret's value.
    pub async fn delete_secret(&self, tool_id: &str, name: &str) -> Result<()> {
        self.core.store.tool(self.org(), tool_id).await?;
        Ok(self
            .core
            .store
            .delete_secret(self.org(), tool_id, name)
            .await?)
    }

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

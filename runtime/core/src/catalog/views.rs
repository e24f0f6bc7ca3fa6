//! What the catalogue returns: the management API's wire format, with its
//! schemas derived here (`openapi` feature). No view has a field for secret
//! material.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use warden_store::VoiceAgent;

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
    /// Whether this organization's account is connected (its refresh token
    /// is set): `POST /v1/tools/{tool_id}/oauth/start` connects it.
    pub connected: bool,
    /// When the refresh token was last set: the account connected, or the
    /// provider rotated the token.
    pub connected_at: Option<DateTime<Utc>>,
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

/// What installing a component would install, checked as an upload is
/// checked, with nothing stored.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolPreview {
    /// Its name, e.g. `google_calendar`.
    pub name: String,
    /// What the tool is for.
    pub description: String,
    /// The version it declares.
    pub version: String,
    /// SHA-256 of the component.
    pub sha256: String,
    /// JSON Schema of the per-agent configuration.
    pub config_schema: Value,
    /// The functions it offers.
    pub functions: Vec<FunctionView>,
    /// Where it may send requests.
    pub allowed_hosts: Vec<String>,
    /// Credentials the host injects (names only).
    pub credentials: Vec<CredentialView>,
    /// OAuth2 endpoints and scopes, if the tool uses OAuth2.
    pub oauth: Option<OAuthView>,
    /// The secrets it declares, with whether this organization has set them
    /// for its tool of that name.
    pub secrets: Vec<SecretStatus>,
    /// The version of this organization's tool of that name that calls run
    /// now, which installing would replace (`null`: a new tool).
    pub replaces_version: Option<String>,
    /// `true` when these exact bytes are already this organization's
    /// current version (installing would change nothing).
    pub installed: bool,
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

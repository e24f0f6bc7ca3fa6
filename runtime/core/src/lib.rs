//! `warden-core`: Warden's domain services on top of the store and the
//! sandbox.
//!
//! * Organizations and API keys ([`Core::create_organization`],
//!   [`Core::authenticate`]); the operator's worker tokens for the worker
//!   plane ([`Core::create_worker_token`], [`Core::authenticate_worker`]);
//!   call sessions and their short-lived MCP tokens, scoped to one agent
//!   ([`Core::open_call_session`], [`Core::authenticate_session`],
//!   [`Core::end_call_session`]).
//! * **The safe tier**, [`Catalog`]: the tool catalogue, voice agents, their
//!   tool associations, write-only secrets and the audit trail, all scoped to
//!   one organization. Its views have no field and its methods no return
//!   value that holds secret material.
//! * **The worker tier** ([`Core::toolset`], [`Core::invoke`]): an agent's
//!   functions as LLM schemas, and the invocation pipeline — the only code
//!   that opens secrets, at call time, fresh from the store on every call.
//!
//! Every method takes the organization it acts for and never reaches another
//! organization's rows: the store filters every query by it.

mod audit;
mod auth;
mod calls;
mod catalog;
mod console;
mod error;
mod invocations;
mod oauth;
mod once;
mod sessions;
mod telemetry;
mod versions;
mod worker;

pub use auth::{
    API_KEY_PREFIX, IssuedApiKey, IssuedWorkerToken, Principal, WORKER_TOKEN_PREFIX,
    WorkerPrincipal,
};
pub use calls::{LiveKitLink, SESSION_FAILED, StartedCall, WebhookOutcome};
pub use catalog::{
    AgentFields, AgentToolInput, AgentToolView, AgentView, BundledInstall, Catalog, CredentialView,
    FunctionView, Installed, OAuthView, SecretStatus, ToolPreview, ToolView,
};
pub use console::{
    CONSOLE_SESSION_PREFIX, CONSOLE_SESSION_TTL, ConsoleSessionView, ConsoleSignIn,
    MAX_CONSOLE_SESSIONS_PER_KEY,
};
pub use error::{CoreError, Result};
pub use invocations::{ErrorCount, InvocationView, ToolHealth};
pub use oauth::{
    BrowserBinding, MAX_PENDING_OAUTH_PER_ORGANIZATION, OAUTH_STATE_TTL, OAuthCallback,
    OAuthConnected, OAuthDisconnected, OAuthFailure, OAuthStarted, browser_binding_cookie,
};
pub use once::DEFAULT_CALL_OUTCOME_TTL;
pub use sessions::{
    CallNumbers, DEFAULT_SESSION_TTL, InboundCall, IssuedCallSession, MAX_SESSION_TTL,
    SESSION_ACTIVE, SESSION_ENDED, SESSION_TOKEN_PREFIX, SessionPrincipal,
};
pub use worker::{
    FunctionSchema, InvocationRequest, Invoked, MAX_CALL_ID_CHARS, NAME_SEPARATOR,
    PreparedInvocation, Toolset,
};

// The store's and the sandbox's types that core's methods take and return:
// the layers above core speak only core's vocabulary.
pub use warden_sandbox::{
    CallDirection as PhoneCallDirection, ConnectError, Error as ToolCallError, ErrorKind,
    FunctionHints, HostPattern, HttpGrants, Limits, MAX_QUALIFIED_NAME, Origin, PhoneCall,
    is_valid_name,
};
pub use warden_store::{
    AgentFilter, CallDirection, Invocation, InvocationFilter, InvocationStats, KeyRing,
    NewVoiceAgent, Organization, OutcomeBudget, PageRequest, VoiceAgent, VoiceAgentUpdate,
    WorkerToken,
};

use std::sync::Arc;
use warden_sandbox::{Sandbox, Tool};
use warden_store::{Store, Tool as ToolRow};

/// How the core runs tools.
#[derive(Debug, Clone, Default)]
pub struct CoreSettings {
    /// Operator grants for outbound HTTP (e.g. private networks for
    /// on-premises services): for the platform's tools, and for the
    /// organizations' own tools only as [`CoreSettings::organization_grants`]
    /// says. Denials apply to every tool.
    pub http: HttpGrants,
    /// Whose uploaded tools get [`CoreSettings::http`]'s grants too.
    pub organization_grants: OrganizationGrants,
    /// Limits for every call; `None` uses the sandbox's defaults.
    pub limits: Option<Limits>,
    /// Operator grants of more linear memory than the limits above, in
    /// bytes, by tool name: for the platform's tools of that name, and for
    /// organizations' own tools of that name only as
    /// [`CoreSettings::organization_grants`] says. The sandbox's
    /// `max_memory_bytes` must be at least the largest.
    pub tool_memory: std::collections::BTreeMap<String, usize>,
    /// LiveKit, for phone calls and webhooks; `None` answers both with
    /// [`CoreError::NotConfigured`].
    pub livekit: Option<LiveKitLink>,
    /// How long the recorded outcome of an exactly-once call answers its
    /// retries; `None` is [`DEFAULT_CALL_OUTCOME_TTL`].
    pub call_outcome_ttl: Option<std::time::Duration>,
    /// How much of its recorded outcomes one organization keeps before its oldest go
    /// (the default is [`OutcomeBudget::default`]).
    pub call_outcome_budget: OutcomeBudget,
}

/// Which organizations' own tools the operator's grants extend to. Tools an
/// organization uploads are its own code: by default they get the
/// operator's denials only, never the private network, extra hosts,
/// credential hosts or a token endpoint the operator set up for the
/// platform's tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OrganizationGrants {
    /// No organization's tools (the default).
    #[default]
    None,
    /// These organizations' tools (by organization id).
    Only(std::collections::BTreeSet<String>),
    /// Every organization's tools: for single-tenant deployments and
    /// development, where the operator trusts every uploader.
    All,
}

impl OrganizationGrants {
    /// Whether tools `organization_id` uploaded get the operator's grants.
    pub fn covers(&self, organization_id: &str) -> bool {
        match self {
            OrganizationGrants::None => false,
            OrganizationGrants::Only(ids) => ids.contains(organization_id),
            OrganizationGrants::All => true,
        }
    }
}

impl CoreSettings {
    /// [`CoreSettings::call_outcome_ttl`], or its default.
    pub fn call_outcome_ttl(&self) -> std::time::Duration {
        self.call_outcome_ttl.unwrap_or(DEFAULT_CALL_OUTCOME_TTL)
    }

    /// The grants a call of `tool` gets: all of them for the platform's
    /// tools and for organizations the operator named, denials only for
    /// everyone else's.
    pub(crate) fn grants_for(&self, tool: &ToolRow) -> HttpGrants {
        match &tool.organization_id {
            Some(owner) if !self.organization_grants.covers(owner) => self.http.denials_only(),
            _ => self.http.clone(),
        }
    }

    /// The limits a call of `tool` runs under: [`CoreSettings::limits`],
    /// with the memory the operator granted `tool` where the grant reaches
    /// it (as [`CoreSettings::grants_for`] decides).
    pub(crate) fn limits_for(&self, tool: &ToolRow) -> Option<Limits> {
        let granted = self.tool_memory.get(&tool.name).copied();
        let covered = tool
            .organization_id
            .as_deref()
            .is_none_or(|owner| self.organization_grants.covers(owner));
        match granted {
            Some(memory_bytes) if covered => Some(Limits {
                memory_bytes,
                ..self.limits.clone().unwrap_or_default()
            }),
            _ => self.limits.clone(),
        }
    }
}

/// The domain services. Cheap to clone: a clone (the server makes several per
/// request) only counts references.
#[derive(Clone)]
pub struct Core {
    store: Store,
    sandbox: Sandbox,
    keys: Arc<KeyRing>,
    settings: Arc<CoreSettings>,
    audit: audit::AuditWriter,
    metrics: telemetry::Metrics,
    /// Uploads in progress or waiting, per organization.
    uploads: Arc<std::sync::Mutex<std::collections::HashMap<String, Uploads>>>,
}

/// Uploads (`Catalog::install_tool`) of one organization that run at once;
/// the others wait their turn. Compiling a component is the costliest thing
/// a tenant can ask for.
pub const MAX_CONCURRENT_UPLOADS_PER_ORGANIZATION: usize = 1;
/// Uploads of one organization in progress or waiting; more are refused as
/// [`CoreError::Busy`].
pub const MAX_PENDING_UPLOADS_PER_ORGANIZATION: usize = 4;

/// One organization's uploads: the turns, and how many hold or wait for one.
struct Uploads {
    turns: Arc<tokio::sync::Semaphore>,
    pending: usize,
}

/// Counts an organization's upload, running or waiting, while it lives.
pub(crate) struct UploadSlot {
    uploads: Arc<std::sync::Mutex<std::collections::HashMap<String, Uploads>>>,
    organization_id: String,
    turns: Arc<tokio::sync::Semaphore>,
}

impl UploadSlot {
    /// Waits for this upload's turn.
    pub(crate) async fn turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.turns
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = uploads.get_mut(&self.organization_id) {
            entry.pending -= 1;
            if entry.pending == 0 {
                uploads.remove(&self.organization_id);
            }
        }
    }
}

/// A tool's current version, loaded into the sandbox.
pub(crate) struct LoadedTool {
    pub version_id: String,
    pub tool: Tool,
}

impl Core {
    /// Builds the core over a migrated store, a sandbox and the key ring.
    pub fn new(store: Store, sandbox: Sandbox, keys: KeyRing, settings: CoreSettings) -> Core {
        Core {
            metrics: telemetry::Metrics::new(&sandbox),
            store,
            sandbox,
            keys: Arc::new(keys),
            settings: Arc::new(settings),
            audit: audit::AuditWriter::default(),
            uploads: Arc::default(),
        }
    }

    /// A place in `organization_id`'s upload queue, or `Busy` when it is
    /// full.
    pub(crate) fn upload_slot(&self, organization_id: &str) -> Result<UploadSlot> {
        let mut uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        let entry = uploads
            .entry(organization_id.to_owned())
            .or_insert_with(|| Uploads {
                turns: Arc::new(tokio::sync::Semaphore::new(
                    MAX_CONCURRENT_UPLOADS_PER_ORGANIZATION,
                )),
                pending: 0,
            });
        if entry.pending >= MAX_PENDING_UPLOADS_PER_ORGANIZATION {
            return Err(CoreError::Busy(format!(
                "this organization already has {MAX_PENDING_UPLOADS_PER_ORGANIZATION} uploads \
                 in progress; try again when one has finished"
            )));
        }
        entry.pending += 1;
        Ok(UploadSlot {
            uploads: self.uploads.clone(),
            organization_id: organization_id.to_owned(),
            turns: entry.turns.clone(),
        })
    }

    /// Every organization (an operator's view: no principal scopes it).
    pub async fn list_organizations(&self) -> Result<Vec<warden_store::Organization>> {
        Ok(self.store.list_organizations().await?)
    }

    /// Every worker token's record (never the token itself).
    pub async fn list_worker_tokens(&self) -> Result<Vec<warden_store::WorkerToken>> {
        Ok(self.store.list_worker_tokens().await?)
    }

    /// Readiness: whether the store answers.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Re-seals every stored secret under the key ring's primary key and
    /// returns how many records changed.
    pub async fn rewrap_secrets(&self) -> Result<u64> {
        Ok(self.store.rewrap_secrets(&self.keys).await?)
    }

    /// The sandbox's compiled tool for `tool`'s current version: from the
    /// sandbox's content-addressed cache, or loaded from the stored bytes.
    pub(crate) async fn load_tool(
        &self,
        organization_id: &str,
        tool: &ToolRow,
    ) -> Result<LoadedTool> {
        let current = tool
            .current_version
            .as_ref()
            .ok_or(CoreError::NotFound("tool version"))?;
        if let Some(loaded) = self.sandbox.loaded(&current.sha256) {
            return Ok(LoadedTool {
                version_id: current.id.clone(),
                tool: loaded,
            });
        }
        let bytes = self
            .store
            .tool_component(organization_id, &current.id)
            .await?;
        let loaded = self
            .sandbox
            .load_for(bytes, organization_id)
            .await
            .map_err(|e| CoreError::InvalidComponent(e.message))?;
        Ok(LoadedTool {
            version_id: current.id.clone(),
            tool: loaded,
        })
    }
}

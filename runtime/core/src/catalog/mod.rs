//! The safe tier: the tool catalogue, agents, their tool associations and
//! write-only secrets, as the management API sees them.
//!
//! Nothing in this module can yield secret material: the views have no field
//! for it, secrets go in through [`Catalog::set_secret`] and come back out only
//! as [`SecretStatus`] (name, whether set, when updated). Opening secrets is
//! the worker tier's business ([`crate::worker`]), at call time.
//!
//! `views.rs` holds the shapes the catalogue returns (the API's wire format),
//! `install.rs` validates and installs components, `agents.rs` the agents,
//! their tools and the audit queries.

mod agents;
mod install;
mod views;

pub(crate) use install::current_metadata;
pub use views::{
    AgentFields, AgentToolInput, AgentToolView, AgentView, BundledInstall, CredentialView,
    FunctionView, Installed, OAuthView, SecretStatus, ToolPreview, ToolView,
};

use crate::Core;
use crate::error::{CoreError, Result};
use install::{install, tool_view};
use secrecy::SecretString;

/// The organization-scoped management operations. Obtained from
/// [`Core::catalog`] with an authenticated [`Principal`](crate::Principal).
pub struct Catalog<'a> {
    core: &'a Core,
    organization_id: String,
}

impl Catalog<'_> {
    /// The organization this catalogue is scoped to.
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    pub(crate) fn org(&self) -> &str {
        &self.organization_id
    }

    pub(crate) fn core(&self) -> &Core {
        self.core
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

    /// What installing `component` would install, after every check an
    /// upload makes (the sandbox's load, and the earlier versions' secrets
    /// and credential hosts); nothing is stored. It takes an upload's turn
    /// ([`Catalog::install_tool`]).
    pub async fn inspect_tool(&self, component: Vec<u8>) -> Result<ToolPreview> {
        let slot = self.core.upload_slot(self.org())?;
        let _turn = slot.turn().await;
        install::inspect(self.core, self.org(), component).await
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
}

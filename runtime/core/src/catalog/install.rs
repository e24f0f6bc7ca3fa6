//! Installing components: validated in the sandbox, checked against earlier
//! versions, stored as a new version; and the tool view built from what is
//! stored.

use super::Catalog;
use super::views::*;
use crate::error::{CoreError, Result};
use crate::{Core, Principal};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use warden_sandbox::ToolMetadata;
use warden_store::{NewToolFunction, NewToolVersion, Tool as ToolRow};

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
pub(super) async fn install(
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
            metadata: metadata
                .to_stored()
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

/// [`Catalog::inspect_tool`]: the checks of [`install`], and the view of
/// what it would store.
pub(super) async fn inspect(
    core: &Core,
    organization_id: &str,
    component: Vec<u8>,
) -> Result<ToolPreview> {
    let sha256 = warden_store::sha256_hex(&component);
    let tool = core
        .sandbox
        .load_for(component, organization_id)
        .await
        .map_err(|e| CoreError::InvalidComponent(e.message))?;
    let metadata = tool.metadata().clone();
    let earlier = earlier_versions(core, Some(organization_id), &metadata.name).await?;
    crate::versions::check(&earlier, &metadata)?;
    let current = match core
        .store
        .tool_by_name(organization_id, &metadata.name)
        .await
    {
        Ok(tool) if tool.organization_id.as_deref() == Some(organization_id) => {
            Some(tool_view(core, organization_id, tool).await?)
        }
        Ok(_) | Err(warden_store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let set: BTreeMap<String, DateTime<Utc>> = current
        .iter()
        .flat_map(|view| &view.secrets)
        .filter_map(|s| Some((s.name.clone(), s.updated_at?)))
        .collect();
    let name = metadata.name.clone();
    let described = Described::new(metadata, &set);
    Ok(ToolPreview {
        name,
        description: described.description,
        version: described.version,
        installed: current.as_ref().is_some_and(|view| view.sha256 == sha256),
        replaces_version: current.map(|view| view.version),
        sha256,
        config_schema: described.config_schema,
        functions: described.functions,
        allowed_hosts: described.allowed_hosts,
        credentials: described.credentials,
        oauth: described.oauth,
        secrets: described.secrets,
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
            ToolMetadata::from_stored(v.metadata)
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
    let metadata = ToolMetadata::from_stored(version.metadata)
        .map_err(|e| CoreError::Invalid(format!("stored metadata is unreadable: {e}")))?;
    Ok((current.id.clone(), current.sha256.clone(), metadata))
}

pub(super) async fn tool_view(
    core: &Core,
    organization_id: &str,
    tool: ToolRow,
) -> Result<ToolView> {
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
    let described = Described::new(metadata, &set);
    Ok(ToolView {
        id: tool.id,
        name: tool.name,
        platform: tool.organization_id.is_none(),
        description: described.description,
        version: described.version,
        sha256,
        config_schema: described.config_schema,
        functions: described.functions,
        allowed_hosts: described.allowed_hosts,
        credentials: described.credentials,
        oauth: described.oauth,
        secrets: described.secrets,
        created_at: tool.created_at,
        updated_at: tool.updated_at,
    })
}

/// What a tool's metadata says, as the management API shows it, with which
/// of its secrets an organization has set (`set`: name → when).
pub(super) struct Described {
    pub(super) description: String,
    pub(super) version: String,
    pub(super) config_schema: serde_json::Value,
    pub(super) functions: Vec<FunctionView>,
    pub(super) allowed_hosts: Vec<String>,
    pub(super) credentials: Vec<CredentialView>,
    pub(super) oauth: Option<OAuthView>,
    pub(super) secrets: Vec<SecretStatus>,
}

impl Described {
    pub(super) fn new(metadata: ToolMetadata, set: &BTreeMap<String, DateTime<Utc>>) -> Described {
        Described {
            description: metadata.description,
            version: metadata.version,
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
                connected: set.contains_key("refresh_token"),
                connected_at: set.get("refresh_token").copied(),
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
        }
    }
}

//! The tool catalogue: tools (platform-wide or private to an organization), their
//! content-addressed versions, and the functions each version offers.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError, is_conflict};
use crate::row::{RowExt, json_text, micros, new_id, now};
use crate::store::Store;

/// A tool in the catalogue (table `platform_tools`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// UUIDv7.
    pub id: String,
    /// `None` for a platform tool (visible to every organization), otherwise the
    /// organization the tool is private to.
    pub organization_id: Option<String>,
    /// The tool's name from its metadata; unique among platform tools and within an
    /// organization (an organization's tool may share a platform tool's name).
    pub name: String,
    /// The current version's description.
    pub description: String,
    /// The version calls use, if any.
    pub current_version: Option<ToolVersionRef>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed (a version installed, …).
    pub updated_at: DateTime<Utc>,
}

/// Enough of a version to run it: the sandbox caches components by `sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolVersionRef {
    /// The version's id.
    pub id: String,
    /// The version string from the metadata.
    pub version: String,
    /// SHA-256 of the component, lower-case hex.
    pub sha256: String,
}

/// A tool version, without its component bytes ([`Store::tool_component`] has those).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolVersion {
    /// UUIDv7.
    pub id: String,
    /// The tool.
    pub tool_id: String,
    /// The version string from the metadata; unique per tool.
    pub version: String,
    /// SHA-256 of the component, lower-case hex; unique per tool.
    pub sha256: String,
    /// Size of the component in bytes.
    pub component_size: i64,
    /// The component's metadata, as JSON.
    pub metadata: Value,
    /// When installed.
    pub created_at: DateTime<Utc>,
}

/// A function of a version being installed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToolFunction {
    /// The function's name.
    pub name: String,
    /// What the function does.
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    /// The function changes nothing.
    pub read_only: bool,
}

/// A component to install (see [`Store::install_tool_version`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewToolVersion {
    /// `None` installs a platform tool; otherwise the organization's private tool.
    pub organization_id: Option<String>,
    /// The tool's name (from the metadata).
    pub name: String,
    /// The tool's description (from the metadata).
    pub description: String,
    /// The version string (from the metadata).
    pub version: String,
    /// The component's bytes; the store computes their SHA-256.
    pub component: Vec<u8>,
    /// The metadata, as JSON.
    pub metadata: Value,
    /// The functions the metadata declares.
    pub functions: Vec<NewToolFunction>,
}

/// What [`Store::install_tool_version`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledVersion {
    /// The tool, with its current version.
    pub tool: Tool,
    /// The version with the installed bytes.
    pub version: ToolVersion,
    /// `false` when the same bytes were already installed for this tool (nothing changed).
    pub created: bool,
}

const TOOL_SELECT: &str = "SELECT t.id, t.organization_id, t.name, t.description, \
     t.created_at, t.updated_at, v.id AS version_id, v.version AS version_version, \
     v.sha256 AS version_sha256 \
     FROM platform_tools t LEFT JOIN tool_versions v ON v.id = t.current_version_id";

const VERSION_SELECT: &str = "SELECT v.id, v.tool_id, v.version, v.sha256, \
     LENGTH(v.component) AS component_size, v.metadata, v.created_at \
     FROM tool_versions v JOIN platform_tools t ON t.id = v.tool_id";

/// `t` (platform_tools) is visible to the organization `$1`.
const VISIBLE: &str = "(t.organization_id IS NULL OR t.organization_id = $1)";

fn tool(row: &AnyRow) -> Result<Tool> {
    let current_version = match row.opt_text("version_id")? {
        Some(id) => Some(ToolVersionRef {
            id,
            version: row.text("version_version")?,
            sha256: row.text("version_sha256")?,
        }),
        None => None,
    };
    Ok(Tool {
        id: row.text("id")?,
        organization_id: row.opt_text("organization_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        current_version,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn version(row: &AnyRow) -> Result<ToolVersion> {
    Ok(ToolVersion {
        id: row.text("id")?,
        tool_id: row.text("tool_id")?,
        version: row.text("version")?,
        sha256: row.text("sha256")?,
        component_size: row.int("component_size")?,
        metadata: row.json("metadata")?,
        created_at: row.time("created_at")?,
    })
}

/// SHA-256 of `bytes`, lower-case hex: a component's content address.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Store {
    /// Installs a component as a version of the tool `(organization, name)`, in one
    /// transaction: creates the tool if it is new, inserts the version and its functions,
    /// and makes it the tool's current version.
    ///
    /// Installing bytes already installed for that tool changes nothing
    /// (`created == false`); installing other bytes under a version string the tool
    /// already has is a [`StoreError::Conflict`]. Concurrent installs of the same bytes
    /// produce one version: the loser of the race retries and finds it.
    pub async fn install_tool_version(&self, new: &NewToolVersion) -> Result<InstalledVersion> {
        let sha256 = sha256_hex(&new.component);
        let metadata = json_text(&new.metadata)?;
        // A unique violation means a concurrent install created the tool or the version
        // first: try again, and find it. (A real conflict simply repeats.)
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_install(new, &sha256, &metadata).await {
                Err(error) if is_conflict(&error) && attempt < 3 => continue,
                other => return other,
            }
        }
    }

    async fn try_install(
        &self,
        new: &NewToolVersion,
        sha256: &str,
        metadata: &str,
    ) -> Result<InstalledVersion> {
        let owner = new.organization_id.as_deref();
        let now = micros(now());
        let mut w = self.begin_write().await?;

        let tool_id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM platform_tools WHERE name = $1 AND \
             (($2 IS NULL AND organization_id IS NULL) OR organization_id = $2)",
        )
        .bind(&new.name)
        .bind(owner)
        .fetch_optional(&mut *w.tx)
        .await?;
        let tool_id = match tool_id {
            Some(id) => id,
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO platform_tools \
                     (id, organization_id, name, description, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&id)
                .bind(owner)
                .bind(&new.name)
                .bind(&new.description)
                .bind(now)
                .execute(&mut *w.tx)
                .await
                .map_err(crate::error::map_db("tool", "organization"))?;
                id
            }
        };

        let existing = sqlx::query("SELECT id, sha256 FROM tool_versions WHERE tool_id = $1 AND (sha256 = $2 OR version = $3)")
            .bind(&tool_id)
            .bind(sha256)
            .bind(&new.version)
            .fetch_all(&mut *w.tx)
            .await?;
        let mut created = true;
        let mut version_id = None;
        for row in &existing {
            if row.text("sha256")? == sha256 {
                created = false;
                version_id = Some(row.text("id")?);
            }
        }
        if created && !existing.is_empty() {
            return Err(StoreError::Conflict(format!(
                "tool {} already has a version {} with other content",
                new.name, new.version
            )));
        }

        let version_id = match version_id {
            Some(id) => id,
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO tool_versions \
                     (id, tool_id, version, sha256, component, metadata, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&id)
                .bind(&tool_id)
                .bind(&new.version)
                .bind(sha256)
                .bind(new.component.as_slice())
                .bind(metadata)
                .bind(now)
                .execute(&mut *w.tx)
                .await?;
                for f in &new.functions {
                    sqlx::query(
                        "INSERT INTO tool_functions \
                         (id, tool_version_id, name, description, parameters, read_only) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(new_id())
                    .bind(&id)
                    .bind(&f.name)
                    .bind(&f.description)
                    .bind(json_text(&f.parameters)?)
                    .bind(f.read_only)
                    .execute(&mut *w.tx)
                    .await
                    .map_err(|error| match StoreError::from(error) {
                        StoreError::Conflict(_) => {
                            StoreError::Invalid(format!("function {} is declared twice", f.name))
                        }
                        other => other,
                    })?;
                }
                sqlx::query(
                    "UPDATE platform_tools SET current_version_id = $1, description = $2, \
                     updated_at = $3 WHERE id = $4",
                )
                .bind(&id)
                .bind(&new.description)
                .bind(now)
                .bind(&tool_id)
                .execute(&mut *w.tx)
                .await?;
                id
            }
        };

        let tool_row = sqlx::query(&format!("{TOOL_SELECT} WHERE t.id = $1"))
            .bind(&tool_id)
            .fetch_one(&mut *w.tx)
            .await?;
        let version_row = sqlx::query(&format!("{VERSION_SELECT} WHERE v.id = $1"))
            .bind(&version_id)
            .fetch_one(&mut *w.tx)
            .await?;
        let installed = InstalledVersion {
            tool: tool(&tool_row)?,
            version: version(&version_row)?,
            created,
        };
        if created {
            w.commit().await?;
        }
        Ok(installed)
    }

    /// The tools an organization can use: every platform tool and its own, by name
    /// (platform tool first when names are shared).
    pub async fn list_tools(&self, organization_id: &str) -> Result<Vec<Tool>> {
        let rows = sqlx::query(&format!(
            "{TOOL_SELECT} WHERE {VISIBLE} ORDER BY t.name, t.organization_id IS NOT NULL, t.id"
        ))
        .bind(organization_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(tool).collect()
    }

    /// Every platform tool, by name (operator-wide).
    pub async fn list_platform_tools(&self) -> Result<Vec<Tool>> {
        let rows = sqlx::query(&format!(
            "{TOOL_SELECT} WHERE t.organization_id IS NULL ORDER BY t.name"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(tool).collect()
    }

    /// The tool `tool_id`, if the organization can use it (a platform tool or its own).
    pub async fn tool(&self, organization_id: &str, tool_id: &str) -> Result<Tool> {
        let row = sqlx::query(&format!("{TOOL_SELECT} WHERE {VISIBLE} AND t.id = $2"))
            .bind(organization_id)
            .bind(tool_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound("tool"))?;
        tool(&row)
    }

    /// The tool named `name` that the organization can use; its own tool wins over a
    /// platform tool of the same name.
    pub async fn tool_by_name(&self, organization_id: &str, name: &str) -> Result<Tool> {
        let row = sqlx::query(&format!(
            "{TOOL_SELECT} WHERE {VISIBLE} AND t.name = $2 \
             ORDER BY t.organization_id IS NULL LIMIT 1"
        ))
        .bind(organization_id)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("tool"))?;
        tool(&row)
    }

    /// The platform tool named `name` (operator-wide).
    pub async fn platform_tool_by_name(&self, name: &str) -> Result<Tool> {
        let row = sqlx::query(&format!(
            "{TOOL_SELECT} WHERE t.organization_id IS NULL AND t.name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("tool"))?;
        tool(&row)
    }

    /// Deletes a tool with its versions, functions, associations and secrets. `owner` must
    /// be the tool's owner exactly: `None` deletes a platform tool (an operator action),
    /// `Some(org)` only that organization's private tool.
    pub async fn delete_tool(&self, owner: Option<&str>, tool_id: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query(
            "DELETE FROM platform_tools WHERE id = $1 AND \
             (($2 IS NULL AND organization_id IS NULL) OR organization_id = $2)",
        )
        .bind(tool_id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("tool"));
        }
        Ok(())
    }

    /// The versions of a tool the organization can use, newest first.
    pub async fn list_tool_versions(
        &self,
        organization_id: &str,
        tool_id: &str,
    ) -> Result<Vec<ToolVersion>> {
        let rows = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE {VISIBLE} AND v.tool_id = $2 \
             ORDER BY v.created_at DESC, v.id DESC"
        ))
        .bind(organization_id)
        .bind(tool_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(version).collect()
    }

    /// The version `version_id`, if the organization can use its tool.
    pub async fn tool_version(
        &self,
        organization_id: &str,
        version_id: &str,
    ) -> Result<ToolVersion> {
        let row = sqlx::query(&format!("{VERSION_SELECT} WHERE {VISIBLE} AND v.id = $2"))
            .bind(organization_id)
            .bind(version_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound("tool version"))?;
        version(&row)
    }

    /// The versions with content hash `sha256` among the tools the organization can use.
    pub async fn tool_versions_by_sha256(
        &self,
        organization_id: &str,
        sha256: &str,
    ) -> Result<Vec<ToolVersion>> {
        let rows = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE {VISIBLE} AND v.sha256 = $2 ORDER BY v.created_at, v.id"
        ))
        .bind(organization_id)
        .bind(sha256)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(version).collect()
    }

    /// The component bytes of the version `version_id`, if the organization can use its tool.
    pub async fn tool_component(&self, organization_id: &str, version_id: &str) -> Result<Vec<u8>> {
        let row = sqlx::query(&format!(
            "SELECT v.component FROM tool_versions v JOIN platform_tools t ON t.id = v.tool_id \
             WHERE {VISIBLE} AND v.id = $2"
        ))
        .bind(organization_id)
        .bind(version_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("tool version"))?;
        row.bytes("component")
    }
}

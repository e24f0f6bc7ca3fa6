//! Organizations and their API keys.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError, map_db};
use crate::row::{RowExt, micros, new_id, now};
use crate::store::Store;

/// A tenant. Everything else but platform tools belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// UUIDv7.
    pub id: String,
    /// Unique across organizations.
    pub name: String,
    /// Opt-in: audit rows may keep the call's arguments (`NewInvocation::argument_keys`).
    pub record_arguments: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Changes to an organization; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new audit opt-in.
    pub record_arguments: Option<bool>,
}

/// An API key's row. The key itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// UUIDv7.
    pub id: String,
    /// The organization the key acts for.
    pub organization_id: String,
    /// A label chosen by the organization.
    pub name: String,
    /// The key's first characters, for recognising it in a listing.
    pub prefix: String,
    /// SHA-256 of the key, lower-case hex.
    pub key_hash: String,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last used to authenticate, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked; a revoked key no longer authenticates.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new API key: the caller generates the key, shows it once, and stores its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// A label.
    pub name: String,
    /// The key's first characters (not enough to use it).
    pub prefix: String,
    /// SHA-256 of the whole key, lower-case hex.
    pub key_hash: String,
}

const ORGANIZATION_COLUMNS: &str = "id, name, record_arguments, created_at, updated_at";
const API_KEY_COLUMNS: &str =
    "id, organization_id, name, prefix, key_hash, created_at, last_used_at, revoked_at";

fn organization(row: &AnyRow) -> Result<Organization> {
    Ok(Organization {
        id: row.text("id")?,
        name: row.text("name")?,
        record_arguments: row.boolean("record_arguments")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn api_key(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.text("id")?,
        organization_id: row.text("organization_id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        key_hash: row.text("key_hash")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

impl Store {
    /// Creates an organization. A taken name is a [`StoreError::Conflict`].
    pub async fn create_organization(
        &self,
        name: &str,
        record_arguments: bool,
    ) -> Result<Organization> {
        let now = micros(now());
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "INSERT INTO organizations (id, name, record_arguments, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {ORGANIZATION_COLUMNS}"
        ))
        .bind(new_id())
        .bind(name)
        .bind(record_arguments)
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(map_db("organization", "organization"))?;
        organization(&row)
    }

    /// The organization `id`.
    pub async fn organization(&self, id: &str) -> Result<Organization> {
        let row = sqlx::query(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
        organization(&row)
    }

    /// The organization named `name`.
    pub async fn organization_by_name(&self, name: &str) -> Result<Organization> {
        let row = sqlx::query(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
        organization(&row)
    }

    /// Every organization, by name (operator-wide).
    pub async fn list_organizations(&self) -> Result<Vec<Organization>> {
        let rows = sqlx::query(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY name"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(organization).collect()
    }

    /// Changes the organization `id`.
    pub async fn update_organization(
        &self,
        id: &str,
        update: &OrganizationUpdate,
    ) -> Result<Organization> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE organizations SET name = COALESCE($1, name), \
             record_arguments = COALESCE($2, record_arguments), updated_at = $3 \
             WHERE id = $4 RETURNING {ORGANIZATION_COLUMNS}"
        ))
        .bind(update.name.as_deref())
        .bind(update.record_arguments)
        .bind(micros(now()))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(map_db("organization", "organization"))?
        .ok_or(StoreError::NotFound("organization"))?;
        organization(&row)
    }

    /// Deletes the organization `id` and everything that belongs to it (keys, agents,
    /// private tools, associations, secrets, audit rows, call sessions).
    pub async fn delete_organization(&self, id: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        Ok(())
    }

    /// Stores a new API key for `organization_id`.
    pub async fn create_api_key(&self, organization_id: &str, key: &NewApiKey) -> Result<ApiKey> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(new_id())
        .bind(organization_id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(micros(now()))
        .fetch_one(self.pool())
        .await
        .map_err(map_db("api key", "organization"))?;
        api_key(&row)
    }

    /// The unrevoked key whose SHA-256 is `key_hash`. Not scoped by organization: this is
    /// how a request's organization is found. Compare the presented key's hash in constant
    /// time before trusting the row.
    pub async fn active_api_key_by_hash(&self, key_hash: &str) -> Result<ApiKey> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("api key"))?;
        api_key(&row)
    }

    /// The organization's API keys, revoked ones included, newest first.
    pub async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(organization_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(api_key).collect()
    }

    /// Records that the key `id` was just used.
    pub async fn touch_api_key(&self, organization_id: &str, id: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND organization_id = $3",
        )
        .bind(micros(now()))
        .bind(id)
        .bind(organization_id)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("api key"));
        }
        Ok(())
    }

    /// Revokes the key `id` (idempotent: a revoked key keeps its first `revoked_at`).
    pub async fn revoke_api_key(&self, organization_id: &str, id: &str) -> Result<ApiKey> {
        let _writer = self.write_guard().await;
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE id = $2 AND organization_id = $3 RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(micros(now()))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("api key"))?;
        api_key(&row)
    }
}

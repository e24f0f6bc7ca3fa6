//! Per-organization tool secrets, stored sealed (`tool_sensitive_configs`).
//!
//! Values enter and leave as [`SecretString`]; rows hold only [`SealedSecret`] records
//! (see [`crate::sealed`]). Listings give names and times, never values or ciphertext.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::row::{RowExt, micros, new_id, now};
use crate::sealed::{KeyRing, SealedSecret, SecretIdentity};
use crate::store::Store;

/// What a listing shows of a secret: that it is set, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// The secret's name.
    pub name: String,
    /// When the value was last set.
    pub updated_at: DateTime<Utc>,
}

/// A sealed secret's row. Opening it needs the key ring and the same identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecretRow {
    /// UUIDv7.
    pub id: String,
    /// The organization that owns the secret.
    pub organization_id: String,
    /// The tool the secret is for.
    pub tool_id: String,
    /// The secret's name.
    pub name: String,
    /// The sealed record.
    pub sealed: SealedSecret,
    /// When first set.
    pub created_at: DateTime<Utc>,
    /// When the value was last set (rewrapping does not change it).
    pub updated_at: DateTime<Utc>,
}

impl SealedSecretRow {
    /// The identity the record is bound to.
    pub fn identity(&self) -> SecretIdentity<'_> {
        SecretIdentity {
            organization_id: &self.organization_id,
            tool_id: &self.tool_id,
            name: &self.name,
        }
    }
}

const SEALED_COLUMNS: &str = "id, organization_id, tool_id, name, sealed, created_at, updated_at";

fn sealed_row(row: &AnyRow) -> Result<SealedSecretRow> {
    let sealed = SealedSecret::from_bytes(row.bytes("sealed")?)?;
    Ok(SealedSecretRow {
        id: row.text("id")?,
        organization_id: row.text("organization_id")?,
        tool_id: row.text("tool_id")?,
        name: row.text("name")?,
        sealed,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl Store {
    /// Seals `value` under the ring's primary key and stores it as the organization's secret
    /// `name` for `tool_id`, replacing any previous value. The tool must be one the
    /// organization can use.
    pub async fn put_secret(
        &self,
        keys: &KeyRing,
        organization_id: &str,
        tool_id: &str,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretInfo> {
        let identity = SecretIdentity {
            organization_id,
            tool_id,
            name,
        };
        let sealed = keys.seal(&identity, value)?;
        self.upsert_sealed_secret(organization_id, tool_id, name, &sealed)
            .await
    }

    /// Replaces the organization's secrets for `tool_id` in one transaction: each of
    /// `set` is sealed and stored (replacing any value), each of `delete` is deleted if
    /// present. Either all of it happens or none. The tool must be one the organization
    /// can use.
    pub async fn replace_secrets(
        &self,
        keys: &KeyRing,
        organization_id: &str,
        tool_id: &str,
        set: &[(&str, &SecretString)],
        delete: &[&str],
    ) -> Result<()> {
        let sealed = set
            .iter()
            .map(|(name, value)| {
                let identity = SecretIdentity {
                    organization_id,
                    tool_id,
                    name,
                };
                Ok((*name, keys.seal(&identity, value)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let now = micros(now());
        let mut w = self.begin_write().await?;
        let visible: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM platform_tools WHERE id = $1 \
             AND (organization_id IS NULL OR organization_id = $2)",
        )
        .bind(tool_id)
        .bind(organization_id)
        .fetch_optional(&mut *w.tx)
        .await?;
        if visible.is_none() {
            return Err(StoreError::NotFound("tool"));
        }
        for name in delete {
            sqlx::query(
                "DELETE FROM tool_sensitive_configs \
                 WHERE organization_id = $1 AND tool_id = $2 AND name = $3",
            )
            .bind(organization_id)
            .bind(tool_id)
            .bind(name)
            .execute(&mut *w.tx)
            .await?;
        }
        for (name, sealed) in &sealed {
            sqlx::query(
                "INSERT INTO tool_sensitive_configs \
                 (id, organization_id, tool_id, name, sealed, key_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (organization_id, tool_id, name) DO UPDATE SET \
                 sealed = excluded.sealed, key_id = excluded.key_id, \
                 updated_at = excluded.updated_at",
            )
            .bind(new_id())
            .bind(organization_id)
            .bind(tool_id)
            .bind(*name)
            .bind(sealed.as_bytes())
            .bind(sealed.key_id())
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .map_err(crate::error::map_db("secret", "organization"))?;
        }
        w.commit().await
    }

    /// Stores an already sealed record as the organization's secret `name` for `tool_id`.
    /// The record must have been sealed for this identity, or it will not open.
    pub async fn upsert_sealed_secret(
        &self,
        organization_id: &str,
        tool_id: &str,
        name: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretInfo> {
        let now = micros(now());
        let _writer = self.write_guard().await;
        // Inserted only when the tool is visible to the organization (the organization's
        // existence is checked by its foreign key).
        let row = sqlx::query(
            "INSERT INTO tool_sensitive_configs \
             (id, organization_id, tool_id, name, sealed, key_id, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $7 WHERE EXISTS \
             (SELECT 1 FROM platform_tools WHERE id = $3 \
              AND (organization_id IS NULL OR organization_id = $2)) \
             ON CONFLICT (organization_id, tool_id, name) DO UPDATE SET \
             sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at \
             RETURNING name, updated_at",
        )
        .bind(new_id())
        .bind(organization_id)
        .bind(tool_id)
        .bind(name)
        .bind(sealed.as_bytes())
        .bind(sealed.key_id())
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(crate::error::map_db("secret", "organization"))?
        .ok_or(StoreError::NotFound("tool"))?;
        Ok(SecretInfo {
            name: row.text("name")?,
            updated_at: row.time("updated_at")?,
        })
    }

    /// The sealed row of the organization's secret `name` for `tool_id`.
    pub async fn sealed_secret(
        &self,
        organization_id: &str,
        tool_id: &str,
        name: &str,
    ) -> Result<SealedSecretRow> {
        let row = sqlx::query(&format!(
            "SELECT {SEALED_COLUMNS} FROM tool_sensitive_configs \
             WHERE organization_id = $1 AND tool_id = $2 AND name = $3"
        ))
        .bind(organization_id)
        .bind(tool_id)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("secret"))?;
        sealed_row(&row)
    }

    /// Every sealed row of the organization for `tool_id`, by name.
    pub async fn sealed_secrets(
        &self,
        organization_id: &str,
        tool_id: &str,
    ) -> Result<Vec<SealedSecretRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SEALED_COLUMNS} FROM tool_sensitive_configs \
             WHERE organization_id = $1 AND tool_id = $2 ORDER BY name"
        ))
        .bind(organization_id)
        .bind(tool_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(sealed_row).collect()
    }

    /// Opens the organization's secret `name` for `tool_id`.
    pub async fn open_secret(
        &self,
        keys: &KeyRing,
        organization_id: &str,
        tool_id: &str,
        name: &str,
    ) -> Result<SecretString> {
        let row = self.sealed_secret(organization_id, tool_id, name).await?;
        Ok(keys.open(&row.identity(), &row.sealed)?)
    }

    /// Opens every secret of the organization for `tool_id` (what a call gets), by name.
    pub async fn open_secrets(
        &self,
        keys: &KeyRing,
        organization_id: &str,
        tool_id: &str,
    ) -> Result<Vec<(String, SecretString)>> {
        let rows = self.sealed_secrets(organization_id, tool_id).await?;
        rows.into_iter()
            .map(|row| {
                let value = keys.open(&row.identity(), &row.sealed)?;
                Ok((row.name, value))
            })
            .collect()
    }

    /// The names of the organization's secrets for `tool_id` and when each was set.
    pub async fn list_secrets(
        &self,
        organization_id: &str,
        tool_id: &str,
    ) -> Result<Vec<SecretInfo>> {
        let rows = sqlx::query(
            "SELECT name, updated_at FROM tool_sensitive_configs \
             WHERE organization_id = $1 AND tool_id = $2 ORDER BY name",
        )
        .bind(organization_id)
        .bind(tool_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SecretInfo {
                    name: row.text("name")?,
                    updated_at: row.time("updated_at")?,
                })
            })
            .collect()
    }

    /// Deletes the organization's secret `name` for `tool_id`.
    pub async fn delete_secret(
        &self,
        organization_id: &str,
        tool_id: &str,
        name: &str,
    ) -> Result<()> {
        let _writer = self.write_guard().await;
        let result = sqlx::query(
            "DELETE FROM tool_sensitive_configs \
             WHERE organization_id = $1 AND tool_id = $2 AND name = $3",
        )
        .bind(organization_id)
        .bind(tool_id)
        .bind(name)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("secret"));
        }
        Ok(())
    }

    /// Re-seals, under the ring's primary key, every sealed record of every organization
    /// that is sealed under another key — secrets and recorded call outcomes — in one
    /// transaction; returns how many were rewrapped. Operator-wide (`warden keys
    /// rewrap`). A row sealed under a key the ring lacks, or one that fails to open,
    /// aborts the whole rewrap and changes nothing.
    pub async fn rewrap_secrets(&self, keys: &KeyRing) -> Result<u64> {
        let primary = keys.primary_key_id();
        let mut w = self.begin_write().await?;
        let rows = sqlx::query(&format!(
            "SELECT {SEALED_COLUMNS} FROM tool_sensitive_configs WHERE key_id <> $1 ORDER BY id"
        ))
        .bind(primary)
        .fetch_all(&mut *w.tx)
        .await?;
        let mut rewrapped = 0;
        for row in &rows {
            let row = sealed_row(row)?;
            let value = keys.open(&row.identity(), &row.sealed)?;
            let resealed = keys.seal(&row.identity(), &value)?;
            // Compare-and-set on the old record: a value set concurrently (on PostgreSQL) is
            // newer than ours and stays.
            let result = sqlx::query(
                "UPDATE tool_sensitive_configs SET sealed = $1, key_id = $2 \
                 WHERE id = $3 AND sealed = $4",
            )
            .bind(resealed.as_bytes())
            .bind(resealed.key_id())
            .bind(&row.id)
            .bind(row.sealed.as_bytes())
            .execute(&mut *w.tx)
            .await?;
            rewrapped += result.rows_affected();
        }
        rewrapped += self.rewrap_call_outcomes(&mut w.tx, keys).await?;
        w.commit().await?;
        Ok(rewrapped)
    }
}

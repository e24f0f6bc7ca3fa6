//! Organizations and their API keys.
//!
//! Keys are 256 random bits, shown once at creation and stored only as their
//! SHA-256; presenting a key hashes it, finds the row by hash and compares the
//! hashes in constant time.

use crate::Core;
use crate::error::{CoreError, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warden_store::{ApiKey, NewApiKey, Organization};

/// Every organization API key starts with this, so leaked keys are easy to
/// recognise (and to scan for).
pub const API_KEY_PREFIX: &str = "wdn_";

/// Who a request acts for, established by [`Core::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The organization every operation is scoped to.
    pub organization_id: String,
    /// The key that was presented.
    pub api_key_id: String,
}

/// A freshly created key: the only time its value is available.
#[derive(Debug)]
pub struct IssuedApiKey {
    /// The key's row (no secret in it).
    pub record: ApiKey,
    /// The key itself. Show it once; it cannot be recovered.
    pub key: SecretString,
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn generate() -> Result<SecretString> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Invalid(format!("no randomness available: {e}")))?;
    Ok(SecretString::from(format!(
        "{API_KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    )))
}

impl Core {
    /// Creates an organization and its first API key.
    pub async fn create_organization(&self, name: &str) -> Result<(Organization, IssuedApiKey)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(CoreError::Invalid(
                "an organization name must be 1 to 200 characters".into(),
            ));
        }
        let organization = self.store.create_organization(name, false).await?;
        let key = self.create_api_key(&organization.id, "default").await?;
        Ok((organization, key))
    }

    /// Issues a new API key for an organization.
    pub async fn create_api_key(&self, organization_id: &str, name: &str) -> Result<IssuedApiKey> {
        let key = generate()?;
        let exposed = key.expose_secret();
        let record = self
            .store
            .create_api_key(
                organization_id,
                &NewApiKey {
                    name: name.to_owned(),
                    prefix: exposed[..API_KEY_PREFIX.len() + 6].to_owned(),
                    key_hash: hash(exposed),
                },
            )
            .await?;
        Ok(IssuedApiKey { record, key })
    }

    /// The organization a presented key acts for; revoked and unknown keys
    /// are refused alike.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal> {
        if !presented.starts_with(API_KEY_PREFIX) || presented.len() > 128 {
            return Err(CoreError::Unauthenticated);
        }
        let presented_hash = hash(presented);
        let record = match self.store.active_api_key_by_hash(&presented_hash).await {
            Ok(record) => record,
            Err(warden_store::StoreError::NotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        if !bool::from(record.key_hash.as_bytes().ct_eq(presented_hash.as_bytes())) {
            return Err(CoreError::Unauthenticated);
        }
        if let Err(e) = self
            .store
            .touch_api_key(&record.organization_id, &record.id)
            .await
        {
            tracing::warn!("failed to record API key use: {e}");
        }
        Ok(Principal {
            organization_id: record.organization_id,
            api_key_id: record.id,
        })
    }

    /// Revokes one of an organization's keys; it stops working at once.
    pub async fn revoke_api_key(&self, organization_id: &str, key_id: &str) -> Result<ApiKey> {
        Ok(self.store.revoke_api_key(organization_id, key_id).await?)
    }
}

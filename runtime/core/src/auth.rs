//! Organizations and their API keys; the operator's worker tokens.
//!
//! Keys and tokens are 256 random bits, shown once at creation and stored only
//! as their SHA-256; presenting one hashes it, finds the row by hash and
//! compares the hashes in constant time.
//!
//! The two credentials never stand in for each other: an API key starts with
//! [`API_KEY_PREFIX`] and lives in `api_keys`, a worker token starts with
//! [`WORKER_TOKEN_PREFIX`] and lives in `worker_tokens`, and each check refuses
//! the other's prefix before it looks anything up.

use crate::Core;
use crate::error::{CoreError, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use warden_store::{ApiKey, NewApiKey, NewWorkerToken, Organization, WorkerToken};

/// Every organization API key starts with this, so leaked keys are easy to
/// recognise (and to scan for).
pub const API_KEY_PREFIX: &str = "wdn_";

/// Every worker token starts with this. Worker tokens authenticate LiveKit
/// agent workers to the worker plane; they are operator-level (created by the
/// operator, for every organization or limited to one) and are refused
/// wherever an API key is expected.
pub const WORKER_TOKEN_PREFIX: &str = "wdw_";

/// The longest credential any check will hash; anything longer is refused.
const MAX_PRESENTED_LEN: usize = 128;

/// How many characters after the prefix a listing shows.
const SHOWN_CHARS: usize = 6;

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

/// A freshly created worker token: the only time its value is available.
#[derive(Debug)]
pub struct IssuedWorkerToken {
    /// The token's row (no secret in it).
    pub record: WorkerToken,
    /// The token itself. Show it once; it cannot be recovered.
    pub token: SecretString,
}

/// The worker established by [`Core::authenticate_worker`]. It acts for no
/// organization of its own: each request names an agent, whose organization
/// applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPrincipal {
    /// The worker token that was presented.
    pub worker_token_id: String,
    /// The one organization whose agents the token reaches (`None`: every
    /// organization's). Pass it with every look-up of the request's agent, so
    /// that another organization's agent is not found, exactly as an unknown
    /// one.
    pub organization_id: Option<String>,
}

pub(crate) fn hash(key: &str) -> String {
    warden_store::sha256_hex(key.as_bytes())
}

/// `prefix` followed by 256 random bits, base64url without padding.
pub(crate) fn generate(prefix: &str) -> Result<SecretString> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Invalid(format!("no randomness available: {e}")))?;
    Ok(SecretString::from(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// Whether `presented` has the shape of a credential starting with `prefix`;
/// anything else is refused before it is hashed or looked up.
pub(crate) fn plausible(presented: &str, prefix: &str) -> bool {
    presented.starts_with(prefix) && presented.len() <= MAX_PRESENTED_LEN
}

/// Whether two lower-case hex hashes are equal, in constant time.
pub(crate) fn same_hash(stored: &str, presented: &str) -> bool {
    bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))
}

/// `last_used_at` is kept to the minute: recording every request would add a
/// database write (serialized on SQLite) to every call for no one's benefit.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

fn needs_touch(last_used_at: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    last_used_at.is_none_or(|at| chrono::Utc::now() - at >= LAST_USED_RESOLUTION)
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
        let key = generate(API_KEY_PREFIX)?;
        let exposed = key.expose_secret();
        let record = self
            .store
            .create_api_key(
                organization_id,
                &NewApiKey {
                    name: name.to_owned(),
                    prefix: exposed[..API_KEY_PREFIX.len() + SHOWN_CHARS].to_owned(),
                    key_hash: hash(exposed),
                },
            )
            .await?;
        Ok(IssuedApiKey { record, key })
    }

    /// The organization a presented key acts for; revoked and unknown keys
    /// are refused alike, and so is a worker token.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal> {
        if !plausible(presented, API_KEY_PREFIX) {
            return Err(CoreError::Unauthenticated);
        }
        let presented_hash = hash(presented);
        let record = match self.store.active_api_key_by_hash(&presented_hash).await {
            Ok(record) => record,
            Err(warden_store::StoreError::NotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        if !same_hash(&record.key_hash, &presented_hash) {
            return Err(CoreError::Unauthenticated);
        }
        if needs_touch(record.last_used_at)
            && let Err(e) = self
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

    /// Issues a new worker token for every organization's agents
    /// (operator-level: it belongs to no organization).
    pub async fn create_worker_token(&self, name: &str) -> Result<IssuedWorkerToken> {
        self.create_scoped_worker_token(name, None).await
    }

    /// Issues a new worker token; with `organization_id`, it reaches only
    /// that organization's agents (another organization's agent is answered
    /// as an unknown agent). An unknown organization is
    /// [`CoreError::NotFound`]`("organization")` and creates nothing.
    pub async fn create_scoped_worker_token(
        &self,
        name: &str,
        organization_id: Option<&str>,
    ) -> Result<IssuedWorkerToken> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(CoreError::Invalid(
                "a worker token name must be 1 to 200 characters".into(),
            ));
        }
        let token = generate(WORKER_TOKEN_PREFIX)?;
        let exposed = token.expose_secret();
        let record = self
            .store
            .create_worker_token(&NewWorkerToken {
                name: name.to_owned(),
                prefix: exposed[..WORKER_TOKEN_PREFIX.len() + SHOWN_CHARS].to_owned(),
                token_hash: hash(exposed),
                organization_id: organization_id.map(str::to_owned),
            })
            .await?;
        Ok(IssuedWorkerToken { record, token })
    }

    /// The worker a presented token belongs to; revoked and unknown tokens
    /// are refused alike, and so is an organization API key.
    pub async fn authenticate_worker(&self, presented: &str) -> Result<WorkerPrincipal> {
        if !plausible(presented, WORKER_TOKEN_PREFIX) {
            return Err(CoreError::Unauthenticated);
        }
        let presented_hash = hash(presented);
        let record = match self
            .store
            .active_worker_token_by_hash(&presented_hash)
            .await
        {
            Ok(record) => record,
            Err(warden_store::StoreError::NotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        if !same_hash(&record.token_hash, &presented_hash) {
            return Err(CoreError::Unauthenticated);
        }
        self.touch_worker_token(&record).await;
        Ok(WorkerPrincipal {
            worker_token_id: record.id,
            organization_id: record.organization_id,
        })
    }

    /// Records that `token` was used, at most once per
    /// [`LAST_USED_RESOLUTION`]; a failure is logged, not fatal.
    pub(crate) async fn touch_worker_token(&self, token: &WorkerToken) {
        if needs_touch(token.last_used_at)
            && let Err(e) = self.store.touch_worker_token(&token.id).await
        {
            tracing::warn!("failed to record worker token use: {e}");
        }
    }

    /// Revokes a worker token; it stops working at once.
    pub async fn revoke_worker_token(&self, token_id: &str) -> Result<WorkerToken> {
        Ok(self.store.revoke_worker_token(token_id).await?)
    }
}

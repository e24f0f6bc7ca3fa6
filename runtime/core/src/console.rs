//! Console sign-in: an organization API key exchanged for a session token that
//! the browser keeps only in an HttpOnly cookie.
//!
//! The session acts for the key that signed in ([`Principal`]), so it sees
//! exactly what the key sees and ends when the key is revoked. Its CSRF token
//! is derived from the session token (SHA-256 under a fixed label): a page
//! that cannot read the cookie cannot compute it, and nothing more is stored.

use crate::Core;
use crate::auth::{Principal, generate, hash, same_hash};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use warden_store::ConsoleSession;

/// Every console session token starts with this.
pub const CONSOLE_SESSION_PREFIX: &str = "wdc_";

/// How long a sign-in lasts.
pub const CONSOLE_SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 60 * 60);

/// Live sessions one API key keeps; signing in again ends the oldest.
pub const MAX_CONSOLE_SESSIONS_PER_KEY: i64 = 16;

/// A sign-in: the token (for the cookie, and nowhere else) and what the
/// page may know.
pub struct ConsoleSignIn {
    /// The session token. Only ever sent as an HttpOnly cookie.
    pub token: SecretString,
    /// The session as the page sees it.
    pub session: ConsoleSessionView,
    /// The organization's name.
    pub organization_name: String,
}

impl std::fmt::Debug for ConsoleSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSignIn")
            .field("session", &self.session)
            .field("organization_name", &self.organization_name)
            .finish_non_exhaustive()
    }
}

/// A live console session.
#[derive(Clone)]
pub struct ConsoleSessionView {
    /// Who it acts for.
    pub principal: Principal,
    /// What every state-changing console request must carry.
    pub csrf_token: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConsoleSessionView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSessionView")
            .field("principal", &self.principal)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl ConsoleSessionView {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        same_hash(&self.csrf_token, presented)
    }
}

/// The CSRF token of a session token.
fn csrf_token(token: &str) -> String {
    hash(&format!("warden console csrf\n{token}"))
}

impl Core {
    /// Signs in to the console with an organization API key: a new session
    /// of [`CONSOLE_SESSION_TTL`]. An unknown, revoked or malformed key (or a
    /// worker token) is refused as [`CoreError::Unauthenticated`].
    pub async fn sign_in_console(&self, api_key: &str) -> Result<ConsoleSignIn> {
        let principal = self.authenticate(api_key).await?;
        let organization = self.store.organization(&principal.organization_id).await?;
        let token = generate(CONSOLE_SESSION_PREFIX)?;
        let now = Utc::now();
        let expires_at = now
            + chrono::Duration::from_std(CONSOLE_SESSION_TTL)
                .expect("the TTL fits a chrono duration");
        let created = self
            .store
            .create_console_session(
                &ConsoleSession {
                    session_hash: hash(token.expose_secret()),
                    organization_id: principal.organization_id.clone(),
                    api_key_id: principal.api_key_id.clone(),
                    created_at: now,
                    expires_at,
                },
                MAX_CONSOLE_SESSIONS_PER_KEY,
            )
            .await;
        match created {
            Ok(()) => {}
            // Revoked between the check and the insert.
            Err(warden_store::StoreError::NotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(e) => return Err(e.into()),
        }
        let csrf_token = csrf_token(token.expose_secret());
        Ok(ConsoleSignIn {
            token,
            session: ConsoleSessionView {
                principal,
                csrf_token,
                expires_at,
            },
            organization_name: organization.name,
        })
    }

    /// The live session a presented token belongs to; anything else
    /// (unknown, expired, signed out, its key revoked, not a session token)
    /// is [`CoreError::Unauthenticated`].
    pub async fn console_session(&self, presented: &str) -> Result<ConsoleSessionView> {
        if !crate::auth::plausible(presented, CONSOLE_SESSION_PREFIX) {
            return Err(CoreError::Unauthenticated);
        }
        let presented_hash = hash(presented);
        let session = self
            .store
            .console_session(&presented_hash)
            .await?
            .filter(|s| same_hash(&s.session_hash, &presented_hash))
            .ok_or(CoreError::Unauthenticated)?;
        Ok(ConsoleSessionView {
            principal: Principal {
                organization_id: session.organization_id,
                api_key_id: session.api_key_id,
            },
            csrf_token: csrf_token(presented),
            expires_at: session.expires_at,
        })
    }

    /// The name of a session's organization, for the page (not needed to
    /// check a request, so not read with the session).
    pub async fn console_organization_name(&self, session: &ConsoleSessionView) -> Result<String> {
        Ok(self
            .store
            .organization(&session.principal.organization_id)
            .await?
            .name)
    }

    /// Signs a session out; an unknown token is not an error.
    pub async fn sign_out_console(&self, presented: &str) -> Result<()> {
        if crate::auth::plausible(presented, CONSOLE_SESSION_PREFIX) {
            self.store.delete_console_session(&hash(presented)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_depends_on_the_session_and_is_not_the_session() {
        let a = csrf_token("wdc_a");
        assert_eq!(a, csrf_token("wdc_a"));
        assert_ne!(a, csrf_token("wdc_b"));
        assert!(!a.contains("wdc_a"));
        assert_eq!(a.len(), 64);
    }
}

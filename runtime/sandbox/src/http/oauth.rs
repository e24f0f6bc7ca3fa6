//! OAuth2 access tokens kept fresh by the host (RFC 6749 refresh grant).
//!
//! The operator supplies the refresh material as the tool's secrets; the
//! guest never reads any of it. When the access token has expired, or a
//! credential host answers 401, the host refreshes it once per call, retries
//! the request and hands the new token to the caller's callback so it can be
//! sealed and stored.

use super::client::{Client, SendLimits};
use super::connect::{ConnectError, post_form};
use crate::error::{Error, ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The secret holding the current access token.
pub const ACCESS_TOKEN: &str = "access_token";
/// The secret holding the access token's expiry (RFC 3339 or Unix seconds).
pub const ACCESS_TOKEN_EXPIRES_AT: &str = "access_token_expires_at";
/// The secret holding the refresh token.
pub const REFRESH_TOKEN: &str = "refresh_token";
/// The secret holding the OAuth2 client id.
pub const CLIENT_ID: &str = "client_id";
/// The secret holding the OAuth2 client secret.
pub const CLIENT_SECRET: &str = "client_secret";

/// Every secret OAuth2 uses; none of them is readable by the guest.
pub const SECRET_NAMES: [&str; 5] = [
    ACCESS_TOKEN,
    ACCESS_TOKEN_EXPIRES_AT,
    REFRESH_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
];

/// The longest lifetime believed from a token endpoint.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// Tokens this close to their expiry are refreshed before use.
const EXPIRY_SKEW: Duration = Duration::from_secs(30);

/// A token the host obtained from a token endpoint — by refreshing, for the
/// caller to store, or by exchanging a connection's code.
#[derive(Clone)]
pub struct RefreshedToken {
    /// The new access token.
    pub access_token: SecretString,
    /// When it expires, if the token endpoint said.
    pub expires_at: Option<SystemTime>,
    /// A new refresh token, if the endpoint rotated it.
    pub refresh_token: Option<SecretString>,
}

impl fmt::Debug for RefreshedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshedToken")
            .field("access_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// Receives refreshed tokens. Called at most once per call.
#[derive(Clone)]
pub struct TokenCallback(Arc<dyn Fn(RefreshedToken) + Send + Sync>);

impl TokenCallback {
    /// Wraps `f`.
    pub fn new(f: impl Fn(RefreshedToken) + Send + Sync + 'static) -> Self {
        TokenCallback(Arc::new(f))
    }

    pub(crate) fn call(&self, token: RefreshedToken) {
        (self.0)(token)
    }
}

impl fmt::Debug for TokenCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCallback")
    }
}

/// Parses an expiry written as RFC 3339 or as Unix seconds.
pub(crate) fn parse_expiry(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let secs = match text.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => {
            u64::try_from(chrono::DateTime::parse_from_rfc3339(text).ok()?.timestamp()).ok()?
        }
    };
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// The token state of one call.
pub(crate) struct Session {
    pub token_url: String,
    pub tool_name: String,
    pub client_id: Option<SecretString>,
    pub client_secret: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub on_refresh: Option<TokenCallback>,
    pub state: tokio::sync::Mutex<TokenState>,
}

pub(crate) struct TokenState {
    pub access_token: Option<SecretString>,
    pub expires_at: Option<SystemTime>,
    /// Bumped by every refresh, so concurrent requests refresh only once.
    pub generation: u32,
    /// A call refreshes at most once.
    pub refreshed: bool,
}

impl TokenState {
    pub fn is_usable(&self, now: SystemTime) -> bool {
        self.access_token.is_some() && self.expires_at.is_none_or(|at| now + EXPIRY_SKEW < at)
    }
}

/// How a refresh failed, already phrased for the call's verdict.
pub(crate) fn reauthorize(tool_name: &str) -> Error {
    Error::host(
        ErrorKind::Unauthorized,
        format!(
            "{} access must be re-authorized: the stored authorization was revoked or expired",
            tool_name.replace('_', " ")
        ),
    )
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

/// A token endpoint's error answer (RFC 6749 §5.2).
#[derive(serde::Deserialize)]
pub(super) struct TokenError {
    pub(super) error: String,
}

impl Session {
    /// Runs the refresh grant against the token endpoint. Returns the new
    /// token or the verdict the call ends with. Never puts a secret into an
    /// error.
    pub async fn refresh(
        &self,
        client: &Client,
        allow_private_network: bool,
        limits: SendLimits,
    ) -> Result<RefreshedToken, Error> {
        let not_configured = |what: &str| {
            Error::host(
                ErrorKind::NotConfigured,
                format!(
                    "{} needs re-authorization but its OAuth2 {what} is not set",
                    self.tool_name.replace('_', " ")
                ),
            )
        };
        let refresh_token = self
            .refresh_token
            .as_ref()
            .ok_or_else(|| not_configured("refresh token"))?;
        let client_id = self
            .client_id
            .as_ref()
            .ok_or_else(|| not_configured("client id"))?;
        let client_secret = self
            .client_secret
            .as_ref()
            .ok_or_else(|| not_configured("client secret"))?;

        let upstream = |why: String| {
            Error::host(
                ErrorKind::Upstream,
                format!("refreshing the OAuth2 access token failed: {why}"),
            )
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token.expose_secret())
            .append_pair("client_id", client_id.expose_secret())
            .append_pair("client_secret", client_secret.expose_secret())
            .finish();
        let (status, body) = post_form(
            client,
            &self.token_url,
            form,
            allow_private_network,
            limits,
            "OAuth2 token endpoint",
        )
        .await
        .map_err(|e| match e {
            ConnectError::Denied(why) => Error::host(ErrorKind::HostDenied, why),
            other => upstream(other.to_string()),
        })?;

        if !status.is_success() {
            let error = serde_json::from_slice::<TokenError>(&body)
                .map(|e| e.error)
                .unwrap_or_default();
            return Err(match error.as_str() {
                "invalid_grant" => reauthorize(&self.tool_name),
                "invalid_client" | "unauthorized_client" => Error::host(
                    ErrorKind::NotConfigured,
                    format!(
                        "the OAuth2 client of {} was rejected by the token endpoint; \
                         check its client id and secret",
                        self.tool_name.replace('_', " ")
                    ),
                ),
                _ => upstream(format!("the token endpoint answered {status}")),
            });
        }
        token_response(&body)
            .ok_or_else(|| upstream("the token endpoint's answer is not a token response".into()))
    }
}

/// A token endpoint's successful answer (RFC 6749 §5.1), or `None` when
/// the body is not one. A lifetime is believed up to a year.
pub(super) fn token_response(body: &[u8]) -> Option<RefreshedToken> {
    let token: TokenResponse = serde_json::from_slice(body).ok()?;
    Some(RefreshedToken {
        access_token: SecretString::from(token.access_token),
        // Capped: a token endpoint must not be able to overflow the clock.
        expires_at: token.expires_in.and_then(|secs| {
            SystemTime::now().checked_add(Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME))
        }),
        refresh_token: token.refresh_token.map(SecretString::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_formats() {
        assert_eq!(
            parse_expiry("1700000000"),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            parse_expiry("2023-11-14T22:13:20Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            parse_expiry("2023-11-14T23:13:20+01:00"),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(parse_expiry("soon"), None);
        assert_eq!(parse_expiry(&u64::MAX.to_string()), None);
    }

    #[test]
    fn refreshed_tokens_do_not_debug_their_values() {
        let token = RefreshedToken {
            access_token: SecretString::from("ya29.canary-value"),
            expires_at: None,
            refresh_token: Some(SecretString::from("1//canary-refresh")),
        };
        let debug = format!("{token:?}");
        assert!(!debug.contains("canary"), "{debug}");
    }
}

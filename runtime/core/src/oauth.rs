//! Connecting an organization's account for a tool that declares OAuth2:
//! the authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636).
//!
//! [`Catalog::start_oauth`] mints a random `state` and PKCE verifier, keeps
//! them (the state only as its SHA-256) bound to the organization and the
//! tool for [`OAUTH_STATE_TTL`], and gives the provider's authorization URL.
//! The provider sends the browser back to Warden's public callback, which
//! [`Core::finish_oauth`] serves: it takes the state back once, exchanges
//! the code at the token endpoint with the organization's sealed client id
//! and secret and the verifier, and seals the tokens as the tool's secrets.
//! Whatever goes wrong — consent declined, a state expired, replayed or
//! never issued, the tool gone, the provider refusing — changes nothing.
//! [`Catalog::disconnect_oauth`] revokes the grant at the provider where it
//! offers revocation and drops the tokens.

use crate::Core;
use crate::auth::{generate, hash, same_hash};
use crate::catalog::{Catalog, current_metadata};
use crate::error::{CoreError, Result};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use warden_sandbox::{
    CodeExchange, ConnectError, HttpGrants, OAUTH_SECRET_NAMES, OAuth2, ProviderClient,
    known_revocation_url,
};
use warden_store::{OAuthState, StoreError};

/// How long a started connection waits for the provider: ten minutes.
pub const OAUTH_STATE_TTL: TimeDelta = TimeDelta::minutes(10);

/// Most connections an organization may have waiting for their provider.
pub const MAX_PENDING_OAUTH_PER_ORGANIZATION: i64 = 16;

/// The longest `state`, `code` or `error` a callback is read with.
const MAX_CALLBACK_PARAM_BYTES: usize = 4096;

const ACCESS_TOKEN: &str = OAUTH_SECRET_NAMES[0];
const ACCESS_TOKEN_EXPIRES_AT: &str = OAUTH_SECRET_NAMES[1];
const REFRESH_TOKEN: &str = OAUTH_SECRET_NAMES[2];
const CLIENT_ID: &str = OAUTH_SECRET_NAMES[3];
const CLIENT_SECRET: &str = OAUTH_SECRET_NAMES[4];

/// A started connection: where to send the operator's browser. `Debug`
/// leaves the URL out: its state finishes the connection.
#[derive(Clone)]
pub struct OAuthStarted {
    /// The provider's authorization URL, with the client id, the redirect
    /// URI, the tool's scopes, the state and the PKCE challenge.
    pub authorization_url: String,
    /// When the state stops counting.
    pub expires_at: DateTime<Utc>,
    /// The browser binding to set in the starting browser, when asked for.
    pub browser_binding: Option<BrowserBinding>,
}

/// A connection's browser binding: a cookie of its own per connection (so
/// one browser may have several waiting), which only the callback receives.
#[derive(Clone)]
pub struct BrowserBinding {
    /// The cookie's name, [`browser_binding_cookie`] of the connection's state.
    pub cookie: String,
    /// The value the callback must bring back.
    pub value: SecretString,
}

/// The name of the cookie that binds the connection started with `state` to
/// its browser: a prefix and 64 bits of the state's SHA-256 (which says
/// nothing the URL holding the state does not).
pub fn browser_binding_cookie(state: &str) -> String {
    format!("warden_oauth_{}", &hash(state)[..16])
}

/// What the provider sent the browser back with (the callback's query).
/// `Debug` shows only which parts are present: the state and the code are
/// credentials until used.
#[derive(Default, Clone)]
pub struct OAuthCallback {
    /// The state the connection was started with.
    pub state: Option<String>,
    /// The authorization code, on success.
    pub code: Option<String>,
    /// The provider's error code (`access_denied` when consent is declined).
    pub error: Option<String>,
    /// The browser binding the browser brought back (the console's cookie),
    /// if any.
    pub browser: Option<String>,
}

impl std::fmt::Debug for OAuthStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthStarted")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OAuthCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthCallback")
            .field("state", &self.state.as_ref().map(|_| "…"))
            .field("code", &self.code.as_ref().map(|_| "…"))
            .field("error", &self.error)
            .field("browser", &self.browser.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A connected account.
#[derive(Debug, Clone)]
pub struct OAuthConnected {
    /// The organization.
    pub organization_id: String,
    /// The tool.
    pub tool_id: String,
    /// The tool's name.
    pub tool_name: String,
}

/// Why a callback connected nothing. Each is a page of its own; none
/// quotes the provider beyond its standard error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthFailure {
    /// The account's owner declined consent.
    #[error("consent was declined at the provider, so nothing was connected")]
    Declined,
    /// The state is unknown, expired or already used.
    #[error("this link has expired or was already used; start the connection again from Warden")]
    UnknownState,
    /// The connection was started from another browser's console (another
    /// organization's, or another sign-in) than the one that came back.
    #[error(
        "this connection was started from another console session, so nothing was connected; \
         start it again from the console you are signed in to"
    )]
    OtherBrowser,
    /// The request is not one a provider sends.
    #[error("the provider's answer is malformed: {0}")]
    Malformed(String),
    /// The provider answered with another error.
    #[error("the provider refused the authorization ({0})")]
    ProviderError(String),
    /// The tool is gone, no longer uses OAuth2, or lacks its client.
    #[error("{0}")]
    NotConfigured(String),
    /// The code exchange failed.
    #[error("{0}")]
    Exchange(ConnectError),
    /// The provider gave no refresh token and none is kept from before.
    #[error(
        "the provider gave no refresh token, so Warden could not keep the account connected; \
         remove Warden's access in the account's settings and connect again"
    )]
    NoRefreshToken,
    /// Warden itself failed; nothing was connected.
    #[error("Warden could not finish the connection; nothing was changed")]
    Internal,
}

/// What disconnecting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthDisconnected {
    /// Whether the grant was revoked at the provider (it offers revocation
    /// and there was a token to revoke).
    pub revoked_at_provider: bool,
}

impl Catalog<'_> {
    /// Starts connecting this organization's account for `tool_id`; the
    /// provider will send the browser to `redirect_uri` (Warden's public
    /// callback). The organization's `client_id` and `client_secret` must be
    /// set. At most [`MAX_PENDING_OAUTH_PER_ORGANIZATION`] connections wait
    /// at once.
    ///
    /// With `bind_browser` (a start from the console), the connection is
    /// bound to the browser: [`OAuthStarted::browser_binding`] goes in a
    /// cookie, and the callback must bring it back.
    pub async fn start_oauth(
        &self,
        tool_id: &str,
        redirect_uri: &str,
        bind_browser: bool,
    ) -> Result<OAuthStarted> {
        let core = self.core();
        let tool = core.store.tool(self.org(), tool_id).await?;
        let (_, _, metadata) = current_metadata(core, self.org(), &tool).await?;
        let oauth =
            declared_oauth(&metadata.name, metadata.oauth.as_ref()).map_err(CoreError::Conflict)?;
        let client_id = match core
            .store
            .open_secret(&core.keys, self.org(), tool_id, CLIENT_ID)
            .await
        {
            Ok(id) => id,
            Err(StoreError::NotFound(_)) => {
                return Err(CoreError::Conflict(missing_client(&metadata.name)));
            }
            Err(e) => return Err(e.into()),
        };
        let has_secret = core
            .store
            .list_secrets(self.org(), tool_id)
            .await?
            .iter()
            .any(|s| s.name == CLIENT_SECRET);
        if !has_secret {
            return Err(CoreError::Conflict(missing_client(&metadata.name)));
        }
        let grants = core.settings.grants_for(&tool);
        let authorize_url = grants
            .oauth_authorize_url
            .clone()
            .unwrap_or_else(|| oauth.authorize_url.clone());
        let state = generate("")?;
        let verifier = generate("")?;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.expose_secret().as_bytes()));
        let browser = bind_browser.then(|| generate("")).transpose()?;
        let created_at = Utc::now();
        let expires_at = created_at + OAUTH_STATE_TTL;
        core.store
            .create_oauth_state(
                &OAuthState {
                    state_hash: hash(state.expose_secret()),
                    organization_id: self.org().to_owned(),
                    tool_id: tool.id.clone(),
                    redirect_uri: redirect_uri.to_owned(),
                    code_verifier: verifier.expose_secret().to_owned(),
                    created_at,
                    expires_at,
                    browser_hash: browser.as_ref().map(|b| hash(b.expose_secret())),
                },
                MAX_PENDING_OAUTH_PER_ORGANIZATION,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(message) => CoreError::Busy(message),
                e => e.into(),
            })?;
        // The client id is public by OAuth2's design: the browser carries it.
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id.expose_secret())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &oauth.scopes.join(" "))
            .append_pair("state", state.expose_secret())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            // A refresh token, and consent asked again so the provider gives
            // one even to an account that connected before.
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .finish();
        let separator = if authorize_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(OAuthStarted {
            authorization_url: format!("{authorize_url}{separator}{query}"),
            expires_at,
            browser_binding: browser.map(|value| BrowserBinding {
                cookie: browser_binding_cookie(state.expose_secret()),
                value,
            }),
        })
    }

    /// Disconnects this organization's account for `tool_id`: revokes the
    /// grant at the provider where it offers revocation (the operator's
    /// revocation URL, or the provider's known one), then drops the tokens.
    /// If the provider cannot be reached, nothing is dropped.
    pub async fn disconnect_oauth(&self, tool_id: &str) -> Result<OAuthDisconnected> {
        let core = self.core();
        let tool = core.store.tool(self.org(), tool_id).await?;
        let (_, _, metadata) = current_metadata(core, self.org(), &tool).await?;
        let oauth =
            declared_oauth(&metadata.name, metadata.oauth.as_ref()).map_err(CoreError::Conflict)?;
        let grants = core.settings.grants_for(&tool);
        let token_url = grants
            .oauth_token_url
            .as_deref()
            .unwrap_or(&oauth.token_url);
        let revocation_url = grants
            .oauth_revocation_url
            .clone()
            .or_else(|| known_revocation_url(token_url).map(str::to_owned));
        let mut revoked_at_provider = false;
        if let Some(url) = revocation_url {
            // The refresh token revokes the whole grant; without one, the
            // access token is all there is.
            let mut token = None;
            for name in [REFRESH_TOKEN, ACCESS_TOKEN] {
                match core
                    .store
                    .open_secret(&core.keys, self.org(), tool_id, name)
                    .await
                {
                    Ok(value) => {
                        token = Some(value);
                        break;
                    }
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if let Some(token) = token {
                ProviderClient::new(&grants)
                    .revoke(&url, &token)
                    .await
                    .map_err(|e| {
                        CoreError::Provider(format!(
                            "revoking the grant at the provider failed: {e}"
                        ))
                    })?;
                revoked_at_provider = true;
            }
        }
        core.store
            .replace_secrets(
                &core.keys,
                self.org(),
                tool_id,
                &[],
                &[ACCESS_TOKEN, REFRESH_TOKEN, ACCESS_TOKEN_EXPIRES_AT],
            )
            .await?;
        Ok(OAuthDisconnected {
            revoked_at_provider,
        })
    }
}

impl Core {
    /// Finishes a connection the provider sent back (`GET /oauth/callback`,
    /// public: the state is what authenticates it). The state is taken
    /// once, whatever follows.
    pub async fn finish_oauth(
        &self,
        callback: OAuthCallback,
    ) -> std::result::Result<OAuthConnected, OAuthFailure> {
        let bounded = |value: Option<String>, what: &str| match value {
            Some(v) if v.len() > MAX_CALLBACK_PARAM_BYTES => {
                Err(OAuthFailure::Malformed(format!("its {what} is too long")))
            }
            v => Ok(v.filter(|v| !v.is_empty())),
        };
        let state = bounded(callback.state, "state")?
            .ok_or_else(|| OAuthFailure::Malformed("it carries no state".into()))?;
        let code = bounded(callback.code, "code")?;
        let error = bounded(callback.error, "error")?;
        let taken = self.store.take_oauth_state(&hash(&state)).await;
        let started = match taken {
            Ok(Some(started)) => started,
            Ok(None) => return Err(OAuthFailure::UnknownState),
            Err(e) => {
                tracing::error!("taking an OAuth2 state failed: {e}");
                return Err(OAuthFailure::Internal);
            }
        };
        if let Some(bound) = &started.browser_hash {
            let brought = bounded(callback.browser, "browser binding")?.map(|b| hash(&b));
            if !brought.is_some_and(|b| same_hash(bound, &b)) {
                return Err(OAuthFailure::OtherBrowser);
            }
        }
        match error.as_deref() {
            None => {}
            Some("access_denied") => return Err(OAuthFailure::Declined),
            // RFC 6749 error codes are plain ASCII words; anything else is
            // not repeated.
            Some(other)
                if other.len() <= 64
                    && other.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                return Err(OAuthFailure::ProviderError(other.to_owned()));
            }
            Some(_) => return Err(OAuthFailure::ProviderError("an unknown error".into())),
        }
        let code = code.ok_or_else(|| OAuthFailure::Malformed("it carries no code".into()))?;
        let internal = |e: &dyn std::fmt::Display| {
            tracing::error!("finishing an OAuth2 connection failed: {e}");
            OAuthFailure::Internal
        };
        let organization_id = started.organization_id.as_str();
        let tool = match self.store.tool(organization_id, &started.tool_id).await {
            Ok(tool) => tool,
            Err(StoreError::NotFound(_)) => {
                return Err(OAuthFailure::NotConfigured(
                    "the tool was deleted after the connection started".into(),
                ));
            }
            Err(e) => return Err(internal(&e)),
        };
        let (_, _, metadata) = current_metadata(self, organization_id, &tool)
            .await
            .map_err(|e| match e {
                CoreError::NotFound(_) => {
                    OAuthFailure::NotConfigured("the tool has no version to connect".into())
                }
                e => internal(&e),
            })?;
        let oauth = declared_oauth(&metadata.name, metadata.oauth.as_ref())
            .map_err(OAuthFailure::NotConfigured)?;
        let open = |name: &'static str| {
            let store = &self.store;
            let keys = &self.keys;
            let tool_id = tool.id.as_str();
            async move {
                match store
                    .open_secret(keys, organization_id, tool_id, name)
                    .await
                {
                    Ok(value) => Ok(Some(value)),
                    Err(StoreError::NotFound(_)) => Ok(None),
                    Err(e) => Err(internal(&e)),
                }
            }
        };
        let (Some(client_id), Some(client_secret)) =
            (open(CLIENT_ID).await?, open(CLIENT_SECRET).await?)
        else {
            return Err(OAuthFailure::NotConfigured(missing_client(&metadata.name)));
        };
        let grants: HttpGrants = self.settings.grants_for(&tool);
        let token_url = grants
            .oauth_token_url
            .as_deref()
            .unwrap_or(&oauth.token_url);
        let verifier = SecretString::from(started.code_verifier.clone());
        let tokens = ProviderClient::new(&grants)
            .exchange_code(&CodeExchange {
                token_url,
                client_id: &client_id,
                client_secret: &client_secret,
                code: &code,
                code_verifier: &verifier,
                redirect_uri: &started.redirect_uri,
            })
            .await
            .map_err(OAuthFailure::Exchange)?;
        if tokens.refresh_token.is_none() && open(REFRESH_TOKEN).await?.is_none() {
            return Err(OAuthFailure::NoRefreshToken);
        }
        let expires_at = tokens.expires_at.and_then(|at| {
            at.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| SecretString::from(d.as_secs().to_string()))
        });
        let mut set = vec![(ACCESS_TOKEN, &tokens.access_token)];
        if let Some(refresh) = &tokens.refresh_token {
            set.push((REFRESH_TOKEN, refresh));
        }
        let mut delete = Vec::new();
        match &expires_at {
            Some(at) => set.push((ACCESS_TOKEN_EXPIRES_AT, at)),
            None => delete.push(ACCESS_TOKEN_EXPIRES_AT),
        }
        self.store
            .replace_secrets(&self.keys, organization_id, &tool.id, &set, &delete)
            .await
            .map_err(|e| internal(&e))?;
        Ok(OAuthConnected {
            organization_id: started.organization_id.clone(),
            tool_id: tool.id,
            tool_name: metadata.name,
        })
    }
}

/// The tool's OAuth2 declaration, or why it cannot connect.
fn declared_oauth<'a>(
    tool_name: &str,
    oauth: Option<&'a OAuth2>,
) -> std::result::Result<&'a OAuth2, String> {
    oauth.ok_or_else(|| format!("the tool `{tool_name}` does not use OAuth2"))
}

fn missing_client(tool_name: &str) -> String {
    format!(
        "set the tool `{tool_name}`'s `{CLIENT_ID}` and `{CLIENT_SECRET}` secrets (the \
         organization's OAuth2 client at the provider) before connecting"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_names_are_the_sandboxs() {
        assert_eq!(
            [
                ACCESS_TOKEN,
                ACCESS_TOKEN_EXPIRES_AT,
                REFRESH_TOKEN,
                CLIENT_ID,
                CLIENT_SECRET
            ],
            [
                "access_token",
                "access_token_expires_at",
                "refresh_token",
                "client_id",
                "client_secret"
            ]
        );
    }

    #[test]
    fn the_state_the_code_and_the_binding_stay_out_of_debug() {
        let callback = OAuthCallback {
            state: Some("state-canary".into()),
            code: Some("code-canary".into()),
            error: None,
            browser: Some("browser-canary".into()),
        };
        let started = OAuthStarted {
            authorization_url: "https://p.example/auth?state=state-canary".into(),
            expires_at: Utc::now(),
            browser_binding: Some(BrowserBinding {
                cookie: browser_binding_cookie("state-canary"),
                value: SecretString::from("binding-canary"),
            }),
        };
        let debug = format!("{callback:?} {started:?}");
        assert!(!debug.contains("canary"), "{debug}");
    }

    #[test]
    fn failures_never_quote_the_provider_beyond_its_code() {
        assert_eq!(
            OAuthFailure::ProviderError("server_error".into()).to_string(),
            "the provider refused the authorization (server_error)"
        );
    }
}

//! The host's own requests to an OAuth2 provider when an organization
//! connects an account (outside any call): the authorization-code exchange
//! (RFC 6749 §4.1.3, with PKCE's `code_verifier`, RFC 7636) and token
//! revocation (RFC 7009).
//!
//! The endpoints come from a tool's metadata, which its organization wrote:
//! they pass the same checks as a call's requests — the operator's denials,
//! no private, link-local or metadata addresses unless the operator allows
//! private networks (metadata services never), the connection made to the
//! address checked — under a fixed time limit and response cap. No secret
//! reaches an error message.

use super::addr::{self, ResolveError};
use super::client::{Client, SendLimits};
use super::grants::HttpGrants;
use super::pattern::Target;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

/// How long one request to a provider may take, in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest provider answer read.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// The longest access-token lifetime believed.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// Why a request to the provider did not give what was asked. Messages are
/// plain sentences for an operator's page, without secrets or the
/// provider's own wording beyond its standard error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The operator denied the endpoint, or it is a private address.
    #[error("{0}")]
    Denied(String),
    /// The provider refused the grant (`invalid_grant` and the like): the
    /// code expired, was used, or does not match.
    #[error("the provider refused the authorization ({0})")]
    Refused(String),
    /// The provider refused the organization's client id or secret.
    #[error("the provider rejected the OAuth2 client id or secret")]
    BadClient,
    /// The provider could not be reached or gave no usable answer.
    #[error("{0}")]
    Unavailable(String),
}

/// What a code exchange gave.
pub struct GrantedTokens {
    /// The access token.
    pub access_token: SecretString,
    /// The refresh token, if the provider gave one.
    pub refresh_token: Option<SecretString>,
    /// When the access token expires, if the provider said.
    pub expires_at: Option<SystemTime>,
}

impl fmt::Debug for GrantedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantedTokens")
            .field("access_token", &"[REDACTED]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One authorization code to exchange.
pub struct CodeExchange<'a> {
    /// The provider's token endpoint.
    pub token_url: &'a str,
    /// The organization's OAuth2 client.
    pub client_id: &'a SecretString,
    /// The organization's OAuth2 client secret.
    pub client_secret: &'a SecretString,
    /// The code the provider sent to the redirect URI.
    pub code: &'a str,
    /// The PKCE verifier whose challenge the authorization request sent.
    pub code_verifier: &'a SecretString,
    /// The redirect URI of the authorization request.
    pub redirect_uri: &'a str,
}

/// Makes the connect flow's requests under the operator's HTTP grants.
#[derive(Clone)]
pub struct ProviderClient {
    client: Client,
    deny_hosts: Vec<super::HostPattern>,
    allow_private_network: bool,
}

impl fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderClient")
            .field("allow_private_network", &self.allow_private_network)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct TokenError {
    error: String,
}

impl ProviderClient {
    /// A client whose requests get `grants`' denials and private-network
    /// permission (only those: what a tool may reach does not matter here).
    pub fn new(grants: &HttpGrants) -> ProviderClient {
        ProviderClient {
            client: Client::new(),
            deny_hosts: grants.deny_hosts.clone(),
            allow_private_network: grants.allow_private_network,
        }
    }

    /// Exchanges an authorization code for tokens.
    pub async fn exchange_code(
        &self,
        exchange: &CodeExchange<'_>,
    ) -> Result<GrantedTokens, ConnectError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", exchange.code)
            .append_pair("redirect_uri", exchange.redirect_uri)
            .append_pair("code_verifier", exchange.code_verifier.expose_secret())
            .append_pair("client_id", exchange.client_id.expose_secret())
            .append_pair("client_secret", exchange.client_secret.expose_secret())
            .finish();
        let (status, body) = self
            .post_form(exchange.token_url, form, "token endpoint")
            .await?;
        if !status.is_success() {
            let error = serde_json::from_slice::<TokenError>(&body)
                .map(|e| e.error)
                .unwrap_or_default();
            return Err(match error.as_str() {
                "invalid_client" | "unauthorized_client" => ConnectError::BadClient,
                "invalid_grant" | "invalid_request" | "redirect_uri_mismatch" => {
                    ConnectError::Refused(error)
                }
                _ => ConnectError::Unavailable(format!("the token endpoint answered {status}")),
            });
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            ConnectError::Unavailable("the token endpoint's answer is not a token response".into())
        })?;
        Ok(GrantedTokens {
            access_token: SecretString::from(token.access_token),
            refresh_token: token.refresh_token.map(SecretString::from),
            expires_at: token.expires_in.and_then(|secs| {
                SystemTime::now().checked_add(Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME))
            }),
        })
    }

    /// Revokes `token` (a refresh token revokes its grant at most
    /// providers). A token the provider no longer knows counts as revoked.
    pub async fn revoke(
        &self,
        revocation_url: &str,
        token: &SecretString,
    ) -> Result<(), ConnectError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token.expose_secret())
            .finish();
        let (status, body) = self
            .post_form(revocation_url, form, "revocation endpoint")
            .await?;
        let error = serde_json::from_slice::<TokenError>(&body)
            .map(|e| e.error)
            .unwrap_or_default();
        if status.is_success() || error == "invalid_token" {
            Ok(())
        } else {
            Err(ConnectError::Unavailable(format!(
                "the revocation endpoint answered {status}"
            )))
        }
    }

    /// POSTs `form` to `url` under the policy; the status and the body.
    async fn post_form(
        &self,
        url: &str,
        form: String,
        what: &str,
    ) -> Result<(http::StatusCode, Bytes), ConnectError> {
        let invalid = || ConnectError::Unavailable(format!("the {what}'s URL is invalid"));
        let uri: http::Uri = url.parse().map_err(|_| invalid())?;
        let target = Target::from_uri(&uri).ok_or_else(invalid)?;
        if self.deny_hosts.iter().any(|p| p.covers_host(&target)) {
            return Err(ConnectError::Denied(format!(
                "the {what} {} is denied by the operator",
                target.origin()
            )));
        }
        let addr = match addr::resolve(&target.host, target.port, self.allow_private_network).await
        {
            Ok(addr) => addr,
            Err(ResolveError::Forbidden(f)) => {
                return Err(ConnectError::Denied(format!(
                    "the {what} is {}",
                    f.describe()
                )));
            }
            Err(ResolveError::NotFound) => {
                return Err(ConnectError::Unavailable(format!(
                    "the {what}'s name does not resolve"
                )));
            }
        };
        let authority = uri.authority().map_or("", |a| a.as_str()).to_owned();
        let request = http::Request::post(uri)
            .header(http::header::HOST, authority)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|_| invalid())?;
        let limits = SendLimits {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(15),
            max_response_body_bytes: MAX_RESPONSE_BYTES,
            deadline: Instant::now() + REQUEST_TIMEOUT,
        };
        let unavailable =
            || ConnectError::Unavailable(format!("the {what} did not answer in time"));
        let exchange = async {
            let response = self
                .client
                .send(request, addr, &target.host, target.https, limits)
                .await
                .map_err(|e| {
                    ConnectError::Unavailable(format!("the {what} could not be reached ({e})"))
                })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| {
                    ConnectError::Unavailable(format!("the {what}'s answer was cut off ({e})"))
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(unavailable()))
    }
}

/// The revocation endpoint (RFC 7009) of a provider known by its token
/// endpoint, for tools that do not say: Google's.
pub fn known_revocation_url(token_url: &str) -> Option<&'static str> {
    let uri: http::Uri = token_url.parse().ok()?;
    (uri.scheme_str() == Some("https") && uri.host() == Some("oauth2.googleapis.com"))
        .then_some("https://oauth2.googleapis.com/revoke")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_tokens_do_not_debug_their_values() {
        let tokens = GrantedTokens {
            access_token: SecretString::from("ya29.canary"),
            refresh_token: Some(SecretString::from("1//canary")),
            expires_at: None,
        };
        assert!(!format!("{tokens:?}").contains("canary"));
    }

    #[test]
    fn google_has_a_known_revocation_endpoint() {
        assert_eq!(
            known_revocation_url("https://oauth2.googleapis.com/token"),
            Some("https://oauth2.googleapis.com/revoke")
        );
        assert_eq!(
            known_revocation_url("http://oauth2.googleapis.com/token"),
            None
        );
        assert_eq!(known_revocation_url("https://login.example/token"), None);
    }
}

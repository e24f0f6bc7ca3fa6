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
use super::oauth::{RefreshedToken, TokenError, token_response};
use super::pattern::Target;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::time::{Duration, Instant};

/// How long one request to a provider may take, in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest provider answer read.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

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
    ) -> Result<RefreshedToken, ConnectError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", exchange.code)
            .append_pair("redirect_uri", exchange.redirect_uri)
            .append_pair("code_verifier", exchange.code_verifier.expose_secret())
            .append_pair("client_id", exchange.client_id.expose_secret())
            .append_pair("client_secret", exchange.client_secret.expose_secret())
            .finish();
        let (status, body) = self
            .post(exchange.token_url, form, "token endpoint")
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
        token_response(&body).ok_or_else(|| {
            ConnectError::Unavailable("the token endpoint's answer is not a token response".into())
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
            .post(revocation_url, form, "revocation endpoint")
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

    /// POSTs `form` to `url` under the operator's denials and the address
    /// checks, within [`REQUEST_TIMEOUT`]; the status and the body.
    async fn post(
        &self,
        url: &str,
        form: String,
        what: &str,
    ) -> Result<(http::StatusCode, Bytes), ConnectError> {
        if let Some(target) = url
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| Target::from_uri(&uri))
            && self.deny_hosts.iter().any(|p| p.covers_host(&target))
        {
            return Err(ConnectError::Denied(format!(
                "the {what} {} is denied by the operator",
                target.origin()
            )));
        }
        let limits = SendLimits {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(15),
            max_response_body_bytes: MAX_RESPONSE_BYTES,
            deadline: Instant::now() + REQUEST_TIMEOUT,
        };
        let posted = post_form(
            &self.client,
            url,
            form,
            self.allow_private_network,
            limits,
            what,
        );
        tokio::time::timeout(REQUEST_TIMEOUT, posted)
            .await
            .unwrap_or_else(|_| {
                Err(ConnectError::Unavailable(format!(
                    "the {what} did not answer in time"
                )))
            })
    }
}

/// POSTs `form` to `url` (an OAuth2 endpoint): resolves the host itself,
/// refuses forbidden addresses unless `allow_private_network` (metadata
/// services always), connects to the address it checked. The status and the
/// body; errors name `what` and never a secret.
pub(super) async fn post_form(
    client: &Client,
    url: &str,
    form: String,
    allow_private_network: bool,
    limits: SendLimits,
    what: &str,
) -> Result<(http::StatusCode, Bytes), ConnectError> {
    let invalid = || ConnectError::Unavailable(format!("the {what}'s URL is invalid"));
    let uri: http::Uri = url.parse().map_err(|_| invalid())?;
    let target = Target::from_uri(&uri).ok_or_else(invalid)?;
    let addr = match addr::resolve(&target.host, target.port, allow_private_network).await {
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
    let response = client
        .send(request, addr, &target.host, target.https, limits)
        .await
        .map_err(|e| ConnectError::Unavailable(format!("the {what} could not be reached ({e})")))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| ConnectError::Unavailable(format!("the {what}'s answer was cut off ({e})")))?
        .to_bytes();
    Ok((status, body))
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

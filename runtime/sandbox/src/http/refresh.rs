//! OAuth2 refresh orchestration for a call: when to refresh, the refresh
//! in a task of its own, and what a failure does to the call.

use super::client::SendLimits;
use super::outbound::Outbound;
use super::pattern::Target;
use super::{RefreshedToken, header_value, lock};
use crate::error::Error;
use http::HeaderValue;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime_wasi_http::Error as HttpError;

impl Outbound {
    /// The OAuth2 credential header to send, and the token generation it
    /// came from. Refreshes first when the token is missing or expired, or
    /// when `refused` is the generation an upstream just refused — at most
    /// once per call.
    pub(super) async fn oauth_header(
        self: &Arc<Self>,
        format: &str,
        refused: Option<u32>,
    ) -> Result<(Option<HeaderValue>, u32), HttpError> {
        let session = self
            .oauth
            .as_ref()
            .expect("OAuth credentials exist only with an OAuth session");
        let mut state = session.state.lock().await;
        let stale = match refused {
            Some(generation) => generation == state.generation,
            None => !state.is_usable(SystemTime::now()),
        };
        if stale && !state.refreshed {
            state.refreshed = true;
            match self.refresh().await {
                Ok(token) => {
                    state.access_token = Some(token.access_token);
                    state.expires_at = token.expires_at;
                    state.generation += 1;
                }
                Err(verdict) => {
                    tracing::debug!(tool = %session.tool_name, kind = %verdict.kind, "OAuth2 refresh failed");
                    lock(&self.verdict).get_or_insert(verdict);
                    return Err(HttpError::InternalError(Some(
                        "the host could not refresh the OAuth2 access token".into(),
                    )));
                }
            }
        }
        let value = state
            .access_token
            .as_ref()
            .and_then(|token| header_value(format, token.expose_secret()));
        Ok((value, state.generation))
    }

    /// Runs the refresh grant in a task of its own, so that a token the
    /// endpoint issued (and a refresh token it rotated) still reaches the
    /// caller's callback if this call is cancelled or times out meanwhile.
    async fn refresh(self: &Arc<Self>) -> Result<RefreshedToken, Error> {
        const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
        let session = self.oauth.as_ref().expect("refresh needs an OAuth session");
        // The token endpoint gets the refresh token and client secret: the
        // operator's denials apply to it as to any request.
        if let Some(target) = session
            .token_url
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| Target::from_uri(&uri))
            && self
                .grants
                .deny_hosts
                .iter()
                .any(|p| p.covers_host(&target))
        {
            return Err(Error::host(
                crate::error::ErrorKind::HostDenied,
                format!(
                    "the OAuth2 token endpoint {} is denied by the operator",
                    target.origin()
                ),
            ));
        }
        let this = Arc::clone(self);
        let limits = SendLimits {
            deadline: Instant::now() + REFRESH_TIMEOUT,
            ..self.send_limits
        };
        let task = tokio::spawn(async move {
            let session = this.oauth.as_ref().expect("checked above");
            let result = tokio::time::timeout(
                REFRESH_TIMEOUT,
                session.refresh(&this.client, this.grants.allow_private_network, limits),
            )
            .await
            .unwrap_or_else(|_| {
                Err(Error::host(
                    crate::error::ErrorKind::Upstream,
                    "refreshing the OAuth2 access token failed: the token endpoint did not answer in time",
                ))
            });
            if let Ok(token) = &result {
                {
                    let mut new_secrets = lock(&this.new_secrets);
                    new_secrets.push(token.access_token.clone());
                    new_secrets.extend(token.refresh_token.clone());
                }
                tracing::debug!(tool = %session.tool_name, "OAuth2 access token refreshed");
                if let Some(callback) = &session.on_refresh {
                    callback.call(token.clone());
                }
            }
            result
        });
        task.await.unwrap_or_else(|_| {
            Err(Error::host(
                crate::error::ErrorKind::Internal,
                "refreshing the OAuth2 access token failed unexpectedly",
            ))
        })
    }
}

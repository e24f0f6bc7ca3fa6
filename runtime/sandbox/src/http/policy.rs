//! The per-call policy: admission of each request (count, method, hosts)
//! and the record of what it refused.

use super::outbound::Outbound;
use super::pattern::Target;
use super::{Client, HttpGrants, TokenCallback, ToolNet, lock};
use crate::error::Error;
use crate::limits::Limits;
use crate::secrets::SecretMap;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Instant;
use wasmtime_wasi_http::Error as HttpError;

/// Everything the policy needs for one call, besides the request.
pub(crate) struct PolicyInput<'a> {
    pub net: &'a Arc<ToolNet>,
    pub grants: HttpGrants,
    pub secrets: &'a SecretMap,
    pub limits: &'a Limits,
    pub deadline: Instant,
    pub client: &'a Client,
    pub on_token_refresh: Option<TokenCallback>,
}

/// The per-call policy: the `WasiHttpHooks` of the call's store.
#[derive(Default)]
pub(crate) struct HttpPolicy {
    /// `None` when nothing may be reached at all (no allocation per call).
    outbound: Option<Arc<Outbound>>,
    requests: u32,
    denied: Vec<String>,
}

/// What the policy did during a call, for its outcome.
#[derive(Default)]
pub(crate) struct PolicyReport {
    /// Refused requests, as `origin (reason)`.
    pub denied: Vec<String>,
    /// A verdict that ends the call whatever the tool returned.
    pub verdict: Option<Error>,
    /// Tokens obtained during the call, to redact like the call's secrets.
    pub new_secrets: Vec<SecretString>,
}

/// Refusals kept per call; the first is what the call's error names.
const MAX_DENIALS_KEPT: usize = 16;

/// Records a refusal, bounded in count and size: a guest must not be able
/// to grow host memory by making refused requests.
/// The call's outcome redacts the records and logs them (a guest that can
/// read a secret could put it in a host name).
pub(super) fn record_denial(denied: &mut Vec<String>, origin: &str, reason: &str) {
    if denied.len() < MAX_DENIALS_KEPT {
        let mut origin = origin.to_owned();
        crate::log::truncate_at_char_boundary(&mut origin, 256);
        denied.push(format!("{origin} ({reason})"));
    }
}

impl HttpPolicy {
    pub fn new(input: PolicyInput<'_>) -> HttpPolicy {
        if input.net.allowed.is_empty() && input.grants.is_empty() {
            return HttpPolicy::default();
        }
        HttpPolicy {
            outbound: Some(Arc::new(Outbound::new(input))),
            requests: 0,
            denied: Vec::new(),
        }
    }

    /// What happened during the call.
    pub fn report(&mut self) -> PolicyReport {
        let mut denied = std::mem::take(&mut self.denied);
        let (verdict, new_secrets) = match &self.outbound {
            Some(out) => {
                denied.extend(lock(&out.denied).drain(..));
                (
                    lock(&out.verdict).take(),
                    std::mem::take(&mut *lock(&out.new_secrets)),
                )
            }
            None => (None, Vec::new()),
        };
        PolicyReport {
            denied,
            verdict,
            new_secrets,
        }
    }

    fn deny(&mut self, origin: String, reason: &str) -> HttpError {
        record_denial(&mut self.denied, &origin, reason);
        HttpError::HttpRequestDenied
    }

    /// The synchronous checks: request count and host patterns.
    pub(super) fn admit(
        &mut self,
        method: &http::Method,
        uri: &http::Uri,
    ) -> Result<(Arc<Outbound>, Target), HttpError> {
        let Some(target) = Target::from_uri(uri) else {
            let origin = format!(
                "{}://{}",
                uri.scheme_str().unwrap_or("?"),
                uri.authority().map_or("?", |a| a.as_str())
            );
            return Err(self.deny(origin, "not an http(s) URL with a host"));
        };
        let origin = target.origin();
        let Some(out) = self.outbound.clone() else {
            return Err(self.deny(origin, "not an allowed host"));
        };
        self.requests += 1;
        if self.requests > out.max_requests {
            let reason = format!("over the limit of {} requests per call", out.max_requests);
            return Err(self.deny(origin, &reason));
        }
        // TRACE would echo the host's credential headers back to the guest;
        // CONNECT would open a tunnel past the policy.
        if *method == http::Method::TRACE || *method == http::Method::CONNECT {
            return Err(self.deny(origin, "the method is not allowed"));
        }
        if out.grants.deny_hosts.iter().any(|p| p.covers_host(&target)) {
            return Err(self.deny(origin, "denied by the operator"));
        }
        let allowed = out.net.allowed.iter().any(|p| p.matches(&target))
            || out.grants.allow_hosts.iter().any(|p| p.matches(&target));
        if !allowed {
            return Err(self.deny(origin, "not an allowed host"));
        }
        Ok((out, target))
    }
}

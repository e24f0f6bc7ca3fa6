//! One call's admitted requests: address checks, credential injection,
//! sending under the call's limits, and response scrubbing.

use super::addr::{self, ResolveError};
use super::client::{Client, SendLimits, collect_limited};
use super::oauth::{self, TokenState};
use super::pattern::Target;
use super::policy::{PolicyInput, record_denial};
use super::{HostPattern, HttpGrants, ToolNet, header_value, lock, scrub};
use crate::error::Error;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::Full;
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// What a call that may reach something sends with; shared by its requests.
pub(super) struct Outbound {
    pub(super) net: Arc<ToolNet>,
    pub(super) grants: HttpGrants,
    credentials: Vec<CallCredential>,
    pub(super) client: Client,
    pub(super) max_requests: u32,
    max_request_body_bytes: u64,
    /// Request body bytes the call may still buffer (all requests together).
    request_body_budget: std::sync::atomic::AtomicU64,
    pub(super) send_limits: SendLimits,
    deadline: Instant,
    pub(super) oauth: Option<oauth::Session>,
    pub(super) denied: Mutex<Vec<String>>,
    pub(super) verdict: Mutex<Option<Error>>,
    pub(super) new_secrets: Mutex<Vec<SecretString>>,
    /// Host-only secret values of the call, scrubbed from every response.
    host_only_values: Vec<SecretString>,
}

struct CallCredential {
    header: HeaderName,
    hosts: Vec<HostPattern>,
    value: CredentialValue,
}

enum CredentialValue {
    Fixed(HeaderValue),
    /// Formatted from the session's current OAuth2 access token.
    OAuth {
        format: String,
    },
}

/// Carries the current trace (the outbound span's) to the target as W3C
/// `traceparent`/`tracestate`, replacing the guest's; without one the
/// guest's headers stay as they are.
fn propagate_trace(headers: &mut http::HeaderMap) {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    if !cx.span().span_context().is_valid() {
        return;
    }
    headers.remove("traceparent");
    headers.remove("tracestate");
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut opentelemetry_http::HeaderInjector(headers));
    });
}

/// A request whose body is in memory, so it can be sent more than once.
struct Buffered {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Buffered {
    fn build(&self, credentials: &[(HeaderName, HeaderValue)]) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        for (name, value) in credentials {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        request
    }
}

impl Outbound {
    /// The sending side of a call that may reach something.
    pub(super) fn new(input: PolicyInput<'_>) -> Outbound {
        let PolicyInput {
            net,
            grants,
            secrets,
            limits,
            deadline,
            client,
            on_token_refresh,
        } = input;
        let oauth = net.oauth_token_url.as_ref().map(|declared| {
            let secret = |name: &str| secrets.get(name).cloned();
            oauth::Session {
                token_url: grants
                    .oauth_token_url
                    .clone()
                    .unwrap_or_else(|| declared.clone()),
                tool_name: net.tool_name.clone(),
                client_id: secret(oauth::CLIENT_ID),
                client_secret: secret(oauth::CLIENT_SECRET),
                refresh_token: secret(oauth::REFRESH_TOKEN),
                on_refresh: on_token_refresh,
                state: tokio::sync::Mutex::new(TokenState {
                    access_token: secret(oauth::ACCESS_TOKEN),
                    expires_at: secrets
                        .get(oauth::ACCESS_TOKEN_EXPIRES_AT)
                        .and_then(|s| oauth::parse_expiry(s.expose_secret())),
                    generation: 0,
                    refreshed: false,
                }),
            }
        });
        let credentials = net
            .credentials
            .iter()
            .filter_map(|c| {
                let value = if oauth.is_some() && c.secret == oauth::ACCESS_TOKEN {
                    CredentialValue::OAuth {
                        format: c.format.clone(),
                    }
                } else {
                    let secret = secrets.get(&c.secret)?;
                    CredentialValue::Fixed(header_value(&c.format, secret.expose_secret())?)
                };
                let mut hosts = c.hosts.clone();
                hosts.extend(
                    grants
                        .credential_hosts
                        .iter()
                        .filter(|(secret, _)| *secret == c.secret)
                        .map(|(_, host)| host.clone()),
                );
                Some(CallCredential {
                    header: c.header.clone(),
                    hosts,
                    value,
                })
            })
            .collect();
        Outbound {
            net: net.clone(),
            grants,
            credentials,
            client: client.clone(),
            max_requests: limits.max_requests,
            max_request_body_bytes: limits.max_request_body_bytes,
            request_body_budget: limits.max_request_body_bytes.into(),
            send_limits: SendLimits {
                connect_timeout: limits.connect_timeout,
                first_byte_timeout: limits.first_byte_timeout,
                max_response_body_bytes: limits.max_response_body_bytes,
                deadline,
            },
            deadline,
            oauth,
            denied: Mutex::new(Vec::new()),
            verdict: Mutex::new(None),
            new_secrets: Mutex::new(Vec::new()),
            host_only_values: net
                .host_only
                .iter()
                .filter_map(|name| secrets.get(name).cloned())
                .collect(),
        }
    }

    pub(super) async fn send(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        target: Target,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let origin = target.origin();
        let addr = match addr::resolve(&target.host, target.port, self.grants.allow_private_network)
            .await
        {
            Ok(addr) if self.denies_address(addr.ip(), target.port, target.https) => {
                record_denial(&mut lock(&self.denied), &origin, "denied by the operator");
                return Err(HttpError::HttpRequestDenied);
            }
            Ok(addr) => addr,
            Err(ResolveError::Forbidden(f)) => {
                let reason = format!("it is {}", f.describe());
                record_denial(&mut lock(&self.denied), &origin, &reason);
                return Err(HttpError::HttpRequestDenied);
            }
            Err(ResolveError::NotFound) => {
                return Err(HttpError::DnsError {
                    rcode: Some("NXDOMAIN".into()),
                    info_code: None,
                });
            }
        };

        let limits = self.limits(options)?;
        let (parts, body) = request.into_parts();
        let mut buffered = Buffered {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body: collect_limited(body, &self.request_body_budget, self.max_request_body_bytes)
                .await?,
        };
        // The guest cannot choose a credential header's value for a
        // credential host: the host's value replaces it.
        let credentials: Vec<&CallCredential> = self
            .credentials
            .iter()
            .filter(|c| c.hosts.iter().any(|p| p.matches(&target)))
            .collect();
        for c in &credentials {
            buffered.headers.remove(&c.header);
        }
        propagate_trace(&mut buffered.headers);

        let mut generation = None;
        let mut headers = Vec::with_capacity(credentials.len());
        for c in &credentials {
            match &c.value {
                CredentialValue::Fixed(value) => headers.push((c.header.clone(), value.clone())),
                CredentialValue::OAuth { format } => {
                    let (value, used) = self.oauth_header(format, None).await?;
                    generation = Some(used);
                    headers.extend(value.map(|v| (c.header.clone(), v)));
                }
            }
        }

        let method = buffered.method.clone();
        let response = self
            .client
            .send(
                buffered.build(&headers),
                addr,
                &target.host,
                target.https,
                limits,
            )
            .await;
        tracing::debug!(%origin, %method, status = ?response.as_ref().map(|r| r.status().as_u16()).ok(), "outbound request");
        let response = response?;

        // One refresh and one retry when a credential host refuses the token.
        if response.status() == http::StatusCode::UNAUTHORIZED
            && let Some(used) = generation
        {
            let oauth_format = credentials.iter().find_map(|c| match &c.value {
                CredentialValue::OAuth { format } => Some((c.header.clone(), format)),
                CredentialValue::Fixed(_) => None,
            });
            if let Some((header, format)) = oauth_format {
                let (value, now) = self.oauth_header(format, Some(used)).await?;
                if now != used {
                    headers.retain(|(name, _)| *name != header);
                    headers.extend(value.map(|v| (header.clone(), v)));
                    drop(response);
                    let limits = self.limits(options)?;
                    let retried = self
                        .client
                        .send(
                            buffered.build(&headers),
                            addr,
                            &target.host,
                            target.https,
                            limits,
                        )
                        .await;
                    tracing::debug!(%origin, %method, status = ?retried.as_ref().map(|r| r.status().as_u16()).ok(), "outbound request retried after refresh");
                    return retried.map(|r| self.scrubbed(r));
                }
            }
        }
        Ok(self.scrubbed(response))
    }

    /// `response` with every spelling of the call's host-only secrets (and
    /// tokens obtained during the call) overwritten, before the guest sees it.
    fn scrubbed(&self, response: http::Response<WasiBody>) -> http::Response<WasiBody> {
        let new_secrets = lock(&self.new_secrets).clone();
        let values = self
            .host_only_values
            .iter()
            .chain(&new_secrets)
            .map(|v| v.expose_secret());
        match crate::encodings::Scrubber::new(values) {
            Some(scrubber) => scrub::response(response, Arc::new(scrubber)),
            None => response,
        }
    }

    /// Whether an operator denial names the address a request resolved to.
    fn denies_address(&self, ip: std::net::IpAddr, port: u16, https: bool) -> bool {
        let target = Target::from_ip(ip, port, https);
        self.grants
            .deny_hosts
            .iter()
            .any(|p| p.covers_host(&target))
    }

    /// Timeouts for the next attempt: the tighter of the host's limits, the
    /// guest's request options and what is left of the call's deadline.
    fn limits(&self, options: Option<RequestOptions>) -> Result<SendLimits, HttpError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::ConnectionTimeout);
        }
        let pick =
            |host: Duration, guest: Option<Duration>| guest.map_or(host, |g| g.min(host)).min(left);
        Ok(SendLimits {
            connect_timeout: pick(
                self.send_limits.connect_timeout,
                options.and_then(|o| o.connect_timeout),
            ),
            first_byte_timeout: pick(
                self.send_limits.first_byte_timeout,
                options.and_then(|o| o.first_byte_timeout),
            ),
            max_response_body_bytes: self.send_limits.max_response_body_bytes,
            deadline: self.deadline,
        })
    }
}

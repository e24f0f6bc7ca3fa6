//! The host's outbound HTTP policy for `wasi:http/outgoing-handler`.
//!
//! Every request a tool makes passes here:
//!
//! 1. **Hosts.** The target (`scheme://host:port`) must match one of the
//!    tool's `allowed-hosts` or an operator grant, and no operator denial.
//! 2. **Addresses.** The host resolves the name itself and refuses loopback,
//!    private, link-local, CGNAT, multicast, reserved and cloud-metadata
//!    addresses (IPv4, IPv6, IPv4-mapped IPv6 and loose IPv4 spellings such as
//!    `2130706433`) unless the operator allows private networks; link-local
//!    and metadata services are refused even then. It connects to the address
//!    it checked. `TRACE` and `CONNECT` are refused outright.
//! 3. **Credentials.** For a credential host, the host sets the credential's
//!    header itself (replacing any value the guest set). The guest never sees
//!    the value and no other host ever receives it.
//! 4. **OAuth2.** An expired access token is refreshed before use; a 401 from
//!    a credential host triggers one refresh and one retry.
//! 5. **Limits.** A per-call request count, request and response body caps,
//!    connect and first-byte timeouts, all inside the call's deadline.
//!    Redirects are returned to the guest, never followed here.
//!
//! Refusals are recorded, so a call that fails because of one is reported as
//! `host_denied`; a refresh that fails ends the call with the host's verdict.

mod addr;
mod client;
pub(crate) mod oauth;
mod pattern;
mod scrub;

pub use oauth::{RefreshedToken, TokenCallback};
pub use pattern::HostPattern;

pub(crate) use client::Client;
/// Every secret OAuth2 uses; none of them is readable by the guest.
pub use oauth::SECRET_NAMES as OAUTH_SECRET_NAMES;

use crate::error::Error;
use crate::limits::Limits;
use crate::metadata::ToolMetadata;
use crate::secrets::SecretMap;
use addr::ResolveError;
use bytes::Bytes;
use client::{SendLimits, collect_limited};
use http::{HeaderName, HeaderValue};
use http_body_util::Full;
use oauth::TokenState;
use pattern::Target;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument as _;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// What an operator grants or refuses on top of a tool's own declaration.
///
/// Grants never weaken what the tool declared for others: an extra allowed
/// host applies to this tool's calls only, and an extra credential host sends
/// that one credential to one more place.
#[derive(Debug, Clone, Default)]
pub struct HttpGrants {
    /// Hosts the tool may reach in addition to its `allowed-hosts`.
    pub allow_hosts: Vec<HostPattern>,
    /// Hosts the tool may not reach, whatever it or `allow_hosts` says. A
    /// denial covers its host on every scheme and port, and an IP address in
    /// every spelling (`127.1`, `::ffff:127.0.0.1`, NAT64, …), checked again
    /// against the address a name resolves to.
    pub deny_hosts: Vec<HostPattern>,
    /// Permit loopback, private and CGNAT addresses (for local services and
    /// test stand-ins). Link-local and cloud metadata addresses stay refused.
    pub allow_private_network: bool,
    /// `(secret, host)`: also inject the declared credential `secret` into
    /// requests for `host` (e.g. a regional endpoint or a local stand-in).
    pub credential_hosts: Vec<(String, HostPattern)>,
    /// Use this OAuth2 token endpoint instead of the one the tool declares.
    pub oauth_token_url: Option<String>,
}

impl HttpGrants {
    /// These grants' denials alone: what a tool gets when the operator's
    /// grants are not meant for it (they only ever take access away).
    pub fn denials_only(&self) -> HttpGrants {
        HttpGrants {
            deny_hosts: self.deny_hosts.clone(),
            ..HttpGrants::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.allow_hosts.is_empty() && self.credential_hosts.is_empty()
    }
}

/// A tool's network declaration, parsed once when it is loaded.
#[derive(Debug)]
pub(crate) struct ToolNet {
    tool_name: String,
    allowed: Vec<HostPattern>,
    credentials: Vec<ToolCredential>,
    oauth_token_url: Option<String>,
    /// Secrets the guest may not read: those of credentials and OAuth2.
    pub host_only: HashSet<String>,
}

#[derive(Debug)]
struct ToolCredential {
    secret: String,
    header: HeaderName,
    format: String,
    hosts: Vec<HostPattern>,
}

impl ToolNet {
    /// Parses validated metadata (patterns and header names were checked).
    pub fn new(metadata: &ToolMetadata) -> Result<ToolNet, String> {
        let patterns = |hosts: &[String]| -> Result<Vec<HostPattern>, String> {
            hosts.iter().map(|h| h.parse()).collect()
        };
        let credentials = metadata
            .credentials
            .iter()
            .map(|c| {
                Ok(ToolCredential {
                    secret: c.secret.clone(),
                    header: HeaderName::from_bytes(c.header.as_bytes())
                        .map_err(|_| format!("`{}` is not a header name", c.header))?,
                    format: c.format.clone(),
                    hosts: patterns(&c.hosts)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut host_only: HashSet<String> = credentials.iter().map(|c| c.secret.clone()).collect();
        if metadata.oauth.is_some() {
            host_only.extend(OAUTH_SECRET_NAMES.iter().map(|s| s.to_string()));
        }
        Ok(ToolNet {
            tool_name: metadata.name.clone(),
            allowed: patterns(&metadata.allowed_hosts)?,
            credentials,
            oauth_token_url: metadata.oauth.as_ref().map(|o| o.token_url.clone()),
            host_only,
        })
    }
}

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

struct Outbound {
    net: Arc<ToolNet>,
    grants: HttpGrants,
    credentials: Vec<CallCredential>,
    client: Client,
    max_requests: u32,
    max_request_body_bytes: u64,
    /// Request body bytes the call may still buffer (all requests together).
    request_body_budget: std::sync::atomic::AtomicU64,
    send_limits: SendLimits,
    deadline: Instant,
    oauth: Option<oauth::Session>,
    denied: Mutex<Vec<String>>,
    verdict: Mutex<Option<Error>>,
    new_secrets: Mutex<Vec<SecretString>>,
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

/// Refusals kept per call; the first is what the call's error names.
const MAX_DENIALS_KEPT: usize = 16;

/// Records a refusal, bounded in count and size: a guest must not be able
/// to grow host memory by making refused requests.
/// The call's outcome redacts the records and logs them (a guest that can
/// read a secret could put it in a host name).
fn record_denial(denied: &mut Vec<String>, origin: &str, reason: &str) {
    if denied.len() < MAX_DENIALS_KEPT {
        let mut origin = origin.to_owned();
        crate::log::truncate_at_char_boundary(&mut origin, 256);
        denied.push(format!("{origin} ({reason})"));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn header_value(format: &str, secret: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format.replacen("{}", secret, 1)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl HttpPolicy {
    pub fn new(input: PolicyInput<'_>) -> HttpPolicy {
        let PolicyInput {
            net,
            grants,
            secrets,
            limits,
            deadline,
            client,
            on_token_refresh,
        } = input;
        if net.allowed.is_empty() && grants.is_empty() {
            return HttpPolicy::default();
        }
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
        HttpPolicy {
            outbound: Some(Arc::new(Outbound {
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
            })),
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
    fn admit(
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

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let admitted = self.admit(request.method(), request.uri());
        // Method, host, port and status: never the path's query, headers
        // or bodies, which may carry tokens.
        let uri = request.uri();
        let span = tracing::info_span!(
            "HTTP outbound",
            otel.name = %request.method(),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = %request.method(),
            server.address = uri.host(),
            server.port = uri.port_u16(),
            url.scheme = uri.scheme_str(),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        Box::new(
            async move {
                let (out, target) = admitted?;
                let response = out.send(request, target, options).await;
                let span = tracing::Span::current();
                match &response {
                    Ok(response) => {
                        span.record("http.response.status_code", response.status().as_u16());
                    }
                    Err(e) => {
                        span.record("error.type", error_type(e));
                        span.record("otel.status_code", "ERROR");
                    }
                }
                Ok((
                    response?,
                    Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                ))
            }
            .instrument(span),
        )
    }
}

/// The variant of a wasi-http error code, without any text it carries.
fn error_type(e: &HttpError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
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
    async fn send(
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

    /// The OAuth2 credential header to send, and the token generation it
    /// came from. Refreshes first when the token is missing or expired, or
    /// when `refused` is the generation an upstream just refused — at most
    /// once per call.
    async fn oauth_header(
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
}

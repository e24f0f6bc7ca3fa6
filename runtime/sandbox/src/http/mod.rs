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
mod connect;
mod grants;
mod hooks;
pub(crate) mod oauth;
mod outbound;
mod pattern;
mod policy;
mod refresh;
mod scrub;

pub use connect::{CodeExchange, ConnectError, ProviderClient, known_revocation_url};
pub use grants::HttpGrants;
pub use oauth::{RefreshedToken, TokenCallback};
pub use pattern::HostPattern;

pub(crate) use client::Client;
pub(crate) use grants::ToolNet;
/// Every secret OAuth2 uses; none of them is readable by the guest.
pub use oauth::SECRET_NAMES as OAUTH_SECRET_NAMES;
pub(crate) use policy::{HttpPolicy, PolicyInput};

use http::HeaderValue;
use std::sync::Mutex;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn header_value(format: &str, secret: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format.replacen("{}", secret, 1)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

//! What a tool may reach: its own declaration (`ToolNet`) and what the
//! operator grants or refuses on top of it (`HttpGrants`).

use super::{HostPattern, OAUTH_SECRET_NAMES};
use crate::metadata::ToolMetadata;
use http::HeaderName;
use std::collections::HashSet;

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
    /// Send browsers connecting an account to this OAuth2 authorization
    /// endpoint instead of the one the tool declares.
    pub oauth_authorize_url: Option<String>,
    /// Revoke tokens at this endpoint (RFC 7009) when an account is
    /// disconnected; without it, the provider's known one, if any.
    pub oauth_revocation_url: Option<String>,
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

    pub(super) fn is_empty(&self) -> bool {
        self.allow_hosts.is_empty() && self.credential_hosts.is_empty()
    }
}

/// A tool's network declaration, parsed once when it is loaded.
#[derive(Debug)]
pub(crate) struct ToolNet {
    pub(super) tool_name: String,
    pub(super) allowed: Vec<HostPattern>,
    pub(super) credentials: Vec<ToolCredential>,
    pub(super) oauth_token_url: Option<String>,
    /// Secrets the guest may not read: those of credentials and OAuth2.
    pub host_only: HashSet<String>,
}

#[derive(Debug)]
pub(super) struct ToolCredential {
    pub(super) secret: String,
    pub(super) header: HeaderName,
    pub(super) format: String,
    pub(super) hosts: Vec<HostPattern>,
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

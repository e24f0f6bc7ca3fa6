//! What a new version of a tool may not change: secrets that were ever
//! host-only stay host-only, and a credential is never sent to more hosts.
//!
//! A tool keeps its id, and its organization's secrets, across versions. If
//! a new version could declare a former credential as a plain secret, or
//! send it (or the OAuth2 refresh token) to a new host, an API key could
//! read a write-only secret back by uploading that version. Such versions
//! are refused at install; to change what a secret is for, install the tool
//! under a new name and set the secret there.

use crate::error::{CoreError, Result};
use std::collections::{BTreeMap, BTreeSet};
use warden_sandbox::ToolMetadata;

/// The secrets a version keeps from the tool (credentials and, with OAuth2,
/// the OAuth2 secrets), and the hosts each credential goes to.
#[derive(Default)]
struct HostOnly {
    /// Secret → where it was declared host-only (a version string).
    secrets: BTreeMap<String, String>,
    /// Credential secret → every host it may be sent to.
    hosts: BTreeMap<String, BTreeSet<String>>,
    /// OAuth2 token endpoints (the refresh token goes there).
    token_urls: BTreeSet<String>,
}

impl HostOnly {
    fn add(&mut self, metadata: &ToolMetadata) {
        for c in &metadata.credentials {
            self.secrets
                .entry(c.secret.clone())
                .or_insert_with(|| metadata.version.clone());
            self.hosts
                .entry(c.secret.clone())
                .or_default()
                .extend(c.hosts.iter().cloned());
        }
        if let Some(oauth) = &metadata.oauth {
            for name in warden_sandbox::OAUTH_SECRET_NAMES {
                self.secrets
                    .entry((*name).to_owned())
                    .or_insert_with(|| metadata.version.clone());
            }
            self.token_urls.insert(oauth.token_url.clone());
        }
    }
}

/// Refuses `new` if it would make a secret readable that an `earlier`
/// version kept host-only, or send a credential where no earlier version
/// did.
pub(crate) fn check(earlier: &[ToolMetadata], new: &ToolMetadata) -> Result<()> {
    let mut before = HostOnly::default();
    earlier.iter().for_each(|m| before.add(m));
    let mut after = HostOnly::default();
    after.add(new);

    let mut problems = Vec::new();
    for secret in &new.secrets {
        if let Some(version) = before.secrets.get(&secret.name)
            && !after.secrets.contains_key(&secret.name)
        {
            problems.push(format!(
                "the secret `{}` is host-only since version {version} and would become readable \
                 by the tool",
                secret.name
            ));
        }
    }
    for (secret, hosts) in &after.hosts {
        let Some(allowed) = before.hosts.get(secret) else {
            continue;
        };
        for host in hosts.difference(allowed) {
            problems.push(format!(
                "the credential `{secret}` would also be sent to {host}, which no earlier \
                 version sends it to"
            ));
        }
    }
    if !before.token_urls.is_empty() {
        for url in after.token_urls.difference(&before.token_urls) {
            problems.push(format!(
                "the OAuth2 token endpoint would change to {url}; the refresh token only goes \
                 where earlier versions sent it"
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(CoreError::Conflict(format!(
        "version {} of `{}` cannot be installed over its earlier versions: {} (install it \
         under a new tool name instead)",
        new.version,
        new.name,
        problems.join("; ")
    )))
}

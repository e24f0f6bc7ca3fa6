//! Host patterns (`allowed-hosts` entries) and the request targets they match.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use warden_contract::PatternHost;

/// An `allowed-hosts` entry: `scheme://host[:port]`, where the host may start
/// with a `*.` label wildcard.
///
/// * The scheme is `http` or `https` and must match exactly.
/// * Without a port, the scheme's default port (80 or 443) is meant.
/// * `*.example.com` matches any name below `example.com` (`a.example.com`,
///   `a.b.example.com`), never `example.com` itself.
/// * Names compare case-insensitively; IPv6 literals are bracketed
///   (`http://[::1]:8080`) and compare as addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    https: bool,
    host: HostMatch,
    port: u16,
    text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostMatch {
    /// A name (lowercased) or an IP address in its canonical form.
    Exact(String),
    /// `*.suffix`: stores `.suffix`, lowercased.
    Below(String),
}

/// The canonical spelling of `host` if it is an IP address in any form the
/// resolver would accept (`10.5`, `0xa.0.0.5`, `[::ffff:10.0.0.5]` all become
/// `10.0.0.5`), so patterns and targets compare as addresses.
fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return match embedded_ipv4(v6) {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        };
    }
    match super::addr::parse_ipv4_loose(&host) {
        Some(v4) => v4.to_string(),
        None => host,
    }
}

/// The IPv4 address an IPv6 address stands for, in the forms that reach it:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) and NAT64's well-known prefix
/// (`64:ff9b::a.b.c.d`).
fn embedded_ipv4(v6: Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = std::net::Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s[..6] {
        [0, 0, 0, 0, 0xffff, 0] | [0x64, 0xff9b, 0, 0, 0, 0] => Some(low),
        // `::` and `::1` are IPv6's own, not IPv4-compatible.
        [0, 0, 0, 0, 0, 0] if u32::from(low) > 1 => Some(low),
        _ => None,
    }
}

/// The scheme, host and port a request is addressed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    /// Lowercased; IPv6 literals without brackets.
    pub host: String,
    pub port: u16,
}

impl Target {
    /// The target of a request URI, if it has a supported scheme and a host.
    pub fn from_uri(uri: &http::Uri) -> Option<Target> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = authority.host();
        let host = canonical_host(
            host.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host),
        );
        if host.is_empty() {
            return None;
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Target { https, host, port })
    }

    /// The target a resolved address stands for.
    pub fn from_ip(ip: IpAddr, port: u16, https: bool) -> Target {
        Target {
            https,
            host: canonical_host(&ip.to_string()),
            port,
        }
    }

    /// `scheme://host:port`, for reports and logs (never a path or query).
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl HostPattern {
    /// Whether a request to `target` is covered by this pattern.
    pub(crate) fn matches(&self, target: &Target) -> bool {
        self.https == target.https && self.port == target.port && self.covers_host(target)
    }

    /// Whether `target` is on this pattern's host (or below it, for `*.`),
    /// on any scheme and port: how operator denials match, so that a denied
    /// service is not reachable over another scheme or port.
    pub(crate) fn covers_host(&self, target: &Target) -> bool {
        match &self.host {
            HostMatch::Exact(host) => *host == target.host,
            HostMatch::Below(suffix) => {
                target.host.len() > suffix.len() && target.host.ends_with(suffix.as_str())
            }
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for HostPattern {
    type Err = String;

    /// The syntax is the contract's ([`warden_contract::parse_host_pattern`]);
    /// the host adds case folding and IP address canonicalization.
    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        let parsed = warden_contract::parse_host_pattern(pattern)?;
        let host = match parsed.host {
            PatternHost::Ipv6(ip) => HostMatch::Exact(canonical_host(&ip.to_string())),
            PatternHost::Name(name) => HostMatch::Exact(canonical_host(name)),
            PatternHost::Below(name) => HostMatch::Below(format!(".{}", name.to_ascii_lowercase())),
        };
        Ok(HostPattern {
            https: parsed.https,
            host,
            port: parsed.port,
            text: pattern.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::from_uri(&url.parse().unwrap()).unwrap()
    }

    fn matches(pattern: &str, url: &str) -> bool {
        pattern
            .parse::<HostPattern>()
            .unwrap()
            .matches(&target(url))
    }

    #[test]
    fn exact_hosts_match_scheme_host_and_port() {
        assert!(matches(
            "https://api.example.com",
            "https://api.example.com/x?y"
        ));
        assert!(matches(
            "https://api.example.com",
            "https://API.Example.com:443/"
        ));
        assert!(!matches(
            "https://api.example.com",
            "http://api.example.com/"
        ));
        assert!(!matches(
            "https://api.example.com",
            "https://api.example.com:8443/"
        ));
        assert!(!matches(
            "https://api.example.com",
            "https://api.example.com.evil.net/"
        ));
        assert!(!matches(
            "https://api.example.com",
            "https://evilapi.example.com/"
        ));
        assert!(matches("http://127.0.0.1:8080", "http://127.0.0.1:8080/"));
        assert!(!matches("http://127.0.0.1:8080", "http://127.0.0.1:8081/"));
    }

    #[test]
    fn denials_cover_a_host_on_every_scheme_port_and_ip_spelling() {
        let covers = |pattern: &str, url: &str| {
            pattern
                .parse::<HostPattern>()
                .unwrap()
                .covers_host(&target(url))
        };
        for url in [
            "http://127.0.0.1/",
            "https://127.0.0.1:8443/",
            "http://127.1:9090/",
            "http://2130706433/",
            "http://[::ffff:127.0.0.1]:8080/",
            "http://[::ffff:0:127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[::127.0.0.1]/",
        ] {
            assert!(covers("http://127.0.0.1:8080", url), "{url}");
        }
        assert!(!covers("http://127.0.0.1:8080", "http://127.0.0.2:8080/"));
        assert!(
            !covers("http://[::1]", "http://127.0.0.1/"),
            "::1 is not ::0.0.0.1"
        );
        assert!(covers("http://[::1]", "https://[0::1]:9/"));
        assert!(covers(
            "https://*.corp.example",
            "http://a.corp.example:81/"
        ));
        assert!(!covers("https://*.corp.example", "http://corp.example/"));
    }

    #[test]
    fn wildcards_match_names_below_never_the_apex() {
        assert!(matches("https://*.example.com", "https://a.example.com/"));
        assert!(matches("https://*.example.com", "https://a.b.example.com/"));
        assert!(!matches("https://*.example.com", "https://example.com/"));
        assert!(!matches("https://*.example.com", "https://badexample.com/"));
    }

    #[test]
    fn ip_literals_compare_as_addresses_in_any_spelling() {
        assert!(matches("http://[::1]:8080", "http://[0:0::1]:8080/"));
        assert!(!matches("http://[::1]:8080", "http://[::2]:8080/"));
        for spelling in [
            "10.0.0.5",
            "10.5",
            "167772165",
            "0xa.0.0.5",
            "012.0.0.5",
            "[::ffff:10.0.0.5]",
        ] {
            assert!(
                matches("http://10.0.0.5", &format!("http://{spelling}/")),
                "{spelling}"
            );
            assert!(
                matches(&format!("http://{spelling}"), "http://10.0.0.5/"),
                "{spelling}"
            );
        }
    }

    #[test]
    fn invalid_patterns_say_why() {
        for bad in [
            "www.googleapis.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://exa mple.com",
            "https://example.com:99999",
            "https://example.com:0",
            "https://*",
            "https://a.*.com",
            "https://[::1",
            "https://user@example.com",
        ] {
            let err = bad.parse::<HostPattern>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}

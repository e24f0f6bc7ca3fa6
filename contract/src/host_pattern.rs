//! The syntax of an `allowed-hosts` entry.

use std::net::Ipv6Addr;

/// The parts of a well-formed `allowed-hosts` entry, `scheme://host[:port]`.
///
/// Only syntax: the host compares names case-insensitively and IP addresses
/// in their canonical form when it matches requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPatternSyntax<'a> {
    /// `https` (else `http`).
    pub https: bool,
    /// The host part.
    pub host: PatternHost<'a>,
    /// The port; the scheme's default (80 or 443) when none is written.
    pub port: u16,
}

/// The host part of an `allowed-hosts` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternHost<'a> {
    /// A bracketed IPv6 literal.
    Ipv6(Ipv6Addr),
    /// A name (or an IPv4 address), as written.
    Name(&'a str),
    /// `*.name`: any name below `name` (as written), never `name` itself.
    Below(&'a str),
}

/// Whether `pattern` is an `allowed-hosts` entry: `scheme://host[:port]` with
/// scheme `http` or `https`, an optional leading `*.` label wildcard, and
/// nothing after the authority.
pub fn is_valid_host_pattern(pattern: &str) -> bool {
    parse_host_pattern(pattern).is_ok()
}

/// Splits an `allowed-hosts` entry into its parts, or says why it is not one.
///
/// * The scheme is `http` or `https`.
/// * The port, if written, is 1–65535.
/// * The host is a bracketed IPv6 literal or a DNS name (labels of ASCII
///   letters, digits and inner `-`, at most 63 bytes each, 253 in all),
///   optionally prefixed with `*.`.
pub fn parse_host_pattern(pattern: &str) -> Result<HostPatternSyntax<'_>, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{pattern}` is not a host pattern ({why}); expected scheme://host[:port], \
             e.g. https://api.example.com or https://*.example.com"
        ))
    };
    let Some((scheme, authority)) = pattern.split_once("://") else {
        return bad("no scheme");
    };
    let https = match scheme {
        "https" => true,
        "http" => false,
        _ => return bad("the scheme must be http or https"),
    };
    let default_port = if https { 443 } else { 80 };
    let parse_port = |port: &str| port.parse::<u16>().ok().filter(|p| *p != 0);

    if let Some(rest) = authority.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return bad("unclosed `[`");
        };
        let Ok(ip) = ip.parse::<Ipv6Addr>() else {
            return bad("not an IPv6 address between `[` and `]`");
        };
        let port = match after {
            "" => default_port,
            _ => match after.strip_prefix(':').and_then(parse_port) {
                Some(port) => port,
                None => return bad("invalid port"),
            },
        };
        return Ok(HostPatternSyntax {
            https,
            host: PatternHost::Ipv6(ip),
            port,
        });
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => match parse_port(port) {
            Some(port) => (host, port),
            None => return bad("invalid port"),
        },
        None => (authority, default_port),
    };
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, host),
    };
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
        return bad("invalid host name");
    }
    Ok(HostPatternSyntax {
        https,
        host: if wildcard {
            PatternHost::Below(name)
        } else {
            PatternHost::Name(name)
        },
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        assert_eq!(
            parse_host_pattern("https://*.Example.com:8443"),
            Ok(HostPatternSyntax {
                https: true,
                host: PatternHost::Below("Example.com"),
                port: 8443
            })
        );
        assert_eq!(
            parse_host_pattern("http://[::1]"),
            Ok(HostPatternSyntax {
                https: false,
                host: PatternHost::Ipv6(Ipv6Addr::LOCALHOST),
                port: 80
            })
        );
        assert_eq!(
            parse_host_pattern("https://api.example.com").map(|p| p.port),
            Ok(443)
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "api.example.com",
            "ftp://example.com",
            "https://",
            "https://*.",
            "https://example.com:0",
            "https://example.com:99999",
            "https://example.com/path",
            "https://-a.example.com",
            "http://[::1",
            "http://[zz]",
            "https://a..b",
        ] {
            assert!(!is_valid_host_pattern(bad), "{bad}");
        }
    }
}

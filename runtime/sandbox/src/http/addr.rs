//! Which IP addresses a tool may connect to, and name resolution that checks
//! them before any connection is made.
//!
//! The host resolves names itself and connects to the address it checked, so
//! a name cannot be re-pointed (DNS rebinding) between check and use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Forbidden {
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Multicast,
    /// Unspecified, broadcast, documentation, benchmarking and other
    /// reserved ranges: never a legitimate destination.
    Reserved,
    /// Cloud instance metadata and credential services: never reachable,
    /// even where private networks are allowed, since they hand out the
    /// machine's credentials.
    CloudMetadata,
}

impl Forbidden {
    /// Whether the operator's "allow private networks" switch lifts the ban.
    /// Link-local stays refused: cloud providers serve instance credentials
    /// from all over it.
    pub fn is_private_network(self) -> bool {
        matches!(
            self,
            Forbidden::Loopback | Forbidden::Private | Forbidden::SharedCgnat
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            Forbidden::Loopback => "a loopback address",
            Forbidden::Private => "a private-network address",
            Forbidden::LinkLocal => "a link-local address",
            Forbidden::SharedCgnat => "a carrier-grade NAT address",
            Forbidden::Multicast => "a multicast address",
            Forbidden::Reserved => "a reserved address",
            Forbidden::CloudMetadata => "a cloud metadata address",
        }
    }
}

/// Classifies `ip`; `None` means a public address.
pub(crate) fn classify(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    let [a, b, c, d] = ip.octets();
    let forbidden = match (a, b, c, d) {
        // AWS/GCP/Azure IMDS, ECS and EKS Pod Identity credentials, Alibaba,
        // Azure WireServer.
        (169, 254, 169, 254)
        | (169, 254, 170, 2)
        | (169, 254, 170, 23)
        | (100, 100, 100, 200)
        | (168, 63, 129, 16) => Forbidden::CloudMetadata,
        (127, ..) => Forbidden::Loopback,
        (10, ..) | (172, 16..=31, ..) | (192, 168, ..) => Forbidden::Private,
        (169, 254, ..) => Forbidden::LinkLocal,
        (100, 64..=127, ..) => Forbidden::SharedCgnat,
        (224..=239, ..) => Forbidden::Multicast,
        (0, ..)
        | (192, 0, 0, _)
        | (192, 0, 2, _)
        | (198, 18..=19, ..)
        | (198, 51, 100, _)
        | (203, 0, 113, _)
        // The deprecated 6to4 relay anycast range.
        | (192, 88, 99, _)
        | (240..=255, ..) => Forbidden::Reserved,
        _ => return None,
    };
    Some(forbidden)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    let segments = ip.segments();
    // Addresses that embed an IPv4 address are judged by it: IPv4-mapped
    // (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), IPv4-translated
    // (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if segments[..6] == [0; 6] && !(segments[6] == 0 && segments[7] <= 1) {
        return classify_v4(Ipv4Addr::from(
            (u32::from(segments[6]) << 16) | u32::from(segments[7]),
        ));
    }
    // NAT64 (64:ff9b::/96) and SIIT's IPv4-translated form (::ffff:0:a.b.c.d).
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return classify_v4(Ipv4Addr::from(
            (u32::from(segments[6]) << 16) | u32::from(segments[7]),
        ));
    }
    if segments[0] == 0x2002 {
        return classify_v4(Ipv4Addr::from(
            (u32::from(segments[1]) << 16) | u32::from(segments[2]),
        ));
    }
    let forbidden = match segments {
        // AWS IMDS and EKS Pod Identity, GCP metadata over IPv6.
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254 | 0x0023]
        | [0xfd20, 0x00ce, 0, 0, 0, 0, 0, 0x0254] => Forbidden::CloudMetadata,
        _ if ip.is_loopback() => Forbidden::Loopback,
        _ if ip.is_unspecified() => Forbidden::Reserved,
        [s0, ..] if s0 & 0xfe00 == 0xfc00 => Forbidden::Private, // fc00::/7
        [s0, ..] if s0 & 0xffc0 == 0xfe80 => Forbidden::LinkLocal, // fe80::/10
        [s0, ..] if s0 & 0xffc0 == 0xfec0 => Forbidden::Private, // fec0::/10 (site-local)
        [s0, ..] if s0 & 0xff00 == 0xff00 => Forbidden::Multicast,
        // NAT64 for local use (64:ff9b:1::/48): translated to whatever
        // IPv4 network the operator's translator serves.
        [0x64, 0xff9b, 0x0001, ..] => Forbidden::Private,
        // IETF protocol assignments (2001::/23), Teredo (2001::/32) among
        // them, which tunnels to an IPv4 address it hides.
        [0x2001, s1, ..] if s1 < 0x0200 => Forbidden::Reserved,
        [0x2001, 0x0db8, ..] => Forbidden::Reserved, // documentation
        [0x0100, 0, 0, 0, ..] => Forbidden::Reserved, // discard-only
        _ => return None,
    };
    Some(forbidden)
}

/// Parses an IPv4 address the way `inet_aton` does, so spellings that the
/// system resolver would turn into an address are recognised as one:
/// `127.0.0.1`, `127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`.
pub(crate) fn parse_ipv4_loose(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        numbers.push(value);
    }
    // All but the last part are single bytes; the last fills the rest.
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - leading.len() as u32);
    if rest_bits < 32 && *last >= (1u32 << rest_bits) {
        return None;
    }
    let mut value = *last;
    for (i, n) in leading.iter().enumerate() {
        value |= n << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(value))
}

/// Why a destination was refused.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// Every address the name has is forbidden.
    Forbidden(Forbidden),
    /// The name does not resolve.
    NotFound,
}

/// Resolves `host` and returns an address the tool may connect to.
///
/// IP literals (including the loose IPv4 spellings) are not looked up. Of a
/// name's addresses, the first permitted one is used; when none is permitted
/// the reason for the first is reported.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    allow_private_network: bool,
) -> Result<SocketAddr, ResolveError> {
    let allowed = |ip: IpAddr| match classify(ip) {
        None => Ok(()),
        Some(f) if allow_private_network && f.is_private_network() => Ok(()),
        Some(f) => Err(f),
    };
    let literal = host
        .parse::<Ipv6Addr>()
        .map(IpAddr::V6)
        .ok()
        .or_else(|| parse_ipv4_loose(host).map(IpAddr::V4));
    if let Some(ip) = literal {
        return allowed(ip)
            .map(|()| SocketAddr::new(ip, port))
            .map_err(ResolveError::Forbidden);
    }
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| ResolveError::NotFound)?;
    let mut first_refusal = None;
    for addr in addrs {
        match allowed(addr.ip()) {
            Ok(()) => return Ok(addr),
            Err(f) => {
                first_refusal.get_or_insert(f);
            }
        }
    }
    Err(first_refusal.map_or(ResolveError::NotFound, ResolveError::Forbidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<Forbidden> {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn forbidden_ranges() {
        use Forbidden::*;
        for (ip, want) in [
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", CloudMetadata),
            ("100.100.100.200", CloudMetadata),
            ("100.64.0.1", SharedCgnat),
            ("224.0.0.1", Multicast),
            ("0.0.0.0", Reserved),
            ("255.255.255.255", Reserved),
            ("::1", Loopback),
            ("::", Reserved),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", CloudMetadata),
            ("::ffff:10.0.0.1", Private),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::a00:1", Private),
            ("2002:7f00:1::", Loopback),
            ("fc00::1", Private),
            ("fd00:ec2::254", CloudMetadata),
            ("fd00:ec2::23", CloudMetadata),
            ("fd20:ce::254", CloudMetadata),
            ("169.254.170.23", CloudMetadata),
            ("168.63.129.16", CloudMetadata),
            ("fe80::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("::ffff:0:127.0.0.1", Loopback),
            ("::ffff:0:a9fe:a9fe", CloudMetadata),
            ("64:ff9b:1::a00:1", Private),
            ("64:ff9b:1:ffff::1", Private),
            ("2001::1", Reserved),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Reserved),
            ("192.88.99.1", Reserved),
        ] {
            assert_eq!(class(ip), Some(want), "{ip}");
        }
        for public in [
            "8.8.8.8",
            "142.250.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "2001:4860:4860::8888",
            "192.88.100.1",
        ] {
            assert_eq!(class(public), None, "{public}");
        }
    }

    #[test]
    fn loose_ipv4_spellings() {
        let localhost = Some(Ipv4Addr::LOCALHOST);
        for spelling in [
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "2130706433",
            "0x7f000001",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "0177.0.0.01",
            "0X7F.1",
        ] {
            assert_eq!(parse_ipv4_loose(spelling), localhost, "{spelling}");
        }
        for not_ip in [
            "example.com",
            "256.0.0.1",
            "1.2.3.4.5",
            "",
            "1..2",
            "08.0.0.1",
            "1.2.3.256",
        ] {
            assert_eq!(parse_ipv4_loose(not_ip), None, "{not_ip}");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        assert!(matches!(
            resolve("localhost", 80, false).await,
            Err(ResolveError::Forbidden(Forbidden::Loopback))
        ));
        assert!(resolve("localhost", 80, true).await.is_ok());
        assert!(matches!(
            resolve("0x7f.1", 80, false).await,
            Err(ResolveError::Forbidden(Forbidden::Loopback))
        ));
        assert!(matches!(
            resolve("169.254.169.254", 80, true).await,
            Err(ResolveError::Forbidden(Forbidden::CloudMetadata))
        ));
        assert!(matches!(
            resolve("169.254.1.1", 80, true).await,
            Err(ResolveError::Forbidden(Forbidden::LinkLocal))
        ));
    }
}

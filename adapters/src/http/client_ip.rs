//! Who the client is: its IP as the limits and the audit log see it, and its user agent.
//!
//! # Security
//! The client IP is the socket peer. Only when the peer is a configured trusted proxy
//! (`TRUSTED_PROXIES`) is `X-Forwarded-For` read, walked from the right, and the first
//! hop that is not itself a trusted proxy taken: everything left of it was written by
//! the client and can be forged. `poem::web::RealIp` (left-most hop, no trust check)
//! would let any client pick the IP its limits are keyed on. The RFC 7239 `Forwarded`
//! header is ignored.

use std::net::{IpAddr, SocketAddr};

use application::Caller;
use ipnet::IpNet;
use poem::Request;
use poem::http::{HeaderMap, header};

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `TRUSTED_PROXIES` entries: each a CIDR (`10.0.0.0/8`) or a bare IP.
    ///
    /// # Errors
    /// The first entry that is neither.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{entry}` is neither a CIDR nor an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The trusted ranges, as parsed (the configuration checks how wide they are).
    pub fn ranges(&self) -> &[IpNet] {
        &self.0
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = fold(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// IPv4-mapped IPv6 addresses are IPv4 addresses.
fn fold(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` hop: an IP, optionally with a port (`1.2.3.4:80`, `[::1]:80`).
fn hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(fold)
}

/// The client IP behind a request, from its peer and its `X-Forwarded-For` headers (all
/// of them, joined in order).
///
/// Walking from the right: a trusted hop is skipped, the first untrusted one is the
/// client; an entry that is not an IP ends the walk and the last good hop is used; when
/// every hop is trusted, the left-most is.
pub fn resolve_client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = fold(peer?);
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Some(ip) = hop(entry) else {
            return Some(client);
        };
        client = ip;
        if !trusted.contains(ip) {
            return Some(ip);
        }
    }
    Some(client)
}

/// The client IP resolved for a request by the envelope layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// The caller of a request: the IP resolved once per request by the envelope layer (the
/// same IP the limits key on and the audit log records), and the user agent.
pub fn caller(req: &Request) -> Caller {
    let ip = match req.extensions().get::<ClientIp>() {
        Some(ClientIp(ip)) => *ip,
        None => req.remote_addr().as_socket_addr().map(|a| fold(a.ip())),
    };
    Caller {
        ip,
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use poem::http::HeaderValue;

    use super::*;

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("valid")
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).expect("header"));
        }
        headers
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let got = resolve_client_ip(
            ip("203.0.113.7"),
            &xff(&["1.1.1.1"]),
            &TrustedProxies::default(),
        );
        assert_eq!(got, ip("203.0.113.7"));
    }

    #[test]
    fn an_untrusted_peer_cannot_forge_its_ip_with_x_forwarded_for() {
        let got = resolve_client_ip(
            ip("203.0.113.7"),
            &xff(&["1.1.1.1"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("203.0.113.7"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8", "192.0.2.1"]);
        // The client forged "6.6.6.6"; its real address was appended by the proxies.
        let got = resolve_client_ip(
            ip("10.0.0.2"),
            &xff(&["6.6.6.6, 198.51.100.9, 192.0.2.1"]),
            &proxies,
        );
        assert_eq!(got, ip("198.51.100.9"));
    }

    #[test]
    fn several_x_forwarded_for_headers_are_joined_in_order() {
        let got = resolve_client_ip(
            ip("10.0.0.2"),
            &xff(&["6.6.6.6", "198.51.100.9, 10.1.1.1"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("198.51.100.9"));
    }

    #[test]
    fn an_entry_that_is_not_an_ip_ends_the_walk_at_the_last_good_hop() {
        let got = resolve_client_ip(
            ip("10.0.0.2"),
            &xff(&["198.51.100.9, garbage, 10.0.0.5"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("10.0.0.5"));
        let got = resolve_client_ip(
            ip("10.0.0.2"),
            &xff(&["nonsense"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn when_every_hop_is_trusted_the_left_most_is_used() {
        let got = resolve_client_ip(
            ip("10.0.0.2"),
            &xff(&["10.0.0.9, 10.0.0.8"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("10.0.0.9"));
        let got = resolve_client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted(&["10.0.0.0/8"]));
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn ports_and_ipv4_mapped_addresses_are_understood() {
        let got = resolve_client_ip(
            ip("::ffff:10.0.0.2"),
            &xff(&["198.51.100.9:4711"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("198.51.100.9"));
        let got = resolve_client_ip(
            ip("10.0.0.2"),
            &xff(&["[2001:db8::1]:443"]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(got, ip("2001:db8::1"));
        let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 7).to_ipv6_mapped());
        assert_eq!(
            resolve_client_ip(Some(mapped), &HeaderMap::new(), &TrustedProxies::default()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_forwarded_header_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("forwarded", HeaderValue::from_static("for=1.1.1.1"));
        let got = resolve_client_ip(ip("10.0.0.2"), &headers, &trusted(&["10.0.0.0/8"]));
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn trusted_proxies_accept_cidrs_and_bare_ips_and_refuse_anything_else() {
        assert!(
            trusted(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "::1"])
                .contains("::1".parse().expect("ip"))
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".to_owned()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.internal".to_owned()]).is_err());
    }
}

//! Who the client is: the socket peer's IP (IPv4-mapped IPv6 folded to IPv4) and the
//! user agent.
//!
//! # Security
//! Forwarding headers are not read: `X-Forwarded-For` is spoofable and would let any
//! client choose the IP its limits are keyed on. (Trusted proxies come with the abuse
//! limits: only then may a peer's `X-Forwarded-For` be believed.)

use std::net::IpAddr;

use application::Caller;
use poem::Request;
use poem::http::header;

/// The client IP behind a peer address.
pub fn client_ip(peer: Option<IpAddr>) -> Option<IpAddr> {
    peer.map(|ip| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    })
}

/// The caller of a request.
pub fn caller(req: &Request) -> Caller {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    Caller {
        ip: client_ip(peer),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn an_ipv4_mapped_ipv6_peer_counts_as_ipv4() {
        let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 7).to_ipv6_mapped());
        assert_eq!(
            client_ip(Some(mapped)),
            Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)))
        );
    }

    #[test]
    fn plain_peers_are_kept() {
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(client_ip(Some(v6)), Some(v6));
        assert_eq!(client_ip(None), None);
    }
}

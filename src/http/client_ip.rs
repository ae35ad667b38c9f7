//! The client's address as policies see it (`context.client_ip`).
//!
//! Forwarding headers are written by whoever sends the request, so they are believed only when
//! the TCP peer is one of `server.trusted_proxies`, and then only as far as the chain of trusted
//! proxies reaches: reading from the right (the hop closest to us), each trusted address is a
//! proxy that appended what is to its left, and the first untrusted address is the client. What
//! is further left came from the client and may be forged.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::{ForwardedHeader, ServerSettings};

/// `None` when a trusted proxy reported the client as unknown or obfuscated (RFC 7239 §6.3):
/// no address is better than the proxy's own, which policies would take for the client's.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, server: &ServerSettings) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    let trusted = |ip: IpAddr| server.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(peer) {
        return Some(peer);
    }
    let (name, parse): (&str, fn(&str) -> Option<IpAddr>) = match server.forwarded_header {
        ForwardedHeader::XForwardedFor => ("x-forwarded-for", parse_node),
        ForwardedHeader::Forwarded => ("forwarded", forwarded_for),
    };
    // Several header lines form one list, in order (RFC 9110 §5.3).
    let lines: Vec<&str> = headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("")).collect();
    let mut client = peer;
    for hop in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        if hop.trim().is_empty() {
            continue;
        }
        match parse(hop) {
            Some(ip) if trusted(ip) => client = ip,
            Some(ip) => return Some(ip),
            None => return None,
        }
    }
    // Every hop is a trusted proxy: the left-most is the origin.
    Some(client)
}

/// One `X-Forwarded-For` entry: `192.0.2.1`, `2001:db8::1`, and the forms with a port some
/// proxies write (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The `for=` of one RFC 7239 element (`for=192.0.2.60;proto=http;by=203.0.113.43`);
/// `unknown` and obfuscated identifiers (`_hidden`) are no address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| parse_node(value))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IpNet;

    fn settings(trusted: &[&str], header: ForwardedHeader) -> ServerSettings {
        ServerSettings {
            max_body_bytes: 1,
            max_concurrent_requests: 1,
            allowed_hosts: vec![],
            allowed_origins: vec![],
            shutdown_grace: std::time::Duration::ZERO,
            metrics_token: None,
            trusted_proxies: trusted.iter().map(|t| IpNet::parse(t).unwrap()).collect(),
            forwarded_header: header,
            runtime: Default::default(),
            worker_threads: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let none = settings(&[], ForwardedHeader::XForwardedFor);
        let forged = headers(&[("x-forwarded-for", "10.1.2.3")]);
        assert_eq!(resolve(ip("203.0.113.9"), &forged, &none), Some(ip("203.0.113.9")));
        let other = settings(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(resolve(ip("203.0.113.9"), &forged, &other), Some(ip("203.0.113.9")));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let s = settings(&["127.0.0.1", "10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        // The client forged `1.1.1.1`; the edge proxy appended its real address.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), Some(ip("198.51.100.7")));
        // Split over two header lines, the order is the same.
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "198.51.100.7:5555")]);
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), &h, &s), Some(ip("198.51.100.7")));
        // No header: the trusted peer itself is calling.
        assert_eq!(resolve(ip("127.0.0.1"), &HeaderMap::new(), &s), Some(ip("127.0.0.1")));
        // Only proxies: the left-most is where the request began.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), Some(ip("10.9.9.9")));
        // Garbage a trusted proxy passed on as the client: unknown, not the proxy.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, not-an-ip")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), None);
    }

    #[test]
    fn only_the_configured_header_counts() {
        let xff = settings(&["127.0.0.1"], ForwardedHeader::XForwardedFor);
        let h = headers(&[("forwarded", "for=10.1.2.3"), ("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &xff), Some(ip("198.51.100.7")));
        let fwd = settings(&["127.0.0.1"], ForwardedHeader::Forwarded);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &fwd), Some(ip("10.1.2.3")));
    }

    #[test]
    fn forwarded_elements() {
        let s = settings(&["127.0.0.1"], ForwardedHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            r#"for=1.1.1.1, For="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1"#,
        )]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), Some(ip("2001:db8:cafe::17")));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), None);
        let h = headers(&[("forwarded", "for=_hidden;proto=http")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), None);
        let h = headers(&[("forwarded", "proto=http")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &s), None);
    }
}

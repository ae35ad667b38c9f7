//! `server:`: the listener's own settings — request limits, who may address it (Host, Origin),
//! which proxies may speak for clients, and the token guarding the operations routes.
//! Reads `raw`; imports only leaves besides.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::error::Problem;
use super::expand::Text;
// Its YAML spelling is the whole setting, so the raw enum serves the snapshot as is.
use super::raw::RawServer;
pub use super::raw::{ForwardedHeader, RuntimeFlavor};
use super::secret::Secret;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub max_body_bytes: usize,
    /// Requests handled at once on the protocol routes; more get 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Host header values accepted (`*` = any). Protects loopback listeners from DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// Origin header values accepted when a browser sends one (`*` = any).
    pub allowed_origins: Vec<String>,
    pub shutdown_grace: Duration,
    /// When set, `/metrics` and `/readyz` want `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// Peers whose forwarding header is believed; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Which header those proxies write.
    pub forwarded_header: ForwardedHeader,
    pub runtime: RuntimeFlavor,
    /// Threads of `per-core`, workers of `multi-thread`; `None`: one per core.
    pub worker_threads: Option<usize>,
}

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR block (e.g. 10.0.0.0/8, ::1)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("`{text}`: the prefix length must be 0–{max}")),
            },
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // A v4 client on a dual-stack socket appears as ::ffff:a.b.c.d.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// `server:` with its defaults; a loopback listener's allowed hosts follow `listen`.
pub(super) fn resolve(s: &RawServer, listen: SocketAddr, path: &Path, problems: &mut Vec<Problem>) -> ServerSettings {
    let texts = |v: &Option<Vec<Text>>| v.as_ref().map(|v| v.iter().map(|t| t.0.clone()).collect());
    // A loopback listener only answers to loopback names unless told otherwise: this is what stops
    // a web page from reaching it through DNS rebinding. A listener on a public address is meant to
    // be reached by other names.
    let default_hosts = if listen.ip().is_loopback() {
        vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]
    } else {
        vec!["*".into()]
    };
    let metrics_token = s.metrics_token.as_ref().map(|t| Secret(t.0.clone()));
    if metrics_token.as_ref().is_some_and(|t| t.0.trim().is_empty()) {
        problems.push(Problem::new(
            path,
            None,
            "server.metrics_token: is empty; omit it to leave /metrics and /readyz open",
        ));
    }
    let trusted_proxies = s
        .trusted_proxies
        .iter()
        .flatten()
        .filter_map(|t| {
            IpNet::parse(&t.0)
                .map_err(|e| problems.push(Problem::new(path, None, format!("server.trusted_proxies: {e}"))))
                .ok()
        })
        .collect();
    ServerSettings {
        max_body_bytes: s.max_body_bytes.unwrap_or(4 * 1024 * 1024),
        max_concurrent_requests: s.max_concurrent_requests.unwrap_or(1024).max(1),
        allowed_hosts: texts(&s.allowed_hosts).unwrap_or(default_hosts),
        allowed_origins: texts(&s.allowed_origins).unwrap_or_else(|| {
            vec![
                "http://localhost".into(),
                "http://127.0.0.1".into(),
                "http://[::1]".into(),
            ]
        }),
        shutdown_grace: s.shutdown_grace.map_or(Duration::from_secs(10), |d| d.0),
        metrics_token,
        trusted_proxies,
        forwarded_header: s.forwarded_header.unwrap_or_default(),
        runtime: s.runtime.unwrap_or_default(),
        worker_threads: worker_threads(s, path, problems),
    }
}

fn worker_threads(s: &RawServer, path: &Path, problems: &mut Vec<Problem>) -> Option<usize> {
    let n = s.worker_threads?;
    if s.runtime == Some(RuntimeFlavor::CurrentThread) {
        problems.push(Problem::new(
            path,
            None,
            "server.worker_threads: the current-thread runtime has one thread; remove one of the two settings",
        ));
    } else if !(1..=512).contains(&n) {
        problems.push(Problem::new(path, None, "server.worker_threads: must be 1–512"));
    }
    Some(n.clamp(1, 512))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.255.1.2")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "v4-mapped peers match v4 blocks");
        let odd = IpNet::parse("192.168.4.0/22").unwrap();
        assert!(odd.contains(ip("192.168.7.255")));
        assert!(!odd.contains(ip("192.168.8.0")));
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
    }

    #[test]
    fn bad_blocks_are_named() {
        assert!(IpNet::parse("10.0.0.0/33").unwrap_err().contains("0–32"));
        assert!(IpNet::parse("localhost").unwrap_err().contains("`localhost`"));
        assert!(IpNet::parse("::1/129").is_err());
    }
}

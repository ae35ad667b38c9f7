//! `server:` in `agentmux.yaml`, and [`ForwardedHeader`], whose YAML spelling the snapshot keeps
//! as is. Imports only the leaves (`duration`, `expand`).

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
use crate::config::expand::Text;

/// `server:`. Its Debug leaves the metrics token out.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub max_body_bytes: Option<usize>,
    pub allowed_origins: Option<Vec<Text>>,
    pub allowed_hosts: Option<Vec<Text>>,
    pub shutdown_grace: Option<ConfigDuration>,
    /// A bearer token `/metrics` and `/readyz` require.
    pub metrics_token: Option<Text>,
    /// IPs or CIDR blocks whose forwarding header names the client.
    pub trusted_proxies: Option<Vec<Text>>,
    pub forwarded_header: Option<ForwardedHeader>,
    /// Requests handled at once on the protocol routes; more are shed with 503.
    pub max_concurrent_requests: Option<usize>,
    /// How agentmux's threads serve requests (`serve` only).
    pub runtime: Option<RuntimeFlavor>,
    /// Worker threads of the multi-thread runtime, or threads of `per-core`; default one per core.
    pub worker_threads: Option<usize>,
}

/// `server.runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeFlavor {
    /// A pool of worker threads that steal work from each other (tokio's multi-thread runtime).
    MultiThread,
    /// Everything on one thread: no hand-offs between threads, one core at most.
    CurrentThread,
    /// One single-threaded runtime per core, each accepting on its own socket (`SO_REUSEPORT`):
    /// a connection stays on one thread, and every core is used.
    #[default]
    PerCore,
}

impl std::fmt::Debug for RawServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawServer")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("allowed_origins", &self.allowed_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("forwarded_header", &self.forwarded_header)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("runtime", &self.runtime)
            .field("worker_threads", &self.worker_threads)
            .finish_non_exhaustive()
    }
}

/// The header trusted proxies record the client's address in. Only one is read: a proxy that
/// appends to one of them passes the other through as the client sent it, forged or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

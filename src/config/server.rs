//! `server:`: the listener's own settings — request limits, who may address it (Host, Origin),
//! and the token guarding the operations routes.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::error::Problem;
use super::raw::RawServer;
use super::snapshot::Secret;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub max_body_bytes: usize,
    /// Host header values accepted (`*` = any). Protects loopback listeners from DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// Origin header values accepted when a browser sends one (`*` = any).
    pub allowed_origins: Vec<String>,
    pub shutdown_grace: Duration,
    /// When set, `/metrics` and `/readyz` want `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
}

pub(super) fn server_settings(
    s: &RawServer,
    listen: SocketAddr,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> ServerSettings {
    let texts = |v: &Option<Vec<super::expand::Text>>| v.as_ref().map(|v| v.iter().map(|t| t.0.clone()).collect());
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
    ServerSettings {
        max_body_bytes: s.max_body_bytes.unwrap_or(4 * 1024 * 1024),
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
    }
}

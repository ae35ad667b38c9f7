//! Serde types that mirror agentmux's YAML files exactly. Unknown keys are errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::ConfigDuration;
use super::expand::Text;

/// `agentmux.yaml`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<Text>,
    pub registry: Option<OneOrMany>,
    pub policies: Option<Text>,
    pub auth: Option<super::auth::RawAuth>,
    #[serde(default)]
    pub authz: super::auth::RawAuthz,
    pub audit: Option<super::auth::RawAudit>,
    pub pinning: Option<super::auth::RawPinning>,
    #[serde(default)]
    pub mcp: RawMcp,
    #[serde(default)]
    pub server: RawServer,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(Text),
    Many(Vec<Text>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMcp {
    pub prefix: Option<RawPrefix>,
    pub separator: Option<Text>,
    pub max_name_length: Option<usize>,
    pub page_size: Option<usize>,
    pub catalog_ttl: Option<ConfigDuration>,
    pub session_idle_timeout: Option<ConfigDuration>,
    pub max_sessions: Option<u64>,
    /// Sessions one caller may hold (its least recently used is evicted beyond).
    pub max_sessions_per_caller: Option<usize>,
    /// Sessions one caller may open per second (bursts of ten times that).
    pub sessions_per_second: Option<u32>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum RawPrefix {
    Always,
    Conditional,
    Never,
}

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
    pub forwarded_header: Option<super::server::ForwardedHeader>,
    /// Requests handled at once on the protocol routes; more are shed with 503.
    pub max_concurrent_requests: Option<usize>,
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
            .finish_non_exhaustive()
    }
}

/// `registry/<name>.yaml`: one upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub name: Option<String>,
    pub mcp: RawMcpUpstream,
    #[serde(default)]
    pub tools: RawFilter,
    #[serde(default)]
    pub prompts: RawFilter,
    #[serde(default)]
    pub resources: RawFilter,
    /// Whether `/readyz` waits for this upstream (default true).
    pub required: Option<bool>,
    pub timeouts: Option<RawTimeouts>,
    /// The largest single message read from this upstream (a JSON body, an SSE event, a stdio
    /// line), in bytes.
    pub max_message_bytes: Option<usize>,
    /// Whether tool call arguments must validate against the tool's `inputSchema` (default
    /// strict).
    pub validate_arguments: Option<ArgumentValidation>,
}

/// `validate_arguments`: `strict` refuses calls whose arguments do not match the tool's
/// declared `inputSchema`; `off` is for upstreams whose schemas are wrong.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ArgumentValidation {
    #[default]
    Strict,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMcpUpstream {
    pub command: Option<Text>,
    #[serde(default)]
    pub args: Vec<Text>,
    #[serde(default)]
    pub env: BTreeMap<String, Text>,
    pub cwd: Option<Text>,
    pub url: Option<Text>,
    pub transport: Option<RawTransport>,
    #[serde(default)]
    pub headers: BTreeMap<String, Text>,
    pub protocol: Option<UpstreamProtocol>,
    /// agentmux's own OAuth client credentials toward this (HTTP) upstream.
    pub oauth: Option<RawOAuth>,
}

/// `mcp.oauth`: the client credentials grant (RFC 6749 §4.4) agentmux uses to get its own
/// access token for an upstream. Its Debug leaves the secret out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    pub token_url: Text,
    pub client_id: Text,
    pub client_secret: Text,
    #[serde(default)]
    pub scopes: Vec<Text>,
    pub audience: Option<Text>,
    pub resource: Option<Text>,
    pub auth_method: Option<RawClientAuth>,
}

impl std::fmt::Debug for RawOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawOAuth")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// How agentmux authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawClientAuth {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

/// Which MCP era to speak to an HTTP upstream.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    /// Try `server/discover` (2026-07-28), fall back to `initialize`.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// Only the stateful era (`initialize`, sessions).
    #[serde(rename = "2025-11-25")]
    Stateful,
    /// Only the stateless era.
    #[serde(rename = "2026-07-28")]
    Stateless,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawTransport {
    StreamableHttp,
    Sse,
    Websocket,
    Stdio,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect: Option<ConfigDuration>,
    pub first_byte: Option<ConfigDuration>,
    pub total: Option<ConfigDuration>,
    pub startup: Option<ConfigDuration>,
    pub list: Option<ConfigDuration>,
}

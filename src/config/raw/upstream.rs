//! `registry/<name>.yaml`: one upstream, and the YAML spellings ([`ArgumentValidation`],
//! [`UpstreamProtocol`]) the snapshot keeps as is. Imports only the leaves (`duration`, `expand`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
use crate::config::expand::Text;

use super::oauth::RawOAuth;

/// `registry/<name>.yaml`: one upstream, an MCP server (`mcp:`), an A2A agent (`a2a:`) or an
/// LLM provider (`llm:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub name: Option<String>,
    pub mcp: Option<RawMcpUpstream>,
    pub a2a: Option<super::a2a::RawAgent>,
    pub llm: Option<super::llm::RawProvider>,
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

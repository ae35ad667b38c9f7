//! `mcp:` in `agentmux.yaml`: how upstream catalogs are federated and sessions bounded.
//! Imports only the leaves (`duration`, `expand`).

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
use crate::config::expand::Text;

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

//! `mcp:`: how upstream catalogs are federated under one name space, and how many sessions
//! callers may hold. Reads `raw`; imports only leaves besides.

use std::path::Path;
use std::time::Duration;

use super::error::Problem;
use super::raw::{RawMcp, RawPrefix};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixMode {
    /// Every name is `{upstream}{separator}{name}`; stable whatever else is federated.
    Always,
    /// Only names that two upstreams share are prefixed.
    Conditional,
    /// No prefixes; a name that two upstreams share is reported and not served.
    Never,
}

#[derive(Debug, Clone)]
pub struct McpSettings {
    pub prefix: PrefixMode,
    pub separator: String,
    /// Longer federated names are shortened deterministically with a hash suffix.
    pub max_name_length: usize,
    /// Items per page of a federated list; `None` serves every item in one page.
    pub page_size: Option<usize>,
    /// How long an upstream's catalog is served before it is fetched again.
    pub catalog_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub max_sessions: u64,
    pub max_sessions_per_caller: usize,
    pub sessions_per_second: u32,
}

/// `mcp:` with its defaults; `path` is the config file, for problems.
pub(super) fn resolve(m: &RawMcp, path: &Path, problems: &mut Vec<Problem>) -> McpSettings {
    let separator = m.separator.as_ref().map_or_else(|| "__".to_string(), |s| s.0.clone());
    if separator.is_empty()
        || !separator
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        problems.push(Problem::new(
            path,
            None,
            format!("mcp.separator: `{separator}` must be non-empty and use only A-Z a-z 0-9 _ . -"),
        ));
    }
    let max_name_length = m.max_name_length.unwrap_or(128);
    if !(16..=128).contains(&max_name_length) {
        problems.push(Problem::new(
            path,
            None,
            "mcp.max_name_length: must be between 16 and 128",
        ));
    }
    if m.page_size == Some(0) {
        problems.push(Problem::new(
            path,
            None,
            "mcp.page_size: must be at least 1 (omit it to serve one page)",
        ));
    }
    McpSettings {
        prefix: match m.prefix {
            None | Some(RawPrefix::Always) => PrefixMode::Always,
            Some(RawPrefix::Conditional) => PrefixMode::Conditional,
            Some(RawPrefix::Never) => PrefixMode::Never,
        },
        separator,
        max_name_length,
        page_size: m.page_size,
        catalog_ttl: m.catalog_ttl.map_or(Duration::from_secs(300), |d| d.0),
        session_idle_timeout: m.session_idle_timeout.map_or(Duration::from_secs(1800), |d| d.0),
        max_sessions: m.max_sessions.unwrap_or(100_000),
        max_sessions_per_caller: m.max_sessions_per_caller.unwrap_or(1_000).max(1),
        sessions_per_second: m.sessions_per_second.unwrap_or(20).max(1),
    }
}

//! The MCP protocol versions agentmux speaks to clients, and how one is chosen.

use serde_json::value::RawValue;

use crate::jsonrpc::{RawObject, RpcError};

/// Stateful-era versions agentmux serves to clients, newest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Stateless-era versions agentmux serves (no `initialize`; `_meta` on every request).
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];

/// The version to answer `initialize` with: the client's if agentmux speaks it, else the newest.
pub fn negotiate_version(requested: Option<&str>) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .find(|v| Some(**v) == requested)
        .copied()
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

/// The `protocolVersion` an `initialize` request asks for.
pub fn requested_version(params: Option<&RawValue>) -> Result<Option<String>, RpcError> {
    match params {
        Some(p) => RawObject::parse(p)?.str("protocolVersion"),
        None => Ok(None),
    }
}

/// A protocol version as a static string (policies compare it; versions come from a fixed set).
pub fn static_era(version: &str) -> &'static str {
    MODERN_VERSIONS
        .iter()
        .chain(SUPPORTED_VERSIONS.iter())
        .find(|v| **v == version)
        .copied()
        .unwrap_or("unknown")
}

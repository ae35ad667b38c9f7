//! The MCP handshake as a client: what agentmux says in `initialize`, and what it reads back.

use std::sync::Arc;

use serde_json::Value;

use super::{InitializeResult, UpstreamError};
use crate::jsonrpc::{Raw, to_raw};

/// The newest stateful-era version agentmux speaks to upstreams.
pub const HUB_PROTOCOL_VERSION: &str = "2025-11-25";

pub fn initialize_params() -> Raw {
    to_raw(&serde_json::json!({
        "protocolVersion": HUB_PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": "agentmux", "version": env!("CARGO_PKG_VERSION") },
    }))
}

pub fn parse_initialize(raw: Raw) -> Result<Arc<InitializeResult>, UpstreamError> {
    let value: Value =
        serde_json::from_str(raw.get()).map_err(|e| UpstreamError::Protocol(format!("initialize result: {e}")))?;
    let protocol_version = value
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| UpstreamError::Protocol("initialize result has no protocolVersion".into()))?
        .to_string();
    Ok(Arc::new(InitializeResult {
        protocol_version,
        capabilities: value
            .get("capabilities")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        instructions: value.get("instructions").and_then(Value::as_str).map(str::to_string),
        server_info: value.get("serverInfo").cloned().unwrap_or(Value::Null),
        raw,
    }))
}

/// How agentmux answers a request an upstream sends it. Forwarding these to the client
/// (sampling, elicitation, roots) is the job of the session bridge; until then agentmux answers
/// what it can itself and says plainly what it does not forward.
pub fn answer_server_request(method: &str) -> Result<Raw, crate::jsonrpc::RpcError> {
    match method {
        "ping" => Ok(crate::jsonrpc::empty_object()),
        _ => Err(crate::jsonrpc::RpcError::new(
            crate::jsonrpc::METHOD_NOT_FOUND,
            format!("agentmux does not forward `{method}` to clients yet"),
        )),
    }
}

//! Speaking the 2026-07-28 (stateless) era to an upstream: `server/discover` instead of
//! `initialize`, and every request carrying its protocol fields in `_meta` and in headers.

use std::sync::Arc;

use base64::Engine;
use http::{HeaderName, HeaderValue};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{InitializeResult, UpstreamError};
use crate::jsonrpc::{Raw, RawObject, to_raw};

pub const VERSION: &str = "2026-07-28";

/// The `_meta` members every stateless request carries, serialized once.
fn protocol_meta() -> &'static [(&'static str, Raw); 3] {
    static META: std::sync::OnceLock<[(&'static str, Raw); 3]> = std::sync::OnceLock::new();
    META.get_or_init(|| {
        [
            ("io.modelcontextprotocol/protocolVersion", to_raw(&VERSION)),
            (
                "io.modelcontextprotocol/clientCapabilities",
                to_raw(&serde_json::json!({})),
            ),
            (
                "io.modelcontextprotocol/clientInfo",
                to_raw(&serde_json::json!({ "name": "agentmux", "version": env!("CARGO_PKG_VERSION") })),
            ),
        ]
    })
}

/// A request made stateless: `params` with the protocol fields in `_meta`, and the headers
/// (`Mcp-Method`, `Mcp-Name`) that must match it. The params are parsed once for both.
pub fn prepare(
    method: &str,
    params: Option<&RawValue>,
) -> Result<(Raw, Vec<(HeaderName, HeaderValue)>), UpstreamError> {
    let invalid = |e: crate::jsonrpc::RpcError| UpstreamError::Protocol(format!("request params: {}", e.message));
    let mut object = match params {
        Some(p) => RawObject::parse(p).map_err(invalid)?,
        None => RawObject::default(),
    };
    let name = name_field(method).and_then(|field| object.str(field).ok().flatten());
    let headers = headers(method, name.as_deref());
    let mut meta = match object.get("_meta") {
        Some(m) => RawObject::parse(m).map_err(invalid)?,
        None => RawObject::default(),
    };
    for (key, value) in protocol_meta() {
        meta.set(key, value.clone());
    }
    object.set("_meta", meta.to_raw());
    Ok((object.to_raw(), headers))
}

/// The body member a method's `Mcp-Name` header names.
fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        // `resources/(un)subscribe` are stateful-era methods; dual-era servers that still take
        // them want the URI named like `resources/read`.
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        _ => None,
    }
}

/// `Mcp-Method`, and `Mcp-Name` when the request names one thing.
pub fn headers(method: &str, name: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::with_capacity(2);
    if let Ok(value) = HeaderValue::from_str(method) {
        out.push((HeaderName::from_static("mcp-method"), value));
    }
    if let Some(value) = name.and_then(|n| HeaderValue::from_str(&encode_header_value(n)).ok()) {
        out.push((HeaderName::from_static("mcp-name"), value));
    }
    out
}

/// Values outside visible ASCII (or with edge whitespace) travel as `=?base64?…?=`.
fn encode_header_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t')
        && value.trim() == value
        && !value.starts_with("=?base64?");
    if plain {
        value.to_string()
    } else {
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(value))
    }
}

/// `subscriptions/listen` for every list change; the server acknowledges the subset it offers.
/// Resource subscriptions are not bridged yet.
pub fn listen_params() -> Raw {
    let params = to_raw(&serde_json::json!({
        "notifications": { "toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": true }
    }));
    prepare("subscriptions/listen", Some(&params)).map_or_else(|_| crate::jsonrpc::empty_object(), |(p, _)| p)
}

pub fn discover_params() -> Raw {
    prepare("server/discover", None).map_or_else(|_| crate::jsonrpc::empty_object(), |(p, _)| p)
}

/// A `server/discover` result, if it says the server speaks this era.
pub fn parse_discover(raw: Raw) -> Option<Arc<InitializeResult>> {
    let value: Value = serde_json::from_str(raw.get()).ok()?;
    let speaks = value
        .get("supportedVersions")?
        .as_array()?
        .iter()
        .any(|v| v.as_str() == Some(VERSION));
    if !speaks {
        return None;
    }
    Some(Arc::new(InitializeResult {
        protocol_version: VERSION.to_string(),
        capabilities: value
            .get("capabilities")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        instructions: value.get("instructions").and_then(Value::as_str).map(str::to_string),
        server_info: value
            .pointer("/_meta/io.modelcontextprotocol~1serverInfo")
            .or_else(|| value.get("serverInfo"))
            .cloned()
            .unwrap_or(Value::Null),
        raw,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_meta_and_headers() {
        let params = crate::jsonrpc::raw(r#"{"name":"écho","_meta":{"progressToken":"t"}}"#.into());
        let (with, headers) = prepare("tools/call", Some(&params)).unwrap();
        assert!(with.get().contains(r#""progressToken":"t""#));
        assert!(
            with.get()
                .contains(r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#)
        );
        assert_eq!(headers[0].1, "tools/call");
        assert_eq!(headers[1].1, "=?base64?w6ljaG8=?=");
    }

    #[test]
    fn discover_needs_the_version() {
        let yes = crate::jsonrpc::raw(r#"{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s"}}}"#.into());
        let init = parse_discover(yes).unwrap();
        assert_eq!(init.server_info["name"], "s");
        let no = crate::jsonrpc::raw(r#"{"supportedVersions":["2025-11-25"]}"#.into());
        assert!(parse_discover(no).is_none());
    }
}

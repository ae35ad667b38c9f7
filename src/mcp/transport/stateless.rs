//! The 2026-07-28 era on the same endpoints: no session, everything in each request.
//!
//! A POST without `Mcp-Session-Id` that carries a modern protocol version (header or
//! `_meta`) is served statelessly: the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`
//! headers must match the body (else 400, −32020), `_meta` must name the version and the client's
//! capabilities (else 400, −32602), and every result says `resultType`; lists and reads carry
//! cache hints. Methods of the stateful era (`initialize`, `ping`, `logging/setLevel`,
//! `resources/subscribe`) do not exist here (404, −32601).

#![allow(clippy::result_large_err)] // the error is the HTTP answer itself

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::json;

use std::sync::Arc;

use super::Inputs;
use crate::error::rpc_error_response;
use crate::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, Message, Raw, RawObject, RpcError, to_raw};
use crate::mcp::{ListKind, Listen, MODERN_VERSIONS, SUPPORTED_VERSIONS, Scope, Session, log_level_rank};
use crate::sse;

pub const HEADER_MISMATCH: i64 = -32020;
pub const UNSUPPORTED_VERSION: i64 = -32022;
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// Whether a POST takes the stateless path.
pub fn is_modern(headers: &HeaderMap, message: &Message<'_>) -> bool {
    if headers.contains_key("mcp-session-id") {
        return false;
    }
    let header_version = headers.get("mcp-protocol-version").and_then(|v| v.to_str().ok());
    if header_version.is_some_and(|v| !SUPPORTED_VERSIONS.contains(&v)) {
        return true;
    }
    // Cheap test first: most legacy traffic has no such key anywhere.
    message
        .params
        .is_some_and(|p| p.get().contains(META_VERSION) && meta_of(p).is_some_and(|m| m.get(META_VERSION).is_some()))
}

fn meta_of(params: &serde_json::value::RawValue) -> Option<RawObject<'_>> {
    let params = RawObject::parse(params).ok()?;
    let meta = params.0.into_iter().find(|(k, _)| k == "_meta")?.1;
    match meta {
        std::borrow::Cow::Borrowed(meta) => RawObject::parse(meta).ok(),
        // Parsed from `params`, so borrowed.
        std::borrow::Cow::Owned(_) => None,
    }
}

/// What a valid stateless request asks for beyond its method and params.
pub struct Validated {
    /// Least severe log level the client wants on this request's stream; `None`: no logs.
    pub log_level: Option<u8>,
}

/// Checks headers against the body, then `_meta`, then the version, in the order the spec's
/// conformance suite expects.
pub fn validate(headers: &HeaderMap, message: &Message<'_>, method: &str) -> Result<Validated, Response> {
    let id = message.id;
    let fail = |status, code, text: String| Err(rpc_error_response(status, id, &RpcError::new(code, text)));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);

    let Some(header_version) = header("mcp-protocol-version") else {
        return fail(
            StatusCode::BAD_REQUEST,
            HEADER_MISMATCH,
            "missing MCP-Protocol-Version header".into(),
        );
    };
    match header("mcp-method") {
        None => {
            return fail(
                StatusCode::BAD_REQUEST,
                HEADER_MISMATCH,
                "missing Mcp-Method header".into(),
            );
        }
        Some(m) if m != method => {
            return fail(
                StatusCode::BAD_REQUEST,
                HEADER_MISMATCH,
                format!("Header mismatch: Mcp-Method header value '{m}' does not match body value '{method}'"),
            );
        }
        Some(_) => {}
    }
    let params = match message.params.map(RawObject::parse).transpose() {
        Ok(p) => p,
        Err(e) => return Err(rpc_error_response(StatusCode::BAD_REQUEST, id, &e)),
    };
    if let Some(field) = name_field(method) {
        let body = params.as_ref().and_then(|p| p.str(field).ok().flatten());
        match (header("mcp-name").map(decode_header_value), body) {
            (None, _) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    HEADER_MISMATCH,
                    "missing Mcp-Name header".into(),
                );
            }
            (Some(None), _) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    HEADER_MISMATCH,
                    "Mcp-Name header has invalid base64".into(),
                );
            }
            (Some(Some(h)), body) if Some(h.as_str()) != body.as_deref() => {
                let body = body.unwrap_or_default();
                return fail(
                    StatusCode::BAD_REQUEST,
                    HEADER_MISMATCH,
                    format!("Header mismatch: Mcp-Name header value '{h}' does not match body value '{body}'"),
                );
            }
            _ => {}
        }
    }
    let meta = params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(|m| RawObject::parse(m).ok());
    let Some(meta) = meta else {
        return fail(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMS,
            "params._meta is required in protocol 2026-07-28".into(),
        );
    };
    let Ok(Some(meta_version)) = meta.str(META_VERSION) else {
        return fail(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMS,
            format!("params._meta[\"{META_VERSION}\"] is required"),
        );
    };
    if meta.get(META_CAPABILITIES).is_none_or(|c| !c.get().starts_with('{')) {
        return fail(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMS,
            format!("params._meta[\"{META_CAPABILITIES}\"] must be an object"),
        );
    }
    if meta_version != header_version {
        return fail(
            StatusCode::BAD_REQUEST,
            HEADER_MISMATCH,
            format!(
                "Header mismatch: MCP-Protocol-Version header value '{header_version}' does not match body value '{meta_version}'"
            ),
        );
    }
    if !MODERN_VERSIONS.contains(&meta_version.as_str()) {
        let mut supported: Vec<&str> = MODERN_VERSIONS.to_vec();
        supported.extend(SUPPORTED_VERSIONS);
        let error = RpcError::new(UNSUPPORTED_VERSION, "Unsupported protocol version")
            .with_data(json!({ "supported": supported, "requested": meta_version }));
        return Err(rpc_error_response(StatusCode::BAD_REQUEST, id, &error));
    }
    let log_level = match meta.str(META_LOG_LEVEL) {
        Ok(None) => None,
        Ok(Some(level)) => match log_level_rank(&level) {
            Some(rank) => Some(rank),
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    INVALID_PARAMS,
                    format!("unknown log level `{level}`"),
                );
            }
        },
        Err(e) => return Err(rpc_error_response(StatusCode::BAD_REQUEST, id, &e)),
    };
    Ok(Validated { log_level })
}

/// Methods that exist only in the stateful era, or not at all, are unknown here.
pub fn method_exists(method: &str) -> bool {
    matches!(
        method,
        "server/discover"
            | "tools/list"
            | "tools/call"
            | "prompts/list"
            | "prompts/get"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "completion/complete"
            | "subscriptions/listen"
    )
}

/// `subscriptions/listen`: an SSE stream of the list changes the client asked for, first
/// acknowledged with the subset agentmux honours (resource subscriptions are not offered yet).
pub fn listen(inputs: &Inputs, scope: Scope, message: &Message<'_>, caller: crate::authz::Caller) -> Response {
    let id = message.id.unwrap_or_else(|| crate::jsonrpc::null_ref());
    let wanted = message.params.and_then(|p| RawObject::parse(p).ok()).and_then(|p| {
        p.get("notifications")
            .and_then(|n| RawObject::parse(n).ok())
            .map(RawObject::into_owned)
    });
    let Some(wanted) = wanted else {
        let e = RpcError::new(INVALID_PARAMS, "subscriptions/listen needs params.notifications");
        return rpc_error_response(StatusCode::BAD_REQUEST, Some(id), &e);
    };
    let asked = |flag: &str| wanted.get(flag).is_some_and(|v| v.get() == "true");
    let mut kinds = Vec::new();
    let mut honoured = serde_json::Map::new();
    for (flag, kind) in [
        ("toolsListChanged", ListKind::Tools),
        ("promptsListChanged", ListKind::Prompts),
        ("resourcesListChanged", ListKind::Resources),
    ] {
        if asked(flag) {
            kinds.push(kind);
            honoured.insert(flag.to_string(), serde_json::Value::Bool(true));
        }
    }
    let listen = Listen {
        id: id.to_owned(),
        kinds,
    };
    let ack = listen.tagged_params(&format!(",\"notifications\":{}", serde_json::Value::Object(honoured)));
    let session = Session::listener(scope, listen, caller);
    let frames = session.open_stream();
    session.push(crate::jsonrpc::request_frame(
        None,
        "notifications/subscriptions/acknowledged",
        Some(&ack),
    ));
    // The stream's state lives exactly as long as the stream.
    let guard = match inputs.hub.sessions().open_while(Arc::clone(&session)) {
        Ok(guard) => guard,
        Err(refused) => return super::refused_response(Some(id), &refused),
    };
    sse::guarded_session_stream(frames, guard)
}

pub fn method_not_found(message: &Message<'_>, method: &str) -> Response {
    let error = RpcError::new(
        METHOD_NOT_FOUND,
        format!("method `{method}` does not exist in protocol 2026-07-28"),
    );
    rpc_error_response(StatusCode::NOT_FOUND, message.id, &error)
}

/// The body member `Mcp-Name` must equal, for methods that name one thing.
fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Header values that are not plain visible ASCII travel as `=?base64?…?=`; `None` if the
/// encoding is broken.
fn decode_header_value(value: &str) -> Option<String> {
    match value.strip_prefix("=?base64?").and_then(|v| v.strip_suffix("?=")) {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.to_string()),
    }
}

/// Adds what every stateless result carries: `resultType`, and cache hints on lists and reads.
/// Lists are served from agentmux's cache and may change when an upstream does, and may later
/// depend on the caller: private, short-lived.
pub fn finish_result(method: &str, result: Raw) -> Raw {
    let Ok(mut object) = RawObject::parse(&result) else {
        return result;
    };
    if object.get("resultType").is_none() {
        object
            .0
            .insert(0, ("resultType".into(), std::borrow::Cow::Owned(to_raw(&"complete"))));
    }
    let cacheable = matches!(
        method,
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" | "resources/read"
    );
    let complete = object.get("resultType").is_some_and(|t| t.get() == "\"complete\"");
    if cacheable && complete {
        if object.get("ttlMs").is_none() {
            let ttl = if method == "resources/read" { 0 } else { 10_000 };
            object.set("ttlMs", to_raw(&ttl));
        }
        if object.get("cacheScope").is_none() {
            object.set("cacheScope", to_raw(&"private"));
        }
    }
    object.to_raw()
}

/// 2026-07-28 retired −32002 (resource not found) in favour of −32602.
pub fn finish_error(mut error: RpcError) -> RpcError {
    if error.code == crate::jsonrpc::RESOURCE_NOT_FOUND {
        error.code = INVALID_PARAMS;
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_sentinel_values() {
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(decode_header_value("=?base64?SGVsbG8?="), None);
    }

    #[test]
    fn results_get_type_and_cache_hints() {
        let list = finish_result("tools/list", crate::jsonrpc::raw(r#"{"tools":[]}"#.into()));
        assert_eq!(
            list.get(),
            r#"{"resultType":"complete","tools":[],"ttlMs":10000,"cacheScope":"private"}"#
        );
        let call = finish_result("tools/call", crate::jsonrpc::raw(r#"{"content":[]}"#.into()));
        assert_eq!(call.get(), r#"{"resultType":"complete","content":[]}"#);
        let asked = finish_result(
            "tools/call",
            crate::jsonrpc::raw(r#"{"resultType":"input_required","requestState":"x"}"#.into()),
        );
        assert_eq!(asked.get(), r#"{"resultType":"input_required","requestState":"x"}"#);
    }
}

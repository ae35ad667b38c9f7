//! Authentication at the HTTP edge: a middleware on the MCP routes that establishes who is
//! calling (an `Arc<Principal>` request extension for handlers) or answers 401/403 with the
//! OAuth challenge MCP clients follow, and the RFC 9728 protected-resource metadata they follow
//! it to.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Inputs;
use super::mcp_endpoint::rpc_error_response;
use crate::auth::AuthError;
use crate::jsonrpc::{INVALID_REQUEST, RpcError};

const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Authenticates the request; on success the handlers find the caller as
/// `Extension<Arc<Principal>>`.
pub async fn authenticate(State(inputs): State<Arc<Inputs>>, mut request: Request, next: Next) -> Response {
    match inputs.auth.authenticate(request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => refuse(&inputs, request.headers(), request.uri().path(), &error),
    }
}

/// 401 with a challenge naming the metadata document (RFC 9728 §5.1), or 403 `insufficient_scope`
/// naming the scopes to ask for (RFC 6750 §3.1) so a client can step up.
fn refuse(inputs: &Inputs, headers: &HeaderMap, path: &str, error: &AuthError) -> Response {
    let metadata = format!("{}{METADATA_PATH}{}", base_url(inputs, headers), resource_path(path));
    let required = inputs.auth.required_scopes().join(" ");
    let (status, challenge) = match error {
        AuthError::Missing if required.is_empty() => (
            StatusCode::UNAUTHORIZED,
            format!(r#"Bearer resource_metadata="{metadata}""#),
        ),
        AuthError::Missing => (
            StatusCode::UNAUTHORIZED,
            format!(
                r#"Bearer resource_metadata="{metadata}", scope="{}""#,
                quoted(&required)
            ),
        ),
        AuthError::Invalid(reason) => (
            StatusCode::UNAUTHORIZED,
            format!(
                r#"Bearer resource_metadata="{metadata}", error="invalid_token", error_description="{}""#,
                quoted(reason)
            ),
        ),
        AuthError::InsufficientScope { required } => (
            StatusCode::FORBIDDEN,
            format!(
                r#"Bearer error="insufficient_scope", scope="{}", resource_metadata="{metadata}", error_description="{}""#,
                quoted(&required.join(" ")),
                quoted(&error.to_string())
            ),
        ),
    };
    let mut response = rpc_error_response(status, None, &RpcError::new(INVALID_REQUEST, error.to_string()));
    // Built from a URL, scopes and our own messages; a Host header that is not text never gets
    // this far (the guard refuses it).
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The part of the resource URL after the origin: `/mcp`, `/mcp/{upstream}`, or nothing for the
/// legacy SSE routes, which share the root document.
fn resource_path(request_path: &str) -> &str {
    if request_path == "/mcp" || request_path.starts_with("/mcp/") {
        request_path
    } else {
        ""
    }
}

/// `scheme://authority` clients reach us at: that of `auth.resource` when configured (behind a
/// TLS-terminating proxy only config knows the scheme), else `http://` and the Host header.
fn base_url(inputs: &Inputs, headers: &HeaderMap) -> String {
    if let Some(resource) = inputs.auth.resource()
        && let Some((scheme, rest)) = resource.split_once("://")
    {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        return format!("{scheme}://{authority}");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| inputs.config.listen.to_string(), str::to_owned);
    format!("http://{host}")
}

// === protected-resource metadata ===

pub async fn metadata_root(State(inputs): State<Arc<Inputs>>, headers: HeaderMap) -> Response {
    metadata(&inputs, &headers, "")
}

pub async fn metadata_federated(State(inputs): State<Arc<Inputs>>, headers: HeaderMap) -> Response {
    metadata(&inputs, &headers, "/mcp")
}

pub async fn metadata_single(
    State(inputs): State<Arc<Inputs>>,
    Path(upstream): Path<String>,
    headers: HeaderMap,
) -> Response {
    if inputs.hub.upstream_index(&upstream).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    metadata(&inputs, &headers, &format!("/mcp/{upstream}"))
}

/// RFC 9728 §2–3. Without an `auth:` block nothing is protected, so there is nothing to describe.
fn metadata(inputs: &Inputs, headers: &HeaderMap, path: &str) -> Response {
    if !inputs.auth.enabled() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let resource = match inputs.auth.resource() {
        Some(r) => r.to_owned(),
        None => format!("{}{path}", base_url(inputs, headers)),
    };
    let body = json!({
        "resource": resource,
        "authorization_servers": inputs.auth.authorization_servers(),
        "scopes_supported": inputs.auth.required_scopes(),
        "bearer_methods_supported": ["header"],
        "resource_name": "agentmux",
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            // Public by design; browser-based clients fetch it cross-origin.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Text fit for an RFC 7235 quoted-string.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parameters_stay_quoted_strings() {
        assert_eq!(quoted(r#"a "b" \c"#), r#"a \"b\" \\c"#);
        assert_eq!(quoted("line\r\nbreak"), "linebreak");
    }

    #[test]
    fn each_endpoint_names_its_metadata_document() {
        assert_eq!(resource_path("/mcp"), "/mcp");
        assert_eq!(resource_path("/mcp/github"), "/mcp/github");
        assert_eq!(resource_path("/sse"), "");
        assert_eq!(resource_path("/messages"), "");
        assert_eq!(resource_path("/mcpx"), "");
    }
}

//! Authentication at the HTTP edge: a middleware on every protocol route that establishes who is
//! calling (a [`Requester`] request extension for handlers) or answers 401/403 with the OAuth
//! challenge clients follow (MCP's authorization spec, RFC 6750), and the RFC 9728
//! protected-resource metadata they follow it to.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Inputs;
use super::client_ip;
use crate::auth::AuthError;
use crate::identity::Requester;

const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Authenticates the request; on success the handlers find the caller as a [`Requester`].
pub async fn authenticate(State(inputs): State<Arc<Inputs>>, mut request: Request, next: Next) -> Response {
    match inputs.auth.authenticate(request.headers()).await {
        Ok(principal) => {
            let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
            let client_ip =
                client.and_then(|peer| client_ip::resolve(peer.ip(), request.headers(), &inputs.config.server));
            request.extensions_mut().insert(Requester {
                principal,
                client,
                client_ip,
            });
            next.run(request).await
        }
        Err(error) => refuse(&inputs, request.headers(), request.uri().path(), &error),
    }
}

/// 401 with a challenge naming the metadata document (RFC 9728 §5.1), or 403 `insufficient_scope`
/// naming the scopes to ask for (RFC 6750 §3.1) so a client can step up.
fn refuse(inputs: &Inputs, headers: &HeaderMap, path: &str, error: &AuthError) -> Response {
    // The Host header and the path are the client's: quoted, they cannot add parameters.
    let metadata = quoted(&format!(
        "{}{METADATA_PATH}{}",
        base_url(inputs, headers),
        inputs.resource_of(path)
    ));
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
    // Built from a URL, scopes and our own messages; a Host header that is not text never gets
    // this far (the guard refuses it).
    let mut response = inputs.refusal(path, status, &error.to_string());
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
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

/// The document of one protected resource (`/mcp`, `/mcp/github`), if a protocol serves it.
pub async fn metadata_of(
    State(inputs): State<Arc<Inputs>>,
    Path(resource): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/{resource}");
    if !inputs.protocols.iter().any(|p| p.serves_resource(&path)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    metadata(&inputs, &headers, &path)
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
}

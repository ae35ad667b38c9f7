//! How clients reach the hub: Streamable HTTP in both eras (`/mcp`, `/mcp/{upstream}`), the
//! legacy HTTP+SSE transport (`/sse`, `/messages`), and stdin/stdout (`agentmux stdio`). The
//! HTTP routes are one axum router that the edge mounts behind its guards and authentication;
//! they read the caller from the edge's [`Requester`](crate::identity::Requester).

mod caller;
mod legacy_sse;
mod stateless;
pub mod stdio;
mod streamable;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::value::RawValue;

use super::{Hub, Refused};
use crate::error::GatewayError;
use crate::jsonrpc::{INVALID_REQUEST, RpcError};

/// What the MCP handlers share.
pub struct Inputs {
    pub hub: Arc<Hub>,
    pub endpoints: caller::Endpoints,
}

/// The MCP routes, to be mounted by the edge.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(
            "/mcp",
            get(streamable::get_federated)
                .post(streamable::post_federated)
                .delete(streamable::delete_federated),
        )
        .route(
            "/mcp/{upstream}",
            get(streamable::get_single)
                .post(streamable::post_single)
                .delete(streamable::delete_single),
        )
        .route("/sse", get(legacy_sse::open))
        .route("/messages", post(legacy_sse::message))
        .with_state(Arc::new(Inputs {
            endpoints: caller::Endpoints::of(&hub),
            hub,
        }))
}

/// The protected resource (RFC 9728) a path belongs to: `/mcp` and `/mcp/{upstream}` have a
/// document each; the legacy routes share the root one.
pub fn resource_of(path: &str) -> Option<&str> {
    if path == "/mcp" || path.starts_with("/mcp/") {
        Some(path)
    } else if path == "/sse" || path == "/messages" {
        Some("")
    } else {
        None
    }
}

/// Whether `path` is a resource the hub serves today: `/mcp`, or `/mcp/{upstream}` for an
/// upstream in the registry.
pub fn serves_resource(hub: &Hub, path: &str) -> bool {
    match path.strip_prefix("/mcp") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|name| hub.upstream_index(name).is_some()),
        None => false,
    }
}

/// 429 (with `Retry-After`) for a caller that opens sessions too fast, 503 when agentmux is full.
fn refused_response(id: Option<&RawValue>, refused: &Refused) -> Response {
    let (status, retry_after) = match refused {
        Refused::TooFast { retry_after_secs } => (StatusCode::TOO_MANY_REQUESTS, *retry_after_secs),
        Refused::Full(_) => (StatusCode::SERVICE_UNAVAILABLE, 5),
    };
    GatewayError::rpc(status, RpcError::new(INVALID_REQUEST, refused.to_string()))
        .for_request(id)
        .retry_after(retry_after)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_names_its_metadata_document() {
        assert_eq!(resource_of("/mcp"), Some("/mcp"));
        assert_eq!(resource_of("/mcp/github"), Some("/mcp/github"));
        assert_eq!(resource_of("/sse"), Some(""));
        assert_eq!(resource_of("/messages"), Some(""));
        assert_eq!(resource_of("/mcpx"), None);
    }
}

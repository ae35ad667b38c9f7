//! The edge: one listener for every protocol. It guards Host and Origin, sheds load,
//! authenticates, records who calls ([`Requester`](crate::identity::Requester)), serves health,
//! readiness, metrics and the OAuth protected-resource documents, and mounts one router per
//! protocol ([`Protocol`]) without knowing what is inside.

mod authn;
mod client_ip;
mod guard;
mod health;
pub mod listener;
mod shed;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::error::GatewayError;
use crate::jsonrpc::{INVALID_REQUEST, RpcError};

/// A protocol module as the edge sees it (the composition root implements it for each).
pub trait Protocol: Send + Sync {
    /// Its routes, served behind the edge's guards and authentication.
    fn router(&self) -> Router;

    /// The protected resource (RFC 9728) a request path belongs to: `/mcp/github` for a call to
    /// it; `Some("")` for routes that share the root document; `None` when it is not this
    /// protocol's path.
    fn resource_of<'p>(&self, path: &'p str) -> Option<&'p str>;

    /// Whether `path` (`/mcp/github`) is one of its protected resources today.
    fn serves_resource(&self, path: &str) -> bool;

    /// What it still waits for before it is ready (upstreams not yet tried); empty when ready.
    fn waiting_for(&self) -> Vec<String>;

    /// Sessions open now, for the sessions gauge.
    fn sessions(&self) -> u64;

    /// A refusal the edge makes on one of its paths (401, 403) in the protocol's own error
    /// shape; `None`: a JSON-RPC error, as MCP and A2A clients read.
    fn refusal(&self, _path: &str, _status: StatusCode, _message: &str) -> Option<Response> {
        None
    }
}

/// What the edge's own handlers share.
pub struct Inputs {
    pub config: Arc<Config>,
    /// Who is calling; its middleware puts a [`Requester`](crate::identity::Requester) on every
    /// protocol request.
    pub auth: Arc<Authenticator>,
    pub protocols: Vec<Arc<dyn Protocol>>,
}

impl Inputs {
    fn resource_of<'p>(&self, path: &'p str) -> &'p str {
        self.protocols.iter().find_map(|p| p.resource_of(path)).unwrap_or("")
    }

    /// The edge's refusal of a request to `path`, in the shape its protocol's clients read.
    fn refusal(&self, path: &str, status: StatusCode, message: &str) -> Response {
        self.protocols
            .iter()
            .find_map(|p| p.refusal(path, status, message))
            .unwrap_or_else(|| GatewayError::rpc(status, RpcError::new(INVALID_REQUEST, message)).into_response())
    }
}

pub fn router(inputs: Arc<Inputs>) -> Router {
    let limit = inputs.config.server.max_body_bytes;
    let mut protocols: Router<Arc<Inputs>> = Router::new();
    for protocol in &inputs.protocols {
        // A protocol's router carries its own state; `with_state` only retypes it to the edge's.
        protocols = protocols.merge(protocol.router().with_state(()));
    }
    let protocols = protocols
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inputs),
            authn::authenticate,
        ))
        // Added after the authentication layer, so not behind it: clients read these to learn
        // how to authenticate.
        .route("/.well-known/oauth-protected-resource", get(authn::metadata_root))
        .route(
            "/.well-known/oauth-protected-resource/{*resource}",
            get(authn::metadata_of),
        )
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(tokio::sync::Semaphore::new(
                inputs.config.server.max_concurrent_requests,
            )),
            shed::limit,
        ));
    // Readiness and metrics describe the deployment: a web page must not read them through DNS
    // rebinding any more than it may call /mcp, and a token may keep them to the scraper.
    let operations = Router::new()
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inputs),
            health::require_token,
        ));
    Router::new()
        .merge(protocols)
        .merge(operations)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inputs),
            guard::check_host_and_origin,
        ))
        // Liveness says nothing but "alive"; probes reach it under any name.
        .route("/healthz", get(health::healthz))
        .with_state(inputs)
}

//! Inbound HTTP: one listener for the MCP endpoints and operations routes.

mod authn;
mod caller;
mod client_ip;
mod guard;
mod health;
mod legacy_sse;
mod mcp_endpoint;
mod shed;
mod sse;
mod stateless;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::mcp::Hub;

/// What every handler shares.
pub struct Inputs {
    pub hub: Arc<Hub>,
    pub config: Arc<Config>,
    /// Who is calling; its middleware puts an `Arc<Principal>` on every MCP request.
    pub auth: Arc<Authenticator>,
}

pub fn router(inputs: Arc<Inputs>) -> Router {
    let limit = inputs.config.server.max_body_bytes;
    let mcp = Router::new()
        .route(
            "/mcp",
            get(mcp_endpoint::get_federated)
                .post(mcp_endpoint::post_federated)
                .delete(mcp_endpoint::delete_federated),
        )
        .route(
            "/mcp/{upstream}",
            get(mcp_endpoint::get_single)
                .post(mcp_endpoint::post_single)
                .delete(mcp_endpoint::delete_single),
        )
        .route("/sse", get(legacy_sse::open))
        .route("/messages", axum::routing::post(legacy_sse::message))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inputs),
            authn::authenticate,
        ))
        // Added after the authentication layer, so not behind it: clients read these to learn
        // how to authenticate.
        .route("/.well-known/oauth-protected-resource", get(authn::metadata_root))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(authn::metadata_federated),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp/{upstream}",
            get(authn::metadata_single),
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
        .merge(mcp)
        .merge(operations)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inputs),
            guard::check_host_and_origin,
        ))
        // Liveness says nothing but "alive"; probes reach it under any name.
        .route("/healthz", get(health::healthz))
        .with_state(inputs)
}

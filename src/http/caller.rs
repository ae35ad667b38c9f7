//! Who sends an HTTP request: the principal authentication established (a request extension)
//! and the client's address, gathered once per request.
//!
//! The endpoint a policy sees is not taken from here: the raw path may be percent-encoded
//! (`/mcp/%67ithub`), so handlers name the route they resolved ([`endpoint`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::Inputs;
use super::client_ip;
use crate::identity::Principal;
use crate::mcp::{Caller, Hub, Scope};

/// The canonical path of a route, as policies compare it: `/mcp`, `/mcp/{upstream}` with the
/// upstream's registry name, `/sse` for the legacy transport (whose messages arrive on
/// `/messages`).
pub fn endpoint(hub: &Hub, scope: Scope) -> Arc<str> {
    match scope {
        Scope::Federated => Arc::from("/mcp"),
        Scope::Single(index) => match hub.upstreams().get(index) {
            Some(upstream) => format!("/mcp/{}", upstream.name()).into(),
            // Scopes are made from the hub's own indices; this is unreachable, and names
            // nothing a policy could permit by path.
            None => Arc::from("/mcp/?"),
        },
    }
}

pub const LEGACY_ENDPOINT: &str = "/sse";

/// The transport facts of a request; [`CallerParts::caller`] adds the endpoint and the era once
/// the handler knows them.
pub struct CallerParts {
    pub principal: Arc<Principal>,
    /// The TCP peer (a proxy, when one is in front), for logs.
    pub client: Option<SocketAddr>,
    /// The client's address as policies see it: the peer, or what trusted proxies report.
    pub client_ip: Option<IpAddr>,
}

impl FromRequestParts<Arc<Inputs>> for CallerParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, inputs: &Arc<Inputs>) -> Result<Self, Self::Rejection> {
        let client = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let client_ip = client.and_then(|peer| client_ip::resolve(peer.ip(), &parts.headers, &inputs.config.server));
        Ok(Self {
            // Authentication runs before every MCP route; a request it did not see is anonymous.
            principal: parts
                .extensions
                .get::<Arc<Principal>>()
                .cloned()
                .unwrap_or_else(Principal::anonymous),
            client,
            client_ip,
        })
    }
}

impl CallerParts {
    pub fn caller(&self, endpoint: Arc<str>, era: &str) -> Caller {
        Caller {
            principal: Arc::clone(&self.principal),
            endpoint,
            era: crate::mcp::static_era(era),
            client_ip: self.client_ip,
        }
    }
}

//! The caller of an MCP request, as policies, audit and sessions see it: the edge's
//! [`Requester`] plus the endpoint and the protocol era the hub serves the request in.
//!
//! The endpoint is not taken from the request: the raw path may be percent-encoded
//! (`/mcp/%67ithub`), so handlers name the route they resolved ([`endpoint`]).

use std::sync::Arc;

use crate::authz::Caller;
use crate::identity::Requester;
use crate::mcp::{Hub, Scope, static_era};

/// What the MCP handlers extract: the edge's requester.
pub type CallerParts = Requester;

/// The canonical paths of the routes, as policies compare them: `/mcp`, `/mcp/{upstream}` with
/// the upstream's registry name. Made once, so a request only clones an `Arc`.
pub struct Endpoints {
    federated: Arc<str>,
    single: Vec<Arc<str>>,
}

impl Endpoints {
    pub fn of(hub: &Hub) -> Self {
        Self {
            federated: Arc::from("/mcp"),
            single: hub
                .upstreams()
                .iter()
                .map(|u| format!("/mcp/{}", u.name()).into())
                .collect(),
        }
    }

    pub fn get(&self, scope: Scope) -> Arc<str> {
        match scope {
            Scope::Federated => Arc::clone(&self.federated),
            Scope::Single(index) => match self.single.get(index) {
                Some(path) => Arc::clone(path),
                // Scopes are made from the hub's own indices; this is unreachable, and names
                // nothing a policy could permit by path.
                None => Arc::from("/mcp/?"),
            },
        }
    }
}

/// `/sse`, for the legacy transport (whose messages arrive on `/messages`).
pub const LEGACY_ENDPOINT: &str = "/sse";

/// The caller once the handler knows the endpoint and the era.
pub fn caller(who: &Requester, endpoint: Arc<str>, era: &str) -> Caller {
    Caller {
        principal: Arc::clone(&who.principal),
        endpoint,
        version: static_era(era),
        client_ip: who.client_ip,
    }
}

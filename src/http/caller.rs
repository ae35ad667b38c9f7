//! Who sends an HTTP request: the principal authentication established (a request extension),
//! the client's address and the path, gathered once per request.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::identity::Principal;
use crate::mcp::Caller;

/// The transport facts of a request; [`CallerParts::caller`] adds the era once it is known.
pub struct CallerParts {
    pub principal: Arc<Principal>,
    pub endpoint: Arc<str>,
    pub client: Option<SocketAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for CallerParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            // Authentication runs before every MCP route; a request it did not see is anonymous.
            principal: parts
                .extensions
                .get::<Arc<Principal>>()
                .cloned()
                .unwrap_or_else(Principal::anonymous),
            endpoint: parts.uri.path().into(),
            client: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
        })
    }
}

impl CallerParts {
    pub fn caller(&self, era: &str) -> Caller {
        Caller {
            principal: Arc::clone(&self.principal),
            endpoint: Arc::clone(&self.endpoint),
            era: crate::mcp::static_era(era),
            client_ip: self.client.map(|a| a.ip()),
        }
    }
}

//! A live connection to one upstream, whatever carries it.

use serde_json::value::RawValue;

use super::bridge::BridgeLink;
use super::legacy_sse::SseLink;
use super::stdio::StdioLink;
use super::streamable_http::HttpLink;
use super::{NotificationSink, UpstreamError};
use crate::jsonrpc::Raw;

pub enum Link {
    Stdio(StdioLink),
    Http(std::sync::Arc<HttpLink>),
    Sse(std::sync::Arc<SseLink>),
    /// An A2A agent offered as tools (`bridge.rs`).
    Bridge(std::sync::Arc<BridgeLink>),
    /// An upstream played by a test (`memory.rs`).
    #[cfg(test)]
    Memory(std::sync::Arc<super::memory::MemoryLink>),
}

impl Link {
    /// Sends a request with `id` (from [`super::Upstream::next_id`]) and waits for its result.
    /// Dropping the future abandons the request; the caller sends `notifications/cancelled`.
    pub async fn request(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        self.request_as(id, method, params, sink, None).await
    }

    /// [`Link::request`] on behalf of `principal`: a bridged upstream's tools act for the caller
    /// (what they start is the caller's); other upstreams only ever see agentmux.
    pub async fn request_as(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
        principal: Option<&std::sync::Arc<crate::identity::Principal>>,
    ) -> Result<Raw, UpstreamError> {
        match self {
            Self::Stdio(l) => l.request(id, method, params, sink).await,
            Self::Http(l) => l.request(id, method, params, sink).await,
            Self::Sse(l) => l.request(id, method, params, sink).await,
            Self::Bridge(l) => l.request(method, params, sink, principal).await,
            #[cfg(test)]
            Self::Memory(l) => l.request(id, method, params, sink).await,
        }
    }

    pub async fn notify(&self, method: &str, params: Option<&RawValue>) -> Result<(), UpstreamError> {
        match self {
            Self::Stdio(l) => l.notify(method, params).await,
            Self::Http(l) => l.notify(method, params).await,
            Self::Sse(l) => l.notify(method, params).await,
            Self::Bridge(l) => l.notify(method, params).await,
            #[cfg(test)]
            Self::Memory(l) => l.notify(method, params).await,
        }
    }

    /// Whether the upstream speaks the stateless era (no sessions, no subscriptions).
    pub fn is_stateless(&self) -> bool {
        match self {
            Self::Stdio(_) | Self::Sse(_) | Self::Bridge(_) => false,
            Self::Http(l) => l.is_stateless(),
            #[cfg(test)]
            Self::Memory(_) => false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed_token().is_cancelled()
    }

    /// Resolves once the link is broken or shut down.
    pub async fn closed(&self) {
        self.closed_token().cancelled().await
    }

    fn closed_token(&self) -> &tokio_util::sync::CancellationToken {
        match self {
            Self::Stdio(l) => &l.closed,
            Self::Http(l) => &l.closed,
            Self::Sse(l) => &l.closed,
            Self::Bridge(l) => &l.closed,
            #[cfg(test)]
            Self::Memory(l) => &l.closed,
        }
    }

    /// Ends the link: stops a child process (and everything it started), or ends an HTTP session.
    pub async fn shutdown(&self) {
        match self {
            Self::Stdio(l) => l.shutdown().await,
            Self::Http(l) => l.shutdown().await,
            Self::Sse(l) => l.shutdown().await,
            Self::Bridge(l) => l.shutdown().await,
            #[cfg(test)]
            Self::Memory(l) => l.shutdown().await,
        }
    }
}

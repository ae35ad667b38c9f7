//! Outbound: connections to upstream MCP servers, whatever their transport.
//!
//! An [`Upstream`] is one registry entry kept connected by a supervisor task (connect, initialize,
//! watch, reconnect with backoff). Its current [`Link`] carries JSON-RPC requests; what the server
//! sends unasked (notifications) flows to the hub as [`UpstreamEvent`]s. This module knows
//! JSON-RPC and the MCP handshake, not what tools or prompts are: that is `mcp`'s business.

mod bridge;
mod correlate;
mod error;
mod handshake;
mod http_body;
mod legacy_sse;
mod link;
#[cfg(test)]
mod memory;
pub mod reaper;
mod stateless;
mod stdio;
mod streamable_http;
mod supervisor;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio::sync::mpsc;

use crate::config::UpstreamSpec;
use crate::jsonrpc::Raw;

pub use error::UpstreamError;
pub use handshake::HUB_PROTOCOL_VERSION;
pub use link::Link;
#[cfg(test)]
pub use memory::{Call, MemoryLink};
pub use supervisor::supervise;

/// Where notifications that belong to one request go (progress, log messages sent on that
/// request's stream). Transports that cannot tell (stdio) send them to the hub instead, which
/// routes progress by its token.
pub type NotificationSink = mpsc::Sender<Inbound>;

/// A notification or request that an upstream sent agentmux.
#[derive(Debug)]
pub struct Inbound {
    pub method: String,
    pub params: Option<Raw>,
}

/// What the supervisor and links tell the hub.
#[derive(Debug)]
pub enum UpstreamEvent {
    /// A (re)connected upstream finished its handshake; `init` is its `initialize` result.
    Connected {
        upstream: usize,
        init: Arc<InitializeResult>,
    },
    /// The link broke or the server could not be started; its catalog is gone until it returns.
    Disconnected { upstream: usize, reason: String },
    /// A notification that belongs to no particular request (`*/list_changed`, `message`, …).
    Notification { upstream: usize, message: Inbound },
}

/// The parts of an upstream's `initialize` result the hub uses, and the raw result itself.
#[derive(Debug)]
pub struct InitializeResult {
    pub protocol_version: String,
    pub raw: Raw,
    pub capabilities: serde_json::Value,
    pub instructions: Option<String>,
    pub server_info: serde_json::Value,
}

/// Where an upstream stands, for `/readyz`, `agentmux tools` and error messages.
#[derive(Debug, Clone)]
pub enum Status {
    Connecting,
    Ready { since: Instant },
    Failed { reason: String },
}

/// One configured upstream MCP server.
pub struct Upstream {
    pub index: usize,
    pub spec: UpstreamSpec,
    link: ArcSwapOption<Link>,
    init: ArcSwapOption<InitializeResult>,
    status: ArcSwap<Status>,
    /// Set once the first connection attempt has ended, either way (`/readyz`).
    tried: AtomicBool,
    next_id: AtomicU64,
    /// For an A2A agent offered as tools: what answers for it.
    bridge: Option<Arc<dyn crate::mcp::bridge::ToolBridge>>,
}

impl Upstream {
    pub fn new(index: usize, spec: UpstreamSpec) -> Arc<Self> {
        Self::bridged(index, spec, None)
    }

    /// An upstream answered by `bridge` (its transport is `a2a`).
    pub fn bridged(
        index: usize,
        spec: UpstreamSpec,
        bridge: Option<Arc<dyn crate::mcp::bridge::ToolBridge>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            bridge,
            index,
            spec,
            link: ArcSwapOption::empty(),
            init: ArcSwapOption::empty(),
            status: ArcSwap::from_pointee(Status::Connecting),
            tried: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The live link, or an error that says why there is none.
    pub fn link(&self) -> Result<Arc<Link>, UpstreamError> {
        match self.link.load_full() {
            Some(link) if !link.is_closed() => Ok(link),
            _ => Err(UpstreamError::Unavailable {
                reason: self.unavailable_reason(),
            }),
        }
    }

    fn unavailable_reason(&self) -> String {
        match &**self.status.load() {
            Status::Connecting => "still connecting".to_string(),
            Status::Ready { .. } => "the connection just closed; reconnecting".to_string(),
            Status::Failed { reason } => reason.clone(),
        }
    }

    /// The `initialize` result of the current connection.
    pub fn init(&self) -> Option<Arc<InitializeResult>> {
        self.init.load_full()
    }

    pub fn status(&self) -> Status {
        (**self.status.load()).clone()
    }

    /// Records that the upstream has been tried: it failed, or it connected and its catalog was
    /// fetched (or failed to be). Clients arriving after `/readyz` then see its tools.
    pub fn mark_tried(&self) {
        self.tried.store(true, Ordering::Release);
    }

    pub fn tried(&self) -> bool {
        self.tried.load(Ordering::Acquire)
    }

    /// A request id unique on this upstream (ids are never reused across reconnects).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn set_status(&self, status: Status) {
        self.status.store(Arc::new(status));
    }
}

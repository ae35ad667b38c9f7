//! The MCP federation hub: one MCP server in front of many.
//!
//! Transports (`http`, `stdio`) hand the hub raw JSON-RPC requests with a [`Scope`] and an
//! [`Outbox`] for notifications that belong to the request; the hub resolves names in the current
//! catalog [`View`](catalog::View), forwards to the owning upstream with names, ids and progress
//! tokens rewritten, and hands back the upstream's raw result.

mod access;
mod authorize;
pub mod bridge;
mod catalog;
mod catalogs;
mod cursor;
mod dirty;
mod dispatch;
mod forward;
mod hub;
mod lifecycle;
mod names;
pub mod pinning;
mod progress;
mod refresh;
pub mod relay;
mod request;
mod rewrite;
mod session;
mod sessions;
mod subscribers;
pub mod transport;
pub mod upstream;
mod versions;

use tokio::sync::mpsc;

pub use access::Security;
pub use authorize::FORBIDDEN;
pub use catalog::{ListKind, Views};
pub use hub::Hub;
pub use request::Request;
pub use session::{Listen, MAX_RELAYED, Scope, Session, log_level_rank, short_id};
pub use sessions::{Limits as SessionLimits, Refused, SessionGuard, Sessions};
pub use versions::{MODERN_VERSIONS, SUPPORTED_VERSIONS, negotiate_version, requested_version, static_era};

/// Where frames for one client request go while it runs (an SSE response stream). Sending never
/// waits: a client that does not read loses notifications, never the response.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Vec<u8>>,
    /// Least severe `notifications/message` level this request's client wants; `None` = no logs
    /// (2026-07-28 requests without `_meta` logLevel must get none).
    log_level: Option<u8>,
}

impl Outbox {
    /// An outbox that relays log messages at `log_level` and above (`None`: none).
    pub fn channel(capacity: usize, log_level: Option<u8>) -> (Self, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx, log_level }, rx)
    }

    pub fn wants_log(&self, level: u8) -> bool {
        self.log_level.is_some_and(|min| level >= min)
    }

    pub fn send(&self, frame: Vec<u8>) {
        let _ = self.tx.try_send(frame);
    }

    /// Resolves when nobody reads this outbox any more (the client went away).
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

#[cfg(test)]
mod tests;

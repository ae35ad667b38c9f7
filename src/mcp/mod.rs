//! The MCP federation hub: one MCP server in front of many.
//!
//! Transports (`http`, `stdio`) hand the hub raw JSON-RPC requests with a [`Scope`] and an
//! [`Outbox`] for notifications that belong to the request; the hub resolves names in the current
//! catalog [`View`](catalog::View), forwards to the owning upstream with names, ids and progress
//! tokens rewritten, and hands back the upstream's raw result.

mod catalog;
mod cursor;
mod dispatch;
mod forward;
mod hub;
mod lifecycle;
mod names;
mod progress;
mod rewrite;
mod session;

use tokio::sync::mpsc;

pub use catalog::{ListKind, Views};
pub use dispatch::{Request, SUPPORTED_VERSIONS, negotiate_version};
pub use hub::Hub;
pub use session::{Scope, Session, Sessions};

/// Where frames for one client request go while it runs (an SSE response stream). Sending never
/// waits: a client that does not read loses notifications, never the response.
#[derive(Clone, Debug)]
pub struct Outbox(mpsc::Sender<Vec<u8>>);

impl Outbox {
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self(tx), rx)
    }

    pub fn send(&self, frame: Vec<u8>) {
        let _ = self.0.try_send(frame);
    }

    /// Resolves when nobody reads this outbox any more (the client went away).
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

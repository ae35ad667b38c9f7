//! An upstream that lives in the test itself: no process, no socket. What it does with a request
//! is a function the test supplies; what agentmux notifies it of (`notifications/cancelled`) is
//! queued for the test to read. Compiled for tests only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Inbound, InitializeResult, Link, NotificationSink, Status, Upstream, UpstreamError};
use crate::jsonrpc::Raw;

/// One request as the upstream received it.
#[derive(Debug)]
pub struct Call {
    /// The id agentmux chose for it upstream-side.
    pub id: u64,
    pub method: String,
    pub params: Option<Raw>,
    /// Where the upstream says things about this request (progress, logs), as an HTTP upstream
    /// does on the request's response stream.
    pub sink: Option<NotificationSink>,
}

type Reply = Pin<Box<dyn Future<Output = Result<Raw, UpstreamError>> + Send>>;
type Handler = Box<dyn Fn(Call) -> Reply + Send + Sync>;

pub struct MemoryLink {
    handler: Handler,
    notified: mpsc::UnboundedSender<Inbound>,
    pub(super) closed: CancellationToken,
}

impl MemoryLink {
    /// A link whose upstream answers every request with `handler`; the notifications agentmux
    /// sends it arrive on the receiver.
    pub fn new<F, Fut>(handler: F) -> (Arc<Self>, mpsc::UnboundedReceiver<Inbound>)
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Raw, UpstreamError>> + Send + 'static,
    {
        let (notified, inbox) = mpsc::unbounded_channel();
        let link = Self {
            handler: Box::new(move |call| Box::pin(handler(call))),
            notified,
            closed: CancellationToken::new(),
        };
        (Arc::new(link), inbox)
    }

    /// Dropping the returned future drops the handler's: the upstream sees the request abandoned.
    pub async fn request(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        if self.closed.is_cancelled() {
            return Err(UpstreamError::Closed);
        }
        let call = Call {
            id,
            method: method.to_string(),
            params: params.map(ToOwned::to_owned),
            sink: sink.cloned(),
        };
        (self.handler)(call).await
    }

    pub async fn notify(&self, method: &str, params: Option<&RawValue>) -> Result<(), UpstreamError> {
        if self.closed.is_cancelled() {
            return Err(UpstreamError::Closed);
        }
        let note = Inbound {
            method: method.to_string(),
            params: params.map(ToOwned::to_owned),
        };
        self.notified.send(note).map_err(|_| UpstreamError::Closed)
    }

    pub async fn shutdown(&self) {
        self.closed.cancel();
    }
}

// === impl Upstream ===

impl Upstream {
    /// Puts `link` in place as the supervisor does once a connection's handshake (`init`) is
    /// done; the hub's refresh then fetches its catalog through it.
    pub fn connect_memory(&self, link: Arc<MemoryLink>, init: Arc<InitializeResult>) {
        self.init.store(Some(init));
        self.link.store(Some(Arc::new(Link::Memory(link))));
        self.set_status(Status::Ready { since: Instant::now() });
    }

    /// Takes the link away as the supervisor does when a connection breaks or cannot be made.
    pub fn fail_memory(&self, reason: &str) {
        self.link.store(None);
        self.set_status(Status::Failed {
            reason: reason.to_string(),
        });
        self.mark_tried();
    }
}

//! Answering a request on a stream that carries everything for one client (stdio, the legacy
//! HTTP+SSE endpoint): its notifications first, then its response, on the same stream.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Hub, Outbox, Request, Scope, Session};
use crate::jsonrpc::{self, Received};

/// Notifications buffered for one request before new ones are dropped.
const NOTES: usize = 256;

/// How long an answer waits for room on a client's stream that is not being read; then it is
/// dropped (the client stopped reading; its request must not be held forever).
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Handles `received` (a request) and writes what it produces to `out`.
pub async fn answer(
    hub: Arc<Hub>,
    scope: Scope,
    session: Option<Arc<Session>>,
    caller: crate::authz::Caller,
    received: Received,
    out: mpsc::Sender<Vec<u8>>,
) {
    let message = received.message();
    let (Some(id), Some(method)) = (message.id, message.method.as_deref()) else {
        return;
    };
    let (outbox, mut notes) = Outbox::channel(NOTES, Some(session.as_ref().map_or(0, |s| s.log_level())));
    let relay = out.clone();
    let notes_task = tokio::spawn(async move {
        while let Some(frame) = notes.recv().await {
            if relay.send_timeout(frame, WRITE_TIMEOUT).await.is_err() {
                break;
            }
        }
    });
    let req = Request::of(message, scope, session.as_ref(), &caller);
    let frame = match hub.handle(&req, &outbox).await {
        Ok(result) => jsonrpc::result_frame(id, &result),
        Err(e) => jsonrpc::error_frame(Some(id), &e),
    };
    drop(outbox);
    // Notifications of this request are written before its response.
    let _ = notes_task.await;
    if out.send_timeout(frame, WRITE_TIMEOUT).await.is_err() {
        tracing::debug!(?method, "client stream not read; an answer was dropped");
    }
}

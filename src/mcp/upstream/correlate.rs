//! Matching responses to requests on transports that carry both directions on one stream
//! (stdio, legacy HTTP+SSE): requests wait on a pending map by id, and progress notifications
//! go to the sink of the request whose progress token they carry, ahead of its response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::{Inbound, NotificationSink, UpstreamError, UpstreamEvent};
use crate::jsonrpc::{self, Message, Raw, RawObject, RpcError};

type Outcome = Result<Raw, UpstreamError>;

#[derive(Default)]
pub struct Correlator {
    pending: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
    /// Progress token (raw JSON text) → the sink of the request that carries it.
    progress: Mutex<HashMap<String, NotificationSink>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one map operation; a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Correlator {
    /// Registers request `id` (and its progress token, if it has one and a sink).
    pub fn register(self: &Arc<Self>, id: u64, params: Option<&RawValue>, sink: Option<&NotificationSink>) -> Waiter {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        let token = sink.zip(params.and_then(progress_token)).map(|(sink, token)| {
            lock(&self.progress).insert(token.clone(), sink.clone());
            token
        });
        Waiter {
            correlator: Arc::clone(self),
            id,
            token,
            rx: Some(rx),
        }
    }

    /// Delivers a response to request `id` (agentmux's ids are integers); false if no request
    /// waits for it.
    fn deliver_response(&self, id: Option<u64>, message: Message<'_>) -> bool {
        let waiter = id.and_then(|id| lock(&self.pending).remove(&id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(response_outcome(message));
                true
            }
            None => false,
        }
    }

    /// The sink a progress notification belongs to, if a running request asked for it.
    fn progress_sink(&self, inbound: &Inbound) -> Option<NotificationSink> {
        if inbound.method != "notifications/progress" {
            return None;
        }
        let params = RawObject::parse(inbound.params.as_deref()?).ok()?;
        lock(&self.progress).get(params.get("progressToken")?.get()).cloned()
    }

    /// The connection is gone: everyone waiting learns now rather than at their timeout.
    pub fn fail_all(&self) {
        self.fail_all_with(&UpstreamError::Closed);
    }

    /// Every waiting request fails with `error` (a message that cannot be matched to its request
    /// was lost: whichever request it answered would otherwise wait for its timeout).
    pub fn fail_all_with(&self, error: &UpstreamError) {
        for (_, tx) in lock(&self.pending).drain() {
            let _ = tx.send(Err(error.clone()));
        }
    }
}

/// One registered request; unregisters it however the request ends (answered, timed out, or
/// dropped by its caller).
pub struct Waiter {
    correlator: Arc<Correlator>,
    id: u64,
    token: Option<String>,
    rx: Option<oneshot::Receiver<Outcome>>,
}

impl Waiter {
    pub async fn wait(mut self, total: Duration) -> Outcome {
        let Some(rx) = self.rx.take() else {
            return Err(UpstreamError::Closed);
        };
        match tokio::time::timeout(total, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(UpstreamError::Closed),
            Err(_) => Err(UpstreamError::Timeout {
                phase: "the response",
                after_ms: total.as_millis(),
            }),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        lock(&self.correlator.pending).remove(&self.id);
        if let Some(token) = &self.token {
            lock(&self.correlator.progress).remove(token);
        }
    }
}

/// `params._meta.progressToken` as raw JSON text, if the request asks for progress.
fn progress_token(params: &RawValue) -> Option<String> {
    if !params.get().contains("progressToken") {
        return None;
    }
    let params = RawObject::parse(params).ok()?;
    let meta = RawObject::parse(params.get("_meta")?).ok()?;
    meta.get("progressToken").map(|t| t.get().to_string())
}

/// Turns a response message into the request's outcome.
pub fn response_outcome(message: Message<'_>) -> Outcome {
    match (message.result, message.error) {
        (Some(result), _) => Ok(result.to_owned()),
        (None, Some(error)) => Err(UpstreamError::Rpc(
            serde_json::from_str::<RpcError>(error.get()).unwrap_or_else(|_| {
                RpcError::new(jsonrpc::INTERNAL_ERROR, format!("malformed error: {}", error.get()))
            }),
        )),
        (None, None) => Err(UpstreamError::Protocol("response without result or error".into())),
    }
}

/// The hub stopped listening (agentmux is shutting down); the transport's reader should end.
pub struct HubGone;

impl Correlator {
    /// Handles one message from upstream `name`: responses to their waiting requests, progress
    /// to its request, other notifications to the hub. Returns the frame the transport must
    /// write back when the upstream asked agentmux something.
    pub async fn handle(
        &self,
        message: Message<'_>,
        name: &str,
        index: usize,
        events: &mpsc::Sender<UpstreamEvent>,
    ) -> Result<Option<Vec<u8>>, HubGone> {
        match message.kind() {
            Ok(jsonrpc::Kind::Response { id }) => {
                let (text, number) = (id.get().to_string(), id.get().parse::<u64>().ok());
                if !self.deliver_response(number, message) {
                    debug!(upstream = %name, id = %text, "response to no pending request");
                }
            }
            Ok(jsonrpc::Kind::Notification { method }) => {
                let inbound = Inbound {
                    method: method.to_string(),
                    params: message.params.map(ToOwned::to_owned),
                };
                match self.progress_sink(&inbound) {
                    Some(sink) => {
                        let _ = sink.send(inbound).await;
                    }
                    None => {
                        let event = UpstreamEvent::Notification {
                            upstream: index,
                            message: inbound,
                        };
                        events.send(event).await.map_err(|_| HubGone)?;
                    }
                }
            }
            Ok(jsonrpc::Kind::Request { id, method }) => {
                return Ok(Some(match super::handshake::answer_server_request(method) {
                    Ok(result) => jsonrpc::result_frame(id, &result),
                    Err(e) => jsonrpc::error_frame(Some(id), &e),
                }));
            }
            Err(e) => warn!(upstream = %name, error = %e.message, "ignored an invalid message"),
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;

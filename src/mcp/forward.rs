//! Forwarding one client request to the upstream that owns it, and cancelling it there.

use std::sync::Arc;

use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Outbox;
use super::hub::Hub;
use super::request::Request;
use super::session::{InFlight, Session};
use crate::jsonrpc::{Raw, RawObject, RpcError, UPSTREAM_ERROR, to_raw};
use crate::mcp::upstream::{Link, UpstreamError};

/// `_meta` keys that carry the 2026-07-28 era's per-request protocol fields.
const PROTOCOL_META_PREFIX: &str = "io.modelcontextprotocol/";

/// Notifications buffered from one upstream request before its stream reader waits.
const REQUEST_NOTIFICATIONS: usize = 64;

impl Hub {
    /// Sends `params` (names already restored) to `upstream` as `req.method`, relaying what the
    /// upstream says about the request meanwhile, and returns its result as it is.
    pub(super) async fn forward(
        self: &Arc<Self>,
        upstream: usize,
        req: &Request<'_>,
        mut params: RawObject<'_>,
        outbox: &Outbox,
    ) -> Result<Raw, RpcError> {
        let up = &self.upstream(upstream);
        let link = up.link().map_err(|e| upstream_error(up.name(), &e))?;

        // Each call gets its own progress token upstream-side (see progress.rs), and the
        // stateless era's per-request protocol fields stay on the client's side of the hub:
        // upstreams are spoken to in the era of their own connection.
        let mut progress = None;
        if let Some(meta) = params.get("_meta") {
            let mut meta = RawObject::parse(meta)?;
            if let Some(client_token) = meta.get("progressToken") {
                let guard = self.progress().register(client_token.to_owned(), outbox.clone());
                meta.set("progressToken", guard.token_raw());
                progress = Some(guard);
            }
            meta.0.retain(|(key, _)| !key.starts_with(PROTOCOL_META_PREFIX));
            if meta.0.is_empty() {
                params.remove("_meta");
            } else {
                params.set("_meta", meta.to_raw());
            }
        }

        let id = up.next_id();
        let cancel = CancellationToken::new();
        let mut in_flight = InFlightGuard::begin(req.session, req.id.get(), id, &link, &cancel);
        let (sink, mut notes) = mpsc::channel(REQUEST_NOTIFICATIONS);
        let params = params.to_raw();
        let call = link.request_as(id, req.method, Some(&params), Some(&sink), Some(&req.caller.principal));
        tokio::pin!(call);
        let outcome = loop {
            tokio::select! {
                outcome = &mut call => break Some(outcome),
                Some(note) = notes.recv() => self.route_inbound(upstream, note, Some(outbox)),
                // The client cancelled: `call` is dropped on return (closing an HTTP stream) and
                // the guard tells stdio and stateful upstreams.
                () = cancel.cancelled() => break None,
            }
        };
        // Notifications that raced the response still belong before it.
        while let Ok(note) = notes.try_recv() {
            self.route_inbound(upstream, note, Some(outbox));
        }
        let Some(outcome) = outcome else {
            return Err(RpcError::new(REQUEST_CANCELLED, "request cancelled by the client"));
        };
        in_flight.done = true;
        let outcome = outcome.map(strip_protocol_meta);
        drop(progress);
        outcome.map_err(|e| match e {
            UpstreamError::Rpc(rpc) => rpc,
            other => upstream_error(up.name(), &other),
        })
    }

    /// A client notification: only `notifications/cancelled` needs acting on; it ends the
    /// running call, whose guard then tells the upstream.
    pub fn client_notification(&self, session: Option<&Arc<Session>>, method: &str, params: Option<&RawValue>) {
        if method != "notifications/cancelled" {
            return;
        }
        let (Some(session), Some(params)) = (session, params) else {
            return;
        };
        let Some(request_id) = RawObject::parse(params)
            .ok()
            .and_then(|f| f.get("requestId").map(|r| r.get().to_string()))
        else {
            return;
        };
        if let Some(target) = session.in_flight(&request_id) {
            target.cancel.cancel();
        }
    }
}

/// A stateless upstream stamps its results' `_meta` with protocol fields (its own
/// `serverInfo`); they describe the hop to agentmux, not the answer, so clients do not get them.
fn strip_protocol_meta(result: Raw) -> Raw {
    if !result.get().contains(PROTOCOL_META_PREFIX) {
        return result;
    }
    let Ok(mut object) = RawObject::parse(&result) else {
        return result;
    };
    let Some(Ok(mut meta)) = object.get("_meta").map(RawObject::parse) else {
        return result;
    };
    meta.0.retain(|(key, _)| !key.starts_with(PROTOCOL_META_PREFIX));
    if meta.0.is_empty() {
        object.remove("_meta");
    } else {
        object.set("_meta", meta.to_raw());
    }
    object.to_raw()
}

/// The client's view of an upstream failure: which upstream, and what happened.
pub fn upstream_error(name: &str, e: &UpstreamError) -> RpcError {
    RpcError::new(UPSTREAM_ERROR, format!("upstream `{name}` {e}")).with_data(json!({ "upstream": name }))
}

/// JSON-RPC's code for a request the client cancelled (as in LSP); clients ignore the answer.
const REQUEST_CANCELLED: i64 = -32800;

/// Records a running call in its session, so the client can cancel it; if the call is abandoned
/// (cancelled, or the client went away), the upstream is told to stop working on it.
struct InFlightGuard {
    session: Option<(Arc<Session>, String)>,
    upstream_id: u64,
    link: Arc<Link>,
    done: bool,
}

impl InFlightGuard {
    fn begin(
        session: Option<&Arc<Session>>,
        request_id: &str,
        upstream_id: u64,
        link: &Arc<Link>,
        cancel: &CancellationToken,
    ) -> Self {
        if let Some(session) = session {
            session.begin(request_id, InFlight { cancel: cancel.clone() });
        }
        Self {
            session: session.map(|s| (Arc::clone(s), request_id.to_string())),
            upstream_id,
            link: Arc::clone(link),
            done: false,
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some((session, request_id)) = &self.session {
            session.end(request_id);
        }
        if !self.done {
            let link = Arc::clone(&self.link);
            let params = to_raw(&json!({ "requestId": self.upstream_id, "reason": "cancelled by the client" }));
            tokio::spawn(async move {
                let _ = link.notify("notifications/cancelled", Some(&params)).await;
            });
        }
    }
}

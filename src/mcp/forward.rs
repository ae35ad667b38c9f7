//! Forwarding one client request to the upstream that owns it, and cancelling it there.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;
use tracing::debug;

use super::dispatch::Request;
use super::hub::Hub;
use super::session::{InFlight, Session};
use super::{Outbox, Scope};
use crate::jsonrpc::{Raw, RawObject, RpcError, UPSTREAM_ERROR, to_raw};
use crate::upstream::{Link, UpstreamError};

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
        mut params: RawObject,
        outbox: &Outbox,
    ) -> Result<Raw, RpcError> {
        let up = &self.upstreams[upstream];
        let link = up.link().map_err(|e| upstream_error(up.name(), &e))?;

        // Each call gets its own progress token upstream-side (see progress.rs), and the
        // stateless era's per-request protocol fields stay on the client's side of the hub:
        // upstreams are spoken to in the era of their own connection.
        let mut progress = None;
        if let Some(meta) = params.get("_meta") {
            let mut meta = RawObject::parse(meta)?;
            if let Some(client_token) = meta.get("progressToken") {
                let guard = self.progress.register(client_token.to_owned(), outbox.clone());
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
        let mut in_flight = req
            .session
            .map(|s| InFlightGuard::begin(s, req.id.get(), upstream, id, &link));
        let (sink, mut notes) = mpsc::channel(REQUEST_NOTIFICATIONS);
        let params = params.to_raw();
        let call = link.request(id, req.method, Some(&params), Some(&sink));
        tokio::pin!(call);
        let outcome = loop {
            tokio::select! {
                outcome = &mut call => break outcome,
                Some(note) = notes.recv() => self.route_inbound(upstream, note, Some(outbox)),
            }
        };
        // Notifications that raced the response still belong before it.
        while let Ok(note) = notes.try_recv() {
            self.route_inbound(upstream, note, Some(outbox));
        }
        if let Some(guard) = in_flight.as_mut() {
            guard.done = true;
        }
        drop(progress);
        outcome.map_err(|e| match e {
            UpstreamError::Rpc(rpc) => rpc,
            other => upstream_error(up.name(), &other),
        })
    }

    /// A client notification: only cancellation needs the upstreams.
    pub async fn client_notification(
        &self,
        scope: Scope,
        session: Option<&Arc<Session>>,
        method: &str,
        params: Option<&serde_json::value::RawValue>,
    ) {
        let _ = scope;
        if method != "notifications/cancelled" {
            return;
        }
        let (Some(session), Some(params)) = (session, params) else {
            return;
        };
        let Ok(mut fields) = RawObject::parse(params) else {
            return;
        };
        let Some(request_id) = fields.get("requestId").map(|r| r.get().to_string()) else {
            return;
        };
        let Some(target) = session.in_flight(&request_id) else {
            return;
        };
        let Ok(link) = self.upstreams[target.upstream].link() else {
            return;
        };
        fields.set("requestId", to_raw(&target.upstream_id));
        if let Err(e) = link.notify("notifications/cancelled", Some(&fields.to_raw())).await {
            debug!(upstream = %self.upstreams[target.upstream].name(), error = %e, "could not forward cancellation");
        }
    }
}

/// The client's view of an upstream failure: which upstream, and what happened.
pub fn upstream_error(name: &str, e: &UpstreamError) -> RpcError {
    RpcError::new(UPSTREAM_ERROR, format!("upstream `{name}` {e}")).with_data(json!({ "upstream": name }))
}

/// Records a running call in its session; if the call is abandoned (the client went away), the
/// upstream is told to stop working on it.
struct InFlightGuard {
    session: Arc<Session>,
    request_id: String,
    upstream_id: u64,
    link: Arc<Link>,
    done: bool,
}

impl InFlightGuard {
    fn begin(session: &Arc<Session>, request_id: &str, upstream: usize, upstream_id: u64, link: &Arc<Link>) -> Self {
        session.begin(request_id, InFlight { upstream, upstream_id });
        Self {
            session: Arc::clone(session),
            request_id: request_id.to_string(),
            upstream_id,
            link: Arc::clone(link),
            done: false,
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.session.end(&self.request_id);
        if !self.done {
            let link = Arc::clone(&self.link);
            let params = to_raw(&json!({ "requestId": self.upstream_id, "reason": "the client went away" }));
            tokio::spawn(async move {
                let _ = link.notify("notifications/cancelled", Some(&params)).await;
            });
        }
    }
}

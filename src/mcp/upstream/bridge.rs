//! The link of a bridged upstream (an A2A agent offered as MCP tools): `tools/list` and
//! `tools/call` answered through the [`ToolBridge`] instead of a connection. What the bridge says
//! about a call's progress goes to the call's sink as `notifications/progress` with the call's
//! (hub-unique) progress token; a change of the agent's tools goes to the hub as
//! `notifications/tools/list_changed`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Inbound, InitializeResult, NotificationSink, UpstreamError, UpstreamEvent};
use crate::identity::Principal;
use crate::jsonrpc::{METHOD_NOT_FOUND, Raw, RpcError, empty_object, to_raw};
use crate::mcp::bridge::{BridgeCall, ToolBridge};

pub struct BridgeLink {
    name: String,
    bridge: Arc<dyn ToolBridge>,
    pub(super) closed: CancellationToken,
}

impl BridgeLink {
    /// Connects once the bridge can list the upstream's tools; until it has tried once (the
    /// agent's card is being read), waits for it. Then watches for changes of its tools.
    pub async fn connect(
        name: &str,
        index: usize,
        bridge: Arc<dyn ToolBridge>,
        events: mpsc::Sender<UpstreamEvent>,
    ) -> Result<(Arc<Self>, Arc<InitializeResult>), UpstreamError> {
        let mut changes = bridge.changes(name).ok_or_else(|| UpstreamError::Unavailable {
            reason: format!("no agent `{name}` to offer as tools"),
        })?;
        loop {
            match bridge.list_tools(name) {
                Ok(_) => break,
                // Tried and failed: the supervisor retries with backoff.
                Err(reason) if *changes.borrow_and_update() > 0 => return Err(UpstreamError::Unavailable { reason }),
                Err(_) => {
                    if changes.changed().await.is_err() {
                        return Err(UpstreamError::Closed);
                    }
                }
            }
        }
        let link = Arc::new(Self {
            name: name.to_string(),
            bridge,
            closed: CancellationToken::new(),
        });
        tokio::spawn(announce_changes(index, changes, events, link.closed.clone()));
        let init = json!({
            "protocolVersion": super::HUB_PROTOCOL_VERSION,
            "capabilities": {"tools": {"listChanged": true}},
            "serverInfo": {"name": name, "version": env!("CARGO_PKG_VERSION")},
        });
        let init = super::handshake::parse_initialize(to_raw(&init))?;
        Ok((link, init))
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
        principal: Option<&Arc<Principal>>,
    ) -> Result<Raw, UpstreamError> {
        if self.closed.is_cancelled() {
            return Err(UpstreamError::Closed);
        }
        match method {
            "tools/list" => self
                .bridge
                .list_tools(&self.name)
                .map_err(|reason| UpstreamError::Unavailable { reason }),
            "tools/call" => {
                let principal = principal.ok_or_else(|| UpstreamError::Unavailable {
                    reason: "a bridged tool is called for a caller".into(),
                })?;
                self.call(params, sink, principal).await
            }
            "ping" => Ok(empty_object()),
            other => Err(UpstreamError::Rpc(RpcError::new(
                METHOD_NOT_FOUND,
                format!("agent `{}` offers tools only, not `{other}`", self.name),
            ))),
        }
    }

    async fn call(
        &self,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
        principal: &Arc<Principal>,
    ) -> Result<Raw, UpstreamError> {
        #[derive(serde::Deserialize)]
        struct Params<'a> {
            name: String,
            #[serde(borrow, default)]
            arguments: Option<&'a RawValue>,
            #[serde(default, rename = "_meta")]
            meta: Option<Value>,
        }
        let params: Params<'_> = serde_json::from_str(params.map_or("{}", RawValue::get))
            .map_err(|e| UpstreamError::Rpc(RpcError::new(crate::jsonrpc::INVALID_PARAMS, e.to_string())))?;
        let token = params.meta.as_ref().and_then(|m| m.get("progressToken")).cloned();
        let progress = match (token, sink) {
            (Some(token), Some(sink)) => Some(progress_reporter(token, sink.clone())),
            _ => None,
        };
        self.bridge
            .call_tool(BridgeCall {
                upstream: self.name.clone(),
                tool: params.name,
                arguments: params.arguments.map(ToOwned::to_owned),
                principal: Arc::clone(principal),
                progress,
            })
            .await
            .map_err(|reason| UpstreamError::Unavailable { reason })
    }

    /// Nothing to tell: a call the client cancels is dropped, which cancels it at the agent.
    pub async fn notify(&self, _method: &str, _params: Option<&RawValue>) -> Result<(), UpstreamError> {
        Ok(())
    }

    pub async fn shutdown(&self) {
        self.closed.cancel();
    }
}

/// `notifications/progress` for each status text, numbered, into the call's sink.
fn progress_reporter(token: Value, sink: NotificationSink) -> crate::mcp::bridge::Progress {
    let count = AtomicU64::new(0);
    Box::new(move |message: String| {
        let progress = count.fetch_add(1, Ordering::Relaxed) + 1;
        let params = json!({"progressToken": token, "progress": progress, "message": message});
        // A full sink drops a progress note rather than hold the agent's stream.
        let _ = sink.try_send(Inbound {
            method: "notifications/progress".into(),
            params: Some(to_raw(&params)),
        });
    })
}

/// Tells the hub `tools/list_changed` whenever the bridge says the tools may have changed,
/// until the link closes.
async fn announce_changes(
    index: usize,
    mut changes: watch::Receiver<u64>,
    events: mpsc::Sender<UpstreamEvent>,
    closed: CancellationToken,
) {
    loop {
        tokio::select! {
            () = closed.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        let message = Inbound {
            method: "notifications/tools/list_changed".into(),
            params: None,
        };
        if events
            .send(UpstreamEvent::Notification {
                upstream: index,
                message,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

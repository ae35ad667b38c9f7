//! `agentmux stdio`: the federated MCP endpoint over stdin/stdout, for clients that only launch
//! servers as child processes (Claude Desktop). One client, one session.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec};
use tracing::warn;

use crate::authz::Caller;
use crate::jsonrpc::{self, INVALID_REQUEST, Kind, Received, RpcError};
use crate::mcp::{Hub, Scope, Session, negotiate_version, relay, requested_version, static_era};

const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// Serves until stdin closes.
pub async fn serve(hub: Arc<Hub>) -> anyhow::Result<()> {
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(1024);
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(mut frame) = out_rx.recv().await {
            frame.push(b'\n');
            if stdout.write_all(&frame).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let mut session: Option<Arc<Session>> = None;
    let mut lines = FramedRead::new(tokio::io::stdin(), LinesCodec::new_with_max_length(MAX_MESSAGE));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => line,
            Err(e) => {
                let error = RpcError::new(INVALID_REQUEST, format!("unreadable message: {e}"));
                let _ = out_tx.send(jsonrpc::error_frame(None, &error)).await;
                continue;
            }
        };
        let received = match Received::parse(line.into()) {
            Ok(r) => r,
            Err(e) => {
                let _ = out_tx.send(jsonrpc::error_frame(None, &e)).await;
                continue;
            }
        };
        let message = received.message();
        let answered = matches!(message.kind(), Ok(Kind::Request { method, .. }) if method != "initialize");
        if answered {
            let era = session
                .as_ref()
                .map_or("2025-11-25", |s| static_era(&s.protocol_version));
            tokio::spawn(relay::answer(
                Arc::clone(&hub),
                Scope::Federated,
                session.clone(),
                // The local user who started `agentmux stdio`: no credentials to check.
                Caller::local("stdio", era),
                received,
                out_tx.clone(),
            ));
            continue;
        }
        match message.kind() {
            Ok(Kind::Request {
                id,
                method: "initialize",
            }) => {
                let requested = requested_version(message.params).ok().flatten();
                let version = negotiate_version(requested.as_deref());
                let new = Session::new(Scope::Federated, version.to_string(), Caller::local("stdio", version));
                // Notifications for the session (list changes, logs) go straight to stdout.
                let mut pushed = new.open_stream();
                let tx = out_tx.clone();
                tokio::spawn(async move {
                    while let Some(frame) = pushed.recv().await {
                        if tx.send(frame).await.is_err() {
                            break;
                        }
                    }
                });
                if let Err(refused) = hub.sessions().open(Arc::clone(&new)) {
                    let e = jsonrpc::RpcError::new(jsonrpc::INVALID_REQUEST, refused.to_string());
                    let _ = out_tx.send(jsonrpc::error_frame(Some(id), &e)).await;
                    continue;
                }
                session = Some(new);
                let result = hub.initialize_result(Scope::Federated, version);
                let _ = out_tx.send(jsonrpc::result_frame(id, &result)).await;
            }
            Ok(Kind::Notification { method }) => {
                hub.client_notification(session.as_ref(), method, message.params);
            }
            // Requests other than `initialize` were answered above.
            Ok(Kind::Request { .. } | Kind::Response { .. }) => {}
            Err(e) => {
                let _ = out_tx.send(jsonrpc::error_frame(message.id, &e)).await;
            }
        }
    }
    if let Some(session) = session {
        // Ends the task relaying the session's notifications, which holds a stdout sender.
        session.close_stream();
        hub.sessions().remove(&session.id);
    }
    drop(out_tx);
    if writer.await.is_err() {
        warn!("stdout writer ended abnormally");
    }
    Ok(())
}

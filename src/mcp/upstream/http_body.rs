//! Reading what an HTTP upstream answers: bounded streams and bodies, and a refusal turned into
//! the upstream's own JSON-RPC error when it sent one.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::UpstreamError;
use super::correlate::response_outcome;
use crate::egress::http_client::{MAX_ERROR_BODY, describe, read_prefix};
use crate::jsonrpc::Message;

/// Largest SSE stream agentmux reads for one request (each event is bounded on its own).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// A byte stream cut off (with an error) past [`MAX_RESPONSE`].
pub fn bounded(
    stream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
) -> impl Stream<Item = Result<Bytes, UpstreamError>> + Unpin {
    let mut seen = 0usize;
    stream.map(move |chunk| {
        let chunk = chunk.map_err(|e| UpstreamError::Transport(describe(&e)))?;
        seen += chunk.len();
        if seen > MAX_RESPONSE {
            return Err(UpstreamError::Protocol(format!(
                "response larger than {MAX_RESPONSE} bytes"
            )));
        }
        Ok(chunk)
    })
}

/// The GET stream lives for hours; only single events are bounded (`sse_bound`).
pub fn bounded_unlimited(
    stream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
) -> impl Stream<Item = Result<Bytes, UpstreamError>> + Unpin {
    stream.map(|chunk| chunk.map_err(|e| UpstreamError::Transport(describe(&e))))
}

/// A whole JSON body, at most `limit` bytes (the upstream's `max_message_bytes`).
pub async fn read_bounded(
    response: reqwest::Response,
    upstream: &std::sync::Arc<str>,
    limit: usize,
) -> Result<Vec<u8>, UpstreamError> {
    match read_prefix(response, limit).await {
        Ok((body, false)) => Ok(body),
        Ok((_, true)) => Err(UpstreamError::TooLarge {
            upstream: std::sync::Arc::clone(upstream),
            what: "a response body",
            limit,
        }),
        Err(e) => Err(UpstreamError::Transport(describe(&e))),
    }
}

/// A refused request: the server's JSON-RPC error when the body holds one (stateless servers
/// answer 4xx with a JSON-RPC error), otherwise the status and a short, safe excerpt.
pub async fn error_status(response: reqwest::Response) -> UpstreamError {
    let status = response.status();
    let (bytes, _) = read_prefix(response, MAX_ERROR_BODY).await.unwrap_or_default();
    let bytes = &bytes[..];
    if let Ok(message) = Message::parse(bytes)
        && message.error.is_some()
        && let Err(rpc @ UpstreamError::Rpc(_)) = response_outcome(message)
    {
        return rpc;
    }
    let text: String = String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let detail = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    UpstreamError::Transport(format!("HTTP {status}{detail}"))
}

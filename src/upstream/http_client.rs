//! What HTTP upstream links share: the client, agentmux's own headers for an upstream, bounded
//! response bodies, and error text that keeps reqwest's causes.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, header};

use super::UpstreamError;
use super::correlate::response_outcome;
use crate::config::{Secret, Timeouts};
use crate::jsonrpc::Message;

/// Largest SSE stream agentmux reads for one request (each event is bounded on its own).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// How much of a refused request's body is read: enough for any error message, and a server
/// that answers an error with gigabytes costs agentmux nothing.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// A client for one upstream: its connect timeout, idle connections kept a minute.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::Client, UpstreamError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| UpstreamError::Transport(describe(&e)))
}

/// The configured headers (credentials), marked sensitive so they never show in debug output.
pub fn header_map(headers: &BTreeMap<String, Secret>) -> Result<HeaderMap, UpstreamError> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| UpstreamError::Transport(format!("invalid header name `{k}`")))?;
        let mut value = HeaderValue::from_str(&v.0)
            .map_err(|_| UpstreamError::Transport(format!("invalid value for header `{k}`")))?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    Ok(map)
}

/// Parses an upstream URL once (per-request parsing showed up in profiles).
pub fn url(text: &str) -> Result<reqwest::Url, UpstreamError> {
    reqwest::Url::parse(text).map_err(|e| UpstreamError::Transport(format!("invalid url `{text}`: {e}")))
}

/// reqwest's Display omits the cause ("error sending request"); the cause is what users need.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"))
}

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

/// Reads at most `limit` bytes of a body; `true` when there was more (left unread: dropping the
/// response closes the connection rather than draining it).
pub async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body =
        Vec::with_capacity(response.content_length().unwrap_or(1024).min(limit.min(1 << 20) as u64) as usize);
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
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

//! What every outbound HTTP peer needs: a client with agentmux's timeouts, agentmux's own
//! headers for the peer, bounded reads, and error text that keeps reqwest's causes.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, header};

use super::EgressError;
use crate::config::{Secret, Timeouts};

/// How much of a refused request's body is read: enough for any error message, and a server
/// that answers an error with gigabytes costs agentmux nothing.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// A client for one upstream: its connect timeout, idle connections kept a minute.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::Client, EgressError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| EgressError::Transport(describe(&e)))
}

/// The client for a request made on this thread: each thread keeps its own (one per connect
/// timeout), so the connections it opens are driven by the thread that uses them. With
/// `server.runtime: per-core` a request and its upstream connection then stay on one thread,
/// instead of handing every response across threads to wherever the connection was first
/// opened (docs/benchmarks.md).
pub fn on_this_thread(timeouts: &Timeouts) -> Result<reqwest::Client, EgressError> {
    thread_local! {
        static CLIENTS: std::cell::RefCell<Vec<(Duration, reqwest::Client)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    CLIENTS.with_borrow_mut(|clients| {
        if let Some((_, client)) = clients.iter().find(|(connect, _)| *connect == timeouts.connect) {
            return Ok(client.clone());
        }
        let made = client(timeouts)?;
        clients.push((timeouts.connect, made.clone()));
        Ok(made)
    })
}

/// The configured headers (credentials), marked sensitive so they never show in debug output.
pub fn header_map(headers: &BTreeMap<String, Secret>) -> Result<HeaderMap, EgressError> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| EgressError::Transport(format!("invalid header name `{k}`")))?;
        let mut value = HeaderValue::from_str(&v.0)
            .map_err(|_| EgressError::Transport(format!("invalid value for header `{k}`")))?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    Ok(map)
}

/// A path segment or query component, percent-encoded (everything but RFC 3986's unreserved
/// characters), so an id a client chose cannot move a request elsewhere on the peer.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses an upstream URL once (per-request parsing showed up in profiles).
pub fn url(text: &str) -> Result<reqwest::Url, EgressError> {
    reqwest::Url::parse(text).map_err(|e| EgressError::Transport(format!("invalid url `{text}`: {e}")))
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

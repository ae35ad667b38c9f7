//! What HTTP upstream links share: the client, agentmux's own headers for an upstream, and
//! error text that keeps reqwest's causes.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::UpstreamError;
use crate::config::{Secret, Timeouts};

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

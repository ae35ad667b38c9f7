use crate::jsonrpc::RpcError;

/// Why a request to an upstream did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
    #[error("timed out waiting for {phase} after {after_ms} ms")]
    Timeout { phase: &'static str, after_ms: u128 },
    #[error("connection failed: {0}")]
    Transport(String),
    #[error("sent an invalid response: {0}")]
    Protocol(String),
    /// One message (JSON body, SSE event, stdio line) passed the upstream's `max_message_bytes`;
    /// the stream that carried it is given up, so agentmux never holds more than the limit.
    #[error(
        "upstream `{upstream}` sent {what} larger than {limit} bytes; raise `max_message_bytes` in its registry entry if that is expected"
    )]
    TooLarge {
        upstream: std::sync::Arc<str>,
        what: &'static str,
        limit: usize,
    },
    #[error("closed the connection before answering")]
    Closed,
    /// agentmux could not get its own credentials for the upstream; the text names the upstream,
    /// the token endpoint and its OAuth error, never a secret.
    #[error("{0}")]
    Credentials(String),
    /// The upstream answered with a JSON-RPC error; it is passed on as it is.
    #[error("answered with error {}: {}", .0.code, .0.message)]
    Rpc(RpcError),
}

impl UpstreamError {
    /// Whether the link itself is broken (as opposed to one request failing).
    pub fn breaks_link(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::Closed)
    }
}

impl From<crate::egress::EgressError> for UpstreamError {
    fn from(e: crate::egress::EgressError) -> Self {
        match e {
            crate::egress::EgressError::Transport(text) => Self::Transport(text),
            crate::egress::EgressError::Credentials(text) => Self::Credentials(text),
        }
    }
}

/// An upstream's event streams fail with its name (`crate::egress::sse_bound`).
pub struct StreamOf(pub std::sync::Arc<str>);

impl crate::egress::sse_bound::StreamErrors<UpstreamError> for StreamOf {
    fn too_large(&self, limit: usize) -> UpstreamError {
        UpstreamError::TooLarge {
            upstream: std::sync::Arc::clone(&self.0),
            what: "an SSE event",
            limit,
        }
    }

    fn invalid(&self, problem: String) -> UpstreamError {
        UpstreamError::Protocol(problem)
    }
}

//! Outbound plumbing every protocol shares: HTTP clients with agentmux's timeouts, agentmux's
//! own headers for a peer (never a client's), bounded reads of what a peer answers (SSE and AWS
//! event-stream frames), and OAuth client-credentials tokens. What a peer speaks (MCP, A2A, a
//! provider's API) is not known here.

pub mod credentials;
pub mod eventstream;
pub mod http_client;
pub mod sse_bound;

/// Why an outbound request could not be made or read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    #[error("connection failed: {0}")]
    Transport(String),
    /// agentmux could not get its own credentials for the peer; the text names the peer, the
    /// token endpoint and its OAuth error, never a secret.
    #[error("{0}")]
    Credentials(String),
}

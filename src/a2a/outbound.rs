//! What goes to an agent for one request, in the agent's binding.

use bytes::Bytes;

use super::card::Binding;

/// What goes to the agent: the binding's interface, the HTTP method, the path and query after
/// the interface URL (`/message:send`; empty for JSON-RPC), and the body as the caller sent it.
pub struct Outbound {
    pub binding: Binding,
    pub method: reqwest::Method,
    pub suffix: String,
    pub body: Bytes,
}

//! Tools that come from another protocol module (A2A agents' skills), offered by the hub like
//! any MCP server's. `mcp` owns this trait and the composition root implements it for the A2A
//! router, so neither module imports the other. Each bridged agent is an upstream of the hub
//! (transport `a2a`) whose link answers `tools/list` and `tools/call` through the trait: names,
//! filters, policies (`call_tool` on `Tool::"<agent>/<skill>"`), progress, cancellation and audit
//! are the hub's, as for every upstream.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::identity::Principal;
use crate::jsonrpc::Raw;

pub type BridgeFuture = Pin<Box<dyn Future<Output = Result<Raw, String>> + Send>>;

/// Reports progress of a bridged call: a status text, as the agent wrote it.
pub type Progress = Box<dyn Fn(String) + Send + Sync>;

/// One bridged tool call.
pub struct BridgeCall {
    /// The upstream (agent) the tool belongs to.
    pub upstream: String,
    /// The tool's original name (the skill id).
    pub tool: String,
    /// The call's `arguments`, as the client sent them.
    pub arguments: Option<Raw>,
    /// Who calls: what the tool starts (a task) is theirs alone.
    pub principal: Arc<Principal>,
    /// Where progress goes, when the client asked for it.
    pub progress: Option<Progress>,
}

pub trait ToolBridge: Send + Sync {
    /// `upstream`'s tools now, as a `tools/list` result; an error says why there are none.
    fn list_tools(&self, upstream: &str) -> Result<Raw, String>;

    /// Changes whenever `upstream`'s tools may have changed.
    fn changes(&self, upstream: &str) -> Option<tokio::sync::watch::Receiver<u64>>;

    /// Calls one tool; the future ends with a `CallToolResult`. Dropping it abandons the call,
    /// which the bridge then cancels where it runs.
    fn call_tool(&self, call: BridgeCall) -> BridgeFuture;
}

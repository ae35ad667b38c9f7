//! The hub's side of authorization: what it asks before it lists or forwards anything, and
//! who asks. The policy engine (`authz`) implements [`Gate`]; the hub only knows this trait, so
//! `mcp` stays below `authz` and a hub without policies simply has no gate.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::arguments::Declared;
use crate::identity::Principal;

/// Who sends a request, and through what.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Arc<Principal>,
    /// The path called (`/mcp`, `/mcp/github`, `/sse`, `stdio`).
    pub endpoint: Arc<str>,
    /// The MCP protocol version the request is served in.
    pub era: &'static str,
    pub client_ip: Option<IpAddr>,
}

impl Caller {
    /// A local caller with no credentials (`agentmux stdio`, tests).
    pub fn local(endpoint: &str, era: &'static str) -> Self {
        Self {
            principal: Principal::anonymous(),
            endpoint: endpoint.into(),
            era,
            client_ip: None,
        }
    }
}

/// A protocol version as a static string (policies compare it; versions come from a fixed set).
pub fn static_era(version: &str) -> &'static str {
    super::MODERN_VERSIONS
        .iter()
        .chain(super::SUPPORTED_VERSIONS.iter())
        .find(|v| **v == version)
        .copied()
        .unwrap_or("unknown")
}

/// The actions of MCP requests. A2A and LLM actions join the policy vocabulary beside these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CallTool,
    GetPrompt,
    ReadResource,
}

impl Action {
    /// Its Cedar id: `Action::"call_tool"`.
    pub fn id(self) -> &'static str {
        match self {
            Self::CallTool => "call_tool",
            Self::GetPrompt => "get_prompt",
            Self::ReadResource => "read_resource",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [Self::CallTool, Self::GetPrompt, Self::ReadResource]
            .into_iter()
            .find(|a| a.id() == id)
    }
}

/// MCP tool annotation hints, with the spec's defaults where the server gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ToolHints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Default for ToolHints {
    fn default() -> Self {
        Self {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: true,
        }
    }
}

/// What a request acts on, by its upstream's own name (never the exposed, prefixed one).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub action: Action,
    pub upstream: &'a str,
    /// Tool or prompt name, or resource URI, as the upstream knows it.
    pub name: &'a str,
    pub hints: ToolHints,
}

/// A call's arguments, read once.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    /// Exactly as the upstream will receive them (remembered decisions are keyed by this text).
    pub raw: Option<&'a RawValue>,
    /// `raw` parsed by [`crate::arguments::parse`] (`{}` when absent).
    pub value: &'a Value,
    /// What the tool declared, when the arguments were validated against it: policies then see
    /// each value with its declared type.
    pub declared: Option<&'a Declared>,
}

/// One decision asked of the gate.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub caller: &'a Caller,
    pub target: Target<'a>,
    /// `None` for actions without arguments (reads, prompts listed by reference).
    pub arguments: Option<Args<'a>>,
}

/// Arguments a policy reads but cannot be given exactly (a decimal with more than four places,
/// an integer beyond 64 bits): the call is refused, with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The policies that determined it (permits for allow, forbids for an explicit deny; none
    /// when nothing permitted).
    pub policies: Vec<String>,
    /// Policies that could not be evaluated for this request. A permit that errors permits
    /// nothing; a forbid that errors denies (fail closed) and is named in `policies`.
    pub errors: Vec<String>,
}

pub trait Gate: Send + Sync {
    fn decide(&self, ask: &Ask<'_>) -> Result<Verdict, Unreadable>;

    /// For a list: which targets the caller could use with some arguments (a policy that
    /// depends on arguments cannot be decided before the call, so its tool stays listed).
    fn visible(&self, caller: &Caller, targets: &[Target<'_>]) -> Vec<bool>;

    /// Whether a policy set is in force (before the first one loads, everything is denied).
    fn loaded(&self) -> bool;

    /// Changes whenever the policy set does, so cached list filtering can tell it is stale.
    fn generation(&self) -> u64;
}

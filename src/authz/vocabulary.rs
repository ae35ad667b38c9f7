//! What authorization is asked, in words every protocol shares: a caller (principal, endpoint,
//! protocol version, address), an action, a resource (type, id, parent upstream, attributes), the
//! call's arguments and any further context. `mcp`, `a2a` and `llm` fill these in;
//! none of them is imported here. The words are the Cedar vocabulary of `docs/policies.md`, the
//! contract security teams write policies against. The policy engine implements [`Gate`]; a
//! protocol module only knows this trait, and a deployment without policies has no gate.

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
    /// The protocol version the request is served in (an MCP era such as `2025-11-25`); policies
    /// read it as `context.era` for MCP actions.
    pub version: &'static str,
    pub client_ip: Option<IpAddr>,
}

impl Caller {
    /// A local caller with no credentials (`agentmux stdio`, tests).
    pub fn local(endpoint: &str, version: &'static str) -> Self {
        Self {
            principal: Principal::anonymous(),
            endpoint: endpoint.into(),
            version,
            client_ip: None,
        }
    }
}

/// Every action of the policy vocabulary, whichever protocol asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CallTool,
    GetPrompt,
    ReadResource,
    /// A2A `SendMessage`, `SendStreamingMessage` (and their v0.3 names).
    SendMessage,
    /// A2A `GetTask`, `ListTasks`, `SubscribeToTask`.
    ReadTask,
    CancelTask,
    /// The A2A push-notification config methods.
    ConfigurePush,
    /// An A2A agent's card, its extended card, its place in the directory.
    ReadCard,
    /// An LLM request (chat, messages, responses, embeddings), and a model in `GET /v1/models`.
    CallModel,
}

impl Action {
    pub const ALL: [Self; 9] = [
        Self::CallTool,
        Self::GetPrompt,
        Self::ReadResource,
        Self::SendMessage,
        Self::ReadTask,
        Self::CancelTask,
        Self::ConfigurePush,
        Self::ReadCard,
        Self::CallModel,
    ];

    /// Its Cedar id: `Action::"call_tool"`.
    pub fn id(self) -> &'static str {
        match self {
            Self::CallTool => "call_tool",
            Self::GetPrompt => "get_prompt",
            Self::ReadResource => "read_resource",
            Self::SendMessage => "send_message",
            Self::ReadTask => "read_task",
            Self::CancelTask => "cancel_task",
            Self::ConfigurePush => "configure_push",
            Self::ReadCard => "read_card",
            Self::CallModel => "call_model",
        }
    }

    /// Whether it acts on an A2A agent.
    pub fn is_a2a(self) -> bool {
        self.resource_type() == "Agent"
    }

    /// Whether it acts on an LLM model.
    pub fn is_llm(self) -> bool {
        self.resource_type() == "Model"
    }

    /// The MCP method an MCP action stands for, as policies read it in `context.method`.
    pub fn mcp_method(self) -> Option<&'static str> {
        match self {
            Self::CallTool => Some("tools/call"),
            Self::GetPrompt => Some("prompts/get"),
            Self::ReadResource => Some("resources/read"),
            _ => None,
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }

    /// The entity type of what it acts on: `Tool`, `Prompt`, `Resource`, `Agent`, `Model`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Self::CallTool => "Tool",
            Self::GetPrompt => "Prompt",
            Self::ReadResource => "Resource",
            Self::SendMessage | Self::ReadTask | Self::CancelTask | Self::ConfigurePush | Self::ReadCard => "Agent",
            Self::CallModel => "Model",
        }
    }

    /// The attribute that holds the resource's own name: a resource's `uri`, else `name`.
    pub fn name_attribute(self) -> &'static str {
        match self {
            Self::ReadResource => "uri",
            _ => "name",
        }
    }
}

/// A tool's annotation hints, as policies see them (`resource.destructive` …), with MCP's
/// defaults where the server gives none.
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

/// The attributes a resource has beyond its name and upstream, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Attrs<'a> {
    #[default]
    None,
    Tool(ToolHints),
    /// An A2A agent's skill ids, from its card.
    Agent {
        skills: &'a [String],
    },
    /// An LLM model: its registry entry's `provider` (`openai` …, or [`VIRTUAL_PROVIDER`] for a
    /// virtual model) and the `model` name as that provider knows it.
    Model {
        provider: &'a str,
        model: &'a str,
    },
}

/// The `provider` of a virtual model (a name from the config's `llm.models`).
pub const VIRTUAL_PROVIDER: &str = "virtual";

impl Attrs<'_> {
    /// The attributes of what `action` acts on: a tool's hints for `call_tool`, else none.
    pub fn of(action: Action, hints: ToolHints) -> Self {
        match action {
            Action::CallTool => Self::Tool(hints),
            _ => Self::None,
        }
    }
}

/// What a request acts on: a resource of the action's type, `<Type>::"<upstream>/<name>"`, whose
/// parent is `Upstream::"<upstream>"`. Named by its upstream's own name, never the exposed one.
/// An A2A agent is its own upstream: `Agent::"<agent>"` in `Upstream::"<agent>"`. An LLM model
/// is `Model::"<entry>/<model>"` in `Upstream::"<entry>"`, and a virtual model `Model::"<name>"`
/// with an empty `upstream` and no parent ([`Target::model`], [`Target::virtual_model`]).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub action: Action,
    pub upstream: &'a str,
    /// The name the upstream knows it by (tool, prompt, model), or a resource's URI.
    pub name: &'a str,
    pub attrs: Attrs<'a>,
}

impl<'a> Target<'a> {
    /// `call_model` on `Model::"<entry>/<model>"` (parent `Upstream::"<entry>"`), served by a
    /// registry entry of `provider` (`openai`, `anthropic`, `azure-openai`, `gemini`, `bedrock`,
    /// `openai-compatible`).
    pub fn model(entry: &'a str, model: &'a str, provider: &'a str) -> Self {
        Self {
            action: Action::CallModel,
            upstream: entry,
            name: model,
            attrs: Attrs::Model { provider, model },
        }
    }

    /// `call_model` on the virtual model `Model::"<name>"`: provider `virtual`, no upstream. A
    /// request for it is decided on this first, then on each target it reaches.
    pub fn virtual_model(name: &'a str) -> Self {
        Self {
            action: Action::CallModel,
            upstream: "",
            name,
            attrs: Attrs::Model {
                provider: VIRTUAL_PROVIDER,
                model: name,
            },
        }
    }

    /// Whether it is a virtual model (no registry entry of its own).
    pub fn is_virtual_model(&self) -> bool {
        self.action.is_llm() && self.upstream.is_empty()
    }
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
    /// The protocol method asked (A2A: `SendMessage`, `tasks/get` …), as policies read it in
    /// `context.method`; `None` for MCP actions, whose method the action already names, and
    /// for `call_model` (whose `context.method` is then `""`).
    pub method: Option<&'a str>,
    /// What an LLM request asks for: `Some` for `call_model` (a `call_model` ask without it is
    /// denied), `None` for every other action.
    pub llm: Option<ModelCall<'a>>,
}

/// The parts of an LLM request policies read, as `context.api`, `context.stream`,
/// `context.estimated_tokens`, `context.max_tokens` and `context.tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelCall<'a> {
    /// The API called: `chat`, `messages`, `responses` or `embeddings`.
    pub api: &'a str,
    /// Whether the response is streamed.
    pub stream: bool,
    /// The request's input tokens as estimated before it is sent.
    pub estimated_tokens: u64,
    /// The output tokens the request allows (`max_tokens`, `max_completion_tokens`,
    /// `max_output_tokens`); 0 when it sets none.
    pub max_tokens: u64,
    /// How many tool definitions the request carries.
    pub tools: u64,
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
    /// Remembered verdicts are shared, not copied.
    fn decide(&self, ask: &Ask<'_>) -> Result<Arc<Verdict>, Unreadable>;

    /// For a list: which targets the caller could use with some arguments (a policy that
    /// depends on arguments cannot be decided before the call, so its tool stays listed). A
    /// model (`GET /v1/models`) is decided with the LLM request's fields unknown: one whose
    /// permit depends on `estimated_tokens` stays listed.
    fn visible(&self, caller: &Caller, targets: &[Target<'_>]) -> Vec<bool>;

    /// Whether a policy set is in force (before the first one loads, everything is denied).
    fn loaded(&self) -> bool;

    /// Changes whenever the policy set does, so cached list filtering can tell it is stale.
    fn generation(&self) -> u64;
}

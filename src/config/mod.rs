//! Configuration: YAML on disk → raw serde types → one validated, immutable [`Config`] snapshot.
//!
//! Imports run one way, leaves → `raw` → concerns → `registry` → `snapshot`, so no file reaches
//! back to one that imports it. The leaves (`duration`, `expand`, `error`, `secret`, `names`)
//! import nothing from here. `raw/` mirrors the files exactly, rejects unknown keys, and uses
//! only leaves. Each concern (`server`, `auth`, `authz`, `audit`, `pinning`, `mcp`, `upstream`,
//! `transport`) owns its settings, their defaults and the `resolve` that reads its raw section;
//! `registry` reads the upstream registry (our YAML, or IDE `mcpServers`/`servers` JSON files);
//! `snapshot` composes them all into the [`Config`] the rest of agentmux reads. A request works
//! on one snapshot from start to end.

mod a2a;
mod audit;
mod auth;
mod authz;
mod duration;
mod error;
mod expand;
mod llm;
mod mcp;
mod names;
mod pinning;
mod raw;
mod registry;
mod secret;
mod server;
mod snapshot;
mod transport;
mod upstream;

pub use a2a::{A2aSettings, AgentSpec, Signatures};
pub use audit::{AuditArguments, AuditSettings, AuditSink};
pub use auth::{ApiKeySpec, AuthSettings, IssuerSpec, JwksSource, token_type};
pub use authz::Denied;
pub use duration::parse_duration;
pub use error::{ConfigError, Problem};
pub use llm::{
    AwsKeys, Builtin, Guard, GuardAction, Limit, LlmSettings, MAX_WEBHOOK_TIMEOUT, ModelSet, ModelTarget, OnError,
    Price, ProviderKind, ProviderSpec, Recognizer, Retries, SystemPrompt, VirtualModel, WebhookGuard,
};
pub use mcp::{McpSettings, PrefixMode};
pub use pinning::{OnChanged, OnNew, PinningSettings};
pub use secret::Secret;
pub use server::{ForwardedHeader, IpNet, RuntimeFlavor, ServerSettings};
pub use snapshot::{Config, Overrides, load, load_with};
pub use transport::{ClientAuth, OAuthClient, TransportSpec};
pub use upstream::{
    ArgumentValidation, DEFAULT_MAX_MESSAGE_BYTES, NameFilter, Timeouts, UpstreamProtocol, UpstreamSpec,
};

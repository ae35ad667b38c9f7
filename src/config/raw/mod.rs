//! Serde types that mirror agentmux's YAML files exactly. Unknown keys are errors.
//!
//! Raw types import only the leaves (`duration`, `expand`), never a resolved file: each resolved
//! concern reads its raw section, so the dependency runs one way, raw → resolved.

mod a2a;
mod auth;
mod llm;
mod mcp;
mod oauth;
mod policy;
mod server;
mod upstream;

use serde::Deserialize;

use crate::config::expand::Text;

pub use a2a::{RawA2a, RawAgent, Signatures};
pub use auth::RawAuth;
pub use llm::{
    Builtin, GuardAction, GuardOn, LimitScope, OnError, ProviderKind, RawAwsCredentials, RawGuard, RawLimit, RawLlm,
    RawProvider, RawRetries, RawTarget,
};
pub use mcp::{RawMcp, RawPrefix};
pub use oauth::{RawClientAuth, RawOAuth};
pub use policy::{RawArguments, RawAudit, RawAuthz, RawChanged, RawDenied, RawNew, RawPinning};
pub use server::{ForwardedHeader, RawServer, RuntimeFlavor};
pub use upstream::{
    ArgumentValidation, RawFilter, RawMcpUpstream, RawTimeouts, RawTransport, RawUpstream, UpstreamProtocol,
};

/// `agentmux.yaml`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<Text>,
    pub registry: Option<OneOrMany>,
    pub policies: Option<Text>,
    pub auth: Option<RawAuth>,
    #[serde(default)]
    pub authz: RawAuthz,
    pub audit: Option<RawAudit>,
    pub pinning: Option<RawPinning>,
    #[serde(default)]
    pub mcp: RawMcp,
    #[serde(default)]
    pub a2a: RawA2a,
    #[serde(default)]
    pub llm: RawLlm,
    #[serde(default)]
    pub server: RawServer,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(Text),
    Many(Vec<Text>),
}

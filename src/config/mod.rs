//! Configuration: YAML on disk → raw serde types → one validated, immutable [`Config`] snapshot.
//!
//! Raw types (`raw.rs`) mirror the files exactly and reject unknown keys; `registry.rs` reads the
//! upstream registry (our YAML, or IDE `mcpServers`/`servers` JSON files); this module turns both
//! into the snapshot the rest of agentmux reads. A request works on one snapshot from start to end.

mod auth;
mod duration;
mod error;
mod expand;
mod raw;
mod registry;
mod server;
mod snapshot;

pub use auth::{
    ApiKeySpec, AuditArguments, AuditSettings, AuditSink, AuthSettings, Denied, IssuerSpec, JwksSource, OnChanged,
    OnNew, PinningSettings, token_type,
};
pub use duration::parse_duration;
pub use error::{ConfigError, Problem};
pub use server::{ForwardedHeader, IpNet};
pub use snapshot::{
    ArgumentValidation, ClientAuth, Config, DEFAULT_MAX_MESSAGE_BYTES, McpSettings, NameFilter, OAuthClient, Overrides,
    PrefixMode, Secret, ServerSettings, Timeouts, TransportSpec, UpstreamProtocol, UpstreamSpec, load, load_with,
};

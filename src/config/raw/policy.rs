//! `authz:`, `audit:` and `pinning:` in `agentmux.yaml`: the settings that go with `policies:`.
//! Imports only the leaf `expand`.

use serde::Deserialize;

use crate::config::expand::Text;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAuthz {
    /// What a caller hears about a tool it may not use: `hidden` (default: "unknown tool",
    /// as if it did not exist) or `forbidden` (says it exists and is denied).
    pub denied: Option<RawDenied>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum RawDenied {
    Hidden,
    Forbidden,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// `stderr` (default), `off`, or a file path (appended to).
    pub sink: Option<Text>,
    /// How tool arguments are written: `hash` (default), `log`, `omit`.
    pub arguments: Option<RawArguments>,
    /// The key of the argument hashes (HMAC-SHA256), e.g. `${file:audit.key}`; without one, a
    /// random key per start (hashes then compare only within one run).
    pub hash_key: Option<Text>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum RawArguments {
    Log,
    Hash,
    Omit,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPinning {
    /// The lock file of approved tool definitions (default `agentmux.lock` beside the config).
    pub lock: Option<Text>,
    /// A tool whose definition differs from the approved one: `hide` (default) or `flag`.
    pub changed: Option<RawChanged>,
    /// A tool the lock file does not know: `allow` (default) or `hide`.
    pub new: Option<RawNew>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum RawChanged {
    Hide,
    Flag,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum RawNew {
    Allow,
    Hide,
}

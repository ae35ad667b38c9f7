//! `auth:` in `agentmux.yaml`: the issuers and API keys that say who a caller is.
//! Imports only the leaves (`duration`, `expand`).

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
use crate::config::expand::Text;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(default)]
    pub issuers: Vec<RawIssuer>,
    #[serde(default)]
    pub api_keys: Vec<RawApiKey>,
    /// Callers without credentials are let in as `Anonymous` (default false).
    pub anonymous: Option<bool>,
    /// The resource identifier clients ask tokens for (RFC 9728 `resource`); default: the URL
    /// of the endpoint, as the request names it.
    pub resource: Option<Text>,
    /// Scopes every token must carry; a token without them gets 403 `insufficient_scope`.
    #[serde(default)]
    pub required_scopes: Vec<Text>,
    /// Clock skew tolerated for `exp` / `nbf` (default 60s).
    pub leeway: Option<ConfigDuration>,
    /// Token claims offered to policies as `principal.claims`.
    #[serde(default)]
    pub claims: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    /// Namespaces this issuer's subjects and groups (`User::"<name>/<sub>"`,
    /// `Group::"<name>/<group>"`), so that one trusted issuer cannot mint another's users or
    /// groups. With several issuers, at most one may leave it out.
    pub name: Option<Text>,
    pub issuer: Text,
    /// Accepted JWT `typ` headers (e.g. `[at+jwt]`, RFC 9068). Default: a token without `typ`,
    /// or typed `JWT` or `at+jwt`; other types (ID tokens typed as such, logout or DPoP
    /// tokens) are refused.
    #[serde(default)]
    pub token_types: Vec<Text>,
    #[serde(default)]
    pub audiences: Vec<Text>,
    /// An http(s) URL or a file path (relative to the config file).
    pub jwks: Option<Text>,
    /// A JWKS inline, as YAML.
    pub keys: Option<serde_json::Value>,
    #[serde(default)]
    pub algorithms: Vec<Text>,
    pub groups_claim: Option<Text>,
    pub scopes_claim: Option<Text>,
    /// Authorization servers to announce in protected-resource metadata (default: the issuer).
    #[serde(default)]
    pub authorization_servers: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiKey {
    pub name: Text,
    pub hash: Text,
    #[serde(default)]
    pub groups: Vec<Text>,
}

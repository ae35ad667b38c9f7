//! `oauth:` of a registry entry (an MCP server's or an agent's): agentmux's own client
//! credentials toward it.

use serde::Deserialize;

use crate::config::expand::Text;

/// `oauth`: the client credentials grant (RFC 6749 §4.4) agentmux uses to get its own
/// access token for an upstream. Its Debug leaves the secret out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    pub token_url: Text,
    pub client_id: Text,
    pub client_secret: Text,
    #[serde(default)]
    pub scopes: Vec<Text>,
    pub audience: Option<Text>,
    pub resource: Option<Text>,
    pub auth_method: Option<RawClientAuth>,
}

impl std::fmt::Debug for RawOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawOAuth")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// How agentmux authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawClientAuth {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

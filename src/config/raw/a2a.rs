//! The `a2a:` block of a registry file (one A2A agent) and the `a2a:` section of agentmux.yaml.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::oauth::RawOAuth;
use crate::config::duration::ConfigDuration;
use crate::config::expand::Text;

/// `registry/<agent>.yaml` → `a2a:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// The agent's base URL; its card is `<url>/.well-known/agent-card.json`.
    pub url: Option<Text>,
    /// Or the card's own URL.
    pub card: Option<Text>,
    #[serde(default)]
    pub headers: BTreeMap<String, Text>,
    pub oauth: Option<RawOAuth>,
    pub signatures: Option<Signatures>,
    /// How long a fetched card is served before it is fetched again.
    pub refresh: Option<ConfigDuration>,
}

/// What becomes of a card's JWS signatures, which a rewritten card invalidates.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Signatures {
    #[default]
    Strip,
    Keep,
}

/// agentmux.yaml → `a2a:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawA2a {
    /// agentmux's own external URL (`https://gateway.example.com`), written into served cards.
    pub public_url: Option<Text>,
    /// Address ranges an agent may be asked to send push notifications to although they are
    /// private (by default loopback, private, link-local … are refused).
    #[serde(default)]
    pub push_allow: Vec<Text>,
}

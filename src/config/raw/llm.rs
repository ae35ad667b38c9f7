//! The `llm:` block of a registry file (one LLM provider) and the `llm:` section of
//! agentmux.yaml (what spans providers: virtual models).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::expand::{SecretRef, Text};

/// `registry/<entry>.yaml` → `llm:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub provider: ProviderKind,
    /// What the provider's own SDK calls its base URL; a default per provider.
    pub url: Option<Text>,
    /// The provider's key: only from `${env:NAME}` or `${file:PATH}`.
    pub key: Option<SecretRef>,
    /// Served models; `["*"]` passes any model name through.
    pub models: Vec<String>,
    /// Extra headers toward the provider (an organization id, a gateway token …).
    #[serde(default)]
    pub headers: BTreeMap<String, Text>,
    /// Azure OpenAI: the `api-version` query parameter.
    pub api_version: Option<Text>,
}

/// Which API a provider speaks.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    AzureOpenai,
    Gemini,
    Bedrock,
    OpenaiCompatible,
}

/// agentmux.yaml → `llm:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLlm {
    /// Virtual models a client can name.
    #[serde(default)]
    pub models: BTreeMap<String, RawVirtualModel>,
    /// Not served yet: given, they are an error rather than silently unenforced.
    pub limits: Option<serde_yaml_ng::Value>,
    pub guards: Option<serde_yaml_ng::Value>,
    pub prompts: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVirtualModel {
    /// In order of preference (failover), or weighted (balanced among equal weights' peers).
    pub targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTarget {
    Name(String),
    Weighted(RawWeighted),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeighted {
    pub model: String,
    pub weight: Option<u32>,
}

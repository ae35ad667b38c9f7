//! The `llm:` block of a registry file (one LLM provider) and the `llm:` section of
//! agentmux.yaml (what spans providers: virtual models).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
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
    /// Azure OpenAI: the `api-version` query parameter; Gemini: the path's version (`v1beta`).
    pub api_version: Option<Text>,
    /// Bedrock: the AWS region (else `AWS_REGION` or `AWS_DEFAULT_REGION`).
    pub region: Option<Text>,
    /// Bedrock: the AWS credentials requests are signed with (else the standard `AWS_*`
    /// environment variables).
    pub aws: Option<RawAwsCredentials>,
}

/// AWS credentials, each only from `${env:NAME}` or `${file:PATH}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAwsCredentials {
    pub access_key_id: SecretRef,
    pub secret_access_key: SecretRef,
    pub session_token: Option<SecretRef>,
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
    /// Requests and tokens per minute, per caller, group or model.
    #[serde(default)]
    pub limits: Vec<RawLimit>,
    /// What may not pass in prompts or answers.
    #[serde(default)]
    pub guards: Vec<RawGuard>,
    /// System prompts added to requests.
    #[serde(default)]
    pub prompts: Vec<RawPrompt>,
    /// Prices per model (`<entry>/<model>`), for estimated costs.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// How far one request may go trying providers.
    pub retries: Option<RawRetries>,
}

/// `llm.retries`.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Attempts per request, repeats of one target included.
    pub attempts: Option<u32>,
    /// No attempt starts once a request is this old.
    pub budget: Option<ConfigDuration>,
    /// The longest `retry-after` agentmux waits out itself before trying again.
    pub wait: Option<ConfigDuration>,
}

/// `llm.prices.<entry>/<model>`: US dollars per million tokens.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// `llm.guards[]`: a recognizer (`builtin` or `regex`) and what to do with what it finds, or a
/// `webhook` that decides. Which of them is given is checked when the config resolves, so the
/// error can name the guard and the field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    pub name: String,
    pub builtin: Option<Builtin>,
    pub regex: Option<String>,
    pub webhook: Option<RawWebhook>,
    /// Required with `builtin` or `regex`; a webhook decides for itself.
    pub action: Option<GuardAction>,
    /// `request`, `response` or both (default: request).
    #[serde(default)]
    pub on: Vec<GuardOn>,
    /// Virtual models or `<entry>/<model>` names it applies to; none: all.
    #[serde(default)]
    pub models: Vec<String>,
}

/// `llm.guards[].webhook`: a service agentmux asks about each request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: Text,
    /// agentmux's own headers toward the webhook (its credentials); the caller's never go.
    #[serde(default)]
    pub headers: BTreeMap<String, Text>,
    /// Default 2s, at most 30s: every request it applies to waits for it.
    pub timeout: Option<ConfigDuration>,
    /// What an answer that decides nothing means; default `deny` (fail closed).
    pub on_error: Option<OnError>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    #[default]
    Deny,
    Allow,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    CreditCard,
    Email,
    Iban,
    ApiKey,
    UsSsn,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GuardAction {
    Reject,
    Mask,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GuardOn {
    Request,
    Response,
}

/// `llm.prompts[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrompt {
    #[serde(default)]
    pub models: Vec<String>,
    pub prepend_system: Option<String>,
    pub append_system: Option<String>,
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

/// `llm.limits[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub name: String,
    /// Which requests count: all given must match; none given matches every request.
    #[serde(default, rename = "match")]
    pub matches: RawLimitMatch,
    /// `shared` (default): one budget for every request the limit matches (a team's);
    /// `principal`: one budget per caller.
    pub per: Option<LimitScope>,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLimitMatch {
    /// `User::"alice"`, `ApiKey::"ci-bot"`.
    pub principal: Option<String>,
    pub group: Option<String>,
    /// A virtual model's name or `<entry>/<model>`, as the client names it.
    pub model: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LimitScope {
    #[default]
    Shared,
    Principal,
}

//! OpenAI's API, and the servers that speak it: OpenAI itself, OpenAI-compatible servers (vLLM,
//! Ollama, llama.cpp; the same paths under their base URL) and Azure OpenAI (a deployment per
//! model in the path, and an `api-version`).

use super::super::api::Api;
use crate::config::{ProviderKind, ProviderSpec};
use crate::egress::http_client::encode_component;

/// Where `api` is served for `model`.
pub fn url(spec: &ProviderSpec, api: Api, model: &str) -> String {
    let path = match api {
        Api::Chat => "/chat/completions",
        Api::Responses => "/responses",
        Api::Embeddings => "/embeddings",
        // Not sent here: `Provider::speaks` keeps Anthropic's APIs away.
        Api::Messages | Api::CountTokens => "/messages",
    };
    match spec.kind {
        ProviderKind::AzureOpenai => format!(
            "{}/openai/deployments/{}{path}?api-version={}",
            spec.url,
            encode_component(model),
            encode_component(spec.api_version.as_deref().unwrap_or_default())
        ),
        _ => format!("{}{path}", spec.url),
    }
}

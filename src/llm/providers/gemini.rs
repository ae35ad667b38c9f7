//! Google's Gemini API: `/{version}/models/{model}:generateContent` under the provider's base
//! URL (`:streamGenerateContent?alt=sse` for a stream, so it comes as server-sent events rather
//! than one JSON array; `:batchEmbedContents` for embeddings, `:countTokens` for token counts),
//! the key in `x-goog-api-key`.
//! The version is `v1beta` unless the entry's `api_version` says otherwise: Gemini's JSON-schema
//! output and tool parameters are served there.

use super::super::api::Api;
use crate::config::ProviderSpec;
use crate::egress::http_client::encode_component;

const DEFAULT_VERSION: &str = "v1beta";

/// Where `api` (generation or embeddings) is served for `model`.
pub fn url(spec: &ProviderSpec, api: Api, model: &str, stream: bool) -> String {
    let method = match (api, stream) {
        (Api::Embeddings, _) => ":batchEmbedContents",
        (Api::CountTokens, _) => ":countTokens",
        (_, true) => ":streamGenerateContent?alt=sse",
        (_, false) => ":generateContent",
    };
    let version = spec.api_version.as_deref().unwrap_or(DEFAULT_VERSION);
    format!(
        "{}/{}/models/{}{method}",
        spec.url,
        encode_component(version),
        encode_component(model)
    )
}

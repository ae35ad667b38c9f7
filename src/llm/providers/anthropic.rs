//! Anthropic's Messages API: `/v1/messages` under the provider's base URL, the key in
//! `x-api-key`, and the API version the client asked for (`anthropic-version`, required by the
//! API; agentmux supplies the long-stable `2023-06-01` when a client sends none) and its beta
//! flags passed on.

use http::{HeaderMap, HeaderValue};

use super::super::api::Api;
use crate::config::ProviderSpec;

const DEFAULT_VERSION: &str = "2023-06-01";

/// The URL for `api`; adds the client's API options to `headers`.
pub fn prepare(spec: &ProviderSpec, api: Api, client: &HeaderMap, headers: &mut HeaderMap) -> String {
    let version = client
        .get("anthropic-version")
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
    headers.insert("anthropic-version", version);
    if let Some(beta) = client.get("anthropic-beta") {
        headers.insert("anthropic-beta", beta.clone());
    }
    let path = match api {
        Api::CountTokens => "/v1/messages/count_tokens",
        _ => "/v1/messages",
    };
    format!("{}{path}", spec.url)
}

//! Providers, one file per wire format, behind one closed enum: what each needs to receive a
//! request (URL, credentials, body), and which inbound APIs it serves as they are. A provider's
//! key goes only into its own request, in its own header; nothing from the client's headers but
//! the API's own options (`anthropic-version`, `anthropic-beta`) is passed on.

mod anthropic;
// Signing and URLs for Amazon Bedrock, not yet wired to a provider kind.
#[allow(dead_code)]
mod bedrock;
mod openai;

use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};

use super::api::Api;
use super::health::Health;
use crate::config::{ProviderKind, ProviderSpec};
use crate::egress::http_client;

/// A request ready for one provider.
pub struct Outbound {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub struct Provider {
    pub spec: ProviderSpec,
    /// Its key in its own header, and the configured headers, built once.
    headers: HeaderMap,
    pub health: Health,
}

impl Provider {
    pub fn new(spec: ProviderSpec) -> anyhow::Result<Self> {
        let mut headers = http_client::header_map(&spec.headers)?;
        if let Some(key) = &spec.key {
            let (name, value) = match spec.kind {
                ProviderKind::Anthropic => ("x-api-key", key.0.clone()),
                ProviderKind::AzureOpenai => ("api-key", key.0.clone()),
                _ => ("authorization", format!("Bearer {}", key.0)),
            };
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| anyhow::anyhow!("{}: the provider key is not a valid header value", spec.name))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(Self {
            spec,
            headers,
            health: Health::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether it serves `api` in that API's own wire format.
    pub fn speaks(&self, api: Api) -> bool {
        match self.spec.kind {
            ProviderKind::Openai => matches!(api, Api::Chat | Api::Responses | Api::Embeddings),
            ProviderKind::OpenaiCompatible | ProviderKind::AzureOpenai => matches!(api, Api::Chat | Api::Embeddings),
            ProviderKind::Anthropic => matches!(api, Api::Messages | Api::CountTokens),
            ProviderKind::Gemini | ProviderKind::Bedrock => false,
        }
    }

    /// `body` (the client's, model name replaced by `model`) as this provider receives it.
    /// `client`: the client's headers, for the API options passed on.
    pub fn request(&self, api: Api, model: &str, body: &mut Map<String, Value>, client: &HeaderMap) -> Outbound {
        body.insert("model".into(), Value::String(model.to_string()));
        let mut headers = self.headers.clone();
        let url = match self.spec.kind {
            ProviderKind::Anthropic => anthropic::prepare(&self.spec, api, client, &mut headers),
            _ => openai::url(&self.spec, api, model),
        };
        Outbound {
            url,
            headers,
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

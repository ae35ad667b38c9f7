//! Providers, one file per wire format, behind one closed enum: what each needs to receive a
//! request (URL, credentials, body), and which inbound APIs it serves as they are. A provider's
//! key goes only into its own request, in its own header (Bedrock's signing keys only into its
//! signature); nothing from the client's headers but the API's own options
//! (`anthropic-version`, `anthropic-beta`) is passed on.

mod anthropic;
mod bedrock;
mod gemini;
mod openai;

use std::time::SystemTime;

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
    /// Bedrock: the keys each request is signed with.
    signing: Option<(bedrock::AwsCredentials, String)>,
    pub health: Health,
}

impl Provider {
    pub fn new(spec: ProviderSpec) -> anyhow::Result<Self> {
        let mut headers = http_client::header_map(&spec.headers)?;
        if let Some(key) = &spec.key {
            let (name, value) = match spec.kind {
                ProviderKind::Anthropic => ("x-api-key", key.0.clone()),
                ProviderKind::AzureOpenai => ("api-key", key.0.clone()),
                ProviderKind::Gemini => ("x-goog-api-key", key.0.clone()),
                // OpenAI's and Bedrock's API keys are bearer tokens.
                _ => ("authorization", format!("Bearer {}", key.0)),
            };
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| anyhow::anyhow!("{}: the provider key is not a valid header value", spec.name))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let signing = spec.aws.as_ref().map(|aws| {
            let credentials = bedrock::AwsCredentials {
                access_key_id: aws.access_key_id.0.clone(),
                secret_access_key: aws.secret_access_key.0.clone(),
                session_token: aws.session_token.as_ref().map(|t| t.0.clone()),
            };
            (credentials, aws.region.clone())
        });
        Ok(Self {
            spec,
            headers,
            signing,
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

    /// `body` (the client's, model name replaced by `model`, or translated into this provider's
    /// API) as this provider receives it. `api`: the API the body is in, for the providers that
    /// speak it; for Gemini and Bedrock, generation or embeddings. `stream`: the client asked
    /// for a stream. `client`: the client's headers, for the API options passed on. Err: the
    /// request could not be signed.
    pub fn request(
        &self,
        api: Api,
        stream: bool,
        model: &str,
        body: &mut Map<String, Value>,
        client: &HeaderMap,
    ) -> Result<Outbound, String> {
        let mut headers = self.headers.clone();
        let url = match self.spec.kind {
            ProviderKind::Anthropic => anthropic::prepare(&self.spec, api, client, &mut headers),
            // Gemini and Bedrock name the model in the URL, never in the body.
            ProviderKind::Gemini => gemini::url(&self.spec, api, model, stream),
            ProviderKind::Bedrock => bedrock::url(&self.spec.url, model, stream),
            ProviderKind::Openai | ProviderKind::OpenaiCompatible | ProviderKind::AzureOpenai => {
                openai::url(&self.spec, api, model)
            }
        };
        if !matches!(self.spec.kind, ProviderKind::Gemini | ProviderKind::Bedrock) {
            body.insert("model".into(), Value::String(model.to_string()));
        }
        let body = serde_json::to_vec(body).unwrap_or_default();
        if let Some((credentials, region)) = &self.signing {
            bedrock::sign(credentials, region, &url, &mut headers, &body, SystemTime::now())?;
        }
        Ok(Outbound { url, headers, body })
    }
}

//! LLM routes: OpenAI- and Anthropic-compatible endpoints under `/v1` in front of the providers
//! of the registry (`llm:` entries), with agentmux holding the provider keys. A request names a
//! model as `<entry>/<model>` or by a virtual model's name (`llm.models`); each provider model
//! it may reach is decided by the policies (`call_model` on `Model::"<entry>/<model>"`, a
//! virtual model first on `Model::"<name>"`), tried in turn until one answers (failover on
//! connection errors, timeouts, 429 and 5xx, never once a byte has reached the client), and
//! audited with its hops.
//!
//! Bodies pass through as the client wrote them but for the model name; streams pass through
//! event by event as they arrive.

mod api;
mod call;
mod guards;
mod health;
mod limits;
mod models;
mod prompts;
mod providers;
mod record;
mod relay;
mod request;
mod retry;
mod route;
mod stream;
mod tokens;
mod translate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::audit::Audit;
use crate::authz::Gate;
use crate::config::{Config, Denied, ModelSet, Price, Retries, SystemPrompt, VirtualModel};
use crate::state::StateStore;
pub use api::family_of;
use providers::Provider;
use tokens::Encoding;

/// What the LLM routes need besides their providers.
pub struct Security {
    pub gate: Option<Arc<dyn Gate>>,
    pub audit: Arc<Audit>,
    pub denied: Denied,
    /// Where rate-limit counts live.
    pub state: Arc<StateStore>,
}

pub struct Llm {
    providers: Vec<Arc<Provider>>,
    virtual_models: BTreeMap<String, VirtualModel>,
    security: Security,
    limits: Arc<limits::Limits>,
    guards: guards::Guards,
    prompts: Vec<SystemPrompt>,
    prices: Arc<BTreeMap<String, Price>>,
    retries: Retries,
    /// Whether estimates are read (a token limit or a policy set): OpenAI models' prompts are
    /// then counted with OpenAI's tokenizer (`tokens.rs`).
    count_tokens: bool,
    max_body_bytes: usize,
}

impl Llm {
    pub fn new(config: &Config, security: Security) -> anyhow::Result<Self> {
        let providers = config
            .providers
            .iter()
            .map(|spec| Provider::new(spec.clone()).map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let count_tokens = security.gate.is_some() || config.llm.limits.iter().any(|l| l.tokens_per_minute.is_some());
        if count_tokens {
            let encodings: BTreeSet<Encoding> = config
                .providers
                .iter()
                .flat_map(|p| match &p.models {
                    // Any name: most likely a current model.
                    ModelSet::Any => vec![Encoding::of(p.kind, "gpt-4.1")],
                    ModelSet::Listed(models) => models.iter().map(|m| Encoding::of(p.kind, m)).collect(),
                })
                .flatten()
                .collect();
            encodings.into_iter().for_each(Encoding::warm);
        }
        Ok(Self {
            count_tokens,
            providers,
            virtual_models: config.llm.models.clone(),
            limits: Arc::new(limits::Limits::new(
                config.llm.limits.clone(),
                Arc::clone(&security.state),
            )),
            guards: guards::Guards::new(config.llm.guards.clone(), &config.llm.webhooks)?,
            prompts: config.llm.prompts.clone(),
            prices: Arc::new(config.llm.prices.clone()),
            retries: config.llm.retries,
            security,
            max_body_bytes: config.server.max_body_bytes,
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(call::chat))
            .route("/v1/responses", post(call::responses))
            .route("/v1/embeddings", post(call::embeddings))
            .route("/v1/messages", post(call::messages))
            .route("/v1/messages/count_tokens", post(call::count_tokens))
            .route("/v1/models", get(models::list))
            .route("/v1/models/{*model}", get(models::one))
            .with_state(self)
    }

    /// Whether `path` is one of the router's: `/v1` and below.
    pub fn resource_of(path: &str) -> Option<&str> {
        (path == "/v1" || path.starts_with("/v1/")).then_some("")
    }

    /// How many providers the registry gave.
    pub fn provider_count(&self) -> usize {
        self.providers.len()
    }
}

/// An error in the shape of the API a path belongs to (OpenAI's unless it is Anthropic's), for
/// refusals the edge makes before any route runs.
pub fn refusal(path: &str, status: http::StatusCode, message: &str) -> Option<axum::response::Response> {
    family_of(path).map(|family| api::error(family, status, message))
}

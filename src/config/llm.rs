//! LLM providers as agentmux runs them (one per `llm:` registry file), and the `llm:` section
//! of agentmux.yaml: virtual models over them. Reads `raw`; imports leaves besides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod guards;
#[cfg(test)]
mod tests;

use super::error::Problem;
use super::expand::{Syntax, expand};
pub use super::raw::{Builtin, GuardAction, OnError, ProviderKind};
use super::raw::{LimitScope, RawAwsCredentials, RawLimit, RawLlm, RawProvider, RawTarget, RawUpstream};
use super::secret::Secret;
use super::upstream::Timeouts;
pub use guards::{Guard, MAX_WEBHOOK_TIMEOUT, Recognizer, WebhookGuard};

/// One provider entry: `<name>/<model>` on the wire.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub name: String,
    pub declared_in: PathBuf,
    pub kind: ProviderKind,
    /// The provider's base URL, no trailing slash.
    pub url: String,
    /// Sent only to this provider, in its own header.
    pub key: Option<Secret>,
    pub models: ModelSet,
    /// agentmux's extra headers toward the provider.
    pub headers: BTreeMap<String, Secret>,
    /// Azure OpenAI's `api-version`; Gemini's path version.
    pub api_version: Option<String>,
    /// Bedrock: the signing keys (none when a Bedrock API key is given as `key`).
    pub aws: Option<AwsKeys>,
    pub timeouts: Timeouts,
}

/// The AWS credentials Bedrock requests are signed with, and the region they are scoped to.
#[derive(Debug, Clone)]
pub struct AwsKeys {
    pub region: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// The models an entry serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSet {
    Any,
    Listed(Vec<String>),
}

impl ModelSet {
    pub fn serves(&self, model: &str) -> bool {
        match self {
            Self::Any => !model.is_empty(),
            Self::Listed(models) => models.iter().any(|m| m == model),
        }
    }
}

impl ProviderKind {
    /// Its name in config files and policies (`resource.provider`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::AzureOpenai => "azure-openai",
            Self::Gemini => "gemini",
            Self::Bedrock => "bedrock",
            Self::OpenaiCompatible => "openai-compatible",
        }
    }

    fn default_url(self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::Gemini => Some("https://generativelanguage.googleapis.com"),
            Self::AzureOpenai | Self::OpenaiCompatible | Self::Bedrock => None,
        }
    }
}

/// An environment variable's value, or a problem that names it.
fn from_env(name: &str) -> Result<String, String> {
    expand(&format!("${{env:{name}}}"), Syntax::Agentmux)
}

/// Bedrock's region: the entry's, else the AWS SDKs' environment variables.
fn aws_region(given: Option<String>) -> Result<String, String> {
    match given {
        Some(region) => Ok(region),
        None => from_env("AWS_REGION")
            .or_else(|_| from_env("AWS_DEFAULT_REGION"))
            .map_err(|_| "llm: bedrock needs `region` (or AWS_REGION in the environment)".to_string()),
    }
}

/// Bedrock's signing keys: the entry's `aws:`, else the AWS SDKs' environment variables.
fn aws_keys(region: String, given: Option<RawAwsCredentials>) -> Result<AwsKeys, String> {
    if let Some(aws) = given {
        return Ok(AwsKeys {
            region,
            access_key_id: Secret(aws.access_key_id.0),
            secret_access_key: Secret(aws.secret_access_key.0),
            session_token: aws.session_token.map(|t| Secret(t.0)),
        });
    }
    let problem = |e: String| {
        format!(
            "llm: bedrock signs with `aws: {{access_key_id, secret_access_key}}` or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or takes a Bedrock API key as `key`: {e}"
        )
    };
    Ok(AwsKeys {
        region,
        access_key_id: Secret(from_env("AWS_ACCESS_KEY_ID").map_err(problem)?),
        secret_access_key: Secret(from_env("AWS_SECRET_ACCESS_KEY").map_err(problem)?),
        session_token: from_env("AWS_SESSION_TOKEN").ok().map(Secret),
    })
}

/// The `llm:` section of agentmux.yaml.
#[derive(Debug, Clone, Default)]
pub struct LlmSettings {
    pub models: BTreeMap<String, VirtualModel>,
    pub limits: Vec<Limit>,
    /// Recognizer guards, in config order.
    pub guards: Vec<Guard>,
    /// Webhook guards, in config order; they run after every recognizer guard.
    pub webhooks: Vec<WebhookGuard>,
    pub prompts: Vec<SystemPrompt>,
    /// By `<entry>/<model>`.
    pub prices: BTreeMap<String, Price>,
    pub retries: Retries,
}

/// How far one request may go trying providers: at most `attempts` tries (the candidates in
/// turn, then again from the first when a provider asked to be retried soon), none started
/// after `budget`; a `retry-after` of at most `wait` is waited out rather than passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    pub attempts: u32,
    pub budget: Duration,
    pub wait: Duration,
}

impl Retries {
    /// The most attempts one request may make: each holds a connection and a provider's time.
    pub const MAX_ATTEMPTS: u32 = 10;
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            attempts: 4,
            budget: Duration::from_secs(30),
            wait: Duration::ZERO,
        }
    }
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Price {
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input_per_million + tokens_out as f64 * self.output_per_million) / 1e6
    }
}

/// System prompt text added to requests for some models (empty: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPrompt {
    pub models: Vec<String>,
    pub prepend: Option<String>,
    pub append: Option<String>,
}

/// Requests and tokens per minute for the requests it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub name: String,
    /// `User::"alice"`, as the principal prints itself.
    pub principal: Option<String>,
    pub group: Option<String>,
    /// As the client names it.
    pub model: Option<String>,
    /// One budget per caller, rather than one for all it matches.
    pub per_principal: bool,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

/// A name clients use for one or more provider models.
#[derive(Debug, Clone)]
pub struct VirtualModel {
    pub targets: Vec<ModelTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTarget {
    /// The registry entry.
    pub entry: String,
    /// The model as the provider knows it.
    pub model: String,
    /// Relative share among targets of the same weight class; 1 unless given.
    pub weight: u32,
    /// Whether a weight was written: weighted targets are balanced, the others tried in order.
    pub weighted: bool,
}

/// A registry file's `llm:` entry named `name`. Keys that only MCP servers or agents take are
/// errors.
pub(super) fn provider(name: String, raw: RawUpstream, llm: RawProvider, file: &Path) -> Result<ProviderSpec, Problem> {
    let problem = |msg: String| Problem::new(file, None, msg);
    let filters = [
        ("tools", &raw.tools),
        ("prompts", &raw.prompts),
        ("resources", &raw.resources),
    ];
    let shaped = |f: &super::raw::RawFilter| !f.include.is_empty() || !f.exclude.is_empty() || !f.rename.is_empty();
    let not_here = [
        ("max_message_bytes", raw.max_message_bytes.is_some()),
        ("validate_arguments", raw.validate_arguments.is_some()),
    ];
    if let Some(key) = filters
        .iter()
        .filter(|(_, f)| shaped(f))
        .map(|(k, _)| *k)
        .chain(not_here.iter().filter(|(_, given)| *given).map(|(k, _)| *k))
        .next()
    {
        return Err(problem(format!("`{key}` does not apply to LLM providers (`llm:`)")));
    }
    let bedrock = llm.provider == super::raw::ProviderKind::Bedrock;
    if !bedrock
        && let Some(key) = [("region", llm.region.is_some()), ("aws", llm.aws.is_some())]
            .iter()
            .find(|(_, given)| *given)
    {
        return Err(problem(format!("`llm.{}` applies only to bedrock", key.0)));
    }
    let region = if bedrock {
        Some(aws_region(llm.region.map(|r| r.0)).map_err(problem)?)
    } else {
        None
    };
    let aws = match (&region, &llm.key) {
        // A Bedrock API key is a bearer token: nothing to sign with.
        (Some(region), None) => Some(aws_keys(region.clone(), llm.aws).map_err(problem)?),
        (Some(_), Some(_)) if llm.aws.is_some() => {
            return Err(problem(
                "llm: bedrock takes `key` (an API key) or `aws` (signing keys), not both".into(),
            ));
        }
        _ => None,
    };
    let url = match (llm.url, llm.provider.default_url(), &region) {
        (Some(url), _, _) => url.0.trim_end_matches('/').to_string(),
        (None, Some(default), _) => default.to_string(),
        (None, None, Some(region)) => format!("https://bedrock-runtime.{region}.amazonaws.com"),
        (None, None, None) => {
            return Err(problem(format!(
                "llm: provider `{}` needs `url` (its base URL)",
                llm.provider.id()
            )));
        }
    };
    let parsed = reqwest::Url::parse(&url).map_err(|e| problem(format!("llm.url: `{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(problem(format!("llm.url: `{url}` is not an http(s) URL")));
    }
    let api_version = llm.api_version.map(|v| v.0);
    if llm.provider == super::raw::ProviderKind::AzureOpenai && api_version.is_none() {
        return Err(problem(
            "llm: azure-openai needs `api_version` (e.g. 2024-10-21)".into(),
        ));
    }
    let models = match llm.models.as_slice() {
        [] => {
            return Err(problem(
                "llm.models: list the models this entry serves, or [\"*\"] for any".into(),
            ));
        }
        [any] if any == "*" => ModelSet::Any,
        listed => {
            if let Some(bad) = listed.iter().find(|m| m.is_empty() || m.contains('*')) {
                return Err(problem(format!(
                    "llm.models: `{bad}`: name each model, or give [\"*\"] alone"
                )));
            }
            ModelSet::Listed(listed.to_vec())
        }
    };
    Ok(ProviderSpec {
        name,
        declared_in: file.to_path_buf(),
        kind: llm.provider,
        url,
        key: llm.key.map(|k| Secret(k.0)),
        models,
        headers: llm.headers.into_iter().map(|(k, v)| (k, Secret(v.0))).collect(),
        api_version,
        aws,
        timeouts: Timeouts::from_raw(raw.timeouts),
    })
}

/// The `llm:` section, checked against the providers the registry holds.
pub(super) fn resolve(
    path: &Path,
    raw: &RawLlm,
    providers: &[ProviderSpec],
    problems: &mut Vec<Problem>,
) -> LlmSettings {
    let mut models = BTreeMap::new();
    for (name, virtual_model) in &raw.models {
        let problem = |msg: String| Problem::new(path, None, format!("llm.models.{name}: {msg}"));
        if name.is_empty() || name.contains('/') {
            problems.push(problem(
                "a virtual model's name has no `/` (that names `<entry>/<model>`)".into(),
            ));
            continue;
        }
        if virtual_model.targets.is_empty() {
            problems.push(problem("`targets` is empty".into()));
            continue;
        }
        let mut targets = Vec::new();
        for target in &virtual_model.targets {
            let (text, weight) = match target {
                RawTarget::Name(name) => (name, None),
                RawTarget::Weighted(w) => (&w.model, w.weight),
            };
            let Some((entry, model)) = text.split_once('/') else {
                problems.push(problem(format!("target `{text}`: write it as <entry>/<model>")));
                continue;
            };
            match providers.iter().find(|p| p.name == entry) {
                None => problems.push(problem(format!(
                    "target `{text}`: no LLM provider `{entry}` in the registry"
                ))),
                Some(p) if !p.models.serves(model) => {
                    problems.push(problem(format!("target `{text}`: `{entry}` does not serve `{model}`")))
                }
                Some(_) if weight == Some(0) => problems.push(problem(format!("target `{text}`: weight 0"))),
                Some(_) => targets.push(ModelTarget {
                    entry: entry.to_string(),
                    model: model.to_string(),
                    weight: weight.unwrap_or(1),
                    weighted: weight.is_some(),
                }),
            }
        }
        models.insert(name.clone(), VirtualModel { targets });
    }
    let limits = limits(path, &raw.limits, &models, providers, problems);
    let known = |model: &str| match model.split_once('/') {
        Some((entry, name)) => providers.iter().any(|p| p.name == entry && p.models.serves(name)),
        None => models.contains_key(model),
    };
    let (guards, webhooks) = guards::resolve(path, &raw.guards, known, problems);
    let mut prompts = Vec::new();
    for prompt in &raw.prompts {
        if let Some(model) = prompt.models.iter().find(|m| !known(m)) {
            problems.push(Problem::new(
                path,
                None,
                format!("llm.prompts: model `{model}` is neither a virtual model nor served by an entry"),
            ));
            continue;
        }
        if prompt.prepend_system.is_none() && prompt.append_system.is_none() {
            problems.push(Problem::new(
                path,
                None,
                "llm.prompts: give `prepend_system`, `append_system` or both",
            ));
            continue;
        }
        prompts.push(SystemPrompt {
            models: prompt.models.clone(),
            prepend: prompt.prepend_system.clone(),
            append: prompt.append_system.clone(),
        });
    }
    let mut prices = BTreeMap::new();
    for (model, price) in &raw.prices {
        let problem = |msg: String| Problem::new(path, None, format!("llm.prices `{model}`: {msg}"));
        let served = model
            .split_once('/')
            .is_some_and(|(entry, name)| providers.iter().any(|p| p.name == entry && p.models.serves(name)));
        if !served {
            problems.push(problem("name a model an entry serves, as <entry>/<model>".into()));
        } else if !(price.input_per_million >= 0.0 && price.output_per_million >= 0.0) {
            problems.push(problem("prices are zero or more".into()));
        } else {
            prices.insert(
                model.clone(),
                Price {
                    input_per_million: price.input_per_million,
                    output_per_million: price.output_per_million,
                },
            );
        }
    }
    LlmSettings {
        models,
        limits,
        guards,
        webhooks,
        prompts,
        prices,
        retries: retries(path, raw.retries, problems),
    }
}

fn retries(path: &Path, raw: Option<super::raw::RawRetries>, problems: &mut Vec<Problem>) -> Retries {
    let defaults = Retries::default();
    let Some(raw) = raw else { return defaults };
    let retries = Retries {
        attempts: raw.attempts.unwrap_or(defaults.attempts),
        budget: raw.budget.map_or(defaults.budget, |d| d.0),
        wait: raw.wait.map_or(defaults.wait, |d| d.0),
    };
    if !(1..=Retries::MAX_ATTEMPTS).contains(&retries.attempts) {
        let message = format!(
            "llm.retries.attempts: {} is not 1 to {}",
            retries.attempts,
            Retries::MAX_ATTEMPTS
        );
        problems.push(Problem::new(path, None, message));
    }
    if retries.budget.is_zero() {
        problems.push(Problem::new(path, None, "llm.retries.budget: more than 0".to_string()));
    }
    if retries.wait > retries.budget {
        let message = format!(
            "llm.retries.wait: {:?} is longer than the budget ({:?})",
            retries.wait, retries.budget
        );
        problems.push(Problem::new(path, None, message));
    }
    retries
}

fn limits(
    path: &Path,
    raw: &[RawLimit],
    models: &BTreeMap<String, VirtualModel>,
    providers: &[ProviderSpec],
    problems: &mut Vec<Problem>,
) -> Vec<Limit> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for limit in raw {
        let problem = |msg: String| Problem::new(path, None, format!("llm.limits `{}`: {msg}", limit.name));
        if limit.name.is_empty() || !names.insert(limit.name.as_str()) {
            problems.push(problem("each limit needs a name of its own".into()));
            continue;
        }
        if limit.requests_per_minute.is_none() && limit.tokens_per_minute.is_none() {
            problems.push(problem(
                "give `requests_per_minute`, `tokens_per_minute` or both".into(),
            ));
            continue;
        }
        if limit.requests_per_minute == Some(0) || limit.tokens_per_minute == Some(0) {
            problems.push(problem(
                "a limit of 0 refuses everything; remove the route instead".into(),
            ));
            continue;
        }
        if let Some(model) = &limit.matches.model {
            let known = match model.split_once('/') {
                Some((entry, name)) => providers.iter().any(|p| p.name == entry && p.models.serves(name)),
                None => models.contains_key(model),
            };
            if !known {
                problems.push(problem(format!(
                    "model `{model}` is neither a virtual model nor served by an entry"
                )));
                continue;
            }
        }
        if let Some(principal) = &limit.matches.principal
            && !principal.contains("::\"")
        {
            problems.push(problem(format!(
                "principal `{principal}`: write it as User::\"alice\" or ApiKey::\"ci-bot\""
            )));
            continue;
        }
        out.push(Limit {
            name: limit.name.clone(),
            principal: limit.matches.principal.clone(),
            group: limit.matches.group.clone(),
            model: limit.matches.model.clone(),
            per_principal: limit.per.unwrap_or_default() == LimitScope::Principal,
            requests_per_minute: limit.requests_per_minute,
            tokens_per_minute: limit.tokens_per_minute,
        });
    }
    out
}

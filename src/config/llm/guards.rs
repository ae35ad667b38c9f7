//! `llm.guards`: recognizer guards (a builtin or a regex, with an action) and webhook guards (a
//! service that decides). The two are held apart because they run apart: recognizers on
//! requests and answers, in agentmux; webhooks on requests only, after every recognizer, over
//! the network.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::super::error::Problem;
use super::super::raw::{Builtin, GuardAction, GuardOn, OnError, RawGuard};
use super::super::secret::Secret;

/// The longest a webhook guard may take: every request it applies to waits for it.
pub const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// A recognizer over prompts and answers, and what becomes of what it finds.
#[derive(Debug, Clone)]
pub struct Guard {
    pub name: String,
    pub recognizer: Recognizer,
    pub action: GuardAction,
    pub on_request: bool,
    pub on_response: bool,
    /// As clients name them; empty: every model.
    pub models: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Recognizer {
    Builtin(Builtin),
    Regex(regex::Regex),
}

/// A service asked about each request it applies to: it allows, denies or rewrites the body.
#[derive(Debug, Clone)]
pub struct WebhookGuard {
    pub name: String,
    /// http(s), checked.
    pub url: String,
    /// agentmux's own headers toward it; names and values checked.
    pub headers: BTreeMap<String, Secret>,
    /// For the whole exchange: connecting, sending, the answer read.
    pub timeout: Duration,
    /// What an answer that decides nothing means.
    pub on_error: OnError,
    /// As clients name them; empty: every model.
    pub models: Vec<String>,
}

/// The guards, in config order within each kind; `known` says whether a model name exists.
pub(super) fn resolve(
    path: &Path,
    raw: &[RawGuard],
    known: impl Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) -> (Vec<Guard>, Vec<WebhookGuard>) {
    let mut guards = Vec::new();
    let mut webhooks = Vec::new();
    for guard in raw {
        let problem = |msg: String| Problem::new(path, None, format!("llm.guards `{}`: {msg}", guard.name));
        if let Some(model) = guard.models.iter().find(|m| !known(m)) {
            problems.push(problem(format!(
                "models: `{model}` is neither a virtual model nor served by an entry"
            )));
            continue;
        }
        let resolved = match (&guard.webhook, guard.builtin, &guard.regex) {
            (Some(_), None, None) => webhook(guard).map(|w| webhooks.push(w)),
            (None, Some(_), None) | (None, None, Some(_)) => recognizer(guard).map(|g| guards.push(g)),
            _ => Err("give one of `builtin`, `regex` or `webhook`".into()),
        };
        if let Err(msg) = resolved {
            problems.push(problem(msg));
        }
    }
    (guards, webhooks)
}

fn recognizer(guard: &RawGuard) -> Result<Guard, String> {
    let recognizer = match (guard.builtin, &guard.regex) {
        (Some(builtin), _) => Recognizer::Builtin(builtin),
        (None, Some(pattern)) => Recognizer::Regex(regex::Regex::new(pattern).map_err(|e| format!("regex: {e}"))?),
        (None, None) => return Err("give one of `builtin`, `regex` or `webhook`".into()),
    };
    let action = guard
        .action
        .ok_or("action: required with `builtin` or `regex` (reject or mask)")?;
    let on = if guard.on.is_empty() {
        vec![GuardOn::Request]
    } else {
        guard.on.clone()
    };
    Ok(Guard {
        name: guard.name.clone(),
        recognizer,
        action,
        on_request: on.contains(&GuardOn::Request),
        on_response: on.contains(&GuardOn::Response),
        models: guard.models.clone(),
    })
}

fn webhook(guard: &RawGuard) -> Result<WebhookGuard, String> {
    let Some(raw) = &guard.webhook else {
        return Err("give one of `builtin`, `regex` or `webhook`".into());
    };
    if guard.action.is_some() {
        return Err("action: a webhook guard takes none (the webhook decides)".into());
    }
    if guard.on.contains(&GuardOn::Response) {
        return Err("on: webhook guards apply to requests only; remove `response`".into());
    }
    let url = raw.url.0.as_str();
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("webhook.url: `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("webhook.url: `{url}` is not an http(s) URL"));
    }
    for (name, value) in &raw.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("webhook.headers: `{name}` is not a header name"));
        }
        // The value may be a credential: the message names the header only.
        if http::HeaderValue::from_str(&value.0).is_err() {
            return Err(format!("webhook.headers: the value of `{name}` is not a header value"));
        }
    }
    let timeout = raw.timeout.map_or(DEFAULT_WEBHOOK_TIMEOUT, |t| t.0);
    if timeout.is_zero() || timeout > MAX_WEBHOOK_TIMEOUT {
        return Err(format!(
            "webhook.timeout: {timeout:?} is outside what a request can wait (above 0, at most {MAX_WEBHOOK_TIMEOUT:?})"
        ));
    }
    Ok(WebhookGuard {
        name: guard.name.clone(),
        url: url.to_string(),
        headers: raw
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Secret(v.0.clone())))
            .collect(),
        timeout,
        on_error: raw.on_error.unwrap_or_default(),
        models: guard.models.clone(),
    })
}

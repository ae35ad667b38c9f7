//! Webhook guards: a service (a DLP scanner, a policy engine) asked about each request it
//! applies to, after every recognizer guard, in config order. agentmux POSTs
//! `{"guard", "model", "api", "principal", "body"}` and reads `{"action": "allow"}`,
//! `{"action": "deny", "reason": …}` or `{"action": "rewrite", "body": {…}}` (docs/llm.md).
//!
//! An answer that decides nothing (not 2xx, not such JSON, too late, too large, a rewrite that
//! changes `model`, `stream`, the token limit or the tools) is an error, and the guard's `on_error` decides: deny (fail
//! closed, the default) or allow. The webhook gets agentmux's configured headers only, never
//! the caller's credentials.

use http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{OnError, Timeouts, WebhookGuard};
use crate::egress::EgressError;
use crate::egress::http_client::{self, describe, read_prefix};
use crate::identity::Principal;

/// The largest answer read from a webhook (a rewrite carries a whole request body).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// The longest deny reason kept: it goes into the audit line and the client's error.
const MAX_REASON_BYTES: usize = 1024;

/// One request as webhooks are told of it.
pub struct Asking<'a> {
    /// The models the request names or may reach: a guard on any of them applies.
    pub models: &'a [String],
    /// The model as the client named it.
    pub model: &'a str,
    /// `chat`, `messages`, `responses`, `embeddings`.
    pub api: &'static str,
    pub principal: &'a Principal,
}

/// Why a webhook stopped a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// It said deny, perhaps with a reason.
    Denied { guard: String, reason: Option<String> },
    /// It could not decide and fails closed.
    Undecided { guard: String, problem: String },
}

/// One configured webhook guard, ready to ask.
pub struct Webhook {
    name: String,
    url: reqwest::Url,
    headers: HeaderMap,
    /// The guard's timeout as connect timeout too, so the shared client fits it.
    timeouts: Timeouts,
    on_error: OnError,
    models: Vec<String>,
}

/// What a webhook may answer; unknown fields are ignored, an unknown action is an error.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum Answer {
    Allow,
    Deny {
        #[serde(default)]
        reason: Option<String>,
    },
    Rewrite {
        body: Value,
    },
}

/// What agentmux sends.
#[derive(Serialize)]
struct Question<'a> {
    guard: &'a str,
    model: &'a str,
    api: &'a str,
    principal: String,
    body: &'a Map<String, Value>,
}

impl Webhook {
    pub fn new(spec: &WebhookGuard) -> Result<Self, EgressError> {
        Ok(Self {
            name: spec.name.clone(),
            url: http_client::url(&spec.url)?,
            headers: http_client::header_map(&spec.headers)?,
            timeouts: Timeouts {
                connect: spec.timeout,
                first_byte: spec.timeout,
                total: spec.timeout,
                ..Timeouts::DEFAULT
            },
            on_error: spec.on_error,
            models: spec.models.clone(),
        })
    }

    pub fn applies(&self, models: &[String]) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| models.contains(m))
    }

    /// Asks the webhook about `body`, which a rewrite replaces; `Err` when the request stops.
    pub async fn check(&self, asking: &Asking<'_>, body: &mut Map<String, Value>) -> Result<(), Stop> {
        let problem = match tokio::time::timeout(self.timeouts.total, self.ask(asking, body)).await {
            Ok(Ok(Answer::Allow)) => return Ok(()),
            Ok(Ok(Answer::Deny { reason })) => {
                let reason = reason.filter(|r| !r.is_empty()).map(bounded);
                tracing::info!(guard = %self.name, reason = reason.as_deref().unwrap_or(""), "request denied by webhook guard");
                return Err(Stop::Denied {
                    guard: self.name.clone(),
                    reason,
                });
            }
            Ok(Ok(Answer::Rewrite { body: rewritten })) => match rewrite(body, rewritten) {
                Ok(()) => {
                    tracing::debug!(guard = %self.name, "request rewritten by webhook guard");
                    return Ok(());
                }
                Err(problem) => problem,
            },
            Ok(Err(problem)) => problem,
            Err(_) => format!("no answer within {:?}", self.timeouts.total),
        };
        match self.on_error {
            OnError::Allow => {
                tracing::warn!(guard = %self.name, %problem, "webhook guard could not decide; allowed (on_error: allow)");
                Ok(())
            }
            OnError::Deny => {
                tracing::warn!(guard = %self.name, %problem, "webhook guard could not decide; denied (on_error: deny)");
                Err(Stop::Undecided {
                    guard: self.name.clone(),
                    problem,
                })
            }
        }
    }

    /// One exchange with the webhook: its answer, or what went wrong.
    async fn ask(&self, asking: &Asking<'_>, body: &Map<String, Value>) -> Result<Answer, String> {
        let question = Question {
            guard: &self.name,
            model: asking.model,
            api: asking.api,
            principal: asking.principal.to_string(),
            body,
        };
        let payload = serde_json::to_vec(&question).map_err(|e| format!("the question could not be written: {e}"))?;
        let http = http_client::on_this_thread(&self.timeouts).map_err(|e| e.to_string())?;
        let response = http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(payload)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("it answered {}", status.as_u16()));
        }
        let (answer, more) = read_prefix(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| describe(&e))?;
        if more {
            return Err(format!("its answer is over {MAX_ANSWER_BYTES} bytes"));
        }
        serde_json::from_slice(&answer).map_err(|e| format!("its answer is not an allow, deny or rewrite: {e}"))
    }
}

/// The fields routing, policies and limits decided on before any webhook was asked: a rewrite
/// must leave them as they were, or the provider would get what was never decided.
const DECIDED: [&str; 6] = [
    "model",
    "stream",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "tools",
];

/// Replaces `body` with a webhook's rewrite: a JSON object whose `DECIDED` fields are those of
/// the request.
fn rewrite(body: &mut Map<String, Value>, rewritten: Value) -> Result<(), String> {
    let Value::Object(rewritten) = rewritten else {
        return Err("its rewrite's `body` is not a JSON object".into());
    };
    for field in DECIDED {
        if rewritten.get(field) != body.get(field) {
            return Err(format!("its rewrite changes `{field}`"));
        }
    }
    *body = rewritten;
    Ok(())
}

/// A reason cut to `MAX_REASON_BYTES`, at a character boundary.
fn bounded(mut reason: String) -> String {
    if reason.len() > MAX_REASON_BYTES {
        let mut cut = MAX_REASON_BYTES;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

#[cfg(test)]
mod tests;

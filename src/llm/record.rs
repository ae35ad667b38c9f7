//! LLM requests in the audit log: who, which model was asked for and which served, the decision,
//! the failover hops, tokens in and out, latency and status. Never a prompt, never a key.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::route::Candidate;
use crate::audit::{Audit, Decision, Who};
use crate::authz::{Caller, Verdict};

/// One attempt at one provider model.
#[derive(Serialize, Debug, Clone)]
pub struct Hop {
    pub model: String,
    /// The provider's HTTP status, or why there was none.
    pub outcome: String,
    pub ms: f64,
}

impl Hop {
    pub fn new(candidate: &Candidate, started: Instant, outcome: String) -> Self {
        Self {
            model: candidate.full_name(),
            outcome,
            ms: started.elapsed().as_secs_f64() * 1e3,
        }
    }
}

/// Tokens as the provider counted them.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub tokens_in: u64,
    pub tokens_out: u64,
}

impl Usage {
    /// Takes the usage a response body or streamed event carries: OpenAI's
    /// `usage.{prompt,completion}_tokens`, the Responses API's and Anthropic's
    /// `usage.{input,output}_tokens`, also inside `message` or `response` (stream events);
    /// Bedrock's `usage.{input,output}Tokens`; Gemini's `usageMetadata`, whose thinking tokens
    /// are output too.
    pub fn read(&mut self, value: &Value) {
        let usage = ["/usage", "/message/usage", "/response/usage", "/usageMetadata"]
            .iter()
            .find_map(|at| value.pointer(at).filter(|u| u.is_object()));
        let Some(usage) = usage else { return };
        let count = |keys: [&str; 4]| keys.iter().find_map(|k| usage.get(*k).and_then(Value::as_u64));
        if let Some(n) = count(["prompt_tokens", "input_tokens", "inputTokens", "promptTokenCount"]) {
            self.tokens_in = self.tokens_in.max(n);
        }
        if let Some(n) = count([
            "completion_tokens",
            "output_tokens",
            "outputTokens",
            "candidatesTokenCount",
        ]) {
            // Anthropic's stream counts output again at its end: the later count is the total.
            let thoughts = usage.get("thoughtsTokenCount").and_then(Value::as_u64).unwrap_or(0);
            self.tokens_out = n + thoughts;
        }
    }
}

/// How a request ended, for the audit line: where it went, the usage read, the status.
pub struct Ended {
    pub hops: Vec<Hop>,
    pub served_by: Option<String>,
    /// The serving provider's kind (`openai` …).
    pub provider: Option<&'static str>,
    pub status: u16,
    pub usage: Usage,
    /// A stream's first event, after the request started.
    pub first_token: Option<Duration>,
    /// The guards that masked something in the request or the answer.
    pub masked: Vec<String>,
}

/// Called once the answer is complete (a stream: when it ends or the client leaves).
pub type OnEnd = Box<dyn FnOnce(Ended) + Send>;

impl Ended {
    /// No provider's answer reached the client.
    pub fn unserved(hops: Vec<Hop>) -> Self {
        Self {
            hops,
            served_by: None,
            provider: None,
            status: http::StatusCode::BAD_GATEWAY.as_u16(),
            usage: Usage::default(),
            first_token: None,
            masked: Vec::new(),
        }
    }
}

/// One line.
#[derive(Serialize)]
struct Record<'a> {
    event: &'static str,
    principal: Who<'a>,
    endpoint: &'a str,
    client: Option<std::net::IpAddr>,
    api: &'static str,
    action: &'static str,
    /// The model decided on (`Model::"…"`).
    model: &'a str,
    /// As the client named it.
    requested: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    served_by: Option<&'a str>,
    decision: &'static str,
    policies: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    policy_errors: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms: Option<f64>,
    #[serde(skip_serializing_if = "<[Hop]>::is_empty")]
    hops: &'a [Hop],
    /// Guards that masked text (their names; never what they found).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    masked_by: &'a [String],
}

/// What one LLM request was.
pub struct Call<'a> {
    pub caller: &'a Caller,
    pub api: &'static str,
    /// As the client named it.
    pub model: &'a str,
}

/// How a request that reached providers ended.
pub struct Outcome<'a> {
    pub served_by: Option<&'a str>,
    pub status: u16,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub ms: f64,
    pub hops: &'a [Hop],
    pub masked: &'a [String],
}

impl Call<'_> {
    /// A decision on `resource` (`Model::"…"`), or with `outcome` the request that was made.
    pub fn write(
        &self,
        audit: &Audit,
        resource: &str,
        verdict: Option<&Verdict>,
        reason: Option<&str>,
        outcome: Option<Outcome<'_>>,
    ) {
        if !audit.enabled() {
            return;
        }
        let allowed = verdict.is_none_or(|v| v.allowed) && reason.is_none();
        let principal = &self.caller.principal;
        let record = Record {
            event: if outcome.is_some() { "call" } else { "decision" },
            principal: Who::of(principal),
            endpoint: &self.caller.endpoint,
            client: self.caller.client_ip,
            api: self.api,
            action: "call_model",
            model: resource,
            requested: self.model,
            served_by: outcome.as_ref().and_then(|o| o.served_by),
            decision: if allowed { "allow" } else { "deny" },
            policies: verdict.map_or(&[], |v| &v.policies),
            policy_errors: verdict.map_or(&[], |v| &v.errors),
            reason,
            status: outcome.as_ref().map(|o| o.status),
            tokens_in: outcome.as_ref().map(|o| o.usage.tokens_in),
            tokens_out: outcome.as_ref().map(|o| o.usage.tokens_out),
            cost_usd: outcome.as_ref().and_then(|o| o.cost_usd),
            ms: outcome.as_ref().map(|o| o.ms),
            hops: outcome.as_ref().map_or(&[], |o| o.hops),
            masked_by: outcome.as_ref().map_or(&[], |o| o.masked),
        };
        audit.record(&record, if allowed { Decision::Allowed } else { Decision::Denied });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn usage_in_every_shape() {
        let mut usage = Usage::default();
        usage.read(&json!({"usage": {"prompt_tokens": 7, "completion_tokens": 3}}));
        assert_eq!(
            usage,
            Usage {
                tokens_in: 7,
                tokens_out: 3
            }
        );
        let mut usage = Usage::default();
        usage.read(&json!({"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}}));
        usage.read(&json!({"type": "message_delta", "usage": {"output_tokens": 12}}));
        assert_eq!(
            usage,
            Usage {
                tokens_in: 9,
                tokens_out: 12
            }
        );
        let mut usage = Usage::default();
        usage.read(
            &json!({"type": "response.completed", "response": {"usage": {"input_tokens": 4, "output_tokens": 5}}}),
        );
        assert_eq!(
            usage,
            Usage {
                tokens_in: 4,
                tokens_out: 5
            }
        );
        usage.read(&json!({"choices": []}));
        assert_eq!(
            usage,
            Usage {
                tokens_in: 4,
                tokens_out: 5
            },
            "nothing to read changes nothing"
        );
    }
}

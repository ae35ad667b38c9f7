//! Prometheus metrics, served on `/metrics`: requests by method and outcome with latency,
//! live sessions, and each upstream's (and A2A agent's) state and catalog size.
//!
//! One process-wide registry. Label values are bounded: methods outside MCP's set count as
//! `other`, so a client cannot grow the label space; upstream names come from the config.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    action: &'static str,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgentLabels {
    agent: String,
    method: &'static str,
    outcome: &'static str,
}

/// OpenTelemetry's GenAI attributes, as Prometheus labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GenAiLabels {
    gen_ai_operation_name: &'static str,
    gen_ai_provider_name: &'static str,
    gen_ai_request_model: String,
    principal_group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    gen_ai_operation_name: &'static str,
    gen_ai_provider_name: &'static str,
    gen_ai_request_model: String,
    principal_group: String,
    gen_ai_token_type: &'static str,
}

/// One LLM request, for the GenAI metrics.
pub struct ModelCallMetrics<'a> {
    /// `chat`, `embeddings` … (OpenTelemetry's operation names).
    pub operation: &'static str,
    pub provider: &'static str,
    pub model: &'a str,
    pub group: &'a str,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub took: Duration,
    pub first_token: Option<Duration>,
    /// Estimated from the config's price table, in US dollars.
    pub cost_usd: Option<f64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    sessions: Gauge,
    upstream_up: Family<UpstreamLabels, Gauge>,
    upstream_tools: Family<UpstreamLabels, Gauge>,
    decisions: Family<DecisionLabels, Counter>,
    policy_reloads: Family<OutcomeLabels, Counter>,
    audit_dropped: Counter,
    shed: Counter,
    a2a_requests: Family<AgentLabels, Counter>,
    a2a_latency: Family<MethodLabels, Histogram>,
    /// OpenTelemetry GenAI metrics, under their own names (no `agentmux_` prefix).
    gen_ai: Registry,
    token_usage: Family<TokenLabels, Histogram>,
    operation_duration: Family<GenAiLabels, Histogram>,
    time_to_first_token: Family<GenAiLabels, Histogram>,
    llm_cost: Family<ModelLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

const METHODS: [&str; 16] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
    "other",
];

fn method_label(method: &str) -> &'static str {
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("other")
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("agentmux");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "mcp_requests",
            "MCP requests answered, by method and outcome",
            requests.clone(),
        );
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            // 100 µs … ~13 s.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0001, 2.0, 18,
            ))
        });
        registry.register(
            "mcp_request_duration_seconds",
            "Time to answer an MCP request",
            latency.clone(),
        );
        let sessions = Gauge::default();
        registry.register("mcp_sessions", "Client sessions held", sessions.clone());
        let upstream_up = Family::<UpstreamLabels, Gauge>::default();
        registry.register("upstream_up", "1 while the upstream is connected", upstream_up.clone());
        let upstream_tools = Family::<UpstreamLabels, Gauge>::default();
        registry.register(
            "upstream_tools",
            "Tools the upstream serves through agentmux",
            upstream_tools.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "authz_decisions",
            "Authorization decisions on calls, by action and decision",
            decisions.clone(),
        );
        let policy_reloads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "policy_loads",
            "Policy set loads and reloads, by outcome (a rejected set keeps the previous one)",
            policy_reloads.clone(),
        );
        let audit_dropped = Counter::default();
        registry.register(
            "audit_dropped",
            "Audit lines lost because the sink was too slow or failed",
            audit_dropped.clone(),
        );
        let shed = Counter::default();
        registry.register(
            "requests_shed",
            "Requests refused with 503 because server.max_concurrent_requests were being handled",
            shed.clone(),
        );
        let a2a_requests = Family::<AgentLabels, Counter>::default();
        registry.register(
            "a2a_requests",
            "A2A requests answered, by agent, method and outcome",
            a2a_requests.clone(),
        );
        let a2a_latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0001, 2.0, 18,
            ))
        });
        registry.register(
            "a2a_request_duration_seconds",
            "Time from an A2A request to the agent's answer (its headers, for a stream)",
            a2a_latency.clone(),
        );
        let mut gen_ai = Registry::default();
        let token_usage = Family::<TokenLabels, Histogram>::new_with_constructor(|| {
            // OpenTelemetry's advised boundaries for gen_ai.client.token.usage.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(1.0, 4.0, 14))
        });
        gen_ai.register(
            "gen_ai_client_token_usage",
            "Tokens used per LLM request, by type (input, output)",
            token_usage.clone(),
        );
        let seconds = || {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.01, 2.0, 14,
            ))
        };
        let operation_duration = Family::<GenAiLabels, Histogram>::new_with_constructor(seconds);
        gen_ai.register_with_unit(
            "gen_ai_client_operation_duration",
            "Time from an LLM request to the end of its answer",
            prometheus_client::registry::Unit::Seconds,
            operation_duration.clone(),
        );
        let time_to_first_token = Family::<GenAiLabels, Histogram>::new_with_constructor(seconds);
        gen_ai.register_with_unit(
            "gen_ai_server_time_to_first_token",
            "Time from a streamed LLM request to its first event from the provider",
            prometheus_client::registry::Unit::Seconds,
            time_to_first_token.clone(),
        );
        let llm_cost = Family::<ModelLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "llm_cost_usd",
            "Estimated cost of LLM requests in US dollars, from llm.prices and the tokens providers reported",
            llm_cost.clone(),
        );
        Self {
            llm_cost,
            gen_ai,
            token_usage,
            operation_duration,
            time_to_first_token,
            a2a_requests,
            a2a_latency,
            decisions,
            policy_reloads,
            audit_dropped,
            shed,
            registry,
            requests,
            latency,
            sessions,
            upstream_up,
            upstream_tools,
        }
    }

    /// One answered request; `error_code` is the JSON-RPC error code, if it failed.
    pub fn request(&self, method: &str, error_code: Option<i64>, took: Duration) {
        let method = method_label(method);
        let outcome = match error_code {
            None => "ok",
            Some(-32010) => "upstream_error",
            Some(-32601) => "method_not_found",
            Some(-32602) => "invalid_params",
            Some(_) => "error",
        };
        self.requests.get_or_create(&RequestLabels { method, outcome }).inc();
        self.latency
            .get_or_create(&MethodLabels { method })
            .observe(took.as_secs_f64());
    }

    /// One A2A request: `method` is one of the A2A methods (a static name), `outcome` what
    /// became of it (`ok`, `denied`, `refused`, `agent_error`, `http_4xx` …).
    pub fn a2a_request(&self, agent: &str, method: &'static str, outcome: &'static str, took: Option<Duration>) {
        let labels = AgentLabels {
            agent: agent.to_string(),
            method,
            outcome,
        };
        self.a2a_requests.get_or_create(&labels).inc();
        if let Some(took) = took {
            self.a2a_latency
                .get_or_create(&MethodLabels { method })
                .observe(took.as_secs_f64());
        }
    }

    /// One LLM request that reached a provider.
    pub fn model_call(&self, call: &ModelCallMetrics<'_>) {
        let labels = GenAiLabels {
            gen_ai_operation_name: call.operation,
            gen_ai_provider_name: call.provider,
            gen_ai_request_model: call.model.to_string(),
            principal_group: call.group.to_string(),
        };
        for (kind, tokens) in [("input", call.tokens_in), ("output", call.tokens_out)] {
            let labels = TokenLabels {
                gen_ai_operation_name: call.operation,
                gen_ai_provider_name: call.provider,
                gen_ai_request_model: call.model.to_string(),
                principal_group: call.group.to_string(),
                gen_ai_token_type: kind,
            };
            self.token_usage.get_or_create(&labels).observe(tokens as f64);
        }
        self.operation_duration
            .get_or_create(&labels)
            .observe(call.took.as_secs_f64());
        if let Some(first) = call.first_token {
            self.time_to_first_token
                .get_or_create(&labels)
                .observe(first.as_secs_f64());
        }
        if let Some(cost) = call.cost_usd {
            let model = ModelLabels {
                model: call.model.to_string(),
            };
            self.llm_cost.get_or_create(&model).inc_by(cost);
        }
    }

    pub fn decision(&self, action: &'static str, allowed: bool) {
        let decision = if allowed { "allow" } else { "deny" };
        self.decisions.get_or_create(&DecisionLabels { action, decision }).inc();
    }

    /// A policy set was loaded (`accepted`) or refused (`rejected`).
    pub fn policy_load(&self, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "rejected" };
        self.policy_reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn audit_dropped(&self, lines: u64) {
        self.audit_dropped.inc_by(lines);
    }

    pub fn shed(&self) {
        self.shed.inc();
    }

    pub fn upstream(&self, name: &str, up: bool, tools: usize) {
        let labels = UpstreamLabels {
            upstream: name.to_string(),
        };
        self.upstream_up.get_or_create(&labels).set(i64::from(up));
        self.upstream_tools.get_or_create(&labels).set(tools as i64);
    }

    /// The text exposition, with the session count taken now.
    pub fn encode(&self, sessions: u64) -> String {
        self.sessions.set(sessions as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &self.gen_ai);
        let _ = encode_eof(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_with_bounded_labels() {
        let m = Metrics::new();
        m.request("tools/call", None, Duration::from_millis(2));
        m.request("tools/call", Some(-32010), Duration::from_millis(2));
        m.request("made/up/method/1", Some(-32601), Duration::from_millis(1));
        m.upstream("github", true, 12);
        let text = m.encode(3);
        assert!(
            text.contains(r#"agentmux_mcp_requests_total{method="tools/call",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"outcome="upstream_error"} 1"#), "{text}");
        assert!(
            text.contains(r#"method="other",outcome="method_not_found"} 1"#),
            "{text}"
        );
        assert!(!text.contains("made/up"), "{text}");
        assert!(
            text.contains(r#"agentmux_upstream_tools{upstream="github"} 12"#),
            "{text}"
        );
        assert!(text.contains("agentmux_mcp_sessions 3"), "{text}");
    }
}

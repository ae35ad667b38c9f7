//! The A2A router: agents from the registry (`a2a:` entries) served at `/a2a/{agent}` with
//! their cards rewritten to point at agentmux, every call decided by the policies
//! (`send_message`, `read_task`, `cancel_task`, `configure_push`, `read_card` on
//! `Agent::"<agent>"`) and audited, and each task visible only to the principal that created it.
//!
//! Requests and responses pass through as the agent and the client wrote them: agentmux reads
//! the method, the task and context ids and push URLs, and relays the bytes (event streams
//! event by event, as they arrive).

mod agent;
mod card;
mod directory;
mod exchange;
mod failure;
mod methods;
mod outbound;
mod owners;
mod push;
mod record;
mod relay;
mod rest;
mod rpc;
mod skills;
mod translate;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::HeaderMap;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit::Audit;
use crate::authz::{Action, Ask, Attrs, Caller, Gate, Target, Verdict};
use crate::config::{Config, Denied, IpNet};
use crate::identity::Requester;
use crate::state::StateStore;
pub use agent::{Agent, Status};

/// The A2A version a request is served in, as policies see it (`1.0`, `0.3`; none given: 0.3),
/// or `None` when agentmux does not serve that version.
pub fn static_version(header: Option<&str>) -> Option<&'static str> {
    methods::version(header)
}

/// The method policies see for an action when a test case names none.
pub fn main_method(action: Action) -> &'static str {
    match action {
        Action::SendMessage => "SendMessage",
        Action::ReadTask => "GetTask",
        Action::CancelTask => "CancelTask",
        Action::ConfigurePush => "CreateTaskPushNotificationConfig",
        _ => methods::GET_CARD,
    }
}

/// What the A2A router needs besides its agents.
pub struct Security {
    pub gate: Option<Arc<dyn Gate>>,
    pub audit: Arc<Audit>,
    pub denied: Denied,
    /// Where task owners are recorded.
    pub state: Arc<StateStore>,
}

pub struct A2a {
    agents: Vec<Arc<Agent>>,
    by_name: HashMap<String, usize>,
    security: Security,
    owners: owners::Owners,
    public_url: Option<String>,
    push_allow: Vec<IpNet>,
    trusted_proxies: Vec<IpNet>,
    /// agentmux's own security schemes, written into served cards (`None`: no authentication).
    card_security: Option<Value>,
}

impl A2a {
    pub fn new(config: &Config, security: Security) -> anyhow::Result<Self> {
        let agents = config
            .agents
            .iter()
            .map(|spec| Agent::new(spec.clone()).map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let by_name = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name().to_string(), i))
            .collect();
        // Said in both versions' words, since one served card speaks to both: v1.0 reads
        // `httpAuthSecurityScheme` and `securityRequirements`, v0.3 `type`/`scheme` and
        // `security`; each ignores the other's fields.
        let card_security = config.auth.as_ref().map(|_| {
            json!({
                "securitySchemes": {"agentmux": {
                    "httpAuthSecurityScheme": {"scheme": "bearer"},
                    "type": "http",
                    "scheme": "bearer",
                }},
                "securityRequirements": [{"schemes": {"agentmux": {"list": []}}}],
                "security": [{"agentmux": []}],
            })
        });
        Ok(Self {
            agents,
            by_name,
            owners: owners::Owners::new(Arc::clone(&security.state)),
            security,
            public_url: config.a2a.public_url.clone(),
            push_allow: config.a2a.push_allow.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            card_security,
        })
    }

    /// Starts each agent's card supervisor.
    pub fn start(&self, tasks: &TaskTracker, shutdown: &CancellationToken) {
        for agent in &self.agents {
            tasks.spawn(Arc::clone(agent).supervise(shutdown.clone()));
        }
    }

    pub fn agents(&self) -> &[Arc<Agent>] {
        &self.agents
    }

    fn agent(&self, name: &str) -> Option<&Arc<Agent>> {
        self.by_name.get(name).map(|&i| &self.agents[i])
    }

    /// Required agents whose card has not been tried yet.
    pub fn waiting_for(&self) -> Vec<String> {
        self.agents
            .iter()
            .filter(|a| a.spec.required && !a.tried())
            .map(|a| format!("agent {}", a.name()))
            .collect()
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/a2a", get(directory::list))
            .route("/a2a/.well-known/agent-card.json", get(directory::hub_card))
            .route("/a2a/{agent}", post(rpc::post))
            .route("/a2a/{agent}/.well-known/agent-card.json", get(directory::card))
            .route("/a2a/{agent}/.well-known/agent.json", get(directory::card))
            .route("/a2a/{agent}/{*rest}", axum::routing::any(rest::any))
            .with_state(self)
    }

    /// Whether `path` is one of the router's: `/a2a` and below.
    pub fn resource_of(path: &str) -> Option<&str> {
        (path == "/a2a" || path.starts_with("/a2a/")).then_some("")
    }

    /// agentmux's URL for an agent, as clients should call it: `a2a.public_url`, else what a
    /// trusted proxy says the client called (`X-Forwarded-Proto`/`-Host`), else the Host header.
    fn agent_url(&self, who: &Requester, headers: &HeaderMap, agent: &str) -> String {
        format!("{}/a2a/{agent}", self.base_url(who, headers))
    }

    fn base_url(&self, who: &Requester, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let proxied = who
            .client
            .is_some_and(|peer| self.trusted_proxies.iter().any(|net| net.contains(peer.ip())));
        let host = header("host").unwrap_or("localhost");
        if proxied {
            let proto = header("x-forwarded-proto").filter(|p| matches!(*p, "http" | "https"));
            let forwarded_host = header("x-forwarded-host")
                .and_then(|h| h.split(',').next())
                .map(str::trim);
            return format!("{}://{}", proto.unwrap_or("http"), forwarded_host.unwrap_or(host));
        }
        format!("http://{host}")
    }

    /// The caller as policies see it, for a request to `agent` in A2A `version`.
    fn caller(who: &Requester, agent: &str, version: &'static str) -> Caller {
        Caller {
            principal: Arc::clone(&who.principal),
            endpoint: format!("/a2a/{agent}").into(),
            version,
            client_ip: who.client_ip,
        }
    }

    /// Decides `action` on `agent` for `caller`; `None` when no policies are configured
    /// (everything is allowed).
    fn decide(&self, caller: &Caller, agent: &Agent, action: Action, method: &str) -> Option<Arc<Verdict>> {
        let gate = self.security.gate.as_ref()?;
        let card = agent.card();
        let skills: &[String] = card.as_ref().map_or(&[], |c| &c.skills);
        let target = Target {
            action,
            upstream: agent.name(),
            name: agent.name(),
            attrs: Attrs::Agent { skills },
        };
        let verdict = gate
            .decide(&Ask {
                caller,
                target,
                arguments: None,
                method: Some(method),
                llm: None,
            })
            // Agents take no arguments the policies read, so none can be unreadable; fail
            // closed all the same.
            .unwrap_or_else(|e| {
                Arc::new(Verdict {
                    allowed: false,
                    policies: Vec::new(),
                    errors: vec![e.0],
                })
            });
        crate::metrics::metrics().decision(action.id(), verdict.allowed);
        Some(verdict)
    }
}

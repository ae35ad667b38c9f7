//! What a caller can learn of the agents: each agent's card (rewritten to point at agentmux),
//! the directory of the agents it may use (`GET /a2a`), and one card with every skill for
//! clients that want a single card. An agent the caller may not `read_card` is not there.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::failure::{Fail, Failure, Front};
use super::methods::{GET_CARD, version};
use super::record::Call;
use super::{A2a, Agent, Status};
use crate::authz::{Action, Caller};
use crate::config::{Denied, Signatures};
use crate::identity::Requester;

fn problem((fail, message): (Fail, String)) -> Response {
    Front::Rest.fail(Failure::new(fail, message))
}

fn json_body(status: StatusCode, value: &impl serde::Serialize) -> Response {
    crate::error::json_response(status, serde_json::to_vec(value).unwrap_or_default())
}

impl A2a {
    /// Whether `caller` may see `agent`; a denial is audited.
    fn may_read_card(&self, caller: &Caller, agent: &Agent) -> bool {
        let Some(verdict) = self.decide(caller, agent, Action::ReadCard, GET_CARD) else {
            return true;
        };
        if !verdict.allowed {
            let call = Call {
                caller,
                agent: agent.name(),
                method: GET_CARD,
                action: Action::ReadCard.id(),
                task_id: None,
            };
            call.write(&self.security.audit, Some(&verdict), None, None);
        }
        verdict.allowed
    }

    /// The answer for an agent that is not there for this caller: unknown, or (with
    /// `authz.denied: forbidden` and an agent that exists) forbidden.
    pub(super) fn not_found(&self, name: &str, exists: bool) -> (Fail, String) {
        if exists && self.security.denied == Denied::Forbidden {
            (Fail::Forbidden, format!("you may not use agent `{name}`"))
        } else {
            (Fail::UnknownAgent, format!("no agent `{name}` here"))
        }
    }
}

/// `GET /a2a/{agent}/.well-known/agent-card.json` (and the v0.2 `agent.json`).
pub async fn card(
    State(a2a): State<Arc<A2a>>,
    Path(name): Path<String>,
    who: Requester,
    headers: HeaderMap,
) -> Response {
    let Some(agent) = a2a.agent(&name) else {
        return problem(a2a.not_found(&name, false));
    };
    let version = version(headers.get("a2a-version").and_then(|v| v.to_str().ok())).unwrap_or("1.0");
    let caller = A2a::caller(&who, &name, version);
    if !a2a.may_read_card(&caller, agent) {
        return problem(a2a.not_found(&name, true));
    }
    let Some(card) = agent.card() else {
        let reason = match &*agent.status() {
            Status::Failed { reason } => reason.clone(),
            _ => "its card has not been read yet".into(),
        };
        return problem((Fail::Agent, format!("agent `{name}` is not available: {reason}")));
    };
    let url = a2a.agent_url(&who, &headers, &name);
    let keep = agent.spec.signatures == Signatures::Keep;
    json_body(StatusCode::OK, &card.served(&url, a2a.card_security.as_ref(), keep))
}

/// The agents this caller may use.
fn visible<'a>(a2a: &'a A2a, who: &Requester) -> impl Iterator<Item = &'a Arc<Agent>> {
    a2a.agents.iter().filter(move |agent| {
        let caller = A2a::caller(who, agent.name(), "1.0");
        a2a.may_read_card(&caller, agent)
    })
}

/// `GET /a2a`: name, description, skills, card URL and health of each agent the caller may use.
pub async fn list(State(a2a): State<Arc<A2a>>, who: Requester, headers: HeaderMap) -> Response {
    let agents: Vec<Value> = visible(&a2a, &who)
        .map(|agent| {
            let card = agent.card();
            let skills: Vec<Value> = card
                .as_ref()
                .and_then(|c| c.raw.get("skills"))
                .and_then(Value::as_array)
                .map(|skills| skills.iter().map(skill_summary).collect())
                .unwrap_or_default();
            json!({
                "name": agent.name(),
                "description": card.as_ref().map_or("", |c| c.description.as_str()),
                "skills": skills,
                "card": format!("{}/.well-known/agent-card.json", a2a.agent_url(&who, &headers, agent.name())),
                "health": agent.status().label(),
            })
        })
        .collect();
    json_body(StatusCode::OK, &json!({ "agents": agents }))
}

fn skill_summary(skill: &Value) -> Value {
    let mut out = Map::new();
    for key in ["id", "name", "description", "tags", "examples"] {
        if let Some(v) = skill.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// `GET /a2a/.well-known/agent-card.json`: one card whose skills are every visible agent's,
/// each id prefixed by its agent (`planner/trip-planning`).
pub async fn hub_card(State(a2a): State<Arc<A2a>>, who: Requester) -> Response {
    let mut skills = Vec::new();
    for agent in visible(&a2a, &who) {
        let Some(card) = agent.card() else { continue };
        for skill in card.raw.get("skills").and_then(Value::as_array).into_iter().flatten() {
            let mut skill = skill_summary(skill);
            if let Some(Value::String(id)) = skill.get_mut("id") {
                *id = format!("{}/{id}", agent.name());
            }
            skills.push(skill);
        }
    }
    json_body(
        StatusCode::OK,
        &json!({
            "name": "agentmux",
            "description": "The A2A agents reachable through this agentmux; each skill's id names its agent.",
            "version": env!("CARGO_PKG_VERSION"),
            "capabilities": {},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": skills,
        }),
    )
}

//! `agentmux policy test` and `policy explain`: requests a security team writes down (who, what,
//! which tool, which arguments) with the decision they expect, run against the policy set.
//!
//! A case file (YAML):
//! ```yaml
//! cases:
//!   - name: payments may refund up to 100
//!     principal: { type: User, id: alice, groups: [payments] }
//!     action: call_tool
//!     resource: { upstream: stripe, name: refund, destructive: true }
//!     arguments: { amount: 50 }
//!     context: { endpoint: /mcp, client_ip: 10.1.2.3, now: "2026-11-27T10:00:00Z" }
//!     expect: allow
//!   - name: planners may message the planner agent
//!     principal: { type: User, id: carol, groups: [planners] }
//!     action: send_message
//!     resource: { agent: planner, skills: [trip-planning] }
//!     context: { method: message/send, version: "0.3" }
//!     expect: allow
//!   - name: eng may not send 20k tokens to openai
//!     principal: { type: User, id: bob, groups: [eng] }
//!     action: call_model
//!     resource: { model: openai/gpt-4.1, provider: openai }    # or a virtual model: { model: fast }
//!     context: { api: chat, stream: true, estimated_tokens: 20000, max_tokens: 1024, tools: 2 }
//!     expect: deny
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::authz::schema::Arguments;
use crate::authz::{Action, Args, Ask, Attrs, Authz, Caller, ModelCall, Target, ToolHints, VIRTUAL_PROVIDER, Verdict};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub principal: CasePrincipal,
    #[serde(default = "call_tool")]
    pub action: String,
    pub resource: CaseResource,
    #[serde(default)]
    pub arguments: Option<Map<String, Value>>,
    #[serde(default)]
    pub context: CaseContext,
    /// `allow` or `deny`; absent for `explain`.
    pub expect: Option<Expect>,
}

fn call_tool() -> String {
    "call_tool".into()
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CasePrincipal {
    #[serde(rename = "type", default = "user")]
    pub kind: String,
    #[serde(default = "anonymous")]
    pub id: String,
    pub issuer: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: Map<String, Value>,
}

fn user() -> String {
    "User".into()
}

fn anonymous() -> String {
    "anonymous".into()
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct CaseResource {
    #[serde(default)]
    pub upstream: String,
    /// Tool or prompt name, or resource URI.
    #[serde(alias = "uri", default)]
    pub name: String,
    /// An A2A agent (for the A2A actions), and the skill ids of its card.
    pub agent: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// An LLM model (for `call_model`): `<entry>/<model>`, or a virtual model's name.
    pub model: Option<String>,
    /// The model's provider (`openai` …); `virtual` for a virtual model (its default).
    pub provider: Option<String>,
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct CaseContext {
    pub endpoint: Option<String>,
    pub era: Option<String>,
    /// A2A: the method as sent (default: the action's main one) and the A2A version (`1.0`).
    pub method: Option<String>,
    pub version: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    /// RFC 3339; default: now.
    pub now: Option<String>,
    /// LLM (`call_model`): the API called (default `chat`), whether the response is streamed,
    /// the input tokens estimated, the output tokens allowed, and how many tool definitions the
    /// request carries (default `false` and zeros).
    pub api: Option<String>,
    pub stream: Option<bool>,
    pub estimated_tokens: Option<u64>,
    pub max_tokens: Option<u64>,
    pub tools: Option<u64>,
}

/// The providers of `llm:` registry entries.
const PROVIDERS: [&str; 6] = [
    "openai",
    "anthropic",
    "azure-openai",
    "gemini",
    "bedrock",
    "openai-compatible",
];

/// The LLM APIs, and the route each is served on.
const APIS: [(&str, &str); 4] = [
    ("chat", "/v1/chat/completions"),
    ("messages", "/v1/messages"),
    ("responses", "/v1/responses"),
    ("embeddings", "/v1/embeddings"),
];

impl CaseContext {
    /// Whether any of the LLM request's fields is given.
    fn has_llm(&self) -> bool {
        self.api.is_some()
            || self.stream.is_some()
            || self.estimated_tokens.is_some()
            || self.max_tokens.is_some()
            || self.tools.is_some()
    }
}

/// What one case came to.
pub struct Outcome {
    pub verdict: Verdict,
    /// Why the case could not be evaluated at all.
    pub error: Option<String>,
}

impl Case {
    pub fn run(&self, authz: &Authz) -> Outcome {
        match self.evaluate(authz) {
            Ok(verdict) => Outcome { verdict, error: None },
            Err(e) => Outcome {
                verdict: Verdict {
                    allowed: false,
                    policies: Vec::new(),
                    errors: Vec::new(),
                },
                error: Some(e),
            },
        }
    }

    fn evaluate(&self, authz: &Authz) -> Result<Verdict, String> {
        let p = &self.principal;
        let mut fields = Map::new();
        fields.insert("groups".into(), p.groups.clone().into());
        fields.insert("scopes".into(), p.scopes.clone().into());
        fields.insert("claims".into(), Value::Object(p.claims.clone()));
        if let Some(issuer) = &p.issuer {
            fields.insert("issuer".into(), issuer.clone().into());
        }
        let principal = crate::authz::principal_from_case(&p.kind, &p.id, &fields)?;
        let action = Action::from_id(&self.action).ok_or_else(|| {
            let known: Vec<&str> = Action::ALL.iter().map(|a| a.id()).collect();
            format!("action `{}`: use one of {}", self.action, known.join(", "))
        })?;
        if action.is_llm() {
            return self.evaluate_llm(authz, principal);
        }
        if self.context.has_llm() || self.resource.model.is_some() || self.resource.provider.is_some() {
            return Err(format!(
                "action `{}`: `resource.model`, `resource.provider` and `context.api`, `stream`, \
                 `estimated_tokens`, `max_tokens`, `tools` are for `call_model` only",
                self.action
            ));
        }
        if action.is_a2a() {
            return self.evaluate_a2a(authz, action, principal);
        }
        let d = ToolHints::default();
        let r = &self.resource;
        let target = Target {
            action,
            upstream: &r.upstream,
            name: &r.name,
            attrs: Attrs::of(
                action,
                ToolHints {
                    read_only: r.read_only.unwrap_or(d.read_only),
                    destructive: r.destructive.unwrap_or(d.destructive),
                    idempotent: r.idempotent.unwrap_or(d.idempotent),
                    open_world: r.open_world.unwrap_or(d.open_world),
                },
            ),
        };
        let era = self.context.era.as_deref().unwrap_or("2025-11-25");
        let caller = Caller {
            principal: principal.into(),
            endpoint: self.context.endpoint.as_deref().unwrap_or("/mcp").into(),
            version: crate::mcp::static_era(era),
            client_ip: self.context.client_ip,
        };
        let value = Value::Object(self.arguments.clone().unwrap_or_default());
        let ask = Ask {
            method: None,
            llm: None,
            caller: &caller,
            target,
            arguments: Some(Args {
                raw: None,
                value: &value,
                declared: None,
            }),
        };
        self.decide(authz, &ask)
    }

    /// A case about an A2A agent: `resource.agent`, its `skills`, `context.method` and
    /// `context.version`.
    fn evaluate_a2a(
        &self,
        authz: &Authz,
        action: Action,
        principal: crate::identity::Principal,
    ) -> Result<Verdict, String> {
        let r = &self.resource;
        let agent = r.agent.as_deref().ok_or_else(|| {
            format!(
                "action `{}` acts on an agent: give `resource: {{ agent: NAME }}`",
                self.action
            )
        })?;
        let version = self.context.version.as_deref();
        let version = crate::a2a::static_version(version)
            .ok_or_else(|| format!("context.version `{}`: use 1.0 or 0.3", version.unwrap_or_default()))?;
        let caller = Caller {
            principal: principal.into(),
            endpoint: self
                .context
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("/a2a/{agent}"))
                .into(),
            version,
            client_ip: self.context.client_ip,
        };
        let method = self
            .context
            .method
            .as_deref()
            .unwrap_or_else(|| crate::a2a::main_method(action));
        let ask = Ask {
            method: Some(method),
            llm: None,
            caller: &caller,
            target: Target {
                action,
                upstream: agent,
                name: agent,
                attrs: Attrs::Agent { skills: &r.skills },
            },
            arguments: None,
        };
        self.decide(authz, &ask)
    }

    /// A case about an LLM model: `resource.model` (`<entry>/<model>` or a virtual model's name)
    /// and `provider`, and the request's `api`, `stream`, `estimated_tokens`, `max_tokens` and
    /// `tools` in `context`.
    fn evaluate_llm(&self, authz: &Authz, principal: crate::identity::Principal) -> Result<Verdict, String> {
        let r = &self.resource;
        let model = r
            .model
            .as_deref()
            .filter(|m| !m.is_empty())
            .ok_or("action `call_model` acts on a model: give `resource: { model: ENTRY/MODEL, provider: PROVIDER }` or `{ model: VIRTUAL }`")?;
        if !r.upstream.is_empty() || !r.name.is_empty() || r.agent.is_some() {
            return Err("action `call_model`: name the model with `resource.model` only".into());
        }
        if self.arguments.is_some() {
            return Err("action `call_model` has no `arguments`: describe the request in `context`".into());
        }
        let provider = r.provider.as_deref();
        let target = match model.split_once('/') {
            Some((entry, name)) => {
                let provider = provider
                    .ok_or_else(|| format!("resource `{model}`: give its `provider` ({})", PROVIDERS.join(", ")))?;
                if entry.is_empty() || name.is_empty() || !PROVIDERS.contains(&provider) {
                    return Err(format!(
                        "resource `{model}` with provider `{provider}`: write the model as ENTRY/MODEL and the provider as one of {}",
                        PROVIDERS.join(", ")
                    ));
                }
                Target::model(entry, name, provider)
            }
            None => match provider {
                None | Some(VIRTUAL_PROVIDER) => Target::virtual_model(model),
                Some(other) => {
                    return Err(format!(
                        "resource `{model}`: a model without `/` is a virtual model, whose provider is `virtual`, not `{other}`"
                    ));
                }
            },
        };
        let c = &self.context;
        let api = c.api.as_deref().unwrap_or("chat");
        let route = APIS
            .iter()
            .find(|(name, _)| *name == api)
            .map(|(_, route)| *route)
            .ok_or_else(|| {
                let known: Vec<&str> = APIS.iter().map(|(name, _)| *name).collect();
                format!("context.api `{api}`: use one of {}", known.join(", "))
            })?;
        let caller = Caller {
            principal: principal.into(),
            endpoint: c.endpoint.as_deref().unwrap_or(route).into(),
            // LLM routes have no protocol version of their own.
            version: "",
            client_ip: c.client_ip,
        };
        let ask = Ask {
            method: c.method.as_deref(),
            llm: Some(ModelCall {
                api,
                stream: c.stream.unwrap_or(false),
                estimated_tokens: c.estimated_tokens.unwrap_or(0),
                max_tokens: c.max_tokens.unwrap_or(0),
                tools: c.tools.unwrap_or(0),
            }),
            caller: &caller,
            target,
            arguments: None,
        };
        self.decide(authz, &ask)
    }

    fn decide(&self, authz: &Authz, ask: &Ask<'_>) -> Result<Verdict, String> {
        let loaded = authz.loaded().ok_or("no policy set is loaded")?;
        let response = authz
            .evaluate(ask, self.context.now.as_deref())
            .map_err(|e| e.to_string())?;
        Ok(crate::authz::verdict(&response, &loaded.set))
    }
}

/// Argument types inferred from the cases' arguments, for validating policies without a
/// catalog (no schema file, no upstreams): integers Long, other numbers decimal.
pub fn inferred_arguments(cases: &[Case]) -> Arguments {
    let schemas: Vec<Value> = cases
        .iter()
        .filter_map(|c| c.arguments.as_ref())
        .map(|args| {
            let props: BTreeMap<&String, Value> =
                args.iter().filter_map(|(k, v)| Some((k, json_schema_of(v)?))).collect();
            serde_json::json!({ "type": "object", "properties": props })
        })
        .collect();
    Arguments::from_input_schemas(&schemas)
}

fn json_schema_of(v: &Value) -> Option<Value> {
    Some(match v {
        Value::Bool(_) => serde_json::json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => serde_json::json!({"type": "integer"}),
        Value::Number(_) => serde_json::json!({"type": "number"}),
        Value::String(_) => serde_json::json!({"type": "string"}),
        Value::Array(items) => serde_json::json!({"type": "array", "items": json_schema_of(items.first()?)?}),
        Value::Object(fields) => {
            let props: Map<String, Value> = fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), json_schema_of(v)?)))
                .collect();
            serde_json::json!({"type": "object", "properties": props})
        }
        Value::Null => return None,
    })
}

/// One line per case, and whether all passed.
pub fn report(cases: &[Case], authz: &Authz) -> (String, bool) {
    let mut out = String::new();
    let mut failed = 0;
    for case in cases {
        let outcome = case.run(authz);
        let got = if outcome.verdict.allowed {
            Expect::Allow
        } else {
            Expect::Deny
        };
        let ok = outcome.error.is_none() && case.expect.is_none_or(|e| e == got);
        if !ok {
            failed += 1;
        }
        out.push_str(&format!(
            "{} {} — {}{}\n",
            if ok { "PASS" } else { "FAIL" },
            case.name,
            explain(&outcome),
            match (ok, case.expect) {
                (false, Some(e)) => format!(" (expected {})", if e == Expect::Allow { "allow" } else { "deny" }),
                _ => String::new(),
            }
        ));
    }
    out.push_str(&format!(
        "{} cases, {} passed, {failed} failed\n",
        cases.len(),
        cases.len() - failed
    ));
    (out, failed == 0)
}

/// A decision in words: what it was and which policies made it.
pub fn explain(outcome: &Outcome) -> String {
    if let Some(e) = &outcome.error {
        return format!("not evaluated: {e}");
    }
    let v = &outcome.verdict;
    let mut text = match (v.allowed, v.policies.is_empty()) {
        (true, _) => format!("allow, permitted by {}", v.policies.join(", ")),
        (false, false) => format!("deny, forbidden by {}", v.policies.join(", ")),
        (false, true) => "deny, no policy permits it (default deny)".to_string(),
    };
    if !v.errors.is_empty() {
        text.push_str(&format!(
            "; policies not applied because they failed: {}",
            v.errors.join("; ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secure() -> (Vec<Case>, Authz) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/secure/policies");
        let text = std::fs::read_to_string(dir.join("tests.yaml")).unwrap();
        let cases: CaseFile = serde_yaml_ng::from_str(&text).unwrap();
        let authz = Authz::load_now(&dir, vec!["department".into()], inferred_arguments(&cases.cases)).unwrap();
        (cases.cases, authz)
    }

    fn case(yaml: &str) -> Result<Case, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_cases_pass() {
        let (cases, authz) = secure();
        assert!(cases.iter().any(|c| c.action == "call_model"));
        let (report, passed) = report(&cases, &authz);
        assert!(passed, "{report}");
    }

    #[test]
    fn model_cases_are_read_strictly() {
        let (_, authz) = secure();
        let run = |yaml: &str| case(yaml).map(|c| c.run(&authz));
        let outcome =
            run("{name: x, principal: {groups: [research]}, action: call_model, resource: {model: fast}}").unwrap();
        assert!(
            outcome.error.is_none() && outcome.verdict.allowed,
            "{:?}",
            outcome.error
        );
        for (yaml, problem) in [
            (
                "{name: x, principal: {}, action: call_model, resource: {model: openai/gpt-4.1}}",
                "give its `provider`",
            ),
            (
                "{name: x, principal: {}, action: call_model, resource: {model: fast, provider: openai}}",
                "virtual model",
            ),
            (
                "{name: x, principal: {}, action: call_model, resource: {model: openai/gpt-4.1, provider: openia}}",
                "one of openai",
            ),
            (
                "{name: x, principal: {}, action: call_model, resource: {model: fast}, context: {api: completions}}",
                "context.api",
            ),
            (
                "{name: x, principal: {}, resource: {upstream: github, name: get_issue}, context: {stream: true}}",
                "for `call_model` only",
            ),
            (
                "{name: x, principal: {}, action: call_model, resource: {model: fast}, arguments: {a: 1}}",
                "no `arguments`",
            ),
        ] {
            let error = run(yaml).unwrap().error.unwrap_or_default();
            assert!(error.contains(problem), "{yaml}: {error}");
        }
        let unknown =
            case("{name: x, principal: {}, action: call_model, resource: {model: fast}, context: {tokens: 1}}");
        assert!(unknown.unwrap_err().contains("unknown field `tokens`"));
    }
}

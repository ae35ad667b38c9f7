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
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::authz::schema::Arguments;
use crate::authz::{Action, Args, Ask, Attrs, Authz, Caller, Target, ToolHints, Verdict};

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

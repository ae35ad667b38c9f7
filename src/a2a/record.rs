//! A2A calls and denials in the audit log: who, which agent, which method and task, the
//! decision and the policies behind it, and for calls how they ended.

use std::time::Duration;

use serde::Serialize;

use crate::audit::{Audit, Decision, Who};
use crate::authz::{Caller, Verdict};

/// One line, in the order its fields are written.
#[derive(Serialize)]
struct Record<'a> {
    event: &'static str,
    principal: Who<'a>,
    endpoint: &'a str,
    client: Option<std::net::IpAddr>,
    method: &'a str,
    version: &'a str,
    action: &'static str,
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<&'a str>,
    decision: &'static str,
    policies: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    policy_errors: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

/// What one A2A request was.
pub struct Call<'a> {
    pub caller: &'a Caller,
    pub agent: &'a str,
    pub method: &'a str,
    pub action: &'static str,
    pub task_id: Option<&'a str>,
}

impl Call<'_> {
    /// A decision (allowed or denied) or, with `outcome` (how long, the agent's HTTP status), a
    /// call that was made. `reason`: why agentmux refused it on its own (a task of another
    /// principal, a push URL into a private network).
    pub fn write(
        &self,
        audit: &Audit,
        verdict: Option<&Verdict>,
        reason: Option<&str>,
        outcome: Option<(Duration, u16)>,
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
            method: self.method,
            version: self.caller.version,
            action: self.action,
            resource: format!("Agent::{:?}", self.agent),
            task_id: self.task_id,
            decision: if allowed { "allow" } else { "deny" },
            policies: verdict.map_or(&[], |v| &v.policies),
            policy_errors: verdict.map_or(&[], |v| &v.errors),
            reason,
            upstream_ms: outcome.map(|(d, _)| d.as_secs_f64() * 1e3),
            status: outcome.map(|(_, s)| s),
        };
        audit.record(&record, if allowed { Decision::Allowed } else { Decision::Denied });
    }
}

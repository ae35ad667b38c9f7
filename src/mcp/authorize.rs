//! The authorization step of the request path: after a name is resolved to its upstream and
//! original name, and before anything is forwarded, the gate decides; lists show only what the
//! caller may use. Decisions and call outcomes go to the audit log.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::catalog::{Entry, ListKind, Listing};
use super::hub::Hub;
use super::request::Request;
use super::session::Scope;
use crate::audit::{Decision, Who};
use crate::authz::{Action, Args, Ask, Attrs, Caller, Target, ToolHints, Unreadable, Verdict};
use crate::config::Denied;
use crate::jsonrpc::{INVALID_PARAMS, RpcError};

/// JSON-RPC error for a denied call when `authz.denied: forbidden`.
pub const FORBIDDEN: i64 = -32011;

impl ListKind {
    /// The action that using an item of this list is.
    pub fn action(self) -> Action {
        match self {
            Self::Tools => Action::CallTool,
            Self::Prompts => Action::GetPrompt,
            Self::Resources | Self::Templates => Action::ReadResource,
        }
    }
}

impl Hub {
    /// The target of a resolved item, by its upstream's own name.
    pub(super) fn target<'a>(&'a self, action: Action, upstream: usize, name: &'a str, hints: ToolHints) -> Target<'a> {
        Target {
            action,
            upstream: self.upstream(upstream).name(),
            name,
            attrs: Attrs::of(action, hints),
        }
    }

    /// Decides one call. `Ok(None)`: no gate configured. A denial is the error the client gets,
    /// by default indistinguishable from an unknown name (`not_found`).
    pub(super) fn authorize(
        &self,
        req: &Request<'_>,
        target: Target<'_>,
        arguments: Option<Args<'_>>,
        not_found: impl FnOnce() -> RpcError,
    ) -> Result<Option<std::sync::Arc<Verdict>>, RpcError> {
        let Some(gate) = self.gate() else {
            return Ok(None);
        };
        let verdict = match gate.decide(&Ask {
            method: None,
            llm: None,
            caller: req.caller,
            target,
            arguments,
        }) {
            Ok(verdict) => verdict,
            Err(Unreadable(problem)) => return Err(self.refuse_arguments(req, target, arguments, problem, not_found)),
        };
        crate::metrics::metrics().decision(target.action.id(), verdict.allowed);
        if verdict.allowed {
            return Ok(Some(verdict));
        }
        self.audit_denial(req, &target, &verdict, arguments);
        Err(self.denied(req, &target, not_found))
    }

    /// Refuses a call whose arguments are not what the upstream declared, or cannot be given to
    /// the policies exactly: −32602 naming the problem, audited as a denial. A caller who may
    /// not use the target at all learns nothing of it: they get the denial error instead.
    pub(super) fn refuse_arguments(
        &self,
        req: &Request<'_>,
        target: Target<'_>,
        arguments: Option<Args<'_>>,
        problem: String,
        not_found: impl FnOnce() -> RpcError,
    ) -> RpcError {
        if let Some(gate) = self.gate() {
            let verdict = Verdict {
                allowed: false,
                policies: Vec::new(),
                errors: vec![problem.clone()],
            };
            crate::metrics::metrics().decision(target.action.id(), false);
            self.audit_denial(req, &target, &verdict, arguments);
            if !gate.visible(req.caller, &[target]).first().copied().unwrap_or(false) {
                return self.denied(req, &target, not_found);
            }
        }
        RpcError::new(INVALID_PARAMS, problem)
    }

    /// The error a denied caller gets (`authz.denied`).
    fn denied(&self, req: &Request<'_>, target: &Target<'_>, not_found: impl FnOnce() -> RpcError) -> RpcError {
        match self.access().denied() {
            Denied::Hidden => not_found(),
            Denied::Forbidden => RpcError::new(
                FORBIDDEN,
                format!(
                    "{} may not {} `{}`",
                    req.caller.principal,
                    target.action.id().replace('_', " "),
                    target.name
                ),
            ),
        }
    }

    /// Writes a decision, and for allowed calls their outcome, to the audit log. `arguments`
    /// are what [`Hub::audited_arguments`] made of the call's.
    pub(super) fn audit_event(
        &self,
        req: &Request<'_>,
        target: &Target<'_>,
        verdict: &Verdict,
        arguments: Option<Value>,
        outcome: Option<(Duration, Result<(), i64>)>,
    ) {
        let Some(audit) = self.audit() else {
            return;
        };
        let principal = &req.caller.principal;
        let record = AuditRecord {
            event: if outcome.is_some() { "call" } else { "decision" },
            request_id: req.id.get(),
            session: req.session.map(|s| super::short_id(&s.id)),
            principal: Who::of(principal),
            endpoint: &req.caller.endpoint,
            client: req.caller.client_ip,
            method: req.method,
            action: target.action.id(),
            resource: format_args!("{}/{}", target.upstream, target.name),
            decision: if verdict.allowed { "allow" } else { "deny" },
            policies: &verdict.policies,
            policy_errors: &verdict.errors,
            arguments,
            upstream_ms: outcome.map(|(took, _)| (took.as_secs_f64() * 1e4).round() / 10.0),
            status: outcome.map(|(_, status)| match status {
                Ok(()) => json!("ok"),
                Err(code) => json!(code),
            }),
        };
        let decision = if verdict.allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        };
        audit.record(&record, decision);
    }

    /// A denied call to the audit log, with its arguments as `audit.arguments` says.
    fn audit_denial(&self, req: &Request<'_>, target: &Target<'_>, verdict: &Verdict, arguments: Option<Args<'_>>) {
        self.audit_event(
            req,
            target,
            verdict,
            self.audited_arguments(arguments.and_then(|a| a.raw)),
            None,
        );
    }

    /// A call's arguments as the audit log shows them (`audit.arguments`): computed before the
    /// call is forwarded, so nothing is copied when they are left out or there is no audit log.
    pub(super) fn audited_arguments(&self, arguments: Option<&RawValue>) -> Option<Value> {
        self.audit()?.arguments(arguments)
    }

    /// The positions of `listing`'s entries the caller may see; `None` when there is no gate.
    pub(super) fn visible(
        &self,
        caller: &Caller,
        kind: ListKind,
        listing: &Listing,
        view: u64,
    ) -> Option<Arc<Vec<u32>>> {
        let gate = self.gate()?;
        // A SHA-256 key, not a 64-bit hash: a collision would show one caller another's list.
        let mut h = Sha256::new();
        h.update(view.to_le_bytes());
        h.update(gate.generation().to_le_bytes());
        h.update([kind as u8]);
        h.update(caller.principal.fingerprint());
        for text in [&*caller.endpoint, caller.version] {
            h.update((text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
        h.update(caller.client_ip.map(|ip| ip.to_string()).unwrap_or_default().as_bytes());
        let key: [u8; 32] = h.finalize().into();
        if let Some(hit) = self.access().shown(&key) {
            return Some(hit);
        }
        let targets: Vec<Target<'_>> = listing
            .entries
            .iter()
            .map(|e: &Entry| Target {
                action: kind.action(),
                upstream: self.upstream(e.upstream).name(),
                name: &e.original,
                attrs: Attrs::of(kind.action(), e.hints),
            })
            .collect();
        let shown = gate.visible(caller, &targets);
        let positions: Arc<Vec<u32>> = Arc::new(
            shown
                .iter()
                .enumerate()
                .filter(|(_, v)| **v)
                .map(|(i, _)| i as u32)
                .collect(),
        );
        self.access().remember_shown(key, Arc::clone(&positions));
        Some(positions)
    }
}

impl Hub {
    /// Whether `caller` may use at least one item (tool, prompt, resource or template) that
    /// `upstream` offers in `scope`: who may receive what that upstream sends to everyone
    /// (logs, resource updates). Uses the cached list filtering; true without a gate.
    pub(super) fn may_use(&self, caller: &Caller, scope: Scope, upstream: usize) -> bool {
        if self.gate().is_none() {
            return true;
        }
        let views = self.views();
        let view = views.view(scope);
        ListKind::ALL.into_iter().any(|kind| {
            let Some(listing) = view.listing(kind) else {
                return false;
            };
            let span = listing.span(upstream);
            if span.is_empty() {
                return false;
            }
            match self.visible(caller, kind, listing, views.generation) {
                None => true,
                Some(positions) => {
                    let first = positions.partition_point(|&p| (p as usize) < span.start);
                    positions.get(first).is_some_and(|&p| (p as usize) < span.end)
                }
            }
        })
    }
}

impl Hub {
    /// A tool definition that differs from the approved one (tool pinning), for the audit log.
    pub(super) fn audit_pin(&self, finding: &super::pinning::Finding) {
        let Some(audit) = self.audit() else {
            return;
        };
        let mut event = Map::new();
        event.insert("event".into(), json!("tool_pin"));
        event.insert(
            "resource".into(),
            json!(format!("{}/{}", finding.upstream, finding.tool)),
        );
        event.insert("verdict".into(), json!(finding.verdict.as_str()));
        event.insert(
            "action".into(),
            json!(if finding.treatment == super::pinning::Treatment::Hide {
                "hidden"
            } else {
                "flagged"
            }),
        );
        event.insert("approved".into(), json!(finding.approved));
        event.insert("served".into(), json!(finding.served));
        audit.write(event);
    }
}

/// One line of the audit log for a decision or a call, in the order its fields are written.
#[derive(Serialize)]
struct AuditRecord<'a> {
    event: &'static str,
    /// The client's JSON-RPC id as its JSON text.
    request_id: &'a str,
    session: Option<&'a str>,
    principal: Who<'a>,
    endpoint: &'a str,
    client: Option<std::net::IpAddr>,
    method: &'a str,
    action: &'static str,
    #[serde(serialize_with = "display")]
    resource: std::fmt::Arguments<'a>,
    decision: &'static str,
    policies: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    policy_errors: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Value>,
}

fn display<S: serde::Serializer>(value: &std::fmt::Arguments<'_>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

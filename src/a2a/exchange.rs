//! One A2A request, whichever binding it came in on (JSON-RPC in `rpc.rs`, HTTP+JSON in
//! `rest.rs`): decided by the policies, checked against the tasks this caller owns and the push
//! URLs it may register, sent to the agent with agentmux's credentials, audited, and relayed
//! back (`relay.rs`).

use std::sync::Arc;
use std::time::Instant;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use super::card::Binding;
use super::failure::{Fail, Failure, Front};
use super::methods::{Method, Op};
use super::outbound::Outbound;
use super::owners::{Access, Kind};
use super::record::Call;
use super::relay::Relay;
use super::translate::{self, Translation};
use super::{A2a, Agent, Status, push};
use crate::authz::Caller;
use crate::identity::Requester;

/// Headers of the caller's that the agent needs to understand the request.
const PASSED_ON: [&str; 3] = ["a2a-version", "a2a-extensions", "content-type"];

/// One request, read.
pub struct Exchange<'a> {
    pub a2a: &'a Arc<A2a>,
    pub who: &'a Requester,
    pub headers: &'a HeaderMap,
    pub agent: &'a Arc<Agent>,
    pub method: Method,
    pub version: &'static str,
    /// The JSON-RPC params, or the HTTP+JSON body (`Null` when there is none).
    pub params: &'a Value,
    /// The task a request names in its path (HTTP+JSON), else in its params.
    pub task: Option<&'a str>,
    pub front: Front,
}

impl Exchange<'_> {
    pub async fn run(self, outbound: Outbound) -> Response {
        let a2a = self.a2a;
        let name = self.agent.name();
        let caller = A2a::caller(self.who, name, self.version);
        let ids = match Ids::of(self.method, self.params, self.task) {
            Ok(ids) => ids,
            Err(failure) => return self.front.fail(failure),
        };
        let call = Call {
            caller: &caller,
            agent: name,
            method: self.method.name,
            action: self.method.op.action().id(),
            task_id: ids.task,
        };
        let verdict = a2a.decide(&caller, self.agent, self.method.op.action(), self.method.name);
        let count = |outcome: &'static str, took: Option<std::time::Duration>| {
            crate::metrics::metrics().a2a_request(name, self.method.name, outcome, took);
        };
        if let Some(verdict) = verdict.as_ref().filter(|v| !v.allowed) {
            count("denied", None);
            call.write(&a2a.security.audit, Some(verdict), None, None);
            let (fail, text) = a2a.not_found(name, true);
            return self.front.fail(Failure::new(fail, text));
        }
        if let Err(refusal) = a2a.admit(&caller, name, self.method, &ids, self.params).await {
            count("refused", None);
            call.write(&a2a.security.audit, verdict.as_deref(), Some(&refusal.message), None);
            return self.front.fail(refusal);
        }
        let (outbound, translation) = match self.plan(outbound) {
            Ok(planned) => planned,
            Err(failure) => {
                count("agent_error", None);
                call.write(&a2a.security.audit, verdict.as_deref(), Some(&failure.message), None);
                return self.front.fail(failure);
            }
        };
        let started = Instant::now();
        let response = match a2a.forward(self.agent, self.version, self.headers, outbound).await {
            Ok(response) => response,
            Err(failure) => {
                count("agent_error", Some(started.elapsed()));
                call.write(
                    &a2a.security.audit,
                    verdict.as_deref(),
                    None,
                    Some((started.elapsed(), 502)),
                );
                return self.front.fail(failure);
            }
        };
        let outcome = match response.status().as_u16() {
            200..=299 => "ok",
            400..=499 => "http_4xx",
            _ => "http_5xx",
        };
        count(outcome, Some(started.elapsed()));
        call.write(
            &a2a.security.audit,
            verdict.as_deref(),
            None,
            Some((started.elapsed(), response.status().as_u16())),
        );
        let relay = Relay {
            a2a: Arc::clone(a2a),
            agent: Arc::clone(self.agent),
            owner: self.who.principal.fingerprint(),
            method: self.method,
            // Only an extended card is rewritten with it.
            base: (self.method.op == Op::ExtendedCard).then(|| a2a.agent_url(self.who, self.headers, name)),
            front: self.front,
            translation,
        };
        relay.answer(response).await
    }

    /// The request as it goes to the agent: as sent when the agent serves its binding (in
    /// v1.0), else translated to the other binding when the agent serves that one.
    fn plan(&self, outbound: Outbound) -> Result<(Outbound, Option<Translation>), Failure> {
        let Some(card) = self.agent.card() else {
            // `forward` says why the agent is not available.
            return Ok((outbound, None));
        };
        if card.interface(outbound.binding, self.version).is_some() || self.version != "1.0" {
            return Ok((outbound, None));
        }
        let (other, way) = match outbound.binding {
            Binding::JsonRpc => (Binding::HttpJson, Translation::RpcToRest),
            Binding::HttpJson => (Binding::JsonRpc, Translation::RestToRpc),
        };
        if card.interface(other, "1.0").is_none() {
            return Ok((outbound, None));
        }
        let translated = translate::request(way, self.method, self.params, self.task, &outbound.suffix)
            .map_err(|problem| Failure::new(Fail::Agent, format!("agent `{}`: {problem}", self.agent.name())))?;
        Ok((translated, Some(way)))
    }
}

/// The task and context a request names.
/// The first key that is a proto field name rather than its JSON name (it has an `_`), outside
/// the free-form values (`metadata`, a data part's `data`, an extension's `params`), whose keys
/// are the caller's own.
fn proto_field_name(value: &Value, depth: usize) -> Option<String> {
    const FREE_FORM: [&str; 3] = ["metadata", "data", "params"];
    match value {
        Value::Object(map) => map.iter().find_map(|(key, inner)| {
            if key.contains('_') {
                return Some(key.clone());
            }
            if FREE_FORM.contains(&key.as_str()) {
                return None;
            }
            if depth > 64 {
                // Deeper than the body reader allows anyway; never a reason to skip the check.
                return Some("(nested too deeply)".into());
            }
            proto_field_name(inner, depth + 1)
        }),
        Value::Array(items) => items.iter().find_map(|item| proto_field_name(item, depth + 1)),
        _ => None,
    }
}

struct Ids<'a> {
    task: Option<&'a str>,
    context: Option<&'a str>,
}

impl<'a> Ids<'a> {
    /// The ids a request names. An id that is there but not a string is refused rather than
    /// skipped: the agent could still read it as a task id that was never checked.
    fn of(method: Method, params: &'a Value, in_path: Option<&'a str>) -> Result<Self, Failure> {
        if let Some(key) = proto_field_name(params, 0) {
            // The SDKs' parsers also take proto field names (`task_id` for `taskId`): a task id
            // or push URL under such a name would reach the agent unchecked.
            return Err(Failure::new(
                Fail::InvalidParams,
                format!("`{key}`: A2A field names are written in lowerCamelCase (JSON), not as proto field names"),
            ));
        }
        let text = |at: &str| -> Result<Option<&'a str>, Failure> {
            match params.pointer(at) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
                Some(_) => Err(Failure::new(
                    Fail::InvalidParams,
                    format!("`{}` must be a string", at.trim_start_matches('/').replace('/', ".")),
                )),
            }
        };
        Ok(match method.op {
            // A message continues a task or a context when it names one.
            Op::Send { .. } => Self {
                task: text("/message/taskId")?,
                context: text("/message/contextId")?,
            },
            Op::ListTasks => Self {
                task: None,
                context: text("/contextId")?,
            },
            _ => Self {
                task: match (in_path, method.task_key) {
                    (Some(task), _) => Some(task),
                    (None, Some(key)) => text(&format!("/{key}"))?,
                    (None, None) => None,
                },
                context: None,
            },
        })
    }
}

impl A2a {
    /// The checks that need no policy: the tasks and contexts named are this caller's, and
    /// push URLs point where an agent may be asked to call.
    async fn admit(
        &self,
        caller: &Caller,
        agent: &str,
        method: Method,
        ids: &Ids<'_>,
        params: &Value,
    ) -> Result<(), Failure> {
        let owner = caller.principal.fingerprint();
        if let Some(task) = ids.task {
            let access = self.owners.access(agent, Kind::Task, task, &owner).await;
            // Another's task, or one agentmux never gave this caller: the same answer, so
            // nobody learns which ids exist.
            if access.map_err(|e| Failure::state(&e))? != Access::Own {
                return Err(Failure::task_not_found());
            }
        }
        if let Some(context) = ids.context {
            let access = self.owners.access(agent, Kind::Context, context, &owner).await;
            if access.map_err(|e| Failure::state(&e))? == Access::Other {
                return Err(Failure::task_not_found());
            }
        }
        let create = method.op == Op::Push { create: true };
        if create || matches!(method.op, Op::Send { .. }) {
            for url in push::urls(params, create) {
                push::check(&url, &self.push_allow)
                    .await
                    .map_err(|problem| Failure::new(Fail::InvalidParams, problem))?;
            }
        }
        Ok(())
    }

    /// Sends the request to the agent's interface for its binding and version.
    async fn forward(
        &self,
        agent: &Agent,
        version: &str,
        headers: &HeaderMap,
        outbound: Outbound,
    ) -> Result<reqwest::Response, Failure> {
        let name = agent.name();
        let Some(card) = agent.card() else {
            let reason = match &*agent.status() {
                Status::Failed { reason } => reason.clone(),
                _ => "its card has not been read yet".into(),
            };
            return Err(Failure::new(
                Fail::Agent,
                format!("agent `{name}` is not available: {reason}"),
            ));
        };
        let Some(interface) = card.interface(outbound.binding, version) else {
            // The agent may have changed its interfaces since its card was read.
            agent.refresh_soon();
            let binding = match outbound.binding {
                Binding::JsonRpc => "JSON-RPC",
                Binding::HttpJson => "HTTP+JSON",
            };
            return Err(Failure::new(
                Fail::Agent,
                format!("agent `{name}` has no {binding} interface in its card"),
            ));
        };
        let url = format!("{}{}", interface.url, outbound.suffix);
        let passed: Vec<(&str, HeaderValue)> = PASSED_ON
            .iter()
            .filter_map(|h| headers.get(*h).map(|v| (*h, v.clone())))
            .collect();
        let send = agent.send(|client| {
            let mut request = client.request(outbound.method.clone(), &url).header(
                header::ACCEPT,
                "application/json, application/a2a+json, text/event-stream",
            );
            if !outbound.body.is_empty() {
                request = request.body(outbound.body.clone());
            }
            for (name, value) in &passed {
                request = request.header(*name, value.clone());
            }
            if outbound.binding == Binding::JsonRpc && !headers.contains_key(header::CONTENT_TYPE) {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
            request
        });
        let first_byte = agent.spec.timeouts.first_byte;
        match tokio::time::timeout(first_byte, send).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                // It may have moved or restarted elsewhere: its card says where it is now.
                agent.refresh_soon();
                Err(Failure::new(
                    Fail::Agent,
                    format!("agent `{name}` cannot be reached: {e}"),
                ))
            }
            Err(_) => Err(Failure::new(
                Fail::Agent,
                format!("agent `{name}` did not answer within {} ms", first_byte.as_millis()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::proto_field_name;

    #[test]
    fn proto_field_names_are_found_outside_free_form_values() {
        let sneaky = json!({"message": {"task_id": "theirs", "parts": []}});
        assert_eq!(proto_field_name(&sneaky, 0).as_deref(), Some("task_id"));
        let push =
            json!({"configuration": {"taskPushNotificationConfig": {"url": "x"}, "push_notification_config": {}}});
        assert_eq!(proto_field_name(&push, 0).as_deref(), Some("push_notification_config"));
        let free = json!({"message": {"metadata": {"user_id": 1}, "parts": [{"data": {"snake_case": true}}]}});
        assert_eq!(proto_field_name(&free, 0), None, "the caller's own keys are theirs");
    }
}

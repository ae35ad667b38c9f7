//! The agent's answer on its way back to one caller. A JSON body comes back as the agent wrote
//! it; an event stream event by event, as each arrives. The task and context ids in either are
//! recorded as this caller's; an answer naming another principal's task is replaced by "task not
//! found" (a stream ends with it). A client that goes away drops the stream, which closes the
//! agent's.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use super::exchange::{Fail, Failure, Front};
use super::methods::{Method, Op};
use super::owners::{Access, Kind};
use super::{A2a, Agent};
use crate::config::Signatures;
use crate::egress::http_client::{describe, is_event_stream, read_prefix};
use crate::egress::sse_bound::{self, StreamErrors};

/// The largest JSON answer (or single event) read from an agent.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

pub struct Relay {
    pub a2a: Arc<A2a>,
    pub agent: Arc<Agent>,
    pub owner: [u8; 32],
    pub method: Method,
    /// agentmux's URL for the agent, for an extended card.
    pub base: String,
    pub front: Front,
}

impl Relay {
    pub async fn answer(self, response: reqwest::Response) -> Response {
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let extensions = response.headers().get("a2a-extensions").cloned();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let mut out = if is_event_stream(&response) {
            self.stream(response)
        } else {
            self.whole(response, status, content_type).await
        };
        if let Some(extensions) = extensions {
            out.headers_mut().insert("a2a-extensions", extensions);
        }
        out
    }

    fn failed(&self, text: String) -> Response {
        self.front.fail(Failure::new(Fail::Agent, text))
    }

    /// The result a frame carries: a JSON-RPC frame's `result`, an HTTP+JSON body itself.
    fn result_of<'v>(&self, frame: &'v mut Value) -> Option<&'v mut Value> {
        match self.front {
            Front::JsonRpc { .. } => frame.get_mut("result"),
            Front::Rest => Some(frame).filter(|f| f.get("error").is_none()),
        }
    }

    async fn whole(
        self,
        response: reqwest::Response,
        status: StatusCode,
        content_type: Option<HeaderValue>,
    ) -> Response {
        let name = self.agent.name();
        let total = self.agent.spec.timeouts.total;
        let body = match tokio::time::timeout(total, read_prefix(response, MAX_ANSWER_BYTES)).await {
            Ok(Ok((body, false))) => body,
            Ok(Ok((_, true))) => {
                return self.failed(format!("agent `{name}` answered more than {MAX_ANSWER_BYTES} bytes"));
            }
            Ok(Err(e)) => return self.failed(format!("agent `{name}`: {}", describe(&e))),
            Err(_) => return self.failed(format!("agent `{name}` did not finish its answer in time")),
        };
        let mut rewritten = false;
        // An empty body (a deleted push config) has nothing to record.
        if !body.is_empty() {
            let Ok(mut frame) = serde_json::from_slice::<Value>(&body) else {
                return self.failed(format!("agent `{name}` answered with something that is not JSON"));
            };
            if let Some(result) = self.result_of(&mut frame) {
                if !self.claim(result) {
                    return self.front.fail(Failure::new(Fail::TaskNotFound, "Task not found"));
                }
                rewritten = self.filter(result);
            }
            if rewritten {
                let body = serde_json::to_vec(&frame).unwrap_or_default();
                return self.body(status, content_type, body);
            }
        }
        self.body(status, content_type, body)
    }

    fn body(&self, status: StatusCode, content_type: Option<HeaderValue>, body: Vec<u8>) -> Response {
        let mut out = (status, body).into_response();
        let json = HeaderValue::from_static("application/json");
        out.headers_mut()
            .insert(header::CONTENT_TYPE, content_type.unwrap_or(json));
        out
    }

    /// Each event as it arrives; an event naming another principal's task ends the stream.
    fn stream(self, response: reqwest::Response) -> Response {
        let name = self.agent.name().to_string();
        let bytes = response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|e| format!("agent `{name}`: its stream broke off: {}", describe(&e))));
        let events = sse_bound::events(bytes, AgentStream(self.agent.name().to_string()), MAX_ANSWER_BYTES);
        let relay = Arc::new(self);
        let out = events.scan(false, move |ended, event| {
            if *ended {
                return std::future::ready(None);
            }
            let data = match event {
                Ok(event) => relay.event(event.data),
                Err(problem) => Err(Failure::new(Fail::Agent, problem)),
            };
            let data = data.unwrap_or_else(|failure| {
                *ended = true;
                relay.front.fail_event(failure)
            });
            let mut chunk = Vec::with_capacity(data.len() + 8);
            chunk.extend_from_slice(b"data: ");
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\n\n");
            std::future::ready(Some(Ok::<_, std::convert::Infallible>(Bytes::from(chunk))))
        });
        let mut response = Response::new(Body::from_stream(out));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }

    /// One event's data as it goes to the client: unchanged unless it names another's task.
    fn event(&self, data: String) -> Result<Vec<u8>, Failure> {
        let Ok(mut frame) = serde_json::from_str::<Value>(&data) else {
            // Not JSON: passed on as it is; the client's SDK will say what it thinks of it.
            return Ok(data.into_bytes());
        };
        match self.result_of(&mut frame) {
            Some(result) if !self.claim(result) => Err(Failure::new(Fail::TaskNotFound, "Task not found")),
            _ => Ok(data.into_bytes()),
        }
    }

    /// Records the task and context ids of a result as this caller's; `false` when one is
    /// another principal's.
    fn claim(&self, result: &Value) -> bool {
        let owners = &self.a2a.owners;
        let mut ok = true;
        for (kind, id) in ids_in(result) {
            ok &= owners.claim(self.agent.name(), kind, id, &self.owner);
        }
        ok
    }

    /// What the caller may not see of a result, removed: other principals' tasks from a list;
    /// an extended card's interfaces pointed at agentmux. `true` when something changed.
    fn filter(&self, result: &mut Value) -> bool {
        match self.method.op {
            Op::ListTasks => {
                let Some(Value::Array(tasks)) = result.get_mut("tasks") else {
                    return false;
                };
                let before = tasks.len();
                let owners = &self.a2a.owners;
                tasks.retain(|t| {
                    t.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| owners.access(self.agent.name(), Kind::Task, id, &self.owner) == Access::Own)
                });
                let removed = before - tasks.len();
                if removed > 0
                    && let Some(Value::Number(total)) = result.get("totalSize")
                {
                    let total = total.as_u64().unwrap_or(0).saturating_sub(removed as u64);
                    result["totalSize"] = Value::from(total);
                }
                removed > 0
            }
            Op::ExtendedCard => {
                let Ok(card) = super::card::Card::parse(result.to_string().as_bytes()) else {
                    return false;
                };
                let keep = self.agent.spec.signatures == Signatures::Keep;
                *result = Value::Object(card.served(&self.base, self.a2a.card_security.as_ref(), keep));
                true
            }
            _ => false,
        }
    }
}

/// The task and context ids a result or event names, in both versions: a task (`id`,
/// `contextId`), a message or update (`taskId`, `contextId`), v1.0 wrapped in `task`,
/// `message`, `statusUpdate`, `artifactUpdate`.
fn ids_in(result: &Value) -> Vec<(Kind, &str)> {
    let mut out = Vec::new();
    let mut wrapped = false;
    for key in ["task", "message", "statusUpdate", "artifactUpdate"] {
        if let Some(inner) = result.get(key).filter(|v| v.is_object()) {
            read_ids(inner, key == "task", &mut out);
            wrapped = true;
        }
    }
    if !wrapped {
        let is_task = result.get("kind").and_then(Value::as_str) == Some("task");
        read_ids(result, is_task, &mut out);
    }
    out
}

fn read_ids<'a>(object: &'a Value, is_task: bool, out: &mut Vec<(Kind, &'a str)>) {
    let text = |key: &str| object.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    if is_task && let Some(id) = text("id") {
        out.push((Kind::Task, id));
    }
    if let Some(id) = text("taskId") {
        out.push((Kind::Task, id));
    }
    if let Some(id) = text("contextId") {
        out.push((Kind::Context, id));
    }
}

/// An agent's event stream fails with the agent's name.
struct AgentStream(String);

impl StreamErrors<String> for AgentStream {
    fn too_large(&self, limit: usize) -> String {
        format!("agent `{}` sent an event larger than {limit} bytes", self.0)
    }

    fn invalid(&self, problem: String) -> String {
        format!("agent `{}`: {problem}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_of_results_in_both_versions() {
        let v1 = json!({"task": {"id": "t1", "contextId": "c1", "status": {}}});
        assert_eq!(ids_in(&v1), [(Kind::Task, "t1"), (Kind::Context, "c1")]);
        let update = json!({"statusUpdate": {"taskId": "t1", "contextId": "c1"}});
        assert_eq!(ids_in(&update), [(Kind::Task, "t1"), (Kind::Context, "c1")]);
        let v03 = json!({"kind": "task", "id": "t2", "contextId": "c2"});
        assert_eq!(ids_in(&v03), [(Kind::Task, "t2"), (Kind::Context, "c2")]);
        let message = json!({"kind": "message", "messageId": "m", "contextId": "c3"});
        assert_eq!(
            ids_in(&message),
            [(Kind::Context, "c3")],
            "a message's own id is not a task"
        );
        let list = json!({"tasks": [{"id": "t"}]});
        assert!(ids_in(&list).is_empty());
    }
}

//! `POST /a2a/{agent}`: the agent's JSON-RPC binding, v1.0 and v0.3.
//!
//! A request is read once: its method (known, and allowed for this caller), the task and
//! context ids it names (this caller's own, else "task not found"), and the push URLs it
//! registers (not into private networks). The body then goes to the agent unchanged, with
//! agentmux's credentials and the caller's `A2A-Version` and `A2A-Extensions`. The answer comes
//! back as the agent wrote it: a JSON body whole, an event stream event by event as each
//! arrives; the ids in it are recorded as this caller's. A client that goes away drops the
//! stream, which closes the agent's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;
use serde_json::value::RawValue;

use super::card::Binding;
use super::methods::{self, Method, Op};
use super::owners::{Access, Kind};
use super::record::Call;
use super::{A2a, Agent, push};
use crate::authz::Caller;
use crate::egress::sse_bound::{self, StreamErrors};
use crate::error::GatewayError;
use crate::identity::Requester;
use crate::jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, Message, RpcError};

/// A2A: the task does not exist (or is not this caller's).
const TASK_NOT_FOUND: i64 = -32001;
/// A2A: the requested protocol version is not supported.
const VERSION_NOT_SUPPORTED: i64 = -32009;
/// agentmux: the agent cannot be reached or failed.
const AGENT_ERROR: i64 = -32010;
/// The largest JSON answer (or single event) read from an agent.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Headers of the caller's that the agent needs to understand the request.
const PASSED_ON: [&str; 2] = ["a2a-version", "a2a-extensions"];

fn error(status: StatusCode, id: Option<&RawValue>, error: RpcError) -> Response {
    GatewayError::rpc(status, error).for_request(id).into_response()
}

pub async fn post(
    State(a2a): State<Arc<A2a>>,
    Path(name): Path<String>,
    who: Requester,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let message = match Message::parse(&body) {
        Ok(message) => message,
        Err(e) => return error(StatusCode::BAD_REQUEST, None, e),
    };
    let (id, method_name) = match message.kind() {
        Ok(crate::jsonrpc::Kind::Request { id, method }) => (id, method),
        Ok(_) => {
            let e = RpcError::new(
                INVALID_REQUEST,
                "A2A takes JSON-RPC requests (with an `id` and a `method`)",
            );
            return error(StatusCode::BAD_REQUEST, message.id, e);
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, message.id, e),
    };
    let asked = headers.get("a2a-version").and_then(|v| v.to_str().ok());
    let Some(version) = methods::version(asked) else {
        let e = RpcError::new(
            VERSION_NOT_SUPPORTED,
            format!(
                "A2A version {:?} is not supported; agentmux serves 1.0 and 0.3",
                asked.unwrap_or_default()
            ),
        );
        return error(StatusCode::OK, Some(id), e);
    };
    let Some(agent) = a2a.agent(&name) else {
        let (status, text) = a2a.not_found(&name, false);
        return error(status, Some(id), RpcError::new(INVALID_REQUEST, text));
    };
    let Some(method) = methods::find(method_name) else {
        let e = RpcError::new(METHOD_NOT_FOUND, format!("`{method_name}` is not an A2A method"));
        return error(StatusCode::OK, Some(id), e);
    };
    let params: Value = match message.params.map(|p| serde_json::from_str(p.get())) {
        None => Value::Null,
        Some(Ok(params)) => params,
        Some(Err(e)) => return error(StatusCode::OK, Some(id), RpcError::new(INVALID_PARAMS, e.to_string())),
    };
    let caller = A2a::caller(&who, &name, version);
    let ids = Ids::of(method, &params);
    let call = Call {
        caller: &caller,
        agent: &name,
        method: method.name,
        action: method.op.action().id(),
        task_id: ids.task,
    };
    let verdict = a2a.decide(&caller, agent, method.op.action(), method.name);
    if let Some(verdict) = verdict.as_ref().filter(|v| !v.allowed) {
        call.write(&a2a.security.audit, Some(verdict), None, None);
        let (status, text) = a2a.not_found(&name, true);
        return error(status, Some(id), RpcError::new(INVALID_REQUEST, text));
    }
    if let Err(refusal) = a2a.admit(&caller, &name, method, &ids, &params).await {
        call.write(&a2a.security.audit, verdict.as_deref(), Some(&refusal.reason), None);
        return error(StatusCode::OK, Some(id), refusal.error);
    }
    let started = Instant::now();
    let response = match a2a.forward(agent, version, &headers, body.clone()).await {
        Ok(response) => response,
        Err(e) => {
            call.write(
                &a2a.security.audit,
                verdict.as_deref(),
                None,
                Some((started.elapsed(), 502)),
            );
            return error(StatusCode::BAD_GATEWAY, Some(id), e);
        }
    };
    call.write(
        &a2a.security.audit,
        verdict.as_deref(),
        None,
        Some((started.elapsed(), response.status().as_u16())),
    );
    let relay = Relay {
        a2a: Arc::clone(&a2a),
        agent: name.clone(),
        owner: who.principal.fingerprint(),
        method,
        base: a2a.agent_url(&who, &headers, &name),
        id: id.get().to_string(),
    };
    relay.answer(response).await
}

/// The task and context a request names.
struct Ids<'a> {
    task: Option<&'a str>,
    context: Option<&'a str>,
}

impl<'a> Ids<'a> {
    fn of(method: Method, params: &'a Value) -> Self {
        let text = |v: Option<&'a Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty());
        match method.op {
            // A message continues a task or a context when it names one.
            Op::Send { .. } => Self {
                task: text(params.pointer("/message/taskId")),
                context: text(params.pointer("/message/contextId")),
            },
            Op::ListTasks => Self {
                task: None,
                context: text(params.get("contextId")),
            },
            _ => Self {
                task: text(method.task_key.and_then(|k| params.get(k))),
                context: None,
            },
        }
    }
}

/// Why agentmux answered a request itself.
struct Refusal {
    reason: String,
    error: RpcError,
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
    ) -> Result<(), Refusal> {
        let owner = caller.principal.fingerprint();
        if let Some(task) = ids.task
            && self.owners.access(agent, Kind::Task, task, &owner) != Access::Own
        {
            // Another's task, or one agentmux never gave this caller: the same answer, so
            // nobody learns which ids exist.
            return Err(Refusal {
                reason: "the task is not the caller's".into(),
                error: RpcError::new(TASK_NOT_FOUND, "Task not found"),
            });
        }
        if let Some(context) = ids.context
            && self.owners.access(agent, Kind::Context, context, &owner) == Access::Other
        {
            return Err(Refusal {
                reason: "the context is another principal's".into(),
                error: RpcError::new(TASK_NOT_FOUND, "Task not found"),
            });
        }
        let create = method.op == Op::Push { create: true };
        if create || matches!(method.op, Op::Send { .. }) {
            for url in push::urls(params, create) {
                if let Err(problem) = push::check(&url, &self.push_allow).await {
                    return Err(Refusal {
                        reason: problem.clone(),
                        error: RpcError::new(INVALID_PARAMS, problem),
                    });
                }
            }
        }
        Ok(())
    }

    /// Sends the body to the agent's JSON-RPC interface for `version`.
    async fn forward(
        &self,
        agent: &Agent,
        version: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response, RpcError> {
        let name = agent.name();
        let Some(card) = agent.card() else {
            let reason = match &*agent.status() {
                super::Status::Failed { reason } => reason.clone(),
                _ => "its card has not been read yet".into(),
            };
            return Err(RpcError::new(
                AGENT_ERROR,
                format!("agent `{name}` is not available: {reason}"),
            ));
        };
        let Some(interface) = card.interface(Binding::JsonRpc, version) else {
            return Err(RpcError::new(
                INTERNAL_ERROR,
                format!("agent `{name}` has no JSON-RPC interface in its card"),
            ));
        };
        let url = interface.url.clone();
        let passed: Vec<(&str, HeaderValue)> = PASSED_ON
            .iter()
            .filter_map(|h| headers.get(*h).map(|v| (*h, v.clone())))
            .collect();
        let send = agent.send(|client| {
            let mut request = client
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json, text/event-stream")
                .body(body.clone());
            for (name, value) in &passed {
                request = request.header(*name, value.clone());
            }
            request
        });
        let first_byte = agent.spec.timeouts.first_byte;
        match tokio::time::timeout(first_byte, send).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(RpcError::new(
                AGENT_ERROR,
                format!("agent `{name}` cannot be reached: {e}"),
            )),
            Err(_) => Err(RpcError::new(
                AGENT_ERROR,
                format!("agent `{name}` did not answer within {} ms", first_byte.as_millis()),
            )),
        }
    }
}

/// The agent's answer on its way back to one caller.
struct Relay {
    a2a: Arc<A2a>,
    agent: String,
    owner: [u8; 32],
    method: Method,
    /// agentmux's URL for the agent, for an extended card.
    base: String,
    /// The request's id, as JSON text.
    id: String,
}

impl Relay {
    async fn answer(self, response: reqwest::Response) -> Response {
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let extensions = response.headers().get("a2a-extensions").cloned();
        let mut out = if crate::egress::http_client::is_event_stream(&response) {
            self.stream(response)
        } else {
            self.whole(response, status).await
        };
        if let Some(extensions) = extensions {
            out.headers_mut().insert("a2a-extensions", extensions);
        }
        out
    }

    fn id(&self) -> Option<Box<RawValue>> {
        RawValue::from_string(self.id.clone()).ok()
    }

    fn agent_failed(&self, text: String) -> Response {
        let id = self.id();
        error(StatusCode::BAD_GATEWAY, id.as_deref(), RpcError::new(AGENT_ERROR, text))
    }

    async fn whole(self, response: reqwest::Response, status: StatusCode) -> Response {
        let total = self
            .a2a
            .agent(&self.agent)
            .map_or(Duration::from_secs(300), |a| a.spec.timeouts.total);
        let read = tokio::time::timeout(
            total,
            crate::egress::http_client::read_prefix(response, MAX_ANSWER_BYTES),
        )
        .await;
        let body = match read {
            Ok(Ok((body, false))) => body,
            Ok(Ok((_, true))) => {
                return self.agent_failed(format!(
                    "agent `{}` answered more than {MAX_ANSWER_BYTES} bytes",
                    self.agent
                ));
            }
            Ok(Err(e)) => {
                return self.agent_failed(format!(
                    "agent `{}`: {}",
                    self.agent,
                    crate::egress::http_client::describe(&e)
                ));
            }
            Err(_) => return self.agent_failed(format!("agent `{}` did not finish its answer in time", self.agent)),
        };
        let Ok(mut frame) = serde_json::from_slice::<Value>(&body) else {
            return self.agent_failed(format!(
                "agent `{}` answered with something that is not JSON",
                self.agent
            ));
        };
        let mut rewritten = false;
        if let Some(result) = frame.get_mut("result") {
            if !self.claim(result) {
                return self.not_yours();
            }
            rewritten = self.filter(result);
        }
        let body = if rewritten {
            serde_json::to_vec(&frame).unwrap_or(body)
        } else {
            body
        };
        let mut out = (status, body).into_response();
        out.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        out
    }

    fn not_yours(&self) -> Response {
        let id = self.id();
        error(
            StatusCode::OK,
            id.as_deref(),
            RpcError::new(TASK_NOT_FOUND, "Task not found"),
        )
    }

    /// Each event as it arrives; an event naming another principal's task ends the stream.
    fn stream(self, response: reqwest::Response) -> Response {
        let bytes = response
            .bytes_stream()
            .map(|chunk| chunk.map_err(|e| crate::egress::http_client::describe(&e)));
        let events = sse_bound::events(bytes, AgentStream(self.agent.clone()), MAX_ANSWER_BYTES);
        let relay = Arc::new(self);
        let out = events.scan(false, move |ended, event| {
            if *ended {
                return std::future::ready(None);
            }
            let frame = match event {
                Ok(event) => relay.event(&event.data),
                Err(problem) => {
                    *ended = true;
                    let id = relay.id();
                    let e = RpcError::new(AGENT_ERROR, problem);
                    Some(crate::jsonrpc::error_frame(id.as_deref(), &e))
                }
            };
            let chunk = match frame {
                Some(frame) => {
                    let mut chunk = Vec::with_capacity(frame.len() + 8);
                    chunk.extend_from_slice(b"data: ");
                    chunk.extend_from_slice(&frame);
                    chunk.extend_from_slice(b"\n\n");
                    chunk
                }
                None => {
                    *ended = true;
                    let id = relay.id();
                    let e = RpcError::new(TASK_NOT_FOUND, "Task not found");
                    let mut chunk = b"data: ".to_vec();
                    chunk.extend_from_slice(&crate::jsonrpc::error_frame(id.as_deref(), &e));
                    chunk.extend_from_slice(b"\n\n");
                    chunk
                }
            };
            std::future::ready(Some(Ok::<_, std::convert::Infallible>(Bytes::from(chunk))))
        });
        let mut response = Response::new(Body::from_stream(out));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }

    /// One event's data as it goes to the client: unchanged, `None` when it names another's
    /// task (the stream then ends).
    fn event(&self, data: &str) -> Option<Vec<u8>> {
        let Ok(frame) = serde_json::from_str::<Value>(data) else {
            // Not JSON: passed on as it is, the client's SDK will say what it thinks of it.
            return Some(data.as_bytes().to_vec());
        };
        match frame.get("result") {
            Some(result) if !self.claim(result) => None,
            _ => Some(data.as_bytes().to_vec()),
        }
    }

    /// Records the task and context ids of a result as this caller's; `false` when one is
    /// another principal's.
    fn claim(&self, result: &Value) -> bool {
        let owners = &self.a2a.owners;
        let mut ok = true;
        for (kind, id) in ids_in(result) {
            ok &= owners.claim(&self.agent, kind, id, &self.owner);
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
                        .is_some_and(|id| owners.access(&self.agent, Kind::Task, id, &self.owner) == Access::Own)
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
                let keep = self
                    .a2a
                    .agent(&self.agent)
                    .is_some_and(|a| a.spec.signatures == crate::config::Signatures::Keep);
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

//! One A2A request, whichever binding it came in on (JSON-RPC in `rpc.rs`, HTTP+JSON in
//! `rest.rs`): decided by the policies, checked against the tasks this caller owns and the push
//! URLs it may register, sent to the agent with agentmux's credentials, audited, and relayed
//! back (`relay.rs`).

use std::sync::Arc;
use std::time::Instant;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::card::Binding;
use super::methods::{Method, Op};
use super::owners::{Access, Kind};
use super::record::Call;
use super::relay::Relay;
use super::{A2a, Agent, Status, push};
use crate::authz::Caller;
use crate::error::GatewayError;
use crate::identity::Requester;
use crate::jsonrpc::{INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, RpcError};

/// A2A: the task does not exist (or is not this caller's).
pub const TASK_NOT_FOUND: i64 = -32001;
/// A2A: the requested protocol version is not supported.
pub const VERSION_NOT_SUPPORTED: i64 = -32009;
/// agentmux: the agent cannot be reached or failed.
pub const AGENT_ERROR: i64 = -32010;
/// agentmux: a denied call when `authz.denied: forbidden` (as for MCP).
const FORBIDDEN: i64 = -32011;
/// Headers of the caller's that the agent needs to understand the request.
const PASSED_ON: [&str; 3] = ["a2a-version", "a2a-extensions", "content-type"];

/// Why agentmux answered a request itself, in terms both bindings can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    BadRequest,
    UnknownAgent,
    Forbidden,
    NoMethod,
    Version,
    TaskNotFound,
    InvalidParams,
    Agent,
}

#[derive(Debug)]
pub struct Failure {
    pub fail: Fail,
    pub message: String,
}

impl Failure {
    pub fn new(fail: Fail, message: impl Into<String>) -> Self {
        Self {
            fail,
            message: message.into(),
        }
    }

    fn task_not_found() -> Self {
        Self::new(Fail::TaskNotFound, "Task not found")
    }
}

/// How the caller reads answers: JSON-RPC frames (with the request's id), or HTTP+JSON.
#[derive(Debug, Clone)]
pub enum Front {
    JsonRpc { id: String },
    Rest,
}

impl Front {
    pub fn fail(&self, failure: Failure) -> Response {
        match self {
            Self::JsonRpc { id } => {
                let (status, code) = match failure.fail {
                    Fail::BadRequest => (StatusCode::BAD_REQUEST, INVALID_REQUEST),
                    Fail::UnknownAgent => (StatusCode::NOT_FOUND, INVALID_REQUEST),
                    Fail::Forbidden => (StatusCode::FORBIDDEN, FORBIDDEN),
                    Fail::NoMethod => (StatusCode::OK, METHOD_NOT_FOUND),
                    Fail::Version => (StatusCode::OK, VERSION_NOT_SUPPORTED),
                    Fail::TaskNotFound => (StatusCode::OK, TASK_NOT_FOUND),
                    Fail::InvalidParams => (StatusCode::OK, INVALID_PARAMS),
                    Fail::Agent => (StatusCode::BAD_GATEWAY, AGENT_ERROR),
                };
                let id = RawValue::from_string(id.clone()).ok();
                GatewayError::rpc(status, RpcError::new(code, failure.message))
                    .for_request(id.as_deref())
                    .into_response()
            }
            Self::Rest => {
                let (status, name) = rest_status(failure.fail);
                let body = json!({"error": {"code": status.as_u16(), "status": name, "message": failure.message}});
                crate::error::json_response(status, serde_json::to_vec(&body).unwrap_or_default())
            }
        }
    }

    /// One event carrying `failure`, to end a stream with.
    pub fn fail_event(&self, failure: Failure) -> Vec<u8> {
        match self {
            Self::JsonRpc { id } => {
                let id = RawValue::from_string(id.clone()).ok();
                let code = if failure.fail == Fail::TaskNotFound {
                    TASK_NOT_FOUND
                } else {
                    AGENT_ERROR
                };
                crate::jsonrpc::error_frame(id.as_deref(), &RpcError::new(code, failure.message))
            }
            Self::Rest => {
                let (status, name) = rest_status(failure.fail);
                serde_json::to_vec(
                    &json!({"error": {"code": status.as_u16(), "status": name, "message": failure.message}}),
                )
                .unwrap_or_default()
            }
        }
    }
}

/// HTTP+JSON errors: the HTTP status and its google.rpc status name, as a2a-sdk answers.
fn rest_status(fail: Fail) -> (StatusCode, &'static str) {
    match fail {
        Fail::BadRequest | Fail::InvalidParams => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        Fail::UnknownAgent | Fail::NoMethod | Fail::TaskNotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Fail::Forbidden => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Fail::Version => (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
        Fail::Agent => (StatusCode::BAD_GATEWAY, "UNAVAILABLE"),
    }
}

/// What goes to the agent: the binding's interface, the HTTP method, the path and query after
/// the interface URL (`/message:send`; empty for JSON-RPC), and the body as the caller sent it.
pub struct Outbound {
    pub binding: Binding,
    pub method: reqwest::Method,
    pub suffix: String,
    pub body: Bytes,
}

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
        let ids = Ids::of(self.method, self.params, self.task);
        let call = Call {
            caller: &caller,
            agent: name,
            method: self.method.name,
            action: self.method.op.action().id(),
            task_id: ids.task,
        };
        let verdict = a2a.decide(&caller, self.agent, self.method.op.action(), self.method.name);
        if let Some(verdict) = verdict.as_ref().filter(|v| !v.allowed) {
            call.write(&a2a.security.audit, Some(verdict), None, None);
            let (fail, text) = a2a.not_found(name, true);
            return self.front.fail(Failure::new(fail, text));
        }
        if let Err(refusal) = a2a.admit(&caller, name, self.method, &ids, self.params).await {
            call.write(&a2a.security.audit, verdict.as_deref(), Some(&refusal.message), None);
            return self.front.fail(refusal);
        }
        let started = Instant::now();
        let response = match a2a.forward(self.agent, self.version, self.headers, outbound).await {
            Ok(response) => response,
            Err(failure) => {
                call.write(
                    &a2a.security.audit,
                    verdict.as_deref(),
                    None,
                    Some((started.elapsed(), 502)),
                );
                return self.front.fail(failure);
            }
        };
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
            base: a2a.agent_url(self.who, self.headers, name),
            front: self.front,
        };
        relay.answer(response).await
    }
}

/// The task and context a request names.
struct Ids<'a> {
    task: Option<&'a str>,
    context: Option<&'a str>,
}

impl<'a> Ids<'a> {
    fn of(method: Method, params: &'a Value, in_path: Option<&'a str>) -> Self {
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
                task: in_path.or_else(|| text(method.task_key.and_then(|k| params.get(k)))),
                context: None,
            },
        }
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
        if let Some(task) = ids.task
            && self.owners.access(agent, Kind::Task, task, &owner) != Access::Own
        {
            // Another's task, or one agentmux never gave this caller: the same answer, so
            // nobody learns which ids exist.
            return Err(Failure::task_not_found());
        }
        if let Some(context) = ids.context
            && self.owners.access(agent, Kind::Context, context, &owner) == Access::Other
        {
            return Err(Failure::task_not_found());
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
            Ok(Err(e)) => Err(Failure::new(
                Fail::Agent,
                format!("agent `{name}` cannot be reached: {e}"),
            )),
            Err(_) => Err(Failure::new(
                Fail::Agent,
                format!("agent `{name}` did not answer within {} ms", first_byte.as_millis()),
            )),
        }
    }
}

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
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

use super::failure::{Fail, Failure, Front};
use super::methods::{Method, Op};
use super::owners::{Access, Kind};
use super::translate::{self, Translation};
use super::{A2a, Agent};
use crate::config::Signatures;
use crate::egress::http_client::{describe, is_event_stream, read_prefix};

/// The largest JSON answer (or single event) read from an agent.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

pub struct Relay {
    pub a2a: Arc<A2a>,
    pub agent: Arc<Agent>,
    pub owner: [u8; 32],
    pub method: Method,
    /// agentmux's URL for the agent, for an extended card (and only then).
    pub base: Option<String>,
    pub front: Front,
    /// When the agent speaks the other binding: how its answer is put back in the client's.
    pub translation: Option<Translation>,
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
        let (status, body, content_type) = match self.translation {
            Some(way) => {
                let (status, body) = translate::answer(way, status, &body, self.front.id());
                (status, body, None)
            }
            None => (status, body, content_type),
        };
        // An empty body (a deleted push config) has nothing to record.
        if body.is_empty() {
            return self.body(status, content_type, body);
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            return self.failed(format!("agent `{name}` answered with something that is not JSON"));
        }
        if let Err(failure) = self.claim_in(&body, &mut Vec::new()).await {
            return self.front.fail(failure);
        }
        // Only lists and extended cards are changed on their way; the rest goes as it came.
        if !matches!(self.method.op, Op::ListTasks | Op::ExtendedCard) {
            return self.body(status, content_type, body);
        }
        let Ok(mut frame) = serde_json::from_slice::<Value>(&body) else {
            return self.body(status, content_type, body);
        };
        let changed = match self.result_of(&mut frame) {
            Some(result) => self.filter(result).await,
            None => Ok(false),
        };
        let changed = match changed {
            Ok(changed) => changed,
            Err(failure) => return self.front.fail(failure),
        };
        if changed {
            let body = serde_json::to_vec(&frame).unwrap_or_default();
            return self.body(status, content_type, body);
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
        let events = Box::pin(self.agent.events(response, MAX_ANSWER_BYTES));
        let scan = Scan {
            relay: self,
            events,
            ended: false,
            claimed: Vec::new(),
        };
        let out = futures_util::stream::unfold(scan, |mut scan| async move {
            if scan.ended {
                return None;
            }
            let relay = &scan.relay;
            let data = match scan.events.next().await? {
                Ok(event) => {
                    let data = match relay.translation {
                        Some(way) => translate::event(way, &event.data, relay.front.id()),
                        None => event.data,
                    };
                    relay.event(data, &mut scan.claimed).await
                }
                Err(problem) => Err(Failure::new(Fail::Agent, problem)),
            };
            let data = data.unwrap_or_else(|failure| {
                scan.ended = true;
                scan.relay.front.fail_event(failure)
            });
            let mut chunk = Vec::with_capacity(data.len() + 8);
            chunk.extend_from_slice(b"data: ");
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\n\n");
            Some((Ok::<_, std::convert::Infallible>(Bytes::from(chunk)), scan))
        });
        let mut response = Response::new(Body::from_stream(out));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }

    /// One event's data as it goes to the client: unchanged unless it names another's task.
    async fn event(&self, data: String, claimed: &mut Vec<(Kind, String)>) -> Result<Vec<u8>, Failure> {
        self.claim_in(data.as_bytes(), claimed).await?;
        Ok(data.into_bytes())
    }

    /// Records the task and context ids a frame's result names as this caller's; "task not
    /// found" when one is another principal's. `claimed`: ids this stream already recorded (its
    /// events repeat the same task), which are not looked up again. Text that is not a JSON
    /// frame names nothing (the client's SDK will say what it thinks of it).
    async fn claim_in(&self, frame: &[u8], claimed: &mut Vec<(Kind, String)>) -> Result<(), Failure> {
        let named = match self.front {
            Front::JsonRpc { .. } => serde_json::from_slice::<Frame<'_>>(frame).map(|f| f.result),
            Front::Rest => serde_json::from_slice::<Named<'_>>(frame).map(Some),
        };
        let Ok(Some(named)) = named else {
            return Ok(());
        };
        let owners = &self.a2a.owners;
        let mut ok = true;
        for (kind, id) in named.ids() {
            if claimed.iter().any(|(k, c)| *k == kind && c == id) {
                continue;
            }
            let claim = owners.claim(self.agent.name(), kind, id, &self.owner).await;
            ok &= claim.map_err(|e| Failure::state(&e))?;
            if claimed.len() < MAX_CLAIMED {
                claimed.push((kind, id.to_string()));
            }
        }
        if ok { Ok(()) } else { Err(Failure::task_not_found()) }
    }

    /// What the caller may not see of a result, removed: other principals' tasks from a list;
    /// an extended card's interfaces pointed at agentmux. `true` when something changed.
    async fn filter(&self, result: &mut Value) -> Result<bool, Failure> {
        match self.method.op {
            Op::ListTasks => {
                let Some(Value::Array(tasks)) = result.get_mut("tasks") else {
                    // A list whose tasks cannot be checked one by one shows none of them.
                    if let Some(object) = result.as_object_mut() {
                        object.insert("tasks".into(), Value::Array(Vec::new()));
                        return Ok(true);
                    }
                    *result = serde_json::json!({ "tasks": [] });
                    return Ok(true);
                };
                let before = tasks.len();
                let owners = &self.a2a.owners;
                let mut own = Vec::with_capacity(before);
                for task in tasks.iter() {
                    let access = match task.get("id").and_then(Value::as_str) {
                        Some(id) => owners.access(self.agent.name(), Kind::Task, id, &self.owner).await,
                        None => Ok(Access::Unknown),
                    };
                    own.push(access.map_err(|e| Failure::state(&e))? == Access::Own);
                }
                let mut own = own.into_iter();
                tasks.retain(|_| own.next().unwrap_or(false));
                let removed = before - tasks.len();
                if removed > 0
                    && let Some(Value::Number(total)) = result.get("totalSize")
                {
                    let total = total.as_u64().unwrap_or(0).saturating_sub(removed as u64);
                    result["totalSize"] = Value::from(total);
                }
                Ok(removed > 0)
            }
            Op::ExtendedCard => {
                let Ok(card) = super::card::Card::parse(result.to_string().as_bytes()) else {
                    return Ok(false);
                };
                let keep = self.agent.spec.signatures == Signatures::Keep;
                let Some(base) = &self.base else { return Ok(false) };
                *result = Value::Object(card.served(base, self.a2a.card_security.as_ref(), keep));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Ids a stream remembers having recorded, at most (a stream is about one task).
const MAX_CLAIMED: usize = 8;

/// A stream's state between events.
struct Scan<E> {
    relay: Relay,
    events: std::pin::Pin<Box<E>>,
    ended: bool,
    claimed: Vec<(Kind, String)>,
}

/// A JSON-RPC frame, for its result's ids.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow, default)]
    result: Option<Named<'a>>,
}

/// What a result or event says about tasks, read without building the rest of it: a task
/// (`id`, `contextId`), a message or update (`taskId`, `contextId`), in v1.0 wrapped in `task`,
/// `message`, `statusUpdate` or `artifactUpdate`, in v0.3 flat with a `kind`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Named<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    // Its own ids, as for the wrapped ones (not `flatten`: that buffers the whole object).
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    task_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    context_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    task: Option<Ids<'a>>,
    #[serde(borrow, default)]
    message: Option<Ids<'a>>,
    #[serde(borrow, default)]
    status_update: Option<Ids<'a>>,
    #[serde(borrow, default)]
    artifact_update: Option<Ids<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Ids<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    task_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    context_id: Option<Cow<'a, str>>,
}

impl Named<'_> {
    fn ids(&self) -> Vec<(Kind, &str)> {
        let mut out = Vec::new();
        let wrapped = [&self.task, &self.message, &self.status_update, &self.artifact_update];
        if wrapped.iter().any(|w| w.is_some()) {
            for (i, inner) in wrapped.iter().enumerate() {
                if let Some(inner) = inner {
                    inner.read(i == 0, &mut out);
                }
            }
        } else {
            let is_task = self.kind.as_deref() == Some("task");
            read_ids([&self.id, &self.task_id, &self.context_id], is_task, &mut out);
        }
        out
    }
}

impl Ids<'_> {
    fn read<'s>(&'s self, is_task: bool, out: &mut Vec<(Kind, &'s str)>) {
        read_ids([&self.id, &self.task_id, &self.context_id], is_task, out);
    }
}

/// `id` (a task's own, when `is_task`), `taskId` and `contextId`, those given and not empty.
fn read_ids<'s>(
    [id, task_id, context_id]: [&'s Option<Cow<'_, str>>; 3],
    is_task: bool,
    out: &mut Vec<(Kind, &'s str)>,
) {
    let text = |v: &'s Option<Cow<'_, str>>| v.as_deref().filter(|s| !s.is_empty());
    if is_task && let Some(id) = text(id) {
        out.push((Kind::Task, id));
    }
    if let Some(id) = text(task_id) {
        out.push((Kind::Task, id));
    }
    if let Some(id) = text(context_id) {
        out.push((Kind::Context, id));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ids(value: serde_json::Value) -> Vec<(Kind, String)> {
        let text = value.to_string();
        let named: Named<'_> = serde_json::from_str(&text).unwrap();
        named.ids().into_iter().map(|(k, id)| (k, id.to_string())).collect()
    }

    #[test]
    fn ids_of_results_in_both_versions() {
        let (t, c) = (Kind::Task, Kind::Context);
        let pair = |a: &str, b: &str| vec![(t, a.to_string()), (c, b.to_string())];
        assert_eq!(
            ids(json!({"task": {"id": "t1", "contextId": "c1", "status": {}}})),
            pair("t1", "c1")
        );
        assert_eq!(
            ids(json!({"statusUpdate": {"taskId": "t1", "contextId": "c1"}})),
            pair("t1", "c1")
        );
        assert_eq!(
            ids(json!({"kind": "task", "id": "t2", "contextId": "c2", "history": []})),
            pair("t2", "c2")
        );
        let message = json!({"kind": "message", "messageId": "m", "contextId": "c3"});
        assert_eq!(
            ids(message),
            [(c, "c3".to_string())],
            "a message's own id is not a task"
        );
        assert!(ids(json!({"tasks": [{"id": "t"}]})).is_empty());
        let escaped = json!({"kind": "status-update", "taskId": "t\"x", "contextId": "c", "status": {"message": {"taskId": "inner"}}});
        assert_eq!(
            ids(escaped),
            pair("t\"x", "c"),
            "escaped ids are read, nested messages are not"
        );
    }
}

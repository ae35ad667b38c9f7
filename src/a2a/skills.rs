//! An agent's skills as MCP tools (the hub offers them through its bridge, `mcp::bridge`):
//! each skill a tool `{agent}{sep}{skill}` taking `{message, data?, task_id?, context_id?}`.
//! A call sends the message (streamed when the agent streams), reports each status text as
//! progress, and answers with the task's artifacts as MCP content: text parts as text, data
//! parts as `structuredContent` (and a JSON text block), files as resource links or embedded
//! resources. The task belongs to the caller, as it would through `/a2a`; a call that is
//! abandoned (the client cancelled) cancels the task at the agent.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::header;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::card::Binding;
use super::owners::{Access, Kind};
use super::{A2a, Agent};
use crate::egress::http_client::{describe, is_event_stream, read_prefix};
use crate::identity::Principal;

/// The largest answer or event read from an agent for a tool call.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// How long cancelling an abandoned task may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);
/// The tool of an agent whose card lists no skills.
pub const SEND_MESSAGE: &str = "send_message";

/// What a skill tool takes.
fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "What to ask the agent."},
            "data": {"type": "object", "description": "Structured input sent with the message, as a data part."},
            "task_id": {"type": "string", "description": "Continue this task (one an earlier call returned), e.g. to answer the agent's question."},
            "context_id": {"type": "string", "description": "Continue this conversation context."}
        },
        "required": ["message"],
        "additionalProperties": false
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkillArguments {
    message: String,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    task_id: Option<String>,
    #[serde(default)]
    context_id: Option<String>,
}

impl A2a {
    /// `agent`'s skills as a `tools/list` result; an error while its card is not read.
    pub fn tools_of(&self, name: &str) -> Result<Value, String> {
        let agent = self.agent(name).ok_or_else(|| format!("no agent `{name}`"))?;
        let Some(card) = agent.card() else {
            return Err(match &*agent.status() {
                super::Status::Failed { reason } => reason.clone(),
                _ => format!("agent `{name}`'s card has not been read yet"),
            });
        };
        let skills = card
            .raw
            .get("skills")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut tools: Vec<Value> = skills
            .iter()
            .filter_map(|skill| {
                let id = skill.get("id").and_then(Value::as_str)?;
                let mut description = skill
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let examples: Vec<&str> = skill
                    .get("examples")
                    .and_then(Value::as_array)
                    .map(|e| e.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !examples.is_empty() {
                    description.push_str("\n\nExamples:");
                    for example in examples {
                        description.push_str("\n- ");
                        description.push_str(example);
                    }
                }
                let mut tool = json!({
                    "name": id,
                    "description": description,
                    "inputSchema": input_schema(),
                    "annotations": {"readOnlyHint": false, "destructiveHint": false, "openWorldHint": true},
                });
                if let Some(title) = skill.get("name").and_then(Value::as_str) {
                    tool["title"] = Value::String(title.to_string());
                }
                Some(tool)
            })
            .collect();
        if tools.is_empty() {
            tools.push(json!({
                "name": SEND_MESSAGE,
                "description": format!("Send a message to agent `{name}`: {}", card.description),
                "inputSchema": input_schema(),
                "annotations": {"readOnlyHint": false, "destructiveHint": false, "openWorldHint": true},
            }));
        }
        Ok(json!({ "tools": tools }))
    }

    /// Changes after every attempt to read `agent`'s card (0 before the first).
    pub fn tool_changes(&self, name: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.agent(name).map(|a| a.changes())
    }

    /// Calls a skill for `principal`: a `CallToolResult`, or an error when the agent could not
    /// be asked at all. `progress` hears each status text the agent sends.
    pub async fn call_skill(
        self: Arc<Self>,
        principal: Arc<Principal>,
        name: String,
        arguments: Option<Box<RawValue>>,
        progress: Option<Box<dyn Fn(String) + Send + Sync>>,
    ) -> Result<Value, String> {
        let agent = Arc::clone(self.agent(&name).ok_or_else(|| format!("no agent `{name}`"))?);
        let arguments: SkillArguments = match serde_json::from_str(arguments.as_deref().map_or("{}", RawValue::get)) {
            Ok(arguments) => arguments,
            Err(e) => return Ok(tool_error(format!("invalid arguments: {e}"))),
        };
        let owner = principal.fingerprint();
        let unchecked = |e: crate::state::StateError| {
            tracing::error!(error = %e, agent = %name, "A2A task ownership could not be checked");
            "task ownership could not be checked; try again".to_string()
        };
        if let Some(task) = &arguments.task_id
            && self
                .owners
                .access(&name, Kind::Task, task, &owner)
                .await
                .map_err(unchecked)?
                != Access::Own
        {
            return Ok(tool_error(format!("task `{task}` not found")));
        }
        if let Some(context) = &arguments.context_id
            && self
                .owners
                .access(&name, Kind::Context, context, &owner)
                .await
                .map_err(unchecked)?
                == Access::Other
        {
            return Ok(tool_error(format!("context `{context}` not found")));
        }
        let card = agent.card().ok_or_else(|| format!("agent `{name}` is not available"))?;
        let url = card
            .interface(Binding::JsonRpc, "1.0")
            .map(|i| i.url.clone())
            .ok_or_else(|| format!("agent `{name}` has no JSON-RPC interface in its card"))?;
        let streaming = card.raw.get("capabilities").and_then(|c| c.get("streaming")) == Some(&Value::Bool(true));
        let body = request_body(&arguments, streaming);
        let send = agent.send(|client| {
            client
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json, text/event-stream")
                .header("a2a-version", "1.0")
                .body(body.clone())
        });
        let timeouts = agent.spec.timeouts;
        let response = match tokio::time::timeout(timeouts.first_byte, send).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(format!("agent `{name}` cannot be reached: {e}")),
            Err(_) => return Err(format!("agent `{name}` did not answer in time")),
        };
        let mut run = Run {
            a2a: Arc::clone(&self),
            agent: Arc::clone(&agent),
            owner,
            task: Task::default(),
            progress,
            done: false,
        };
        let read = async {
            if is_event_stream(&response) {
                run.read_stream(response).await
            } else {
                run.read_whole(response).await
            }
        };
        match tokio::time::timeout(timeouts.total, read).await {
            Ok(Ok(())) => {
                run.done = true;
                Ok(run.task.result(&name))
            }
            Ok(Err(problem)) => {
                run.done = true;
                Ok(tool_error(problem))
            }
            Err(_) => Err(format!(
                "agent `{name}` did not finish within {} s",
                timeouts.total.as_secs()
            )),
        }
    }
}

fn request_body(arguments: &SkillArguments, streaming: bool) -> String {
    let mut parts = vec![json!({ "text": arguments.message })];
    if let Some(data) = &arguments.data {
        parts.push(json!({ "data": data }));
    }
    let mut message = json!({
        "role": "ROLE_USER",
        "messageId": uuid::Uuid::new_v4().to_string(),
        "parts": parts,
    });
    if let Some(task) = &arguments.task_id {
        message["taskId"] = Value::String(task.clone());
    }
    if let Some(context) = &arguments.context_id {
        message["contextId"] = Value::String(context.clone());
    }
    let method = if streaming {
        "SendStreamingMessage"
    } else {
        "SendMessage"
    };
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": message}}).to_string()
}

/// A tool result that reports a failure to the model (`isError`).
fn tool_error(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

/// One call in progress. Dropped before it is done (the client cancelled), it cancels the task
/// at the agent.
struct Run {
    a2a: Arc<A2a>,
    agent: Arc<Agent>,
    owner: [u8; 32],
    task: Task,
    progress: Option<Box<dyn Fn(String) + Send + Sync>>,
    done: bool,
}

impl Run {
    async fn read_whole(&mut self, response: reqwest::Response) -> Result<(), String> {
        let name = self.agent.name().to_string();
        let (body, truncated) = read_prefix(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("agent `{name}`: {}", describe(&e)))?;
        if truncated {
            return Err(format!("agent `{name}` answered more than {MAX_ANSWER_BYTES} bytes"));
        }
        let frame: Value = serde_json::from_slice(&body)
            .map_err(|_| format!("agent `{name}` answered with something that is not JSON"))?;
        self.absorb_frame(&frame).await
    }

    async fn read_stream(&mut self, response: reqwest::Response) -> Result<(), String> {
        let mut events = self.agent.events(response, MAX_ANSWER_BYTES);
        while let Some(event) = events.next().await {
            let event = event?;
            let Ok(frame) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            self.absorb_frame(&frame).await?;
        }
        Ok(())
    }

    /// One JSON-RPC response (or streamed event) from the agent.
    async fn absorb_frame(&mut self, frame: &Value) -> Result<(), String> {
        if let Some(error) = frame.get("error") {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("an error");
            return Err(format!("agent `{}`: {message}", self.agent.name()));
        }
        let Some(result) = frame.get("result") else {
            return Ok(());
        };
        let before = self.task.id.clone();
        self.task.absorb(result, self.progress.as_deref());
        // What the call started is the caller's; another's task is not shown.
        let owners = &self.a2a.owners;
        let name = self.agent.name();
        let mut theirs = false;
        for (kind, id) in [(Kind::Task, &self.task.id), (Kind::Context, &self.task.context)] {
            if let Some(id) = id {
                let claim = owners.claim(name, kind, id, &self.owner).await;
                theirs |= !claim.map_err(|e| format!("agent `{name}`: task ownership could not be recorded: {e}"))?;
            }
        }
        if theirs {
            self.task = Task::default();
            self.done = true;
            return Err("task not found".into());
        }
        if before.is_none() && self.task.id.is_some() {
            tracing::debug!(agent = %name, task = ?self.task.id, "bridged call started a task");
        }
        Ok(())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.done || self.task.is_final() {
            return;
        }
        let Some(task) = self.task.id.clone() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let agent = Arc::clone(&self.agent);
        runtime.spawn(async move {
            let Some(url) = agent
                .card()
                .and_then(|c| c.interface(Binding::JsonRpc, "1.0").map(|i| i.url.clone()))
            else {
                return;
            };
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "CancelTask", "params": {"id": task}}).to_string();
            let cancel = agent.send(|client| {
                client
                    .post(&url)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("a2a-version", "1.0")
                    .body(body.clone())
            });
            match tokio::time::timeout(CANCEL_TIMEOUT, cancel).await {
                Ok(Ok(_)) => tracing::debug!(agent = %agent.name(), %task, "cancelled an abandoned task"),
                _ => tracing::warn!(agent = %agent.name(), %task, "could not cancel an abandoned task"),
            }
        });
    }
}

/// What a call learned of its task: ids, state, the last status text, artifacts (chunks
/// appended in order) or the agent's message.
#[derive(Default)]
struct Task {
    id: Option<String>,
    context: Option<String>,
    state: Option<String>,
    status_text: Option<String>,
    /// (artifact id, parts)
    artifacts: Vec<(String, Vec<Value>)>,
    message_parts: Vec<Value>,
}

const FINAL_STATES: [&str; 5] = [
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_REJECTED",
    "TASK_STATE_INPUT_REQUIRED",
];

impl Task {
    fn is_final(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| FINAL_STATES.contains(&s) || s == "TASK_STATE_AUTH_REQUIRED")
    }

    fn absorb(&mut self, result: &Value, progress: Option<&(dyn Fn(String) + Send + Sync)>) {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        if let Some(task) = result.get("task") {
            self.id = text(task, "id").or(self.id.take());
            self.context = text(task, "contextId").or(self.context.take());
            if let Some(status) = task.get("status") {
                self.status(status, None);
            }
            if let Some(artifacts) = task.get("artifacts").and_then(Value::as_array) {
                self.artifacts.clear();
                for artifact in artifacts {
                    self.artifact(artifact, false);
                }
            }
        } else if let Some(message) = result.get("message") {
            self.id = text(message, "taskId").or(self.id.take());
            self.context = text(message, "contextId").or(self.context.take());
            self.message_parts = message
                .get("parts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
        } else if let Some(update) = result.get("statusUpdate") {
            self.id = text(update, "taskId").or(self.id.take());
            self.context = text(update, "contextId").or(self.context.take());
            if let Some(status) = update.get("status") {
                self.status(status, progress);
            }
        } else if let Some(update) = result.get("artifactUpdate") {
            self.id = text(update, "taskId").or(self.id.take());
            self.context = text(update, "contextId").or(self.context.take());
            if let Some(artifact) = update.get("artifact") {
                self.artifact(artifact, update.get("append") == Some(&Value::Bool(true)));
            }
        }
    }

    fn status(&mut self, status: &Value, progress: Option<&(dyn Fn(String) + Send + Sync)>) {
        if let Some(state) = status.get("state").and_then(Value::as_str) {
            self.state = Some(state.to_string());
        }
        let said = status.pointer("/message/parts").and_then(Value::as_array).map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        });
        if let Some(said) = said.filter(|s| !s.is_empty()) {
            if let Some(progress) = progress {
                progress(said.clone());
            }
            self.status_text = Some(said);
        }
    }

    fn artifact(&mut self, artifact: &Value, append: bool) {
        let id = artifact
            .get("artifactId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let parts = artifact
            .get("parts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match self.artifacts.iter_mut().find(|(existing, _)| *existing == id) {
            Some((_, existing)) if append => existing.extend(parts),
            Some((_, existing)) => *existing = parts,
            None => self.artifacts.push((id, parts)),
        }
    }

    /// The `CallToolResult`.
    fn result(&self, agent: &str) -> Value {
        let state = self.state.as_deref().unwrap_or("TASK_STATE_COMPLETED");
        let short = state
            .trim_start_matches("TASK_STATE_")
            .to_ascii_lowercase()
            .replace('_', "-");
        let parts: Vec<&Value> = if self.artifacts.is_empty() {
            self.message_parts.iter().collect()
        } else {
            self.artifacts.iter().flat_map(|(_, parts)| parts).collect()
        };
        let mut content = Vec::new();
        let mut data = Vec::new();
        for part in parts {
            content.extend(part_content(part, agent, self.id.as_deref(), &mut data));
        }
        let failed = matches!(
            state,
            "TASK_STATE_FAILED" | "TASK_STATE_REJECTED" | "TASK_STATE_CANCELED"
        );
        let waiting = matches!(state, "TASK_STATE_INPUT_REQUIRED" | "TASK_STATE_AUTH_REQUIRED");
        if failed || waiting {
            let said = self
                .status_text
                .clone()
                .unwrap_or_else(|| format!("the task is {short}"));
            content.insert(0, json!({"type": "text", "text": said}));
        } else if content.is_empty()
            && let Some(said) = &self.status_text
        {
            // No artifact: what the agent said when it finished is the answer.
            content.push(json!({"type": "text", "text": said}));
        }
        if waiting && let Some(id) = &self.id {
            content.push(json!({"type": "text", "text": format!(
                "Agent `{agent}` needs more input ({short}): call this tool again with task_id \"{id}\" and your answer as the message."
            )}));
        }
        if content.is_empty() {
            content.push(json!({"type": "text", "text": format!("(agent `{agent}` answered with no content; the task is {short})")}));
        }
        let mut structured = json!({"state": short});
        if let Some(id) = &self.id {
            structured["taskId"] = Value::String(id.clone());
        }
        if let Some(context) = &self.context {
            structured["contextId"] = Value::String(context.clone());
        }
        if !data.is_empty() {
            structured["data"] = Value::Array(data);
        }
        json!({"content": content, "structuredContent": structured, "isError": failed})
    }
}

/// One A2A part as MCP content; a data part also goes to `data`.
fn part_content(part: &Value, agent: &str, task: Option<&str>, data: &mut Vec<Value>) -> Option<Value> {
    let text = |key: &str| part.get(key).and_then(Value::as_str);
    if let Some(text) = text("text") {
        return Some(json!({"type": "text", "text": text}));
    }
    if let Some(value) = part.get("data") {
        data.push(value.clone());
        return Some(json!({"type": "text", "text": value.to_string()}));
    }
    let media = text("mediaType").unwrap_or("application/octet-stream");
    let file = text("filename").unwrap_or("file");
    if let Some(url) = text("url") {
        return Some(json!({"type": "resource_link", "uri": url, "name": file, "mimeType": media}));
    }
    if let Some(raw) = text("raw") {
        let uri = format!("a2a://{agent}/{}/{file}", task.unwrap_or("message"));
        return Some(json!({"type": "resource", "resource": {"uri": uri, "mimeType": media, "blob": raw}}));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_task_becomes_a_tool_result() {
        let mut task = Task::default();
        let said = std::sync::Mutex::new(Vec::new());
        let progress = |text: String| said.lock().unwrap().push(text);
        let events = [
            json!({"task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_SUBMITTED"}}}),
            json!({"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_WORKING", "message": {"parts": [{"text": "step 1"}]}}}}),
            json!({"artifactUpdate": {"taskId": "t1", "artifact": {"artifactId": "a", "parts": [{"text": "chunk 1 "}]}}}),
            json!({"artifactUpdate": {"taskId": "t1", "append": true, "artifact": {"artifactId": "a", "parts": [{"text": "chunk 2"}, {"data": {"n": 1}}]}}}),
            json!({"statusUpdate": {"taskId": "t1", "status": {"state": "TASK_STATE_COMPLETED"}}}),
        ];
        for event in &events {
            task.absorb(event, Some(&progress));
        }
        assert_eq!(*said.lock().unwrap(), ["step 1"]);
        let result = task.result("planner");
        assert_eq!(result["content"][0]["text"], "chunk 1 ");
        assert_eq!(result["content"][1]["text"], "chunk 2");
        assert_eq!(
            result["structuredContent"],
            json!({"state": "completed", "taskId": "t1", "contextId": "c1", "data": [{"n": 1}]})
        );
        assert_eq!(result["isError"], false);
    }

    #[test]
    fn questions_and_failures() {
        let mut task = Task::default();
        task.absorb(
            &json!({"task": {"id": "t2", "status": {"state": "TASK_STATE_INPUT_REQUIRED", "message": {"parts": [{"text": "Which city?"}]}}}}),
            None,
        );
        let result = task.result("planner");
        assert_eq!(result["content"][0]["text"], "Which city?");
        assert!(
            result["content"][1]["text"]
                .as_str()
                .unwrap()
                .contains("task_id \"t2\"")
        );
        let mut failed = Task::default();
        failed.absorb(
            &json!({"task": {"id": "t3", "status": {"state": "TASK_STATE_FAILED", "message": {"parts": [{"text": "cannot do that"}]}}}}),
            None,
        );
        let result = failed.result("planner");
        assert_eq!(result["isError"], true);
        assert_eq!(result["content"][0]["text"], "cannot do that");
    }
}

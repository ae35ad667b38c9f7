//! The `response` object around an answer's output, written once for whole answers and for the
//! lifecycle events of a stream (`response.created` … `response.completed`), so a streamed
//! answer ends with the very object the whole one would have been. Its id is made from the chat
//! answer's, its items' ids from that, and it echoes the request's settings as OpenAI does (the
//! SDK requires `parallel_tool_calls`, `tool_choice` and `tools`). Nothing is stored: `store`
//! says `false`.

use serde_json::{Map, Value, json};

use super::super::usage::Tokens;
use super::super::{given, now};

#[derive(Debug)]
pub struct Envelope {
    /// What the ids of the response and its items are made from.
    base: String,
    created_at: u64,
    model: String,
    /// The request's settings, as the answer repeats them.
    echo: Map<String, Value>,
}

/// How a response ended.
pub enum Status<'a> {
    InProgress,
    Completed,
    /// Cut short, and why (`max_output_tokens`, `content_filter`).
    Incomplete(&'a str),
    /// With the error object (`code`, `message`).
    Failed(Value),
}

// === impl Envelope ===

impl Envelope {
    /// `model`: as the client asked for it; `request`: the client's request. Its id is made
    /// by [`Envelope::identify`] once the answer is known.
    pub fn new(model: &str, request: &Map<String, Value>) -> Self {
        Envelope {
            base: String::new(),
            created_at: now(),
            model: model.to_string(),
            echo: echo(request),
        }
    }

    /// `chat_id`: the chat answer's id ("" when the provider gave none: one is made up);
    /// `created`: its `created`.
    pub fn identify(&mut self, chat_id: &str, created: Option<u64>) {
        let base = ["chatcmpl-", "msg_", "resp_"]
            .iter()
            .fold(chat_id, |id, prefix| id.strip_prefix(prefix).unwrap_or(id));
        self.base = if base.is_empty() {
            uuid::Uuid::new_v4().simple().to_string()
        } else {
            base.to_string()
        };
        if let Some(created) = created {
            self.created_at = created;
        }
    }

    /// The id of the output item at `index`: `msg_…` for a message, `fc_…` for a function call.
    pub fn item_id(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}_{}_{index}", self.base)
    }

    /// The response object.
    pub fn object(&self, status: Status<'_>, output: Vec<Value>, tokens: Option<Tokens>) -> Value {
        let (status, completed_at, incomplete, error) = match status {
            Status::InProgress => ("in_progress", Value::Null, Value::Null, Value::Null),
            Status::Completed => ("completed", json!(now()), Value::Null, Value::Null),
            Status::Incomplete(reason) => ("incomplete", Value::Null, json!({"reason": reason}), Value::Null),
            Status::Failed(error) => ("failed", Value::Null, Value::Null, error),
        };
        let mut object = json!({
            "id": format!("resp_{}", self.base),
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": false,
            "completed_at": completed_at,
            "error": error,
            "incomplete_details": incomplete,
            "model": self.model,
            "output": output,
            "previous_response_id": null,
            "store": false,
            "usage": tokens.map(Tokens::to_responses),
        });
        for (key, value) in &self.echo {
            object[key] = value.clone();
        }
        object
    }
}

/// The request's settings a response repeats, with OpenAI's defaults for those not given.
fn echo(request: &Map<String, Value>) -> Map<String, Value> {
    let mut echo = Map::new();
    let mut keep = |key: &str, default: Value| {
        echo.insert(key.into(), given(request, key).cloned().unwrap_or(default));
    };
    keep("instructions", Value::Null);
    keep("max_output_tokens", Value::Null);
    keep("max_tool_calls", Value::Null);
    keep("metadata", json!({}));
    keep("parallel_tool_calls", json!(true));
    keep("safety_identifier", Value::Null);
    keep("temperature", Value::Null);
    keep("tool_choice", json!("auto"));
    keep("tools", json!([]));
    keep("top_p", Value::Null);
    keep("truncation", json!("disabled"));
    keep("user", Value::Null);
    let format = request
        .get("text")
        .and_then(|t| t.get("format"))
        .filter(|f| !f.is_null())
        .cloned()
        .unwrap_or_else(|| json!({"type": "text"}));
    echo.insert("text".into(), json!({"format": format}));
    echo
}

//! OpenAI `chat.completion.chunk`s, as every translation to a chat stream writes them: one id,
//! `created` and `model` on every chunk, `"usage": null` on each while the client asked for
//! usage (as OpenAI does), then the usage chunk with empty `choices`, then `[DONE]`.

use serde_json::{Value, json};

use super::usage::Tokens;
use super::{Out, now};

#[derive(Debug)]
pub struct Chunks {
    /// The answer's id; a provider may only say it in its first event.
    pub id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

// === impl Chunks ===

impl Chunks {
    /// `model`: as the client asked for it; `include_usage`: it asked for
    /// `stream_options.include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        Chunks {
            id: String::new(),
            created: now(),
            model: model.to_string(),
            include_usage,
        }
    }

    /// For providers that give no id: one of agentmux's own.
    pub fn with_id(mut self, id: String) -> Self {
        self.id = id;
        self
    }

    /// A chunk holding one choice's `delta` (and its `finish_reason` once it has one).
    pub fn delta(&self, index: u64, delta: Value, finish: Option<&str>) -> Out {
        let choice = json!({"index": index, "delta": delta, "logprobs": null, "finish_reason": finish});
        Out {
            event: None,
            data: self.envelope(json!([choice])).to_string(),
        }
    }

    /// A content chunk of the first choice; none for no text.
    pub fn text(&self, text: Option<&str>) -> Vec<Out> {
        match text {
            Some(text) if !text.is_empty() => vec![self.delta(0, json!({"content": text}), None)],
            _ => Vec::new(),
        }
    }

    /// What ends a stream: the usage chunk if the client asked for it, then `[DONE]`.
    pub fn end(&self, tokens: Tokens) -> Vec<Out> {
        let mut out = Vec::new();
        if self.include_usage {
            let mut chunk = self.envelope(json!([]));
            chunk["usage"] = tokens.to_chat();
            out.push(Out {
                event: None,
                data: chunk.to_string(),
            });
        }
        out.push(Out {
            event: None,
            data: "[DONE]".to_string(),
        });
        out
    }

    fn envelope(&self, choices: Value) -> Value {
        let mut chunk = json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                               "model": self.model, "choices": choices});
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }
}

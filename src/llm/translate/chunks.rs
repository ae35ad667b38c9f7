//! OpenAI `chat.completion.chunk`s, written the same way whichever provider's stream they
//! translate (Anthropic messages, Bedrock Converse): one envelope, the usage chunk, `[DONE]`.

use serde_json::{Value, json};

use super::Out;
use super::now;
use super::usage::Tokens;

/// What every chunk of one answer repeats.
#[derive(Debug)]
pub struct Chunks {
    /// The answer's id, once the provider has said it (Anthropic's `message_start`).
    pub id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

impl Chunks {
    /// `model`: as the client asked for it; `include_usage`: the client's
    /// `stream_options.include_usage`.
    pub fn new(id: String, model: &str, include_usage: bool) -> Self {
        Chunks {
            id,
            created: now(),
            model: model.to_string(),
            include_usage,
        }
    }

    /// A chunk of the one choice.
    pub fn delta(&self, delta: Value, finish: Option<&str>) -> Out {
        let choice = json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish});
        Out {
            event: None,
            data: self.envelope(json!([choice])).to_string(),
        }
    }

    /// A content chunk, none for no text.
    pub fn text(&self, text: Option<&str>) -> Vec<Out> {
        match text {
            Some(text) if !text.is_empty() => vec![self.delta(json!({"content": text}), None)],
            _ => Vec::new(),
        }
    }

    /// The end: the usage chunk (`choices: []`) if the client asked for it, then `[DONE]`.
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

    /// A chunk around `choices`. With usage asked for, OpenAI sends `"usage": null` on every
    /// chunk but the last; so do we.
    fn envelope(&self, choices: Value) -> Value {
        let mut chunk = json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                               "model": self.model, "choices": choices});
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }
}

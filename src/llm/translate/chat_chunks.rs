//! OpenAI `chat.completion.chunk`s, as every translation to a chat stream writes them: one id,
//! `created` and `model` on every chunk, `"usage": null` on each while the client asked for
//! usage (as OpenAI does), then the usage chunk with empty `choices`, then `[DONE]`.

use serde_json::Value;

use super::usage::Tokens;
use super::{Out, now};

#[derive(Debug)]
pub struct Chunks {
    /// The answer's id; a provider may only say it in its first event.
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    /// Every chunk's text up to its `choices` list, and after it: written once per answer
    /// (and again if the id changes), not rebuilt as a JSON object for every delta.
    head: String,
    tail: &'static str,
}

// === impl Chunks ===

impl Chunks {
    /// `model`: as the client asked for it; `include_usage`: it asked for
    /// `stream_options.include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        let mut chunks = Chunks {
            id: String::new(),
            created: now(),
            model: model.to_string(),
            include_usage,
            head: String::new(),
            tail: if include_usage { "],\"usage\":null}" } else { "]}" },
        };
        chunks.render_head();
        chunks
    }

    /// For providers that give no id: one of agentmux's own.
    pub fn with_id(mut self, id: String) -> Self {
        self.set_id(id);
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The answer's id, once the provider says it.
    pub fn set_id(&mut self, id: String) {
        self.id = id;
        self.render_head();
    }

    fn render_head(&mut self) {
        let text = |s: &str| Value::from(s).to_string();
        self.head = format!(
            "{{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"choices\":[",
            text(&self.id),
            self.created,
            text(&self.model)
        );
    }

    /// A chunk holding one choice's `delta` (and its `finish_reason` once it has one).
    pub fn delta(&self, index: u64, delta: Value, finish: Option<&str>) -> Out {
        self.choice(index, &delta.to_string(), finish)
    }

    /// A content chunk of the first choice; none for no text.
    pub fn text(&self, text: Option<&str>) -> Vec<Out> {
        match text {
            Some(text) if !text.is_empty() => {
                let delta = format!("{{\"content\":{}}}", Value::from(text));
                vec![self.choice(0, &delta, None)]
            }
            _ => Vec::new(),
        }
    }

    /// A chunk of one choice whose delta is the JSON text `delta`.
    fn choice(&self, index: u64, delta: &str, finish: Option<&str>) -> Out {
        let finish = finish.map_or_else(|| "null".to_string(), |f| Value::from(f).to_string());
        let mut data = String::with_capacity(self.head.len() + delta.len() + 80);
        data.push_str(&self.head);
        data.push_str("{\"index\":");
        data.push_str(&index.to_string());
        data.push_str(",\"delta\":");
        data.push_str(delta);
        data.push_str(",\"logprobs\":null,\"finish_reason\":");
        data.push_str(&finish);
        data.push('}');
        data.push_str(self.tail);
        Out { event: None, data }
    }

    /// What ends a stream: the usage chunk if the client asked for it, then `[DONE]`.
    pub fn end(&self, tokens: Tokens) -> Vec<Out> {
        let mut out = Vec::new();
        if self.include_usage {
            let chunk = format!("{}],\"usage\":{}}}", self.head, tokens.to_chat());
            out.push(Out {
                event: None,
                data: chunk,
            });
        }
        out.push(Out {
            event: None,
            data: "[DONE]".to_string(),
        });
        out
    }
}

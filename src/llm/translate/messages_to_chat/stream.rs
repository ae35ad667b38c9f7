//! OpenAI `chat.completion.chunk`s as an Anthropic event stream.
//!
//! | OpenAI chunk | Anthropic events |
//! |---|---|
//! | the first chunk with a choice or usage | `message_start` (content `[]`, usage 0) |
//! | `delta.content` (or `delta.refusal`) | `content_block_start` text once, then `text_delta`s |
//! | `delta.tool_calls` at a new index | the open block's `content_block_stop`, `content_block_start` tool_use |
//! | `function.arguments` pieces | `input_json_delta` |
//! | `finish_reason` | the open block's `content_block_stop`; `message_delta` once usage is known |
//! | a usage chunk (`choices: []`) | the owed `message_delta`, with the usage |
//! | `[DONE]` | `message_delta` if still owed, then `message_stop` |
//! | `{"error": …}` | an `error` event; the stream ends there |
//!
//! Anthropic's blocks never overlap, so a text or tool call closes the block before it. A
//! server that interleaves argument pieces of parallel calls gets each piece sent to its own
//! call's block even when that block was closed: clients put deltas together by index.
//! Chunks before the first choice (Azure's prompt-filter preamble) are skipped; choices other
//! than the first are ignored (the request asked for one).

use serde_json::{Value, json};

use super::super::Out;
use super::super::errors::messages_stream_error;
use super::super::finish::stop_reason;
use super::super::usage::Tokens;

/// The content block being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(u64),
    Tool(u64),
}

#[derive(Debug)]
pub struct Stream {
    model: String,
    started: bool,
    next_block: u64,
    open: Option<Open>,
    /// (OpenAI tool-call index, Anthropic block index) of each call so far.
    tools: Vec<(u64, u64)>,
    stop_reason: Option<&'static str>,
    tokens: Option<Tokens>,
    delta_sent: bool,
    /// `message_stop` or an error was sent: nothing more goes out.
    ended: bool,
}

fn event(name: &'static str, data: Value) -> Out {
    Out {
        event: Some(name),
        data: data.to_string(),
    }
}

impl Stream {
    pub fn new(model: &str) -> Self {
        Stream {
            model: model.to_string(),
            started: false,
            next_block: 0,
            open: None,
            tools: Vec::new(),
            stop_reason: None,
            tokens: None,
            delta_sent: false,
            ended: false,
        }
    }

    pub fn event(&mut self, data: &str) -> Vec<Out> {
        let data = data.trim();
        if self.ended {
            return Vec::new();
        }
        if data == "[DONE]" {
            return self.end();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if !chunk["error"].is_null() {
            self.ended = true;
            return vec![event("error", messages_stream_error(&chunk))];
        }
        let choices = chunk["choices"].as_array().map(Vec::as_slice).unwrap_or_default();
        let usage = chunk.get("usage").filter(|u| u.is_object());
        let mut out = Vec::new();
        if !self.started {
            if choices.is_empty() && usage.is_none() {
                return out;
            }
            self.start(chunk["id"].as_str().unwrap_or_default(), &mut out);
        }
        for choice in choices.iter().filter(|c| c["index"].as_u64().unwrap_or(0) == 0) {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"]
                .as_str()
                .or(delta["refusal"].as_str())
                .filter(|t| !t.is_empty())
            {
                self.text(text, &mut out);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                self.tool_call(call, &mut out);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.close(&mut out);
                self.stop_reason = Some(stop_reason(Some(reason)));
            }
        }
        if let Some(usage) = usage {
            self.tokens = Some(Tokens::from_chat(usage));
        }
        if self.stop_reason.is_some() && self.tokens.is_some() {
            self.message_delta(&mut out);
        }
        out
    }

    pub fn finish(&mut self) -> Vec<Out> {
        if self.ended { Vec::new() } else { self.end() }
    }

    fn start(&mut self, id: &str, out: &mut Vec<Out>) {
        self.started = true;
        out.push(event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0},
            }}),
        ));
    }

    fn text(&mut self, text: &str, out: &mut Vec<Out>) {
        let index = match self.open {
            Some(Open::Text(index)) => index,
            _ => {
                let index = self.open_block(out);
                self.open = Some(Open::Text(index));
                let start = json!({"type": "content_block_start", "index": index,
                                   "content_block": {"type": "text", "text": ""}});
                out.push(event("content_block_start", start));
                index
            }
        };
        let delta =
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}});
        out.push(event("content_block_delta", delta));
    }

    fn tool_call(&mut self, call: &Value, out: &mut Vec<Out>) {
        let key = match call["index"].as_u64() {
            Some(key) => key,
            // A server that leaves `index` out: a call with an id is a new one, else the last goes on.
            None if call["id"].is_string() => self.tools.len() as u64,
            None => self.tools.last().map_or(0, |(key, _)| *key),
        };
        let index = match self.tools.iter().find(|(k, _)| *k == key) {
            Some(&(_, index)) => index,
            None => {
                let index = self.open_block(out);
                self.open = Some(Open::Tool(index));
                self.tools.push((key, index));
                let id = call["id"].as_str().unwrap_or_default();
                let name = call["function"]["name"].as_str().unwrap_or_default();
                let start = json!({"type": "content_block_start", "index": index,
                                   "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}});
                out.push(event("content_block_start", start));
                index
            }
        };
        if let Some(piece) = call["function"]["arguments"].as_str().filter(|p| !p.is_empty()) {
            let delta = json!({"type": "content_block_delta", "index": index,
                               "delta": {"type": "input_json_delta", "partial_json": piece}});
            out.push(event("content_block_delta", delta));
        }
    }

    /// Closes the open block and numbers the next.
    fn open_block(&mut self, out: &mut Vec<Out>) -> u64 {
        self.close(out);
        self.next_block += 1;
        self.next_block - 1
    }

    fn close(&mut self, out: &mut Vec<Out>) {
        if let Some(Open::Text(index) | Open::Tool(index)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    fn message_delta(&mut self, out: &mut Vec<Out>) {
        if self.delta_sent {
            return;
        }
        self.delta_sent = true;
        self.close(out);
        let usage = self
            .tokens
            .map_or_else(|| json!({"output_tokens": 0}), Tokens::to_messages);
        let stop = self.stop_reason.unwrap_or("end_turn");
        out.push(event(
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": usage}),
        ));
    }

    /// Whatever is still owed, then `message_stop`.
    fn end(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        if !self.started {
            self.start("", &mut out);
        }
        self.message_delta(&mut out);
        out.push(event("message_stop", json!({"type": "message_stop"})));
        self.ended = true;
        out
    }
}

#[cfg(test)]
mod tests;

//! An Anthropic event stream as OpenAI `chat.completion.chunk`s.
//!
//! | Anthropic event | OpenAI chunk |
//! |---|---|
//! | `message_start` | `delta: {role: assistant, content: ""}` |
//! | `content_block_start` text | nothing (its text, if it carries any) |
//! | `text_delta` | `delta: {content}` |
//! | `content_block_start` tool_use | `delta.tool_calls: [{index, id, type, function: {name, arguments: ""}}]` |
//! | `input_json_delta` | `delta.tool_calls: [{index, function: {arguments}}]` |
//! | thinking, signature and citation deltas, server-tool blocks | nothing |
//! | `message_delta` with a stop reason | `delta: {}` and the `finish_reason` |
//! | `message_stop` | the usage chunk (`choices: []`) if asked for, then `[DONE]` |
//! | `error` | `{"error": {…}}`, and the stream ends there (no `[DONE]`) |
//! | `ping`, `content_block_stop`, unknown events | nothing |
//!
//! A tool call's `index` counts the tool calls of this answer from 0, as OpenAI's does, not
//! Anthropic's content blocks. Every chunk carries the message id from `message_start`.

use serde_json::{Value, json};

use super::super::Out;
use super::super::chat_chunks::Chunks;
use super::super::errors::chat_stream_error;
use super::super::finish::finish_reason;
use super::super::usage::Tokens;

#[derive(Debug)]
pub struct Stream {
    chunks: Chunks,
    tokens: Tokens,
    /// Anthropic content-block index of each tool call so far; a call's OpenAI index is its place here.
    tool_blocks: Vec<u64>,
    finished: bool,
    /// `[DONE]` or an error was sent: nothing more goes out.
    ended: bool,
}

impl Stream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Stream {
            chunks: Chunks::new(model, include_usage),
            tokens: Tokens::default(),
            tool_blocks: Vec::new(),
            finished: false,
            ended: false,
        }
    }

    pub fn event(&mut self, name: &str, data: &str) -> Vec<Out> {
        if self.ended {
            return Vec::new();
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        // The data's `type` names the event too; it is the one that cannot be lost in framing.
        match event["type"].as_str().unwrap_or(name) {
            "message_start" => {
                let message = &event["message"];
                self.chunks
                    .set_id(message["id"].as_str().unwrap_or_default().to_string());
                self.tokens.update(&message["usage"]);
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" => self.block_start(&event),
            "content_block_delta" => self.block_delta(&event),
            "message_delta" => {
                self.tokens.update(&event["usage"]);
                match event["delta"]["stop_reason"].as_str() {
                    Some(reason) if !self.finished => {
                        self.finished = true;
                        vec![self.chunk(json!({}), Some(finish_reason(Some(reason))))]
                    }
                    _ => Vec::new(),
                }
            }
            "message_stop" => self.end(),
            "error" => {
                self.ended = true;
                vec![Out {
                    event: None,
                    data: chat_stream_error(&event).to_string(),
                }]
            }
            _ => Vec::new(),
        }
    }

    pub fn finish(&mut self) -> Vec<Out> {
        if self.ended { Vec::new() } else { self.end() }
    }

    fn block_start(&mut self, event: &Value) -> Vec<Out> {
        let block = &event["content_block"];
        match block["type"].as_str() {
            Some("text") => self.text(block["text"].as_str()),
            Some("tool_use") => {
                let index = self.tool_blocks.len();
                self.tool_blocks.push(event["index"].as_u64().unwrap_or(u64::MAX));
                let call = json!({"index": index, "id": block["id"], "type": "function",
                                  "function": {"name": block["name"], "arguments": ""}});
                vec![self.chunk(json!({"tool_calls": [call]}), None)]
            }
            _ => Vec::new(),
        }
    }

    fn block_delta(&mut self, event: &Value) -> Vec<Out> {
        let delta = &event["delta"];
        match delta["type"].as_str() {
            Some("text_delta") => self.text(delta["text"].as_str()),
            Some("input_json_delta") => {
                let block = event["index"].as_u64();
                let call = self.tool_blocks.iter().position(|b| Some(*b) == block);
                match (call, delta["partial_json"].as_str()) {
                    (Some(index), Some(piece)) if !piece.is_empty() => {
                        let call = json!({"index": index, "function": {"arguments": piece}});
                        vec![self.chunk(json!({"tool_calls": [call]}), None)]
                    }
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    fn text(&self, text: Option<&str>) -> Vec<Out> {
        match text {
            Some(text) if !text.is_empty() => vec![self.chunk(json!({"content": text}), None)],
            _ => Vec::new(),
        }
    }

    /// The usage chunk if the client asked for it, then `[DONE]`.
    fn end(&mut self) -> Vec<Out> {
        self.ended = true;
        self.chunks.end(self.tokens)
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Out {
        self.chunks.delta(0, delta, finish)
    }
}

#[cfg(test)]
mod tests;

//! A Converse event stream (its messages decoded by `egress::eventstream`) as OpenAI
//! `chat.completion.chunk`s.
//!
//! | Converse event | OpenAI chunk |
//! |---|---|
//! | `messageStart` | `delta: {role: assistant, content: ""}` |
//! | `contentBlockStart` with `toolUse` | `delta.tool_calls: [{index, id, type, function: {name, arguments: ""}}]` |
//! | `contentBlockDelta` `text` | `delta: {content}` |
//! | `contentBlockDelta` `toolUse.input` | `delta.tool_calls: [{index, function: {arguments}}]` |
//! | `contentBlockDelta` `reasoningContent`, citations | nothing |
//! | `messageStop` | `delta: {}` and the `finish_reason` |
//! | `metadata` | the usage chunk (`choices: []`) if asked for, then `[DONE]` |
//! | an exception (`throttlingException` …) | `{"error": {…}}`, and the stream ends there (no `[DONE]`) |
//! | `contentBlockStop`, unknown events | nothing |
//!
//! Bedrock sends `metadata` (the usage) after `messageStop`; a stream that ends without it still
//! ends with `[DONE]`, its usage chunk counting what was said. Text blocks have no
//! `contentBlockStart`: their first delta opens them. A tool call's `index` counts this answer's
//! tool calls from 0, not Converse's content blocks. Converse names no answer: every chunk
//! carries one `chatcmpl-` id made for the stream.

use serde_json::{Value, json};

use super::super::Out;
use super::super::chat_chunks::Chunks;
use super::super::errors::converse_stream_error;
use super::super::finish::finish_reason;
use super::super::usage::Tokens;
use super::response::completion_id;

#[derive(Debug)]
pub struct Stream {
    chunks: Chunks,
    tokens: Tokens,
    /// Converse content-block index of each tool call so far; a call's OpenAI index is its place here.
    tool_blocks: Vec<u64>,
    finished: bool,
    /// `[DONE]` or an error was sent: nothing more goes out.
    ended: bool,
}

impl Stream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Stream {
            chunks: Chunks::new(model, include_usage).with_id(completion_id()),
            tokens: Tokens::default(),
            tool_blocks: Vec::new(),
            finished: false,
            ended: false,
        }
    }

    /// One event-stream message: `name` its `:event-type` (or `:exception-type`), `data` its
    /// JSON payload.
    pub fn event(&mut self, name: &str, data: &str) -> Vec<Out> {
        if self.ended {
            return Vec::new();
        }
        // An exception (`throttlingException` …) or an event-stream error ends the stream.
        if name == "error" || name.to_ascii_lowercase().ends_with("exception") {
            self.ended = true;
            return vec![Out {
                event: None,
                data: converse_stream_error(name, data).to_string(),
            }];
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        match name {
            "messageStart" => vec![self.chunks.delta(0, json!({"role": "assistant", "content": ""}), None)],
            "contentBlockStart" => self.block_start(&event),
            "contentBlockDelta" => self.block_delta(&event),
            "messageStop" if !self.finished => {
                self.finished = true;
                let reason = finish_reason(event["stopReason"].as_str());
                vec![self.chunks.delta(0, json!({}), Some(reason))]
            }
            "metadata" => {
                self.tokens = Tokens::from_converse(&event["usage"]);
                self.end()
            }
            _ => Vec::new(),
        }
    }

    /// The provider's stream ended: `[DONE]` (after the usage chunk, if asked for) unless it
    /// was sent, or an error ended the stream.
    pub fn finish(&mut self) -> Vec<Out> {
        if self.ended { Vec::new() } else { self.end() }
    }

    fn block_start(&mut self, event: &Value) -> Vec<Out> {
        let Some(tool) = event.pointer("/start/toolUse") else {
            return Vec::new();
        };
        let index = self.tool_blocks.len();
        self.tool_blocks
            .push(event["contentBlockIndex"].as_u64().unwrap_or(u64::MAX));
        let call = json!({"index": index, "id": tool["toolUseId"], "type": "function",
                          "function": {"name": tool["name"], "arguments": ""}});
        vec![self.chunks.delta(0, json!({"tool_calls": [call]}), None)]
    }

    fn block_delta(&mut self, event: &Value) -> Vec<Out> {
        let delta = &event["delta"];
        if let Some(text) = delta.get("text") {
            return self.chunks.text(text.as_str());
        }
        let block = event["contentBlockIndex"].as_u64();
        let call = self.tool_blocks.iter().position(|b| Some(*b) == block);
        match (call, delta.pointer("/toolUse/input").and_then(Value::as_str)) {
            (Some(index), Some(piece)) if !piece.is_empty() => {
                let call = json!({"index": index, "function": {"arguments": piece}});
                vec![self.chunks.delta(0, json!({"tool_calls": [call]}), None)]
            }
            _ => Vec::new(),
        }
    }

    fn end(&mut self) -> Vec<Out> {
        self.ended = true;
        self.chunks.end(self.tokens)
    }
}

#[cfg(test)]
mod tests;
